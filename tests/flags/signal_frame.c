/* The RFLAGS a signal frame holds when the fault comes in the block after
   a compare, an addition or a test: the flags were deferred at the block's
   end and must be computed for the frame. Prints them for edge operands;
   natively and under visa the output must be the same. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

static volatile uint64_t frame_flags;

static void handler(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    (void)sig;
    (void)info;
    frame_flags = uc->uc_mcontext.gregs[REG_EFL];
    /* Skip the faulting load: movb (%r8), %al is 3 bytes. */
    uc->uc_mcontext.gregs[REG_RIP] += 3;
}

/* OP a, b; an indirect jump ends the block; the next block faults. */
#define PROBE(name, insn)                                                   \
    static uint64_t name(uint64_t a, uint64_t b) {                          \
        register uint64_t zero asm("r8") = 0;                               \
        asm volatile(insn "\n\t"                                            \
                     "lea 1f(%%rip), %%r11\n\t"                             \
                     "jmp *%%r11\n"                                         \
                     "1:\n\t"                                               \
                     "movb (%[z]), %%al\n\t"                                \
                     : [a] "+r"(a)                                          \
                     : [b] "r"(b), [z] "r"(zero)                            \
                     : "r11", "rax", "cc", "memory");                       \
        return frame_flags;                                                 \
    }

PROBE(cmp64, "cmp %[b], %[a]")
PROBE(cmp32, "cmp %k[b], %k[a]")
PROBE(cmp8, "cmp %b[b], %b[a]")
PROBE(add64, "add %[b], %[a]")
PROBE(add16, "add %w[b], %w[a]")
PROBE(sub32, "sub %k[b], %k[a]")
PROBE(test64, "test %[b], %[a]")

static const uint64_t values[] = {
    0, 1, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000, 0xffffffff,
    0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff, 0x123456789abcdef0,
};

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    struct {
        const char *name;
        uint64_t (*probe)(uint64_t, uint64_t);
        uint64_t mask;
    } ops[] = {
        /* CF PF AF ZF SF OF; AF is undefined after TEST. */
        {"cmp64", cmp64, 0x8d5}, {"cmp32", cmp32, 0x8d5}, {"cmp8", cmp8, 0x8d5}, {"add64", add64, 0x8d5},
        {"add16", add16, 0x8d5}, {"sub32", sub32, 0x8d5}, {"test64", test64, 0x8c5},
    };
    size_t n = sizeof values / sizeof values[0];
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                printf("%s %llx %llx: %03llx\n", ops[o].name, (unsigned long long)values[i],
                       (unsigned long long)values[j], (unsigned long long)(ops[o].probe(values[i], values[j]) & ops[o].mask));
    return 0;
}
