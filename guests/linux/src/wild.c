/* wild: system calls with hostile arguments, made raw (no libc checks in
 * between) so that their results can be compared with the kernel's:
 *   vt wild end [handle]  runs off the end of the 64 GiB that visa's guest
 *                         space holds (natively: nothing mapped there), so
 *                         a fetch faults at exactly 64 GiB;
 *   vt wild mem DIR       memory calls with addresses and lengths past the
 *                         guest space or wrapping, mincore, msync, and a
 *                         30 GiB sparse file mapped (lazily) from DIR;
 *   vt wild io DIR        I/O calls with bad buffers: writes to /dev/null,
 *                         a file and a pipe, huge reads, getrandom into a
 *                         partly mapped buffer, getdents64 of a file,
 *                         getrlimit to NULL, poll with huge nfds. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vt.h"

#define PAGE 4096L
/* visa's guest space: 64 GiB (natively an ordinary, unused range). */
#define SPACE (1L << 36)

static long sys(long nr, long a, long b, long c, long d, long e, long f) {
    long r = syscall(nr, a, b, c, d, e, f);
    return r;
}

#define CALL(nr, ...) show(#nr "(" #__VA_ARGS__ ")", sys_args(nr, __VA_ARGS__))
#define sys_args(nr, ...) sys6(nr, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define sys6(nr, a, b, c, d, e, f, ...) sys(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    printf("signal %d code %d at %s\n", sig, si->si_code, a == (uintptr_t)SPACE ? "the end of the space" : "elsewhere");
    fflush(stdout);
    _exit(0);
}

static int end_of_space(int handle) {
    if (handle) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, 0);
    }
    char *p = mmap((void *)(SPACE - PAGE), PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("last page mapped: %d\n", p == (char *)(SPACE - PAGE));
    memset(p, 0x90, PAGE); /* NOPs up to the end */
    ((void (*)(void))p)();
    printf("not reached\n");
    return 1;
}

static int wild_mem(const char *dir) {
    long top = SPACE - PAGE;
    /* madvise */
    CALL(SYS_madvise, SPACE, PAGE, MADV_DONTNEED);
    CALL(SYS_madvise, SPACE + PAGE * 16, PAGE, MADV_NORMAL);
    CALL(SYS_madvise, -PAGE, PAGE * 2, MADV_DONTNEED);
    CALL(SYS_madvise, 0, -1L, MADV_DONTNEED);
    CALL(SYS_madvise, 0x10000, 0, MADV_DONTNEED);
    CALL(SYS_madvise, 0x10001, PAGE, MADV_DONTNEED);
    CALL(SYS_madvise, 0x10000, PAGE, 12345);
    /* mremap */
    char *m = mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 1;
    CALL(SYS_mremap, -PAGE, 2 * PAGE, PAGE, 0, 0);
    CALL(SYS_mremap, -PAGE, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE, 0);
    CALL(SYS_mremap, -2 * PAGE, PAGE, PAGE, 0, 0);
    CALL(SYS_mremap, SPACE, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0);
    CALL(SYS_mremap, m, PAGE, -1L, MREMAP_MAYMOVE, 0);
    CALL(SYS_mremap, m, -1L, PAGE, MREMAP_MAYMOVE, 0);
    CALL(SYS_mremap, m, -PAGE, PAGE, MREMAP_MAYMOVE, 0);
    long r = sys(SYS_mremap, (long)m, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, -PAGE, 0);
    show("mremap to -PAGE", r);
    r = sys(SYS_mremap, (long)m, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, -PAGE, 0);
    show("mremap to wrap", r);
    /* mmap, munmap, mprotect, msync */
    CALL(SYS_mmap, 0, -1L, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CALL(SYS_mmap, 0, -PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CALL(SYS_mmap, -PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CALL(SYS_munmap, -PAGE, 2 * PAGE);
    CALL(SYS_munmap, 0x10000, -1L);
    CALL(SYS_munmap, 1L << 47, PAGE);
    CALL(SYS_mprotect, -PAGE, 2 * PAGE, PROT_READ);
    CALL(SYS_mprotect, SPACE, PAGE, PROT_READ);
    CALL(SYS_mprotect, m, 0, PROT_READ);
    CALL(SYS_mprotect, m, -1L, PROT_READ);
    CALL(SYS_msync, SPACE, PAGE, MS_SYNC);
    CALL(SYS_msync, -PAGE, 2 * PAGE, MS_SYNC);
    CALL(SYS_msync, m, PAGE, MS_SYNC);
    CALL(SYS_msync, m, PAGE, MS_SYNC | MS_ASYNC);
    CALL(SYS_msync, m, 0, 99);
    /* mincore */
    unsigned char vec[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    m[2 * PAGE] = 1;
    CALL(SYS_mincore, m, 4 * PAGE, vec);
    printf("mincore vec: %d %d %d\n", vec[0] & 1, vec[2] & 1, vec[4]);
    CALL(SYS_mincore, m + 1, PAGE, vec);
    CALL(SYS_mincore, m, PAGE, 0);
    CALL(SYS_mincore, SPACE, PAGE, vec);
    CALL(SYS_mincore, top, 2 * PAGE, vec);
    CALL(SYS_mincore, -PAGE, PAGE, vec);
    CALL(SYS_mincore, m, -PAGE, vec);
    CALL(SYS_mincore, m, 0, vec);
    /* A 30 GiB sparse file, mapped privately: nothing is read until used. */
    char path[4096];
    snprintf(path, sizeof path, "%s/sparse", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    long big = 30L << 30;
    if (fd < 0 || ftruncate(fd, big) != 0 || pwrite(fd, "tail", 4, big - 4) != 4 || pwrite(fd, "head", 4, 0) != 4) {
        printf("cannot make the sparse file\n");
        return 1;
    }
    char *f = (char *)sys(SYS_mmap, 0, big, PROT_READ, MAP_PRIVATE, fd, 0);
    if ((long)f < 0 && (long)f > -4096) {
        show("mmap 30 GiB file", (long)f);
    } else {
        printf("mmap 30 GiB file: %.4s ... %.4s, middle %d\n", f, f + big - 4, f[big / 2]);
        CALL(SYS_mprotect, f + PAGE, PAGE, PROT_READ | PROT_WRITE);
        f[PAGE] = 'x';
        printf("written privately: %c, next page %.4s\n", f[PAGE], f + 2 * PAGE);
        char back;
        if (pread(fd, &back, 1, PAGE) == 1) printf("private write reaches the file: %d\n", back == 'x');
        unsigned char v[2];
        CALL(SYS_mincore, f + big - PAGE, PAGE, v);
        CALL(SYS_munmap, f, big);
        char *g = (char *)sys(SYS_mmap, (long)f, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        printf("anonymous memory where the file was reads zero: %d\n", g == f && g[0] == 0);
    }
    close(fd);
    unlink(path);
    return 0;
}

static int wild_io(const char *dir) {
    char *m = mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m + 2 * PAGE, PAGE); /* m + 2 pages is a hole */
    memset(m, 'a', 2 * PAGE);
    long bad = (long)(m + 2 * PAGE);
    int null = open("/dev/null", O_WRONLY);
    CALL(SYS_write, null, bad, 10);
    CALL(SYS_write, null, m + 2 * PAGE - 5, 10);
    CALL(SYS_write, null, 0, 1L << 62);
    CALL(SYS_write, null, -PAGE, 2 * PAGE);
    CALL(SYS_write, 999, bad, 10);
    CALL(SYS_pwrite64, null, bad, 10, 0);
    struct iovec iov[2] = {{m, 3}, {(void *)bad, 7}};
    CALL(SYS_writev, null, iov, 2);
    CALL(SYS_writev, null, bad, 2);
    CALL(SYS_writev, 1, iov, 2);
    printf("\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/file", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CALL(SYS_write, fd, bad, 10);
    CALL(SYS_write, fd, m + 2 * PAGE - 5, 10);
    CALL(SYS_pwrite64, fd, m + 2 * PAGE - 3, 10, 100);
    CALL(SYS_writev, fd, iov, 2);
    CALL(SYS_lseek, fd, 0, SEEK_SET);
    CALL(SYS_read, fd, m, 1L << 62);
    CALL(SYS_read, fd, m + 2 * PAGE - 4, 100);
    CALL(SYS_read, fd, bad, 100);
    CALL(SYS_read, 999, bad, 100);
    CALL(SYS_pread64, fd, m + 2 * PAGE - 2, 100, 0);
    int pipefd[2];
    if (pipe(pipefd) == 0) {
        CALL(SYS_write, pipefd[1], m + 2 * PAGE - 6, 10);
        CALL(SYS_write, pipefd[1], bad, 10);
        CALL(SYS_write, pipefd[1], m, 20);
        CALL(SYS_read, pipefd[0], m + 2 * PAGE - 2, 10);
        CALL(SYS_read, pipefd[0], m, 10);
        close(pipefd[0]);
        close(pipefd[1]);
    }
    int zero = open("/dev/zero", O_RDONLY);
    CALL(SYS_read, zero, m + 2 * PAGE - 8, 100);
    CALL(SYS_read, zero, bad, 100);
    CALL(SYS_getrandom, m + 2 * PAGE - 16, 100, 0);
    CALL(SYS_getrandom, bad, 100, 0);
    CALL(SYS_getrandom, m, 16, 0x100);
    CALL(SYS_getdents64, fd, bad, 100);
    CALL(SYS_getdents64, fd, m, 100);
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    CALL(SYS_getdents64, d, bad, 4096);
    CALL(SYS_getdents64, 999, bad, 4096);
    CALL(SYS_getrlimit, RLIMIT_NOFILE, 0);
    CALL(SYS_getrlimit, 999, 0);
    CALL(SYS_getrlimit, RLIMIT_NOFILE, bad);
    CALL(SYS_setrlimit, RLIMIT_NOFILE, 0);
    CALL(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, 0);
    CALL(SYS_poll, bad, 1L << 40, 0);
    CALL(SYS_poll, bad, 1L << 20, 0);
    CALL(SYS_poll, bad, 1, 0);
    CALL(SYS_poll, 0, 0, 0);
    close(d);
    close(fd);
    close(zero);
    close(null);
    unlink(path);
    return 0;
}

int vt_wild(int argc, char **argv) {
    const char *what = argc > 2 ? argv[2] : "";
    if (strcmp(what, "end") == 0) return end_of_space(argc > 3);
    if (strcmp(what, "mem") == 0 && argc > 3) return wild_mem(argv[3]);
    if (strcmp(what, "io") == 0 && argc > 3) return wild_io(argv[3]);
    fprintf(stderr, "usage: vt wild end [handle] | mem DIR | io DIR\n");
    return 2;
}
