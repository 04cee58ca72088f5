/* vtdyn: a dynamically linked program (PIE, glibc) that checks what a
 * dynamic process sees of itself: it dlopens libvtplug.so from its own
 * directory (constructor, destructor, thread-local storage allocated at
 * dlopen, a call back into the program), reads /proc/self/exe, the
 * auxiliary vector (getauxval and /proc/self/auxv), /proc/self/maps, and
 * calls the three entry points of the legacy vsyscall page. Each line it
 * prints is the same natively and under visa. */
#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Called by the plugin: the program's symbols are exported (-rdynamic). */
int vtdyn_square(int x) { return x * x; }

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Does /proc/self/maps have a line containing both strings? */
static int maps_has(const char *a, const char *b) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, a) && (!b || strstr(line, b))) found = 1;
    fclose(f);
    return found;
}

static void check_auxv(void) {
    printf("execfn: %s\n", base_name((const char *)getauxval(AT_EXECFN)));
    printf("at_base set: %d\n", getauxval(AT_BASE) != 0);
    printf("at_pagesz: %lu\n", getauxval(AT_PAGESZ));
    FILE *f = fopen("/proc/self/auxv", "rb");
    if (!f) {
        printf("auxv: cannot open\n");
        return;
    }
    unsigned long pair[2], entry = 0, phdr = 0;
    while (fread(pair, sizeof pair, 1, f) == 1 && pair[0] != AT_NULL) {
        if (pair[0] == AT_ENTRY) entry = pair[1];
        if (pair[0] == AT_PHDR) phdr = pair[1];
    }
    fclose(f);
    printf("auxv file agrees: entry %d, phdr %d\n", entry == getauxval(AT_ENTRY), phdr == getauxval(AT_PHDR));
}

static void check_vsyscall(void) {
    typedef long (*gtod_fn)(struct timeval *, void *);
    typedef long (*time_fn)(long *);
    typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);
    struct timeval tv;
    long r = ((gtod_fn)0xffffffffff600000UL)(&tv, NULL);
    long t = ((time_fn)0xffffffffff600400UL)(NULL);
    unsigned cpu = ~0u;
    long c = ((getcpu_fn)0xffffffffff600800UL)(&cpu, NULL, NULL);
    long now = time(NULL);
    printf("vsyscall gettimeofday: %ld, close %d\n", r, labs(tv.tv_sec - now) < 5);
    printf("vsyscall time close: %d\n", labs(t - now) < 5);
    printf("vsyscall getcpu: %ld, cpu set %d\n", c, cpu != ~0u);
}

int main(int argc, char **argv) {
    (void)argc;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    exe[n] = 0;
    printf("exe: %s\n", base_name(exe));
    printf("argv0: %s\n", base_name(argv[0]));
    check_auxv();
    printf("maps: program %d, stack %d, vsyscall %d\n", maps_has("vtdyn", "r-xp"), maps_has("[stack]", NULL),
           maps_has("[vsyscall]", NULL));

    char plug[PATH_MAX + 32];
    *strrchr(exe, '/') = 0;
    snprintf(plug, sizeof plug, "%s/libvtplug.so", exe);
    void *h = dlopen(plug, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    printf("maps: plugin %d\n", maps_has("libvtplug.so", "r-xp"));
    long (*sum)(int) = (long (*)(int))dlsym(h, "plug_sum");
    int *(*counter)(void) = (int *(*)(void))dlsym(h, "plug_counter");
    const char *(*describe)(double) = (const char *(*)(double))dlsym(h, "plug_describe");
    if (!sum || !counter || !describe) {
        printf("dlsym: %s\n", dlerror());
        return 1;
    }
    printf("plug_sum(10): %ld\n", sum(10));
    printf("plug_sum(100): %ld\n", sum(100));
    printf("plugin thread-local: %d\n", *counter());
    printf("plugin: %s\n", describe(2.0));
    printf("dlsym missing: %s\n", dlsym(h, "no_such_symbol") ? "found" : "absent");
    dlclose(h);
    printf("maps after dlclose: plugin %d\n", maps_has("libvtplug.so", NULL));

    double acc = 0;
    for (int i = 1; i <= 1000; i++) acc += sin(i) * cos(i) / sqrt(i);
    printf("libm: %.12f\n", acc);
    check_vsyscall();
    return 7;
}
