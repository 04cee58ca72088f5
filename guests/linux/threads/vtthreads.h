/* The threads test program: `vtthreads SUBJECT`, one subject per
 * function. Every result is printed by the main thread after joins or
 * barriers, so the output never depends on timing. */
#ifndef VTTHREADS_H
#define VTTHREADS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 4

/* Starts `fn` on NTHREADS threads, each given its index. */
void start_all(pthread_t *t, void *(*fn)(void *));
/* Joins them, storing what each returned. */
void join_all(pthread_t *t, long *results);
void check(int ok, const char *what);

int create_join(void);
int mutex_cond(void);
int barrier(void);
int atomics(void);
int tls(void);
int detached(void);
int exit_in_thread(void);
int main_pthread_exit(void);
int signal_to_thread(void);
int smc_across_threads(void);
int smc_spinning(void);
int fork_with_threads(void);
int futex_ops(void);
int parallel1(void);
int parallel2(void);
int parallel4(void);
int handoff(void);
int robust_mutex(void);
int spawn_from_threads(void);
int clone3_calls(void);

#endif
