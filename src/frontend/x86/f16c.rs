//! F16C: VCVTPH2PS (binary16 to binary32, exact) and VCVTPS2PH (binary32
//! to binary16, rounded as imm8 bits 1:0 say, or in MXCSR's direction when
//! imm8 bit 2 is set), 128 and 256 bits, each four lanes one call of the
//! pure `f16c` runtime helper (`machine::f16c`), which also gives the
//! exception flags they raise; those go into MXCSR (#XM when unmasked)
//! before the destination is written. A register destination
//! has what is above the result zeroed; VCVTPS2PH to memory writes 8 or 16
//! bytes. Memory operands need no alignment.

use iced_x86::{Mnemonic, OpKind};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::{avx, fpexc};
use crate::machine::f16c::{CONTROL_DAZ, CONTROL_HUGE, CONTROL_TINY, F16cOp};
use crate::visa::{Imm, Opcode, Round, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[(Mnemonic::Vcvtph2ps, to_single), (Mnemonic::Vcvtps2ph, to_half)];

/// One call of the helper on four lanes: the result and the flags.
fn convert(cx: &mut Ctx, op: F16cOp, v: Value, round: Round) -> (Value, Value) {
    let daz = if cx.mode.daz { CONTROL_DAZ } else { 0 };
    let tiny = if fpexc::is_unmasked(cx, fpexc::UE) { CONTROL_TINY } else { 0 };
    let huge = if fpexc::is_unmasked(cx, fpexc::OE) { CONTROL_HUGE } else { 0 };
    let op = cx.iconst(Type::I32, op as u64);
    let control = cx.iconst(Type::I32, (round as u32 | daz | tiny | huge) as u64);
    let r = cx.b.ins_multi(Opcode::Call, None, Imm::Helper(cx.x.f16c), &[op, v, control]);
    (r[0], r[1])
}

/// The high 64 bits of `v` moved down, zero above.
fn high64(cx: &mut Ctx, v: Value) -> Value {
    let zero = cx.vconst(0);
    let mask: [u8; 16] = std::array::from_fn(|i| if i < 8 { 8 + i as u8 } else { 16 });
    cx.b.ins(Opcode::Vshuffle, None, Imm::Shuffle(mask), &[v, zero])
}

/// VCVTPH2PS xmm, xmm/m64 and ymm, xmm/m128.
fn to_single(cx: &mut Ctx) -> Flow {
    let dest = cx.insn.op0_register();
    let src = avx::read(cx, 1)[0];
    let (low, mut flags) = convert(cx, F16cOp::ToSingle, src, Round::Nearest);
    let high = if dest.is_ymm() {
        let upper = high64(cx, src);
        let (high, more) = convert(cx, F16cOp::ToSingle, upper, Round::Nearest);
        flags = cx.op(Opcode::Or, &[flags, more]);
        high
    } else {
        cx.vconst(0)
    };
    fpexc::record(cx, flags);
    avx::write(cx, dest, [low, high]);
    Flow::Next
}

/// VCVTPS2PH xmm/m64, xmm, imm8 and xmm/m128, ymm, imm8.
fn to_half(cx: &mut Ctx) -> Flow {
    let imm = cx.insn.immediate8();
    let round = match imm & 4 {
        0 => [Round::Nearest, Round::Down, Round::Up, Round::Zero][(imm & 3) as usize],
        _ => cx.mode.rounding,
    };
    let wide = cx.insn.op1_register().is_ymm();
    let src = avx::read(cx, 1);
    let (mut r, mut flags) = convert(cx, F16cOp::ToHalf, src[0], round);
    if wide {
        let (high, more) = convert(cx, F16cOp::ToHalf, src[1], round);
        flags = cx.op(Opcode::Or, &[flags, more]);
        let mask: [u8; 16] = std::array::from_fn(|i| if i < 8 { i as u8 } else { 8 + i as u8 });
        r = cx.b.ins(Opcode::Vshuffle, None, Imm::Shuffle(mask), &[r, high]);
    }
    fpexc::record(cx, flags);
    if cx.insn.op0_kind() == OpKind::Register {
        let zero = cx.vconst(0);
        avx::write(cx, cx.insn.op0_register(), [r, zero]);
        return Flow::Next;
    }
    let addr = cx.address();
    if wide {
        cx.store(r, addr);
    } else {
        let low = cx.b.ins(Opcode::Vextract, Some(Type::I64x2), Imm::Lane(0), &[r]);
        cx.store(low, addr);
    }
    Flow::Next
}
