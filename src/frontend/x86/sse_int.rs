//! SSE2 integer arithmetic on XMM and MMX registers: PADD* PSUB* (wrapping
//! and saturating), PMULLW PMULHW PMULHUW PMULUDQ PMADDWD, PAVGB/W,
//! PSADBW, PMINUB/PMAXUB/PMINSW/PMAXSW, PCMPEQ*/PCMPGT*, PSLL/PSRL/PSRA
//! (count in the low 64 bits of an XMM register or m128, in an MMX
//! register or m64, or an imm8) and PSLLDQ/PSRLDQ (XMM only).
//!
//! The MMX forms compute as the XMM ones on the 64-bit values zero-extended
//! (every operation here is lane-wise, or sums within 64-bit halves), and
//! keep the low 64 bits. m128 sources must be 16-byte aligned (#GP), the
//! count operand of the shifts included; m64 ones need not be. No flags or
//! MXCSR bits change.

use iced_x86::{Mnemonic, OpKind};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use crate::visa::{Imm, IntCC, Opcode, Type, Value};

use Opcode::*;
use Type::{I8x16, I16x8, I32x4, I64x2};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Paddb, |cx| cx.vec_lanes(Vadd, I8x16)),
    (Mnemonic::Paddw, |cx| cx.vec_lanes(Vadd, I16x8)),
    (Mnemonic::Paddd, |cx| cx.vec_lanes(Vadd, I32x4)),
    (Mnemonic::Paddq, |cx| cx.vec_lanes(Vadd, I64x2)),
    (Mnemonic::Psubb, |cx| cx.vec_lanes(Vsub, I8x16)),
    (Mnemonic::Psubw, |cx| cx.vec_lanes(Vsub, I16x8)),
    (Mnemonic::Psubd, |cx| cx.vec_lanes(Vsub, I32x4)),
    (Mnemonic::Psubq, |cx| cx.vec_lanes(Vsub, I64x2)),
    (Mnemonic::Paddsb, |cx| cx.vec_lanes(VaddSatS, I8x16)),
    (Mnemonic::Paddsw, |cx| cx.vec_lanes(VaddSatS, I16x8)),
    (Mnemonic::Paddusb, |cx| cx.vec_lanes(VaddSatU, I8x16)),
    (Mnemonic::Paddusw, |cx| cx.vec_lanes(VaddSatU, I16x8)),
    (Mnemonic::Psubsb, |cx| cx.vec_lanes(VsubSatS, I8x16)),
    (Mnemonic::Psubsw, |cx| cx.vec_lanes(VsubSatS, I16x8)),
    (Mnemonic::Psubusb, |cx| cx.vec_lanes(VsubSatU, I8x16)),
    (Mnemonic::Psubusw, |cx| cx.vec_lanes(VsubSatU, I16x8)),
    (Mnemonic::Pmullw, |cx| cx.vec_lanes(Vmul, I16x8)),
    (Mnemonic::Pmulhw, |cx| cx.vec_lanes(VmulhiS, I16x8)),
    (Mnemonic::Pmulhuw, |cx| cx.vec_lanes(VmulhiU, I16x8)),
    (Mnemonic::Pavgb, |cx| cx.vec_lanes(VavgU, I8x16)),
    (Mnemonic::Pavgw, |cx| cx.vec_lanes(VavgU, I16x8)),
    (Mnemonic::Pminub, |cx| cx.vec_lanes(VminU, I8x16)),
    (Mnemonic::Pmaxub, |cx| cx.vec_lanes(VmaxU, I8x16)),
    (Mnemonic::Pminsw, |cx| cx.vec_lanes(VminS, I16x8)),
    (Mnemonic::Pmaxsw, |cx| cx.vec_lanes(VmaxS, I16x8)),
    (Mnemonic::Pcmpeqb, |cx| compare(cx, IntCC::Eq, I8x16)),
    (Mnemonic::Pcmpeqw, |cx| compare(cx, IntCC::Eq, I16x8)),
    (Mnemonic::Pcmpeqd, |cx| compare(cx, IntCC::Eq, I32x4)),
    (Mnemonic::Pcmpgtb, |cx| compare(cx, IntCC::Sgt, I8x16)),
    (Mnemonic::Pcmpgtw, |cx| compare(cx, IntCC::Sgt, I16x8)),
    (Mnemonic::Pcmpgtd, |cx| compare(cx, IntCC::Sgt, I32x4)),
    (Mnemonic::Pmuludq, |cx| cx.vec_binary(pmuludq)),
    (Mnemonic::Pmaddwd, |cx| cx.vec_binary(pmaddwd)),
    (Mnemonic::Psadbw, |cx| cx.vec_binary(psadbw)),
    (Mnemonic::Psllw, |cx| shift(cx, Vshl, I16x8)),
    (Mnemonic::Pslld, |cx| shift(cx, Vshl, I32x4)),
    (Mnemonic::Psllq, |cx| shift(cx, Vshl, I64x2)),
    (Mnemonic::Psrlw, |cx| shift(cx, Vlshr, I16x8)),
    (Mnemonic::Psrld, |cx| shift(cx, Vlshr, I32x4)),
    (Mnemonic::Psrlq, |cx| shift(cx, Vlshr, I64x2)),
    (Mnemonic::Psraw, |cx| shift(cx, Vashr, I16x8)),
    (Mnemonic::Psrad, |cx| shift(cx, Vashr, I32x4)),
    (Mnemonic::Pslldq, |cx| byte_shift(cx, true)),
    (Mnemonic::Psrldq, |cx| byte_shift(cx, false)),
];

/// `v` repeated in every `bits`-wide lane.
fn splat_bits(bits: u32, v: u128) -> u128 {
    (0..128 / bits).fold(0, |acc, i| acc | v << (i * bits))
}

fn compare(cx: &mut Ctx, cc: IntCC, shape: Type) -> Flow {
    cx.vec_binary(|cx, a, b| cx.b.ins(Vcmp, Some(shape), Imm::IntCC(cc), &[a, b]))
}

/// PMULUDQ: the unsigned 64-bit products of the even 32-bit lanes.
fn pmuludq(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let low = cx.vconst(splat_bits(64, 0xffff_ffff));
    let a = cx.op(And, &[a, low]);
    let b = cx.op(And, &[b, low]);
    cx.vop(Vmul, I64x2, &[a, b])
}

/// PMADDWD: each 32-bit lane is the wrapping sum of the signed products of
/// its two 16-bit halves (only -32768² + -32768² wraps, to 0x80000000 as
/// hardware gives).
fn pmaddwd(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let sixteen = cx.iconst(Type::I64, 16);
    let halves = |cx: &mut Ctx, v: Value| {
        let up = cx.vop(Vshl, I32x4, &[v, sixteen]);
        let low = cx.vop(Vashr, I32x4, &[up, sixteen]);
        let high = cx.vop(Vashr, I32x4, &[v, sixteen]);
        (low, high)
    };
    let (al, ah) = halves(cx, a);
    let (bl, bh) = halves(cx, b);
    let low = cx.vop(Vmul, I32x4, &[al, bl]);
    let high = cx.vop(Vmul, I32x4, &[ah, bh]);
    cx.vop(Vadd, I32x4, &[low, high])
}

/// PSADBW: the sum of the absolute byte differences of each 64-bit half,
/// zero-extended into it. Adjacent lanes are summed at 16, 32 and 64 bits.
fn psadbw(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let max = cx.vop(VmaxU, I8x16, &[a, b]);
    let min = cx.vop(VminU, I8x16, &[a, b]);
    let mut sum = cx.vop(Vsub, I8x16, &[max, min]);
    for (shape, half) in [(I16x8, 8u32), (I32x4, 16), (I64x2, 32)] {
        let mask = cx.vconst(splat_bits(2 * half, (1 << half) - 1));
        let low = cx.op(And, &[sum, mask]);
        let k = cx.iconst(Type::I64, half as u64);
        let high = cx.vop(Vlshr, shape, &[sum, k]);
        sum = cx.vop(Vadd, shape, &[low, high]);
    }
    sum
}

/// PSLL/PSRL/PSRA by an imm8 or by the low 64 bits of xmm/m128 or mm/m64
/// (unsigned: a count of the lane width or more gives 0, or the sign for
/// PSRA).
fn shift(cx: &mut Ctx, op: Opcode, shape: Type) -> Flow {
    let count = match cx.insn.op_kind(1) {
        OpKind::Immediate8 => cx.iconst(Type::I64, cx.insn.immediate8() as u64),
        _ => {
            let v = cx.read_vector(1, true);
            cx.b.ins(Vextract, Some(I64x2), Imm::Lane(0), &[v])
        }
    };
    let dst = cx.insn.op0_register();
    let a = cx.read_vreg(dst);
    let v = cx.vop(op, shape, &[a, count]);
    cx.write_vreg(dst, v);
    Flow::Next
}

/// PSLLDQ/PSRLDQ: the register shifted by imm8 bytes (16 or more clears it).
fn byte_shift(cx: &mut Ctx, left: bool) -> Flow {
    let n = cx.insn.immediate8() as usize;
    let dst = cx.insn.op0_register();
    let a = cx.read_vreg(dst);
    let zero = cx.vconst(0);
    // Byte i from byte i -/+ n of `a`, or from `zero` (index 16) outside it.
    let mask = std::array::from_fn(|i| {
        let from = if left { i.checked_sub(n) } else { Some(i + n) };
        from.filter(|&k| k < 16).unwrap_or(16) as u8
    });
    let v = cx.b.ins(Vshuffle, None, Imm::Shuffle(mask), &[a, zero]);
    cx.write_vreg(dst, v);
    Flow::Next
}
