/* crash: ways a process ends, for its parent to observe: a NULL write with
 * no handler (SIGSEGV), abort (SIGABRT), a stack overflow (SIGSEGV), an
 * unhandled SIGUSR1, SIGKILL, and exit(N). Output written with write(2)
 * before the end must survive; output still in stdio's buffer is lost. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vt.h"

static void say(const char *s) {
    if (write(1, s, strlen(s)) < 0) _exit(99);
}

/* Far deeper than any stack: ends in SIGSEGV. */
static volatile long depth_limit = 1L << 40;

static int deeper(volatile char *prev, long depth) {
    volatile char frame[512];
    frame[0] = prev ? prev[0] + 1 : 0;
    if (depth >= depth_limit) return frame[0];
    return deeper(frame, depth + 1) + frame[1];
}

int vt_crash(int argc, char **argv) {
    const char *how = argc > 2 ? argv[2] : "";
    static char buf[256];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    printf("lost: still in the stdio buffer\n");
    say("before the end\n");
    if (strcmp(how, "segv") == 0) {
        *(volatile int *)0 = 1;
    } else if (strcmp(how, "abort") == 0) {
        abort();
    } else if (strcmp(how, "overflow") == 0) {
        return deeper(0, 0);
    } else if (strcmp(how, "usr1") == 0) {
        raise(SIGUSR1);
    } else if (strcmp(how, "kill") == 0) {
        kill(getpid(), SIGKILL);
    } else if (strcmp(how, "exit") == 0) {
        fflush(stdout);
        exit(argc > 3 ? atoi(argv[3]) : 0);
    } else if (strcmp(how, "_exit") == 0) {
        _exit(argc > 3 ? atoi(argv[3]) : 0);
    }
    say("not reached\n");
    return 1;
}
