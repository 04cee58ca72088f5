/* CRC-32 (IEEE 802.3, reflected) of "123456789" and of a 4 MiB buffer. */
#include "rt.h"

static u32 table[256];

static void make_table(void) {
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static u32 crc32(const u8 *p, u64 n) {
    u32 c = 0xffffffffu;
    while (n--)
        c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

#define LEN (4 << 20)
static u8 buf[LEN];

int guest_main(void) {
    make_table();
    rt_puts("crc32(123456789) = ");
    rt_put_hex(crc32((const u8 *)"123456789", 9), 8);
    u64 x = 0x9e3779b97f4a7c15ull;
    for (u64 i = 0; i < LEN; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (u8)(x >> 56);
    }
    rt_puts("\ncrc32(4 MiB) = ");
    rt_put_hex(crc32(buf, LEN), 8);
    rt_putc('\n');
    return 0;
}
