/* fenv: the SSE exception flags as the C library sees them (fetestexcept
 * reads MXCSR): division by zero, overflow, inexact and invalid from double
 * arithmetic; the software fmaf (glibc's when CPUID has no FMA), which
 * rounds to odd from the inexact flag and is otherwise 1 ulp off in upward
 * rounding; and an unmasked division by zero, which raises SIGFPE with
 * FPE_FLTDIV. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>

#include "vt.h"

static volatile double zero = 0.0, one = 1.0, three = 3.0, max = DBL_MAX, minus_one = -1.0;

static void flags(const char *what, double r) {
    printf("%s = %a: invalid %d divbyzero %d overflow %d underflow %d inexact %d\n", what, r,
           !!fetestexcept(FE_INVALID), !!fetestexcept(FE_DIVBYZERO), !!fetestexcept(FE_OVERFLOW),
           !!fetestexcept(FE_UNDERFLOW), !!fetestexcept(FE_INEXACT));
    feclearexcept(FE_ALL_EXCEPT);
}

static sigjmp_buf back;

static void on_fpe(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    printf("signal %d si_code %d (FPE_FLTDIV %d)\n", sig, info->si_code, FPE_FLTDIV);
    siglongjmp(back, 1);
}

int vt_fenv(int argc, char **argv) {
    (void)argc, (void)argv;
    feclearexcept(FE_ALL_EXCEPT);
    flags("1/0", one / zero);
    flags("DBL_MAX*2", max * 2);
    flags("1/3", one / three);
    flags("sqrt(-1)", sqrt(minus_one));
    flags("1/1", one / one);
    flags("DBL_MIN/3", DBL_MIN / three);
    volatile float x = 1.0f, y = 1.0f, z = 0x1p-80f, m = 0x1.000002p0f;
    for (int upward = 0; upward < 2; upward++) {
        fesetround(upward ? FE_UPWARD : FE_TONEAREST);
        printf("%s: fmaf(1, 1, 2^-80) = %a, fmaf(1+2^-23, 1+2^-23, -1) = %a\n", upward ? "upward" : "nearest",
               (double)fmaf(x, y, z), (double)fmaf(m, m, -1.0f));
    }
    fesetround(FE_TONEAREST);
    feclearexcept(FE_ALL_EXCEPT);

    struct sigaction sa = {0};
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &sa, NULL);
    if (sigsetjmp(back, 1) == 0) {
        feenableexcept(FE_DIVBYZERO);
        volatile double r = one / zero;
        printf("no signal: %a\n", r);
    }
    fedisableexcept(FE_ALL_EXCEPT);
    printf("after the handler: divbyzero %d\n", !!fetestexcept(FE_DIVBYZERO));
    feclearexcept(FE_ALL_EXCEPT);
    return 0;
}
