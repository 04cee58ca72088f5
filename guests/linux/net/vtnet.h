/* vtnet: the static test program for visa's socket and event system
 * calls. Each subject (`vtnet SUBJECT`) prints only facts that hold on
 * every run (no ports, process ids or times), so its output under visa
 * must equal its native output byte for byte. */
#ifndef VTNET_H
#define VTNET_H

#include <errno.h>
#include <stdio.h>

int net_tcp(void);
int net_unix(void);
int net_udp(void);
int net_fault(void);
int net_netlink(void);
int ev_eventfd(void);
int ev_timerfd(void);
int ev_epoll(void);
int ev_timer(void);
int ev_sigmask(void);
int ev_signalfd(void);
int ev_sigwait(void);

/* Prints `what = value`, or `what = -1 ENAME` when value is negative. */
void show(const char *what, long value);

/* Evaluates a call and prints its text with its result. */
#define SHOW(expr) show(#expr, (long)(expr))

#endif
