/* A small program for the signal tests: a handled SIGUSR1, an ignored
   SIGUSR2, then a fault nothing handles (SIGSEGV). */
#include <signal.h>
#include <stdio.h>

volatile int handled;

void on_usr1(int sig) {
    handled += sig;
}

int main(void) {
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    printf("handled %d\n", handled);
    fflush(stdout);
    *(volatile int *)8 = 1;
    return 0;
}
