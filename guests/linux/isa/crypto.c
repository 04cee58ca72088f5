// AES-128, SHA-1, SHA-256 and carry-less multiplication, each computed with
// the instructions made for it when CPUID reports them and always in plain
// C, and compared: what a C library or OpenSSL does on its fast paths.
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// ---- plain C ----

static uint8_t xtime(uint8_t x) { return (uint8_t)(x << 1) ^ ((x >> 7) * 0x1b); }

static uint8_t gmul(uint8_t a, uint8_t b) {
    uint8_t p = 0;
    for (; b; b >>= 1, a = xtime(a))
        if (b & 1) p ^= a;
    return p;
}

static uint8_t sbox[256];

static void make_sbox(void) {
    for (int x = 0; x < 256; x++) {
        uint8_t inv = 0;
        for (int y = 1; y < 256 && x; y++)
            if (gmul((uint8_t)x, (uint8_t)y) == 1) inv = (uint8_t)y;
        uint8_t s = inv;
        for (int r = 1; r < 5; r++) s ^= (uint8_t)((inv << r) | (inv >> (8 - r)));
        sbox[x] = s ^ 0x63;
    }
}

static void aes128_plain(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) {
    uint8_t rk[176], s[16], t[16];
    memcpy(rk, key, 16);
    uint8_t rcon = 1;
    for (int i = 16; i < 176; i += 4) {
        uint8_t w[4] = {rk[i - 4], rk[i - 3], rk[i - 2], rk[i - 1]};
        if (i % 16 == 0) {
            uint8_t f = w[0];
            w[0] = sbox[w[1]] ^ rcon, w[1] = sbox[w[2]], w[2] = sbox[w[3]], w[3] = sbox[f];
            rcon = xtime(rcon);
        }
        for (int k = 0; k < 4; k++) rk[i + k] = rk[i - 16 + k] ^ w[k];
    }
    for (int i = 0; i < 16; i++) s[i] = in[i] ^ rk[i];
    for (int round = 1; round <= 10; round++) {
        for (int i = 0; i < 16; i++) t[i] = sbox[s[(i + 4 * (i % 4)) % 16]];
        for (int c = 0; c < 4 && round < 10; c++) {
            uint8_t *col = t + 4 * c, a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3];
            col[0] = xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3;
            col[1] = a0 ^ xtime(a1) ^ xtime(a2) ^ a2 ^ a3;
            col[2] = a0 ^ a1 ^ xtime(a2) ^ xtime(a3) ^ a3;
            col[3] = xtime(a0) ^ a0 ^ a1 ^ a2 ^ xtime(a3);
        }
        for (int i = 0; i < 16; i++) s[i] = t[i] ^ rk[16 * round + i];
    }
    memcpy(out, s, 16);
}

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static void sha1_plain(uint32_t h[5], const uint8_t *data, size_t blocks) {
    for (; blocks--; data += 64) {
        uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) w[i] = i < 16 ? be32(data + 4 * i) : rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        for (int i = 0; i < 80; i++) {
            uint32_t f = i < 20 ? (b & c) | (~b & d) : i < 40 ? b ^ c ^ d : i < 60 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d;
            uint32_t k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? 0x8f1bbcdc : 0xca62c1d6;
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
}

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static void sha256_plain(uint32_t h[8], const uint8_t *data, size_t blocks) {
    for (; blocks--; data += 64) {
        uint32_t w[64], v[8];
        for (int i = 0; i < 64; i++)
            w[i] = i < 16 ? be32(data + 4 * i)
                          : (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10)) + w[i - 7] +
                                (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
        memcpy(v, h, 32);
        for (int i = 0; i < 64; i++) {
            uint32_t e = v[4], a = v[0];
            uint32_t t1 = v[7] + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & v[5]) ^ (~e & v[6])) + K256[i] + w[i];
            uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
            memmove(v + 1, v, 28);
            v[4] += t1, v[0] = t1 + t2;
        }
        for (int i = 0; i < 8; i++) h[i] += v[i];
    }
}

static void clmul_plain(uint64_t a, uint64_t b, uint64_t r[2]) {
    r[0] = r[1] = 0;
    for (int i = 0; i < 64; i++)
        if (b >> i & 1) r[0] ^= a << i, r[1] ^= i ? a >> (64 - i) : 0;
}

// ---- the instructions ----

__attribute__((target("aes,sse2"))) static __m128i expand(__m128i k, __m128i t) {
    t = _mm_shuffle_epi32(t, 0xff);
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, t);
}

#define EXPAND(i, rcon) rk[i] = expand(rk[i - 1], _mm_aeskeygenassist_si128(rk[i - 1], rcon))

// Encrypts, then decrypts through the equivalent inverse cipher; returns
// whether the round trip gives the plaintext back.
__attribute__((target("aes,sse2"))) static int aes128_ni(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) {
    __m128i rk[11], dk[11];
    rk[0] = _mm_loadu_si128((const __m128i *)key);
    EXPAND(1, 0x01); EXPAND(2, 0x02); EXPAND(3, 0x04); EXPAND(4, 0x08); EXPAND(5, 0x10);
    EXPAND(6, 0x20); EXPAND(7, 0x40); EXPAND(8, 0x80); EXPAND(9, 0x1b); EXPAND(10, 0x36);
    __m128i s = _mm_xor_si128(_mm_loadu_si128((const __m128i *)in), rk[0]);
    for (int i = 1; i < 10; i++) s = _mm_aesenc_si128(s, rk[i]);
    s = _mm_aesenclast_si128(s, rk[10]);
    _mm_storeu_si128((__m128i *)out, s);
    dk[0] = rk[10], dk[10] = rk[0];
    for (int i = 1; i < 10; i++) dk[i] = _mm_aesimc_si128(rk[10 - i]);
    s = _mm_xor_si128(s, dk[0]);
    for (int i = 1; i < 10; i++) s = _mm_aesdec_si128(s, dk[i]);
    s = _mm_aesdeclast_si128(s, dk[10]);
    uint8_t back[16];
    _mm_storeu_si128((__m128i *)back, s);
    return memcmp(back, in, 16) == 0;
}

__attribute__((target("sha,sse4.1"))) static void sha1_ni(uint32_t h[5], const uint8_t *data, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1b);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
    for (; blocks--; data += 64) {
        __m128i w[20], abcd_save = abcd, e_save = e0, prev = abcd, e;
        for (int i = 0; i < 20; i++) {
            if (i < 4)
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), mask);
            else
                w[i] = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(w[i - 4], w[i - 3]), w[i - 2]), w[i - 1]);
            e = i == 0 ? _mm_add_epi32(e0, w[0]) : _mm_sha1nexte_epu32(prev, w[i]);
            prev = abcd;
            switch (i / 5) {
            case 0: abcd = _mm_sha1rnds4_epu32(abcd, e, 0); break;
            case 1: abcd = _mm_sha1rnds4_epu32(abcd, e, 1); break;
            case 2: abcd = _mm_sha1rnds4_epu32(abcd, e, 2); break;
            default: abcd = _mm_sha1rnds4_epu32(abcd, e, 3); break;
            }
        }
        e0 = _mm_sha1nexte_epu32(prev, e_save);
        abcd = _mm_add_epi32(abcd, abcd_save);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1b));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

__attribute__((target("sha,sse4.1"))) static void sha256_ni(uint32_t h[8], const uint8_t *data, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0xb1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(h + 4)), 0x1b);
    __m128i s0 = _mm_alignr_epi8(dcba, efgh, 8), s1 = _mm_blend_epi16(efgh, dcba, 0xf0);
    for (; blocks--; data += 64) {
        __m128i w[16], save0 = s0, save1 = s1;
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), mask);
            else
                w[i] = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]), _mm_alignr_epi8(w[i - 1], w[i - 2], 4)),
                    w[i - 1]);
            __m128i m = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)(K256 + 4 * i)));
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0e));
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
    }
    __m128i feba = _mm_shuffle_epi32(s0, 0x1b), dchg = _mm_shuffle_epi32(s1, 0xb1);
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xf0));
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}

__attribute__((target("pclmul,sse2"))) static void clmul_ni(uint64_t a, uint64_t b, uint64_t r[2]) {
    __m128i p = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)a), _mm_set_epi64x((long long)b, 0), 0x10);
    _mm_storeu_si128((__m128i *)r, p);
}

static void hex(const char *name, const void *p, size_t n) {
    printf("%s ", name);
    for (size_t i = 0; i < n; i++) printf("%02x", ((const uint8_t *)p)[i]);
    printf("\n");
}

static void check(const char *what, int same) { printf("%s: %s\n", what, same ? "agrees" : "MISMATCH"); }

int subject_crypto(void) {
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    int has_aes = c >> 25 & 1, has_clmul = c >> 1 & 1;
    __cpuid_count(7, 0, a, b, c, d);
    int has_sha = b >> 29 & 1;
    printf("aes-ni %s, pclmulqdq %s, sha %s\n", has_aes ? "used" : "absent", has_clmul ? "used" : "absent",
           has_sha ? "used" : "absent");
    make_sbox();

    // FIPS-197 C.1, then a chain of 200 blocks under a changing key.
    uint8_t key[16], blk[16], out[16], ref[16];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)i, blk[i] = (uint8_t)(0x11 * i);
    aes128_plain(key, blk, ref);
    hex("aes128", ref, 16);
    int aes_ok = 1;
    for (int n = 0; n < 200; n++) {
        aes128_plain(key, blk, ref);
        if (has_aes) aes_ok &= aes128_ni(key, blk, out) && memcmp(out, ref, 16) == 0;
        for (int i = 0; i < 16; i++) key[i] ^= ref[(i + n) % 16], blk[i] = ref[i];
    }
    hex("aes128 chain", ref, 16);
    check("aes-ni", aes_ok);

    static uint8_t msg[64 * 300];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 131 + (i >> 8));
    uint32_t h1[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}, g1[5];
    memcpy(g1, h1, sizeof g1);
    sha1_plain(h1, msg, 300);
    hex("sha1", h1, 20);
    if (has_sha) sha1_ni(g1, msg, 300);
    check("sha1 (sha)", !has_sha || memcmp(g1, h1, 20) == 0);

    uint32_t h2[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19},
             g2[8];
    memcpy(g2, h2, sizeof g2);
    sha256_plain(h2, msg, 300);
    hex("sha256", h2, 32);
    if (has_sha) sha256_ni(g2, msg, 300);
    check("sha256 (sha)", !has_sha || memcmp(g2, h2, 32) == 0);

    uint64_t x = 0x9e3779b97f4a7c15ULL, acc[2] = {0, 0};
    int clmul_ok = 1;
    for (int n = 0; n < 500; n++) {
        uint64_t y = x * 0xbf58476d1ce4e5b9ULL + (uint64_t)n, r[2], q[2];
        clmul_plain(x, y, r);
        if (has_clmul) clmul_ni(x, y, q), clmul_ok &= q[0] == r[0] && q[1] == r[1];
        acc[0] ^= r[0], acc[1] ^= r[1], x = y ^ r[1];
    }
    hex("clmul", acc, 16);
    check("pclmulqdq", clmul_ok);
    return 0;
}
