/* fork in a threaded process: only the calling thread goes on in the
 * child, which can start threads of its own. */
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtthreads.h"

static volatile long spins;
static volatile int stop;
static pthread_barrier_t started;

static void *spin(void *arg) {
    (void)arg;
    pthread_barrier_wait(&started);
    while (!stop)
        spins++;
    return NULL;
}

static void *child_thread(void *arg) {
    return (void *)((long)arg * 6);
}

int fork_with_threads(void) {
    pthread_t t;
    pthread_barrier_init(&started, NULL, 2);
    check(pthread_create(&t, NULL, spin, NULL) == 0, "pthread_create");
    pthread_barrier_wait(&started);
    fflush(stdout);
    pid_t pid = fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        long before = spins;
        for (int i = 0; i < 100; i++)
            sched_yield();
        printf("child: the spinning thread is not here: %s\n", spins == before ? "yes" : "no");
        pthread_t c;
        void *r;
        check(pthread_create(&c, NULL, child_thread, (void *)7) == 0, "pthread_create in the child");
        pthread_join(c, &r);
        printf("child: its own thread returned %ld\n", (long)r);
        fflush(stdout);
        _exit(5);
    }
    int status;
    waitpid(pid, &status, 0);
    stop = 1;
    pthread_join(t, NULL);
    printf("parent: child exited with %d; the spinning thread joined\n", WEXITSTATUS(status));
    return 0;
}
