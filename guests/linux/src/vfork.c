/* vfork and posix_spawn: the child shares the parent's memory (what it
 * writes before _exit or execve the parent sees), the parent waits until
 * the child execs or exits, the child has a pid and descriptor table of its
 * own; posix_spawn reports a failed exec (its child writes the error into
 * the parent's memory) and runs its file actions. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt.h"

extern char **environ;

static volatile int shared_word;
static volatile pid_t child_pid_seen;

/* Prints the line of `out` that starts with `line`. */
static void show_line(const char *what, const char *out, const char *line) {
    const char *at = strstr(out, line);
    int len = at ? (int)strcspn(at, "\n") : 0;
    printf("%s printed: %.*s\n", what, len, at ? at : "");
}

static void wait_and_show(pid_t pid, const char *what) {
    int status = 0;
    pid_t r = waitpid(pid, &status, 0);
    printf("%s: waited %d, exited %d status %d\n", what, r == pid, WIFEXITED(status), WEXITSTATUS(status));
}

int vt_vfork(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* A write before _exit, and several steps the parent cannot see
     * half-done: it waits until the child has exited. */
    volatile int on_stack = 1;
    pid_t pid = vfork();
    if (pid == 0) {
        shared_word = 1;
        for (int i = 0; i < 100; i++) shared_word += getpid() > 0;
        on_stack = 7;
        child_pid_seen = getpid();
        _exit(3);
    }
    printf("vfork: child wrote %d, its stack variable %d, its pid is the one returned %d, not ours %d\n",
           shared_word, on_stack, child_pid_seen == pid, child_pid_seen != getpid());
    wait_and_show(pid, "vfork child");

    /* A descriptor the child closes stays open here. */
    int fds[2];
    SHOW(pipe(fds));
    pid = vfork();
    if (pid == 0) {
        close(fds[1]);
        shared_word = -1;
        _exit(0);
    }
    printf("after the child closed it: write end open %d, child wrote %d\n", fcntl(fds[1], F_GETFD) >= 0,
           shared_word);
    wait_and_show(pid, "vfork child");

    /* A write before execve, the parent resuming once the child has
     * exec'd, the exec'd program writing into the pipe. */
    shared_word = 0;
    pid = vfork();
    if (pid == 0) {
        shared_word = 42;
        dup2(fds[1], 1);
        char *args[] = {"vt-child", "hello", "0", "from the exec'd child", NULL};
        execve("/proc/self/exe", args, environ);
        _exit(127);
    }
    printf("before its execve the child wrote %d\n", shared_word);
    wait_and_show(pid, "exec'd child");
    close(fds[1]);
    char buf[512];
    long n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    show_line("the exec'd child", buf, "argv[3]=");
    close(fds[0]);

    /* posix_spawn: file actions, and the error of an exec that fails. */
    SHOW(pipe(fds));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *args[] = {"vt-spawned", "hello", "5", "spawned", NULL};
    int r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
    printf("posix_spawn: %s\n", r == 0 ? "0" : errname(r));
    close(fds[1]);
    wait_and_show(pid, "spawned child");
    n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    show_line("the spawned child", buf, "argv[3]=");
    close(fds[0]);
    r = posix_spawn(&pid, "/nonexistent/program", NULL, NULL, args, environ);
    printf("posix_spawn of a missing program: %s\n", r == 0 ? "0" : errname(r));
    r = posix_spawnp(&pid, "no-such-program-anywhere", NULL, NULL, args, environ);
    printf("posix_spawnp of a missing program: %s\n", r == 0 ? "0" : errname(r));
    return 0;
}
