/* Compression: an LZ77 compressor with hash chains (greedy matching, a 64 KiB
 * window) over 1 MiB of generated text, then decompression and a check that
 * the round trip is exact. Prints the compressed size and a checksum. */
#include "rt.h"

#define LEN (1 << 20)
#define WINDOW (1 << 16)
#define HASH_BITS 15
#define MIN_MATCH 4
#define MAX_MATCH 255
#define MAX_CHAIN 32

static u8 text[LEN];
static u8 packed[LEN + LEN / 8 + 16];
static u8 unpacked[LEN];
static int head[1 << HASH_BITS];
static int prev[WINDOW];

static const char *const words[] = {
    "the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog ", "and ", "a ",
    "virtual ", "instruction ", "set ", "translates ", "guest ", "code ", "into ", "host ",
    "blocks, ", "which ", "run ", "fast. ", "Then ", "it ", "compiles ", "hot ", "loops.\n",
};

static void make_text(void) {
    u64 x = 0x2545f4914f6cdd1dull;
    u64 n = 0;
    while (n < LEN) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const char *w = words[x % (sizeof words / sizeof words[0])];
        while (*w && n < LEN)
            text[n++] = (u8)*w++;
    }
}

static u32 hash4(const u8 *p) {
    u32 v = (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Output: a flag byte per 8 items; a literal is one byte, a match is
 * length (1 byte, minus MIN_MATCH) and distance (2 bytes). */
static u64 compress(const u8 *in, u64 n, u8 *out) {
    for (int i = 0; i < (1 << HASH_BITS); i++)
        head[i] = -1;
    u64 o = 0, i = 0;
    while (i < n) {
        u64 flag_at = o++;
        u8 flags = 0;
        for (int item = 0; item < 8 && i < n; item++) {
            int best_len = 0, best_dist = 0;
            if (i + MIN_MATCH <= n) {
                u32 h = hash4(in + i);
                int cand = head[h];
                for (int chain = 0; cand >= 0 && chain < MAX_CHAIN; chain++) {
                    u64 dist = i - (u64)cand;
                    if (dist >= WINDOW)
                        break;
                    int len = 0;
                    while (len < MAX_MATCH && i + len < n && in[cand + len] == in[i + len])
                        len++;
                    if (len > best_len) {
                        best_len = len;
                        best_dist = (int)dist;
                    }
                    cand = prev[cand % WINDOW];
                }
            }
            int step = best_len >= MIN_MATCH ? best_len : 1;
            if (best_len >= MIN_MATCH) {
                flags |= (u8)(1 << item);
                out[o++] = (u8)(best_len - MIN_MATCH);
                out[o++] = (u8)best_dist;
                out[o++] = (u8)(best_dist >> 8);
            } else {
                out[o++] = in[i];
            }
            for (int k = 0; k < step; k++, i++) {
                if (i + MIN_MATCH <= n) {
                    u32 h = hash4(in + i);
                    prev[i % WINDOW] = head[h];
                    head[h] = (int)i;
                }
            }
        }
        out[flag_at] = flags;
    }
    return o;
}

static u64 decompress(const u8 *in, u64 n, u8 *out) {
    u64 i = 0, o = 0;
    while (i < n) {
        u8 flags = in[i++];
        for (int item = 0; item < 8 && i < n; item++) {
            if (flags & (1 << item)) {
                u64 len = (u64)in[i] + MIN_MATCH;
                u64 dist = (u64)in[i + 1] | (u64)in[i + 2] << 8;
                i += 3;
                for (u64 k = 0; k < len; k++, o++)
                    out[o] = out[o - dist];
            } else {
                out[o++] = in[i++];
            }
        }
    }
    return o;
}

int guest_main(void) {
    make_text();
    u64 size = compress(text, LEN, packed);
    u64 back = decompress(packed, size, unpacked);
    u64 sum = 0, same = back == LEN;
    for (u64 i = 0; i < LEN; i++) {
        sum = sum * 31 + packed[i % size];
        same &= unpacked[i] == text[i];
    }
    rt_puts("compressed 1048576 bytes to ");
    rt_put_u64(size);
    rt_puts("\nchecksum ");
    rt_put_hex(sum, 16);
    rt_puts(same ? "\nround trip exact\n" : "\nROUND TRIP MISMATCH\n");
    return same ? 0 : 1;
}
