/* A parallel workload for measuring threads under visa: the same units of
 * work (formatting, hashing and sorting, so a fair amount of the C
 * library's code runs hot) split among 1, 2 or 4 threads, and a hand-off
 * where a second thread runs, after the first has ended, the code the
 * first made hot. The printed totals do not depend on the split; with
 * VT_TIMES set, each thread's CPU time goes to standard error, and
 * VT_UNITS sets the number of units (24000). */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "vtthreads.h"

static long units(void) {
    const char *set = getenv("VT_UNITS");
    return set ? atol(set) : 24000;
}

static int by_value(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* One unit: a number formatted, its text hashed, a small array sorted. */
static uint64_t unit(long k) {
    char text[64];
    int n = snprintf(text, sizeof text, "unit %ld: %08lx %.3f", k, (unsigned long)(k * 2654435761u), k / 7.0);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++)
        h = (h ^ (uint8_t)text[i]) * 1099511628211ull;
    uint32_t v[16];
    for (int i = 0; i < 16; i++) {
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ull;
        v[i] = (uint32_t)(h >> 32);
    }
    qsort(v, 16, sizeof v[0], by_value);
    return h ^ v[0] ^ ((uint64_t)v[15] << 32);
}

struct share {
    long from, to;
    uint64_t sum;
    double cpu;
};

static double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run_share(void *arg) {
    struct share *s = arg;
    double start = thread_cpu_seconds();
    for (long k = s->from; k < s->to; k++)
        s->sum += unit(k);
    s->cpu = thread_cpu_seconds() - start;
    return NULL;
}

static int split(int threads) {
    pthread_t t[4];
    struct share s[4];
    long all = units();
    for (int i = 0; i < threads; i++) {
        s[i] = (struct share){.from = all * i / threads, .to = all * (i + 1) / threads};
        check(pthread_create(&t[i], NULL, run_share, &s[i]) == 0, "pthread_create");
    }
    uint64_t total = 0;
    for (int i = 0; i < threads; i++) {
        check(pthread_join(t[i], NULL) == 0, "pthread_join");
        total += s[i].sum;
        if (getenv("VT_TIMES"))
            fprintf(stderr, "thread %d: %.3f s of CPU\n", i, s[i].cpu);
    }
    printf("total of %ld units: %016llx\n", all, (unsigned long long)total);
    return 0;
}

int parallel1(void) { return split(1); }
int parallel2(void) { return split(2); }
int parallel4(void) { return split(4); }

/* Two threads, one after the other, run the same units. */
int handoff(void) {
    struct share s[2];
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        s[i] = (struct share){.from = 0, .to = units() / 4};
        check(pthread_create(&t, NULL, run_share, &s[i]) == 0, "pthread_create");
        check(pthread_join(t, NULL) == 0, "pthread_join");
        if (getenv("VT_TIMES"))
            fprintf(stderr, "%s thread: %.3f s of CPU\n", i ? "second" : "first", s[i].cpu);
    }
    printf("both threads: %s\n", s[0].sum == s[1].sum ? "same sums" : "DIFFERENT sums");
    return 0;
}
