/* clone3 called directly: what it refuses (each size of struct clone_args
 * and bytes past them, flags, exit signals, stacks, set_tid as an
 * unprivileged process asks for it, bad pointers), a fork-like child made
 * with each size, one on a stack given as base and size, one with
 * CLONE_CLEAR_SIGHAND and one with CLONE_PIDFD, and a thread on a stack
 * of its own. The children made on a new stack run raw system calls only:
 * they have no TLS of their own. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtthreads.h"

#define STACK_SIZE (64 * 1024)

/* struct clone_args and room past it for sizes Linux does not know. */
struct big_args {
    struct clone_args a;
    uint64_t more[2];
};

static long clone3_call(struct big_args *args, size_t size) {
    long r = syscall(SYS_clone3, args, size);
    return r < 0 ? -errno : r;
}

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: %s\n", what, strerrorname_np((int)-r));
    else
        printf("%s: %ld\n", what, r);
}

/* clone3 whose child, on its own stack, calls fn(arg) and ends with
 * SYS_exit (a thread) or SYS_exit_group with what fn returned. */
static long clone3_run(struct clone_args *args, long (*fn)(void *), void *arg, long exit_nr) {
    register long r12 __asm__("r12") = (long)fn;
    register long r13 __asm__("r13") = (long)arg;
    register long r14 __asm__("r14") = exit_nr;
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "and $-16, %%rsp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%rax, %%rdi\n\t"
                     "mov %%r14, %%rax\n\t"
                     "syscall\n\t"
                     "hlt\n"
                     "1:"
                     : "=a"(ret)
                     : "a"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(r12), "r"(r13), "r"(r14)
                     : "rcx", "r11", "memory");
    return ret;
}

static volatile long where_sp, thread_pid, thread_tid;

/* Records where its stack is and who runs it. */
static long on_stack(void *arg) {
    volatile char here;
    where_sp = (long)&here;
    thread_pid = syscall(SYS_getpid);
    thread_tid = syscall(SYS_gettid);
    return (long)arg;
}

/* A child's exit status: 1 if its stack was inside [base, base + size)
 * within a page of the top, then arg. */
static long stack_status(void *arg) {
    char *base = arg;
    volatile char here;
    long ok = (char *)&here < base + STACK_SIZE && (char *)&here >= base + STACK_SIZE - 4096;
    return ok * 10 + 3;
}

static void wait_status(const char *what, pid_t pid) {
    int status = 0;
    pid_t r = waitpid(pid, &status, 0);
    printf("%s: waited %d, exited %d status %d\n", what, r == pid, WIFEXITED(status), WEXITSTATUS(status));
}

static void on_usr1(int sig) { (void)sig; }

/* What a child made with these flags sees of the parent's handlers. */
static void handlers_in_child(const char *what, uint64_t flags) {
    struct big_args args = {{.flags = flags, .exit_signal = SIGCHLD}, {0, 0}};
    fflush(stdout);
    long pid = clone3_call(&args, sizeof args.a);
    if (pid == 0) {
        struct sigaction usr1, usr2;
        sigaction(SIGUSR1, NULL, &usr1);
        sigaction(SIGUSR2, NULL, &usr2);
        printf("%s: SIGUSR1 %s, SIGUSR2 %s, SIGUSR1's mask kept %d\n", what,
               usr1.sa_handler == SIG_DFL ? "default" : usr1.sa_handler == on_usr1 ? "handled" : "?",
               usr2.sa_handler == SIG_IGN ? "ignored" : "?", sigismember(&usr1.sa_mask, SIGTERM));
        fflush(stdout);
        _exit(0);
    }
    wait_status(what, pid);
}

/* Calls that fail, so that no child is made; with set_tids, those that
 * name pids too. */
static void refusals(int set_tids) {
    struct big_args args;
    static int tids[2];
#define TRY(what, size, ...)                                                                                   \
    do {                                                                                                       \
        memset(&args, 0, sizeof args);                                                                         \
        args.a.exit_signal = SIGCHLD;                                                                          \
        __VA_ARGS__;                                                                                           \
        show(what, clone3_call(&args, size));                                                                  \
    } while (0)
    TRY("size 56", 56, );
    TRY("size 4097", 4097, );
    TRY("size 96, byte 90 set", 96, ((char *)&args)[90] = 1);
    TRY("unknown flag 1<<34", 64, args.a.flags = 1ull << 34);
    TRY("exit signal in the flags", 64, args.a.flags = SIGCHLD);
    TRY("CLONE_DETACHED", 64, args.a.flags = 0x400000);
    TRY("exit signal 65", 64, args.a.exit_signal = 65);
    TRY("exit signal 0x111", 64, args.a.exit_signal = 0x111);
    TRY("CLONE_SIGHAND with CLONE_CLEAR_SIGHAND", 64,
        args.a.flags = CLONE_VM | CLONE_SIGHAND | CLONE_CLEAR_SIGHAND);
    TRY("thread with an exit signal", 64, args.a.flags = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD);
    TRY("CLONE_PARENT with an exit signal", 64, args.a.flags = CLONE_PARENT);
    TRY("CLONE_THREAD without CLONE_SIGHAND", 64, args.a.flags = CLONE_VM | CLONE_THREAD; args.a.exit_signal = 0);
    TRY("CLONE_SIGHAND without CLONE_VM", 64, args.a.flags = CLONE_SIGHAND);
    TRY("stack without a size", 64, args.a.stack = (uint64_t)tids);
    TRY("stack size without a stack", 64, args.a.stack_size = 4096);
    TRY("stack past user space", 64, args.a.stack = 0x7ffffffff000ull; args.a.stack_size = 0x2000);
    show("arguments unreadable", syscall(SYS_clone3, (void *)8, 64) < 0 ? -errno : 0);
    if (set_tids) {
        TRY("set_tid without a size", 80, args.a.set_tid = (uint64_t)tids);
        TRY("set_tid_size without set_tid", 80, args.a.set_tid_size = 1);
        TRY("set_tid_size 33", 80, args.a.set_tid = (uint64_t)tids; args.a.set_tid_size = 33);
        TRY("set_tid unreadable", 80, args.a.set_tid = 8; args.a.set_tid_size = 1);
        TRY("set_tid of two pids", 80, args.a.set_tid = (uint64_t)tids; args.a.set_tid_size = 2; tids[0] = getpid();
            tids[1] = 1);
        TRY("set_tid 0", 80, args.a.set_tid = (uint64_t)tids; args.a.set_tid_size = 1; tids[0] = 0);
        TRY("set_tid -5", 80, args.a.set_tid = (uint64_t)tids; args.a.set_tid_size = 1; tids[0] = -5);
        TRY("set_tid past pid_max", 80, args.a.set_tid = (uint64_t)tids; args.a.set_tid_size = 1; tids[0] = 1 << 30);
        TRY("set_tid of this pid", 80, args.a.set_tid = (uint64_t)tids; args.a.set_tid_size = 1; tids[0] = getpid());
    }
#undef TRY
}

/* set_tid as a process without privileges gets it: refused, whatever pid
 * it names (a privileged one could choose its child's pid). */
static void set_tid_unprivileged(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0)
            check(setresuid(65534, 65534, 65534) == 0, "setresuid");
        refusals(1);
        fflush(stdout);
        _exit(0);
    }
    wait_status("unprivileged child", pid);
}

int clone3_calls(void) {
    refusals(0);
    set_tid_unprivileged();

    /* A fork-like child with each size Linux knows, and a larger one
     * whose extra bytes are zero: its exit status is the size / 8. */
    size_t sizes[] = {64, 80, 88, 96};
    for (int i = 0; i < 4; i++) {
        struct big_args args = {{.exit_signal = SIGCHLD}, {0, 0}};
        fflush(stdout);
        long pid = clone3_call(&args, sizes[i]);
        if (pid == 0)
            _exit((int)sizes[i] / 8);
        char what[32];
        snprintf(what, sizeof what, "child of size %zu", sizes[i]);
        wait_status(what, pid);
    }

    /* A fork-like child on a stack given as base and size. */
    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct clone_args args = {.exit_signal = SIGCHLD, .stack = (uint64_t)stack, .stack_size = STACK_SIZE};
    wait_status("child on base + size", clone3_run(&args, stack_status, stack, SYS_exit_group));

    /* Its handlers: the parent's, or with CLONE_CLEAR_SIGHAND the default
     * (an ignored signal stays ignored). */
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, SIG_IGN);
    handlers_in_child("child", 0);
    handlers_in_child("child with CLONE_CLEAR_SIGHAND", CLONE_CLEAR_SIGHAND);

    /* CLONE_PIDFD: a close-on-exec descriptor of the child, written to
     * the pidfd field. */
    int pidfd = -1;
    struct big_args pargs = {{.flags = CLONE_PIDFD, .pidfd = (uint64_t)&pidfd, .exit_signal = SIGCHLD}, {0, 0}};
    fflush(stdout);
    long pid = clone3_call(&pargs, 64);
    if (pid == 0)
        _exit(4);
    printf("pidfd given: %d, close-on-exec: %d\n", pidfd >= 0, pidfd >= 0 && fcntl(pidfd, F_GETFD) == FD_CLOEXEC);
    wait_status("child with a pidfd", pid);
    close(pidfd);

    /* A thread on its own stack (base + size): the tid words, its stack,
     * its process, and its end through CLONE_CHILD_CLEARTID. */
    static pid_t parent_tid, child_tid = -1;
    struct clone_args targs = {
        .flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                 CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID,
        .parent_tid = (uint64_t)&parent_tid,
        .child_tid = (uint64_t)&child_tid,
        .stack = (uint64_t)stack,
        .stack_size = STACK_SIZE,
    };
    long tid = clone3_run(&targs, on_stack, (void *)7, SYS_exit);
    printf("thread made: %d, parent tid word is its tid: %d\n", tid > 0, parent_tid == tid);
    pid_t seen;
    while ((seen = __atomic_load_n(&child_tid, __ATOMIC_SEQ_CST)) != 0)
        syscall(SYS_futex, &child_tid, FUTEX_WAIT, seen, NULL, NULL, 0);
    printf("thread ended, its tid word cleared\n");
    printf("it ran in this process: %d, as the thread made: %d, within a page of its stack's top: %d\n",
           thread_pid == getpid(), thread_tid == tid,
           where_sp < (long)stack + STACK_SIZE && where_sp >= (long)stack + STACK_SIZE - 4096);
    return 0;
}
