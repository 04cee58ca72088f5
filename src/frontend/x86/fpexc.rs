//! SSE float exceptions: each float operation ORs the flags it raises
//! (`fexc1` `fexc2` `fexc3`) into MXCSR, and raises #XM (vector 19) when one
//! of them is unmasked, before its destination is written (MXCSR keeps the
//! flags, as on hardware). DAZ reads denormal operands as zeros of their
//! sign, FTZ writes denormal results as zeros of their sign. The mask bits,
//! DAZ and FTZ come from the block's mode: LDMXCSR ends its block. With an
//! exception unmasked, the flags of an instruction's operations (its lanes
//! and halves, its steps) are gathered and recorded together before its
//! first write, as the processor detects a packed instruction's exceptions
//! over all its lanes; when one of invalid, denormal and divide-by-zero is
//! unmasked and raised, the instruction stops before computing its result,
//! so only those (pre-computation) flags are set.

use super::ctx::Ctx;
use crate::visa::{ExcOp, Imm, IntCC, Opcode, Overflow, Round, TrapCode, Type, Underflow, Value};

/// MXCSR's inexact flag, and its overflow and underflow flags (whose
/// mask bits `Mode::unmasked` holds at the same positions).
const PE: u8 = crate::visa::eval::flags::PE as u8;
pub(super) const OE: u8 = crate::visa::eval::flags::OE as u8;
pub(super) const UE: u8 = crate::visa::eval::flags::UE as u8;

/// Is the exception whose flag is `flag` unmasked in the block's mode?
pub(super) fn is_unmasked(cx: &Ctx, flag: u8) -> bool {
    cx.mode.unmasked & flag != 0
}

/// #XM: an unmasked SIMD float exception.
pub const XM: TrapCode = TrapCode::User(19);

/// Records the flags of `op` rounded in `round` on `ops` giving `r`, all of
/// controlling type `ty` (a float, a float lane shape, or for a conversion
/// from an integer that integer).
///
/// With exceptions masked and every flag `op` can raise already set when
/// the block started, MXCSR is what it was: nothing to compute.
pub(super) fn raise(cx: &mut Ctx, op: ExcOp, round: Round, ty: Type, ops: &[Value], r: Value) {
    if cx.mode.unmasked == 0 && op.raisable() & !cx.mode.sticky == 0 {
        return;
    }
    let under = if is_unmasked(cx, UE) {
        Underflow::Tiny
    } else if cx.mode.ftz {
        Underflow::Ftz
    } else {
        Underflow::Masked
    };
    let over = if is_unmasked(cx, OE) { Overflow::Huge } else { Overflow::Masked };
    let opcode = match ops.len() {
        1 => Opcode::Fexc1,
        2 => Opcode::Fexc2,
        _ => Opcode::Fexc3,
    };
    let old = cx.get(cx.x.mxcsr);
    let unmasked = cx.mode.unmasked;
    // Masked, with inexact set when the block started: the flags in are
    // the ones known set, a constant, and the operation's own go into
    // MXCSR after.
    let known = unmasked == 0 && cx.mode.sticky & PE != 0;
    let flags_in = match (unmasked, known) {
        (0, false) => old,
        (0, true) => cx.iconst(Type::I32, cx.mode.sticky as u64),
        _ => cx.iconst(Type::I32, 0),
    };
    let mut args = vec![flags_in];
    args.extend_from_slice(ops);
    args.push(r);
    let flags = cx.b.ins(opcode, Some(ty), Imm::Fexc(op, round, under, over), &args);
    if unmasked == 0 && !known {
        cx.set(cx.x.mxcsr, flags);
        return;
    }
    record(cx, flags);
}

/// ORs `flags` (MXCSR's bits 0-5, raised by the instruction being lifted)
/// into MXCSR; with an exception unmasked, gathers them for `record_gathered`.
pub(super) fn record(cx: &mut Ctx, flags: Value) {
    if cx.mode.unmasked != 0 {
        let gathered = match cx.fexc_pending {
            Some(earlier) => cx.op(Opcode::Or, &[earlier, flags]),
            None => flags,
        };
        cx.fexc_pending = Some(gathered);
        return;
    }
    let old = cx.get(cx.x.mxcsr);
    let all = cx.op(Opcode::Or, &[old, flags]);
    cx.set(cx.x.mxcsr, all);
}

/// Invalid, denormal and divide-by-zero: detected before the result is
/// computed.
const PRE_COMPUTATION: u8 = 0x07;

/// Records the flags gathered for the instruction being lifted (or for a
/// step of it that the processor checks on its own, as DPPS's multiplies
/// and adds): ORs them into MXCSR and raises #XM when one of them is
/// unmasked. An instruction naming an MMX register has made the x87-to-MMX
/// transition when it raises #XM (it has not when it faults on memory).
pub(super) fn record_gathered(cx: &mut Ctx) {
    let Some(flags) = cx.fexc_pending.take() else { return };
    let unmasked = cx.mode.unmasked;
    let pre = unmasked & PRE_COMPUTATION;
    let flags = if pre == 0 {
        flags
    } else {
        let m = cx.iconst(Type::I32, pre as u64);
        let hit = cx.op(Opcode::And, &[flags, m]);
        let hit = cx.icmp_imm(IntCC::Ne, hit, 0);
        let m = cx.iconst(Type::I32, PRE_COMPUTATION as u64);
        let only = cx.op(Opcode::And, &[flags, m]);
        cx.select(hit, only, flags)
    };
    let old = cx.get(cx.x.mxcsr);
    let all = cx.op(Opcode::Or, &[old, flags]);
    cx.set(cx.x.mxcsr, all);
    if cx.names_mmx() {
        cx.enter_mmx();
    }
    let m = cx.iconst(Type::I32, unmasked as u64);
    let hit = cx.op(Opcode::And, &[flags, m]);
    let hit = cx.icmp_imm(IntCC::Ne, hit, 0);
    cx.b.trap_if(hit, XM);
}

/// `v` (of lane shape `shape`, or a scalar float) with denormal lanes
/// replaced by zeros of their sign when DAZ is set.
pub(super) fn daz(cx: &mut Ctx, shape: Type, v: Value) -> Value {
    if !cx.mode.daz { v } else { flush(cx, shape, v, None) }
}

/// Is FTZ applied: set, with underflow masked?
pub(super) fn ftz_active(cx: &Ctx) -> bool {
    cx.mode.ftz && !is_unmasked(cx, UE)
}

/// `r` with denormal lanes replaced by zeros of their sign when FTZ is set
/// (and underflow masked). For results an operation rounded (a multiply, a
/// divide, a fused multiply-add, a narrowing conversion), see `ftz_rounded`.
pub(super) fn ftz(cx: &mut Ctx, shape: Type, r: Value) -> Value {
    if !ftz_active(cx) { r } else { flush(cx, shape, r, None) }
}

/// `r`, `op` (of controlling type `shape`) on `args` rounded in the block's
/// mode, with FTZ applied as the processor applies it to a rounded result:
/// where it is tiny after rounding to the format's precision with an
/// unbounded exponent, which takes in results the format rounds up to the
/// smallest normal. The test is the same operation on the operands
/// `scale` marks (the first factor, the addend, the value converted; of
/// `args_ty`) times 2^`SCALE`: exact, and rounded far from the denormals,
/// so a lane is tiny where that is below the smallest normal times
/// 2^`SCALE`. (Sums need no test: one that is tiny is exact.)
pub(super) fn ftz_rounded(
    cx: &mut Ctx,
    shape: Type,
    r: Value,
    op: Opcode,
    args_ty: Type,
    args: &[Value],
    scale: &[bool],
) -> Value {
    if !ftz_active(cx) {
        return r;
    }
    let args: Vec<Value> = args.iter().zip(scale).map(|(v, s)| if *s { scaled(cx, args_ty, *v) } else { *v }).collect();
    let test = cx.b.ins(op, Some(shape), Imm::Round(cx.mode.rounding), &args);
    flush(cx, shape, r, Some(test))
}

/// `ftz_rounded` for a result made of two operations' lanes (FMADDSUB's):
/// `test`, the same made of the operands `scaled`.
pub(super) fn ftz_tested(cx: &mut Ctx, shape: Type, r: Value, test: Value) -> Value {
    if !ftz_active(cx) { r } else { flush(cx, shape, r, Some(test)) }
}

/// log2 of the scale of `ftz_rounded`'s operands.
const SCALE: u32 = 64;

/// `v` (of `ty`: a float or a float lane shape) times 2^`SCALE`.
pub(super) fn scaled(cx: &mut Ctx, ty: Type, v: Value) -> Value {
    let (lane, int, mant) = match ty {
        Type::F32 | Type::F32x4 => (Type::F32, Type::I32, 23),
        _ => (Type::F64, Type::I64, 52),
    };
    let bias = if lane == Type::F32 { 127 } else { 1023 };
    let bits = ((bias + SCALE) as u128) << mant;
    let round = Imm::Round(cx.mode.rounding);
    if ty.is_float() {
        let k = cx.iconst(int, bits as u64);
        let k = cx.b.ins(Opcode::Bitcast, Some(lane), Imm::None, &[k]);
        return cx.b.ins(Opcode::Fmul, Some(ty), round, &[v, k]);
    }
    let w = lane.bits();
    let k = cx.vconst((0..128 / w).fold(0, |acc, i| acc | bits << (w * i)));
    cx.b.ins(Opcode::Vfmul, Some(ty), round, &[v, k])
}

/// `v` with the lanes that are denormal, or (given a `test`) where |`test`|
/// is below the smallest normal times 2^`SCALE`, replaced by zeros of their
/// sign. (A denormal result is tiny whatever `test` says: where scaling an
/// operand overflowed, `test` is no measure, and then only an operand that
/// is zero makes a result near the smallest normal, which is exact.)
fn flush(cx: &mut Ctx, shape: Type, v: Value, test: Option<Value>) -> Value {
    let (lane, ishape, mant) = match shape {
        Type::F32 | Type::F32x4 => (Type::I32, Type::I32x4, 23),
        _ => (Type::I64, Type::I64x2, 52),
    };
    let w = lane.bits();
    let sign_bit = 1u128 << (w - 1);
    let (normal, limit) = (1u128 << mant, (1 + SCALE as u128) << mant);
    if shape.is_float() {
        let bits = cx.b.ins(Opcode::Bitcast, Some(lane), Imm::None, &[v]);
        let abs_mask = cx.iconst(lane, (sign_bit - 1) as u64);
        let abs = cx.op(Opcode::And, &[bits, abs_mask]);
        let mut small = cx.icmp_imm(IntCC::Ult, abs, normal as u64);
        if let Some(test) = test {
            let test = cx.b.ins(Opcode::Bitcast, Some(lane), Imm::None, &[test]);
            let test_abs = cx.op(Opcode::And, &[test, abs_mask]);
            let tiny = cx.icmp_imm(IntCC::Ult, test_abs, limit as u64);
            small = cx.op(Opcode::Or, &[small, tiny]);
        }
        let sign = cx.op(Opcode::Xor, &[bits, abs]);
        let out = cx.select(small, sign, bits);
        return cx.b.ins(Opcode::Bitcast, Some(shape), Imm::None, &[out]);
    }
    let splat = |cx: &mut Ctx, x: u128| cx.vconst((0..128 / w).fold(0, |acc, i| acc | x << (w * i)));
    let abs_mask = splat(cx, sign_bit - 1);
    let abs = cx.op(Opcode::And, &[v, abs_mask]);
    let normal = splat(cx, normal);
    let mut small = cx.b.ins(Opcode::Vcmp, Some(ishape), Imm::IntCC(IntCC::Ult), &[abs, normal]);
    if let Some(test) = test {
        let test_abs = cx.op(Opcode::And, &[test, abs_mask]);
        let limit = splat(cx, limit);
        let tiny = cx.b.ins(Opcode::Vcmp, Some(ishape), Imm::IntCC(IntCC::Ult), &[test_abs, limit]);
        small = cx.op(Opcode::Or, &[small, tiny]);
    }
    let sign = cx.op(Opcode::Xor, &[v, abs]);
    let keep = cx.op(Opcode::Not, &[small]);
    let a = cx.op(Opcode::And, &[v, keep]);
    let b = cx.op(Opcode::And, &[sign, small]);
    cx.op(Opcode::Or, &[a, b])
}
