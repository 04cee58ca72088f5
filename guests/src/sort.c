/* Sorting through an indirect comparator: quicksort of pseudo-random keys,
 * then insertion sort of a small array, with a sortedness check. */
#include "rt.h"

#define N 200000
static u64 keys[N];

typedef int (*cmp_fn)(u64, u64);

static int ascending(u64 a, u64 b) { return a < b ? -1 : a > b; }
static int descending(u64 a, u64 b) { return ascending(b, a); }

static void quicksort(u64 *a, long lo, long hi, cmp_fn cmp) {
    while (lo < hi) {
        u64 pivot = a[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (cmp(a[i], pivot) < 0) i++;
            while (cmp(a[j], pivot) > 0) j--;
            if (i <= j) {
                u64 t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j, cmp);
            lo = i;
        } else {
            quicksort(a, i, hi, cmp);
            hi = j;
        }
    }
}

static u64 checksum(const u64 *a, long n) {
    u64 h = 1469598103934665603ull;
    for (long i = 0; i < n; i++)
        h = (h ^ a[i]) * 1099511628211ull;
    return h;
}

static int sorted(const u64 *a, long n, cmp_fn cmp) {
    for (long i = 1; i < n; i++)
        if (cmp(a[i - 1], a[i]) > 0)
            return 0;
    return 1;
}

int guest_main(void) {
    u64 x = 88172645463325252ull;
    for (long i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        keys[i] = x % 1000000007ull;
    }
    quicksort(keys, 0, N - 1, ascending);
    rt_puts("ascending sorted: ");
    rt_put_u64(sorted(keys, N, ascending));
    rt_puts(" checksum: ");
    rt_put_hex(checksum(keys, N), 16);
    rt_puts("\nmin ");
    rt_put_u64(keys[0]);
    rt_puts(" median ");
    rt_put_u64(keys[N / 2]);
    rt_puts(" max ");
    rt_put_u64(keys[N - 1]);
    quicksort(keys, 0, N - 1, descending);
    rt_puts("\ndescending sorted: ");
    rt_put_u64(sorted(keys, N, descending));
    rt_puts(" checksum: ");
    rt_put_hex(checksum(keys, N), 16);
    rt_putc('\n');
    return 0;
}
