/* An invalid opcode (#UD, ud2) the guest does not handle. */
#include "rt.h"

int guest_main(void) {
    rt_puts("executing ud2\n");
    __asm__ volatile("ud2");
    return 0;
}
