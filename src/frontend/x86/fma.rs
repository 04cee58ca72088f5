//! FMA3: VFMADD VFMSUB VFNMADD VFNMSUB VFMADDSUB VFMSUBADD in the 132,
//! 213 and 231 operand orders, packed (PS PD, 128 and 256 bits) and scalar
//! (SS SD), each one fused V-ISA operation (`vfma` `vfms` `vfnma` `vfnms`,
//! or `fma`... for a scalar) per 128-bit half, rounded once in MXCSR's
//! direction.
//!
//! The digits say which operands multiply and which is added (operand 1
//! is the destination, 2 the VEX.vvvv register, 3 the r/m operand): 132 is
//! op1 * op3 + op2, 213 op2 * op1 + op3, 231 op2 * op3 + op1. Processors
//! propagate a NaN operand in that formula's order, first factor first,
//! quiet and with its own sign even where the instruction negates: the
//! V-ISA's rule for the fused operations on (a, b, c). MADDSUB subtracts in
//! the even lanes and adds in the odd ones, MSUBADD the other way round. A
//! scalar form keeps bits 32 (64) to 127 of operand 1; every form zeroes
//! what its destination register has above its width, as VEX forms do.
//! Memory operands need no alignment.

use iced_x86::Mnemonic;

use super::LiftFn;
use super::avx::{self, Ymm};
use super::ctx::{Ctx, Flow, lane_shape};
use super::fpexc;
use crate::visa::{ExcOp, Imm, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = {
    use Mnemonic::*;
    &[
        (Vfmadd132ps, |cx| fused(cx, FMADD, O132, PS)),
        (Vfmadd132pd, |cx| fused(cx, FMADD, O132, PD)),
        (Vfmadd132ss, |cx| fused(cx, FMADD, O132, SS)),
        (Vfmadd132sd, |cx| fused(cx, FMADD, O132, SD)),
        (Vfmadd213ps, |cx| fused(cx, FMADD, O213, PS)),
        (Vfmadd213pd, |cx| fused(cx, FMADD, O213, PD)),
        (Vfmadd213ss, |cx| fused(cx, FMADD, O213, SS)),
        (Vfmadd213sd, |cx| fused(cx, FMADD, O213, SD)),
        (Vfmadd231ps, |cx| fused(cx, FMADD, O231, PS)),
        (Vfmadd231pd, |cx| fused(cx, FMADD, O231, PD)),
        (Vfmadd231ss, |cx| fused(cx, FMADD, O231, SS)),
        (Vfmadd231sd, |cx| fused(cx, FMADD, O231, SD)),
        (Vfmsub132ps, |cx| fused(cx, FMSUB, O132, PS)),
        (Vfmsub132pd, |cx| fused(cx, FMSUB, O132, PD)),
        (Vfmsub132ss, |cx| fused(cx, FMSUB, O132, SS)),
        (Vfmsub132sd, |cx| fused(cx, FMSUB, O132, SD)),
        (Vfmsub213ps, |cx| fused(cx, FMSUB, O213, PS)),
        (Vfmsub213pd, |cx| fused(cx, FMSUB, O213, PD)),
        (Vfmsub213ss, |cx| fused(cx, FMSUB, O213, SS)),
        (Vfmsub213sd, |cx| fused(cx, FMSUB, O213, SD)),
        (Vfmsub231ps, |cx| fused(cx, FMSUB, O231, PS)),
        (Vfmsub231pd, |cx| fused(cx, FMSUB, O231, PD)),
        (Vfmsub231ss, |cx| fused(cx, FMSUB, O231, SS)),
        (Vfmsub231sd, |cx| fused(cx, FMSUB, O231, SD)),
        (Vfnmadd132ps, |cx| fused(cx, FNMADD, O132, PS)),
        (Vfnmadd132pd, |cx| fused(cx, FNMADD, O132, PD)),
        (Vfnmadd132ss, |cx| fused(cx, FNMADD, O132, SS)),
        (Vfnmadd132sd, |cx| fused(cx, FNMADD, O132, SD)),
        (Vfnmadd213ps, |cx| fused(cx, FNMADD, O213, PS)),
        (Vfnmadd213pd, |cx| fused(cx, FNMADD, O213, PD)),
        (Vfnmadd213ss, |cx| fused(cx, FNMADD, O213, SS)),
        (Vfnmadd213sd, |cx| fused(cx, FNMADD, O213, SD)),
        (Vfnmadd231ps, |cx| fused(cx, FNMADD, O231, PS)),
        (Vfnmadd231pd, |cx| fused(cx, FNMADD, O231, PD)),
        (Vfnmadd231ss, |cx| fused(cx, FNMADD, O231, SS)),
        (Vfnmadd231sd, |cx| fused(cx, FNMADD, O231, SD)),
        (Vfnmsub132ps, |cx| fused(cx, FNMSUB, O132, PS)),
        (Vfnmsub132pd, |cx| fused(cx, FNMSUB, O132, PD)),
        (Vfnmsub132ss, |cx| fused(cx, FNMSUB, O132, SS)),
        (Vfnmsub132sd, |cx| fused(cx, FNMSUB, O132, SD)),
        (Vfnmsub213ps, |cx| fused(cx, FNMSUB, O213, PS)),
        (Vfnmsub213pd, |cx| fused(cx, FNMSUB, O213, PD)),
        (Vfnmsub213ss, |cx| fused(cx, FNMSUB, O213, SS)),
        (Vfnmsub213sd, |cx| fused(cx, FNMSUB, O213, SD)),
        (Vfnmsub231ps, |cx| fused(cx, FNMSUB, O231, PS)),
        (Vfnmsub231pd, |cx| fused(cx, FNMSUB, O231, PD)),
        (Vfnmsub231ss, |cx| fused(cx, FNMSUB, O231, SS)),
        (Vfnmsub231sd, |cx| fused(cx, FNMSUB, O231, SD)),
        (Vfmaddsub132ps, |cx| fused(cx, FMADDSUB, O132, PS)),
        (Vfmaddsub132pd, |cx| fused(cx, FMADDSUB, O132, PD)),
        (Vfmaddsub213ps, |cx| fused(cx, FMADDSUB, O213, PS)),
        (Vfmaddsub213pd, |cx| fused(cx, FMADDSUB, O213, PD)),
        (Vfmaddsub231ps, |cx| fused(cx, FMADDSUB, O231, PS)),
        (Vfmaddsub231pd, |cx| fused(cx, FMADDSUB, O231, PD)),
        (Vfmsubadd132ps, |cx| fused(cx, FMSUBADD, O132, PS)),
        (Vfmsubadd132pd, |cx| fused(cx, FMSUBADD, O132, PD)),
        (Vfmsubadd213ps, |cx| fused(cx, FMSUBADD, O213, PS)),
        (Vfmsubadd213pd, |cx| fused(cx, FMSUBADD, O213, PD)),
        (Vfmsubadd231ps, |cx| fused(cx, FMSUBADD, O231, PS)),
        (Vfmsubadd231pd, |cx| fused(cx, FMSUBADD, O231, PD)),
    ]
};

/// The operation of the even lanes and of the odd lanes.
type Kind = [Opcode; 2];

const FMADD: Kind = [Opcode::Vfma, Opcode::Vfma];
const FMSUB: Kind = [Opcode::Vfms, Opcode::Vfms];
const FNMADD: Kind = [Opcode::Vfnma, Opcode::Vfnma];
const FNMSUB: Kind = [Opcode::Vfnms, Opcode::Vfnms];
const FMADDSUB: Kind = [Opcode::Vfms, Opcode::Vfma];
const FMSUBADD: Kind = [Opcode::Vfma, Opcode::Vfms];

/// The operands (0-based) that are the first factor, the second factor and
/// the addend.
type Order = [u32; 3];

const O132: Order = [0, 2, 1];
const O213: Order = [1, 0, 2];
const O231: Order = [1, 2, 0];

/// The lane type, and whether every lane is computed or only the low one.
type Form = (Type, bool);

const PS: Form = (Type::F32, true);
const PD: Form = (Type::F64, true);
const SS: Form = (Type::F32, false);
const SD: Form = (Type::F64, false);

fn fused(cx: &mut Ctx, kind: Kind, order: Order, (lane, packed): Form) -> Flow {
    let dest = cx.insn.op0_register();
    let round = Imm::Round(cx.mode.rounding);
    let mode = cx.mode.rounding;
    if !packed {
        let [a, b, c] = order.map(|i| cx.read_scalar(i, lane));
        let [a, b, c] = [a, b, c].map(|v| fpexc::daz(cx, lane, v));
        let r = cx.b.ins(scalar(kind[0]), Some(lane), round, &[a, b, c]);
        fpexc::raise(cx, exc_op(kind[0]), mode, lane, &[a, b, c], r);
        let r = fpexc::ftz_rounded(cx, lane, r, scalar(kind[0]), lane, &[a, b, c], &[true, false, true]);
        let old = cx.read_vreg(dest);
        let low = cx.b.ins(Opcode::Vinsert, Some(lane_shape(lane)), Imm::Lane(0), &[old, r]);
        let zero = cx.vconst(0);
        avx::write(cx, dest, [low, zero]);
        return Flow::Next;
    }
    let [a, b, c]: [Ymm; 3] = order.map(|i| avx::read(cx, i));
    let shape = lane_shape(lane);
    let halves = if dest.is_ymm() { 2 } else { 1 };
    let mut r = [cx.vconst(0); 2];
    for h in 0..halves {
        let args = [a[h], b[h], c[h]].map(|v| fpexc::daz(cx, shape, v));
        let even = cx.b.ins(kind[0], Some(shape), round, &args);
        r[h] = if kind[0] == kind[1] {
            fpexc::raise(cx, exc_op(kind[0]), mode, shape, &args, even);
            even
        } else {
            let odd = cx.b.ins(kind[1], Some(shape), round, &args);
            let both = alternate(cx, lane, even, odd);
            // The flags of a * b + c with c negated in the lanes that
            // subtract (a NaN's sign changes no flag).
            let neg = (0..16 / lane.bytes() as usize)
                .filter(|i| kind[i % 2] == Opcode::Vfms)
                .fold(0u128, |acc, i| acc | 1u128 << ((i as u32 + 1) * lane.bits() - 1));
            let neg = cx.vconst(neg);
            let c = cx.op(Opcode::Xor, &[args[2], neg]);
            fpexc::raise(cx, ExcOp::Fma, mode, shape, &[args[0], args[1], c], both);
            both
        };
        r[h] = if kind[0] == kind[1] {
            fpexc::ftz_rounded(cx, shape, r[h], kind[0], shape, &args, &[true, false, true])
        } else if fpexc::ftz_active(cx) {
            let scaled = [fpexc::scaled(cx, shape, args[0]), args[1], fpexc::scaled(cx, shape, args[2])];
            let even = cx.b.ins(kind[0], Some(shape), round, &scaled);
            let odd = cx.b.ins(kind[1], Some(shape), round, &scaled);
            let test = alternate(cx, lane, even, odd);
            fpexc::ftz_tested(cx, shape, r[h], test)
        } else {
            r[h]
        };
    }
    avx::write(cx, dest, r);
    Flow::Next
}

/// The exception flag operation of a lane-wise one.
fn exc_op(op: Opcode) -> ExcOp {
    match op {
        Opcode::Vfma => ExcOp::Fma,
        Opcode::Vfms => ExcOp::Fms,
        Opcode::Vfnma => ExcOp::Fnma,
        _ => ExcOp::Fnms,
    }
}

/// The scalar operation of a lane-wise one.
fn scalar(op: Opcode) -> Opcode {
    match op {
        Opcode::Vfma => Opcode::Fma,
        Opcode::Vfms => Opcode::Fms,
        Opcode::Vfnma => Opcode::Fnma,
        _ => Opcode::Fnms,
    }
}

/// The even lanes of `even` and the odd lanes of `odd`.
fn alternate(cx: &mut Ctx, lane: Type, even: Value, odd: Value) -> Value {
    let w = lane.bytes() as usize;
    let mask: [u8; 16] = std::array::from_fn(|i| if (i / w).is_multiple_of(2) { i as u8 } else { 16 + i as u8 });
    cx.b.ins(Opcode::Vshuffle, None, Imm::Shuffle(mask), &[even, odd])
}
