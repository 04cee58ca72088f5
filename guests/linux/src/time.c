/* time: clocks and sleeps, printing only facts that hold on every run: the
 * monotonic clock never goes back, sleeps last at least as asked, the
 * wall clocks agree with each other, resolutions are sane, and a signal
 * the program ignores does not change how long a sleep, poll or select
 * lasts. */
#include <poll.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vt.h"

static int64_t ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int vt_time(int argc, char **argv) {
    (void)argc, (void)argv;
    int64_t prev = ns(CLOCK_MONOTONIC), backwards = 0, advanced = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t now = ns(CLOCK_MONOTONIC);
        backwards += now < prev;
        advanced += now > prev;
        prev = now;
    }
    printf("monotonic: went back %ld times, advanced %d\n", (long)backwards, advanced > 0);
    int64_t t0 = ns(CLOCK_MONOTONIC);
    struct timespec ms = {0, 1000000};
    SHOW(nanosleep(&ms, NULL));
    int64_t slept = ns(CLOCK_MONOTONIC) - t0;
    printf("nanosleep 1ms: at least 1ms %d, under 1s %d\n", slept >= 1000000, slept < 1000000000);
    t0 = ns(CLOCK_MONOTONIC);
    SHOW(usleep(2000));
    printf("usleep 2ms: at least 2ms %d\n", ns(CLOCK_MONOTONIC) - t0 >= 2000000);
    struct timespec target;
    clock_gettime(CLOCK_MONOTONIC, &target);
    target.tv_nsec += 3000000;
    if (target.tv_nsec >= 1000000000) target.tv_sec++, target.tv_nsec -= 1000000000;
    SHOW(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL));
    printf("absolute sleep reached its target %d\n",
           ns(CLOCK_MONOTONIC) >= (int64_t)target.tv_sec * 1000000000 + target.tv_nsec);
    /* A child's exit raises SIGCHLD, ignored by default: a sleep, poll or
     * select goes on for the time asked, no less and no more. */
    const char *waits[] = {"nanosleep", "poll", "select"};
    /* Each wait once for no time first, so that the code around it has run
     * (and, under a JIT, been compiled) before it is timed. */
    struct timespec none = {0, 0};
    struct timeval no_time = {0, 0};
    printf("waits for no time: %d %d %d\n", nanosleep(&none, NULL), poll(NULL, 0, 0),
           select(0, NULL, NULL, NULL, &no_time));
    for (int w = 0; w < 3; w++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            usleep(100000);
            _exit(0);
        }
        t0 = ns(CLOCK_MONOTONIC);
        long r;
        if (w == 0) {
            struct timespec ts = {0, 300000000};
            r = nanosleep(&ts, NULL);
        } else if (w == 1) {
            r = poll(NULL, 0, 300);
        } else {
            struct timeval tv = {0, 300000};
            r = select(0, NULL, NULL, NULL, &tv);
        }
        slept = ns(CLOCK_MONOTONIC) - t0;
        printf("300ms %s while a child exits: returns %ld, at least 300ms %d, under 390ms %d\n", waits[w], r,
               slept >= 300000000, slept < 390000000);
        waitpid(pid, NULL, 0);
    }
    struct timespec bad = {0, 1000000000};
    SHOW(nanosleep(&bad, NULL));
    struct timeval tv;
    SHOW(gettimeofday(&tv, NULL));
    time_t t = time(NULL);
    int64_t real = ns(CLOCK_REALTIME) / 1000000000;
    printf("gettimeofday, time and CLOCK_REALTIME agree: %d %d, after 2020: %d, usec in range %d\n",
           tv.tv_sec - t <= 1 && t - tv.tv_sec <= 1, real - t <= 1 && t - real <= 1, t > 1577836800,
           tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    time_t stored = 0;
    printf("time stores its result: %d\n", time(&stored) == stored);
    struct timespec res;
    SHOW(clock_getres(CLOCK_MONOTONIC, &res));
    printf("monotonic resolution at most 1ms: %d\n", res.tv_sec == 0 && res.tv_nsec <= 1000000);
    SHOW(clock_gettime((clockid_t)12345, &res));
    int64_t c0 = ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long spin = 0;
    for (unsigned long i = 0; i < 2000000; i++) spin += i;
    printf("process CPU time advances: %d\n", ns(CLOCK_PROCESS_CPUTIME_ID) > c0);
    struct tms tm;
    printf("times: %d\n", times(&tm) != (clock_t)-1);
    struct rusage ru;
    SHOW(getrusage(RUSAGE_SELF, &ru));
    printf("sysconf(_SC_CLK_TCK) %ld\n", sysconf(_SC_CLK_TCK));
    struct tm g;
    time_t epoch = 86400 * 365;
    gmtime_r(&epoch, &g);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %a", &g);
    printf("gmtime: %s\n", when);
    return 0;
}
