/* vtnet's entry: dispatches on argv[1] to one subject. */
#include <stdlib.h>
#include <string.h>

#include "vtnet.h"

static const struct {
    const char *name;
    int (*run)(void);
} subjects[] = {
    {"tcp", net_tcp},         {"unix", net_unix},       {"udp", net_udp},     {"fault", net_fault},
    {"netlink", net_netlink},
    {"eventfd", ev_eventfd}, {"timerfd", ev_timerfd}, {"epoll", ev_epoll}, {"timer", ev_timer},
    {"sigmask", ev_sigmask}, {"signalfd", ev_signalfd},
    {"sigwait", ev_sigwait},
};

void show(const char *what, long value) {
    int e = errno;
    if (value < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(e));
    else
        printf("%s = %ld\n", what, value);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2)
        for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++)
            if (strcmp(argv[1], subjects[i].name) == 0) return subjects[i].run();
    fprintf(stderr, "usage: vtnet SUBJECT; subjects:");
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) fprintf(stderr, " %s", subjects[i].name);
    fprintf(stderr, "\n");
    return 2;
}
