/* nosys: a system call number no kernel defines must fail with ENOSYS and
 * leave the program running. */
#include <unistd.h>
#include <sys/syscall.h>

#include "vt.h"

int vt_nosys(int argc, char **argv) {
    (void)argc, (void)argv;
    SHOW(syscall(9999, 1, 2, 3));
    SHOW(syscall(9999));
    SHOW(syscall(SYS_getppid) > 0);
    printf("still running\n");
    return 0;
}
