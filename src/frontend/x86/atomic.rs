//! Compare-exchange and exchange-add: CMPXCHG CMPXCHG8B CMPXCHG16B XADD.
//!
//! Memory forms are atomic with or without LOCK (an unlocked form may always
//! behave as the locked one); LOCK on a register form is #UD. A
//! compare-exchange writes the accumulator (or EDX:EAX / RDX:RAX) only when
//! the comparison fails, and a register destination only when it succeeds,
//! so a 32-bit form zero-extends just the register it writes.

use iced_x86::{Mnemonic, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::flags::{set_add, set_sub};
use crate::machine::flag::ZF;
use crate::visa::{AtomicOp, Imm, IntCC, Opcode, TrapCode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Cmpxchg, cmpxchg),
    (Mnemonic::Cmpxchg8b, |cx| cmpxchg_pair(cx, Pair::EIGHT)),
    (Mnemonic::Cmpxchg16b, |cx| cmpxchg_pair(cx, Pair::SIXTEEN)),
    (Mnemonic::Xadd, xadd),
];

/// LOCK is allowed only with a memory destination.
fn lock_ok(cx: &Ctx) -> bool {
    !cx.insn.has_lock_prefix() || cx.is_memory(0)
}

fn accumulator(ty: Type) -> Register {
    match ty {
        Type::I8 => Register::AL,
        Type::I16 => Register::AX,
        Type::I32 => Register::EAX,
        _ => Register::RAX,
    }
}

/// `atomic_cas` on the memory operand; returns the old value.
fn cas(cx: &mut Ctx, addr: Value, expected: Value, new: Value) -> Value {
    let ty = cx.ty(expected);
    cx.b.ins(Opcode::AtomicCas, Some(ty), Imm::None, &[addr, expected, new])
}

fn cmpxchg(cx: &mut Ctx) -> Flow {
    if !lock_ok(cx) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let acc_reg = accumulator(cx.ty(src));
    let acc = cx.read_gpr(acc_reg);
    let (old, equal) = if cx.is_memory(0) {
        // The memory destination is always written: the source when equal,
        // its own value otherwise.
        let addr = cx.address();
        let old = cas(cx, addr, acc, src);
        (old, cx.icmp(IntCC::Eq, old, acc))
    } else {
        let old = cx.read_operand(0);
        let equal = cx.icmp(IntCC::Eq, old, acc);
        cx.write_gpr_if(cx.insn.op0_register(), equal, src);
        (old, equal)
    };
    let unequal = cx.not(equal);
    cx.write_gpr_if(acc_reg, unequal, old);
    let no_borrow = cx.iconst(Type::I1, 0);
    let r = cx.op_multi(Opcode::IsubBorrow, &[acc, old, no_borrow]);
    set_sub(cx, acc, old, r[0], r[1], r[2]);
    Flow::Next
}

/// The registers and width of CMPXCHG8B and CMPXCHG16B.
struct Pair {
    half: Type,
    wide: Type,
    /// Compared with memory (high, low), and stored when equal (high, low).
    expected: [Register; 2],
    new: [Register; 2],
}

impl Pair {
    const EIGHT: Pair = Pair {
        half: Type::I32,
        wide: Type::I64,
        expected: [Register::EDX, Register::EAX],
        new: [Register::ECX, Register::EBX],
    };
    const SIXTEEN: Pair = Pair {
        half: Type::I64,
        wide: Type::I128,
        expected: [Register::RDX, Register::RAX],
        new: [Register::RCX, Register::RBX],
    };
}

/// `high:low` as one value of the pair's width.
fn concat(cx: &mut Ctx, pair: &Pair, [high, low]: [Register; 2]) -> Value {
    let (hi, lo) = (cx.read_gpr(high), cx.read_gpr(low));
    let hi = cx.resize(pair.wide, hi);
    let lo = cx.resize(pair.wide, lo);
    let shift = cx.iconst(pair.wide, pair.half.bits() as u64);
    let hi = cx.op(Opcode::Shl, &[hi, shift]);
    cx.op(Opcode::Or, &[hi, lo])
}

fn cmpxchg_pair(cx: &mut Ctx, pair: Pair) -> Flow {
    if !cx.is_memory(0) {
        return Flow::Undefined;
    }
    let addr = cx.address();
    if pair.wide == Type::I128 {
        // CMPXCHG16B raises #GP on an operand not 16-byte aligned.
        let mask = cx.iconst(Type::I64, 15);
        let low = cx.op(Opcode::And, &[addr, mask]);
        let misaligned = cx.icmp_imm(IntCC::Ne, low, 0);
        cx.b.trap_if(misaligned, TrapCode::Misaligned);
    }
    let expected = concat(cx, &pair, pair.expected);
    let new = concat(cx, &pair, pair.new);
    let old = cas(cx, addr, expected, new);
    let equal = cx.icmp(IntCC::Eq, old, expected);
    let unequal = cx.not(equal);
    let shift = cx.iconst(pair.wide, pair.half.bits() as u64);
    let old_hi = cx.op(Opcode::Lshr, &[old, shift]);
    for (reg, v) in pair.expected.into_iter().zip([old_hi, old]) {
        let v = cx.resize(pair.half, v);
        cx.write_gpr_if(reg, unequal, v);
    }
    cx.set_flag(ZF, equal);
    Flow::Next
}

fn xadd(cx: &mut Ctx) -> Flow {
    if !lock_ok(cx) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let old = if cx.is_memory(0) {
        let addr = cx.address();
        let ty = cx.ty(src);
        cx.b.ins(Opcode::AtomicRmw, Some(ty), Imm::Atomic(AtomicOp::Add), &[addr, src])
    } else {
        cx.read_operand(0)
    };
    let no_carry = cx.iconst(Type::I1, 0);
    let r = cx.op_multi(Opcode::IaddCarry, &[old, src, no_carry]);
    // The source takes the old destination first, so `xadd r, r` leaves the sum.
    cx.write_operand(1, old);
    if !cx.is_memory(0) {
        cx.write_operand(0, r[0]);
    }
    set_add(cx, old, src, r[0], r[1], r[2]);
    Flow::Next
}
