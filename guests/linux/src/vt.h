/* vt: one static multi-call test program for visa's Linux user mode. Each
 * subject (`vt SUBJECT ARGS...`) exercises one area of the system-call and
 * signal interface and prints only deterministic facts (no addresses,
 * process ids or times), so its output under visa must equal its native
 * output byte for byte. */
#ifndef VT_H
#define VT_H

#include <errno.h>
#include <stdio.h>

int vt_hello(int argc, char **argv);
int vt_files(int argc, char **argv);
int vt_mem(int argc, char **argv);
int vt_signals(int argc, char **argv);
int vt_float(int argc, char **argv);
int vt_smc(int argc, char **argv);
int vt_exec(int argc, char **argv);
int vt_probe(int argc, char **argv);
int vt_crash(int argc, char **argv);
int vt_time(int argc, char **argv);
int vt_nosys(int argc, char **argv);
int vt_wild(int argc, char **argv);
int vt_vfork(int argc, char **argv);
int vt_fds(int argc, char **argv);
int vt_clonevm(int argc, char **argv);
int vt_fenv(int argc, char **argv);

/* The symbolic name of an errno value ("ENOENT"), or its number. */
const char *errname(int e);

/* Prints `what = value`, or `what = -1 ENAME` when value is negative. */
void show(const char *what, long value);

/* Evaluates a call and prints its text with its result. */
#define SHOW(expr) show(#expr, (long)(expr))

#endif
