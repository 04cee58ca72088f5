/* clone with CLONE_VM and without CLONE_VFORK or CLONE_THREAD: a child
 * process that shares the parent's memory while both run (a ping-pong
 * over futex words), with its own pid, a mapping it makes that the parent
 * then uses, CLONE_SETTLS, the three tid words (CLONE_PARENT_SETTID,
 * CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID, cleared at exit and at
 * execve), an exit signal other than SIGCHLD (wait4 needs __WCLONE), a
 * child killed by a signal, and CLONE_SIGHAND's one set of dispositions
 * (with and without CLONE_VFORK). The children make raw system calls only:
 * without CLONE_SETTLS they run on the parent's thread-local storage. */
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt.h"

extern char **environ;

#define STACK_SIZE (256 * 1024)

static volatile int ball;
static volatile long seen_pid;
static volatile long seen_tls;
static void *volatile child_map;
static pid_t parent_tid_word, child_tid_word;
static int exec_pipe[2];

static void futex_wait(volatile int *w, int v) { syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0); }
static void futex_wake(volatile int *w) { syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0); }

/* Waits until *w holds v. */
static void await(volatile int *w, int v) {
    int now;
    while ((now = __atomic_load_n(w, __ATOMIC_SEQ_CST)) != v) futex_wait(w, now);
}

static void put(volatile int *w, int v) {
    __atomic_store_n(w, v, __ATOMIC_SEQ_CST);
    futex_wake(w);
}

/* Odd values are the child's turn, even ones the parent's. */
static int ping_pong(void *arg) {
    (void)arg;
    seen_pid = syscall(SYS_getpid);
    for (int i = 1; i < 200; i += 2) {
        await(&ball, i);
        put(&ball, i + 1);
    }
    void *m = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *(volatile int *)m = 4242;
    child_map = m;
    return 5;
}

static int read_tls(void *arg) {
    (void)arg;
    long v;
    __asm__ volatile("mov %%fs:8, %0" : "=r"(v));
    seen_tls = v;
    return 0;
}

static int wait_then_exit(void *arg) {
    (void)arg;
    seen_pid = child_tid_word == syscall(SYS_getpid);
    await(&ball, 1);
    return 9;
}

static int kill_self(void *arg) {
    (void)arg;
    syscall(SYS_kill, syscall(SYS_getpid), SIGTERM);
    return 0;
}

static int exec_hello(void *arg) {
    (void)arg;
    syscall(SYS_dup2, exec_pipe[1], 1);
    char *args[] = {"vt-child", "hello", "0", "from the child beside", NULL};
    syscall(SYS_execve, "/proc/self/exe", args, environ);
    return 127;
}

static char *new_stack(void);
static void show_status(const char *what, pid_t pid, int options);

/* The kernel's struct sigaction, for raw rt_sigaction calls. */
struct raw_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

static volatile long seen_handler;

/* Reads SIGUSR1's handler, then ignores SIGUSR2. */
static int swap_dispositions(void *arg) {
    (void)arg;
    struct raw_sigaction now, ignore = {SIG_IGN, 0, NULL, 0};
    syscall(SYS_rt_sigaction, SIGUSR1, NULL, &now, 8);
    seen_handler = (long)now.handler;
    syscall(SYS_rt_sigaction, SIGUSR2, &ignore, NULL, 8);
    return 0;
}

static void on_usr1(int sig) { (void)sig; }

/* A child made with `flags` reads our SIGUSR1 handler and ignores
 * SIGUSR2: shared dispositions show both ways. */
static void dispositions(const char *what, int flags) {
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_DFL);
    seen_handler = 0;
    pid_t pid = clone(swap_dispositions, new_stack(), flags | SIGCHLD, NULL);
    show_status(what, pid, 0);
    struct sigaction usr2;
    sigaction(SIGUSR2, NULL, &usr2);
    printf("%s: saw our SIGUSR1 handler %d, its SIG_IGN for SIGUSR2 is ours %d\n", what,
           seen_handler == (long)on_usr1, usr2.sa_handler == SIG_IGN);
    if (usr2.sa_handler == SIG_IGN) {
        /* Ignored here too: the signal is dropped, the process goes on. */
        SHOW(kill(getpid(), SIGUSR2));
    }
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static char *new_stack(void) {
    char *s = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return s + STACK_SIZE;
}

static void show_status(const char *what, pid_t pid, int options) {
    int status = 0;
    pid_t r = waitpid(pid, &status, options);
    if (r < 0) {
        printf("%s: waitpid -1 %s\n", what, errname(errno));
        return;
    }
    printf("%s: waited %d, exited %d status %d, signalled %d signal %d\n", what, r == pid, WIFEXITED(status),
           WEXITSTATUS(status), WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int vt_clonevm(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* Both run: a hundred rounds of a ball passed over a futex word. */
    pid_t pid = clone(ping_pong, new_stack(), CLONE_VM | SIGCHLD, NULL);
    printf("clone: %d\n", pid > 0);
    for (int i = 0; i < 200; i += 2) {
        put(&ball, i + 1);
        await(&ball, i + 2);
    }
    printf("ball passed 100 times each way, ends at %d\n", ball);
    show_status("ping-pong child", pid, 0);
    printf("its pid is the one returned %d, not ours %d\n", seen_pid == pid, seen_pid != getpid());
    printf("its mapping seen here: %d\n", child_map ? *(volatile int *)child_map : -1);
    SHOW(munmap(child_map, 4096));

    /* CLONE_SETTLS: a TCB whose second word the child reads through FS. */
    static long tcb[4];
    tcb[0] = (long)tcb;
    tcb[1] = 0x5151;
    pid = clone(read_tls, new_stack(), CLONE_VM | CLONE_SETTLS | SIGCHLD, NULL, NULL, tcb);
    show_status("settls child", pid, 0);
    printf("the child read %#lx through FS\n", seen_tls);

    /* The tid words, and an exit signal of SIGUSR1: not waitable without
     * __WCLONE, and pending here (blocked) once the child has gone. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    ball = 0;
    child_tid_word = -1;
    int flags = CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGUSR1;
    pid = clone(wait_then_exit, new_stack(), flags, NULL, &parent_tid_word, NULL, &child_tid_word);
    printf("parent tid word is the pid %d\n", parent_tid_word == pid);
    show_status("clone child without __WCLONE", pid, WNOHANG);
    put(&ball, 1);
    await((volatile int *)&child_tid_word, 0);
    printf("child tid word cleared at its exit: %d, the child saw its pid there: %ld\n", child_tid_word == 0,
           seen_pid);
    show_status("clone child", pid, __WCLONE);
    sigset_t pending;
    sigpending(&pending);
    printf("SIGUSR1 pending after its end: %d\n", sigismember(&pending, SIGUSR1));

    /* A child killed by a signal: its own, then its parent's while it
     * waits on a futex. */
    pid = clone(kill_self, new_stack(), CLONE_VM | SIGCHLD, NULL);
    show_status("killed child", pid, 0);
    ball = 0;
    seen_pid = 0;
    pid = clone(wait_then_exit, new_stack(), CLONE_VM | SIGCHLD, NULL);
    SHOW(kill(pid, SIGUSR2));
    show_status("child killed by its parent", pid, 0);

    /* CLONE_SIGHAND: one set of dispositions, whether the parent waits
     * (CLONE_VFORK) or runs beside; without it, the child's own copy. */
    dispositions("sighand child", CLONE_VM | CLONE_SIGHAND);
    dispositions("sighand vfork child", CLONE_VM | CLONE_VFORK | CLONE_SIGHAND);
    dispositions("child without sighand", CLONE_VM);

    /* A child that execs: the tid word is cleared then, the parent never
     * waited for it. */
    SHOW(pipe(exec_pipe));
    child_tid_word = -1;
    pid = clone(exec_hello, new_stack(), CLONE_VM | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, NULL, NULL,
                NULL, &child_tid_word);
    await((volatile int *)&child_tid_word, 0);
    printf("child tid word cleared at its execve: %d\n", child_tid_word == 0);
    close(exec_pipe[1]);
    char buf[4096];
    long n, got = 0;
    while ((n = read(exec_pipe[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
    buf[got] = 0;
    printf("the exec'd child printed: %s\n", strstr(buf, "from the child beside") ? "from the child beside" : buf);
    show_status("exec'd child", pid, 0);
    return 0;
}
