//! SSSE3, SSE4.1 and SSE4.2 integer instructions on XMM registers.
//!
//! SSSE3: PSHUFB PALIGNR PHADDW PHADDD PHADDSW PHSUBW PHSUBD PHSUBSW
//! PMADDUBSW PMULHRSW PSIGNB/W/D PABSB/W/D. SSE4.1: PBLENDW PBLENDVB PTEST
//! PMOVSX*/PMOVZX* PMINSB/SD/UW/UD PMAXSB/SD/UW/UD PMULLD PMULDQ PCMPEQQ
//! PACKUSDW PEXTRB/D/Q PINSRB/D/Q MPSADBW PHMINPOSUW MOVNTDQA. SSE4.2:
//! PCMPGTQ, CRC32 (inline, as a GF(2) matrix product of the operand bits),
//! and PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (one pure runtime helper,
//! `pcmpstr`, which returns the mask, the index and the flags).
//!
//! The SSSE3 instructions have MMX forms too, computed as the XMM ones on
//! the 64-bit values zero-extended, keeping the low 64 bits: PSHUFB masks
//! the index with 7 (and the top bit), PALIGNR shifts the 16-byte
//! concatenation, PHADD/PHSUB pair the 4 or 2 lanes of each operand. m128
//! operands must be 16-byte aligned (#GP), except those of the string
//! compares; the narrower memory operands of PMOVSX/PMOVZX, PEXTR and PINSR
//! and the m64 of the MMX forms are not. No MXCSR bits change.

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type, lane_shape};
use crate::machine::flag::{AF, CF, OF, PF, SF, ZF};
use crate::visa::{Imm, IntCC, Opcode, Type, Value};

use Opcode::*;
use Type::{I8, I8x16, I16, I16x8, I32, I32x4, I64, I64x2};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Pshufb, |cx| cx.vec_binary(pshufb)),
    (Mnemonic::Palignr, |cx| cx.vec_binary(palignr)),
    (Mnemonic::Phaddw, |cx| cx.vec_binary(|cx, a, b| horizontal(cx, Vadd, I16x8, a, b))),
    (Mnemonic::Phaddd, |cx| cx.vec_binary(|cx, a, b| horizontal(cx, Vadd, I32x4, a, b))),
    (Mnemonic::Phaddsw, |cx| cx.vec_binary(|cx, a, b| horizontal(cx, VaddSatS, I16x8, a, b))),
    (Mnemonic::Phsubw, |cx| cx.vec_binary(|cx, a, b| horizontal(cx, Vsub, I16x8, a, b))),
    (Mnemonic::Phsubd, |cx| cx.vec_binary(|cx, a, b| horizontal(cx, Vsub, I32x4, a, b))),
    (Mnemonic::Phsubsw, |cx| cx.vec_binary(|cx, a, b| horizontal(cx, VsubSatS, I16x8, a, b))),
    (Mnemonic::Pmaddubsw, |cx| cx.vec_binary(pmaddubsw)),
    (Mnemonic::Pmulhrsw, |cx| cx.vec_binary(pmulhrsw)),
    (Mnemonic::Psignb, |cx| cx.vec_binary(|cx, a, b| sign(cx, I8x16, a, b))),
    (Mnemonic::Psignw, |cx| cx.vec_binary(|cx, a, b| sign(cx, I16x8, a, b))),
    (Mnemonic::Psignd, |cx| cx.vec_binary(|cx, a, b| sign(cx, I32x4, a, b))),
    (Mnemonic::Pabsb, |cx| unary(cx, |cx, v| cx.vop(Vabs, I8x16, &[v]))),
    (Mnemonic::Pabsw, |cx| unary(cx, |cx, v| cx.vop(Vabs, I16x8, &[v]))),
    (Mnemonic::Pabsd, |cx| unary(cx, |cx, v| cx.vop(Vabs, I32x4, &[v]))),
    (Mnemonic::Pblendw, |cx| cx.vec_binary(pblendw)),
    (Mnemonic::Pblendvb, |cx| cx.vec_binary(pblendvb)),
    (Mnemonic::Ptest, ptest),
    (Mnemonic::Pmovsxbw, |cx| extend(cx, I8, I16, Vashr)),
    (Mnemonic::Pmovsxbd, |cx| extend(cx, I8, I32, Vashr)),
    (Mnemonic::Pmovsxbq, |cx| extend(cx, I8, I64, Vashr)),
    (Mnemonic::Pmovsxwd, |cx| extend(cx, I16, I32, Vashr)),
    (Mnemonic::Pmovsxwq, |cx| extend(cx, I16, I64, Vashr)),
    (Mnemonic::Pmovsxdq, |cx| extend(cx, I32, I64, Vashr)),
    (Mnemonic::Pmovzxbw, |cx| extend(cx, I8, I16, Vlshr)),
    (Mnemonic::Pmovzxbd, |cx| extend(cx, I8, I32, Vlshr)),
    (Mnemonic::Pmovzxbq, |cx| extend(cx, I8, I64, Vlshr)),
    (Mnemonic::Pmovzxwd, |cx| extend(cx, I16, I32, Vlshr)),
    (Mnemonic::Pmovzxwq, |cx| extend(cx, I16, I64, Vlshr)),
    (Mnemonic::Pmovzxdq, |cx| extend(cx, I32, I64, Vlshr)),
    (Mnemonic::Pminsb, |cx| cx.vec_lanes(VminS, I8x16)),
    (Mnemonic::Pminsd, |cx| cx.vec_lanes(VminS, I32x4)),
    (Mnemonic::Pminuw, |cx| cx.vec_lanes(VminU, I16x8)),
    (Mnemonic::Pminud, |cx| cx.vec_lanes(VminU, I32x4)),
    (Mnemonic::Pmaxsb, |cx| cx.vec_lanes(VmaxS, I8x16)),
    (Mnemonic::Pmaxsd, |cx| cx.vec_lanes(VmaxS, I32x4)),
    (Mnemonic::Pmaxuw, |cx| cx.vec_lanes(VmaxU, I16x8)),
    (Mnemonic::Pmaxud, |cx| cx.vec_lanes(VmaxU, I32x4)),
    (Mnemonic::Pmulld, |cx| cx.vec_lanes(Vmul, I32x4)),
    (Mnemonic::Packusdw, |cx| cx.vec_lanes(VnarrowU, I32x4)),
    (Mnemonic::Pmuldq, |cx| cx.vec_binary(pmuldq)),
    (Mnemonic::Pcmpeqq, |cx| cx.vec_binary(|cx, a, b| vcmp(cx, IntCC::Eq, I64x2, a, b))),
    (Mnemonic::Pcmpgtq, |cx| cx.vec_binary(|cx, a, b| vcmp(cx, IntCC::Sgt, I64x2, a, b))),
    (Mnemonic::Pextrb, |cx| extract(cx, I8)),
    (Mnemonic::Pextrd, |cx| extract(cx, I32)),
    (Mnemonic::Pextrq, |cx| extract(cx, I64)),
    (Mnemonic::Pinsrb, |cx| insert(cx, I8)),
    (Mnemonic::Pinsrd, |cx| insert(cx, I32)),
    (Mnemonic::Pinsrq, |cx| insert(cx, I64)),
    (Mnemonic::Mpsadbw, |cx| cx.vec_binary(mpsadbw)),
    (Mnemonic::Phminposuw, |cx| unary(cx, phminposuw)),
    (Mnemonic::Movntdqa, |cx| unary(cx, |_, v| v)),
    (Mnemonic::Pcmpestri, |cx| string_compare(cx, Some(false), false)),
    (Mnemonic::Pcmpestri64, |cx| string_compare(cx, Some(true), false)),
    (Mnemonic::Pcmpestrm, |cx| string_compare(cx, Some(false), true)),
    (Mnemonic::Pcmpestrm64, |cx| string_compare(cx, Some(true), true)),
    (Mnemonic::Pcmpistri, |cx| string_compare(cx, None, false)),
    (Mnemonic::Pcmpistrm, |cx| string_compare(cx, None, true)),
    (Mnemonic::Crc32, crc32),
];

fn vcmp(cx: &mut Ctx, cc: IntCC, shape: Type, a: Value, b: Value) -> Value {
    cx.b.ins(Vcmp, Some(shape), Imm::IntCC(cc), &[a, b])
}

/// A v128 constant of lanes `bits` wide, lane `i` being `f(i)`.
fn vlanes(cx: &mut Ctx, bits: u32, f: impl Fn(u32) -> u128) -> Value {
    let mask = u128::MAX >> (128 - bits);
    let v = (0..128 / bits).fold(0, |acc, i| acc | (f(i) & mask) << (i * bits));
    cx.vconst(v)
}

fn shuffle(cx: &mut Ctx, a: Value, b: Value, mask: [u8; 16]) -> Value {
    cx.b.ins(Vshuffle, None, Imm::Shuffle(mask), &[a, b])
}

/// A lane-wise shift by a constant count.
fn vshift(cx: &mut Ctx, op: Opcode, shape: Type, v: Value, count: u32) -> Value {
    let k = cx.iconst(I64, count as u64);
    cx.vop(op, shape, &[v, k])
}

/// `dst = f(src)`: `xmm, xmm/m128` (the m128 aligned) or `mm, mm/m64`.
fn unary(cx: &mut Ctx, f: impl FnOnce(&mut Ctx, Value) -> Value) -> Flow {
    let v = cx.read_vector(1, true);
    let v = f(cx, v);
    cx.write_vreg(cx.insn.op0_register(), v);
    Flow::Next
}

/// `y ^ ((x ^ y) & m)`: `x` where `m` is set, else `y`.
fn bit_select(cx: &mut Ctx, m: Value, x: Value, y: Value) -> Value {
    let d = cx.op(Xor, &[x, y]);
    let d = cx.op(And, &[d, m]);
    cx.op(Xor, &[y, d])
}

/// PSHUFB: byte i is `a[b[i] & 15]` (`& 7` for MMX), or 0 when `b[i]` has
/// its top bit set (kept in the index, which `vswizzle` then finds out of
/// range).
fn pshufb(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let index_bits = cx.vector_width() as u128 - 1;
    let keep = vlanes(cx, 8, |_| 0x80 | index_bits);
    let idx = cx.op(And, &[b, keep]);
    cx.b.ins(Vswizzle, None, Imm::None, &[a, idx])
}

/// PALIGNR: bytes imm8.. of the 32-byte (MMX: 16-byte) concatenation
/// `a:b` (`b` low), zeros past its end.
fn palignr(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let (b, a) = cx.joined(b, a);
    let n = cx.insn.immediate8() as usize;
    let zero = cx.vconst(0);
    // The byte pairs the window starts in: (b, a), (a, 0) or (0, 0).
    let (lo, hi, start) = match n {
        0..16 => (b, a, n),
        16..32 => (a, zero, n - 16),
        _ => (zero, zero, 0),
    };
    shuffle(cx, lo, hi, std::array::from_fn(|i| (start + i) as u8))
}

/// PHADD/PHSUB: the pairwise sums or differences of adjacent lanes of `a`,
/// then of `b`: `op(even lanes, odd lanes)` over the concatenation `a:b`.
fn horizontal(cx: &mut Ctx, op: Opcode, shape: Type, a: Value, b: Value) -> Value {
    let (a, b) = cx.joined(a, b);
    let w = shape.lane().expect("lane shape").0.bytes() as usize;
    let pick = |odd: usize| std::array::from_fn(|i| ((2 * (i / w) + odd) * w + i % w) as u8);
    let even = shuffle(cx, a, b, pick(0));
    let odd = shuffle(cx, a, b, pick(1));
    cx.vop(op, shape, &[even, odd])
}

/// PMADDUBSW: unsigned bytes of `a` times signed bytes of `b`, adjacent
/// products summed with signed saturation into words. Each product fits a
/// word, so the bytes are extended within word lanes and multiplied there.
fn pmaddubsw(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let low = vlanes(cx, 16, |_| 0xff);
    let a_even = cx.op(And, &[a, low]);
    let a_odd = vshift(cx, Vlshr, I16x8, a, 8);
    let b_up = vshift(cx, Vshl, I16x8, b, 8);
    let b_even = vshift(cx, Vashr, I16x8, b_up, 8);
    let b_odd = vshift(cx, Vashr, I16x8, b, 8);
    let even = cx.vop(Vmul, I16x8, &[a_even, b_even]);
    let odd = cx.vop(Vmul, I16x8, &[a_odd, b_odd]);
    cx.vop(VaddSatS, I16x8, &[even, odd])
}

/// PMULHRSW: `(a * b + 0x4000) >> 15` of signed words, truncated: bits
/// 15..31 of the 32-bit product `hi:lo`, plus its bit 14.
fn pmulhrsw(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let lo = cx.vop(Vmul, I16x8, &[a, b]);
    let hi = cx.vop(VmulhiS, I16x8, &[a, b]);
    let up = vshift(cx, Vshl, I16x8, hi, 1);
    let down = vshift(cx, Vlshr, I16x8, lo, 15);
    let t = cx.op(Or, &[up, down]);
    let bit14 = vshift(cx, Vlshr, I16x8, lo, 14);
    let one = vlanes(cx, 16, |_| 1);
    let round = cx.op(And, &[bit14, one]);
    cx.vop(Vadd, I16x8, &[t, round])
}

/// PSIGN: lanes of `a` negated where `b` is negative, zeroed where it is 0:
/// `((a ^ neg) - neg) & nonzero`.
fn sign(cx: &mut Ctx, shape: Type, a: Value, b: Value) -> Value {
    let zero = cx.vconst(0);
    let neg = vcmp(cx, IntCC::Slt, shape, b, zero);
    let nonzero = vcmp(cx, IntCC::Ne, shape, b, zero);
    let flipped = cx.op(Xor, &[a, neg]);
    let v = cx.vop(Vsub, shape, &[flipped, neg]);
    cx.op(And, &[v, nonzero])
}

/// PBLENDW: word i from `b` where imm8 bit i is set, else from `a`.
fn pblendw(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let imm = cx.insn.immediate8();
    shuffle(cx, a, b, std::array::from_fn(|i| (i + 16 * (imm as usize >> (i / 2) & 1)) as u8))
}

/// PBLENDVB: byte i from `b` where byte i of XMM0 has its top bit set.
fn pblendvb(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let sel = cx.read_selector();
    let zero = cx.vconst(0);
    let m = vcmp(cx, IntCC::Slt, I8x16, sel, zero);
    bit_select(cx, m, b, a)
}

/// PTEST: ZF when `a & b` is 0, CF when `!a & b` is 0; AF OF PF SF cleared.
fn ptest(cx: &mut Ctx) -> Flow {
    let b = cx.read_vector(1, true);
    let a = cx.read_vreg(cx.insn.op0_register());
    let a = cx.b.ins(Bitcast, Some(Type::I128), Imm::None, &[a]);
    let b = cx.b.ins(Bitcast, Some(Type::I128), Imm::None, &[b]);
    let both = cx.op(And, &[a, b]);
    let not_a = cx.not(a);
    let only_b = cx.op(And, &[not_a, b]);
    let zf = cx.icmp_imm(IntCC::Eq, both, 0);
    let cf = cx.icmp_imm(IntCC::Eq, only_b, 0);
    cx.set_flag(ZF, zf);
    cx.set_flag(CF, cf);
    for f in [AF, OF, PF, SF] {
        cx.set_flag_const(f, false);
    }
    Flow::Next
}

/// PMOVSX/PMOVZX: the low lanes of `from` of the source (an XMM register,
/// or just their bytes of memory) extended to lanes of `to`: each moved to
/// the top of its wider lane, then shifted down (`Vashr` to sign-extend,
/// `Vlshr` to zero-extend).
fn extend(cx: &mut Ctx, from: Type, to: Type, shift: Opcode) -> Flow {
    let src = match cx.insn.op_kind(1) {
        OpKind::Register => cx.read_vreg(cx.insn.op_register(1)),
        _ => {
            let addr = cx.address();
            let v = cx.load(int_type(cx.insn.memory_size().size()), addr);
            let v = cx.resize(Type::I128, v);
            cx.b.ins(Bitcast, Some(Type::V128), Imm::None, &[v])
        }
    };
    let (sw, dw) = (from.bytes() as usize, to.bytes() as usize);
    let pad = dw - sw;
    // Byte j of wide lane k: byte j - pad of narrow lane k (any byte below).
    let mask = std::array::from_fn(|i| (i / dw * sw + (i % dw).saturating_sub(pad)) as u8);
    let moved = shuffle(cx, src, src, mask);
    let v = vshift(cx, shift, lane_shape(to), moved, 8 * pad as u32);
    cx.write_vreg(cx.insn.op0_register(), v);
    Flow::Next
}

/// PMULDQ: the signed 64-bit products of the even 32-bit lanes.
fn pmuldq(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let low = |cx: &mut Ctx, v: Value| {
        let up = vshift(cx, Vshl, I64x2, v, 32);
        vshift(cx, Vashr, I64x2, up, 32)
    };
    let a = low(cx, a);
    let b = low(cx, b);
    cx.vop(Vmul, I64x2, &[a, b])
}

/// PEXTRB/PEXTRD/PEXTRQ: lane imm8 (modulo the lane count) to a register,
/// zero-extended, or to memory.
fn extract(cx: &mut Ctx, lane: Type) -> Flow {
    let n = 16 / lane.bytes() as u8;
    let v = cx.read_vreg(cx.insn.op_register(1));
    let x = cx.b.ins(Vextract, Some(lane_shape(lane)), Imm::Lane(cx.insn.immediate8() & (n - 1)), &[v]);
    let x = match cx.insn.op_kind(0) {
        OpKind::Register => cx.resize(int_type(cx.insn.op0_register().size()), x),
        _ => x,
    };
    cx.write_operand(0, x);
    Flow::Next
}

/// PINSRB/PINSRD/PINSRQ: lane imm8 (modulo the lane count) from the low
/// bits of a register, or from memory.
fn insert(cx: &mut Ctx, lane: Type) -> Flow {
    let n = 16 / lane.bytes() as u8;
    let x = match cx.insn.op_kind(1) {
        OpKind::Register => {
            let r = cx.read_gpr(cx.insn.op_register(1));
            cx.resize(lane, r)
        }
        _ => {
            let addr = cx.address();
            cx.load(lane, addr)
        }
    };
    let dst = cx.insn.op0_register();
    let old = cx.read_vreg(dst);
    let v = cx.b.ins(Vinsert, Some(lane_shape(lane)), Imm::Lane(cx.insn.immediate8() & (n - 1)), &[old, x]);
    cx.write_vreg(dst, v);
    Flow::Next
}

/// MPSADBW: word i is the sum over j < 4 of `|a[o1 + i + j] - b[o2 + j]|`
/// (unsigned bytes), o1 = 4 * imm8[2], o2 = 4 * imm8[1:0]. Bytes are
/// zero-extended into word lanes by shuffles with a zero vector.
fn mpsadbw(cx: &mut Ctx, a: Value, b: Value) -> Value {
    let imm = cx.insn.immediate8() as usize;
    let (o1, o2) = (4 * (imm >> 2 & 1), 4 * (imm & 3));
    let zero = cx.vconst(0);
    let mut sum = None;
    for j in 0..4 {
        let words =
            |from: &dyn Fn(usize) -> usize| std::array::from_fn(|i| if i % 2 == 0 { from(i / 2) as u8 } else { 16 });
        let x = shuffle(cx, a, zero, words(&|i| o1 + i + j));
        let y = shuffle(cx, b, zero, words(&|_| o2 + j));
        let d = cx.vop(Vsub, I16x8, &[x, y]);
        let d = cx.vop(Vabs, I16x8, &[d]);
        sum = Some(match sum {
            Some(s) => cx.vop(Vadd, I16x8, &[s, d]),
            None => d,
        });
    }
    sum.expect("four terms")
}

/// PHMINPOSUW: the least unsigned word and its (lowest) index in words 0
/// and 1, the rest zero. Keys `word << 16 | index` in dword lanes make the
/// unsigned minimum pick both at once.
fn phminposuw(cx: &mut Ctx, v: Value) -> Value {
    let index = vlanes(cx, 16, |i| i as u128);
    let keys =
        |first: usize| std::array::from_fn(|i| (2 * (first + i / 4) + i % 2 + if i % 4 < 2 { 0 } else { 16 }) as u8);
    let lo = shuffle(cx, index, v, keys(0));
    let hi = shuffle(cx, index, v, keys(4));
    let mut m = cx.vop(VminU, I32x4, &[lo, hi]);
    for half in [8usize, 4] {
        let other = shuffle(cx, m, m, std::array::from_fn(|i| ((i + half) % 16) as u8));
        m = cx.vop(VminU, I32x4, &[m, other]);
    }
    let key = cx.b.ins(Vextract, Some(I32x4), Imm::Lane(0), &[m]);
    let sixteen = cx.iconst(I32, 16);
    let r = cx.op(Rotl, &[key, sixteen]);
    let r = cx.resize(Type::I128, r);
    cx.b.ins(Bitcast, Some(Type::V128), Imm::None, &[r])
}

/// PCMPESTRI/PCMPESTRM (lengths in EAX and EDX, or RAX and RDX when
/// `explicit` is `Some(true)`) and PCMPISTRI/PCMPISTRM (`None`: lengths
/// from the null elements), through the `pcmpstr` helper. The I forms
/// write ECX, the M forms XMM0; CF ZF SF OF from the helper, AF PF cleared.
/// The m128 operand need not be aligned.
fn string_compare(cx: &mut Ctx, explicit: Option<bool>, mask: bool) -> Flow {
    let b = cx.read_vector(1, false);
    let a = cx.read_vreg(cx.insn.op0_register());
    let (la, lb) = match explicit {
        Some(wide) => {
            let (ra, rd) = if wide { (Register::RAX, Register::RDX) } else { (Register::EAX, Register::EDX) };
            let (a, d) = (cx.read_gpr(ra), cx.read_gpr(rd));
            (cx.sext(I64, a), cx.sext(I64, d))
        }
        None => (cx.iconst(I64, 0), cx.iconst(I64, 0)),
    };
    let ctl = cx.iconst(I32, cx.insn.immediate8() as u64 | (explicit.is_some() as u64) << 8);
    let r = cx.b.ins_multi(Call, None, Imm::Helper(cx.x.pcmpstr), &[a, b, la, lb, ctl]);
    if mask {
        cx.write_vreg(Register::XMM0, r[0]);
    } else {
        let k = cx.iconst(I32, 0xff);
        let index = cx.op(And, &[r[1], k]);
        cx.write_gpr(Register::ECX, index);
    }
    for (f, bit) in [(CF, 8), (ZF, 9), (SF, 10), (OF, 11)] {
        let v = cx.bit(r[1], bit);
        cx.set_flag(f, v);
    }
    cx.set_flag_const(AF, false);
    cx.set_flag_const(PF, false);
    Flow::Next
}

/// The CRC-32C polynomial, bit-reflected.
const CRC32C: u32 = 0x82f6_3b78;

/// CRC32's definition: the low `bits` bits of `data` shifted, low bit
/// first, through the reflected CRC-32C register `crc`.
fn crc32c_bits(mut crc: u32, data: u64, bits: u32) -> u32 {
    for i in 0..bits {
        let feedback = (crc ^ (data >> i) as u32) & 1;
        crc = (crc >> 1) ^ (CRC32C & feedback.wrapping_neg());
    }
    crc
}

/// CRC32 (CRC-32C of an 8-, 16-, 32- or 64-bit source onto the low 32 bits
/// of the destination, zero-extended into it; no flags).
///
/// The result is GF(2)-linear in `z = crc ^ data` (over max(n, 32) bits for
/// an n-bit source): bits of `z` at and above n only shift down by n, and
/// each bit i below n contributes a constant column `crc32c_bits(e_i)`. The
/// columns are XORed where `z` has its bit set, four at a time in dword
/// lanes (a lane mask from the splatted `z`), then the lanes are folded.
fn crc32(cx: &mut Ctx) -> Flow {
    let src = cx.read_operand(1);
    let dst = cx.insn.op0_register();
    let old = cx.read_gpr(dst);
    let crc = cx.resize(I32, old);
    let n = cx.ty(src).bits();
    let wide = if n == 64 { I64 } else { I32 };
    let crc_w = cx.resize(wide, crc);
    let src_w = cx.resize(wide, src);
    let z = cx.op(Xor, &[crc_w, src_w]);
    let column = |i: u32| match i {
        0..32 => crc32c_bits(1 << i, 0, n) as u128,
        _ => crc32c_bits(0, 1 << i, n) as u128,
    };
    let zero = cx.vconst(0);
    let mut acc = zero;
    for half in 0..n.div_ceil(32) {
        let part = if half == 0 { z } else { lshr_const(cx, z, 32) };
        let part = cx.resize(I32, part);
        let s = cx.b.ins(Vsplat, Some(I32x4), Imm::None, &[part]);
        for group in 0..n.min(32) / 4 {
            let bits = vlanes(cx, 32, |l| 1 << (4 * group + l));
            let cols = vlanes(cx, 32, |l| column(32 * half + 4 * group + l));
            let set = cx.op(And, &[s, bits]);
            let m = vcmp(cx, IntCC::Ne, I32x4, set, zero);
            let t = cx.op(And, &[m, cols]);
            acc = cx.op(Xor, &[acc, t]);
        }
    }
    for half in [8usize, 4] {
        let other = shuffle(cx, acc, acc, std::array::from_fn(|i| ((i + half) % 16) as u8));
        acc = cx.op(Xor, &[acc, other]);
    }
    let mut r = cx.b.ins(Vextract, Some(I32x4), Imm::Lane(0), &[acc]);
    if n < 32 {
        let high = lshr_const(cx, z, n);
        r = cx.op(Xor, &[r, high]);
    }
    let r = cx.resize(int_type(dst.size()), r);
    cx.write_gpr(dst, r);
    Flow::Next
}

/// A logical shift right by a constant.
fn lshr_const(cx: &mut Ctx, v: Value, count: u32) -> Value {
    let k = cx.iconst(cx.ty(v), count as u64);
    cx.op(Lshr, &[v, k])
}
