//! Shifts and rotates: SHL SAL SHR SAR ROL ROR RCL RCR SHLD SHRD, at every
//! operand size, by 1, an immediate or CL.
//!
//! The count is masked to 5 bits (6 for 64-bit operands), and for RCL/RCR of
//! 8- and 16-bit operands taken modulo 9 or 17. A count of 0 changes no flag
//! and leaves the destination as it was, except that a 32-bit register is
//! still zero-extended, as the hardware does. A count in CL is not known at
//! lift time: the destination and every flag are then a `select` between
//! the new and the old value.
//!
//! The shifts work in a type wide enough for the destination, the bits
//! shifted in (SHLD/SHRD's source, SAR's sign) and the largest count: the
//! value is first shifted by `count - 1`, so the last bit shifted out is a
//! fixed bit of it (CF), then by one more. Rotates through carry rotate the
//! `w + 1`-bit value CF:dest in a type wider than it. OF is the sign change
//! for every form, which is its defined value for a count of 1. A 16-bit
//! SHLD/SHRD by more than 16 (undefined, and vendor-specific) gives the
//! source shifted by count - 16 with zeros shifted in.

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::alu::{read_dest, write_dest};
use super::ctx::{Ctx, Flow};
use super::flags::szp;
use crate::machine::flag::{AF, CF, OF};
use crate::visa::{IntCC, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Shl, |cx| shift(cx, Kind::Shl)),
    (Mnemonic::Sal, |cx| shift(cx, Kind::Shl)),
    (Mnemonic::Shr, |cx| shift(cx, Kind::Shr)),
    (Mnemonic::Sar, |cx| shift(cx, Kind::Sar)),
    (Mnemonic::Rol, |cx| shift(cx, Kind::Rol)),
    (Mnemonic::Ror, |cx| shift(cx, Kind::Ror)),
    (Mnemonic::Rcl, |cx| shift(cx, Kind::Rcl)),
    (Mnemonic::Rcr, |cx| shift(cx, Kind::Rcr)),
    (Mnemonic::Shld, |cx| shift(cx, Kind::Shld)),
    (Mnemonic::Shrd, |cx| shift(cx, Kind::Shrd)),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Shl,
    Shr,
    Sar,
    Rol,
    Ror,
    Rcl,
    Rcr,
    Shld,
    Shrd,
}

/// The masked count: known at lift time (an immediate) or held in CL.
#[derive(Clone, Copy)]
enum Count {
    Known(u64),
    /// The masked count as an i8, and whether it is nonzero.
    Dynamic(Value, Value),
}

impl Count {
    /// The count, less `minus`, as a value of type `ty`.
    fn value(self, cx: &mut Ctx, ty: Type, minus: u64) -> Value {
        match self {
            Count::Known(c) => cx.iconst(ty, c.wrapping_sub(minus)),
            Count::Dynamic(c, _) => {
                let c = cx.resize(ty, c);
                if minus == 0 {
                    return c;
                }
                let k = cx.iconst(ty, minus);
                cx.op(Opcode::Isub, &[c, k])
            }
        }
    }

    /// The count modulo `m` (RCL/RCR of 8- and 16-bit operands).
    fn modulo(self, cx: &mut Ctx, m: u64) -> Count {
        match self {
            Count::Known(c) => Count::Known(c % m),
            Count::Dynamic(c, _) => {
                let k = cx.iconst(Type::I8, m);
                let c = cx.op(Opcode::Urem, &[c, k]);
                Count::Dynamic(c, cx.icmp_imm(IntCC::Ne, c, 0))
            }
        }
    }
}

fn read_count(cx: &mut Ctx, bits: u32) -> Count {
    let last = cx.insn.op_count() - 1;
    let mask = if bits == 64 { 63 } else { 31 };
    if cx.insn.op_kind(last) != OpKind::Register {
        return Count::Known(cx.insn.immediate(last) & mask);
    }
    let cl = cx.read_gpr(Register::CL);
    let k = cx.iconst(Type::I8, mask);
    let c = cx.op(Opcode::And, &[cl, k]);
    let nz = cx.icmp_imm(IntCC::Ne, c, 0);
    Count::Dynamic(c, nz)
}

/// `v` shifted by a constant.
fn shift_by(cx: &mut Ctx, op: Opcode, v: Value, n: u32) -> Value {
    let k = cx.iconst(cx.ty(v), n as u64);
    cx.op(op, &[v, k])
}

/// `hi:lo` in `ty`, where `lo` is `w` bits wide.
fn concat(cx: &mut Ctx, ty: Type, hi: Value, lo: Value, w: u32) -> Value {
    let hi = cx.resize(ty, hi);
    let hi = shift_by(cx, Opcode::Shl, hi, w);
    let lo = cx.resize(ty, lo);
    cx.op(Opcode::Or, &[hi, lo])
}

fn shift(cx: &mut Ctx, kind: Kind) -> Flow {
    if cx.insn.has_lock_prefix() {
        return Flow::Undefined;
    }
    let ty = cx.operand_type(0);
    let w = ty.bits();
    let mut count = read_count(cx, w);
    if matches!(kind, Kind::Rcl | Kind::Rcr) && w < 32 {
        // A rotate through CF by a multiple of w + 1 changes no flag either.
        count = count.modulo(cx, w as u64 + 1);
    }
    let src = matches!(kind, Kind::Shld | Kind::Shrd).then(|| cx.read_operand(1));
    let (dest, a) = read_dest(cx);
    if let Count::Known(0) = count {
        if !cx.is_memory(0) {
            write_dest(cx, dest, a);
        }
        return Flow::Next;
    }
    // Plain shifts of up to 32 bits work in 32 bits, 64-bit ones in 64;
    // SHLD/SHRD in twice the operand width.
    let wide = |double: bool| match (double, w) {
        (true, 64) => Type::I128,
        (true, _) => super::ctx::int_type(w as usize / 4),
        (false, 64) => Type::I64,
        (false, _) => Type::I32,
    };
    let (res, cf) = match kind {
        Kind::Shl | Kind::Shld => {
            // v = dest:src (SHLD) or dest; t = v << (count - 1), whose top
            // destination bit is the last bit shifted out.
            let wt = wide(src.is_some());
            let (v, low) = match src {
                Some(s) => (concat(cx, wt, a, s, w), w),
                None => (cx.resize(wt, a), 0),
            };
            let n = count.value(cx, wt, 1);
            let t = cx.op(Opcode::Shl, &[v, n]);
            let cf = cx.bit(t, low + w - 1);
            let t = match low {
                0 => shift_by(cx, Opcode::Shl, t, 1),
                _ => shift_by(cx, Opcode::Lshr, t, w - 1),
            };
            (cx.resize(ty, t), cf)
        }
        Kind::Shr | Kind::Sar | Kind::Shrd => {
            // v = src:dest (SHRD), or dest extended; t = v >> (count - 1),
            // whose bit 0 is the last bit shifted out.
            let wt = wide(src.is_some());
            let v = match src {
                Some(s) => concat(cx, wt, s, a, w),
                None if kind == Kind::Sar => cx.sext(wt, a),
                None => cx.resize(wt, a),
            };
            let op = if kind == Kind::Sar { Opcode::Ashr } else { Opcode::Lshr };
            let n = count.value(cx, wt, 1);
            let t = cx.op(op, &[v, n]);
            let cf = cx.bit(t, 0);
            let t = shift_by(cx, op, t, 1);
            (cx.resize(ty, t), cf)
        }
        Kind::Rol | Kind::Ror => {
            let n = count.value(cx, ty, 0);
            let (op, cf_bit) = if kind == Kind::Rol { (Opcode::Rotl, 0) } else { (Opcode::Rotr, w - 1) };
            let res = cx.op(op, &[a, n]);
            (res, cx.bit(res, cf_bit))
        }
        Kind::Rcl | Kind::Rcr => {
            // Rotate the (w + 1)-bit CF:dest by count mod (w + 1).
            let wt = if w == 64 { Type::I128 } else { Type::I64 };
            let carry = cx.flag(CF);
            let v = concat(cx, wt, carry, a, w);
            let n = count.value(cx, wt, 0);
            let width = cx.iconst(wt, w as u64 + 1);
            let m = cx.op(Opcode::Isub, &[width, n]);
            let (first, second) =
                if kind == Kind::Rcl { (Opcode::Shl, Opcode::Lshr) } else { (Opcode::Lshr, Opcode::Shl) };
            let p = cx.op(first, &[v, n]);
            let q = cx.op(second, &[v, m]);
            let r = cx.op(Opcode::Or, &[p, q]);
            let cf = cx.bit(r, w);
            (cx.resize(ty, r), cf)
        }
    };
    let nonzero = match count {
        Count::Dynamic(_, nz) => Some(nz),
        Count::Known(_) => None,
    };
    let res = match nonzero {
        Some(nz) => cx.select(nz, res, a),
        None => res,
    };
    write_dest(cx, dest, res);
    let changed = cx.op(Opcode::Xor, &[a, res]);
    let of = cx.bit(changed, w - 1);
    let mut flags = vec![(CF, cf), (OF, of)];
    if !matches!(kind, Kind::Rol | Kind::Ror | Kind::Rcl | Kind::Rcr) {
        // AF is undefined for a nonzero count: cleared.
        flags.push((AF, cx.iconst(Type::I1, 0)));
        flags.extend(szp(cx, res));
    }
    for (f, v) in flags {
        let v = match nonzero {
            Some(nz) => {
                let old = cx.flag(f);
                cx.select(nz, v, old)
            }
            None => v,
        };
        cx.set_flag(f, v);
    }
    Flow::Next
}
