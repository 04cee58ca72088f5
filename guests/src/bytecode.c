/* A switch-dispatch bytecode interpreter running a small stack-machine
 * program: the total of Collatz steps for every start below 5000. */
#include "rt.h"

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, DIV2, MOD2, JZ, JMP, LT, HALT };

static i64 prog[256];
static int len;

static void op(i64 o) { prog[len++] = o; }
static void op1(i64 o, i64 arg) { op(o); op(arg); }
/* A jump whose target is patched later; returns the slot to patch. */
static int jump(i64 o) { op(o); return len++; }
static void land(int slot) { prog[slot] = len; }

/* Registers: r0 = n, r1 = x, r2 = steps, r3 = total. */
static void assemble(void) {
    op1(PUSH, 1); op1(STORE, 0);
    int outer = len;
    op1(LOAD, 0); op1(PUSH, 5000); op(LT); int to_exit = jump(JZ);
    op1(LOAD, 0); op1(STORE, 1); op1(PUSH, 0); op1(STORE, 2);
    int inner = len;
    op1(LOAD, 1); op1(PUSH, 1); op(SUB); int to_done = jump(JZ);
    op1(LOAD, 1); op(MOD2); int to_even = jump(JZ);
    op1(LOAD, 1); op1(PUSH, 3); op(MUL); op1(PUSH, 1); op(ADD); op1(STORE, 1); int to_count = jump(JMP);
    land(to_even);
    op1(LOAD, 1); op(DIV2); op1(STORE, 1);
    land(to_count);
    op1(LOAD, 2); op1(PUSH, 1); op(ADD); op1(STORE, 2); op1(JMP, inner);
    land(to_done);
    op1(LOAD, 2); op1(LOAD, 3); op(ADD); op1(STORE, 3);
    op1(LOAD, 0); op1(PUSH, 1); op(ADD); op1(STORE, 0); op1(JMP, outer);
    land(to_exit);
    op(HALT);
}

int guest_main(void) {
    assemble();
    i64 stack[64], regs[8] = {0};
    int sp = 0;
    u64 executed = 0;
    for (i64 pc = 0;;) {
        executed++;
        switch (prog[pc]) {
        case PUSH: stack[sp++] = prog[pc + 1]; pc += 2; break;
        case LOAD: stack[sp++] = regs[prog[pc + 1]]; pc += 2; break;
        case STORE: regs[prog[pc + 1]] = stack[--sp]; pc += 2; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; pc++; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; pc++; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; pc++; break;
        case DIV2: stack[sp - 1] /= 2; pc++; break;
        case MOD2: stack[sp - 1] %= 2; pc++; break;
        case JZ: pc = stack[--sp] == 0 ? prog[pc + 1] : pc + 2; break;
        case JMP: pc = prog[pc + 1]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; pc++; break;
        case HALT: goto done;
        default: rt_puts("bad opcode\n"); return 1;
        }
    }
done:
    rt_puts("collatz steps for n < 5000: ");
    rt_put_u64((u64)regs[3]);
    rt_puts("\nbytecodes executed: ");
    rt_put_u64(executed);
    rt_putc('\n');
    return 0;
}
