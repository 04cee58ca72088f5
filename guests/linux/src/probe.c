/* probe: reports inherited process state for `exec` to check after an
 * execve (`vt probe FD...`): which of the given file descriptors are
 * open, and the dispositions and mask of a few signals. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>

#include "vt.h"

static const char *disposition(int sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return "error";
    if (sa.sa_handler == SIG_IGN) return "ignored";
    if (sa.sa_handler == SIG_DFL) return "default";
    return "handled";
}

int vt_probe(int argc, char **argv) {
    for (int i = 2; i < argc; i++) {
        int fd = atoi(argv[i]);
        int fl = fcntl(fd, F_GETFD);
        printf("probe: fd %d %s\n", fd, fl < 0 ? errname(errno) : "open");
    }
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    int sigs[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGPIPE, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        printf("probe: signal %d %s%s\n", sigs[i], disposition(sigs[i]), sigismember(&now, sigs[i]) ? ", blocked" : "");
    return 0;
}
