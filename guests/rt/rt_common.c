/* Formatting shared by the board and hosted runtimes. */
#include "rt.h"

void rt_puts(const char *s) {
    while (*s)
        rt_putc(*s++);
}

void rt_put_u64(u64 v) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rt_puts(buf + i);
}

void rt_put_hex(u64 v, int digits) {
    for (int i = digits - 1; i >= 0; i--)
        rt_putc("0123456789abcdef"[(v >> (4 * i)) & 15]);
}
