/* Entry of a visa board guest: 64-bit long mode, RSP at the top of RAM,
 * RDI = RAM size (see README.md, "The bare-metal board"). Calls guest_main and
 * reports its return value through the isa-debug-exit port. */
    .section .note.GNU-stack, "", @progbits
    .section .text.start, "ax"
    .globl _start
_start:
    and $-16, %rsp
    call guest_main
    mov %eax, %edi
    call rt_exit
1:  hlt
    jmp 1b
