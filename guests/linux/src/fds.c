/* Descriptor tables: close_range closing and marking close-on-exec a range
 * (its errors for bad flags and ranges), CLOSE_RANGE_UNSHARE in a thread
 * (the thread's table becomes its own), and a signalfd that keeps working
 * after every descriptor above it is closed, and after dup2 onto every
 * number from 3 to 600 (where visa's own descriptors, which must move out
 * of the way, are). Whether descriptors are open is printed, and the
 * number a fresh descriptor gets (the lowest free one: the same natively
 * and under visa, whose own descriptors are not in the guest's way). */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vt.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static long close_range_(unsigned first, unsigned last, unsigned flags) {
    return syscall(SYS_close_range, first, last, flags);
}

/* "open" or "closed", with " cloexec" when marked. */
static const char *state(int fd) {
    int f = fcntl(fd, F_GETFD);
    return f < 0 ? "closed" : (f & FD_CLOEXEC) ? "open cloexec" : "open";
}

static void show_fds(const char *when, const int *fd, int n) {
    printf("%s:", when);
    for (int i = 0; i < n; i++) printf(" %s", state(fd[i]));
    printf("\n");
}

static int unshared_fd;

static void *unshare_and_close(void *arg) {
    (void)arg;
    SHOW(close_range_(unshared_fd, unshared_fd, CLOSE_RANGE_UNSHARE));
    printf("in the thread after unsharing: %s\n", state(unshared_fd));
    return NULL;
}

int vt_fds(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int fresh = open("/dev/null", O_RDONLY);
    printf("a fresh descriptor: %d\n", fresh);
    close(fresh);
    int fd[6];
    for (int i = 0; i < 6; i += 2) {
        int p[2];
        if (pipe(p) != 0) return 1;
        fd[i] = p[0];
        fd[i + 1] = p[1];
    }
    int lo = fd[0], hi = fd[5];
    printf("six descriptors in a row: %d\n", hi - lo == 5);
    show_fds("made", fd, 6);
    SHOW(close_range_(lo + 2, lo + 3, 0));
    show_fds("after closing the middle two", fd, 6);
    SHOW(close_range_(lo, lo + 1, CLOSE_RANGE_CLOEXEC));
    show_fds("after marking the first two", fd, 6);
    SHOW(close_range_(lo + 4, ~0U, CLOSE_RANGE_CLOEXEC));
    show_fds("after marking from the fifth up", fd, 6);

    /* Bad flags and ranges, and ranges with nothing open. */
    SHOW(close_range_(lo, lo, 1));
    SHOW(close_range_(lo, lo, 1U << 3));
    SHOW(close_range_(lo, lo, 0x80000000U));
    SHOW(close_range_(lo + 1, lo, 0));
    SHOW(close_range_(~0U, 0, 0));
    SHOW(close_range_(~0U, ~0U, 0));
    SHOW(close_range_(1000000, 2000000, 0));
    show_fds("after the bad calls", fd, 6);

    /* CLOSE_RANGE_UNSHARE: a thread's close after unsharing leaves the
     * descriptor open for the others. */
    unshared_fd = fd[0];
    pthread_t t;
    if (pthread_create(&t, NULL, unshare_and_close, NULL) != 0) return 1;
    pthread_join(t, NULL);
    printf("in main after the thread's close: %s\n", state(unshared_fd));

    /* A signalfd, then everything above it closed: it still reads. */
    SHOW(close_range_(lo, ~0U, 0));
    show_fds("after closing all six", fd, 6);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK);
    printf("signalfd made: %d\n", sfd >= 0);
    int null = open("/dev/null", O_RDONLY);
    int duped = 0;
    for (int n = 3; n <= 600; n++)
        if (n != sfd && n != null) duped += dup2(null, n) == n;
    printf("dup2 onto every number from 3 to 600 but two: %d\n", duped);
    SHOW(close_range_(sfd + 1, ~0U, 0));
    raise(SIGUSR1);
    struct signalfd_siginfo si;
    long n = read(sfd, &si, sizeof si);
    printf("signalfd read after the close_range: %ld bytes, signal %u\n", n, n > 0 ? si.ssi_signo : 0);
    SHOW(close(sfd));
    SHOW(close(sfd));
    return 0;
}
