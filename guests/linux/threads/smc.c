/* Code written by one thread and run by another: each round the writer
 * stores a new function (mov eax, ROUND; ret) over the old one, and once
 * they have synchronised the runner calls it many times (enough for a
 * tiered engine to compile it), so a stale translation on the runner's
 * side shows. They synchronise by a barrier (`smc`), or by spinning on
 * atomic flags (`smc_spin`), where the runner makes no system call between
 * the write and the call. */
#include <string.h>
#include <sys/mman.h>

#include "vtthreads.h"

#define ROUNDS 60
#define CALLS 40

static unsigned char *code;
static pthread_barrier_t turn;
static int spinning, written, ran;
static long results[ROUNDS];

/* Waits for the other thread: at the barrier, or until `flag` says `round`. */
static void sync_on(int *flag, int round) {
    if (!spinning)
        pthread_barrier_wait(&turn);
    else
        while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != round)
            ;
}

static void *writer(void *arg) {
    (void)arg;
    for (int round = 1; round <= ROUNDS; round++) {
        unsigned char fn[] = {0xb8, 0, 0, 0, 0, 0xc3}; /* mov eax, imm32; ret */
        int value = round * 3 + 1;
        memcpy(fn + 1, &value, 4);
        memcpy(code, fn, sizeof fn);
        __atomic_store_n(&written, round, __ATOMIC_RELEASE);
        sync_on(&written, round);
        sync_on(&ran, round);
    }
    return NULL;
}

static void *runner(void *arg) {
    (void)arg;
    int (*fn)(void) = (int (*)(void))code;
    for (int round = 1; round <= ROUNDS; round++) {
        sync_on(&written, round);
        long sum = 0;
        for (int i = 0; i < CALLS; i++)
            sum += fn();
        results[round - 1] = sum;
        __atomic_store_n(&ran, round, __ATOMIC_RELEASE);
        sync_on(&ran, round);
    }
    return NULL;
}

static int smc(int spin) {
    spinning = spin;
    code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(code != MAP_FAILED, "mmap");
    pthread_barrier_init(&turn, NULL, 2);
    pthread_t w, r;
    check(pthread_create(&w, NULL, writer, NULL) == 0, "writer");
    check(pthread_create(&r, NULL, runner, NULL) == 0, "runner");
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    int right = 0;
    for (int round = 1; round <= ROUNDS; round++)
        right += results[round - 1] == (long)CALLS * (round * 3 + 1);
    printf("rounds that ran the code just written: %d of %d\n", right, ROUNDS);
    printf("last round's sum: %ld\n", results[ROUNDS - 1]);
    return 0;
}

int smc_across_threads(void) {
    return smc(0);
}

int smc_spinning(void) {
    return smc(1);
}
