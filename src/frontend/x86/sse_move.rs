//! SSE/SSE2/SSE3 and MMX data movement, logic and shuffles on XMM and MMX
//! registers: MOVAPS MOVUPS MOVAPD MOVUPD MOVDQA MOVDQU LDDQU MOVNTPS
//! MOVNTPD MOVNTDQ MOVNTQ, MOVD MOVQ MOVQ2DQ MOVDQ2Q MOVSS MOVSD (the SSE
//! form, reached through `string`'s MOVSD row), MOVHPS MOVLPS MOVHPD MOVLPD
//! MOVHLPS MOVLHPS, MOVDDUP MOVSHDUP MOVSLDUP, PAND PANDN POR PXOR and the
//! PS/PD logic forms, SHUFPS SHUFPD, UNPCK*, PSHUFD PSHUFLW PSHUFHW PSHUFW,
//! PUNPCK*, PACKSSWB PACKSSDW PACKUSWB, PMOVMSKB MOVMSKPS MOVMSKPD, PINSRW
//! PEXTRW (the SSE4.1 memory form too), MASKMOVDQU MASKMOVQ.
//!
//! Legacy 16-byte memory operands must be 16-byte aligned (#GP) except for
//! MOVUPS MOVUPD MOVDQU LDDQU and MASKMOVDQU; narrower ones (the m64 and
//! m32 of the MMX forms among them) need no alignment. An MMX form works
//! on 8-byte registers: its lanes are those of 8 bytes (PUNPCKH takes the
//! high halves of 64 bits, PINSRW and PEXTRW pick one of 4 words, PACK
//! narrows both operands into one 64-bit result).
//!
//! MASKMOVDQU and MASKMOVQ read the 16 (8) bytes at rDI, merge the selected
//! bytes and write them all back: unselected bytes are rewritten with the
//! value read, so a store to them by another processor in between is lost,
//! and the access faults when any of them is unmapped, even an unselected
//! one (hardware only promises not to write them).

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type};
use crate::visa::{Imm, IntCC, MemFlags, Opcode, Type};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Movaps, |cx| vector(cx, true)),
    (Mnemonic::Movapd, |cx| vector(cx, true)),
    (Mnemonic::Movdqa, |cx| vector(cx, true)),
    (Mnemonic::Movntps, |cx| vector(cx, true)),
    (Mnemonic::Movntpd, |cx| vector(cx, true)),
    (Mnemonic::Movntdq, |cx| vector(cx, true)),
    (Mnemonic::Movups, |cx| vector(cx, false)),
    (Mnemonic::Movupd, |cx| vector(cx, false)),
    (Mnemonic::Movdqu, |cx| vector(cx, false)),
    (Mnemonic::Lddqu, |cx| vector(cx, false)),
    (Mnemonic::Movd, |cx| scalar(cx, Type::I32, false)),
    (Mnemonic::Movq, |cx| scalar(cx, Type::I64, false)),
    (Mnemonic::Movq2dq, |cx| scalar(cx, Type::I64, false)),
    (Mnemonic::Movdq2q, |cx| scalar(cx, Type::I64, false)),
    (Mnemonic::Movntq, |cx| scalar(cx, Type::I64, false)),
    (Mnemonic::Movss, |cx| scalar(cx, Type::I32, true)),
    (Mnemonic::Movlps, |cx| half(cx, 0, 0)),
    (Mnemonic::Movlpd, |cx| half(cx, 0, 0)),
    (Mnemonic::Movhps, |cx| half(cx, 1, 1)),
    (Mnemonic::Movhpd, |cx| half(cx, 1, 1)),
    (Mnemonic::Movhlps, |cx| half(cx, 0, 1)),
    (Mnemonic::Movlhps, |cx| half(cx, 1, 0)),
    (Mnemonic::Movddup, |cx| shuffle(cx, 8, false, |_, _| vec![0, 0])),
    (Mnemonic::Movsldup, |cx| shuffle(cx, 4, false, |_, _| vec![0, 0, 2, 2])),
    (Mnemonic::Movshdup, |cx| shuffle(cx, 4, false, |_, _| vec![1, 1, 3, 3])),
    (Mnemonic::Pand, |cx| binary(cx, Opcode::And, Type::V128, false)),
    (Mnemonic::Andps, |cx| binary(cx, Opcode::And, Type::V128, false)),
    (Mnemonic::Andpd, |cx| binary(cx, Opcode::And, Type::V128, false)),
    (Mnemonic::Pandn, |cx| binary(cx, Opcode::And, Type::V128, true)),
    (Mnemonic::Andnps, |cx| binary(cx, Opcode::And, Type::V128, true)),
    (Mnemonic::Andnpd, |cx| binary(cx, Opcode::And, Type::V128, true)),
    (Mnemonic::Por, |cx| binary(cx, Opcode::Or, Type::V128, false)),
    (Mnemonic::Orps, |cx| binary(cx, Opcode::Or, Type::V128, false)),
    (Mnemonic::Orpd, |cx| binary(cx, Opcode::Or, Type::V128, false)),
    (Mnemonic::Pxor, |cx| binary(cx, Opcode::Xor, Type::V128, false)),
    (Mnemonic::Xorps, |cx| binary(cx, Opcode::Xor, Type::V128, false)),
    (Mnemonic::Xorpd, |cx| binary(cx, Opcode::Xor, Type::V128, false)),
    (Mnemonic::Packsswb, |cx| pack(cx, Opcode::VnarrowS, Type::I16x8)),
    (Mnemonic::Packssdw, |cx| pack(cx, Opcode::VnarrowS, Type::I32x4)),
    (Mnemonic::Packuswb, |cx| pack(cx, Opcode::VnarrowU, Type::I16x8)),
    (Mnemonic::Shufps, |cx| {
        shuffle(cx, 4, true, |imm, _| vec![field(imm, 0), field(imm, 1), 4 + field(imm, 2), 4 + field(imm, 3)])
    }),
    (Mnemonic::Shufpd, |cx| shuffle(cx, 8, true, |imm, _| vec![imm as u8 & 1, 2 + (imm as u8 >> 1 & 1)])),
    (Mnemonic::Pshufd, |cx| shuffle(cx, 4, false, four_fields)),
    (Mnemonic::Pshufw, |cx| shuffle(cx, 2, false, four_fields)),
    (Mnemonic::Pshuflw, |cx| shuffle(cx, 2, false, |imm, _| (0..4).map(|k| field(imm, k)).chain(4..8).collect())),
    (Mnemonic::Pshufhw, |cx| shuffle(cx, 2, false, |imm, _| (0..4).chain((0..4).map(|k| 4 + field(imm, k))).collect())),
    (Mnemonic::Unpcklps, |cx| shuffle(cx, 4, true, interleave_low)),
    (Mnemonic::Unpckhps, |cx| shuffle(cx, 4, true, interleave_high)),
    (Mnemonic::Unpcklpd, |cx| shuffle(cx, 8, true, interleave_low)),
    (Mnemonic::Unpckhpd, |cx| shuffle(cx, 8, true, interleave_high)),
    (Mnemonic::Punpcklbw, |cx| shuffle(cx, 1, true, interleave_low)),
    (Mnemonic::Punpcklwd, |cx| shuffle(cx, 2, true, interleave_low)),
    (Mnemonic::Punpckldq, |cx| shuffle(cx, 4, true, interleave_low)),
    (Mnemonic::Punpcklqdq, |cx| shuffle(cx, 8, true, interleave_low)),
    (Mnemonic::Punpckhbw, |cx| shuffle(cx, 1, true, interleave_high)),
    (Mnemonic::Punpckhwd, |cx| shuffle(cx, 2, true, interleave_high)),
    (Mnemonic::Punpckhdq, |cx| shuffle(cx, 4, true, interleave_high)),
    (Mnemonic::Punpckhqdq, |cx| shuffle(cx, 8, true, interleave_high)),
    (Mnemonic::Pmovmskb, |cx| sign_mask(cx, Type::I8x16)),
    (Mnemonic::Movmskps, |cx| sign_mask(cx, Type::I32x4)),
    (Mnemonic::Movmskpd, |cx| sign_mask(cx, Type::I64x2)),
    (Mnemonic::Pinsrw, pinsrw),
    (Mnemonic::Pextrw, pextrw),
    (Mnemonic::Maskmovdqu, maskmov),
    (Mnemonic::Maskmovq, maskmov),
];

/// MOVSD's SSE form (`string` dispatches the mnemonic).
pub(super) fn movsd(cx: &mut Ctx) -> Flow {
    scalar(cx, Type::I64, true)
}

fn is_xmm(cx: &Ctx, i: u32) -> bool {
    cx.insn.op_kind(i) == OpKind::Register && cx.insn.op_register(i).is_xmm()
}

/// Is operand `i` an XMM or MMX register?
fn is_vreg(cx: &Ctx, i: u32) -> bool {
    cx.insn.op_kind(i) == OpKind::Register && (cx.insn.op_register(i).is_xmm() || cx.insn.op_register(i).is_mm())
}

/// Two-bit field `k` of an immediate.
fn field(imm: u32, k: u32) -> u8 {
    (imm >> (2 * k) & 3) as u8
}

/// PSHUFD PSHUFW: lane `k` from the lane the immediate's field `k` names.
fn four_fields(imm: u32, _: u8) -> Vec<u8> {
    (0..4).map(|k| field(imm, k)).collect()
}

/// The low halves of the two inputs' lanes, interleaved (of `lanes` each).
fn interleave_low(_: u32, lanes: u8) -> Vec<u8> {
    (0..lanes / 2).flat_map(|i| [i, lanes + i]).collect()
}

fn interleave_high(_: u32, lanes: u8) -> Vec<u8> {
    (lanes / 2..lanes).flat_map(|i| [i, lanes + i]).collect()
}

/// Whole-register moves: register to register, loads and stores, 16-byte
/// aligned or not.
fn vector(cx: &mut Ctx, aligned: bool) -> Flow {
    let v = cx.read_vector(1, aligned);
    if cx.is_memory(0) {
        let addr = cx.address();
        cx.store_vector(v, addr, aligned);
    } else {
        cx.write_vreg(cx.insn.op_register(0), v);
    }
    Flow::Next
}

/// MOVD MOVQ MOVQ2DQ MOVDQ2Q MOVNTQ (`merge` false) and MOVSS MOVSD
/// (`merge` true): a `ty` integer from an XMM register's low lane, an MMX
/// register, a GPR or memory. Into an XMM or MMX register it is
/// zero-extended, except that MOVSS and MOVSD between registers keep the
/// destination's other lanes.
fn scalar(cx: &mut Ctx, ty: Type, merge: bool) -> Flow {
    let v = cx.read_scalar(1, ty);
    if !is_vreg(cx, 0) {
        cx.write_operand(0, v);
        return Flow::Next;
    }
    let dst = cx.insn.op_register(0);
    if merge && is_xmm(cx, 1) {
        cx.write_low(dst, v);
    } else {
        let v = cx.widen(v);
        cx.write_vreg(dst, v);
    }
    Flow::Next
}

/// Moves of one qword: lane `src` of an XMM source (or 8 bytes of memory)
/// into lane `dst` of the XMM destination (or 8 bytes of memory).
fn half(cx: &mut Ctx, dst: u8, src: u8) -> Flow {
    let v = if cx.is_memory(1) {
        let addr = cx.address();
        cx.load(Type::I64, addr)
    } else {
        let x = cx.read_vreg(cx.insn.op_register(1));
        cx.b.ins(Opcode::Vextract, Some(Type::I64x2), Imm::Lane(src), &[x])
    };
    if cx.is_memory(0) {
        cx.write_operand(0, v);
    } else {
        let reg = cx.insn.op_register(0);
        let x = cx.read_vreg(reg);
        let r = cx.b.ins(Opcode::Vinsert, Some(Type::I64x2), Imm::Lane(dst), &[x, v]);
        cx.write_vreg(reg, r);
    }
    Flow::Next
}

/// `dst = dst op src` with `ty` as the controlling type (`v128` or a lane
/// shape); with `invert`, the destination is complemented first (ANDN).
fn binary(cx: &mut Ctx, op: Opcode, ty: Type, invert: bool) -> Flow {
    cx.vec_binary(|cx, a, b| {
        let a = if invert { cx.not(a) } else { a };
        cx.b.ins(op, Some(ty), Imm::None, &[a, b])
    })
}

/// PACKSS PACKUS: the lanes of the destination then of the source, each
/// narrowed with saturation.
fn pack(cx: &mut Ctx, op: Opcode, shape: Type) -> Flow {
    cx.vec_binary(|cx, a, b| {
        let (a, b) = cx.joined(a, b);
        cx.vop(op, shape, &[a, b])
    })
}

/// A lane permutation: lane `i` of the result is lane `pick[i]` of the
/// inputs side by side, lanes of `size` bytes (of the register width, so
/// lane `lanes` is the second input's first). The inputs are the
/// destination and the source (`with_dst`), or the source twice. `pick`
/// gets the immediate (0 without one) and the lanes per register.
fn shuffle(cx: &mut Ctx, size: u8, with_dst: bool, pick: fn(u32, u8) -> Vec<u8>) -> Flow {
    let width = cx.vector_width() as u8;
    let b = cx.read_vector(1, true);
    let reg = cx.insn.op_register(0);
    let a = if with_dst { cx.read_vreg(reg) } else { b };
    let last = cx.insn.op_count() - 1;
    let imm = if cx.insn.op_kind(last) == OpKind::Immediate8 { cx.insn.immediate8() as u32 } else { 0 };
    let count = width / size;
    let lanes = pick(imm, count);
    // Bytes past an MMX register's 8 are not kept: any lane does.
    let mut mask = [0u8; 16];
    for (i, m) in mask.iter_mut().enumerate().take(width as usize) {
        let lane = lanes[i / size as usize];
        let (input, lane) = if lane < count { (0, lane) } else { (16, lane - count) };
        *m = input + lane * size + i as u8 % size;
    }
    let r = cx.b.ins(Opcode::Vshuffle, None, Imm::Shuffle(mask), &[a, b]);
    cx.write_vreg(reg, r);
    Flow::Next
}

/// PMOVMSKB MOVMSKPS MOVMSKPD: the top bit of each lane into a GPR, zero
/// above (8 bits from an MMX register, whose zero-extension adds none).
fn sign_mask(cx: &mut Ctx, shape: Type) -> Flow {
    let x = cx.read_vreg(cx.insn.op_register(1));
    let bits = cx.b.ins(Opcode::Vbitmask, Some(shape), Imm::None, &[x]);
    let reg = cx.insn.op_register(0);
    let v = cx.resize(int_type(reg.size()), bits);
    cx.write_gpr(reg, v);
    Flow::Next
}

/// The word PINSRW and PEXTRW pick: imm8 modulo the words of a register.
fn word_lane(cx: &Ctx) -> u8 {
    cx.insn.immediate8() & (cx.vector_width() as u8 / 2 - 1)
}

/// PINSRW: the low word of a GPR or a memory word into word `imm & 7`
/// (`imm & 3` of an MMX register).
fn pinsrw(cx: &mut Ctx) -> Flow {
    let v = cx.read_operand(1);
    let v = cx.resize(Type::I16, v);
    let reg = cx.insn.op_register(0);
    let x = cx.read_vreg(reg);
    let lane = word_lane(cx);
    let r = cx.b.ins(Opcode::Vinsert, Some(Type::I16x8), Imm::Lane(lane), &[x, v]);
    cx.write_vreg(reg, r);
    Flow::Next
}

/// PEXTRW: word `imm & 7` (`imm & 3` of an MMX register) zero-extended
/// into a GPR, or stored (SSE4.1).
fn pextrw(cx: &mut Ctx) -> Flow {
    let x = cx.read_vreg(cx.insn.op_register(1));
    let lane = word_lane(cx);
    let v = cx.b.ins(Opcode::Vextract, Some(Type::I16x8), Imm::Lane(lane), &[x]);
    let v = cx.resize(cx.operand_type(0), v);
    cx.write_operand(0, v);
    Flow::Next
}

/// MASKMOVDQU MASKMOVQ: the bytes of the first register whose mask byte
/// (second register) has its top bit set, stored at seg:rDI (see the module
/// notes).
fn maskmov(cx: &mut Ctx) -> Flow {
    let di = match cx.insn.op_kind(0) {
        OpKind::MemorySegEDI => Register::EDI,
        OpKind::MemorySegRDI => Register::RDI,
        _ => return Flow::Undefined,
    };
    let offset = cx.read_gpr(di);
    let mut addr = cx.resize(Type::I64, offset);
    if let Some(base) = cx.segment_base() {
        addr = cx.op(Opcode::Iadd, &[base, addr]);
    }
    let width = cx.vector_width();
    let old = cx.load_vector(addr, width, false);
    let data = cx.read_vreg(cx.insn.op_register(1));
    let mask = cx.read_vreg(cx.insn.op_register(2));
    let zero = cx.vconst(0);
    let sel = cx.b.ins(Opcode::Vcmp, Some(Type::I8x16), Imm::IntCC(IntCC::Slt), &[mask, zero]);
    let keep = cx.not(sel);
    let new = cx.op(Opcode::And, &[data, sel]);
    let kept = cx.op(Opcode::And, &[old, keep]);
    let merged = cx.op(Opcode::Or, &[new, kept]);
    let merged = match width {
        16 => merged,
        _ => cx.b.ins(Opcode::Vextract, Some(Type::I64x2), Imm::Lane(0), &[merged]),
    };
    cx.b.store(merged, addr, MemFlags { aligned: false });
    Flow::Next
}
