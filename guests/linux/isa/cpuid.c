// The feature registers, the auxiliary vector's hardware capabilities,
// what glibc counts as active, and the string routines its ifuncs chose
// (their addresses: a static program's are the same in every run, so two
// runs that print different addresses picked different implementations).
#include <cpuid.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <sys/platform/x86.h>

// The implementation a static program's ifunc symbol resolved to: its
// address is a stub `jmp *slot(%rip)`, and the slot holds the choice.
static void *chosen(void *stub) {
    const unsigned char *p = stub;
    if (p[0] != 0xff || p[1] != 0x25) return stub;
    int disp;
    memcpy(&disp, p + 2, 4);
    return *(void **)(p + 6 + disp);
}

int subject_cpuid(void) {
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    printf("leaf1 ecx=%08x edx=%08x\n", c, d);
    __cpuid_count(7, 0, a, b, c, d);
    printf("leaf7 ebx=%08x ecx=%08x edx=%08x\n", b, c, d);
    __cpuid(0x80000001, a, b, c, d);
    printf("ext ecx=%08x edx=%08x\n", c, d);
    printf("hwcap=%lx hwcap2=%lx\n", getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
    // Each has an SSE2 and an SSE4.2 (or SSSE3) implementation in glibc.
    size_t (*spn)(const char *, const char *) = strspn;
    size_t (*cspn)(const char *, const char *) = strcspn;
    int (*casecmp)(const char *, const char *) = strcasecmp;
    void *(*cpy)(void *, const void *, size_t) = memmove;
    printf("strspn=%p strcspn=%p strcasecmp=%p memmove=%p\n", chosen((void *)spn), chosen((void *)cspn),
           chosen((void *)casecmp), chosen((void *)cpy));
    printf("glibc active:%s%s%s%s%s%s%s\n", CPU_FEATURE_ACTIVE(SSE3) ? " sse3" : "",
           CPU_FEATURE_ACTIVE(SSSE3) ? " ssse3" : "", CPU_FEATURE_ACTIVE(SSE4_2) ? " sse4_2" : "",
           CPU_FEATURE_ACTIVE(POPCNT) ? " popcnt" : "", CPU_FEATURE_ACTIVE(MOVBE) ? " movbe" : "",
           CPU_FEATURE_ACTIVE(AES) ? " aes" : "", CPU_FEATURE_ACTIVE(AVX2) ? " avx2" : "");
    printf("strspn(\"abcabcx\", \"abc\")=%zu\n", spn("abcabcx", "abc"));
    return 0;
}
