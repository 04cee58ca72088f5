/* Deep and wide recursion: Fibonacci, Ackermann, and the Tower of Hanoi. */
#include "rt.h"

static u64 fib(u64 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static u64 ackermann(u64 m, u64 n) {
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static u64 moves;
static void hanoi(int n, int from, int to, int via) {
    if (n == 0)
        return;
    hanoi(n - 1, from, via, to);
    moves += (u64)(from * 3 + to);
    hanoi(n - 1, via, to, from);
}

int guest_main(void) {
    rt_puts("fib(32) = ");
    rt_put_u64(fib(32));
    rt_puts("\nackermann(2, 500) = ");
    rt_put_u64(ackermann(2, 500));
    rt_puts("\nackermann(3, 6) = ");
    rt_put_u64(ackermann(3, 6));
    hanoi(20, 0, 2, 1);
    rt_puts("\nhanoi(20) weighted moves = ");
    rt_put_u64(moves);
    rt_putc('\n');
    return 0;
}
