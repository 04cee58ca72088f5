/* files: the file-system and file-descriptor calls, in a directory the
 * caller provides (`vt files DIR`, empty): I/O plain, positioned and
 * vectored; the stat family; names, links and directories; the working
 * directory; descriptor duplication and flags; pipes with fork and wait;
 * truncation; access and umask; poll and select; file times; statx; the
 * *at calls; non-blocking pipes, sendfile, locks, sync, fallocate and
 * statfs; and /proc/self/exe. Modes, sizes and link counts are printed; times only
 * where the program set them. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt.h"

static void print_stat(const char *what, const struct stat *st) {
    const char *type = S_ISREG(st->st_mode)   ? "file"
                       : S_ISDIR(st->st_mode) ? "dir"
                       : S_ISLNK(st->st_mode) ? "symlink"
                       : S_ISFIFO(st->st_mode) ? "fifo"
                                               : "other";
    printf("%s: %s mode %04o size %lld nlink %lu\n", what, type, st->st_mode & 07777, (long long)st->st_size,
           (unsigned long)st->st_nlink);
}

static void stat_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        printf("stat %s: %s\n", path, errname(errno));
    else {
        char what[300];
        snprintf(what, sizeof what, "stat %s", path);
        print_stat(what, &st);
    }
}

static void plain_io(void) {
    char buf[64] = {0};
    int fd = open("a.txt", O_CREAT | O_RDWR | O_TRUNC, 0666);
    printf("open a.txt: %s\n", fd >= 0 ? "ok" : errname(errno));
    SHOW(write(fd, "hello world\n", 12));
    SHOW(lseek(fd, 0, SEEK_CUR));
    SHOW(lseek(fd, 0, SEEK_SET));
    SHOW(read(fd, buf, 5));
    printf("read: \"%s\"\n", buf);
    memset(buf, 0, sizeof buf);
    SHOW(pread(fd, buf, 5, 6));
    printf("pread: \"%s\"\n", buf);
    SHOW(lseek(fd, 0, SEEK_CUR));
    SHOW(pwrite(fd, "WORLD", 5, 6));
    SHOW(lseek(fd, 0, SEEK_END));
    struct iovec out[3] = {{"one ", 4}, {"", 0}, {"two three\n", 10}};
    SHOW(writev(fd, out, 3));
    SHOW(lseek(fd, -30, SEEK_END));
    SHOW(lseek(fd, 0, SEEK_SET));
    char a[7] = {0}, b[32] = {0};
    struct iovec in[2] = {{a, 6}, {b, sizeof b - 1}};
    SHOW(readv(fd, in, 2));
    printf("readv: \"%s\" \"%s\"\n", a, b);
    SHOW(read(fd, buf, sizeof buf));
    SHOW(read(fd, NULL, 0));
    SHOW(write(fd, NULL, 0));
    SHOW(writev(fd, NULL, 0));
    SHOW(lseek(fd, 100, SEEK_SET));
    SHOW(write(fd, "!", 1));
    SHOW(pread(fd, buf, 4, 30));
    printf("hole: %d %d %d %d\n", buf[0], buf[1], buf[2], buf[3]);
    struct stat st;
    SHOW(fstat(fd, &st));
    print_stat("fstat a.txt", &st);
    SHOW(close(fd));
    SHOW(close(fd));
    SHOW(read(fd, buf, 1));
    SHOW(open("missing.txt", O_RDONLY));
    SHOW(open("a.txt", O_CREAT | O_EXCL | O_WRONLY, 0600));
    SHOW(open("a.txt/x", O_RDONLY));
    int c = creat("b.txt", 0640);
    printf("creat b.txt: %s\n", c >= 0 ? "ok" : errname(errno));
    SHOW(write(c, "bee\n", 4));
    SHOW(read(c, buf, 1));
    SHOW(close(c));
    stat_path("b.txt");
}

static void names(void) {
    struct stat st;
    SHOW(rename("b.txt", "c.txt"));
    SHOW(access("b.txt", F_OK));
    SHOW(access("c.txt", R_OK | W_OK));
    SHOW(link("c.txt", "hard.txt"));
    stat_path("c.txt");
    SHOW(unlink("hard.txt"));
    stat_path("c.txt");
    SHOW(symlink("a.txt", "sym"));
    SHOW(symlink("nowhere", "dangling"));
    char target[64] = {0};
    SHOW(readlink("sym", target, sizeof target - 1));
    printf("readlink sym: \"%s\"\n", target);
    SHOW(lstat("sym", &st));
    print_stat("lstat sym", &st);
    stat_path("sym");
    stat_path("dangling");
    SHOW(readlink("a.txt", target, sizeof target));
    SHOW(rename("c.txt", "sym"));
    SHOW(lstat("sym", &st));
    print_stat("lstat sym after rename", &st);
    SHOW(unlink("dangling"));
    SHOW(unlink("dangling"));
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir %s: %s\n", path, errname(errno));
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    printf("ls %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void dirs(void) {
    SHOW(mkdir("d", 0755));
    SHOW(mkdir("d", 0755));
    SHOW(mkdir("d/e", 0700));
    SHOW(mkdir("d/f", 0777));
    stat_path("d");
    stat_path("d/e");
    stat_path("d/f");
    SHOW(rmdir("d"));
    SHOW(rmdir("d/e"));
    SHOW(rmdir("d/missing"));
    SHOW(rmdir("a.txt"));
    SHOW(unlink("d"));
    int fd = open("d/f/file", O_CREAT | O_WRONLY, 0644);
    SHOW(close(fd));
    list_dir(".");
    list_dir("d");
    list_dir("d/f");
    list_dir("nonexistent");
    SHOW(unlink("d/f/file"));
    SHOW(rmdir("d/f"));
    stat_path("d");
    SHOW(rmdir("d"));
    list_dir(".");
}

static void cwd(void) {
    char base[4096], now[4096];
    if (!getcwd(base, sizeof base)) printf("getcwd: %s\n", errname(errno));
    SHOW(mkdir("sub", 0755));
    SHOW(chdir("sub"));
    if (!getcwd(now, sizeof now)) printf("getcwd: %s\n", errname(errno));
    size_t n = strlen(base);
    printf("getcwd in sub: %s\n", strncmp(now, base, n) == 0 && strcmp(now + n, "/sub") == 0 ? "base/sub" : now);
    char small[2];
    printf("getcwd small buffer: %s\n", getcwd(small, sizeof small) ? "fits" : errname(errno));
    SHOW(chdir("missing"));
    SHOW(chdir("/"));
    if (!getcwd(now, sizeof now)) printf("getcwd: %s\n", errname(errno));
    printf("getcwd at root: %s\n", now);
    SHOW(chdir(base));
    SHOW(access("a.txt", F_OK));
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    SHOW(fchdir(dfd));
    if (!getcwd(now, sizeof now)) printf("getcwd: %s\n", errname(errno));
    printf("getcwd after fchdir: %s\n", strcmp(now + n, "/sub") == 0 ? "base/sub" : now);
    SHOW(close(dfd));
    SHOW(chdir(".."));
    SHOW(rmdir("sub"));
}

static void descriptors(void) {
    char buf[32] = {0};
    int fd = open("a.txt", O_RDWR);
    int fd2 = dup(fd);
    printf("dup: %s\n", fd2 > fd ? "new descriptor" : errname(errno));
    SHOW(lseek(fd, 3, SEEK_SET));
    SHOW(lseek(fd2, 0, SEEK_CUR));
    SHOW(dup2(fd, 20));
    SHOW(dup2(fd, fd));
    SHOW(dup2(99, 21));
    SHOW(lseek(20, 0, SEEK_CUR));
    SHOW(fcntl(fd, F_GETFL) & O_ACCMODE);
    SHOW(fcntl(fd, F_GETFL) & (O_APPEND | O_NONBLOCK));
    SHOW(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
    printf("O_APPEND set: %d, O_NONBLOCK set: %d\n", !!(fcntl(fd, F_GETFL) & O_APPEND),
           !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    printf("shared by dup: %d\n", !!(fcntl(fd2, F_GETFL) & O_APPEND));
    SHOW(lseek(fd, 0, SEEK_SET));
    SHOW(write(fd, "tail\n", 5));
    SHOW(lseek(fd, 0, SEEK_CUR));
    SHOW(fcntl(fd, F_SETFL, 0));
    SHOW(fcntl(fd, F_GETFL) & (O_APPEND | O_NONBLOCK));
    SHOW(fcntl(fd, F_GETFD));
    SHOW(fcntl(fd, F_SETFD, FD_CLOEXEC));
    SHOW(fcntl(fd, F_GETFD));
    SHOW(fcntl(fd2, F_GETFD));
    int ce = open("a.txt", O_RDONLY | O_CLOEXEC);
    SHOW(fcntl(ce, F_GETFD));
    SHOW(fcntl(ce, F_GETFL) & O_ACCMODE);
    int d3 = fcntl(fd, F_DUPFD, 30);
    printf("F_DUPFD 30: %d\n", d3);
    SHOW(fcntl(d3, F_GETFD));
    int d4 = fcntl(fd, F_DUPFD_CLOEXEC, 30);
    printf("F_DUPFD_CLOEXEC 30: %d\n", d4);
    SHOW(fcntl(d4, F_GETFD));
    SHOW(dup3(fd, 22, O_CLOEXEC));
    SHOW(fcntl(22, F_GETFD));
    SHOW(pread(22, buf, 5, 0));
    printf("through dup3: \"%.5s\"\n", buf);
    SHOW(fcntl(99, F_GETFD));
    int fds[] = {fd, fd2, 20, ce, d3, d4, 22};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) close(fds[i]);
}

static void pipes_and_children(void) {
    int p[2];
    SHOW(pipe(p));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        const char msg[] = "child says hi";
        if (write(p[1], msg, sizeof msg - 1) < 0) _exit(98);
        _exit(42);
    }
    printf("fork: %s\n", pid > 0 ? "parent" : errname(errno));
    close(p[1]);
    char buf[64] = {0};
    ssize_t n, got = 0;
    while ((n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
    printf("from child: \"%s\" (%zd bytes), then read = %zd\n", buf, got, n);
    close(p[0]);
    int status = 0;
    printf("waitpid: %s\n", waitpid(pid, &status, 0) == pid ? "the child" : errname(errno));
    printf("exited %d, status %d\n", WIFEXITED(status), WEXITSTATUS(status));
    SHOW(waitpid(-1, &status, WNOHANG));

    pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        _exit(3);
    }
    waitpid(pid, &status, 0);
    printf("signalled %d, signal %d\n", WIFSIGNALED(status), WTERMSIG(status));

    /* A child that writes to a pipe nobody reads dies of SIGPIPE. */
    SHOW(pipe(p));
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        for (;;) {
            if (write(p[1], "x", 1) < 0) _exit(errno);
            usleep(1000);
        }
    }
    close(p[0]);
    close(p[1]);
    waitpid(pid, &status, 0);
    printf("writer to a closed pipe: signalled %d, signal %d\n", WIFSIGNALED(status), WTERMSIG(status));

    /* A pipe as a fifo in the child's standard input. */
    SHOW(pipe(p));
    pid = fork();
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        char line[32] = {0};
        ssize_t k = read(0, line, sizeof line - 1);
        _exit(k > 0 ? line[0] : 1);
    }
    close(p[0]);
    SHOW(write(p[1], "Z", 1));
    close(p[1]);
    waitpid(pid, &status, 0);
    printf("child read '%c' from stdin\n", WEXITSTATUS(status));
    struct stat st;
    SHOW(pipe(p));
    SHOW(fstat(p[0], &st));
    print_stat("fstat pipe", &st);
    SHOW(lseek(p[0], 0, SEEK_SET));
    close(p[0]);
    close(p[1]);
}

static void truncation(void) {
    struct stat st;
    SHOW(truncate("a.txt", 4));
    stat_path("a.txt");
    int fd = open("a.txt", O_RDWR);
    SHOW(ftruncate(fd, 10000));
    SHOW(fstat(fd, &st));
    print_stat("after ftruncate", &st);
    char buf[8];
    SHOW(pread(fd, buf, 8, 9996));
    SHOW(ftruncate(fd, -1));
    close(fd);
    SHOW(truncate("missing", 0));
}

static void permissions(void) {
    SHOW(umask(077));
    SHOW(umask(022));
    int fd = open("u.txt", O_CREAT | O_WRONLY, 0777);
    close(fd);
    stat_path("u.txt");
    SHOW(umask(0));
    SHOW(chmod("u.txt", 0640));
    stat_path("u.txt");
    SHOW(access("u.txt", X_OK));
    SHOW(chmod("u.txt", 0750));
    SHOW(access("u.txt", X_OK));
    fd = open("u.txt", O_RDONLY);
    SHOW(fchmod(fd, 0604));
    close(fd);
    stat_path("u.txt");
    SHOW(access("missing", F_OK));
    SHOW(faccessat(AT_FDCWD, "u.txt", R_OK, 0));
    SHOW(umask(022));
    SHOW(unlink("u.txt"));
}

static void polling(void) {
    int p[2];
    SHOW(pipe(p));
    struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    SHOW(poll(pf, 1, 0));
    printf("revents %#x\n", pf[0].revents);
    SHOW(poll(pf, 2, 10));
    printf("revents %#x %#x\n", pf[0].revents, pf[1].revents);
    SHOW(write(p[1], "ab", 2));
    SHOW(poll(pf, 1, 1000));
    printf("revents %#x\n", pf[0].revents);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {1, 0};
    SHOW(select(p[0] + 1, &r, NULL, NULL, &tv));
    printf("readable %d\n", FD_ISSET(p[0], &r));
    char buf[4];
    SHOW(read(p[0], buf, sizeof buf));
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    tv.tv_sec = 0;
    tv.tv_usec = 5000;
    SHOW(select(p[0] + 1, &r, NULL, NULL, &tv));
    printf("readable %d, timeout left %ld.%06ld\n", FD_ISSET(p[0], &r), (long)tv.tv_sec, (long)tv.tv_usec);
    fd_set w;
    FD_ZERO(&w);
    FD_SET(p[1], &w);
    SHOW(select(p[1] + 1, NULL, &w, NULL, NULL));
    printf("writable %d\n", FD_ISSET(p[1], &w));
    struct timespec ts = {0, 1000000};
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    SHOW(pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL));
    SHOW(ppoll(pf, 1, &ts, NULL));
    close(p[1]);
    SHOW(poll(pf, 1, 1000));
    printf("revents after close %#x\n", pf[0].revents);
    SHOW(read(p[0], buf, sizeof buf));
    close(p[0]);
    pf[0].fd = p[0];
    SHOW(poll(pf, 1, 0));
    printf("revents of a closed fd %#x\n", pf[0].revents);
    SHOW(fcntl(0, F_GETFD) >= 0);
}

static void at_calls(void) {
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    SHOW(mkdirat(dfd, "at", 0750));
    int fd = openat(dfd, "at/f", O_CREAT | O_WRONLY, 0600);
    SHOW(write(fd, "at\n", 3));
    SHOW(close(fd));
    struct stat st;
    SHOW(fstatat(dfd, "at/f", &st, 0));
    print_stat("fstatat at/f", &st);
    SHOW(renameat(dfd, "at/f", dfd, "at/g"));
    SHOW(linkat(dfd, "at/g", dfd, "at/h", 0));
    SHOW(symlinkat("g", dfd, "at/s"));
    char target[16] = {0};
    SHOW(readlinkat(dfd, "at/s", target, sizeof target - 1));
    printf("readlinkat: \"%s\"\n", target);
    SHOW(fchmodat(dfd, "at/g", 0640, 0));
    SHOW(faccessat(dfd, "at/h", W_OK, 0));
    SHOW(fstatat(dfd, "at/s", &st, AT_SYMLINK_NOFOLLOW));
    print_stat("fstatat at/s nofollow", &st);
    SHOW(unlinkat(dfd, "at", AT_REMOVEDIR));
    SHOW(unlinkat(dfd, "at/g", 0));
    SHOW(unlinkat(dfd, "at/h", 0));
    SHOW(unlinkat(dfd, "at/s", 0));
    SHOW(unlinkat(dfd, "at", AT_REMOVEDIR));
    SHOW(renameat2(dfd, "a.txt", dfd, "sym", RENAME_NOREPLACE));
    close(dfd);
}

static void more_descriptors(void) {
    int q[2];
    char buf[16];
    SHOW(pipe2(q, O_NONBLOCK | O_CLOEXEC));
    SHOW(read(q[0], buf, 1));
    SHOW(fcntl(q[0], F_GETFD));
    SHOW(!!(fcntl(q[1], F_GETFL) & O_NONBLOCK));
    off_t off = 2;
    int fd = open("a.txt", O_RDONLY);
    SHOW(sendfile(q[1], fd, &off, 5));
    printf("sendfile offset now %ld\n", (long)off);
    SHOW(read(q[0], buf, sizeof buf));
    printf("through sendfile: \"%.5s\"\n", buf);
    SHOW(flock(fd, LOCK_EX | LOCK_NB));
    SHOW(flock(fd, LOCK_UN));
    close(fd);
    fd = open("a.txt", O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    SHOW(fcntl(fd, F_SETLK, &fl));
    fl.l_type = F_RDLCK;
    SHOW(fcntl(fd, F_GETLK, &fl));
    printf("F_GETLK in the owner: type unlocked %d\n", fl.l_type == F_UNLCK);
    SHOW(fsync(fd));
    SHOW(fdatasync(fd));
    SHOW(fallocate(fd, 0, 0, 20000));
    struct stat st;
    fstat(fd, &st);
    printf("after fallocate: size %lld\n", (long long)st.st_size);
    close(fd);
    close(q[0]);
    close(q[1]);
    struct statfs a, b;
    SHOW(statfs(".", &a));
    fd = open(".", O_RDONLY);
    SHOW(fstatfs(fd, &b));
    close(fd);
    printf("statfs and fstatfs agree: %d, block size set %d\n", a.f_type == b.f_type && a.f_bsize == b.f_bsize,
           a.f_bsize > 0);
    SHOW(isatty(0));
    SHOW(ioctl(0, TIOCGWINSZ, buf));
}

static void times(void) {
    int fd = open("t.txt", O_CREAT | O_WRONLY, 0644);
    close(fd);
    struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 500}};
    SHOW(utimensat(AT_FDCWD, "t.txt", ts, 0));
    struct stat st;
    SHOW(stat("t.txt", &st));
    printf("atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {42, 0}};
    SHOW(utimensat(AT_FDCWD, "t.txt", omit, 0));
    SHOW(stat("t.txt", &st));
    printf("atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    fd = open("t.txt", O_RDONLY);
    struct timespec f[2] = {{7, 7}, {8, 8}};
    SHOW(futimens(fd, f));
    SHOW(fstat(fd, &st));
    printf("atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    close(fd);
    SHOW(symlink("t.txt", "tl"));
    struct timespec l[2] = {{11, 0}, {12, 0}};
    SHOW(utimensat(AT_FDCWD, "tl", l, AT_SYMLINK_NOFOLLOW));
    SHOW(lstat("tl", &st));
    printf("link mtime %lld, ", (long long)st.st_mtim.tv_sec);
    SHOW(stat("tl", &st));
    printf("target mtime %lld\n", (long long)st.st_mtim.tv_sec);
    struct timespec bad[2] = {{0, 2000000000}, {0, 0}};
    SHOW(utimensat(AT_FDCWD, "t.txt", bad, 0));
    SHOW(utimensat(AT_FDCWD, "missing", ts, 0));
}

static void statx_check(void) {
    struct statx sx;
    memset(&sx, 0, sizeof sx);
    SHOW(statx(AT_FDCWD, "t.txt", 0, STATX_BASIC_STATS, &sx));
    printf("statx: mask has basic %d, mode %04o, file %d, size %llu, nlink %u, mtime %lld.%09u\n",
           (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS, sx.stx_mode & 07777, S_ISREG(sx.stx_mode),
           (unsigned long long)sx.stx_size, sx.stx_nlink, (long long)sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec);
    SHOW(statx(AT_FDCWD, "tl", AT_SYMLINK_NOFOLLOW, STATX_SIZE | STATX_TYPE, &sx));
    printf("statx link: symlink %d size %llu\n", S_ISLNK(sx.stx_mode), (unsigned long long)sx.stx_size);
    int fd = open("t.txt", O_RDONLY);
    SHOW(statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx));
    printf("statx empty path: size %llu\n", (unsigned long long)sx.stx_size);
    close(fd);
    SHOW(statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &sx));
}

static void self_exe(void) {
    char buf[4096] = {0};
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    printf("readlink /proc/self/exe: %s\n", n > 0 ? "ok" : errname(errno));
    const char *slash = strrchr(buf, '/');
    printf("basename: %s, absolute: %d\n", slash ? slash + 1 : buf, buf[0] == '/');
    struct stat a, b;
    SHOW(stat("/proc/self/exe", &a));
    SHOW(stat(buf, &b));
    printf("same file: %d\n", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    int fd = open("/proc/self/exe", O_RDONLY);
    char magic[4] = {0};
    SHOW(read(fd, magic, 4));
    printf("magic: %s\n", memcmp(magic, "\177ELF", 4) == 0 ? "ELF" : "other");
    close(fd);
}

int vt_files(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: vt files DIR\n");
        return 2;
    }
    umask(022);
    SHOW(chdir(argv[2]));
    plain_io();
    names();
    dirs();
    cwd();
    descriptors();
    pipes_and_children();
    truncation();
    permissions();
    polling();
    times();
    statx_check();
    at_calls();
    more_descriptors();
    self_exe();
    list_dir(".");
    return 0;
}
