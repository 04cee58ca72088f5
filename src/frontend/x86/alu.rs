//! Integer arithmetic and logic: ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC
//! NEG NOT, with LOCK forms as atomic read-modify-writes.

use iced_x86::Mnemonic;

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::flags::{set_add, set_arith, set_logic, set_sub};
use crate::machine::flag::{CF, OF};
use crate::visa::{AtomicOp, Imm, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Add, |cx| binary(cx, Alu::Add)),
    (Mnemonic::Adc, |cx| binary(cx, Alu::Adc)),
    (Mnemonic::Sub, |cx| binary(cx, Alu::Sub)),
    (Mnemonic::Sbb, |cx| binary(cx, Alu::Sbb)),
    (Mnemonic::Cmp, |cx| binary(cx, Alu::Cmp)),
    (Mnemonic::And, |cx| binary(cx, Alu::And)),
    (Mnemonic::Or, |cx| binary(cx, Alu::Or)),
    (Mnemonic::Xor, |cx| binary(cx, Alu::Xor)),
    (Mnemonic::Test, |cx| binary(cx, Alu::Test)),
    (Mnemonic::Inc, |cx| inc_dec(cx, false)),
    (Mnemonic::Dec, |cx| inc_dec(cx, true)),
    (Mnemonic::Neg, neg),
    (Mnemonic::Not, not),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Alu {
    Add,
    Adc,
    Sub,
    Sbb,
    Cmp,
    And,
    Or,
    Xor,
    Test,
}

impl Alu {
    fn writes_back(self) -> bool {
        !matches!(self, Alu::Cmp | Alu::Test)
    }
}

/// The destination of a read-modify-write: its old value, and where to put the new one.
pub(super) enum Dest {
    Reg,
    Mem(Value),
}

/// LOCK is allowed only on a memory destination of a lockable instruction.
fn lock_ok(cx: &Ctx, lockable: bool) -> bool {
    !cx.insn.has_lock_prefix() || (lockable && cx.is_memory(0))
}

/// Reads operand 0 for a read-modify-write (unlocked forms).
pub(super) fn read_dest(cx: &mut Ctx) -> (Dest, Value) {
    if cx.is_memory(0) {
        let addr = cx.address();
        let ty = cx.operand_type(0);
        let old = cx.load(ty, addr);
        (Dest::Mem(addr), old)
    } else {
        (Dest::Reg, cx.read_operand(0))
    }
}

pub(super) fn write_dest(cx: &mut Ctx, dest: Dest, v: Value) {
    match dest {
        Dest::Reg => cx.write_operand(0, v),
        Dest::Mem(addr) => cx.store(v, addr),
    }
}

/// An atomic read-modify-write of the memory operand; returns the old value.
fn atomic(cx: &mut Ctx, op: AtomicOp, v: Value) -> Value {
    let addr = cx.address();
    let ty = cx.ty(v);
    cx.b.ins(Opcode::AtomicRmw, Some(ty), Imm::Atomic(op), &[addr, v])
}

fn binary(cx: &mut Ctx, kind: Alu) -> Flow {
    if !lock_ok(cx, kind.writes_back()) {
        return Flow::Undefined;
    }
    let locked = cx.insn.has_lock_prefix();
    let b = cx.read_operand(1);
    let ty = cx.ty(b);
    let carry_in = match kind {
        Alu::Adc | Alu::Sbb => cx.flag(CF),
        _ => cx.iconst(Type::I1, 0),
    };
    let (dest, a) = if locked {
        let (op, operand) = match kind {
            Alu::Add | Alu::Adc => (AtomicOp::Add, b),
            Alu::Sub | Alu::Sbb => (AtomicOp::Sub, b),
            Alu::And => (AtomicOp::And, b),
            Alu::Or => (AtomicOp::Or, b),
            _ => (AtomicOp::Xor, b),
        };
        let operand = match kind {
            Alu::Adc | Alu::Sbb => {
                let c = cx.resize(ty, carry_in);
                cx.op(Opcode::Iadd, &[operand, c])
            }
            _ => operand,
        };
        (None, atomic(cx, op, operand))
    } else {
        let (dest, a) = read_dest(cx);
        (Some(dest), a)
    };
    let r = match kind {
        Alu::Add | Alu::Adc => cx.op_multi(Opcode::IaddCarry, &[a, b, carry_in]),
        Alu::Sub | Alu::Sbb | Alu::Cmp => cx.op_multi(Opcode::IsubBorrow, &[a, b, carry_in]),
        Alu::And | Alu::Test => vec![cx.op(Opcode::And, &[a, b])],
        Alu::Or => vec![cx.op(Opcode::Or, &[a, b])],
        Alu::Xor => vec![cx.op(Opcode::Xor, &[a, b])],
    };
    // The destination is written before any flag, so a faulting store
    // leaves the flags untouched.
    if let (true, Some(dest)) = (kind.writes_back(), dest) {
        write_dest(cx, dest, r[0]);
    }
    match kind {
        Alu::Add => set_add(cx, a, b, r[0], r[1], r[2]),
        Alu::Adc | Alu::Sbb => set_arith(cx, a, b, r[0], r[1], r[2]),
        Alu::Sub | Alu::Cmp => set_sub(cx, a, b, r[0], r[1], r[2]),
        _ => set_logic(cx, r[0]),
    }
    Flow::Next
}

fn inc_dec(cx: &mut Ctx, dec: bool) -> Flow {
    if !lock_ok(cx, true) {
        return Flow::Undefined;
    }
    let ty = cx.operand_type(0);
    let one = cx.iconst(ty, 1);
    let zero = cx.iconst(Type::I1, 0);
    let (dest, a) = if cx.insn.has_lock_prefix() {
        (None, atomic(cx, if dec { AtomicOp::Sub } else { AtomicOp::Add }, one))
    } else {
        let (d, a) = read_dest(cx);
        (Some(d), a)
    };
    let op = if dec { Opcode::IsubBorrow } else { Opcode::IaddCarry };
    let r = cx.op_multi(op, &[a, one, zero]);
    if let Some(dest) = dest {
        write_dest(cx, dest, r[0]);
    }
    cx.set_flag(OF, r[2]);
    super::flags::set_af(cx, a, one, r[0]);
    super::flags::set_szp(cx, r[0]);
    Flow::Next
}

fn neg(cx: &mut Ctx) -> Flow {
    if !lock_ok(cx, true) {
        return Flow::Undefined;
    }
    let (dest, a) = read_dest(cx);
    let ty = cx.ty(a);
    let zero = cx.iconst(ty, 0);
    let no_borrow = cx.iconst(Type::I1, 0);
    let r = cx.op_multi(Opcode::IsubBorrow, &[zero, a, no_borrow]);
    match dest {
        Dest::Mem(addr) if cx.insn.has_lock_prefix() => {
            // One compare-exchange; single-threaded guests always see it succeed.
            cx.b.ins(Opcode::AtomicCas, Some(ty), Imm::None, &[addr, a, r[0]]);
        }
        dest => write_dest(cx, dest, r[0]),
    }
    set_sub(cx, zero, a, r[0], r[1], r[2]);
    Flow::Next
}

fn not(cx: &mut Ctx) -> Flow {
    if !lock_ok(cx, true) {
        return Flow::Undefined;
    }
    if cx.insn.has_lock_prefix() {
        let ty = cx.operand_type(0);
        let ones = cx.iconst(ty, u64::MAX);
        atomic(cx, AtomicOp::Xor, ones);
        return Flow::Next;
    }
    let (dest, a) = read_dest(cx);
    let r = cx.not(a);
    write_dest(cx, dest, r);
    Flow::Next
}
