/* The system registers a kernel sets up, at CPL 0: control registers
 * (CR4.FSGSBASE enabling WRFSBASE), debug registers, LGDT and LIDT read
 * back with SGDT and SIDT, the MSRs the board has; then a CR4 write with a
 * reserved bit (LA57), which is #GP and ends the run. */
#include "rt.h"

#define READ_CR(n)                                                   \
    ({                                                               \
        u64 v;                                                       \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));            \
        v;                                                           \
    })
#define WRITE_CR(n, v) __asm__ volatile("mov %0, %%cr" #n ::"r"((u64)(v)) : "memory")
#define READ_DR(n)                                                   \
    ({                                                               \
        u64 v;                                                       \
        __asm__ volatile("mov %%db" #n ", %0" : "=r"(v));            \
        v;                                                           \
    })
#define WRITE_DR(n, v) __asm__ volatile("mov %0, %%db" #n ::"r"((u64)(v)))

struct __attribute__((packed)) table {
    u16 limit;
    u64 base;
};

static void show(const char *name, u64 v) {
    rt_puts(name);
    rt_puts(" ");
    rt_put_hex(v, 16);
    rt_puts("\n");
}

static u64 rdmsr(u32 index) {
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index));
    return (u64)hi << 32 | lo;
}

int guest_main(void) {
    show("cr0", READ_CR(0));
    u64 cr4 = READ_CR(4);
    show("cr4", cr4);
    WRITE_CR(4, cr4 | 1 << 16);
    u64 base;
    __asm__ volatile("wrfsbase %1; rdfsbase %0" : "=r"(base) : "r"(0x12345678abcdUL));
    show("fs base", base);
    WRITE_CR(2, 0xfffff00dUL);
    WRITE_CR(3, 0x7000UL);
    WRITE_CR(8, 3);
    show("cr2", READ_CR(2));
    show("cr3", READ_CR(3));
    show("cr8", READ_CR(8));
    WRITE_DR(0, 0x401000UL);
    WRITE_DR(7, 0x3UL);
    show("dr0", READ_DR(0));
    show("dr6", READ_DR(6));
    show("dr7", READ_DR(7));
    static struct table gdt = {0x17, 0x2000}, idt = {0xfff, 0x3000}, out;
    __asm__ volatile("lgdt %0; lidt %1" ::"m"(gdt), "m"(idt));
    __asm__ volatile("sgdt %0" : "=m"(out));
    show("gdtr", (u64)out.limit << 48 | out.base);
    __asm__ volatile("sidt %0" : "=m"(out));
    show("idtr", (u64)out.limit << 48 | out.base);
    show("efer", rdmsr(0xc0000080));
    show("xss", rdmsr(0xda0));
    show("gs base msr", rdmsr(0xc0000101));
    rt_puts("setting cr4.la57\n");
    WRITE_CR(4, READ_CR(4) | 1 << 12);
    return 0;
}
