//! AVX and AVX2 instructions that are not an SSE instruction per 128-bit
//! lane (those are `vex`'s): the 256-bit forms whose lanes cross halves
//! (VPMOVMSKB MOVMSKPS MOVMSKPD PTEST, the widening PMOVSX/PMOVZX and
//! CVTDQ2PD CVTPS2PD, the narrowing CVTPD2PS CVTPD2DQ CVTTPD2DQ), and the
//! instructions SSE lacks: VZEROUPPER VZEROALL, VTESTPS VTESTPD, the
//! broadcasts, VINSERT/VEXTRACT F128/I128, VPERM2F128/I128, VPERMQ VPERMPD
//! VPERMD VPERMPS, VPERMILPS VPERMILPD, VPBLENDD, the variable shifts
//! VPSLLV VPSRLV VPSRAV, and the masked and gathered accesses VMASKMOV
//! VPMASKMOV VGATHER VPGATHER (runtime helpers, `machine::vector_mem`). A YMM register is two v128 values (the XMM slot
//! and its upper half); a VEX.128 destination has its upper half zeroed.
//! Where a crossing form is an SSE operation on each half's inputs, the SSE
//! lifting computes it (`vex::sse_op`).

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type, lane_shape};
use super::vex;
use crate::machine::flag::{AF, CF, OF, PF, SF, ZF};
use crate::visa::{Imm, IntCC, MemFlags, Opcode, Type, Value};

use Opcode::*;

pub const TABLE: &[(Mnemonic, LiftFn)] = {
    use Mnemonic::*;
    &[
        (Vzeroupper, |cx| zero_upper(cx, false)),
        (Vzeroall, |cx| zero_upper(cx, true)),
        (Vpmovmskb, |cx| crossing(cx, |cx| mask_bits(cx, Type::I8x16))),
        (Vmovmskps, |cx| crossing(cx, |cx| mask_bits(cx, Type::F32x4))),
        (Vmovmskpd, |cx| crossing(cx, |cx| mask_bits(cx, Type::F64x2))),
        (Vptest, |cx| crossing(cx, |cx| test(cx, None))),
        (Vtestps, |cx| test(cx, Some(32))),
        (Vtestpd, |cx| test(cx, Some(64))),
        (Vpmovsxbw, |cx| crossing(cx, widen)),
        (Vpmovsxbd, |cx| crossing(cx, widen)),
        (Vpmovsxbq, |cx| crossing(cx, widen)),
        (Vpmovsxwd, |cx| crossing(cx, widen)),
        (Vpmovsxwq, |cx| crossing(cx, widen)),
        (Vpmovsxdq, |cx| crossing(cx, widen)),
        (Vpmovzxbw, |cx| crossing(cx, widen)),
        (Vpmovzxbd, |cx| crossing(cx, widen)),
        (Vpmovzxbq, |cx| crossing(cx, widen)),
        (Vpmovzxwd, |cx| crossing(cx, widen)),
        (Vpmovzxwq, |cx| crossing(cx, widen)),
        (Vpmovzxdq, |cx| crossing(cx, widen)),
        (Vcvtdq2pd, |cx| crossing(cx, widen)),
        (Vcvtps2pd, |cx| crossing(cx, widen)),
        (Vcvtpd2ps, |cx| crossing(cx, narrow)),
        (Vcvtpd2dq, |cx| crossing(cx, narrow)),
        (Vcvttpd2dq, |cx| crossing(cx, narrow)),
        (Vpbroadcastb, |cx| broadcast(cx, Type::I8)),
        (Vpbroadcastw, |cx| broadcast(cx, Type::I16)),
        (Vpbroadcastd, |cx| broadcast(cx, Type::I32)),
        (Vpbroadcastq, |cx| broadcast(cx, Type::I64)),
        (Vbroadcastss, |cx| broadcast(cx, Type::I32)),
        (Vbroadcastsd, |cx| broadcast(cx, Type::I64)),
        (Vbroadcastf128, |cx| broadcast(cx, Type::I128)),
        (Vbroadcasti128, |cx| broadcast(cx, Type::I128)),
        (Vinsertf128, insert128),
        (Vinserti128, insert128),
        (Vextractf128, extract128),
        (Vextracti128, extract128),
        (Vperm2f128, perm2x128),
        (Vperm2i128, perm2x128),
        (Vpermq, permq),
        (Vpermpd, permq),
        (Vpermd, permd),
        (Vpermps, permd),
        (Vpermilps, |cx| permil(cx, 32)),
        (Vpermilpd, |cx| permil(cx, 64)),
        (Vpblendd, pblendd),
        (Vpsllvd, |cx| variable_shift(cx, Vshl, Type::I32x4)),
        (Vpsllvq, |cx| variable_shift(cx, Vshl, Type::I64x2)),
        (Vpsrlvd, |cx| variable_shift(cx, Vlshr, Type::I32x4)),
        (Vpsrlvq, |cx| variable_shift(cx, Vlshr, Type::I64x2)),
        (Vpsravd, |cx| variable_shift(cx, Vashr, Type::I32x4)),
        (Vdpps, |cx| crossing(cx, dot_product)),
        (Vmaskmovps, |cx| maskmov(cx, 4)),
        (Vmaskmovpd, |cx| maskmov(cx, 8)),
        (Vpmaskmovd, |cx| maskmov(cx, 4)),
        (Vpmaskmovq, |cx| maskmov(cx, 8)),
        (Vgatherdps, |cx| gather(cx, 4, 4)),
        (Vgatherqps, |cx| gather(cx, 4, 8)),
        (Vgatherdpd, |cx| gather(cx, 8, 4)),
        (Vgatherqpd, |cx| gather(cx, 8, 8)),
        (Vpgatherdd, |cx| gather(cx, 4, 4)),
        (Vpgatherqd, |cx| gather(cx, 4, 8)),
        (Vpgatherdq, |cx| gather(cx, 8, 4)),
        (Vpgatherqq, |cx| gather(cx, 8, 8)),
    ]
};

/// A YMM value as its two halves, low first.
pub type Ymm = [Value; 2];

fn is_wide(insn: &Instruction) -> bool {
    (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Register && insn.op_register(i).is_ymm())
        || insn.memory_size().size() == 32
}

/// The 128-bit form through its SSE form (`vex`), the 256-bit one by `wide`.
fn crossing(cx: &mut Ctx, wide: fn(&mut Ctx) -> Flow) -> Flow {
    if is_wide(&cx.insn) { wide(cx) } else { vex::lift(cx) }
}

fn number(reg: Register) -> usize {
    if reg.is_ymm() { reg as usize - Register::YMM0 as usize } else { reg as usize - Register::XMM0 as usize }
}

/// Operand `i` as a YMM value: a YMM register, an XMM register or a memory
/// operand of up to 16 bytes (zero above), or 32 bytes of memory. VEX
/// memory operands need no alignment.
pub(super) fn read(cx: &mut Ctx, i: u32) -> Ymm {
    if cx.insn.op_kind(i) == OpKind::Register {
        return read_register(cx, cx.insn.op_register(i));
    }
    let addr = cx.address();
    match cx.insn.memory_size().size() {
        32 => {
            let low = cx.b.load(Type::V128, addr, MemFlags { aligned: false });
            let at = cx.offset(addr, 16);
            let high = cx.b.load(Type::V128, at, MemFlags { aligned: false });
            [low, high]
        }
        bytes => {
            let low = cx.load_vector(addr, bytes, false);
            [low, cx.vconst(0)]
        }
    }
}

/// Writes a YMM or XMM register (an XMM one's upper half zeroed).
pub(super) fn write(cx: &mut Ctx, reg: Register, v: Ymm) {
    let n = number(reg);
    let high = if reg.is_ymm() { v[1] } else { cx.vconst(0) };
    cx.set(cx.x.xmm[n], v[0]);
    cx.set(cx.x.ymmh[n], high);
}

fn dest(cx: &Ctx) -> Register {
    cx.insn.op0_register()
}

/// VZEROUPPER (bits 128-255 of every YMM register) and VZEROALL (all).
fn zero_upper(cx: &mut Ctx, all: bool) -> Flow {
    let zero = cx.vconst(0);
    for n in 0..16 {
        cx.set(cx.x.ymmh[n], zero);
        if all {
            cx.set(cx.x.xmm[n], zero);
        }
    }
    Flow::Next
}

/// VDPPS of YMM registers: each half's dot product as DPPS's, the two
/// computed a step at a time together (`sse_float::dot_product`), as the
/// processor checks each step's exceptions over both halves.
fn dot_product(cx: &mut Ctx) -> Flow {
    let a = read(cx, 1);
    let b = read(cx, 2);
    let imm = cx.insn.immediate8();
    let r = super::sse_float::dot_product(cx, Type::F32, imm, [(a[0], b[0]), (a[1], b[1])]);
    write(cx, dest(cx), r);
    Flow::Next
}

/// VPMOVMSKB VMOVMSKPS VMOVMSKPD of a YMM register: the top bit of each
/// lane of both halves, zero-extended into the general register.
fn mask_bits(cx: &mut Ctx, shape: Type) -> Flow {
    let v = read(cx, 1);
    let (_, lanes) = shape.lane().expect("a lane shape");
    let low = cx.b.ins(Vbitmask, Some(shape), Imm::None, &[v[0]]);
    let high = cx.b.ins(Vbitmask, Some(shape), Imm::None, &[v[1]]);
    let k = cx.iconst(Type::I32, lanes as u64);
    let high = cx.op(Shl, &[high, k]);
    let bits = cx.op(Or, &[low, high]);
    let wide = cx.resize(Type::I64, bits);
    cx.write_gpr64(dest(cx).full_register() as usize - Register::RAX as usize, wide);
    Flow::Next
}

/// VPTEST (every bit, `lane` None) and VTESTPS VTESTPD (the sign bit of
/// each lane): ZF when `a & b` is 0, CF when `!a & b` is 0; AF OF PF SF
/// cleared.
fn test(cx: &mut Ctx, lane: Option<u32>) -> Flow {
    let a = read(cx, 0);
    let b = read(cx, 1);
    let signs = lane.map(|bits| cx.vconst((0..128 / bits).fold(0u128, |m, i| m | 1 << (i * bits + bits - 1))));
    let any = |cx: &mut Ctx, invert: bool| {
        let mut acc = None;
        for h in 0..2 {
            let x = if invert { cx.not(a[h]) } else { a[h] };
            let mut m = cx.op(And, &[x, b[h]]);
            if let Some(s) = signs {
                m = cx.op(And, &[m, s]);
            }
            acc = Some(match acc {
                Some(p) => cx.op(Or, &[p, m]),
                None => m,
            });
        }
        let bits = cx.b.ins(Bitcast, Some(Type::I128), Imm::None, &[acc.expect("two halves")]);
        cx.icmp_imm(IntCC::Eq, bits, 0)
    };
    let zf = any(cx, false);
    let cf = any(cx, true);
    cx.set_flag(ZF, zf);
    cx.set_flag(CF, cf);
    for f in [AF, OF, PF, SF] {
        cx.set_flag_const(f, false);
    }
    Flow::Next
}

/// Bytes `from..from + 16` of `v` (then zeros).
fn bytes_from(cx: &mut Ctx, v: Value, from: usize) -> Value {
    let zero = cx.vconst(0);
    let mask = std::array::from_fn(|i| if i + from < 16 { (i + from) as u8 } else { 16 });
    cx.b.ins(Vshuffle, None, Imm::Shuffle(mask), &[v, zero])
}

/// The 256-bit widening forms (PMOVSX PMOVZX CVTDQ2PD CVTPS2PD): the SSE
/// form on the source's low half of the bytes for the low half, on its
/// high half for the high half.
fn widen(cx: &mut Ctx) -> Flow {
    let Some(code) = register_form(cx.insn.code()) else { return Flow::Undefined };
    let src = read(cx, 1)[0];
    let half_bytes = half_source_bytes(cx.insn.mnemonic());
    let zero = cx.vconst(0);
    let upper = bytes_from(cx, src, half_bytes);
    let (Some(low), Some(high)) =
        (vex::sse_op(cx, code, &[zero, src], None), vex::sse_op(cx, code, &[zero, upper], None))
    else {
        return Flow::Undefined;
    };
    write(cx, dest(cx), [low, high]);
    Flow::Next
}

/// The source bytes each half of a 256-bit widening form reads: 8 for a
/// doubling, 4 for a quadrupling, 2 for an eightfold widening.
fn half_source_bytes(m: Mnemonic) -> usize {
    use Mnemonic::*;
    match m {
        Vpmovsxbq | Vpmovzxbq => 2,
        Vpmovsxbd | Vpmovzxbd | Vpmovsxwq | Vpmovzxwq => 4,
        _ => 8,
    }
}

/// The 256-bit narrowing forms (CVTPD2PS CVTPD2DQ CVTTPD2DQ): the SSE form
/// on each half, whose 64-bit results are joined in the XMM destination.
fn narrow(cx: &mut Ctx) -> Flow {
    let Some(code) = register_form(cx.insn.code()) else { return Flow::Undefined };
    let src = read(cx, 1);
    let zero = cx.vconst(0);
    let (Some(low), Some(high)) =
        (vex::sse_op(cx, code, &[zero, src[0]], None), vex::sse_op(cx, code, &[zero, src[1]], None))
    else {
        return Flow::Undefined;
    };
    let mask = std::array::from_fn(|i| if i < 8 { i as u8 } else { i as u8 + 8 });
    let joined = cx.b.ins(Vshuffle, None, Imm::Shuffle(mask), &[low, high]);
    write(cx, dest(cx), [joined, zero]);
    Flow::Next
}

/// The SSE form of a VEX form, which `sse_op` runs on registers.
fn register_form(code: Code) -> Option<Code> {
    vex::sse_form(code)
}

/// VPBROADCASTB/W/D/Q, VBROADCASTSS/SD (a lane of `lane`'s type from an XMM
/// register's low lane or memory) and VBROADCASTF128/I128 (16 bytes of
/// memory) into every lane.
fn broadcast(cx: &mut Ctx, lane: Type) -> Flow {
    let v = if lane == Type::I128 {
        read(cx, 1)[0]
    } else {
        let x = cx.read_scalar(1, lane);
        cx.b.ins(Vsplat, Some(lane_shape(lane)), Imm::None, &[x])
    };
    write(cx, dest(cx), [v, v]);
    Flow::Next
}

/// VINSERTF128 VINSERTI128: the first source with the half imm8[0] picks
/// replaced by the second source.
fn insert128(cx: &mut Ctx) -> Flow {
    let a = read(cx, 1);
    let b = read(cx, 2)[0];
    let r = if cx.insn.immediate8() & 1 == 0 { [b, a[1]] } else { [a[0], b] };
    write(cx, dest(cx), r);
    Flow::Next
}

/// VEXTRACTF128 VEXTRACTI128: the half imm8[0] picks, to an XMM register
/// (upper half zeroed) or 16 bytes of memory.
fn extract128(cx: &mut Ctx) -> Flow {
    let v = read(cx, 1)[(cx.insn.immediate8() & 1) as usize];
    if cx.is_memory(0) {
        let addr = cx.address();
        cx.b.store(v, addr, MemFlags { aligned: false });
    } else {
        let zero = cx.vconst(0);
        write(cx, dest(cx), [v, zero]);
    }
    Flow::Next
}

/// VPERM2F128 VPERM2I128: each half is one of the four source halves
/// (imm8 bits 0-1 and 4-5) or zero (bits 3 and 7).
fn perm2x128(cx: &mut Ctx) -> Flow {
    let a = read(cx, 1);
    let b = read(cx, 2);
    let imm = cx.insn.immediate8();
    let choices = [a[0], a[1], b[0], b[1]];
    let zero = cx.vconst(0);
    let pick = |sel: u8| if sel & 8 != 0 { zero } else { choices[(sel & 3) as usize] };
    write(cx, dest(cx), [pick(imm), pick(imm >> 4)]);
    Flow::Next
}

/// The bytes of `lanes` lanes of `bits` of the concatenation `a:b`, picked
/// by index, as a v128.
fn pick_lanes(cx: &mut Ctx, a: Value, b: Value, bits: usize, picks: &[usize]) -> Value {
    let bytes = bits / 8;
    let mask = std::array::from_fn(|i| (picks[i / bytes] * bytes + i % bytes) as u8);
    cx.b.ins(Vshuffle, None, Imm::Shuffle(mask), &[a, b])
}

/// VPERMQ VPERMPD: quadword i of the result is quadword imm8[2i+1:2i] of the
/// source.
fn permq(cx: &mut Ctx) -> Flow {
    let s = read(cx, 1);
    let imm = cx.insn.immediate8() as usize;
    let sel = |i: usize| (imm >> (2 * i)) & 3;
    let low = pick_lanes(cx, s[0], s[1], 64, &[sel(0), sel(1)]);
    let high = pick_lanes(cx, s[0], s[1], 64, &[sel(2), sel(3)]);
    write(cx, dest(cx), [low, high]);
    Flow::Next
}

/// The byte indices (for `vswizzle`) of the `bits`-wide lanes a vector of
/// lane indices names: each index (masked to the lanes of a half) times the
/// lane's bytes, plus the byte's place in its lane.
fn byte_indices(cx: &mut Ctx, idx: Value, bits: u32, shift: u32) -> Value {
    let shape = lane_shape(int_type(bits as usize / 8));
    let lanes_mask = (128 / bits - 1) as u128;
    let bytes = bits as u128 / 8;
    let splat = |v: u128| (0..128 / bits).fold(0u128, |m, i| m | v << (i * bits));
    let k = cx.iconst(Type::I64, shift as u64);
    let idx = if shift > 0 { cx.vop(Vlshr, shape, &[idx, k]) } else { idx };
    let mask = cx.vconst(splat(lanes_mask));
    let lane = cx.op(And, &[idx, mask]);
    let times = cx.vconst(splat((0..bytes).fold(0, |m, i| m | bytes << (8 * i))));
    let mul_shape = if bits == 64 { Type::I64x2 } else { Type::I32x4 };
    let scaled = cx.vop(Vmul, mul_shape, &[lane, times]);
    let offsets = cx.vconst(splat((0..bytes).fold(0, |m, i| m | i << (8 * i))));
    cx.op(Or, &[scaled, offsets])
}

/// VPERMD VPERMPS: dword i of the result is dword `idx[i] & 7` of the
/// table (the second source), across both halves.
fn permd(cx: &mut Ctx) -> Flow {
    let idx = read(cx, 1);
    let table = read(cx, 2);
    let mut out = [table[0]; 2];
    let four = cx.vconst((0..4).fold(0u128, |m, i| m | 4 << (32 * i)));
    for h in 0..2 {
        let bytes = byte_indices(cx, idx[h], 32, 0);
        let from_low = cx.b.ins(Vswizzle, None, Imm::None, &[table[0], bytes]);
        let from_high = cx.b.ins(Vswizzle, None, Imm::None, &[table[1], bytes]);
        let high_bit = cx.op(And, &[idx[h], four]);
        let zero = cx.vconst(0);
        let use_high = cx.b.ins(Vcmp, Some(Type::I32x4), Imm::IntCC(IntCC::Ne), &[high_bit, zero]);
        out[h] = select_bits(cx, use_high, from_high, from_low);
    }
    write(cx, dest(cx), out);
    Flow::Next
}

/// Bits of `a` where `m` is set, of `b` elsewhere.
fn select_bits(cx: &mut Ctx, m: Value, a: Value, b: Value) -> Value {
    let x = cx.op(Xor, &[a, b]);
    let x = cx.op(And, &[x, m]);
    cx.op(Xor, &[b, x])
}

/// VPERMILPS VPERMILPD within each 128-bit half: by imm8 (PS: the same two
/// bits a lane in both halves; PD: one bit a lane, the high half's next),
/// or by a vector of indices (PS: bits 0-1 of each dword; PD: bit 1 of each
/// quadword).
fn permil(cx: &mut Ctx, bits: u32) -> Flow {
    let wide = is_wide(&cx.insn);
    let mut out = Vec::new();
    if cx.insn.op_kind(cx.insn.op_count() - 1) == OpKind::Immediate8 {
        let s = read(cx, 1);
        let imm = cx.insn.immediate8() as usize;
        for (h, half) in s.iter().enumerate() {
            let picks: Vec<usize> = match bits {
                32 => (0..4).map(|i| (imm >> (2 * i)) & 3).collect(),
                _ => (0..2).map(|i| (imm >> (2 * h + i)) & 1).collect(),
            };
            out.push(pick_lanes(cx, *half, *half, bits as usize, &picks));
        }
    } else {
        let s = read(cx, 1);
        let ctl = read(cx, 2);
        for h in 0..2 {
            let bytes = byte_indices(cx, ctl[h], bits, if bits == 64 { 1 } else { 0 });
            out.push(cx.b.ins(Vswizzle, None, Imm::None, &[s[h], bytes]));
        }
    }
    let high = if wide { out[1] } else { cx.vconst(0) };
    write(cx, dest(cx), [out[0], high]);
    Flow::Next
}

/// VPBLENDD: dword i from the second source where imm8 bit i is set.
fn pblendd(cx: &mut Ctx) -> Flow {
    let a = read(cx, 1);
    let b = read(cx, 2);
    let imm = cx.insn.immediate8() as usize;
    let mut out = [a[0]; 2];
    for h in 0..2 {
        let picks: Vec<usize> = (0..4).map(|i| if imm >> (4 * h + i) & 1 != 0 { 4 + i } else { i }).collect();
        out[h] = pick_lanes(cx, a[h], b[h], 32, &picks);
    }
    write(cx, dest(cx), out);
    Flow::Next
}

/// VPSLLVD/Q VPSRLVD/Q VPSRAVD: each lane shifted by the count in the same
/// lane of the second source (unsigned; a count of the lane width or more
/// gives 0, or the sign for VPSRAVD), lane by lane.
fn variable_shift(cx: &mut Ctx, op: Opcode, shape: Type) -> Flow {
    let a = read(cx, 1);
    let b = read(cx, 2);
    let (_, lanes) = shape.lane().expect("a lane shape");
    let mut out = [a[0]; 2];
    for h in 0..2 {
        let mut acc = a[h];
        for i in 0..lanes as u8 {
            let x = cx.b.ins(Vextract, Some(shape), Imm::Lane(i), &[a[h]]);
            let n = cx.b.ins(Vextract, Some(shape), Imm::Lane(i), &[b[h]]);
            let v = cx.b.ins(Vinsert, Some(shape), Imm::Lane(0), &[a[h], x]);
            let n = cx.resize(Type::I64, n);
            let shifted = cx.vop(op, shape, &[v, n]);
            let r = cx.b.ins(Vextract, Some(shape), Imm::Lane(0), &[shifted]);
            acc = cx.b.ins(Vinsert, Some(shape), Imm::Lane(i), &[acc, r]);
        }
        out[h] = acc;
    }
    if !is_wide(&cx.insn) {
        out[1] = cx.vconst(0);
    }
    write(cx, dest(cx), out);
    Flow::Next
}

/// VMASKMOVPS/PD VPMASKMOVD/Q: the elements of `elem` bytes whose mask
/// lane (the first source) has its sign set are loaded (zero elsewhere) or
/// stored (the others left alone).
fn maskmov(cx: &mut Ctx, elem: u32) -> Flow {
    let store = cx.is_memory(0);
    let mask = read(cx, 1);
    let data = if store { read(cx, 2) } else { [mask[0], mask[1]] };
    let count = cx.insn.memory_size().size() as u32 / elem;
    let addr = cx.address();
    let op = cx.iconst(Type::I64, crate::machine::vector_mem::maskmov_op(elem, count, store));
    let r = super::system::call(cx, cx.x.maskmov, &[op, addr, mask[0], mask[1], data[0], data[1]]);
    if !store {
        write(cx, dest(cx), [r[0], r[1]]);
    }
    Flow::Next
}

/// VGATHER VPGATHER: each element (of `elem` bytes) whose lane of the mask
/// (the third operand) has its sign set is loaded from the base plus its
/// index (of `index` bytes, in the VSIB register) scaled; the mask is then
/// zero. #UD when two of the destination, index and mask registers are one.
fn gather(cx: &mut Ctx, elem: u32, index: u32) -> Flow {
    let insn = cx.insn;
    let (dst, idx, mask_reg) = (insn.op0_register(), insn.memory_index(), insn.op2_register());
    let numbers = [number(dst), number(idx), number(mask_reg)];
    if numbers[0] == numbers[1] || numbers[0] == numbers[2] || numbers[1] == numbers[2] {
        return Flow::Undefined;
    }
    let count = (dst.size() as u32 / elem).min(idx.size() as u32 / index);
    let mut base = cx.iconst(Type::I64, insn.memory_displacement64());
    if insn.memory_base() != Register::None {
        let b = cx.read_gpr(insn.memory_base());
        base = cx.op(Iadd, &[base, b]);
    }
    if let Some(seg) = cx.segment_base() {
        base = cx.op(Iadd, &[base, seg]);
    }
    let old = read(cx, 0);
    let mask = read(cx, 2);
    let index_v = read_register(cx, idx);
    let op = crate::machine::vector_mem::GatherOp {
        elem,
        index,
        count,
        scale: insn.memory_index_scale(),
        dest: numbers[0] as u32,
        mask: numbers[2] as u32,
        wide: dst.is_ymm() || idx.is_ymm(),
    };
    let op = cx.iconst(Type::I64, op.encode());
    let r = super::system::call(cx, cx.x.gather, &[op, base, index_v[0], index_v[1], mask[0], mask[1], old[0], old[1]]);
    write(cx, dst, [r[0], r[1]]);
    let zero = cx.vconst(0);
    write(cx, mask_reg, [zero, zero]);
    Flow::Next
}

/// An XMM or YMM register as a YMM value (an XMM one zero above).
fn read_register(cx: &mut Ctx, reg: Register) -> Ymm {
    let n = number(reg);
    let low = cx.get(cx.x.xmm[n]);
    let high = if reg.is_ymm() { cx.get(cx.x.ymmh[n]) } else { cx.vconst(0) };
    [low, high]
}
