/* vt's entry: dispatches on argv[1] to one subject. Standard output is
 * line-buffered so that output interleaves with children's in a fixed
 * order whatever stdout is. */
#include <stdlib.h>
#include <string.h>

#include "vt.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} subjects[] = {
    {"hello", vt_hello}, {"files", vt_files}, {"mem", vt_mem},     {"signals", vt_signals},
    {"float", vt_float}, {"smc", vt_smc},     {"exec", vt_exec},   {"probe", vt_probe},
    {"crash", vt_crash}, {"time", vt_time},   {"nosys", vt_nosys}, {"wild", vt_wild},
    {"vfork", vt_vfork}, {"fds", vt_fds},
    {"clonevm", vt_clonevm}, {"fenv", vt_fenv},
};

static const struct {
    int e;
    const char *name;
} errnames[] = {
    {EPERM, "EPERM"},   {ENOENT, "ENOENT"},       {ESRCH, "ESRCH"},       {EINTR, "EINTR"},
    {EIO, "EIO"},       {ENXIO, "ENXIO"},         {E2BIG, "E2BIG"},       {ENOEXEC, "ENOEXEC"},
    {EBADF, "EBADF"},   {ECHILD, "ECHILD"},       {EAGAIN, "EAGAIN"},     {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"}, {EFAULT, "EFAULT"},       {EBUSY, "EBUSY"},       {EEXIST, "EEXIST"},
    {EXDEV, "EXDEV"},   {ENOTDIR, "ENOTDIR"},     {EISDIR, "EISDIR"},     {EINVAL, "EINVAL"},
    {EMFILE, "EMFILE"}, {ENOTTY, "ENOTTY"},       {EFBIG, "EFBIG"},       {ENOSPC, "ENOSPC"},
    {ESPIPE, "ESPIPE"}, {EROFS, "EROFS"},         {EPIPE, "EPIPE"},       {EDOM, "EDOM"},
    {ERANGE, "ERANGE"}, {ENAMETOOLONG, "ENAMETOOLONG"}, {ENOSYS, "ENOSYS"}, {ENOTEMPTY, "ENOTEMPTY"},
    {ELOOP, "ELOOP"},   {ETIMEDOUT, "ETIMEDOUT"},
};

const char *errname(int e) {
    static char unknown[32];
    for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
        if (errnames[i].e == e) return errnames[i].name;
    snprintf(unknown, sizeof unknown, "errno %d", e);
    return unknown;
}

void show(const char *what, long value) {
    int e = errno;
    if (value < 0)
        printf("%s = -1 %s\n", what, errname(e));
    else
        printf("%s = %ld\n", what, value);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2)
        for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++)
            if (strcmp(argv[1], subjects[i].name) == 0) return subjects[i].run(argc, argv);
    fprintf(stderr, "usage: vt SUBJECT [ARGS...]; subjects:");
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) fprintf(stderr, " %s", subjects[i].name);
    fprintf(stderr, "\n");
    return 2;
}
