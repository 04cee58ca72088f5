/* Mutexes and condition variables, barriers, and atomic operations: each
 * ends with values that are exact only if the threads really exclude
 * each other or their operations are really atomic. */
#include "vtthreads.h"

#define ROUNDS 100000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long locked_counter;

static void *count_locked(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        locked_counter++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* A bounded queue: one producer, NTHREADS - 1 consumers. */
#define SLOTS 4
#define ITEMS 3000
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long queue[SLOTS];
static int head, count, produced_all;

static void *produce(void *arg) {
    (void)arg;
    for (long item = 1; item <= ITEMS; item++) {
        pthread_mutex_lock(&lock);
        while (count == SLOTS)
            pthread_cond_wait(&not_full, &lock);
        queue[(head + count) % SLOTS] = item;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    produced_all = 1;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *consume(void *arg) {
    (void)arg;
    long sum = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0 && !produced_all)
            pthread_cond_wait(&not_empty, &lock);
        if (count == 0) {
            pthread_mutex_unlock(&lock);
            return (void *)sum;
        }
        sum += queue[head];
        head = (head + 1) % SLOTS;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
    }
}

int mutex_cond(void) {
    pthread_t t[NTHREADS];
    long r[NTHREADS];
    start_all(t, count_locked);
    join_all(t, r);
    printf("counter under a mutex: %ld (expected %d)\n", locked_counter, NTHREADS * ROUNDS);
    check(pthread_create(&t[0], NULL, produce, NULL) == 0, "producer");
    for (int i = 1; i < NTHREADS; i++)
        check(pthread_create(&t[i], NULL, consume, NULL) == 0, "consumer");
    join_all(t, r);
    long total = 0;
    for (int i = 1; i < NTHREADS; i++)
        total += r[i];
    printf("consumers took %ld (expected %d)\n", total, ITEMS * (ITEMS + 1) / 2);
    return 0;
}

static pthread_barrier_t bar;
static long slots[NTHREADS];

static void *rounds(void *arg) {
    long i = (long)arg, seen = 0;
    for (long round = 0; round < 50; round++) {
        slots[i] = round * 10 + i;
        pthread_barrier_wait(&bar);
        for (int j = 0; j < NTHREADS; j++)
            seen += slots[j];
        pthread_barrier_wait(&bar);
    }
    return (void *)seen;
}

int barrier(void) {
    pthread_t t[NTHREADS];
    long r[NTHREADS];
    pthread_barrier_init(&bar, NULL, NTHREADS);
    start_all(t, rounds);
    join_all(t, r);
    for (int i = 0; i < NTHREADS; i++)
        printf("thread %d saw %ld\n", i, r[i]);
    return 0;
}

static long added, swapped;
static int spin;
static long spin_counter;
static unsigned char small;
static unsigned short medium;

static void *atomic_work(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        __atomic_fetch_add(&added, 1, __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&small, 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&medium, 1, __ATOMIC_RELAXED);
        long old = __atomic_load_n(&swapped, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&swapped, &old, old + 3, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            ;
        /* A spinlock by XCHG (atomic without a LOCK prefix). */
        while (__atomic_exchange_n(&spin, 1, __ATOMIC_ACQUIRE))
            ;
        spin_counter++;
        __atomic_store_n(&spin, 0, __ATOMIC_RELEASE);
    }
    return NULL;
}

int atomics(void) {
    pthread_t t[NTHREADS];
    long r[NTHREADS];
    start_all(t, atomic_work);
    join_all(t, r);
    printf("lock xadd: %ld\n", added);
    printf("lock cmpxchg: %ld\n", swapped);
    printf("xchg spinlock: %ld\n", spin_counter);
    printf("byte: %u, word: %u\n", small, medium);
    return 0;
}
