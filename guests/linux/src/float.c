/* float: floating point through the C library: printf of float, double and
 * long double (%f %e %g %a), strtod, strtof and strtold, libm functions,
 * conversions between floats and integers, the four rounding modes with
 * rint, nearbyint and lrint, exception flags, and x87 long double
 * arithmetic. Every value is printed exactly (%a) or with enough digits. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "vt.h"

static volatile double vd[] = {0.1, 1.0 / 3, -2.5, 123456789.125, 5e-324, 1.7976931348623157e308, -0.0, 1e-310, 1e22,
                               0.5};

static void printing(void) {
    for (size_t i = 0; i < sizeof vd / sizeof vd[0]; i++) {
        double d = vd[i];
        printf("%%f %f | %%e %e | %%g %g | %%.17g %.17g | %%a %a\n", d, d, d, d, d);
    }
    volatile double inf = 1e308, nan;
    inf *= 10;
    nan = inf - inf;
    printf("inf %f %e %g %a, -inf %f, nan sign-free %d\n", inf, inf, inf, inf, -inf, isnan(nan) != 0);
    volatile float f = 1.0f / 3, g = 16777217.0f, h = 1e-45f;
    printf("float %.9g %a %.9g %a\n", (double)f, (double)f, (double)g, (double)h);
    printf("%.30f\n%.0f %.0f %.0f %.0f\n", vd[0], 0.5, 1.5, 2.5, -0.5);
    printf("%10.3f|%-10.2e|%+g|% g|%#g|%08.2f\n", 3.14159, 2.71828, 1.0, 2.0, 3.0, -1.5);
    volatile long double l = 1.0L / 3, big = 1e4000L, tiny = 1e-4940L;
    printf("long double %Lf %.21Le %Lg %La\n", l, l, l, l);
    printf("1e4000L %Le, 1e-4940L %Le %La, LDBL_MAX %La\n", big, tiny, tiny, (long double)LDBL_MAX);
}

static void parsing(void) {
    const char *in[] = {"3.14159", "1e-400", "0x1.8p3", "inf", "-nan", "1e310", "  -12.5e2xyz", "2.2250738585072011e-308",
                        "0.1000000000000000055511151231257827", "1e-320", "abc", "4.9406564584124654e-324"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *end;
        errno = 0;
        double d = strtod(in[i], &end);
        int e = errno;
        errno = 0;
        float f = strtof(in[i], NULL);
        int ef = errno;
        long double l = strtold(in[i], NULL);
        printf("\"%s\": strtod %a (%s, %ld used), strtof %a (%s), strtold %La\n", in[i], d, e ? errname(e) : "ok",
               (long)(end - in[i]), (double)f, ef ? errname(ef) : "ok", l);
    }
    printf("atof %a, atoi-like strtol %ld\n", atof("6.02214076e23"), strtol("  -42z", NULL, 10));
}

static void libm(void) {
    volatile double xs[] = {0.5, 1.0, 2.0, 10.0, -3.25, 1e-8, 100.0};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double x = xs[i];
        printf("x=%g sin %.15g cos %.15g tan %.15g exp %.15g log %.15g sqrt %.15g\n", x, sin(x), cos(x), tan(x),
               exp(x), log(fabs(x)), sqrt(fabs(x)));
        printf("  pow(x,1.5) %.15g fmod(x,0.75) %.17g atan2(x,2) %.15g cbrt %.15g hypot(x,3) %.17g\n",
               pow(fabs(x), 1.5), fmod(x, 0.75), atan2(x, 2), cbrt(x), hypot(x, 3));
        printf("  floor %g ceil %g round %g trunc %g log10 %.15g exp2 %.15g expm1 %.15g log1p %.15g\n", floor(x),
               ceil(x), round(x), trunc(x), log10(fabs(x)), exp2(x), expm1(x), log1p(fabs(x)));
        float xf = (float)x;
        printf("  sinf %a sqrtf %a expf %a logf %a powf %a\n", (double)sinf(xf), (double)sqrtf(fabsf(xf)),
               (double)expf(xf), (double)logf(fabsf(xf)), (double)powf(fabsf(xf), 0.5f));
    }
    volatile double neg = -1.0;
    printf("sqrt(-1) nan %d, log(0) %g, pow(0,-1) %g, fmod(1,0) nan %d\n", isnan(sqrt(neg)) != 0, log(neg + 1),
           pow(neg + 1, -1), isnan(fmod(1, neg + 1)) != 0);
    printf("frexp/ldexp: ");
    int ex;
    double m = frexp(vd[3], &ex);
    printf("%a * 2^%d, ldexp %a, modf ", m, ex, ldexp(m, ex));
    double ip;
    double fp = modf(vd[2], &ip);
    printf("%g %g, fma %a\n", ip, fp, fma(vd[0], 10.0, -1.0));
}

static void conversions(void) {
    volatile double ds[] = {3.99, -3.99, 2.5, -2.5, 1e19, -1e19, 4294967296.5, 9.2233720368547758e18, 1e300, -0.0};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        double d = ds[i];
        volatile int32_t i32 = (int32_t)(int64_t)d;
        printf("%g: (int64) %lld (int32 of int64) %d (uint64) %llu (float) %a\n", d, (long long)(int64_t)d, i32,
               (unsigned long long)(uint64_t)(d < 0 ? -d : d), (double)(float)d);
    }
    volatile int64_t is[] = {1, -1, INT64_MAX, INT64_MIN, 9007199254740993LL, 16777217};
    for (size_t i = 0; i < sizeof is / sizeof is[0]; i++)
        printf("%lld: (double) %a (float) %a (long double) %La (unsigned to double) %a\n", (long long)is[i],
               (double)is[i], (double)(float)is[i], (long double)is[i], (double)(uint64_t)is[i]);
    volatile float nanf_ = NAN;
    volatile double huge = 1e30;
    printf("(int)nan %d, (int)1e30 %d, (long)1e30 %ld\n", (int)nanf_, (int)huge, (long)huge);
    volatile long double ld = 12345678901234567890.0L;
    printf("long double to uint64 %llu, to int64 %lld\n", (unsigned long long)ld, (long long)(ld / 2));
}

static void rounding(void) {
    const int modes[] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
    const char *names[] = {"nearest", "down", "up", "toward zero"};
    volatile double one = 1.0, three = 3.0, h = 2.5, m = -2.5, big = 1e16;
    volatile long double lone = 1.0L, lthree = 3.0L;
    volatile float fone = 1.0f, fthree = 3.0f;
    for (int i = 0; i < 4; i++) {
        printf("%s: fesetround %d, fegetround ok %d\n", names[i], fesetround(modes[i]), fegetround() == modes[i]);
        printf("  rint(2.5) %g rint(-2.5) %g nearbyint(3.5) %g nearbyint(-0.5) %g lrint(2.5) %ld llrint(-1.5) %lld\n",
               rint(h), rint(m), nearbyint(h + 1), nearbyint(m + 2), lrint(h), llrint(m + 1));
        printf("  1/3 %a  -1/3 %a  1e16+1 %a  sqrt(2) %a\n", one / three, -one / three, big + one, sqrt(one + one));
        printf("  float 1/3 %a  long double 1/3 %La  -1/3 %La  sqrtl(2) %La\n", (double)(fone / fthree),
               lone / lthree, -lone / lthree, sqrtl(lone + lone));
        printf("  (int)2.7 %d (int)-2.7 %d rintf(0.5) %g rintl(-0.5) %Lg\n", (int)(h + 0.2), (int)(m - 0.2),
               (double)rintf(0.5f + fone - 1), rintl(lone - 1.5L));
    }
    fesetround(FE_TONEAREST);
}

/* Exception flags of x87 arithmetic (fetestexcept reads the x87 status
 * word and MXCSR together; visa leaves MXCSR's flags clear, a documented
 * departure, so only x87 operations raise them here). */
static void exceptions(void) {
    volatile long double zero = 0.0L, one = 1.0L, tiny = 1e-4000L, huge = 1e4000L;
    feclearexcept(FE_ALL_EXCEPT);
    volatile long double r = one / zero;
    printf("1/0 = %Lg: divbyzero %d invalid %d\n", r, !!fetestexcept(FE_DIVBYZERO), !!fetestexcept(FE_INVALID));
    feclearexcept(FE_ALL_EXCEPT);
    r = zero / zero;
    printf("0/0 nan %d: invalid %d\n", isnan(r) != 0, !!fetestexcept(FE_INVALID));
    feclearexcept(FE_ALL_EXCEPT);
    r = one / 3;
    printf("1/3: inexact %d overflow %d\n", !!fetestexcept(FE_INEXACT), !!fetestexcept(FE_OVERFLOW));
    feclearexcept(FE_ALL_EXCEPT);
    r = tiny * tiny;
    printf("1e-4000^2 = %Lg: underflow %d inexact %d\n", r, !!fetestexcept(FE_UNDERFLOW), !!fetestexcept(FE_INEXACT));
    feclearexcept(FE_ALL_EXCEPT);
    r = huge * huge;
    printf("1e4000^2 = %Lg: overflow %d\n", r, !!fetestexcept(FE_OVERFLOW));
    feclearexcept(FE_ALL_EXCEPT);
    r = sqrtl(-one);
    printf("sqrtl(-1) nan %d: invalid %d\n", isnan(r) != 0, !!fetestexcept(FE_INVALID));
    feclearexcept(FE_ALL_EXCEPT);
    printf("after clearing: %d\n", fetestexcept(FE_ALL_EXCEPT));
    feraiseexcept(FE_OVERFLOW | FE_INEXACT);
    printf("feraiseexcept: overflow %d inexact %d divbyzero %d\n", !!fetestexcept(FE_OVERFLOW),
           !!fetestexcept(FE_INEXACT), !!fetestexcept(FE_DIVBYZERO));
    fexcept_t saved;
    fegetexceptflag(&saved, FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    fesetexceptflag(&saved, FE_OVERFLOW);
    printf("fesetexceptflag: overflow %d inexact %d\n", !!fetestexcept(FE_OVERFLOW), !!fetestexcept(FE_INEXACT));
    feclearexcept(FE_ALL_EXCEPT);
}

static void x87(void) {
    volatile long double a = 1.1L, b = 3.0L, c = -0.0L;
    long double s = 0;
    for (int i = 1; i <= 100; i++) s += a / (b * i);
    printf("sum %La %.21Lg\n", s, s);
    printf("mul %La div %La sub %La neg zero %La\n", a * b, a / b, a - b, c);
    printf("sqrtl %La fabsl %La floorl %La ceill %La truncl %La roundl %La\n", sqrtl(a), fabsl(-a), floorl(-a),
           ceill(a), truncl(-a), roundl(a * 5));
    printf("expl %.19Lg logl %.19Lg powl %.19Lg sinl %.19Lg cosl %.19Lg atanl %.19Lg\n", expl(a), logl(b),
           powl(a, b), sinl(a), cosl(a), atanl(a));
    printf("fmodl %La remainderl %La ldexpl %La\n", fmodl(b * 7, a), remainderl(b * 7, a), ldexpl(a, 1000));
    long double big = 1.0L;
    for (int i = 0; i < 100; i++) big *= 1e100L;
    printf("1e10000 %Le, compare %d %d %d\n", big, a < b, a == a, c == 0);
    volatile long double one = 1.0L, eps = LDBL_EPSILON;
    printf("1+eps %La eps %La (long double)(double)(1+eps) %La\n", one + eps, eps, (long double)(double)(one + eps));
}

int vt_float(int argc, char **argv) {
    (void)argc, (void)argv;
    printing();
    parsing();
    libm();
    conversions();
    rounding();
    exceptions();
    x87();
    return 0;
}
