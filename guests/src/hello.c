/* The default guest: a greeting over the serial port. */
#include "rt.h"

int guest_main(void) {
    rt_puts("Hello from a visa guest!\n");
    return 0;
}
