/* signals: handlers and their siginfo for raise, kill, tgkill and sigqueue; the mask,
 * pending signals and the order in which unblocked signals run; the
 * SA_RESETHAND, SA_NODEFER, SA_RESTART and SA_ONSTACK flags; alarm, pause,
 * interval timers and sigsuspend; SIGCHLD and SIGPIPE; the signals of
 * processor faults (NULL and read-only accesses, non-executable code,
 * divide by zero, ud2, int3, hlt, misaligned SSE) recovered with
 * siglongjmp or by returning; and a handler that edits the interrupted
 * registers or clobbers vector and FPU state, which sigreturn restores. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "vt.h"

static pid_t me;
static uid_t my_uid;
static volatile int order[16];
static volatile int count;
static volatile int info_signo, info_code, info_pid_ok, info_uid_ok, queued_value;

static void record(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (count < 16) order[count] = sig;
    count++;
    info_signo = si->si_signo;
    info_code = si->si_code;
    info_pid_ok = si->si_pid == me;
    info_uid_ok = si->si_uid == my_uid;
    queued_value = si->si_value.sival_int;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    if (mask) sa.sa_mask = *mask;
    if (sigaction(sig, &sa, NULL) != 0) printf("sigaction %d: %s\n", sig, errname(errno));
}

static void print_order(const char *what) {
    printf("%s: %d handler run(s):", what, count);
    for (int i = 0; i < count && i < 16; i++) printf(" %d", order[i]);
    printf("\n");
    count = 0;
}

static void report(const char *how) {
    printf("%s: ran %d, si_signo %d, si_code %d, si_pid ok %d, si_uid ok %d\n", how, count, info_signo, info_code,
           info_pid_ok, info_uid_ok);
    count = 0;
}

static void sending(void) {
    install(SIGUSR1, record, 0, NULL);
    SHOW(raise(SIGUSR1));
    report("raise");
    SHOW(kill(me, SIGUSR1));
    report("kill");
    SHOW(syscall(SYS_tgkill, me, gettid(), SIGUSR1));
    report("tgkill");
    SHOW(syscall(SYS_tkill, gettid(), SIGUSR1));
    report("tkill");
    union sigval v = {.sival_int = 42};
    SHOW(sigqueue(me, SIGUSR1, v));
    report("sigqueue");
    printf("si_value %d\n", queued_value);
    SHOW(kill(me, 0));
    SHOW(kill(me, 99));
    SHOW(syscall(SYS_tgkill, me, gettid(), 0));
    printf("handler ran for signal 0: %d\n", count);
}

static void mask_and_order(void) {
    sigset_t set, pending, old;
    install(SIGUSR1, record, 0, NULL);
    install(SIGUSR2, record, 0, NULL);
    install(SIGHUP, record, 0, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    SHOW(sigprocmask(SIG_BLOCK, &set, &old));
    raise(SIGUSR2);
    raise(SIGHUP);
    raise(SIGUSR1);
    raise(SIGUSR1);
    SHOW(sigpending(&pending));
    printf("pending:");
    for (int s = 1; s < 32; s++)
        if (sigismember(&pending, s)) printf(" %d", s);
    printf("\n");
    print_order("while blocked");
    SHOW(sigprocmask(SIG_SETMASK, &old, NULL));
    /* Each handler runs with the other two blocked: they run one after another, lowest first. */
    print_order("after unblocking");
    install(SIGUSR1, record, 0, &set);
    install(SIGUSR2, record, 0, &set);
    install(SIGHUP, record, 0, &set);
    SHOW(sigprocmask(SIG_BLOCK, &set, &old));
    raise(SIGUSR2);
    raise(SIGHUP);
    raise(SIGUSR1);
    SHOW(sigprocmask(SIG_SETMASK, &old, NULL));
    print_order("with sa_mask");
    /* Ignoring a pending signal discards it. */
    SHOW(sigprocmask(SIG_BLOCK, &set, &old));
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_IGN);
    SHOW(sigpending(&pending));
    printf("USR1 pending after SIG_IGN: %d\n", sigismember(&pending, SIGUSR1));
    install(SIGUSR1, record, 0, NULL);
    SHOW(sigprocmask(SIG_SETMASK, &old, NULL));
    print_order("after unblocking the discarded");
    SHOW(sigprocmask(SIG_BLOCK, NULL, &old));
    printf("mask has USR1: %d, KILL can be blocked: ", sigismember(&old, SIGUSR1));
    sigemptyset(&set);
    sigaddset(&set, SIGKILL);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigprocmask(SIG_BLOCK, NULL, &old);
    printf("%d\n", sigismember(&old, SIGKILL));
    SHOW(sigprocmask(99, &set, NULL));
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    SHOW(sigaction(SIGKILL, &sa, NULL));
    SHOW(sigaction(SIGSTOP, NULL, &sa));
}

static volatile int depth, max_depth;

static void nested(int sig, siginfo_t *si, void *uc) {
    (void)si, (void)uc;
    depth++;
    if (depth > max_depth) max_depth = depth;
    if (count++ == 0) raise(sig);
    depth--;
}

static void flags(void) {
    struct sigaction sa;
    install(SIGUSR2, record, SA_RESETHAND, NULL);
    raise(SIGUSR2);
    print_order("SA_RESETHAND");
    sigaction(SIGUSR2, NULL, &sa);
    printf("handler after SA_RESETHAND: %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "kept");
    install(SIGUSR1, nested, 0, NULL);
    max_depth = 0;
    raise(SIGUSR1);
    printf("without SA_NODEFER: ran %d, deepest %d\n", count, max_depth);
    count = 0;
    install(SIGUSR1, nested, SA_NODEFER, NULL);
    max_depth = 0;
    raise(SIGUSR1);
    printf("with SA_NODEFER: ran %d, deepest %d\n", count, max_depth);
    count = 0;
    install(SIGUSR1, record, SA_RESTART | SA_ONSTACK, NULL);
    sigaction(SIGUSR1, NULL, &sa);
    printf("flags read back: SA_SIGINFO %d SA_RESTART %d SA_ONSTACK %d SA_NODEFER %d\n", !!(sa.sa_flags & SA_SIGINFO),
           !!(sa.sa_flags & SA_RESTART), !!(sa.sa_flags & SA_ONSTACK), !!(sa.sa_flags & SA_NODEFER));
}

static char *alt_base;
static size_t alt_size;
static volatile int on_alt, alt_flags_onstack;
static sigjmp_buf recover;

static void check_stack(int sig, siginfo_t *si, void *uc) {
    (void)sig, (void)si, (void)uc;
    volatile char local;
    on_alt = (char *)&local >= alt_base && (char *)&local < alt_base + alt_size;
    stack_t now;
    sigaltstack(NULL, &now);
    alt_flags_onstack = !!(now.ss_flags & SS_ONSTACK);
    count++;
}

static void overflow_caught(int sig, siginfo_t *si, void *uc) {
    (void)si, (void)uc;
    volatile char local;
    on_alt = (char *)&local >= alt_base && (char *)&local < alt_base + alt_size;
    info_signo = sig;
    siglongjmp(recover, 1);
}

/* Far deeper than any stack: ends in SIGSEGV. */
static volatile long recursion_limit = 1L << 40;

static int recurse(volatile char *prev, long depth) {
    volatile char frame[512];
    frame[0] = prev ? prev[0] + 1 : 0;
    if (depth >= recursion_limit) return frame[0];
    return recurse(frame, depth + 1) + frame[7];
}

static void altstack(void) {
    alt_size = 256 * 1024;
    alt_base = malloc(alt_size);
    stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0}, old;
    SHOW(sigaltstack(&ss, &old));
    printf("previous altstack disabled: %d\n", !!(old.ss_flags & SS_DISABLE));
    install(SIGUSR2, check_stack, SA_ONSTACK, NULL);
    raise(SIGUSR2);
    printf("SA_ONSTACK handler: ran %d, on the alternate stack %d, SS_ONSTACK %d\n", count, on_alt, alt_flags_onstack);
    count = 0;
    install(SIGUSR2, check_stack, 0, NULL);
    raise(SIGUSR2);
    printf("handler without SA_ONSTACK: on the alternate stack %d\n", on_alt);
    count = 0;
    sigaltstack(NULL, &old);
    printf("outside handlers SS_ONSTACK %d\n", !!(old.ss_flags & SS_ONSTACK));
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8 << 20)) {
        rl.rlim_cur = 8 << 20;
        setrlimit(RLIMIT_STACK, &rl);
    }
    install(SIGSEGV, overflow_caught, SA_ONSTACK, NULL);
    info_signo = 0;
    if (sigsetjmp(recover, 1) == 0) {
        recurse(0, 0);
        printf("recursion ended?\n");
    } else {
        printf("stack overflow: signal %d, handled on the alternate stack %d\n", info_signo, on_alt);
    }
    signal(SIGSEGV, SIG_DFL);
    ss.ss_flags = SS_DISABLE;
    SHOW(sigaltstack(&ss, NULL));
    ss.ss_flags = 12345;
    SHOW(sigaltstack(&ss, NULL));
}

/* Timer signals can arrive before the program waits for them (visa may be
 * slow to get there): waits either block the signal until sigsuspend, or
 * use a periodic timer and count "at least once". */
static void stop_timer(void) {
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
}

static void timers(void) {
    install(SIGALRM, record, 0, NULL);
    SHOW(alarm(5));
    SHOW(alarm(0));
    SHOW(alarm(1));
    SHOW(pause());
    printf("SIGALRM si_code %#x\n", info_code);
    print_order("alarm then pause");
    struct itimerval it = {{0, 0}, {10, 0}}, old;
    SHOW(setitimer(ITIMER_REAL, &it, NULL));
    SHOW(getitimer(ITIMER_REAL, &old));
    printf("armed: %d, at most 10 s %d, interval %ld\n", old.it_value.tv_sec > 0 || old.it_value.tv_usec > 0,
           old.it_value.tv_sec < 10 || (old.it_value.tv_sec == 10 && old.it_value.tv_usec == 0),
           (long)old.it_interval.tv_usec);
    sigset_t alrm, empty, now;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    it.it_value.tv_sec = 0;
    it.it_value.tv_usec = 20000;
    SHOW(setitimer(ITIMER_REAL, &it, NULL));
    SHOW(sigsuspend(&empty));
    print_order("setitimer then sigsuspend");
    it.it_interval.tv_usec = 5000;
    it.it_value.tv_usec = 5000;
    SHOW(setitimer(ITIMER_REAL, &it, NULL));
    for (int i = 0; i < 3; i++) sigsuspend(&empty);
    it.it_value.tv_usec = 0;
    it.it_interval.tv_usec = 0;
    SHOW(setitimer(ITIMER_REAL, &it, &old));
    printf("periodic: interval was %ld\n", (long)old.it_interval.tv_usec);
    print_order("three periods");
    /* A period that ended between the last sigsuspend and the disarm (a
     * slow machine) leaves a SIGALRM pending: ignoring it drops it. */
    struct sigaction keep;
    sigaction(SIGALRM, NULL, &keep);
    signal(SIGALRM, SIG_IGN);
    sigaction(SIGALRM, &keep, NULL);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    /* Virtual time passes only while the program computes. */
    install(SIGVTALRM, record, 0, NULL);
    struct itimerval v = {{0, 0}, {0, 10000}};
    SHOW(setitimer(ITIMER_VIRTUAL, &v, NULL));
    volatile unsigned long spin = 0;
    while (count == 0 && spin < 20000000000UL) spin++;
    print_order("ITIMER_VIRTUAL");
    /* sigsuspend: waits with a temporary mask, restores the old one. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    install(SIGUSR1, record, 0, NULL);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    print_order("blocked before sigsuspend");
    SHOW(sigsuspend(&empty));
    print_order("sigsuspend");
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("USR1 blocked again after sigsuspend: %d\n", sigismember(&now, SIGUSR1));
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    it.it_value.tv_usec = 10000;
    setitimer(ITIMER_REAL, &it, NULL);
    sigset_t only_usr1;
    sigemptyset(&only_usr1);
    sigaddset(&only_usr1, SIGUSR1);
    SHOW(sigsuspend(&only_usr1));
    print_order("sigsuspend for a timer");
    sigprocmask(SIG_UNBLOCK, &block, NULL);
}

static void interrupted_calls(void) {
    int p[2];
    char c;
    struct itimerval it = {{0, 20000}, {0, 20000}};
    install(SIGALRM, record, 0, NULL);
    pipe(p);
    setitimer(ITIMER_REAL, &it, NULL);
    SHOW(read(p[0], &c, 1));
    stop_timer();
    printf("read interrupted without SA_RESTART: handler ran %d\n", count > 0);
    count = 0;
    install(SIGALRM, record, SA_RESTART, NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        if (write(p[1], "r", 1) != 1) _exit(1);
        _exit(0);
    }
    setitimer(ITIMER_REAL, &it, NULL);
    SHOW(read(p[0], &c, 1));
    stop_timer();
    printf("read restarted with SA_RESTART: handler ran %d\n", count > 0);
    count = 0;
    waitpid(pid, NULL, 0);
    close(p[0]);
    close(p[1]);
    install(SIGALRM, record, 0, NULL);
    struct timespec ts = {5, 0}, rem = {0, 0};
    setitimer(ITIMER_REAL, &it, NULL);
    SHOW(nanosleep(&ts, &rem));
    stop_timer();
    printf("time left between 4 and 5 s: %d\n", rem.tv_sec == 4 && rem.tv_nsec > 0);
    printf("nanosleep interrupted: handler ran %d\n", count > 0);
    count = 0;
}

static volatile pid_t child_pid;
static volatile int child_status;

static void on_child(int sig, siginfo_t *si, void *uc) {
    record(sig, si, uc);
    child_pid = si->si_pid;
    child_status = si->si_status;
}

static void children_and_pipes(void) {
    install(SIGCHLD, on_child, 0, NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(5);
    int status;
    SHOW(waitpid(pid, &status, 0) == pid);
    printf("SIGCHLD: ran %d, si_signo %d, si_code CLD_EXITED %d, si_pid the child's %d, si_status %d\n", count,
           info_signo, info_code == CLD_EXITED, child_pid == pid, child_status);
    count = 0;
    signal(SIGCHLD, SIG_DFL);
    int p[2];
    pipe(p);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    SHOW(write(p[1], "x", 1));
    install(SIGPIPE, record, 0, NULL);
    SHOW(write(p[1], "x", 1));
    printf("SIGPIPE: ran %d, si_signo %d, si_code %d, si_pid ok %d\n", count, info_signo, info_code, info_pid_ok);
    count = 0;
    close(p[1]);
    signal(SIGPIPE, SIG_DFL);
    /* A signal to another process: the child waits for it. */
    pid = fork();
    if (pid == 0) {
        for (;;) pause();
    }
    SHOW(kill(pid, SIGTERM));
    waitpid(pid, &status, 0);
    printf("child killed by signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    SHOW(kill(pid, SIGTERM));
}

/* ---- faults ---- */

static volatile int f_signo, f_code, f_addr_is_rip;
static volatile uintptr_t f_addr;
static volatile long f_trapno, f_err;

static void on_fault(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    f_signo = sig;
    f_code = si->si_code;
    f_addr = (uintptr_t)si->si_addr;
    f_addr_is_rip = f_addr == (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    f_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
    f_err = uc->uc_mcontext.gregs[REG_ERR];
    siglongjmp(recover, 1);
}

static void expect_fault(const char *what, uintptr_t want_addr) {
    printf("%s: signal %d, si_code %#x, si_addr %s, at the faulting instruction %d, trapno %ld, err %ld\n", what,
           f_signo, f_code, f_addr == want_addr ? "expected" : "unexpected", f_addr_is_rip, f_trapno, f_err);
}

static volatile int zero = 0;
static const char rodata[] = "constant";

static void faults(void) {
    int sigs[] = {SIGSEGV, SIGFPE, SIGILL, SIGBUS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) install(sigs[i], on_fault, SA_NODEFER, NULL);
    if (sigsetjmp(recover, 1) == 0) (void)*(volatile int *)0;
    expect_fault("NULL read", 0);
    volatile int *volatile low = (int *)16;
    if (sigsetjmp(recover, 1) == 0) *low = 1;
    expect_fault("write to address 16", 16);
    if (sigsetjmp(recover, 1) == 0) *(volatile char *)&rodata[3] = 'x';
    expect_fault("write to read-only data", (uintptr_t)&rodata[3]);
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page[0] = (char)0xc3;
    if (sigsetjmp(recover, 1) == 0) ((void (*)(void))page)();
    expect_fault("call into a non-executable page", (uintptr_t)page);
    munmap(page, 4096);
    if (sigsetjmp(recover, 1) == 0) ((void (*)(void))page)();
    expect_fault("call into an unmapped page", (uintptr_t)page);
    if (sigsetjmp(recover, 1) == 0) printf("%d\n", 10 / zero);
    expect_fault("divide by zero", f_addr);
    if (sigsetjmp(recover, 1) == 0) {
        long lo = INT64_MIN, q;
        __asm__ volatile("cqo\n\tidivq %2" : "=a"(q) : "a"(lo), "r"((long)-1 + zero) : "rdx");
        printf("%ld\n", q);
    }
    expect_fault("INT64_MIN / -1", f_addr);
    if (sigsetjmp(recover, 1) == 0) __asm__ volatile("ud2");
    expect_fault("ud2", f_addr);
    printf("bytes at the address: %02x %02x\n", ((unsigned char *)f_addr)[0], ((unsigned char *)f_addr)[1]);
    if (sigsetjmp(recover, 1) == 0) __asm__ volatile("hlt");
    expect_fault("hlt", 0);
    if (sigsetjmp(recover, 1) == 0) {
        static char buf[64] __attribute__((aligned(16)));
        __asm__ volatile("movaps %0, %%xmm0" : : "m"(buf[1]) : "xmm0");
    }
    expect_fault("misaligned movaps", 0);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
}

static volatile int trap_count, trap_code, trap_byte_ok;

static void on_trap(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    ucontext_t *uc = ucv;
    trap_count++;
    trap_code = si->si_code;
    trap_byte_ok = ((unsigned char *)uc->uc_mcontext.gregs[REG_RIP])[-1] == 0xcc;
}

static void breakpoints(void) {
    install(SIGTRAP, on_trap, 0, NULL);
    __asm__ volatile("int3");
    printf("int3: handler ran %d, si_code %#x, resumed after the int3 %d\n", trap_count, trap_code, trap_byte_ok);
    __asm__ volatile("int3\n\tint3");
    printf("two more: handler ran %d\n", trap_count);
    signal(SIGTRAP, SIG_DFL);
}

/* ---- a handler that edits the context ---- */

static volatile int handler_df;
static volatile long saw_rbx;

static void on_ill_skip(int sig, siginfo_t *si, void *ucv) {
    (void)sig, (void)si;
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    unsigned long fl;
    __asm__ volatile("sub $128, %%rsp\n\tpushfq\n\tpop %0\n\tadd $128, %%rsp" : "=r"(fl));
    handler_df = (fl >> 10) & 1;
    saw_rbx = g[REG_RBX];
    g[REG_RIP] += 2;
    g[REG_RBX] = 0x1122334455667788;
    uint32_t *x9 = uc->uc_mcontext.fpregs->_xmm[9].element;
    x9[0] = 0xdeadbeef;
    x9[3] = 0xcafef00d;
    /* Clobber the live vector and FPU state: sigreturn restores it. */
    unsigned mx = 0x1f80;
    unsigned short cw = 0x37f;
    __asm__ volatile("pcmpeqd %%xmm8, %%xmm8\n\tldmxcsr %0\n\tfldcw %1" : : "m"(mx), "m"(cw) : "xmm8");
    volatile double d = 1.0 / 3.0;
    (void)d;
}

static void context_edits(void) {
    install(SIGILL, on_ill_skip, 0, NULL);
    uint64_t in[2] = {0x0123456789abcdefULL, 0xfedcba9876543210ULL}, o8[2], o9[2];
    uint64_t rbx_after, flags_after;
    unsigned mx_in = 0x7f80, mx_out;
    unsigned short cw_in = 0x0f7f, cw_out;
    __asm__ volatile(
        "ldmxcsr %[mxin]\n\t"
        "fldcw %[cwin]\n\t"
        "movdqu %[in], %%xmm8\n\t"
        "movdqu %[in], %%xmm9\n\t"
        "mov $7, %%ebx\n\t"
        "std\n\t"
        "ud2\n\t"
        "sub $128, %%rsp\n\t"
        "pushfq\n\t"
        "pop %[fl]\n\t"
        "add $128, %%rsp\n\t"
        "cld\n\t"
        "movdqu %%xmm8, %[o8]\n\t"
        "movdqu %%xmm9, %[o9]\n\t"
        "mov %%rbx, %[rbx]\n\t"
        "stmxcsr %[mxout]\n\t"
        "fnstcw %[cwout]\n\t"
        : [o8] "=m"(o8), [o9] "=m"(o9), [rbx] "=m"(rbx_after), [fl] "=r"(flags_after), [mxout] "=m"(mx_out),
          [cwout] "=m"(cw_out)
        : [in] "m"(in), [mxin] "m"(mx_in), [cwin] "m"(cw_in)
        : "rbx", "xmm8", "xmm9", "memory", "cc");
    unsigned mx_default = 0x1f80;
    unsigned short cw_default = 0x37f;
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mx_default), "m"(cw_default));
    printf("handler saw rbx %ld, DF clear in the handler %d, DF restored %d\n", saw_rbx, !handler_df,
           (int)((flags_after >> 10) & 1));
    printf("rbx set by the handler %#lx\n", (unsigned long)rbx_after);
    printf("xmm8 restored %d\n", o8[0] == in[0] && o8[1] == in[1]);
    printf("xmm9 from the edited frame %016lx %016lx\n", (unsigned long)o9[1], (unsigned long)o9[0]);
    printf("mxcsr restored %#x, x87 control word restored %#x\n", mx_out, cw_out);
    signal(SIGILL, SIG_DFL);
}

int vt_signals(int argc, char **argv) {
    (void)argc, (void)argv;
    me = getpid();
    my_uid = getuid();
    sending();
    mask_and_order();
    flags();
    altstack();
    timers();
    interrupted_calls();
    children_and_pipes();
    faults();
    breakpoints();
    context_edits();
    return 0;
}
