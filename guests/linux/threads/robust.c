/* Robust mutexes: a thread that ends holding one leaves it to the next
 * locker with EOWNERDEAD (the kernel walks the dead thread's robust list),
 * whether that locker was already waiting or comes later; the mutex is
 * made consistent again, or left unrecoverable. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vtthreads.h"

static pthread_mutex_t lone, waited, lost;
static pthread_barrier_t locked, may_end;

static const char *name(int r) {
    return r == 0 ? "0" : r == EOWNERDEAD ? "EOWNERDEAD" : r == ENOTRECOVERABLE ? "ENOTRECOVERABLE" : strerror(r);
}

static void robust_init(pthread_mutex_t *m) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    check(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0, "setrobust");
    check(pthread_mutex_init(m, &a) == 0, "mutex_init");
}

/* Takes `arg` and ends holding it. */
static void *die_holding(void *arg) {
    check(pthread_mutex_lock(arg) == 0, "lock by the owner");
    return NULL;
}

/* Takes `waited`, lets main start a waiter, and ends holding it. */
static void *die_holding_waited(void *arg) {
    (void)arg;
    check(pthread_mutex_lock(&waited) == 0, "lock by the owner");
    pthread_barrier_wait(&locked);
    pthread_barrier_wait(&may_end);
    pthread_exit(NULL);
}

static void *waiter(void *arg) {
    (void)arg;
    int r = pthread_mutex_lock(&waited);
    if (r == EOWNERDEAD) check(pthread_mutex_consistent(&waited) == 0, "consistent by the waiter");
    check(pthread_mutex_unlock(&waited) == 0, "unlock by the waiter");
    return (void *)(long)r;
}

/* A robust list made by hand: an entry and its futex word (futex_offset
 * 8 from the entry). */
struct entry {
    struct entry *next;
    unsigned word;
};
struct head {
    struct entry *list;
    long offset;
    struct entry *pending;
};
static struct head cyclic, pending_only, broken;
static struct entry looped, pended, other;

/* Installs the list `arg` and ends, owning the words it holds but one. */
static void *die_with_list(void *arg) {
    unsigned tid = gettid();
    if (arg == &cyclic) looped.word = tid;
    if (arg == &pending_only) {
        pended.word = tid;
        other.word = tid + 1;
    }
    check(syscall(SYS_set_robust_list, arg, sizeof(struct head)) == 0, "set_robust_list");
    return NULL;
}

static void hand_made_lists(void) {
    /* An entry that points to itself: the walk stops after its bound. */
    looped.next = &looped;
    cyclic = (struct head){(struct entry *)&looped, 8, NULL};
    /* No entry but one being locked, and an entry owned by another thread. */
    other.next = (struct entry *)&pending_only;
    pending_only = (struct head){&other, 8, &pended};
    /* A first entry at an address that faults. */
    broken = (struct head){(struct entry *)8, 8, NULL};
    struct head *lists[] = {&cyclic, &pending_only, &broken};
    for (int i = 0; i < 3; i++) {
        pthread_t t;
        check(pthread_create(&t, NULL, die_with_list, lists[i]) == 0, "pthread_create");
        pthread_join(t, NULL);
    }
    printf("looped entry's word: %#x\n", looped.word);
    printf("pending entry's word: %#x\n", pended.word);
    printf("another thread's word left: %d\n", other.word != 0x40000000);
}

int robust_mutex(void) {
    void *head = NULL;
    size_t len = 0;
    check(syscall(SYS_get_robust_list, 0, &head, &len) == 0, "get_robust_list");
    printf("main thread's robust list: registered %d, length %zu\n", head != NULL, len);
    long bad = syscall(SYS_set_robust_list, head, 7);
    printf("set_robust_list with a bad length: %ld %s\n", bad, strerrorname_np(errno));

    robust_init(&lone);
    pthread_t t;
    check(pthread_create(&t, NULL, die_holding, &lone) == 0, "pthread_create");
    pthread_join(t, NULL);
    int r = pthread_mutex_lock(&lone);
    printf("lock after its owner ended: %s\n", name(r));
    printf("consistent: %s\n", name(pthread_mutex_consistent(&lone)));
    printf("unlock: %s\n", name(pthread_mutex_unlock(&lone)));
    printf("lock again: %s\n", name(pthread_mutex_lock(&lone)));
    printf("unlock: %s\n", name(pthread_mutex_unlock(&lone)));

    robust_init(&waited);
    pthread_barrier_init(&locked, NULL, 2);
    pthread_barrier_init(&may_end, NULL, 2);
    pthread_t owner, w;
    check(pthread_create(&owner, NULL, die_holding_waited, NULL) == 0, "pthread_create");
    pthread_barrier_wait(&locked);
    check(pthread_create(&w, NULL, waiter, NULL) == 0, "pthread_create");
    pthread_barrier_wait(&may_end);
    pthread_join(owner, NULL);
    void *got;
    pthread_join(w, &got);
    printf("a waiter's lock when the owner ended: %s\n", name((int)(long)got));
    printf("lock after the waiter: %s\n", name(pthread_mutex_lock(&waited)));
    pthread_mutex_unlock(&waited);

    robust_init(&lost);
    check(pthread_create(&t, NULL, die_holding, &lost) == 0, "pthread_create");
    pthread_join(t, NULL);
    printf("lock: %s\n", name(pthread_mutex_lock(&lost)));
    printf("unlock without consistent: %s\n", name(pthread_mutex_unlock(&lost)));
    printf("lock then: %s\n", name(pthread_mutex_lock(&lost)));
    hand_made_lists();
    return 0;
}
