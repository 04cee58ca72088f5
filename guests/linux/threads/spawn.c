/* posix_spawn (a vfork child sharing memory) from several threads at once:
 * each thread starts children and waits for them while the others run. */
#include <spawn.h>
#include <sys/wait.h>

#include "vtthreads.h"

extern char **environ;

#define CHILDREN 5

static void *spawn_some(void *arg) {
    long ok = 0;
    for (int i = 0; i < CHILDREN; i++) {
        char code[8];
        snprintf(code, sizeof code, "%ld", (long)arg + i);
        char *args[] = {"vtthreads", "exit_with", code, NULL};
        pid_t pid;
        if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0) continue;
        int status;
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == (long)arg + i) ok++;
    }
    return (void *)ok;
}

int spawn_from_threads(void) {
    pthread_t t[NTHREADS];
    long ok[NTHREADS];
    start_all(t, spawn_some);
    join_all(t, ok);
    for (int i = 0; i < NTHREADS; i++) printf("thread %d: %ld of %d children exited as asked\n", i, ok[i], CHILDREN);
    return 0;
}
