// vtisa: the processor as a program sees it. `vtisa cpuid` prints the CPUID
// feature registers, AT_HWCAP and AT_HWCAP2, and which implementation of a
// few string routines the C library picked; `vtisa crypto` computes AES-128,
// SHA-1, SHA-256 and carry-less products with the AES-NI, SHA and PCLMULQDQ
// instructions where CPUID reports them (else in plain C) and checks each
// against plain C.
#include <stdio.h>
#include <string.h>

int subject_cpuid(void);
int subject_crypto(void);

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "cpuid") == 0) return subject_cpuid();
    if (argc == 2 && strcmp(argv[1], "crypto") == 0) return subject_crypto();
    fprintf(stderr, "usage: vtisa cpuid|crypto\n");
    return 2;
}
