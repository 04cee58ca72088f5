/* Forks while hot blocks wait for, or are being compiled by, visa's
 * compiler thread: each round writes a fresh function into an executable
 * buffer, calls it until its block is hot and forks at once. The child
 * calls it again, runs a loop of its own and exits with a checksum the
 * parent computes too. With blocks hot after ten runs, every round leaves
 * work queued or in flight at the fork. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 30

static unsigned long mix(unsigned long x, int n) {
    for (int i = 0; i < n; i++)
        x = (x * 6364136223846793005ul + 1442695040888963407ul) ^ (x >> 17);
    return x;
}

static long calls(int (*f)(int), int n) {
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += f(i);
    return sum;
}

int main(void) {
    unsigned char *code = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    int agree = 0;
    for (int round = 1; round <= ROUNDS; round++) {
        /* mov eax, round * 7; add eax, edi; ret */
        unsigned char fn[] = {0xb8, 0, 0, 0, 0, 0x01, 0xf8, 0xc3};
        int value = round * 7;
        memcpy(fn + 1, &value, 4);
        memcpy(code + 64 * round, fn, sizeof fn);
        int (*f)(int) = (int (*)(int))(code + 64 * round);
        long first = calls(f, 40);
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0)
            _exit((int)((calls(f, 3000) + mix(round, 5000)) & 0x7f));
        int status;
        waitpid(pid, &status, 0);
        int expected = (int)((calls(f, 3000) + mix(round, 5000)) & 0x7f);
        int same = WIFEXITED(status) && WEXITSTATUS(status) == expected;
        agree += same;
        printf("round %d: %ld, child %s\n", round, first, same ? "agrees" : "differs");
    }
    printf("children that agree: %d of %d\n", agree, ROUNDS);
    return 0;
}
