/* A divide error (#DE) the guest does not handle. */
#include "rt.h"

int guest_main(void) {
    rt_puts("dividing by zero\n");
    volatile u64 zero = 0;
    u64 q;
    __asm__ volatile("xor %%edx, %%edx\n\tmov $7, %%eax\n\tdivq %1" : "=a"(q) : "r"(zero) : "rdx");
    rt_put_u64(q);
    return 0;
}
