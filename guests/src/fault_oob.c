/* A load beyond the end of RAM (a page fault, #PF): the entry state passes
 * the RAM size, and this reads the 8 bytes just past it. */
#include "rt.h"

int guest_main(u64 ram_size) {
    rt_puts("reading past the end of RAM\n");
    volatile u64 *p = (u64 *)ram_size;
    rt_put_u64(*p);
    return 0;
}
