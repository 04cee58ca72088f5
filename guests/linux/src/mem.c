/* mem: the address space: large mallocs (served by mmap), the brk heap,
 * anonymous mappings replaced with MAP_FIXED, faults on unmapped, PROT_NONE
 * and read-only pages (SIGSEGV with SEGV_MAPERR or SEGV_ACCERR and the
 * faulting address), mremap growing in place, moving and to a fixed
 * address, madvise, and a file read through a private mapping. Addresses are
 * printed only relative to their mapping. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vt.h"

#define PAGE 4096L

static sigjmp_buf recover;
static volatile int fault_signo, fault_code;
static volatile uintptr_t fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    fault_signo = sig;
    fault_code = si->si_code;
    fault_addr = (uintptr_t)si->si_addr;
    siglongjmp(recover, 1);
}

static const char *segv_code(int code) {
    return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

/* Reads or writes one byte; prints what happened. */
static void touch(const char *what, volatile char *p, int write) {
    fault_signo = 0;
    if (sigsetjmp(recover, 1) == 0) {
        if (write)
            *p = 7;
        else
            (void)*p;
        printf("%s: %s ok\n", what, write ? "write" : "read");
        return;
    }
    printf("%s: %s faults: signal %d %s, address %s\n", what, write ? "write" : "read", fault_signo,
           segv_code(fault_code), fault_addr == (uintptr_t)p ? "exact" : "wrong");
}

/* A checksum of every 61st byte (enough to see pages lost or mixed up). */
static unsigned long sum(const unsigned char *p, size_t n) {
    unsigned long s = 0;
    for (size_t i = 0; i < n; i += 61) s = s * 31 + p[i];
    return s;
}

static void big_mallocs(void) {
    size_t n = 16 << 20;
    unsigned char *p = malloc(n);
    printf("malloc 16M: %s\n", p ? "ok" : "failed");
    memset(p, 0xa5, n);
    for (size_t i = 0; i < n; i += 4096) p[i] = (unsigned char)(i >> 12);
    printf("16M sum %lx\n", sum(p, n));
    unsigned char *q = realloc(p, 2 * n);
    printf("realloc 32M: %s, first page kept %d\n", q ? "ok" : "failed", q[4096] == 1 && q[8191] == 0xa5);
    free(q);
    void *many[64];
    for (int i = 0; i < 64; i++) {
        many[i] = malloc(200000 + i * 1000);
        memset(many[i], i, 200000);
    }
    int good = 1;
    for (int i = 0; i < 64; i++) good &= ((unsigned char *)many[i])[199999] == i;
    for (int i = 0; i < 64; i++) free(many[i]);
    printf("64 blocks of 200K: %s\n", good ? "ok" : "corrupt");
    char *c = calloc(1 << 20, 4);
    printf("calloc zeroed: %d\n", sum((unsigned char *)c, 4 << 20) == 0);
    free(c);
}

static void heap(void) {
    char *start = sbrk(0);
    char *got = sbrk(65536);
    printf("sbrk(65536) returns the old break: %d\n", got == start);
    printf("break moved by %ld\n", (long)((char *)sbrk(0) - start));
    memset(start, 1, 65536);
    printf("heap written: %d\n", start[65535] == 1);
    got = sbrk(-65536);
    printf("break back: %d\n", (char *)sbrk(0) == start);
    printf("brk to the same: %d\n", brk(start) == 0);
    char *top = (char *)(((uintptr_t)start + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
    if (top != start) touch("heap past the break, same page", start, 1);
    touch("heap past the break, next page", top + PAGE, 1);
}

static void anonymous(void) {
    char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap 4 pages: %s, aligned %d\n", p != MAP_FAILED ? "ok" : errname(errno), ((uintptr_t)p % PAGE) == 0);
    printf("fresh pages zero: %d\n", sum((unsigned char *)p, 4 * PAGE) == 0);
    memset(p, 'x', 4 * PAGE);
    char *q = mmap(p + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("MAP_FIXED at page 1: %s\n", q == p + PAGE ? "placed" : "elsewhere");
    printf("page 0 kept %d, page 1 zero %d, page 2 kept %d\n", p[PAGE - 1] == 'x', p[PAGE] == 0 && p[2 * PAGE - 1] == 0,
           p[2 * PAGE] == 'x');
    void *r = mmap(p, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("MAP_FIXED_NOREPLACE over a mapping: %s\n", r == MAP_FAILED ? errname(errno) : "placed");
    SHOW(munmap(p + 2 * PAGE, PAGE));
    touch("unmapped page", p + 2 * PAGE + 16, 0);
    touch("page after it", p + 3 * PAGE, 1);
    SHOW(mprotect(p, PAGE, PROT_READ));
    touch("read-only page", p + 100, 0);
    touch("read-only page", p + 100, 1);
    SHOW(mprotect(p + PAGE, PAGE, PROT_NONE));
    touch("PROT_NONE page", p + PAGE + 8, 0);
    SHOW(mprotect(p + PAGE, PAGE, PROT_READ | PROT_WRITE));
    touch("page made writable again", p + PAGE + 8, 1);
    SHOW(mprotect(p + 2 * PAGE, PAGE, PROT_READ));
    SHOW(mprotect((char *)p + 1, PAGE, PROT_READ));
    SHOW(munmap(p, 4 * PAGE));
    touch("after munmap", p, 0);
    SHOW(munmap(p, 4 * PAGE));
    SHOW(munmap((char *)p + 1, PAGE));
    void *z = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap length 0: %s\n", z == MAP_FAILED ? errname(errno) : "mapped");
    char *none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch("fresh PROT_NONE mapping", none, 0);
    munmap(none, PAGE);
    /* A large reservation is only backed where it is touched. */
    size_t big = 1UL << 32;
    char *huge = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    printf("mmap 4G: %s\n", huge == MAP_FAILED ? errname(errno) : "ok");
    if (huge != MAP_FAILED) {
        huge[0] = 1;
        huge[big / 2] = 2;
        huge[big - 1] = 3;
        printf("4G corners: %d %d %d\n", huge[0], huge[big / 2], huge[big - 1]);
        munmap(huge, big);
    }
}

static void remapping(void) {
    /* Four pages: 'a', 'b', a hole, 'c'. */
    char *a = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(a, 'a', PAGE);
    memset(a + PAGE, 'b', PAGE);
    memset(a + 3 * PAGE, 'c', PAGE);
    SHOW(munmap(a + 2 * PAGE, PAGE));
    /* The page after the first is mapped: growing it must move it. */
    char *b = mremap(a, PAGE, 4 * PAGE, MREMAP_MAYMOVE);
    printf("mremap grow: %s, moved %d\n", b == MAP_FAILED ? errname(errno) : "ok", b != a);
    printf("contents kept %d, new part zero %d\n", b[0] == 'a' && b[PAGE - 1] == 'a', b[PAGE] == 0 && b[4 * PAGE - 1] == 0);
    touch("old place", a, 0);
    touch("neighbour of the old place", a + PAGE, 0);
    char *c = mremap(a + PAGE, PAGE, 2 * PAGE, 0);
    printf("mremap into the hole: %s\n", c == MAP_FAILED ? errname(errno) : c == a + PAGE ? "in place" : "moved");
    printf("grown part zero %d, kept %c\n", a[2 * PAGE] == 0, a[PAGE]);
    c = mremap(a + PAGE, 2 * PAGE, 3 * PAGE, 0);
    printf("mremap onto a mapping without MAYMOVE: %s\n", c == MAP_FAILED ? errname(errno) : "grown");
    printf("neighbour kept %c\n", a[3 * PAGE]);
    SHOW(munmap(a + PAGE, 3 * PAGE));
    SHOW(munmap(b, 4 * PAGE));

    /* Room after it: grows in place. */
    char *r = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW(munmap(r + PAGE, 7 * PAGE));
    r[0] = 'r';
    char *g = mremap(r, PAGE, 6 * PAGE, 0);
    printf("mremap in place: %s\n", g == MAP_FAILED ? errname(errno) : g == r ? "same address" : "moved");
    g[6 * PAGE - 1] = 'e';
    char *s = mremap(g, 6 * PAGE, 2 * PAGE, 0);
    printf("mremap shrink: %s, kept %c\n", s == g ? "same address" : "moved", s[0]);
    touch("shrunk away", g + 3 * PAGE, 0);

    /* MREMAP_FIXED moves to a chosen address, replacing what is there. */
    char *target = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *f = mremap(s, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target + PAGE);
    printf("MREMAP_FIXED: %s, kept %c\n", f == MAP_FAILED ? errname(errno) : f == target + PAGE ? "at target" : "elsewhere",
           f == MAP_FAILED ? '?' : f[0]);
    touch("moved mapping", target + 2 * PAGE, 1);
    touch("source after MREMAP_FIXED", s, 0);
    touch("target page before it", target, 1);
    munmap(target, 4 * PAGE);
    void *bad = mremap(target, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
    printf("mremap of unmapped memory: %s\n", bad == MAP_FAILED ? errname(errno) : "ok");
}

static void advice(void) {
    char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 'm', 3 * PAGE);
    SHOW(madvise(p + PAGE, PAGE, MADV_DONTNEED));
    printf("after MADV_DONTNEED: before %c, dropped %d, after %c\n", p[PAGE - 1], p[PAGE], p[2 * PAGE]);
    SHOW(madvise(p, 3 * PAGE, MADV_WILLNEED));
    SHOW(madvise(p + 1, PAGE, MADV_DONTNEED));
    SHOW(msync(p, PAGE, MS_SYNC));
    munmap(p, 3 * PAGE);
}

static void file_mapping(void) {
    int fd = open("/proc/self/exe", O_RDONLY);
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char head[64], page2[256];
    pread(fd, head, sizeof head, 0);
    pread(fd, page2, sizeof page2, PAGE);
    unsigned char *m = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("mmap file: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
    printf("header through the mapping: %d, second page: %d\n", memcmp(m, head, sizeof head) == 0,
           memcmp(m + PAGE, page2, sizeof page2) == 0);
    touch("read-only file mapping", (char *)m, 1);
    munmap(m, 2 * PAGE);
    unsigned char *o = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE);
    printf("offset mapping matches: %d\n", memcmp(o, page2, sizeof page2) == 0);
    o[0] ^= 0xff;
    unsigned char again;
    pread(fd, &again, 1, PAGE);
    printf("private write stays private: %d\n", again == page2[0]);
    munmap(o, PAGE);
    off_t last = (size - 1) / PAGE * PAGE;
    unsigned char *t = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, last);
    size_t tail = size - last;
    int zero = 1;
    for (size_t i = tail; i < PAGE; i++) zero &= t[i] == 0;
    printf("past the end of the file reads zero: %d\n", zero);
    munmap(t, PAGE);
    void *u = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 1);
    printf("unaligned offset: %s\n", u == MAP_FAILED ? errname(errno) : "mapped");
    close(fd);
    void *e = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 77, 0);
    printf("bad descriptor: %s\n", e == MAP_FAILED ? errname(errno) : "mapped");
}

/* Faults in code run often enough to be compiled: the handler sees the
 * state at the faulting instruction (its address within the function), and
 * the stores made before it happen once. */
static volatile uintptr_t fault_rip;

static void on_hot_fault(int sig, siginfo_t *si, void *uc) {
    fault_signo = sig;
    fault_addr = (uintptr_t)si->si_addr;
    fault_rip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
    siglongjmp(recover, 1);
}

/* A store, then a load that may fault. */
__attribute__((noinline)) static long store_then_load(long *slot, const long *p, long k) {
    *slot = k;
    return *p + k;
}

/* A read-modify-write of a counter, then a load that may fault. */
__attribute__((noinline)) static long count_then_load(long *count, const long *p) {
    ++*count;
    return *p;
}

/* A loop of loads and a store of the round's number: a load that faults
 * in a later round. */
__attribute__((noinline)) static long sum_counted(long *count, const long *a, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) {
        s += a[i];
        *count = i;
    }
    return s;
}

static void hot_faults(void) {
    struct sigaction sa = {0}, old;
    sa.sa_sigaction = on_hot_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, &old);
    long *page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page[3] = 5;
    static long slot, count, sum;
    for (long i = 0; i < 100000; i++) sum += store_then_load(&slot, page + 3, i) + count_then_load(&count, page + 3);
    mprotect(page, PAGE, PROT_NONE);
    for (int round = 0; round < 3; round++) {
        fault_rip = 0;
        if (sigsetjmp(recover, 1) == 0) sum += store_then_load(&slot, page + 3, -7 - round);
        printf("hot store, then a faulting load: page+%ld, at function+%ld, slot %ld\n",
               (long)(fault_addr - (uintptr_t)page), (long)(fault_rip - (uintptr_t)store_then_load), slot);
        fault_rip = 0;
        if (sigsetjmp(recover, 1) == 0) sum += count_then_load(&count, page + 3);
        printf("hot counter, then a faulting load: page+%ld, at function+%ld, count %ld\n",
               (long)(fault_addr - (uintptr_t)page), (long)(fault_rip - (uintptr_t)count_then_load), count);
    }
    long *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (long i = 0; i < PAGE / 8; i++) two[i] = i;
    mprotect(two + PAGE / 8, PAGE, PROT_NONE);
    static long rounds;
    for (long k = 0; k < 20000; k++) sum += sum_counted(&rounds, two + k % 64, 16);
    fault_rip = 0;
    if (sigsetjmp(recover, 1) == 0) sum += sum_counted(&rounds, two, 1000);
    printf("hot loop, then a faulting load: page+%ld, round %ld\n", (long)(fault_addr - (uintptr_t)two), rounds);
    munmap(two, 2 * PAGE);
    printf("hot sum %ld\n", sum);
    munmap(page, PAGE);
    sigaction(SIGSEGV, &old, NULL);
}

int vt_mem(int argc, char **argv) {
    (void)argc, (void)argv;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    big_mallocs();
    heap();
    anonymous();
    remapping();
    advice();
    file_mapping();
    hot_faults();
    return 0;
}
