/* The Linux benchmark program: `bench NAME [REPEAT]` runs one workload
 * REPEAT times (default 1) as a static Linux process, for `visa bench`. The
 * workloads are the bare-metal guests' sources (guests/src) plus the
 * library-routine workload, each built with its entry renamed NAME_main. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rt.h"

void rt_putc(char c) { putchar(c); }

void rt_exit(int code) {
    fflush(stdout);
    exit(code);
}

u64 rt_cycles(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec;
}

#define WORKLOADS(X) X(sieve) X(sort) X(sha256) X(crc32) X(recursive) X(bytecode) X(nbody) X(compress) X(strings)
#define DECLARE(name) int name##_main(void);
WORKLOADS(DECLARE)

static const struct {
    const char *name;
    int (*main)(void);
} table[] = {
#define ENTRY(name) {#name, name##_main},
    WORKLOADS(ENTRY)
};

int main(int argc, char **argv) {
    int n = sizeof table / sizeof table[0];
    for (int i = 0; argc >= 2 && i < n; i++) {
        if (strcmp(argv[1], table[i].name) != 0)
            continue;
        long repeat = argc >= 3 ? atol(argv[2]) : 1;
        int status = 0;
        for (long r = 0; r < repeat && status == 0; r++)
            status = table[i].main();
        rt_exit(status);
    }
    fprintf(stderr, "usage: bench NAME [REPEAT]; NAME is one of:");
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s", table[i].name);
    fprintf(stderr, "\n");
    return 2;
}
