//! SSE/SSE2/SSE3 and SSE4.1 float instructions: scalar and packed arithmetic, MIN/MAX, SQRT, compares (CMPxx predicates, COMIS/UCOMIS flags), conversions (CVT*, CVTT*, the MMX ones CVTPI2PS CVTPI2PD CVT(T)PS2PI CVT(T)PD2PI included), LDMXCSR/STMXCSR, ROUND*, DPPS/DPPD, BLEND*, HADD/HSUB/ADDSUB, INSERTPS/EXTRACTPS.
//!
//! A scalar form (SS, SD) computes like its packed form on the destination
//! with the low lane replaced by the source, and keeps only the low lane of
//! the result: the upper lanes of the destination are untouched. Arithmetic,
//! square roots, conversions and rounding follow the block's MXCSR rounding
//! direction (`cx.mode.rounding`); LDMXCSR ends its block so the next one is
//! looked up in the new direction. Every float operation records its
//! exception flags, applies DAZ and FTZ and may raise #XM (`fpexc`).
//!
//! RCPPS and RSQRTPS are hardware approximations (12 bits, different on each
//! vendor); visa computes the exact reciprocal (rounded to nearest) and the
//! reciprocal square root in double precision rounded to single, with the
//! special cases the manuals define: denormal inputs count as zero (giving
//! infinities), and tiny results are flushed to zero (for the exact
//! reciprocal, those of inputs above 2^126; an approximation may be tiny
//! from a little below).

use iced_x86::{Mnemonic, OpCodeOperandKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type, lane_shape};
use super::fpexc;
use crate::machine::flag::{AF, CF, OF, PF, SF, ZF};
use crate::visa::{ExcOp, ExitReason, FloatCC, Imm, IntCC, Opcode, Round, TrapCode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = {
    use Mnemonic::*;
    &[
        (Addps, |cx| arith(cx, Op::Add, PS)),
        (Addpd, |cx| arith(cx, Op::Add, PD)),
        (Addss, |cx| arith(cx, Op::Add, SS)),
        (Addsd, |cx| arith(cx, Op::Add, SD)),
        (Subps, |cx| arith(cx, Op::Sub, PS)),
        (Subpd, |cx| arith(cx, Op::Sub, PD)),
        (Subss, |cx| arith(cx, Op::Sub, SS)),
        (Subsd, |cx| arith(cx, Op::Sub, SD)),
        (Mulps, |cx| arith(cx, Op::Mul, PS)),
        (Mulpd, |cx| arith(cx, Op::Mul, PD)),
        (Mulss, |cx| arith(cx, Op::Mul, SS)),
        (Mulsd, |cx| arith(cx, Op::Mul, SD)),
        (Divps, |cx| arith(cx, Op::Div, PS)),
        (Divpd, |cx| arith(cx, Op::Div, PD)),
        (Divss, |cx| arith(cx, Op::Div, SS)),
        (Divsd, |cx| arith(cx, Op::Div, SD)),
        (Sqrtps, |cx| arith(cx, Op::Sqrt, PS)),
        (Sqrtpd, |cx| arith(cx, Op::Sqrt, PD)),
        (Sqrtss, |cx| arith(cx, Op::Sqrt, SS)),
        (Sqrtsd, |cx| arith(cx, Op::Sqrt, SD)),
        (Minps, |cx| arith(cx, Op::Min, PS)),
        (Minpd, |cx| arith(cx, Op::Min, PD)),
        (Minss, |cx| arith(cx, Op::Min, SS)),
        (Minsd, |cx| arith(cx, Op::Min, SD)),
        (Maxps, |cx| arith(cx, Op::Max, PS)),
        (Maxpd, |cx| arith(cx, Op::Max, PD)),
        (Maxss, |cx| arith(cx, Op::Max, SS)),
        (Maxsd, |cx| arith(cx, Op::Max, SD)),
        (Rcpps, |cx| arith(cx, Op::Rcp, PS)),
        (Rcpss, |cx| arith(cx, Op::Rcp, SS)),
        (Rsqrtps, |cx| arith(cx, Op::Rsqrt, PS)),
        (Rsqrtss, |cx| arith(cx, Op::Rsqrt, SS)),
        (Cmpps, |cx| compare(cx, PS)),
        (Cmppd, |cx| compare(cx, PD)),
        (Cmpss, |cx| compare(cx, SS)),
        // CMPSD is also the string instruction: `string` dispatches here.
        (Comiss, |cx| comis(cx, Type::F32, true)),
        (Ucomiss, |cx| comis(cx, Type::F32, false)),
        (Comisd, |cx| comis(cx, Type::F64, true)),
        (Ucomisd, |cx| comis(cx, Type::F64, false)),
        (Cvtsi2ss, |cx| convert_scalar(cx, None, Some(Type::F32), false)),
        (Cvtsi2sd, |cx| convert_scalar(cx, None, Some(Type::F64), false)),
        (Cvtss2si, |cx| convert_scalar(cx, Some(Type::F32), None, false)),
        (Cvtsd2si, |cx| convert_scalar(cx, Some(Type::F64), None, false)),
        (Cvttss2si, |cx| convert_scalar(cx, Some(Type::F32), None, true)),
        (Cvttsd2si, |cx| convert_scalar(cx, Some(Type::F64), None, true)),
        (Cvtss2sd, |cx| convert_scalar(cx, Some(Type::F32), Some(Type::F64), false)),
        (Cvtsd2ss, |cx| convert_scalar(cx, Some(Type::F64), Some(Type::F32), false)),
        (Cvtps2pd, |cx| convert_packed(cx, Type::F32, Type::F64, false)),
        (Cvtpd2ps, |cx| convert_packed(cx, Type::F64, Type::F32, false)),
        (Cvtdq2ps, |cx| convert_packed(cx, Type::I32, Type::F32, false)),
        (Cvtps2dq, |cx| convert_packed(cx, Type::F32, Type::I32, false)),
        (Cvttps2dq, |cx| convert_packed(cx, Type::F32, Type::I32, true)),
        (Cvtdq2pd, |cx| convert_packed(cx, Type::I32, Type::F64, false)),
        (Cvtpd2dq, |cx| convert_packed(cx, Type::F64, Type::I32, false)),
        (Cvttpd2dq, |cx| convert_packed(cx, Type::F64, Type::I32, true)),
        (Cvtpi2ps, |cx| convert_packed(cx, Type::I32, Type::F32, false)),
        (Cvtpi2pd, |cx| convert_packed(cx, Type::I32, Type::F64, false)),
        (Cvtps2pi, |cx| convert_packed(cx, Type::F32, Type::I32, false)),
        (Cvttps2pi, |cx| convert_packed(cx, Type::F32, Type::I32, true)),
        (Cvtpd2pi, |cx| convert_packed(cx, Type::F64, Type::I32, false)),
        (Cvttpd2pi, |cx| convert_packed(cx, Type::F64, Type::I32, true)),
        (Ldmxcsr, ldmxcsr),
        (Stmxcsr, stmxcsr),
        (Haddps, |cx| horizontal(cx, Type::F32, Opcode::Vfadd)),
        (Haddpd, |cx| horizontal(cx, Type::F64, Opcode::Vfadd)),
        (Hsubps, |cx| horizontal(cx, Type::F32, Opcode::Vfsub)),
        (Hsubpd, |cx| horizontal(cx, Type::F64, Opcode::Vfsub)),
        (Addsubps, |cx| addsub(cx, Type::F32)),
        (Addsubpd, |cx| addsub(cx, Type::F64)),
        (Roundps, |cx| round(cx, PS)),
        (Roundpd, |cx| round(cx, PD)),
        (Roundss, |cx| round(cx, SS)),
        (Roundsd, |cx| round(cx, SD)),
        (Dpps, |cx| dot(cx, Type::F32)),
        (Dppd, |cx| dot(cx, Type::F64)),
        (Blendps, |cx| blend(cx, Type::F32)),
        (Blendpd, |cx| blend(cx, Type::F64)),
        (Blendvps, |cx| blendv(cx, Type::F32)),
        (Blendvpd, |cx| blendv(cx, Type::F64)),
        (Insertps, insertps),
        (Extractps, extractps),
    ]
};

/// CMPSD with XMM operands (the string CMPSD is lifted by `string`).
pub(super) fn cmpsd(cx: &mut Ctx) -> Flow {
    compare(cx, SD)
}

/// A float form: the lane type, and whether every lane is computed (PS PD)
/// or only the low one (SS SD).
#[derive(Clone, Copy)]
struct Form {
    lane: Type,
    packed: bool,
}

const PS: Form = Form { lane: Type::F32, packed: true };
const PD: Form = Form { lane: Type::F64, packed: true };
const SS: Form = Form { lane: Type::F32, packed: false };
const SD: Form = Form { lane: Type::F64, packed: false };

impl Form {
    fn shape(self) -> Type {
        lane_shape(self.lane)
    }

    /// Lanes computed.
    fn count(self) -> u8 {
        if self.packed { lanes(self.lane) } else { 1 }
    }
}

/// Lanes of `lane` in a vector.
fn lanes(lane: Type) -> u8 {
    (16 / lane.bytes()) as u8
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Sqrt,
    Min,
    Max,
    Rcp,
    Rsqrt,
}

/// LOCK raises #UD on every SSE instruction.
fn undefined(cx: &Ctx) -> bool {
    cx.insn.has_lock_prefix()
}

fn dest(cx: &Ctx) -> Register {
    cx.insn.op0_register()
}

fn imm8(cx: &Ctx) -> u8 {
    cx.insn.immediate8()
}

// ---- constants and lane plumbing ----

/// A vector with every 32-bit lane `v`.
fn splat32(cx: &mut Ctx, v: u32) -> Value {
    cx.vconst((0..4).fold(0, |acc, i| acc | (v as u128) << (32 * i)))
}

fn fconst(cx: &mut Ctx, ty: Type, v: f64) -> Value {
    let bits = if ty == Type::F32 { (v as f32).to_bits() as u128 } else { v.to_bits() as u128 };
    cx.b.ins(Opcode::Const, Some(ty), Imm::Const(bits.into()), &[])
}

/// All ones in the lanes of width `w` bytes whose bit is set in `bits`.
fn lane_mask(cx: &mut Ctx, w: u32, bits: u8) -> Value {
    let ones = u128::MAX >> (128 - 8 * w);
    let mask = (0..16 / w).filter(|i| bits >> i & 1 == 1).fold(0, |acc, i| acc | ones << (8 * w * i));
    cx.vconst(mask)
}

/// Lane `i` of the result is lane `lanes[i]` of the concatenation `a`, `b`.
fn shuffle(cx: &mut Ctx, lane: Type, a: Value, b: Value, lanes: &[u8]) -> Value {
    let w = lane.bytes() as u8;
    let mut mask = [0u8; 16];
    for (i, byte) in mask.iter_mut().enumerate() {
        *byte = lanes[i / w as usize] * w + i as u8 % w;
    }
    cx.b.ins(Opcode::Vshuffle, None, Imm::Shuffle(mask), &[a, b])
}

/// Lane `lane` of `v`: the scalar an instruction just inserted there, or a
/// lane just extracted, is reused (an SSE scalar form extracts the low lane
/// of its operands and result several times: for the operation, its
/// exception flags and the write).
fn extract(cx: &mut Ctx, shape: Type, v: Value, lane: u8) -> Value {
    let block = cx.b.block();
    let recent = block.insts.iter().rev().take(16).find_map(|i| {
        let (ty, imm, args) = (i.ty, i.imm, block.args(i));
        let r = i.results().next()?;
        match i.op {
            Opcode::Vinsert if r == v && ty == Some(shape) && imm == Imm::Lane(lane) => Some(args[1]),
            Opcode::Vextract if args[0] == v && ty == Some(shape) && imm == Imm::Lane(lane) => Some(r),
            _ => None,
        }
    });
    match recent {
        Some(x) => x,
        None => cx.b.ins(Opcode::Vextract, Some(shape), Imm::Lane(lane), &[v]),
    }
}

fn insert(cx: &mut Ctx, shape: Type, v: Value, x: Value, lane: u8) -> Value {
    cx.b.ins(Opcode::Vinsert, Some(shape), Imm::Lane(lane), &[v, x])
}

/// `v` with its first `count` lanes replaced by `f` of each.
fn map_lanes(cx: &mut Ctx, shape: Type, v: Value, count: u8, mut f: impl FnMut(&mut Ctx, Value) -> Value) -> Value {
    (0..count).fold(v, |acc, i| {
        let x = extract(cx, shape, v, i);
        let y = f(cx, x);
        insert(cx, shape, acc, y, i)
    })
}

/// `m ? x : y` bit by bit.
fn bitselect(cx: &mut Ctx, m: Value, x: Value, y: Value) -> Value {
    let d = cx.op(Opcode::Xor, &[x, y]);
    let d = cx.op(Opcode::And, &[d, m]);
    cx.op(Opcode::Xor, &[y, d])
}

fn vfcmp(cx: &mut Ctx, shape: Type, cc: FloatCC, a: Value, b: Value) -> Value {
    cx.b.ins(Opcode::Vfcmp, Some(shape), Imm::FloatCC(cc), &[a, b])
}

fn fcmp(cx: &mut Ctx, cc: FloatCC, a: Value, b: Value) -> Value {
    let ty = cx.ty(a);
    cx.b.ins(Opcode::Fcmp, Some(ty), Imm::FloatCC(cc), &[a, b])
}

fn vcmp32(cx: &mut Ctx, cc: IntCC, a: Value, b: Value) -> Value {
    cx.b.ins(Opcode::Vcmp, Some(Type::I32x4), Imm::IntCC(cc), &[a, b])
}

/// A float operation rounded as MXCSR says.
fn rounded(cx: &mut Ctx, op: Opcode, ty: Type, args: &[Value]) -> Value {
    let mode = cx.mode.rounding;
    cx.b.ins(op, Some(ty), Imm::Round(mode), args)
}

/// Records the flags of `op` on `ops` giving `r`: every lane of a packed
/// form, the low lane of a scalar one.
fn record(cx: &mut Ctx, f: Form, op: ExcOp, round: Round, ops: &[Value], r: Value) {
    if f.packed {
        return fpexc::raise(cx, op, round, f.shape(), ops, r);
    }
    let low: Vec<Value> = ops.iter().map(|v| extract(cx, f.shape(), *v, 0)).collect();
    let r = extract(cx, f.shape(), r, 0);
    fpexc::raise(cx, op, round, f.lane, &low, r);
}

/// Records the flags of `op` on lanes `which` (bits) of `ops` giving `r`.
fn record_lanes(cx: &mut Ctx, lane: Type, which: u8, op: ExcOp, ops: &[Value], r: Value) {
    let round = cx.mode.rounding;
    for i in (0..lanes(lane)).filter(|i| which >> i & 1 == 1) {
        let x: Vec<Value> = ops.iter().map(|v| extract(cx, lane_shape(lane), *v, i)).collect();
        let y = extract(cx, lane_shape(lane), r, i);
        fpexc::raise(cx, op, round, lane, &x, y);
    }
}

// ---- operands ----

/// The source operand as a vector: packed forms read 16 aligned bytes;
/// scalar forms put the source in the low lane of the destination.
fn source(cx: &mut Ctx, f: Form) -> Value {
    if f.packed {
        return cx.read_vector(1, true);
    }
    let s = cx.read_scalar(1, f.lane);
    let d = cx.read_vreg(dest(cx));
    insert(cx, f.shape(), d, s, 0)
}

/// Writes a result: all of it, or for a scalar form its low lane.
fn finish(cx: &mut Ctx, f: Form, r: Value) -> Flow {
    let reg = dest(cx);
    if f.packed {
        cx.write_vreg(reg, r);
    } else {
        let low = extract(cx, f.shape(), r, 0);
        cx.write_low(reg, low);
    }
    Flow::Next
}

/// The low 64 bits of operand 1 (an XMM or MMX register or 8 bytes of
/// memory), as a vector.
fn source_low64(cx: &mut Ctx) -> Value {
    if !cx.is_memory(1) {
        return cx.read_vector(1, false);
    }
    let v = cx.read_scalar(1, Type::I64);
    let wide = cx.resize(Type::I128, v);
    cx.b.ins(Opcode::Bitcast, Some(Type::V128), Imm::None, &[wide])
}

// ---- arithmetic ----

fn arith(cx: &mut Ctx, op: Op, f: Form) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let shape = f.shape();
    let b = source(cx, f);
    let a = cx.read_vreg(dest(cx));
    let (a, b) = match op {
        Op::Rcp | Op::Rsqrt => (a, b),
        _ => (fpexc::daz(cx, shape, a), fpexc::daz(cx, shape, b)),
    };
    let r = match op {
        Op::Add => rounded(cx, Opcode::Vfadd, shape, &[a, b]),
        Op::Sub => rounded(cx, Opcode::Vfsub, shape, &[a, b]),
        Op::Mul => rounded(cx, Opcode::Vfmul, shape, &[a, b]),
        Op::Div => rounded(cx, Opcode::Vfdiv, shape, &[a, b]),
        Op::Sqrt => rounded(cx, Opcode::Vfsqrt, shape, &[b]),
        // x86's MIN and MAX: the first operand when the comparison holds,
        // else the second (NaNs and equal zeros give the second).
        Op::Min | Op::Max => {
            let cc = if matches!(op, Op::Min) { FloatCC::Lt } else { FloatCC::Gt };
            let m = vfcmp(cx, shape, cc, a, b);
            bitselect(cx, m, a, b)
        }
        Op::Rcp => reciprocal(cx, b),
        Op::Rsqrt => reciprocal_sqrt(cx, b, f.count()),
    };
    let round = cx.mode.rounding;
    let exc = match op {
        Op::Add => Some(ExcOp::Add),
        Op::Sub => Some(ExcOp::Sub),
        Op::Mul => Some(ExcOp::Mul),
        Op::Div => Some(ExcOp::Div),
        Op::Sqrt => Some(ExcOp::Sqrt),
        Op::Min | Op::Max => Some(ExcOp::MinMax),
        Op::Rcp | Op::Rsqrt => None,
    };
    match exc {
        Some(ExcOp::Sqrt) => record(cx, f, ExcOp::Sqrt, round, &[b], r),
        Some(e) => record(cx, f, e, round, &[a, b], r),
        None => {}
    }
    let r = match op {
        Op::Min | Op::Max | Op::Rcp | Op::Rsqrt => r,
        Op::Mul | Op::Div => {
            let op = if matches!(op, Op::Mul) { Opcode::Vfmul } else { Opcode::Vfdiv };
            fpexc::ftz_rounded(cx, shape, r, op, shape, &[a, b], &[true, false])
        }
        _ => fpexc::ftz(cx, shape, r),
    };
    finish(cx, f, r)
}

/// RCPPS: the exact reciprocal, rounded to nearest, with tiny (denormal)
/// results flushed to a zero of their sign as the manuals say.
fn reciprocal(cx: &mut Ctx, b: Value) -> Value {
    let one = splat32(cx, 0x3f80_0000);
    let q = cx.b.ins(Opcode::Vfdiv, Some(Type::F32x4), Imm::Round(Round::Nearest), &[one, b]);
    let exp_mask = splat32(cx, 0x7f80_0000);
    let exp = cx.op(Opcode::And, &[q, exp_mask]);
    let zero = cx.vconst(0);
    let tiny = vcmp32(cx, IntCC::Eq, exp, zero);
    let sign_mask = splat32(cx, 0x8000_0000);
    let sign = cx.op(Opcode::And, &[q, sign_mask]);
    let q = bitselect(cx, tiny, sign, q);
    denormal_inputs_as_zero(cx, b, q)
}

/// RSQRTPS: 1/sqrt(x) in double precision, rounded to single.
fn reciprocal_sqrt(cx: &mut Ctx, b: Value, count: u8) -> Value {
    let r = map_lanes(cx, Type::F32x4, b, count, |cx, x| {
        let wide = cx.b.ins(Opcode::Fpromote, Some(Type::F64), Imm::None, &[x]);
        let root = cx.b.ins(Opcode::Fsqrt, Some(Type::F64), Imm::Round(Round::Nearest), &[wide]);
        let one = fconst(cx, Type::F64, 1.0);
        let q = cx.b.ins(Opcode::Fdiv, Some(Type::F64), Imm::Round(Round::Nearest), &[one, root]);
        cx.b.ins(Opcode::Fdemote, Some(Type::F32), Imm::Round(Round::Nearest), &[q])
    });
    denormal_inputs_as_zero(cx, b, r)
}

/// RCP and RSQRT treat denormal inputs as zeros: an infinity of their sign.
fn denormal_inputs_as_zero(cx: &mut Ctx, b: Value, r: Value) -> Value {
    let abs_mask = splat32(cx, 0x7fff_ffff);
    let abs = cx.op(Opcode::And, &[b, abs_mask]);
    let sign = cx.op(Opcode::Xor, &[b, abs]);
    let normal = splat32(cx, 0x0080_0000);
    let small = vcmp32(cx, IntCC::Ult, abs, normal);
    let inf = splat32(cx, 0x7f80_0000);
    let signed_inf = cx.op(Opcode::Or, &[sign, inf]);
    bitselect(cx, small, signed_inf, r)
}

// ---- comparisons ----

/// CMPPS CMPPD CMPSS CMPSD: all ones where the predicate (imm8 bits 2:0;
/// the legacy encodings ignore the other bits) holds.
fn compare(cx: &mut Ctx, f: Form) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    use FloatCC::*;
    // The VEX forms have 32 predicates: 16 to 31 differ from 0 to 15 only
    // in which NaNs signal.
    let predicates = [
        Some(Eq),
        Some(Lt),
        Some(Le),
        Some(Uno),
        Some(Ne),
        Some(Uge),
        Some(Ugt),
        Some(Ord),
        Some(Ueq),
        Some(Ult),
        Some(Ule),
        None,
        Some(One),
        Some(Ge),
        Some(Gt),
        None,
    ];
    let imm = imm8(cx) & if cx.vex.is_some() { 31 } else { 7 };
    let p = (imm & 15) as usize;
    let b = source(cx, f);
    let a = cx.read_vreg(dest(cx));
    let (a, b) = (fpexc::daz(cx, f.shape(), a), fpexc::daz(cx, f.shape(), b));
    // LT LE NLT NLE NGE NGT GE GT signal on quiet NaNs; 16 to 31 swap.
    let signals = matches!(p, 1 | 2 | 5 | 6 | 9 | 10 | 13 | 14) != (imm >= 16);
    let kind = if signals { ExcOp::CmpSignal } else { ExcOp::CmpQuiet };
    record(cx, f, kind, cx.mode.rounding, &[a, b], a);
    let r = match predicates[p] {
        Some(cc) => vfcmp(cx, f.shape(), cc, a, b),
        None => cx.vconst(if p == 15 { u128::MAX } else { 0 }),
    };
    finish(cx, f, r)
}

/// COMISS UCOMISS COMISD UCOMISD: ZF PF CF are 111 unordered, 000 greater,
/// 001 less, 100 equal; OF SF AF are cleared. COMIS signals invalid on
/// quiet NaNs too, UCOMIS only on signalling ones.
fn comis(cx: &mut Ctx, lane: Type, signals: bool) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let b = cx.read_scalar(1, lane);
    let a = cx.read_scalar(0, lane);
    let (a, b) = (fpexc::daz(cx, lane, a), fpexc::daz(cx, lane, b));
    let kind = if signals { ExcOp::CmpSignal } else { ExcOp::CmpQuiet };
    fpexc::raise(cx, kind, cx.mode.rounding, lane, &[a, b], a);
    for (flag, cc) in [(ZF, FloatCC::Ueq), (PF, FloatCC::Uno), (CF, FloatCC::Ult)] {
        let v = fcmp(cx, cc, a, b);
        cx.set_flag(flag, v);
    }
    for flag in [OF, SF, AF] {
        cx.set_flag_const(flag, false);
    }
    Flow::Next
}

// ---- conversions ----

/// Converts a scalar to `to`: integers to floats and floats to floats
/// rounded as MXCSR says, floats to integers rounded so too (or truncated),
/// giving the integer indefinite (the minimum) for NaN and out of range.
fn convert(cx: &mut Ctx, x: Value, to: Type, truncate: bool) -> Value {
    let from = cx.ty(x);
    let round = cx.mode.rounding;
    let x = if from.is_float() { fpexc::daz(cx, from, x) } else { x };
    let (kind, mode, r) = match (from.is_float(), to.is_float()) {
        (false, _) => (ExcOp::FromInt, round, rounded(cx, Opcode::FcvtFromSint, to, &[x])),
        (true, false) => {
            let mode = if truncate { Round::Zero } else { round };
            let r = cx.b.ins(Opcode::Fround, Some(from), Imm::Round(mode), &[x]);
            // Below the range the conversion saturates to the minimum, which
            // is the indefinite value; at 2^(bits-1) and up, or NaN, it is not.
            let limit = fconst(cx, from, 2f64.powi(to.bits() as i32 - 1));
            let fits = fcmp(cx, FloatCC::Lt, r, limit);
            let v = cx.b.ins(Opcode::FcvtToSint, Some(to), Imm::None, &[r]);
            let indefinite = cx.iconst(to, 1 << (to.bits() - 1));
            (ExcOp::ToInt, mode, cx.select(fits, v, indefinite))
        }
        _ if to.bits() > from.bits() => (ExcOp::Convert, round, cx.b.ins(Opcode::Fpromote, Some(to), Imm::None, &[x])),
        _ => (ExcOp::Convert, round, rounded(cx, Opcode::Fdemote, to, &[x])),
    };
    fpexc::raise(cx, kind, mode, from, &[x], r);
    match (from.is_float(), to.is_float()) {
        (true, true) if to.bits() < from.bits() => fpexc::ftz_rounded(cx, to, r, Opcode::Fdemote, from, &[x], &[true]),
        (_, true) => fpexc::ftz(cx, to, r),
        _ => r,
    }
}

/// CVTSI2SS CVTSI2SD CVT(T)SS2SI CVT(T)SD2SI CVTSS2SD CVTSD2SS: `None` is
/// the integer of the operand's size; a float result goes to the low lane
/// of the destination, an integer one to a general register.
fn convert_scalar(cx: &mut Ctx, from: Option<Type>, to: Option<Type>, truncate: bool) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let from = from.unwrap_or_else(|| cx.operand_type(1));
    let x = cx.read_scalar(1, from);
    let reg = dest(cx);
    let to = to.unwrap_or_else(|| int_type(reg.size()));
    let v = convert(cx, x, to, truncate);
    if to.is_float() {
        cx.write_low(reg, v);
    } else {
        cx.write_gpr(reg, v);
    }
    Flow::Next
}

/// The packed conversions: as many lanes as both the source and the
/// destination hold (an MMX register or the m64 of an MMX source 8 bytes,
/// an XMM register 16), from 16 aligned bytes or the low 8 (CVTPS2PD
/// CVTDQ2PD CVTPS2PI read m64, unaligned). The lanes of the result beyond
/// them are zeroed, but for the conversions from MMX sources (CVTPI2PS),
/// which keep the destination's.
fn convert_packed(cx: &mut Ctx, from: Type, to: Type, truncate: bool) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let mmx_source = cx.insn.op_code().op_kind(1) == OpCodeOperandKind::mm_or_mem;
    let source_bytes = if mmx_source { 8 } else { 16 };
    let count = (source_bytes / from.bytes()).min(cx.vector_width() as u32 / to.bytes()) as u8;
    let src = if count == lanes(from) { cx.read_vector(1, true) } else { source_low64(cx) };
    let init = if mmx_source { cx.read_vreg(dest(cx)) } else { cx.vconst(0) };
    let r = (0..count).fold(init, |acc, i| {
        let x = extract(cx, lane_shape(from), src, i);
        let y = convert(cx, x, to, truncate);
        insert(cx, lane_shape(to), acc, y, i)
    });
    cx.write_vreg(dest(cx), r);
    Flow::Next
}

// ---- MXCSR ----

/// LDMXCSR: #GP when a bit outside MXCSR_MASK is set; the block ends so the
/// next one is looked up in the new rounding direction.
fn ldmxcsr(cx: &mut Ctx) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let addr = cx.address();
    let v = cx.load(Type::I32, addr);
    let reserved = cx.iconst(Type::I32, !crate::machine::MXCSR_MASK as u64);
    let bad = cx.op(Opcode::And, &[v, reserved]);
    let bad = cx.icmp_imm(IntCC::Ne, bad, 0);
    cx.b.trap_if(bad, TrapCode::User(13));
    cx.set(cx.x.mxcsr, v);
    cx.exit(ExitReason::Yield, cx.next_ip())
}

fn stmxcsr(cx: &mut Ctx) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let addr = cx.address();
    let v = cx.get(cx.x.mxcsr);
    cx.store(v, addr);
    Flow::Next
}

// ---- SSE3 ----

/// HADDPS HADDPD HSUBPS HSUBPD: even lanes op odd lanes, pairs of the
/// destination then of the source.
fn horizontal(cx: &mut Ctx, lane: Type, op: Opcode) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let b = cx.read_vector(1, true);
    let a = cx.read_vreg(dest(cx));
    let n = lanes(lane);
    let even: Vec<u8> = (0..n).map(|i| 2 * i).collect();
    let odd: Vec<u8> = (0..n).map(|i| 2 * i + 1).collect();
    let x = shuffle(cx, lane, a, b, &even);
    let y = shuffle(cx, lane, a, b, &odd);
    let (x, y) = (fpexc::daz(cx, lane_shape(lane), x), fpexc::daz(cx, lane_shape(lane), y));
    let r = rounded(cx, op, lane_shape(lane), &[x, y]);
    let kind = if op == Opcode::Vfadd { ExcOp::Add } else { ExcOp::Sub };
    fpexc::raise(cx, kind, cx.mode.rounding, lane_shape(lane), &[x, y], r);
    let r = fpexc::ftz(cx, lane_shape(lane), r);
    cx.write_vreg(dest(cx), r);
    Flow::Next
}

/// ADDSUBPS ADDSUBPD: even lanes subtract, odd lanes add.
fn addsub(cx: &mut Ctx, lane: Type) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let shape = lane_shape(lane);
    let b = cx.read_vector(1, true);
    let a = cx.read_vreg(dest(cx));
    let (a, b) = (fpexc::daz(cx, shape, a), fpexc::daz(cx, shape, b));
    let diff = rounded(cx, Opcode::Vfsub, shape, &[a, b]);
    let sum = rounded(cx, Opcode::Vfadd, shape, &[a, b]);
    let n = lanes(lane);
    record_lanes(cx, lane, 0x55, ExcOp::Sub, &[a, b], diff);
    record_lanes(cx, lane, 0xaa, ExcOp::Add, &[a, b], sum);
    let pick: Vec<u8> = (0..n).map(|i| if i % 2 == 0 { i } else { n + i }).collect();
    let r = shuffle(cx, lane, diff, sum, &pick);
    let r = fpexc::ftz(cx, shape, r);
    cx.write_vreg(dest(cx), r);
    Flow::Next
}

// ---- SSE4.1 ----

/// ROUNDPS ROUNDPD ROUNDSS ROUNDSD: imm8 bit 2 selects MXCSR's direction,
/// else bits 1:0 give it; bit 3 suppresses the precision exception.
fn round(cx: &mut Ctx, f: Form) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let imm = imm8(cx);
    let mode = match imm & 4 {
        0 => [Round::Nearest, Round::Down, Round::Up, Round::Zero][(imm & 3) as usize],
        _ => cx.mode.rounding,
    };
    let b = source(cx, f);
    let b = fpexc::daz(cx, f.shape(), b);
    let lane = f.lane;
    let kind = if imm & 8 != 0 { ExcOp::RoundQuiet } else { ExcOp::RoundInt };
    let r = map_lanes(cx, f.shape(), b, f.count(), |cx, x| {
        let r = cx.b.ins(Opcode::Fround, Some(lane), Imm::Round(mode), &[x]);
        fpexc::raise(cx, kind, mode, lane, &[x], r);
        r
    });
    finish(cx, f, r)
}

/// DPPS DPPD (and VEX.128 VDPPS VDPPD): the products of the lanes selected
/// by imm8's high nibble (others +0.0), summed pairwise as the manual
/// orders it, into the lanes selected by its low nibble (others +0.0).
fn dot(cx: &mut Ctx, lane: Type) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let imm = imm8(cx);
    let b = cx.read_vector(1, true);
    let a = cx.read_vreg(dest(cx));
    let [r] = dot_product(cx, lane, imm, [(a, b)]);
    cx.write_vreg(dest(cx), r);
    Flow::Next
}

/// The dot products of `halves` (each 128 bits: VDPPS's 256-bit form has
/// two, computed alike), a step at a time: the multiplies, then each round
/// of adds, raise their exceptions on their own (over every half), so an
/// unmasked one stops the instruction after the step that raised it.
pub(super) fn dot_product<const N: usize>(
    cx: &mut Ctx,
    lane: Type,
    imm: u8,
    halves: [(Value, Value); N],
) -> [Value; N] {
    let shape = lane_shape(lane);
    let n = lanes(lane);
    let w = lane.bytes();
    let inputs = halves.map(|(a, b)| (fpexc::daz(cx, shape, a), fpexc::daz(cx, shape, b)));
    let products = inputs.map(|(a, b)| {
        let p = rounded(cx, Opcode::Vfmul, shape, &[a, b]);
        record_lanes(cx, lane, imm >> 4, ExcOp::Mul, &[a, b], p);
        p
    });
    fpexc::record_gathered(cx);
    let keep = lane_mask(cx, w, imm >> 4);
    let mut sums: [Value; N] = std::array::from_fn(|h| {
        let (a, b) = inputs[h];
        let p = fpexc::ftz_rounded(cx, shape, products[h], Opcode::Vfmul, shape, &[a, b], &[true, false]);
        cx.op(Opcode::And, &[p, keep])
    });
    for _ in 0..n.trailing_zeros() {
        let even: Vec<u8> = (0..n).map(|i| 2 * i % n).collect();
        let odd: Vec<u8> = (0..n).map(|i| (2 * i + 1) % n).collect();
        for sum in sums.iter_mut() {
            // DAZ reads the denormal products the adds take as zeros too.
            let x = shuffle(cx, lane, *sum, *sum, &even);
            let x = fpexc::daz(cx, shape, x);
            let y = shuffle(cx, lane, *sum, *sum, &odd);
            let y = fpexc::daz(cx, shape, y);
            *sum = rounded(cx, Opcode::Vfadd, shape, &[x, y]);
            fpexc::raise(cx, ExcOp::Add, cx.mode.rounding, shape, &[x, y], *sum);
        }
        fpexc::record_gathered(cx);
        for sum in sums.iter_mut() {
            *sum = fpexc::ftz(cx, shape, *sum);
        }
    }
    let out = lane_mask(cx, w, imm & 15);
    sums.map(|sum| {
        let all = shuffle(cx, lane, sum, sum, &[0; 4][..n as usize]);
        cx.op(Opcode::And, &[all, out])
    })
}

/// BLENDPS BLENDPD: the source's lane where imm8's bit is set.
fn blend(cx: &mut Ctx, lane: Type) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let imm = imm8(cx);
    let b = cx.read_vector(1, true);
    let a = cx.read_vreg(dest(cx));
    let n = lanes(lane);
    let pick: Vec<u8> = (0..n).map(|i| if imm >> i & 1 == 1 { n + i } else { i }).collect();
    let r = shuffle(cx, lane, a, b, &pick);
    cx.write_vreg(dest(cx), r);
    Flow::Next
}

/// BLENDVPS BLENDVPD: the source's lane where XMM0's lane has its sign set.
fn blendv(cx: &mut Ctx, lane: Type) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let b = cx.read_vector(1, true);
    let a = cx.read_vreg(dest(cx));
    let sel = cx.read_selector();
    let ishape = lane_shape(int_type(lane.bytes() as usize));
    let k = cx.iconst(Type::I64, lane.bits() as u64 - 1);
    let m = cx.b.ins(Opcode::Vashr, Some(ishape), Imm::None, &[sel, k]);
    let r = bitselect(cx, m, b, a);
    cx.write_vreg(dest(cx), r);
    Flow::Next
}

/// INSERTPS: source lane imm8[7:6] (or the m32) into lane imm8[5:4], then
/// the lanes of imm8[3:0] zeroed.
fn insertps(cx: &mut Ctx) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let imm = imm8(cx);
    let x = if cx.is_memory(1) {
        cx.read_scalar(1, Type::I32)
    } else {
        let v = cx.read_vector(1, false);
        extract(cx, Type::I32x4, v, imm >> 6)
    };
    let a = cx.read_vreg(dest(cx));
    let mut r = insert(cx, Type::I32x4, a, x, (imm >> 4) & 3);
    if imm & 15 != 0 {
        let keep = lane_mask(cx, 4, !imm & 15);
        r = cx.op(Opcode::And, &[r, keep]);
    }
    cx.write_vreg(dest(cx), r);
    Flow::Next
}

/// EXTRACTPS: lane imm8[1:0] to m32, or zero-extended to a register.
fn extractps(cx: &mut Ctx) -> Flow {
    if undefined(cx) {
        return Flow::Undefined;
    }
    let v = cx.read_vreg(cx.insn.op1_register());
    let x = extract(cx, Type::I32x4, v, imm8(cx) & 3);
    if cx.is_memory(0) {
        let addr = cx.address();
        cx.store(x, addr);
    } else {
        let reg = dest(cx);
        let x = cx.resize(int_type(reg.size()), x);
        cx.write_gpr(reg, x);
    }
    Flow::Next
}
