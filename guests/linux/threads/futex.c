/* The futex operations glibc no longer uses but other runtimes do:
 * REQUEUE, CMP_REQUEUE and WAKE_OP, with a waiter that the main thread
 * moves between words. The main thread polls by requeueing until the
 * waiter is queued, so no result depends on timing. */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vtthreads.h"

static uint32_t first, second, target;

static long futex(uint32_t *word, int op, uint32_t val, unsigned long val2, uint32_t *word2, uint32_t val3) {
    return syscall(SYS_futex, word, op, val, val2, word2, val3);
}

static void *waiter(void *arg) {
    (void)arg;
    /* Woken from `second`, where the main thread moved it. */
    while (__atomic_load_n(&first, __ATOMIC_ACQUIRE) == 0)
        futex(&first, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
    return NULL;
}

/* Moves the waiter from `first` to `second` once it waits on `first`. */
static long requeue_when_waiting(int op) {
    long moved;
    while ((moved = futex(&first, op, 0, 1, &second, 0)) == 0)
        sched_yield();
    return moved;
}

int futex_ops(void) {
    printf("unaligned wait: %s\n", futex((uint32_t *)((char *)&target + 1), FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0) == -1 && errno == EINVAL ? "EINVAL" : "?");
    printf("wait on a changed value: %s\n", (target = 1, futex(&target, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0) == -1 && errno == EAGAIN) ? "EAGAIN" : "?");
    printf("cmp_requeue with a stale value: %s\n", futex(&first, FUTEX_CMP_REQUEUE_PRIVATE, 0, 1, &second, 7) == -1 && errno == EAGAIN ? "EAGAIN" : "?");
    printf("wake with nobody waiting: %ld\n", futex(&first, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0));
    pthread_t t;
    for (int round = 0; round < 2; round++) {
        __atomic_store_n(&first, 0, __ATOMIC_RELEASE);
        check(pthread_create(&t, NULL, waiter, NULL) == 0, "pthread_create");
        int op = round == 0 ? FUTEX_REQUEUE_PRIVATE : FUTEX_CMP_REQUEUE_PRIVATE;
        printf("%s moved %ld waiter\n", round == 0 ? "requeue" : "cmp_requeue", requeue_when_waiting(op));
        __atomic_store_n(&first, 1, __ATOMIC_RELEASE);
        /* WAKE_OP: target = 5 (its old value 0), then wake one on `second`
         * (the waiter) and, since the old value was 0, one on `target`
         * (nobody waits there). */
        uint32_t op_set5_if_old_eq0 = FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0);
        target = 0;
        long woken = futex(&second, FUTEX_WAKE_OP_PRIVATE, 1, 1, &target, op_set5_if_old_eq0);
        pthread_join(t, NULL);
        printf("wake_op woke %ld and set the second word to %u\n", woken, target);
    }
    return 0;
}
