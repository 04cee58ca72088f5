/* SIMD: SSE to SSE4.2 over a stream of vectors that mix random bits with
 * the values hosts disagree on (NaNs with payloads, infinities, signed
 * zeros, denormals, integer limits). Each group of operations folds its
 * results into a checksum that is printed; float operations run under
 * every MXCSR rounding mode. The last results are left in XMM0-15, so the
 * final state holds them too. RCP and RSQRT are left out (visa returns the
 * correctly rounded values, processors their own approximations). */
#include "rt.h"
#include <nmmintrin.h>

#define ROUNDS 600

static u64 seed = 0x243f6a8885a308d3ull;

static u64 next(void) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static const u32 SPECIAL32[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00001, 0xffc12345,
    0x00000001, 0x807fffff, 0x3f800000, 0xbf800000, 0x4f000000, 0xcf000000, 0x7f7fffff, 0x5f000000,
};

static const u64 SPECIAL64[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
    0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff4000000000001ull, 0xfff8000012345678ull,
    0x0000000000000001ull, 0x800fffffffffffffull, 0x3ff0000000000000ull, 0xc3e0000000000000ull,
    0x43e0000000000000ull, 0x41e0000000000000ull, 0x7fefffffffffffffull, 0x3fe0000000000001ull,
};

/* A 32-bit lane: a special value, an ordinary float, or random bits. */
static u32 lane32(void) {
    u64 r = next();
    switch (r & 3) {
    case 0:
        return SPECIAL32[(r >> 2) & 15];
    case 1: {
        union { float f; u32 u; } v = {.f = (float)(i64)((r >> 8) & 0xfffff) / 64.0f - 8000.0f};
        return v.u;
    }
    default:
        return (u32)(r >> 16);
    }
}

static u64 lane64(void) {
    u64 r = next();
    switch (r & 3) {
    case 0:
        return SPECIAL64[(r >> 2) & 15];
    case 1: {
        union { double f; u64 u; } v = {.f = (double)(i64)((r >> 8) & 0xffffff) / 1024.0 - 8000.0};
        return v.u;
    }
    default:
        return next();
    }
}

static __m128i vec32(void) { return _mm_set_epi32((int)lane32(), (int)lane32(), (int)lane32(), (int)lane32()); }
static __m128i vec64(void) { return _mm_set_epi64x((i64)lane64(), (i64)lane64()); }
static __m128i vecint(void) { return _mm_set_epi64x((i64)next(), (i64)next()); }

#define GROUPS 8
static const char *const NAMES[GROUPS] = {"ps arith", "pd arith", "compare", "convert",
                                          "int arith", "shuffle", "sse4", "strings"};
static u64 sums[GROUPS];
/* The last result of each slot, loaded into XMM0-15 at the end. */
static __m128i last[16];

static void fold(int group, int slot, __m128i v) {
    u64 lo = (u64)_mm_cvtsi128_si64(v), hi = (u64)_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v));
    u64 h = sums[group];
    h = (h ^ lo) * 0x100000001b3ull;
    h = (h ^ hi) * 0x100000001b3ull;
    sums[group] = h;
    last[slot & 15] = v;
}

static void fold_int(int group, u64 v) { fold(group, 15, _mm_set_epi64x(0, (i64)v)); }

/* NaN lanes made +0.0: which of several NaN products DPPS and DPPD return
 * differs between Intel and AMD (see src/oracle/vendors.rs), while the NaNs
 * the products make themselves (infinity times zero) are all the default
 * NaN. */
static __m128 ordered_ps(__m128 x) { return _mm_and_ps(x, _mm_cmpord_ps(x, x)); }
static __m128d ordered_pd(__m128d x) { return _mm_and_pd(x, _mm_cmpord_pd(x, x)); }

static void float_ops(void) {
    __m128 a = _mm_castsi128_ps(vec32()), b = _mm_castsi128_ps(vec32());
    fold(0, 0, _mm_castps_si128(_mm_add_ps(a, b)));
    fold(0, 1, _mm_castps_si128(_mm_sub_ps(a, b)));
    fold(0, 2, _mm_castps_si128(_mm_mul_ps(a, b)));
    fold(0, 3, _mm_castps_si128(_mm_div_ps(a, b)));
    fold(0, 4, _mm_castps_si128(_mm_sqrt_ps(a)));
    fold(0, 5, _mm_castps_si128(_mm_min_ps(a, b)));
    fold(0, 6, _mm_castps_si128(_mm_max_ps(a, b)));
    fold(0, 7, _mm_castps_si128(_mm_add_ss(a, b)));
    fold(0, 8, _mm_castps_si128(_mm_hadd_ps(a, b)));
    fold(0, 9, _mm_castps_si128(_mm_addsub_ps(a, b)));
    fold(0, 10, _mm_castps_si128(_mm_dp_ps(ordered_ps(a), ordered_ps(b), 0xf3)));
    fold(0, 11, _mm_castps_si128(_mm_round_ps(a, _MM_FROUND_CUR_DIRECTION)));
    fold(0, 12, _mm_castps_si128(_mm_round_ps(b, _MM_FROUND_TO_ZERO)));

    __m128d c = _mm_castsi128_pd(vec64()), d = _mm_castsi128_pd(vec64());
    fold(1, 0, _mm_castpd_si128(_mm_add_pd(c, d)));
    fold(1, 1, _mm_castpd_si128(_mm_sub_pd(c, d)));
    fold(1, 2, _mm_castpd_si128(_mm_mul_pd(c, d)));
    fold(1, 3, _mm_castpd_si128(_mm_div_pd(c, d)));
    fold(1, 4, _mm_castpd_si128(_mm_sqrt_pd(c)));
    fold(1, 5, _mm_castpd_si128(_mm_min_pd(c, d)));
    fold(1, 6, _mm_castpd_si128(_mm_max_pd(c, d)));
    fold(1, 7, _mm_castpd_si128(_mm_mul_sd(c, d)));
    fold(1, 8, _mm_castpd_si128(_mm_hsub_pd(c, d)));
    fold(1, 9, _mm_castpd_si128(_mm_dp_pd(ordered_pd(c), ordered_pd(d), 0x31)));
    fold(1, 10, _mm_castpd_si128(_mm_round_pd(c, _MM_FROUND_TO_NEG_INF)));
    fold(1, 11, _mm_castpd_si128(_mm_round_pd(d, _MM_FROUND_CUR_DIRECTION)));

    fold(2, 0, _mm_castps_si128(_mm_cmplt_ps(a, b)));
    fold(2, 1, _mm_castps_si128(_mm_cmpunord_ps(a, b)));
    fold(2, 2, _mm_castps_si128(_mm_cmpnle_ps(a, b)));
    fold(2, 3, _mm_castpd_si128(_mm_cmpeq_pd(c, d)));
    fold(2, 4, _mm_castpd_si128(_mm_cmpord_pd(c, d)));
    fold_int(2, (u64)(_mm_comilt_ss(a, b) | _mm_ucomieq_sd(c, d) << 1 | _mm_comige_sd(c, d) << 2 |
                      _mm_movemask_ps(a) << 3 | _mm_movemask_pd(c) << 7));

    fold(3, 0, _mm_cvtps_epi32(a));
    fold(3, 1, _mm_cvttps_epi32(b));
    fold(3, 2, _mm_castps_si128(_mm_cvtepi32_ps(vecint())));
    fold(3, 3, _mm_castpd_si128(_mm_cvtps_pd(a)));
    fold(3, 4, _mm_castps_si128(_mm_cvtpd_ps(c)));
    fold(3, 5, _mm_cvtpd_epi32(d));
    fold(3, 6, _mm_cvttpd_epi32(c));
    fold_int(3, (u64)_mm_cvtsd_si64(c) ^ (u64)_mm_cvttsd_si64(d) << 1 ^ (u64)_mm_cvtss_si64(a) << 2 ^
                    (u64)_mm_cvttss_si32(b));
    fold(3, 7, _mm_castpd_si128(_mm_cvtsi64_sd(c, (i64)next())));
}

static void int_ops(void) {
    __m128i a = vecint(), b = vecint();
    fold(4, 0, _mm_adds_epi8(a, b));
    fold(4, 1, _mm_subs_epu16(a, b));
    fold(4, 2, _mm_mulhi_epi16(a, b));
    fold(4, 3, _mm_mullo_epi16(a, b));
    fold(4, 4, _mm_mul_epu32(a, b));
    fold(4, 5, _mm_madd_epi16(a, b));
    fold(4, 6, _mm_sad_epu8(a, b));
    fold(4, 7, _mm_avg_epu8(a, b));
    fold(4, 8, _mm_maddubs_epi16(a, b));
    fold(4, 9, _mm_mulhrs_epi16(a, b));
    fold(4, 10, _mm_sign_epi16(a, b));
    fold(4, 11, _mm_abs_epi32(a));
    fold(4, 12, _mm_sll_epi32(a, _mm_set_epi64x(0, (i64)(next() & 63))));
    fold(4, 13, _mm_sra_epi16(a, _mm_set_epi64x(0, (i64)(next() & 31))));
    fold(4, 14, _mm_srl_epi64(b, _mm_set_epi64x(0, (i64)(next() & 127))));
    fold(4, 15, _mm_cmpgt_epi8(a, b));

    fold(5, 0, _mm_shuffle_epi8(a, b));
    fold(5, 1, _mm_alignr_epi8(a, b, 5));
    fold(5, 2, _mm_packs_epi32(a, b));
    fold(5, 3, _mm_packus_epi16(a, b));
    fold(5, 4, _mm_unpackhi_epi8(a, b));
    fold(5, 5, _mm_shuffle_epi32(a, 0x1b));
    fold(5, 6, _mm_shufflehi_epi16(b, 0x72));
    fold(5, 7, _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), 0xc6)));
    fold(5, 8, _mm_slli_si128(a, 7));
    fold_int(5, (u64)_mm_movemask_epi8(a) | (u64)_mm_extract_epi16(b, 3) << 16);

    fold(6, 0, _mm_packus_epi32(a, b));
    fold(6, 1, _mm_min_epi32(a, b));
    fold(6, 2, _mm_max_epu16(a, b));
    fold(6, 3, _mm_mullo_epi32(a, b));
    fold(6, 4, _mm_mul_epi32(a, b));
    fold(6, 5, _mm_cmpgt_epi64(a, b));
    fold(6, 6, _mm_cmpeq_epi64(a, _mm_blend_epi16(a, b, 0x0f)));
    fold(6, 7, _mm_blendv_epi8(a, b, vecint()));
    fold(6, 8, _mm_minpos_epu16(a));
    fold(6, 9, _mm_mpsadbw_epu8(a, b, 5));
    fold(6, 10, _mm_cvtepi8_epi32(a));
    fold(6, 11, _mm_cvtepu16_epi64(b));
    fold(6, 12, _mm_insert_epi32(a, (int)next(), 2));
    fold(6, 13, _mm_castps_si128(_mm_insert_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), 0x9a)));
    fold(6, 14, _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), _mm_castsi128_ps(vec32()))));
    fold_int(6, (u64)_mm_testz_si128(a, b) | (u64)_mm_testc_si128(a, b) << 1 | (u64)_mm_extract_epi8(a, 9) << 2 |
                    ((u64)_mm_crc32_u64(next(), next()) << 10 ^ (u64)_mm_crc32_u8((u32)next(), (u8)next())));

    /* Strings: short random alphabets, so matches happen. */
    __m128i s = _mm_and_si128(a, _mm_set1_epi8(0x43)), t = _mm_and_si128(b, _mm_set1_epi8(0x43));
    int la = (int)(next() % 18), lb = (int)(next() % 18);
    fold(7, 0, _mm_cmpistrm(s, t, _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_ANY | _SIDD_UNIT_MASK));
    fold(7, 1, _mm_cmpestrm(s, la, t, lb, _SIDD_UWORD_OPS | _SIDD_CMP_RANGES | _SIDD_BIT_MASK));
    fold_int(7, (u64)_mm_cmpistri(s, t, _SIDD_SBYTE_OPS | _SIDD_CMP_EQUAL_ORDERED) |
                    (u64)_mm_cmpestri(s, la, t, lb, _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_EACH | _SIDD_NEGATIVE_POLARITY |
                                                        _SIDD_MOST_SIGNIFICANT)
                        << 8 |
                    (u64)_mm_cmpistrc(s, t, _SIDD_UWORD_OPS | _SIDD_CMP_EQUAL_ANY) << 16);
}

int guest_main(void) {
    for (u32 mode = 0; mode < 4; mode++) {
        _mm_setcsr(0x1f80 | mode << 13);
        for (int i = 0; i < ROUNDS; i++)
            float_ops();
    }
    _mm_setcsr(0x1f80);
    for (int i = 0; i < ROUNDS; i++)
        int_ops();
    for (int g = 0; g < GROUPS; g++) {
        rt_puts(NAMES[g]);
        rt_puts(": ");
        rt_put_hex(sums[g], 16);
        rt_putc('\n');
    }
    rt_exit_loaded(0, last, 0);
}
