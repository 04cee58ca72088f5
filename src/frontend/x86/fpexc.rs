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
use crate::visa::{ExcOp, Imm, IntCC, Opcode, Round, TrapCode, Type, Underflow, Value};

/// MXCSR's inexact flag.
const PE: u8 = crate::visa::eval::flags::PE as u8;

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
    let under = if cx.mode.unmasked & 0x10 != 0 {
        Underflow::Tiny
    } else if cx.mode.ftz {
        Underflow::Ftz
    } else {
        Underflow::Masked
    };
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
    let flags = cx.b.ins(opcode, Some(ty), Imm::Fexc(op, round, under), &args);
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
    if !cx.mode.daz { v } else { flush(cx, shape, v) }
}

/// `r` with denormal lanes replaced by zeros of their sign when FTZ is set
/// (and underflow masked).
pub(super) fn ftz(cx: &mut Ctx, shape: Type, r: Value) -> Value {
    if !cx.mode.ftz || cx.mode.unmasked & 0x10 != 0 { r } else { flush(cx, shape, r) }
}

fn flush(cx: &mut Ctx, shape: Type, v: Value) -> Value {
    let (lane, ishape) = match shape {
        Type::F32 | Type::F32x4 => (Type::I32, Type::I32x4),
        _ => (Type::I64, Type::I64x2),
    };
    let w = lane.bits();
    let sign_bit = 1u128 << (w - 1);
    let min_normal = if w == 32 { 1u128 << 23 } else { 1u128 << 52 };
    if shape.is_float() {
        let bits = cx.b.ins(Opcode::Bitcast, Some(lane), Imm::None, &[v]);
        let abs_mask = cx.iconst(lane, (sign_bit - 1) as u64);
        let abs = cx.op(Opcode::And, &[bits, abs_mask]);
        let one = cx.iconst(lane, 1);
        let d = cx.op(Opcode::Isub, &[abs, one]);
        let small = cx.icmp_imm(IntCC::Ult, d, (min_normal - 1) as u64);
        let sign = cx.op(Opcode::Xor, &[bits, abs]);
        let out = cx.select(small, sign, bits);
        return cx.b.ins(Opcode::Bitcast, Some(shape), Imm::None, &[out]);
    }
    let splat = |cx: &mut Ctx, x: u128| cx.vconst((0..128 / w).fold(0, |acc, i| acc | x << (w * i)));
    let abs_mask = splat(cx, sign_bit - 1);
    let abs = cx.op(Opcode::And, &[v, abs_mask]);
    let one = splat(cx, 1);
    let d = cx.b.ins(Opcode::Vsub, Some(ishape), Imm::None, &[abs, one]);
    let limit = splat(cx, min_normal - 1);
    let small = cx.b.ins(Opcode::Vcmp, Some(ishape), Imm::IntCC(IntCC::Ult), &[d, limit]);
    let sign = cx.op(Opcode::Xor, &[v, abs]);
    let keep = cx.op(Opcode::Not, &[small]);
    let a = cx.op(Opcode::And, &[v, keep]);
    let b = cx.op(Opcode::And, &[sign, small]);
    cx.op(Opcode::Or, &[a, b])
}
