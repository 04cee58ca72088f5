/* Creating and joining threads, thread-local storage, detached threads,
 * and the two ways of ending: exit() in a thread ends the process,
 * pthread_exit in main leaves the other threads running. */
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vtthreads.h"

static pid_t tids[NTHREADS];

static void *sum_to(void *arg) {
    long i = (long)arg, sum = 0;
    tids[i] = (pid_t)syscall(SYS_gettid);
    for (long k = 1; k <= (i + 1) * 1000; k++)
        sum += k;
    if (i == NTHREADS - 1)
        pthread_exit((void *)-sum);
    return (void *)sum;
}

int create_join(void) {
    pthread_t t[NTHREADS];
    long r[NTHREADS];
    start_all(t, sum_to);
    join_all(t, r);
    for (int i = 0; i < NTHREADS; i++)
        printf("thread %d returned %ld\n", i, r[i]);
    int distinct = 1;
    for (int i = 0; i < NTHREADS; i++) {
        distinct &= tids[i] != getpid() && tids[i] > 0;
        for (int j = 0; j < i; j++)
            distinct &= tids[i] != tids[j];
    }
    printf("tids distinct from each other and the process: %s\n", distinct ? "yes" : "no");
    printf("main's tid is the pid: %s\n", syscall(SYS_gettid) == getpid() ? "yes" : "no");
    return 0;
}

static __thread long local = 5;

static void *use_tls(void *arg) {
    long i = (long)arg;
    long start = local;
    local = i * 7;
    for (int k = 0; k < 10000; k++)
        local++;
    return (void *)(start * 100000 + local);
}

int tls(void) {
    pthread_t t[NTHREADS];
    long r[NTHREADS];
    local = 99;
    start_all(t, use_tls);
    join_all(t, r);
    for (int i = 0; i < NTHREADS; i++)
        printf("thread %d: initial %ld, final %ld\n", i, r[i] / 100000, r[i] % 100000);
    printf("main's own: %ld\n", local);
    return 0;
}

static sem_t done;
static long detached_results[NTHREADS];

static void *detached_work(void *arg) {
    long i = (long)arg;
    detached_results[i] = i * i + 1;
    sem_post(&done);
    return NULL;
}

int detached(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sem_init(&done, 0, 0);
    for (long round = 0; round < 5; round++) {
        for (long i = 0; i < NTHREADS; i++) {
            pthread_t t;
            check(pthread_create(&t, &attr, detached_work, (void *)i) == 0, "pthread_create detached");
        }
        for (int i = 0; i < NTHREADS; i++)
            sem_wait(&done);
        long sum = 0;
        for (int i = 0; i < NTHREADS; i++)
            sum += detached_results[i];
        printf("round %ld: detached threads computed %ld\n", round, sum);
    }
    return 0;
}

static void *exits(void *arg) {
    (void)arg;
    printf("thread calls exit(3)\n");
    fflush(stdout);
    exit(3);
}

int exit_in_thread(void) {
    pthread_t t;
    printf("main waits for a thread that exits\n");
    fflush(stdout);
    check(pthread_create(&t, NULL, exits, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    printf("main never gets here\n");
    return 0;
}

static void *outlives_main(void *arg) {
    (void)arg;
    long sum = 0;
    for (int i = 0; i < 100000; i++)
        sum += i;
    printf("the thread runs on after main's pthread_exit: %ld\n", sum);
    fflush(stdout);
    return NULL;
}

int main_pthread_exit(void) {
    pthread_t t;
    printf("main calls pthread_exit\n");
    fflush(stdout);
    check(pthread_create(&t, NULL, outlives_main, NULL) == 0, "pthread_create");
    pthread_exit(NULL);
}
