//! Arithmetic flags as V-ISA values, and the sixteen x86 conditions.
//!
//! Every flag-writing instruction computes its flags with ordinary ops into
//! the flag slots; a condition that directly follows a compare or a logical
//! operation is computed from its operands instead (`FlagSource`), and the
//! then-dead flag writes are left for dead-flag elimination.

use iced_x86::ConditionCode as C;

use super::ctx::{Ctx, FlagSource};
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
pub fn set_af(cx: &mut Ctx, a: Value, b: Value, res: Value) {
    let x = cx.op(Opcode::Xor, &[a, b]);
    let x = cx.op(Opcode::Xor, &[x, res]);
    let af = cx.bit(x, 4);
    cx.set_flag(AF, af);
}

/// All six flags of an addition or subtraction.
pub fn set_arith(cx: &mut Ctx, a: Value, b: Value, res: Value, carry: Value, overflow: Value) {
    cx.set_flag(CF, carry);
    cx.set_flag(OF, overflow);
    set_af(cx, a, b, res);
    set_szp(cx, res);
}

/// Flags of `a - b` (CMP, SUB, NEG...), and the fused-condition source.
pub fn set_sub(cx: &mut Ctx, a: Value, b: Value, res: Value, borrow: Value, overflow: Value) {
    set_arith(cx, a, b, res, borrow, overflow);
    cx.set_flag_source(FlagSource::Sub { a, b });
}

/// Flags of a logical result: CF = OF = 0, AF = 0 (undefined), SF ZF PF.
pub fn set_logic(cx: &mut Ctx, res: Value) {
    cx.set_flag_const(CF, false);
    cx.set_flag_const(OF, false);
    cx.set_flag_const(AF, false);
    set_szp(cx, res);
    cx.set_flag_source(FlagSource::Logic { res });
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
