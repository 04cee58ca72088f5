/* pthread_kill: the signal is handled on the thread it was sent to. */
#include <signal.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vtthreads.h"

static volatile sig_atomic_t handled;
static volatile pid_t handler_tid, worker_tid;
static pthread_barrier_t ready;

static void on_usr1(int sig) {
    (void)sig;
    handler_tid = (pid_t)syscall(SYS_gettid);
    handled = 1;
}

static void *wait_for_signal(void *arg) {
    (void)arg;
    worker_tid = (pid_t)syscall(SYS_gettid);
    pthread_barrier_wait(&ready);
    while (!handled)
        sched_yield();
    return NULL;
}

int signal_to_thread(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_barrier_init(&ready, NULL, 2);
    for (int round = 0; round < 3; round++) {
        pthread_t t;
        handled = 0;
        check(pthread_create(&t, NULL, wait_for_signal, NULL) == 0, "pthread_create");
        pthread_barrier_wait(&ready);
        check(pthread_kill(t, SIGUSR1) == 0, "pthread_kill");
        pthread_join(t, NULL);
        printf("round %d: handled on the thread it was sent to: %s\n", round,
               handler_tid == worker_tid ? "yes" : "no");
    }
    printf("main's tid never ran the handler: %s\n", handler_tid != syscall(SYS_gettid) ? "yes" : "no");
    return 0;
}
