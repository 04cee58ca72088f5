/* Self-modifying code: a store that patches the very next instruction, a
 * loop whose body is patched while it runs, and a function copied to a new
 * place and called there. Each result is what the patched code computes. */
#include "rt.h"

/* `mov $1, %eax` whose immediate is overwritten with 42 by the store just
 * before it: a processor runs the new bytes. */
static u32 patch_next(void) {
    u32 result;
    __asm__ volatile(
        "lea 1f(%%rip), %%rdx\n\t"
        "movl $42, 1(%%rdx)\n\t"
        "1: mov $1, %%eax\n\t"
        : "=a"(result)
        :
        : "rdx", "memory");
    return result;
}

/* A loop adding an immediate 10 times; after the fifth pass the loop
 * rewrites its own `add $1` into `add $100`: 5 * 1 + 5 * 100 = 505. */
static u64 patch_loop(void) {
    u64 sum;
    __asm__ volatile(
        "xor %%eax, %%eax\n\t"
        "mov $10, %%ecx\n\t"
        "lea 2f(%%rip), %%rdx\n\t"
        "1: cmp $5, %%ecx\n\t"
        "jne 3f\n\t"
        "movl $100, 2(%%rdx)\n\t"
        "3:\n\t"
        "2: .byte 0x48, 0x05\n\t"   /* add $imm32, %rax */
        ".long 1\n\t"
        "dec %%ecx\n\t"
        "jnz 1b\n\t"
        : "=a"(sum)
        :
        : "rcx", "rdx", "memory", "cc");
    return sum;
}

/* Position-independent function bytes: lea (%rdi,%rsi,2), %rax; ret. */
static const u8 twice_plus[] = {0x48, 0x8d, 0x04, 0x77, 0xc3};
static u8 arena[4096] __attribute__((aligned(4096)));

int guest_main(void) {
    rt_puts("patched next instruction: ");
    rt_put_u64(patch_next());
    rt_puts("\npatched loop: ");
    rt_put_u64(patch_loop());
    memcpy(arena, twice_plus, sizeof twice_plus);
    u64 (*f)(u64, u64) = (u64 (*)(u64, u64))(void *)arena;
    rt_puts("\ncopied function: ");
    rt_put_u64(f(1, 20));
    /* Overwrite the copy: the same call site now runs different code. */
    arena[2] = 0x04;
    arena[3] = 0xb7; /* lea (%rdi,%rsi,4), %rax */
    rt_puts("\nrecopied function: ");
    rt_put_u64(f(1, 20));
    rt_putc('\n');
    return 0;
}
