/* signalfd: signals blocked in the mask are read from the descriptor
 * (raised, killed, queued with a value, a child's exit), alone or several
 * at a time, polled, waited for with epoll, by a blocking read in another
 * thread, ready for the thread a signal was sent to and not for another,
 * by readv across several buffers (pread fails, lseek stays at
 * 0); the mask of an existing descriptor changes; bad arguments. And
 * sigwaitinfo and sigtimedwait, which take pending signals alike. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtnet.h"

static sigset_t set_of(int a, int b, int c) {
    sigset_t s;
    sigemptyset(&s);
    for (int sig = 0; sig < 3; sig++) {
        int n = sig == 0 ? a : sig == 1 ? b : c;
        if (n) sigaddset(&s, n);
    }
    return s;
}

/* Reads up to `room` siginfos and prints what each says. */
static void read_and_show(int fd, int room, pid_t child) {
    struct signalfd_siginfo si[4];
    memset(si, 0, sizeof si);
    long n = read(fd, si, room * sizeof si[0]);
    if (n < 0) {
        printf("read: -1 %s\n", strerrorname_np(errno));
        return;
    }
    printf("read: %ld bytes\n", n);
    for (long i = 0; i < n / (long)sizeof si[0]; i++) {
        struct signalfd_siginfo *s = &si[i];
        const char *code = s->ssi_code == SI_USER    ? "SI_USER"
                           : s->ssi_code == SI_TKILL ? "SI_TKILL"
                           : s->ssi_code == SI_QUEUE ? "SI_QUEUE"
                           : s->ssi_code == CLD_EXITED ? "CLD_EXITED"
                                                       : "other";
        pid_t from = s->ssi_signo == SIGCHLD ? child : getpid();
        printf("  signal %u (%s), code %s, sender right %d, uid right %d, int %d, ptr %#lx, status %d\n",
               s->ssi_signo, strsignal(s->ssi_signo), code, s->ssi_pid == (unsigned)from,
               s->ssi_uid == getuid(), s->ssi_int, (unsigned long)s->ssi_ptr, s->ssi_status);
    }
}

static int reader_fd;

static void *blocking_reader(void *arg) {
    (void)arg;
    read_and_show(reader_fd, 1, 0);
    return NULL;
}

static sem_t go;

/* Once let go: the signal sent to this thread makes the descriptor ready
 * for its poll and its epoll wait, and its read takes it. */
static void *poll_own_signal(void *arg) {
    int fd = *(int *)arg;
    sem_wait(&go);
    struct pollfd p = {fd, POLLIN, 0};
    SHOW(poll(&p, 1, 0));
    printf("poll in the thread: revents %#x\n", p.revents);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 9};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    SHOW(epoll_wait(ep, &e, 1, 0));
    read_and_show(fd, 1, 0);
    SHOW(poll(&p, 1, 0));
    close(ep);
    return NULL;
}

int ev_signalfd(void) {
    sigset_t blocked = set_of(SIGUSR1, SIGUSR2, SIGCHLD), rt = set_of(SIGRTMIN + 2, 0, 0), pending;
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    sigset_t mask = set_of(SIGUSR1, SIGCHLD, 0);
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    SHOW(fd);
    SHOW(fcntl(fd, F_GETFD));
    SHOW(fcntl(fd, F_GETFL) & O_NONBLOCK);
    read_and_show(fd, 1, 0);
    char small[100];
    SHOW(read(fd, small, sizeof small));

    SHOW(raise(SIGUSR1));
    struct pollfd p = {fd, POLLIN, 0};
    SHOW(poll(&p, 1, 0));
    printf("poll: revents %#x\n", p.revents);
    sigpending(&pending);
    printf("SIGUSR1 pending before the read: %d\n", sigismember(&pending, SIGUSR1));
    read_and_show(fd, 1, 0);
    sigpending(&pending);
    printf("SIGUSR1 pending after the read: %d\n", sigismember(&pending, SIGUSR1));
    SHOW(poll(&p, 1, 0));

    SHOW(kill(getpid(), SIGUSR1));
    read_and_show(fd, 1, 0);

    /* Not in the mask: stays pending until the mask takes it in. */
    union sigval v = {.sival_int = 42};
    SHOW(sigqueue(getpid(), SIGRTMIN + 2, v));
    read_and_show(fd, 1, 0);
    mask = set_of(SIGUSR1, SIGCHLD, SIGRTMIN + 2);
    SHOW(signalfd(fd, &mask, 0) == fd);
    SHOW(fcntl(fd, F_GETFL) & O_NONBLOCK);
    read_and_show(fd, 1, 0);

    /* Several at once, found by epoll. */
    int ep = epoll_create1(0);
    SHOW(ep);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 7};
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e));
    SHOW(raise(SIGUSR2));
    SHOW(epoll_wait(ep, &e, 1, 0));
    sigaddset(&mask, SIGUSR2);
    SHOW(signalfd(fd, &mask, 0) == fd);
    SHOW(raise(SIGUSR1));
    e.data.u64 = 0;
    SHOW(epoll_wait(ep, &e, 1, -1));
    printf("epoll: events %#x, data %lu\n", e.events, (unsigned long)e.data.u64);
    read_and_show(fd, 4, 0);
    SHOW(epoll_wait(ep, &e, 1, 0));

    /* A child's exit, waited for with epoll. */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) _exit(7);
    SHOW(epoll_wait(ep, &e, 1, -1));
    read_and_show(fd, 1, child);
    int status;
    SHOW(waitpid(child, &status, 0) == child);

    /* A blocking descriptor: a child's exit, then a signal another thread
     * waits for. */
    int blocking = signalfd(-1, &mask, 0);
    SHOW(blocking);
    SHOW(fcntl(blocking, F_GETFL) & O_NONBLOCK);
    fflush(stdout);
    child = fork();
    if (child == 0) _exit(3);
    read_and_show(blocking, 2, child);
    SHOW(waitpid(child, &status, 0) == child);
    reader_fd = blocking;
    pthread_t t;
    SHOW(pthread_create(&t, NULL, blocking_reader, NULL));
    int sent = kill(getpid(), SIGUSR2);
    SHOW(pthread_join(t, NULL));
    SHOW(sent);

    /* A signal taken for a buffer that faults is lost. */
    void *volatile bad = (void *)16;
    SHOW(raise(SIGUSR1));
    SHOW(read(fd, bad, sizeof(struct signalfd_siginfo)));
    read_and_show(fd, 1, 0);

    /* readv takes as many signals as its buffers hold together, each
     * written across them; pread is ESPIPE and lseek stays at 0. */
    SHOW(raise(SIGUSR1));
    SHOW(raise(SIGUSR2));
    struct signalfd_siginfo two[2];
    memset(two, 0, sizeof two);
    char *base = (char *)two;
    struct iovec iov[3] = {{base, 100}, {base + 100, 60}, {base + 160, 96}};
    SHOW(readv(fd, iov, 3));
    printf("readv: signals %u and %u, SIGUSR2 from us %d\n", two[0].ssi_signo, two[1].ssi_signo,
           two[1].ssi_pid == (unsigned)getpid());
    SHOW(readv(fd, iov, 3));
    SHOW(raise(SIGUSR1));
    SHOW(pread(fd, two, sizeof two, 0));
    SHOW(lseek(fd, 5, SEEK_SET));
    struct iovec short_iov = {base, 100};
    SHOW(readv(fd, &short_iov, 1));
    read_and_show(fd, 1, 0);

    /* Readiness is the polling thread's: a signal sent to another thread
     * leaves the descriptor unready here and ready there. */
    sem_init(&go, 0, 0);
    pthread_t other;
    SHOW(pthread_create(&other, NULL, poll_own_signal, &fd));
    SHOW(pthread_kill(other, SIGUSR1));
    p.revents = 0;
    SHOW(poll(&p, 1, 0));
    SHOW(epoll_wait(ep, &e, 1, 0));
    read_and_show(fd, 1, 0);
    sem_post(&go);
    SHOW(pthread_join(other, NULL));

    /* Bad arguments. */
    sigset_t all;
    sigfillset(&all);
    int full = signalfd(-1, &all, 0);
    SHOW(full >= 0);
    close(full);
    SHOW(signalfd(-1, &mask, 0x1));
    SHOW(syscall(SYS_signalfd4, -1, &mask, 4, 0));
    SHOW(syscall(SYS_signalfd4, -1, (void *)8, 8, 0));
    SHOW(signalfd(0, &mask, 0));
    SHOW(signalfd(ep, &mask, 0));
    SHOW(signalfd(999, &mask, 0));
    int pipefd[2];
    SHOW(pipe(pipefd));
    SHOW(signalfd(pipefd[0], &mask, 0));
    int copy = dup(fd);
    SHOW(copy);
    SHOW(raise(SIGUSR1));
    close(fd);
    read_and_show(copy, 1, 0);
    SHOW(syscall(SYS_signalfd, -1, &mask, 8));
    return 0;
}

static void *send_usr2(void *arg) {
    (void)arg;
    kill(getpid(), SIGUSR2);
    return NULL;
}

/* sigwaitinfo and sigtimedwait take pending signals of their set as
 * signalfd reads do. */
int ev_sigwait(void) {
    sigset_t blocked = set_of(SIGUSR1, SIGUSR2, SIGRTMIN + 2), usr1 = set_of(SIGUSR1, 0, 0);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    siginfo_t si;
    struct timespec zero = {0, 0}, moment = {0, 1000000}, bad = {0, 1000000000};
    SHOW(sigtimedwait(&usr1, &si, &zero));
    SHOW(sigtimedwait(&usr1, &si, &moment));
    SHOW(raise(SIGUSR1));
    memset(&si, 0, sizeof si);
    SHOW(sigwaitinfo(&usr1, &si));
    printf("siginfo: signal %d, code SI_USER (glibc shows SI_TKILL so) %d, sender right %d\n", si.si_signo, si.si_code == SI_USER,
           si.si_pid == getpid());
    union sigval v = {.sival_int = 7};
    SHOW(sigqueue(getpid(), SIGRTMIN + 2, v));
    sigset_t rt = set_of(SIGRTMIN + 2, SIGUSR1, 0);
    SHOW(sigtimedwait(&rt, &si, &zero) == SIGRTMIN + 2);
    printf("siginfo: code SI_QUEUE %d, value %d\n", si.si_code == SI_QUEUE, si.si_value.sival_int);
    /* Waiting for a signal another thread sends. */
    pthread_t t;
    SHOW(pthread_create(&t, NULL, send_usr2, NULL));
    sigset_t usr2 = set_of(SIGUSR2, 0, 0);
    int sig = 0;
    int r = sigwait(&usr2, &sig);
    SHOW(pthread_join(t, NULL));
    printf("sigwait: %d, signal %d\n", r, sig);
    /* Bad arguments; a signal taken for a siginfo that faults is lost. */
    SHOW(syscall(SYS_rt_sigtimedwait, &usr1, &si, &zero, 4));
    SHOW(sigtimedwait(&usr1, &si, &bad));
    SHOW(sigtimedwait((sigset_t *)8, &si, &zero));
    SHOW(raise(SIGUSR1));
    siginfo_t *volatile nowhere = (siginfo_t *)16;
    SHOW(sigtimedwait(&usr1, nowhere, &zero));
    SHOW(sigtimedwait(&usr1, NULL, &zero));
    return 0;
}
