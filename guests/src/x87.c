/* x87: 80-bit arithmetic over values that mix random significands with
 * the edge cases (NaNs with payloads, infinities, signed zeros, denormals,
 * the largest and smallest normals) under every rounding and precision
 * control, with integer and BCD conversions, FPREM, FSCALE and FXTRACT.
 * Each group's results and status words are folded into a printed
 * checksum. The transcendental instructions (which may differ from a
 * processor in the last place) are not printed: their results are left on
 * the x87 stack, so the final state holds them. */
#include "rt.h"

#define ROUNDS 400

static u64 seed = 0x13198a2e03707344ull;

static u64 next(void) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

typedef union {
    long double f;
    struct {
        u64 mant;
        u16 exp;
    } b;
} ext;

static const struct {
    u64 mant;
    u16 exp;
} SPECIAL[] = {
    {0, 0},
    {0, 0x8000},
    {0x8000000000000000ull, 0x7fff},
    {0x8000000000000000ull, 0xffff},
    {0xc000000000000000ull, 0x7fff},
    {0xc000000000000000ull, 0xffff},
    {0xa000000000000001ull, 0x7fff},
    {0xc000000012345678ull, 0xffff},
    {1, 0},
    {0x7fffffffffffffffull, 0x8000},
    {0x8000000000000000ull, 0x3fff},
    {0xffffffffffffffffull, 0x7ffe},
    {0x8000000000000000ull, 0x0001},
    {0x8000000000000000ull, 0x403e},
    {0xffffffffffffffffull, 0x3ffe},
    {0xc90fdaa22168c235ull, 0x4000},
};

/* A special value, a number near one, or a normal of any magnitude. */
static long double value(void) {
    u64 r = next();
    ext v;
    switch (r & 3) {
    case 0:
        v.b.mant = SPECIAL[(r >> 2) & 15].mant;
        v.b.exp = SPECIAL[(r >> 2) & 15].exp;
        break;
    case 1:
        v.b.mant = next() | 1ull << 63;
        v.b.exp = (u16)(0x3ff0 + ((r >> 8) & 31)) | (u16)(r >> 15 & 0x8000);
        break;
    default:
        v.b.mant = next() | 1ull << 63;
        v.b.exp = (u16)((r >> 8) % 0x7ffe + 1) | (u16)(r >> 15 & 0x8000);
    }
    return v.f;
}

#define GROUPS 5
static const char *const NAMES[GROUPS] = {"arith", "compare", "integer", "scale", "control"};
static u64 sums[GROUPS];

static void fold_int(int group, u64 x) { sums[group] = (sums[group] ^ x) * 0x100000001b3ull; }

/* A status word without TOP, which depends on how deep the compiler's
 * values sit on the stack. */
static u64 sw_bits(u16 sw) { return sw & 0xc7ff; }

/* A result with the status word of the instruction that made it (every
 * asm below clears the exception flags first). */
static void fold(int group, long double x, u16 sw) {
    ext v = {.f = x};
    fold_int(group, v.b.mant);
    fold_int(group, v.b.exp | sw_bits(sw) << 16);
}

/* ST(0) op ST(1), ST(1) left in place. */
#define OP2(insn, a, b)                                                                     \
    do {                                                                                    \
        long double r_;                                                                     \
        u16 sw_;                                                                            \
        __asm__ volatile("fnclex\n\t" insn "\n\tfnstsw %1" : "=t"(r_), "=a"(sw_) : "0"(a), "u"(b)); \
        fold(group, r_, sw_);                                                               \
    } while (0)

/* ST(0) op a memory operand. */
#define OPM(insn, a, m)                                                                     \
    do {                                                                                    \
        long double r_;                                                                     \
        u16 sw_;                                                                            \
        __asm__ volatile("fnclex\n\t" insn " %2\n\tfnstsw %1" : "=t"(r_), "=a"(sw_) : "m"(m), "0"(a)); \
        fold(group, r_, sw_);                                                               \
    } while (0)

/* An operation on ST(0) alone. */
#define OP1(insn, a)                                                                        \
    do {                                                                                    \
        long double r_;                                                                     \
        u16 sw_;                                                                            \
        __asm__ volatile("fnclex\n\t" insn "\n\tfnstsw %1" : "=t"(r_), "=a"(sw_) : "0"(a)); \
        fold(group, r_, sw_);                                                               \
    } while (0)

static void set_control(u16 cw) { __asm__ volatile("fldcw %0" : : "m"(cw)); }

static void arith(void) {
    long double a = value(), b = value();
    int group = 0;
    OP2("fadd %%st(1), %%st", a, b);
    OP2("fsub %%st(1), %%st", a, b);
    OP2("fsubr %%st(1), %%st", a, b);
    OP2("fmul %%st(1), %%st", a, b);
    OP2("fdiv %%st(1), %%st", a, b);
    OP2("fdivr %%st(1), %%st", a, b);
    OP1("fsqrt", a);
    OP1("frndint", b);
    OP1("fabs", a);
    OP1("fchs", b);
    float f = (float)(i64)next() / 3.0f;
    double d = (double)(i64)next() / 7.0;
    OPM("fmuls", a, f);
    OPM("fdivl", a, d);
    OPM("faddl", b, d);
    OPM("fsubrs", b, f);
    /* Stores that round to the format, through memory and back. */
    long double r;
    u16 sw;
    __asm__ volatile("fnclex\n\tfstps %2\n\tflds %2\n\tfnstsw %1" : "=t"(r), "=a"(sw), "=m"(f) : "0"(a));
    fold(group, r, sw);
    __asm__ volatile("fnclex\n\tfstpl %2\n\tfldl %2\n\tfnstsw %1" : "=t"(r), "=a"(sw), "=m"(d) : "0"(b));
    fold(group, r, sw);

    group = 1;
    u64 flags;
    __asm__ volatile("fnclex\n\tfucomi %%st(1), %%st\n\tpushfq\n\tpopq %0\n\tfnstsw %%ax\n\tshl $16, %0\n\tmov %%ax, %w0"
                     : "=r"(flags)
                     : "t"(a), "u"(b)
                     : "ax", "cc");
    fold_int(group, flags & 0x45c7ffull);
    __asm__ volatile("fnclex\n\tfcom %%st(1)\n\tfnstsw %0" : "=a"(sw) : "t"(a), "u"(b));
    fold_int(group, sw_bits(sw));
    __asm__ volatile("fnclex\n\tfxam\n\tfnstsw %0" : "=a"(sw) : "t"(a));
    fold_int(group, sw & 0x4700);
    __asm__ volatile("fnclex\n\tftst\n\tfnstsw %0" : "=a"(sw) : "t"(b));
    fold_int(group, sw_bits(sw));
}

static void integer(void) {
    long double a = value(), big = a * 1e12L;
    int group = 2;
    i64 q;
    int w;
    short s;
    u16 sw;
    __asm__ volatile("fnclex\n\tfistpll %0\n\tfnstsw %1" : "=m"(q), "=a"(sw) : "t"(a) : "st");
    fold_int(group, (u64)q ^ sw_bits(sw) << 48);
    __asm__ volatile("fnclex\n\tfistpl %0\n\tfnstsw %1" : "=m"(w), "=a"(sw) : "t"(big) : "st");
    fold_int(group, (u64)(u32)w ^ sw_bits(sw) << 48);
    __asm__ volatile("fnclex\n\tfisttps %0\n\tfnstsw %1" : "=m"(s), "=a"(sw) : "t"(a) : "st");
    fold_int(group, (u64)(u16)s ^ sw_bits(sw) << 48);
    u8 bcd[10];
    __asm__ volatile("fnclex\n\tfbstp %0\n\tfnstsw %1" : "=m"(bcd), "=a"(sw) : "t"(big) : "st");
    for (int i = 0; i < 10; i++)
        fold_int(group, bcd[i]);
    fold_int(group, sw_bits(sw));
    long double back;
    __asm__ volatile("fnclex\n\tfbld %2\n\tfnstsw %1" : "=t"(back), "=a"(sw) : "m"(bcd));
    fold(group, back, sw);
    i64 n = (i64)next();
    __asm__ volatile("fnclex\n\tfildll %2\n\tfnstsw %1" : "=t"(back), "=a"(sw) : "m"(n));
    fold(group, back, sw);
}

static void scale(void) {
    long double a = value(), b = value();
    int group = 3;
    OP2("fscale", a, (long double)(i64)(next() % 40000) - 20000);
    OP2("fprem", a, b);
    OP2("fprem1", b, a);
    long double sig, ex;
    u16 sw;
    __asm__ volatile("fnclex\n\tfxtract\n\tfnstsw %2" : "=t"(sig), "=u"(ex), "=a"(sw) : "0"(a));
    fold(group, sig, sw);
    fold(group, ex, sw);
}

/* Transcendental results, for the final state only: the last eight, and a
 * checksum of them all (left in XMM0). */
static long double kept[8];
static u64 hidden[32];

static void transcendental(int i) {
    long double a = value(), b = value(), r;
    switch (i & 7) {
    case 0:
        __asm__("fsin" : "=t"(r) : "0"(a));
        break;
    case 1:
        __asm__("fcos" : "=t"(r) : "0"(a));
        break;
    case 2:
        __asm__("fptan\n\tfstp %%st(0)" : "=t"(r) : "0"(a));
        break;
    case 3:
        __asm__("fpatan" : "=t"(r) : "0"(a), "u"(b) : "st(1)");
        break;
    case 4:
        __asm__("f2xm1" : "=t"(r) : "0"(a / 0x1p16000L));
        break;
    case 5:
        __asm__("fyl2x" : "=t"(r) : "0"(a), "u"(b) : "st(1)");
        break;
    case 6:
        __asm__("fyl2xp1" : "=t"(r) : "0"(a / 0x1p16000L), "u"(b) : "st(1)");
        break;
    default:
        __asm__("fsqrt" : "=t"(r) : "0"(a));
    }
    kept[i & 7] = r;
    ext v = {.f = r};
    hidden[0] = (hidden[0] ^ v.b.mant) * 0x100000001b3ull;
    hidden[1] = (hidden[1] ^ v.b.exp) * 0x100000001b3ull;
}

int guest_main(void) {
    /* Round to nearest, down, up and to zero; 64-, 53- and 24-bit
     * precision; every exception masked. */
    static const u16 PRECISION[3] = {0x0300, 0x0200, 0x0000};
    for (int p = 0; p < 3; p++)
        for (int rc = 0; rc < 4; rc++) {
            u16 cw = 0x007f | PRECISION[p] | (u16)(rc << 10);
            set_control(cw);
            for (int i = 0; i < ROUNDS / 4; i++) {
                arith();
                scale();
            }
            u16 got, sw;
            __asm__ volatile("fnstcw %0\n\tfnstsw %1" : "=m"(got), "=a"(sw));
            fold_int(4, got | sw_bits(sw) << 16);
        }
    set_control(0x037f);
    for (int i = 0; i < ROUNDS; i++)
        integer();
    for (int i = 0; i < ROUNDS; i++)
        transcendental(i);
    for (int g = 0; g < GROUPS; g++) {
        rt_puts(NAMES[g]);
        rt_puts(": ");
        rt_put_hex(sums[g], 16);
        rt_putc('\n');
    }
    rt_exit_loaded(0, hidden, kept);
}
