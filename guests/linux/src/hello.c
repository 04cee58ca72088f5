/* hello: echoes argv and the whole environment, then exits with the status
 * given as its first argument (`vt hello [STATUS [ARGS...]]`). */
#include <stdlib.h>

#include "vt.h"

extern char **environ;

int vt_hello(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    printf("argv[%d]=%s\n", argc, argv[argc] ? "not NULL" : "NULL");
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    return argc > 2 ? atoi(argv[2]) : 0;
}
