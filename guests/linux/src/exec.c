/* exec: execve of this program (through /proc/self/exe) with another
 * subject, from a forked child and finally in place; argv[0], the
 * environment, open descriptors (with and without FD_CLOEXEC), ignored
 * signals and the signal mask carried across; and execve failures
 * (ENOENT, EACCES, ENOEXEC) that return to the caller. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt.h"

static void run_child(char *const argv[], char *const envp[]) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execve("/proc/self/exe", argv, envp);
        printf("execve in the child: %s\n", errname(errno));
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status))
        printf("child exited %d\n", WEXITSTATUS(status));
    else
        printf("child killed by %d\n", WTERMSIG(status));
}

static void on_term(int sig) {
    (void)sig;
}

int vt_exec(int argc, char **argv) {
    (void)argc, (void)argv;
    char *hello[] = {"vt-child", "hello", "7", "one two", "", "three", NULL};
    char *env[] = {"VT_FIRST=1", "VT_SECOND=with space", "EMPTY=", NULL};
    run_child(hello, env);

    /* fd 10 stays open across execve, fd 11 (FD_CLOEXEC) does not; SIGUSR1
     * and SIGUSR2 stay ignored, SIGTERM's handler becomes the default, and
     * the mask is kept. */
    printf("fds ready: %d\n", dup2(1, 10) == 10 && dup2(1, 11) == 11 && fcntl(11, F_SETFD, FD_CLOEXEC) == 0);
    signal(SIGUSR1, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    char *probe[] = {"vt", "probe", "10", "11", "12", NULL};
    run_child(probe, env);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    close(10);
    close(11);

    char *crash[] = {"vt", "crash", "segv", NULL};
    run_child(crash, env);

    char *argv_missing[] = {"missing", NULL};
    SHOW(execve("/nonexistent/program", argv_missing, env));
    SHOW(execve("/", argv_missing, env));
    SHOW(execve("/dev/null", argv_missing, env));
    SHOW(execve("/proc/self/exe/x", argv_missing, env));

    /* In place, with an empty environment: this process becomes hello. */
    char *last[] = {"vt-last", "hello", "9", "the end", NULL};
    char *none[] = {NULL};
    fflush(stdout);
    execve("/proc/self/exe", last, none);
    printf("execve returned: %s\n", errname(errno));
    return 1;
}
