//! Arithmetic flags as V-ISA values, and the sixteen x86 conditions.
//!
//! Every flag-writing instruction computes its flags with ordinary ops into
//! the flag slots, except the commonest (SUB, CMP, NEG, ADD, XADD and the
//! logical ones), which defer them: they write their kind and operands to
//! `cc_op`, `cc_a` and `cc_b`, and whoever reads a flag computes it (later
//! in the block from the values at hand; in a later block from those
//! slots, when `cc_op` says the flags are deferred). A condition that
//! directly follows a compare or a logical operation is computed from its
//! operands instead (`FlagSource`), and then-dead flag computations and
//! writes are left for dead-code and dead-flag elimination.

use iced_x86::ConditionCode as C;

use super::ctx::{Ctx, Deferred, FlagSource, FlagState};
use crate::machine::deferred::{CC_ADD, CC_KIND_MASK, CC_SHIFT_MASK, CC_SUB};
use crate::machine::flag::{AF, CF, OF, PF, SF, ZF};
use crate::visa::{IntCC, Opcode, Type, Value};

/// SF, ZF and PF of a result, as (flag, value) pairs.
pub fn szp(cx: &mut Ctx, res: Value) -> [(usize, Value); 3] {
    let zero = cx.icmp_imm(IntCC::Eq, res, 0);
    let neg = cx.icmp_imm(IntCC::Slt, res, 0);
    let parity = cx.op(Opcode::Parity, &[res]);
    [(ZF, zero), (SF, neg), (PF, parity)]
}

/// Sets SF, ZF and PF from a result.
pub fn set_szp(cx: &mut Ctx, res: Value) {
    for (f, v) in szp(cx, res) {
        cx.set_flag(f, v);
    }
}

/// AF: the carry (or borrow) out of bit 3, `((a ^ b ^ res) >> 4) & 1`.
fn af(cx: &mut Ctx, a: Value, b: Value, res: Value) -> Value {
    let x = cx.op(Opcode::Xor, &[a, b]);
    let x = cx.op(Opcode::Xor, &[x, res]);
    cx.bit(x, 4)
}

pub fn set_af(cx: &mut Ctx, a: Value, b: Value, res: Value) {
    let v = af(cx, a, b, res);
    cx.set_flag(AF, v);
}

/// The six flags of an addition or subtraction, in `machine::flag` order.
fn arith(cx: &mut Ctx, a: Value, b: Value, res: Value, carry: Value, overflow: Value) -> [Value; 6] {
    let mut out = [carry; 6];
    out[OF] = overflow;
    out[AF] = af(cx, a, b, res);
    for (f, v) in szp(cx, res) {
        out[f] = v;
    }
    out
}

/// All six flags of an addition or subtraction, written now (ADC, SBB).
pub fn set_arith(cx: &mut Ctx, a: Value, b: Value, res: Value, carry: Value, overflow: Value) {
    for (f, v) in arith(cx, a, b, res, carry, overflow).into_iter().enumerate() {
        cx.set_flag(f, v);
    }
}

/// Flags of `a - b` (CMP, SUB, NEG...), deferred, and the fused-condition
/// source.
pub fn set_sub(cx: &mut Ctx, a: Value, b: Value, res: Value, borrow: Value, overflow: Value) {
    cx.defer_flags(Deferred { kind: CC_SUB, a, b, res, carry: borrow, overflow });
    cx.set_flag_source(FlagSource::Sub { a, b });
}

/// Flags of `a + b` with no carry in (ADD, XADD), deferred.
pub fn set_add(cx: &mut Ctx, a: Value, b: Value, res: Value, carry: Value, overflow: Value) {
    cx.defer_flags(Deferred { kind: CC_ADD, a, b, res, carry, overflow });
}

/// Flags of a logical result: CF = OF = 0, AF = 0 (undefined), SF ZF PF;
/// deferred as the flags of `res - 0`, which are those.
pub fn set_logic(cx: &mut Ctx, res: Value) {
    let zero = cx.iconst(cx.ty(res), 0);
    let no = cx.iconst(Type::I1, 0);
    cx.defer_flags(Deferred { kind: CC_SUB, a: res, b: zero, res, carry: no, overflow: no });
    cx.set_flag_source(FlagSource::Logic { res });
}

/// The six flags as they stand when they are not (known to be) in their
/// slots: from the block's deferred operation, or, at the block's entry,
/// from the slots or the deferred state the block found.
pub fn current(cx: &mut Ctx, state: FlagState) -> [Value; 6] {
    match state {
        FlagState::Deferred(d) => arith(cx, d.a, d.b, d.res, d.carry, d.overflow),
        _ => at_entry(cx),
    }
}

/// The flags at the block's entry: `machine::deferred::flags_of` on the
/// `cc_*` slots when `cc_op` is nonzero, else the flag slots.
fn at_entry(cx: &mut Ctx) -> [Value; 6] {
    let x = cx.x;
    let op = cx.b.get(x.cc_op);
    let a = cx.b.get(x.cc_a);
    let b = cx.b.get(x.cc_b);
    let deferred = cx.icmp_imm(IntCC::Ne, op, 0);
    let kind_mask = cx.iconst(Type::I8, CC_KIND_MASK as u64);
    let kind = cx.op(Opcode::And, &[op, kind_mask]);
    let add = cx.icmp_imm(IntCC::Eq, kind, CC_ADD as u64);
    let shift_mask = cx.iconst(Type::I8, CC_SHIFT_MASK as u64);
    let shift = cx.op(Opcode::And, &[op, shift_mask]);
    let shift = cx.resize(Type::I64, shift);
    // Shifted to the top, the 64-bit operation's carry, overflow, zero and
    // sign are the narrow one's; PF and AF need only the low byte.
    let (sa, sb) = (cx.op(Opcode::Shl, &[a, shift]), cx.op(Opcode::Shl, &[b, shift]));
    let no = cx.iconst(Type::I1, 0);
    let sum = cx.op_multi(Opcode::IaddCarry, &[sa, sb, no]);
    let diff = cx.op_multi(Opcode::IsubBorrow, &[sa, sb, no]);
    let [wide, carry, overflow] = std::array::from_fn(|i| cx.select(add, sum[i], diff[i]));
    let (low_sum, low_diff) = (cx.op(Opcode::Iadd, &[a, b]), cx.op(Opcode::Isub, &[a, b]));
    let res = cx.select(add, low_sum, low_diff);
    let mut computed = arith(cx, a, b, wide, carry, overflow);
    computed[PF] = cx.op(Opcode::Parity, &[res]);
    computed[AF] = af(cx, a, b, res);
    std::array::from_fn(|f| {
        let slot = cx.b.get(x.flags[f]);
        cx.select(deferred, computed[f], slot)
    })
}

/// The value of a condition, as an i1.
pub fn condition(cx: &mut Ctx, cc: C) -> Value {
    if let Some(v) = fused(cx, cc) {
        return v;
    }
    let (base, negate) = match cc {
        C::o => (C::o, false),
        C::no => (C::o, true),
        C::b => (C::b, false),
        C::ae => (C::b, true),
        C::e => (C::e, false),
        C::ne => (C::e, true),
        C::be => (C::be, false),
        C::a => (C::be, true),
        C::s => (C::s, false),
        C::ns => (C::s, true),
        C::p => (C::p, false),
        C::np => (C::p, true),
        C::l => (C::l, false),
        C::ge => (C::l, true),
        C::le => (C::le, false),
        C::g => (C::le, true),
        C::None => unreachable!("condition of an unconditional instruction"),
    };
    let v = match base {
        C::o => cx.flag(OF),
        C::b => cx.flag(CF),
        C::e => cx.flag(ZF),
        C::s => cx.flag(SF),
        C::p => cx.flag(PF),
        C::be => {
            let (c, z) = (cx.flag(CF), cx.flag(ZF));
            cx.op(Opcode::Or, &[c, z])
        }
        C::l => {
            let (s, o) = (cx.flag(SF), cx.flag(OF));
            cx.op(Opcode::Xor, &[s, o])
        }
        _ => {
            let (s, o, z) = (cx.flag(SF), cx.flag(OF), cx.flag(ZF));
            let lt = cx.op(Opcode::Xor, &[s, o]);
            cx.op(Opcode::Or, &[lt, z])
        }
    };
    if negate { cx.not(v) } else { v }
}

/// A condition computed straight from the operands of the last flag writer.
fn fused(cx: &mut Ctx, cc: C) -> Option<Value> {
    match cx.flag_source()? {
        FlagSource::Sub { a, b } => {
            let pred = match cc {
                C::b => IntCC::Ult,
                C::ae => IntCC::Uge,
                C::e => IntCC::Eq,
                C::ne => IntCC::Ne,
                C::be => IntCC::Ule,
                C::a => IntCC::Ugt,
                C::l => IntCC::Slt,
                C::ge => IntCC::Sge,
                C::le => IntCC::Sle,
                C::g => IntCC::Sgt,
                _ => return None,
            };
            Some(cx.icmp(pred, a, b))
        }
        FlagSource::Logic { res } => {
            let (pred, k) = match cc {
                C::e | C::be => (IntCC::Eq, 0),
                C::ne | C::a => (IntCC::Ne, 0),
                C::s | C::l => (IntCC::Slt, 0),
                C::ns | C::ge => (IntCC::Sge, 0),
                C::le => (IntCC::Sle, 0),
                C::g => (IntCC::Sgt, 0),
                C::b | C::o => return Some(cx.iconst(Type::I1, 0)),
                C::ae | C::no => return Some(cx.iconst(Type::I1, 1)),
                _ => return None,
            };
            Some(cx.icmp_imm(pred, res, k))
        }
    }
}
