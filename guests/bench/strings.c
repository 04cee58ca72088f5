/* String and memory routines of the C library (the host's vectorised
 * memcpy, memmove, memset, memcmp, memchr, strlen, strchr, strcmp, strstr)
 * over buffers of many sizes and alignments, with a checksum of the
 * results. Hosted only: it measures the library, not a runtime of its own. */
#include <string.h>
#include "rt.h"

#define BUF (1 << 16)
#define ROUNDS 40

static char a[BUF + 64], b[BUF + 64];

int strings_main(void) {
    u64 x = 88172645463325252ull, sum = 0;
    for (int i = 0; i < BUF + 64; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        a[i] = (char)('a' + x % 26);
    }
    a[BUF + 63] = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (u64 len = 1; len <= BUF / 2; len = len * 3 / 2 + 1) {
            u64 off = (len * 7 + round) % 32;
            memcpy(b + off, a + round % 16, len);
            memmove(b + off + 1, b + off, len);
            sum += (u64)(memcmp(a + 1, b + off + 1, len) > 0);
            b[off + len] = 0;
            sum += strlen(b + off);
            const char *c = strchr(b + off, 'z');
            sum += c ? (u64)(c - b) : 0;
            const char *m = memchr(b + off, 'q', len);
            sum += m ? (u64)(m - b) : 0;
            sum += (u64)(strcmp(a + round, b + off) > 0);
            memset(b + off, 'k', len / 2);
            const char *s = strstr(b + off, "kkab");
            sum += s ? (u64)(s - b) : 1;
            sum = sum * 1099511628211ull;
        }
    }
    rt_puts("strings checksum ");
    rt_put_hex(sum, 16);
    rt_putc('\n');
    return 0;
}
