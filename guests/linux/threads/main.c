#include <string.h>

#include "vtthreads.h"

void check(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s\n", what);
        fflush(stdout);
        exit(1);
    }
}

void start_all(pthread_t *t, void *(*fn)(void *)) {
    for (long i = 0; i < NTHREADS; i++)
        check(pthread_create(&t[i], NULL, fn, (void *)i) == 0, "pthread_create");
}

void join_all(pthread_t *t, long *results) {
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        check(pthread_join(t[i], &r) == 0, "pthread_join");
        results[i] = (long)r;
    }
}

static const struct {
    const char *name;
    int (*run)(void);
} subjects[] = {
    {"create", create_join},       {"mutex", mutex_cond},
    {"barrier", barrier},          {"atomics", atomics},
    {"tls", tls},                  {"detached", detached},
    {"exit", exit_in_thread},      {"pthread_exit", main_pthread_exit},
    {"signal", signal_to_thread},  {"smc", smc_across_threads},
    {"smc_spin", smc_spinning},    {"fork", fork_with_threads},
    {"futex", futex_ops},          {"parallel1", parallel1},
    {"parallel2", parallel2},      {"parallel4", parallel4},
    {"handoff", handoff},          {"robust", robust_mutex},
    {"spawn", spawn_from_threads},  {"clone3", clone3_calls},
};

int main(int argc, char **argv) {
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++)
        if (argc > 1 && strcmp(argv[1], subjects[i].name) == 0)
            return subjects[i].run();
    if (argc > 2 && strcmp(argv[1], "exit_with") == 0)
        return atoi(argv[2]);
    fprintf(stderr, "usage: vtthreads SUBJECT\n");
    return 2;
}
