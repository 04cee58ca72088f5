/* Events: eventfd counters, timerfd expiries, epoll (data round trips,
 * several events at once, a wait interrupted by a signal handler with or
 * without SA_RESTART) and POSIX timers delivering signals. Times are only
 * compared with bounds that hold however slow the run is. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vtnet.h"

int ev_eventfd(void) {
    int fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    SHOW(fd >= 0);
    SHOW(fcntl(fd, F_GETFD));
    SHOW(fcntl(fd, F_GETFL) & O_NONBLOCK);
    uint64_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = 0;
        long r = read(fd, &v, 8);
        printf("semaphore read %d: %ld, value %lu\n", i, r < 0 ? -errno : r, (unsigned long)v);
    }
    v = 5;
    SHOW(write(fd, &v, 8));
    close(fd);
    fd = eventfd(0, EFD_NONBLOCK);
    v = 5;
    SHOW(write(fd, &v, 8));
    v = 7;
    SHOW(write(fd, &v, 8));
    SHOW(read(fd, &v, 4));
    SHOW(read(fd, &v, 8));
    printf("counter read: %lu\n", (unsigned long)v);
    SHOW(read(fd, &v, 8));
    v = UINT64_MAX;
    SHOW(write(fd, &v, 8));
    v = UINT64_MAX - 1;
    SHOW(write(fd, &v, 8));
    v = 1;
    SHOW(write(fd, &v, 8));
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    SHOW(poll(&p, 1, 0));
    printf("full counter: readable %d, writable %d\n", (p.revents & POLLIN) != 0, (p.revents & POLLOUT) != 0);
    close(fd);
    SHOW(syscall(SYS_eventfd2, 0, 0x100));
    SHOW(syscall(SYS_eventfd, 9));
    return 0;
}

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

int ev_timerfd(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    SHOW(fd >= 0);
    SHOW(fcntl(fd, F_GETFD));
    struct itimerspec t = {{0, 0}, {0, 5000000}}, now, old;
    SHOW(timerfd_settime(fd, 0, &t, NULL));
    SHOW(timerfd_gettime(fd, &now));
    printf("pending at most 5ms: %d, no interval %d\n", ns_of(now.it_value) <= 5000000, ns_of(now.it_interval) == 0);
    uint64_t count = 0;
    SHOW(read(fd, &count, 8));
    printf("expired >= 1: %d\n", count >= 1);
    SHOW(timerfd_gettime(fd, &now));
    printf("disarmed after: %d\n", ns_of(now.it_value) == 0);

    /* Absolute and periodic, waited for with epoll. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788};
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    t.it_value = start;
    t.it_value.tv_nsec = (t.it_value.tv_nsec + 1000000) % 1000000000;
    t.it_value.tv_sec += start.tv_nsec >= 999000000;
    t.it_interval = (struct timespec){0, 1000000};
    SHOW(timerfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL));
    struct epoll_event got = {0};
    SHOW(epoll_wait(ep, &got, 1, -1));
    printf("epoll: events %#x, data %#lx\n", got.events, (unsigned long)got.data.u64);
    SHOW(read(fd, &count, 8));
    printf("periodic expired >= 1: %d\n", count >= 1);
    SHOW(timerfd_gettime(fd, &now));
    printf("interval 1ms: %d\n", ns_of(now.it_interval) == 1000000);
    t = (struct itimerspec){0};
    SHOW(timerfd_settime(fd, 0, &t, &old));
    printf("old interval 1ms: %d\n", ns_of(old.it_interval) == 1000000);
    SHOW(timerfd_settime(fd, 0, NULL, NULL));
    t.it_value.tv_nsec = 1000000000;
    SHOW(timerfd_settime(fd, 0, &t, NULL));
    SHOW(timerfd_gettime(fd, (void *)1));
    close(fd);
    fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    SHOW(read(fd, &count, 8));
    SHOW(timerfd_create(CLOCK_MONOTONIC, 0x100));
    SHOW(timerfd_create(12345, 0));
    return 0;
}

static volatile sig_atomic_t handled;

static void on_signal(int sig) {
    (void)sig;
    handled++;
}

/* An epoll wait that nothing but a signal ends, with or without
 * SA_RESTART: it fails with EINTR either way, after the handler. The
 * timer repeats until the wait has ended, so a signal that comes before
 * the wait starts (a slow start) does not leave it waiting for good. */
static void interrupted_wait(int ep, int flags, int pwait) {
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = flags};
    sigaction(SIGALRM, &sa, NULL);
    handled = 0;
    struct itimerval it = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct epoll_event e;
    sigset_t none;
    sigemptyset(&none);
    long r = pwait ? epoll_pwait(ep, &e, 1, -1, &none) : epoll_wait(ep, &e, 1, -1);
    int err = errno;
    setitimer(ITIMER_REAL, &off, NULL);
    printf("%s with%s SA_RESTART: %ld %s, handler ran: %s\n", pwait ? "epoll_pwait" : "epoll_wait",
           flags ? "" : "out", r, r < 0 ? strerrorname_np(err) : "", handled > 0 ? "yes" : "no");
}

int ev_epoll(void) {
    SHOW(epoll_create(0));
    SHOW(epoll_create1(0x100));
    int ep = epoll_create(1);
    SHOW(ep >= 0);
    int e[3];
    for (int i = 0; i < 3; i++) {
        e[i] = eventfd(i, EFD_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 0xabcdef0000000000ul + i};
        SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, e[i], &ev));
    }
    struct epoll_event ev = {.events = EPOLLIN};
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, e[0], &ev));
    SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, e[0], NULL));
    SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, e[0], NULL));
    SHOW(epoll_ctl(ep, EPOLL_CTL_MOD, e[0], &ev));
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, e[0], (void *)1));
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    SHOW(epoll_ctl(ep, 99, e[0], &ev));
    uint64_t one = 1;
    SHOW(write(e[0], &one, 8));
    struct epoll_event out[8];
    memset(out, 0, sizeof out);
    int n = epoll_wait(ep, out, 8, 0);
    SHOW(n);
    unsigned long seen = 0;
    for (int i = 0; i < n; i++) seen |= 1ul << (out[i].data.u64 - 0xabcdef0000000000ul);
    printf("ready: %#lx, events %#x %#x\n", seen, out[0].events, out[1].events);
    SHOW(epoll_wait(ep, out, 8, 0));
    SHOW(write(e[1], &one, 8));
    SHOW(epoll_wait(ep, out, 1, 0));
    printf("one event: data %#lx\n", (unsigned long)out[0].data.u64);
    SHOW(epoll_wait(ep, out, 0, 0));
    SHOW(syscall(SYS_epoll_wait, ep, out, -1, 0));
    SHOW(epoll_wait(e[0], out, 1, 0));
    SHOW(write(e[2], &one, 8));
    SHOW(syscall(SYS_epoll_wait, ep, 0xffff800000000000ul, 1, 0));
    SHOW(syscall(SYS_epoll_wait, ep, 1ul, 1, 0));
    SHOW(epoll_wait(ep, out, 1, 0));
    SHOW(epoll_wait(ep, out, 1, 1));
    struct timespec far = {INT64_MAX, 0}, before = {-1, 0};
    SHOW(write(e[1], &one, 8));
    SHOW(syscall(SYS_epoll_pwait2, ep, out, 1, &far, NULL, 8));
    SHOW(syscall(SYS_epoll_pwait2, ep, out, 1, &before, NULL, 8));

    int quiet = epoll_create1(0);
    interrupted_wait(quiet, 0, 0);
    interrupted_wait(quiet, SA_RESTART, 0);
    interrupted_wait(quiet, SA_RESTART, 1);
    return 0;
}

static int usr1_blocked(void) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, SIGUSR1);
}

/* The signal mask argument of ppoll, pselect6 and epoll_pwait: a pending
 * signal the thread blocks but the call's mask lets through ends the wait
 * at once with EINTR after its handler, and the thread's own mask is back
 * afterwards; a mask of the wrong size is EINVAL. */
int ev_sigmask(void) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1, none;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    int ep = epoll_create1(0);
    struct timespec second = {1, 0}, moment = {0, 1000000};
    struct epoll_event e;
    const char *names[] = {"ppoll", "pselect", "epoll_pwait"};
    for (int call = 0; call < 3; call++) {
        handled = 0;
        raise(SIGUSR1);
        long r = call == 0   ? ppoll(NULL, 0, &second, &none)
                 : call == 1 ? pselect(0, NULL, NULL, NULL, &second, &none)
                             : epoll_pwait(ep, &e, 1, 1000, &none);
        printf("%s with SIGUSR1 pending: %ld %s, handler ran %d, blocked after: %d\n", names[call], r,
               r < 0 ? strerrorname_np(errno) : "", handled, usr1_blocked());
    }
    handled = 0;
    SHOW(ppoll(NULL, 0, &moment, &usr1));
    SHOW(pselect(0, NULL, NULL, NULL, &moment, &none));
    SHOW(epoll_pwait(ep, &e, 1, 1, &none));
    printf("after waits that timed out: handler ran %d, blocked: %d\n", handled, usr1_blocked());
    SHOW(syscall(SYS_ppoll, NULL, 0, &moment, &none, 4));
    SHOW(syscall(SYS_epoll_pwait, ep, &e, 1, 1, &none, 16));
    return 0;
}

static volatile sig_atomic_t timer_signo, timer_code, timer_value, timer_fired;

static void on_timer(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    timer_signo = sig;
    timer_code = si->si_code;
    timer_value = si->si_value.sival_int;
    timer_fired++;
}

/* Arms `t` once after 2ms and waits with `sig` blocked until its handler ran. */
static void fire_and_wait(timer_t t, int sig, int value) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, sig);
    sigprocmask(SIG_BLOCK, &block, &old);
    timer_fired = 0;
    struct itimerspec its = {{0, 0}, {0, 2000000}};
    SHOW(timer_settime(t, 0, &its, NULL));
    while (!timer_fired) sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("signal %s, SI_TIMER %d, value right %d, fired %d\n", sig == SIGALRM ? "SIGALRM" : "SIGRTMIN+1",
           timer_code == SI_TIMER, timer_value == value, (int)timer_fired);
}

int ev_timer(void) {
    struct sigaction sa = {.sa_sigaction = on_timer, .sa_flags = SA_SIGINFO};
    sigaction(SIGRTMIN + 1, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    struct sigevent se = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 1};
    se.sigev_value.sival_int = 42;
    timer_t t;
    SHOW(timer_create(CLOCK_MONOTONIC, &se, &t));
    fire_and_wait(t, SIGRTMIN + 1, 42);
    printf("signo right: %d\n", timer_signo == SIGRTMIN + 1);
    SHOW(timer_getoverrun(t));
    struct itimerspec now;
    SHOW(timer_gettime(t, &now));
    printf("disarmed: %d\n", now.it_value.tv_sec == 0 && now.it_value.tv_nsec == 0);
    SHOW(timer_settime(t, 0, NULL, NULL));
    SHOW(timer_delete(t));
    SHOW(timer_gettime(t, &now));

    /* No sigevent: SIGALRM with the timer id as its value (made directly:
     * glibc passes a sigevent of its own; its timer_t is the kernel's id). */
    int id = -1;
    SHOW(syscall(SYS_timer_create, CLOCK_REALTIME, NULL, &id));
    timer_t d = (timer_t)(intptr_t)id;
    fire_and_wait(d, SIGALRM, id);
    SHOW(timer_delete(d));

    /* SIGEV_NONE: armed, never signals. */
    se.sigev_notify = SIGEV_NONE;
    SHOW(timer_create(CLOCK_MONOTONIC, &se, &t));
    struct itimerspec its = {{0, 0}, {100, 0}};
    SHOW(timer_settime(t, 0, &its, NULL));
    SHOW(timer_gettime(t, &now));
    printf("SIGEV_NONE pending, at most 100s: %d\n", now.it_value.tv_sec <= 100 && now.it_value.tv_sec >= 90);
    SHOW(timer_delete(t));

    /* SIGEV_THREAD_ID: this thread only. */
    se.sigev_notify = SIGEV_THREAD_ID;
    se._sigev_un._tid = gettid();
    SHOW(syscall(SYS_timer_create, CLOCK_MONOTONIC, &se, &t));
    SHOW(timer_delete(t));
    se._sigev_un._tid = -5;
    SHOW(syscall(SYS_timer_create, CLOCK_MONOTONIC, &se, &t));
    se.sigev_notify = 77;
    SHOW(syscall(SYS_timer_create, CLOCK_MONOTONIC, &se, &t));
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = 65;
    SHOW(syscall(SYS_timer_create, CLOCK_MONOTONIC, &se, &t));
    se.sigev_signo = 0;
    SHOW(syscall(SYS_timer_create, CLOCK_MONOTONIC, &se, &t));
    SHOW(syscall(SYS_timer_create, CLOCK_MONOTONIC, (void *)1, &t));
    return 0;
}
