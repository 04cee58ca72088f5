/* Forked children under gdb, which debugs the parent alone: a child that
   exits (status 3) while its parent waits, and one that outlives its
   parent's execve, waiting for its standard input to close. Neither
   child's end is the program's, and the execve ends gdb's session while
   the second child lives on. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1) {
        printf("%s\n", argv[1]);
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0)
        _exit(3);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WEXITSTATUS(status));
    fflush(stdout);
    if (fork() == 0) {
        char c;
        while (read(0, &c, 1) > 0) {
        }
        _exit(0);
    }
    char *args[] = {argv[0], "exec'd", NULL};
    execv(argv[0], args);
    return 1;
}
