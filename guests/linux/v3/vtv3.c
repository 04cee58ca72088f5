/* vtv3: built with -march=x86-64-v3 -O2 (AVX2 and BMI code from the
 * compiler), dynamically linked with lazy binding (so the dynamic
 * linker's lazy-binding trampoline saves and restores the vector state
 * with XSAVE/XSAVEC and XRSTOR). Integer code only: visa does not lift
 * FMA, which the compiler would use for floating point.
 *
 * Prints: vectorised loops over arrays (sums, minima, byte histograms,
 * conditional updates, shifts), the C library's string routines, and a
 * signal handler that finds the AVX state in its frame (FP_XSTATE_MAGIC1,
 * the x87/SSE/AVX features), changes YMM5's upper half there and sees
 * rt_sigreturn restore it, while its own YMM use leaves the interrupted
 * code's YMM registers alone. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define N 4099

static uint32_t u[N], v[N], w[N];
static int16_t s[N];
static uint8_t bytes[N];

__attribute__((noinline)) static uint64_t loops(void) {
    uint32_t x = 2463534242u;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        u[i] = x;
        v[i] = x * 2654435761u;
        s[i] = (int16_t)(x >> 7);
        bytes[i] = (uint8_t)(x >> 3);
    }
    uint64_t sum = 0;
    uint32_t min = UINT32_MAX, max = 0;
    for (int i = 0; i < N; i++) {
        w[i] = (u[i] >> (v[i] & 15)) + (v[i] << 3) - (u[i] ^ v[i]);
        sum += w[i];
        min = u[i] < min ? u[i] : min;
        max = v[i] > max ? v[i] : max;
    }
    int32_t acc = 0;
    for (int i = 0; i < N; i++) acc += s[i] > 0 ? s[i] * 3 : -s[i];
    uint32_t hist[16] = {0};
    for (int i = 0; i < N; i++) hist[bytes[i] & 15]++;
    for (int i = 0; i < N; i++) w[i] = u[i] > v[i] ? u[i] - v[i] : v[i] - u[i];
    uint64_t sum2 = 0;
    for (int i = 0; i < N; i++) sum2 += (uint64_t)w[i] * (i & 7);
    printf("loops: sum %llu min %u max %u acc %d sum2 %llu\n", (unsigned long long)sum, min, max, acc,
           (unsigned long long)sum2);
    printf("hist:");
    for (int i = 0; i < 16; i++) printf(" %u", hist[i]);
    printf("\n");
    return sum ^ sum2;
}

static void strings(void) {
    static char a[70000], b[70000];
    for (size_t i = 0; i < sizeof a - 1; i++) a[i] = (char)('a' + i * 7 % 26);
    unsigned long total = 0;
    for (size_t len = 1; len < 60000; len = len * 3 / 2 + 1) {
        memcpy(b, a + 3, len);
        b[len] = 0;
        total += strlen(b);
        const char *c = strchr(b, 'q');
        total += c ? (unsigned long)(c - b) : 1;
        const char *m = memchr(b, 'z', len);
        total += m ? (unsigned long)(m - b) : 2;
        total += strcmp(a + 3, b) > 0;
        memset(b, 'k', len / 2 + 1);
        total += strrchr(b, 'k') - b;
        total = total * 1099511628211ul;
    }
    printf("strings: %lu\n", total);
}

typedef uint8_t ymm_t[32];

/* YMM5 set to `in`, SIGUSR1 sent to this process by a system call (taken
 * on its return), YMM5 stored to `out`: no C library code in between. */
static void kill_with_ymm5(const ymm_t in, ymm_t out) {
    long pid = getpid();
    __asm__ volatile(
        "vmovdqu %2, %%ymm5\n\t"
        "syscall\n\t"
        "vmovdqu %%ymm5, %0"
        : "=m"(*(ymm_t *)out)
        : "a"(62L), "m"(*(const ymm_t *)in), "D"(pid), "S"((long)SIGUSR1)
        : "rcx", "r11", "memory", "xmm5");
}

static volatile int seen_magic, seen_features;

static void on_usr1(int sig, siginfo_t *info, void *ctx) {
    (void)sig, (void)info;
    ucontext_t *uc = ctx;
    uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
    uint32_t magic1;
    uint64_t features;
    memcpy(&magic1, fp + 464, 4);
    memcpy(&features, fp + 472, 8);
    seen_magic = magic1 == 0x46505853;
    seen_features = (features & 7) == 7;
    /* YMM5's upper half in the standard XSAVE layout: 576 + 16 * 5. */
    for (int i = 0; i < 16; i++) fp[576 + 16 * 5 + i] = (uint8_t)(0xa0 + i);
    /* The handler's own use of YMM5 does not reach the interrupted code. */
    __asm__ volatile("vpcmpeqb %%ymm5, %%ymm5, %%ymm5" : : : "xmm5");
}

static void signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    ymm_t in, out;
    for (int i = 0; i < 32; i++) in[i] = (uint8_t)i;
    kill_with_ymm5(in, out);
    printf("signal: magic %d features %d\n", seen_magic, seen_features);
    printf("ymm5 after the handler:");
    for (int i = 0; i < 32; i++) printf(" %02x", out[i]);
    printf("\n");
}

int main(void) {
    loops();
    strings();
    signals();
    return 0;
}
