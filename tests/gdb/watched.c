/* A small program for the gdb test: a function to break at and a global
   to watch. */
#include <stdio.h>

volatile long counter;

long bump(long x) {
    counter += x;
    return counter;
}

int main(void) {
    for (long i = 1; i <= 3; i++) bump(i);
    printf("counter %ld\n", counter);
    return 0;
}
