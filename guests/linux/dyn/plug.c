/* libvtplug.so: the shared library vtdyn loads with dlopen. */
#include <math.h>
#include <stdio.h>

int vtdyn_square(int x); /* in the program */

static __thread int calls = 40;

__attribute__((constructor)) static void loaded(void) { printf("plugin: constructor\n"); }
__attribute__((destructor)) static void unloaded(void) { printf("plugin: destructor\n"); fflush(stdout); }

long plug_sum(int n) {
    long s = 0;
    for (int i = 1; i <= n; i++) s += vtdyn_square(i);
    calls++;
    return s;
}

int *plug_counter(void) { return &calls; }

const char *plug_describe(double x) {
    static char buf[64];
    snprintf(buf, sizeof buf, "sqrt(%g) = %.15f", x, sqrt(x));
    return buf;
}
