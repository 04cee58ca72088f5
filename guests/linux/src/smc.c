/* smc: self-modifying code: a function written into RWX memory, called,
 * rewritten and called again; the same through RW then mprotect RX; a
 * function made hot before it is patched; data stored beside hot code in
 * its page; a system call's output over code and beside it; a push onto a
 * line of code followed by an instruction that reads rsp; and code that
 * patches an instruction a few bytes ahead of itself. Each result must come
 * from the bytes as they are at the call. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vt.h"

typedef int (*fn)(int);

/* mov $imm, %eax; add %edi, %eax; ret */
static void emit_add(unsigned char *at, int32_t imm) {
    unsigned char code[] = {0xb8, 0, 0, 0, 0, 0x01, 0xf8, 0xc3};
    memcpy(code + 1, &imm, 4);
    memcpy(at, code, sizeof code);
}

/* imul $imm, %edi, %eax; ret */
static void emit_mul(unsigned char *at, int32_t imm) {
    unsigned char code[] = {0x69, 0xc7, 0, 0, 0, 0, 0xc3};
    memcpy(code + 2, &imm, 4);
    memcpy(at, code, sizeof code);
}

/* Pushes onto the line of `page` that holds the code at its start (rsp
 * moved into the page for the while), then moves rsp again: how far it
 * moved in all (16). */
static long push_onto_code(unsigned char *page) {
    long moved;
    __asm__ volatile(
        "mov %%rsp, %%r11\n\t"
        "lea 32(%1), %%rsp\n\t"
        "push %%rbx\n\t"
        "sub $8, %%rsp\n\t"
        "lea 32(%1), %0\n\t"
        "sub %%rsp, %0\n\t"
        "mov %%r11, %%rsp\n\t"
        : "=&r"(moved)
        : "r"(page)
        : "r11", "memory");
    return moved;
}

static int patch_ahead(void) {
    int result;
    __asm__ volatile(
        "lea 1f(%%rip), %%rdx\n\t"
        "movl $42, 1(%%rdx)\n\t"
        "1: mov $1, %%eax\n\t"
        : "=a"(result)
        :
        : "rdx", "memory");
    return result;
}

int vt_smc(int argc, char **argv) {
    (void)argc, (void)argv;
    unsigned char *rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap rwx: %s\n", rwx == MAP_FAILED ? errname(errno) : "ok");
    fn f = (fn)rwx;
    emit_add(rwx, 100);
    printf("add 100: f(5) = %d\n", f(5));
    emit_add(rwx, 1000);
    printf("add 1000: f(5) = %d\n", f(5));
    emit_mul(rwx, 7);
    printf("mul 7: f(5) = %d\n", f(5));
    /* A second function in the same page, next to the first. */
    emit_add(rwx + 64, -1);
    printf("neighbour: g(5) = %d, f(5) = %d\n", ((fn)(rwx + 64))(5), f(5));

    /* Hot, then patched: whatever tier runs it must see the new bytes. */
    long total = 0;
    for (int round = 0; round < 4; round++) {
        emit_add(rwx, round * 10);
        for (int i = 0; i < 300; i++) total += f(i);
        printf("round %d: total %ld\n", round, total);
    }
    /* Patched every call. */
    total = 0;
    for (int i = 0; i < 500; i++) {
        emit_add(rwx, i);
        total += f(1);
    }
    printf("patched every call: total %ld\n", total);

    /* Data beside hot code, in the code's page: the code stays as it is. */
    volatile long *counter = (volatile long *)(rwx + 2048);
    *counter = 0;
    emit_add(rwx, 3);
    total = 0;
    for (int i = 0; i < 2000; i++) {
        *counter += i;
        total += f(i);
    }
    printf("data beside code: counter %ld, total %ld\n", *counter, total);

    /* A system call writes new code over the function, then data beside it. */
    int fds[2];
    unsigned char code[8];
    emit_add(code, 500);
    SHOW(pipe(fds));
    SHOW(write(fds[1], code, sizeof code));
    SHOW(read(fds[0], rwx, sizeof code));
    printf("read over code: f(5) = %d\n", f(5));
    SHOW(write(fds[1], "beside", 6));
    SHOW(read(fds[0], rwx + 3000, 6));
    printf("read beside code: %.6s, f(6) = %d\n", (char *)rwx + 3000, f(6));
    close(fds[0]);
    close(fds[1]);

    /* A push onto the code's line, then an instruction that reads rsp. */
    printf("push onto code: rsp moved %ld, f(7) = %d\n", push_onto_code(rwx), f(7));

    unsigned char *rx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    emit_mul(rx, 3);
    SHOW(mprotect(rx, 4096, PROT_READ | PROT_EXEC));
    printf("mul 3 (RX): %d\n", ((fn)rx)(11));
    SHOW(mprotect(rx, 4096, PROT_READ | PROT_WRITE));
    emit_mul(rx, 5);
    SHOW(mprotect(rx, 4096, PROT_READ | PROT_EXEC));
    printf("mul 5 (RX again): %d\n", ((fn)rx)(11));
    munmap(rx, 4096);
    /* New code at an address that held other code before. */
    unsigned char *again = mmap(rx, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                                -1, 0);
    emit_add(again, 77);
    printf("remapped page: %d\n", ((fn)again)(1));

    /* Code that patches an instruction just ahead of it (in vt's own text, made writable). */
    uintptr_t page = (uintptr_t)patch_ahead & ~(uintptr_t)4095;
    SHOW(mprotect((void *)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC));
    printf("patch ahead: %d\n", patch_ahead());
    return 0;
}
