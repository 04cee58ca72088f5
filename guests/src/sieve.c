/* Sieve of Eratosthenes: primes below two million. */
#include "rt.h"

#define N 2000000
static u8 composite[N];

int guest_main(void) {
    u64 count = 0, sum = 0, last = 0;
    for (u64 i = 2; i < N; i++) {
        if (composite[i])
            continue;
        count++;
        sum += i;
        last = i;
        for (u64 j = i * i; j < N; j += i)
            composite[j] = 1;
    }
    rt_puts("primes below 2000000: ");
    rt_put_u64(count);
    rt_puts("\nsum: ");
    rt_put_u64(sum);
    rt_puts("\nlargest: ");
    rt_put_u64(last);
    rt_putc('\n');
    return 0;
}
