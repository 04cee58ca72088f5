/* The guest runtime: serial output, exit, timing. The same interface has a
 * hosted implementation (rt_host.c) so each workload also runs natively,
 * which is where its expected output comes from. */
#ifndef RT_H
#define RT_H

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long i64;

void rt_putc(char c);
void rt_puts(const char *s);
void rt_put_u64(u64 v);
void rt_put_hex(u64 v, int digits);
void rt_exit(int code) __attribute__((noreturn));
/* Ends like rt_exit with XMM0-15 loaded from xmm (16 x 16 bytes) and, if
 * x87 is not null, the eight values of x87 pushed on the x87 stack (x87[7]
 * ends as ST(0)), so that the final state holds them. */
void rt_exit_loaded(int code, const void *xmm, const long double *x87) __attribute__((noreturn));
u64 rt_cycles(void);

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

#endif
