//! Float semantics: IEEE 754 binary32/binary64 with explicit rounding, and
//! one NaN rule on every host (visa-spec/semantics.md): a NaN operand
//! propagates, the first one winning, made quiet; an invalid operation on
//! non-NaN operands gives the default NaN (sign set, quiet, zero payload).
//! Round-to-nearest uses the host's float unit; directed rounding is exact
//! through rustc_apfloat.

use rustc_apfloat::ieee::{Double, Single};
use rustc_apfloat::{Float as ApFloat, Round as ApRound};

use crate::visa::imm::{FloatCC, Imm, Round};
use crate::visa::opcodes::Opcode;
use crate::visa::types::Type;

use super::sext;

/// A host float type the semantics are written over.
pub trait Fp: Copy + PartialOrd + PartialEq {
    type Ap: ApFloat;
    const BITS: u32;
    fn from_raw(bits: u128) -> Self;
    fn raw(self) -> u128;
    fn is_nan(self) -> bool;
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    fn div(self, b: Self) -> Self;
    /// a * b + c rounded once to nearest (exact on every host: a fused
    /// instruction or the C library's correctly rounded `fma`).
    fn mul_add(self, b: Self, c: Self) -> Self;
    fn sqrt_directed(self, round: Round) -> Self;
    fn round_int(self, round: Round) -> Self;
    fn from_i128_nearest(x: i128) -> Self;
    fn from_u128_nearest(x: u128) -> Self;
    fn to_int_sat(self, bits: u32, signed: bool) -> u128;
}

macro_rules! impl_fp {
    ($f:ty, $ap:ty, $bits:expr, $uint:ty) => {
        impl Fp for $f {
            type Ap = $ap;
            const BITS: u32 = $bits;
            fn from_raw(bits: u128) -> Self {
                <$f>::from_bits(bits as $uint)
            }
            fn raw(self) -> u128 {
                self.to_bits() as u128
            }
            fn is_nan(self) -> bool {
                <$f>::is_nan(self)
            }
            fn add(self, b: Self) -> Self {
                self + b
            }
            fn sub(self, b: Self) -> Self {
                self - b
            }
            fn mul(self, b: Self) -> Self {
                self * b
            }
            fn div(self, b: Self) -> Self {
                self / b
            }
            fn mul_add(self, b: Self, c: Self) -> Self {
                <$f>::mul_add(self, b, c)
            }
            fn sqrt_directed(self, round: Round) -> Self {
                sqrt_directed_impl(self, round)
            }
            fn round_int(self, round: Round) -> Self {
                match round {
                    Round::Nearest => self.round_ties_even(),
                    Round::Zero => self.trunc(),
                    Round::Down => self.floor(),
                    Round::Up => self.ceil(),
                }
            }
            fn from_i128_nearest(x: i128) -> Self {
                x as $f
            }
            fn from_u128_nearest(x: u128) -> Self {
                x as $f
            }
            fn to_int_sat(self, bits: u32, signed: bool) -> u128 {
                match (bits, signed) {
                    (32, true) => self as i32 as u32 as u128,
                    (32, false) => self as u32 as u128,
                    (64, true) => self as i64 as u64 as u128,
                    _ => self as u64 as u128,
                }
            }
        }
    };
}

impl_fp!(f32, Single, 32, u32);
impl_fp!(f64, Double, 64, u64);

fn sqrt_directed_impl<F: Fp + 'static>(x: F, round: Round) -> F {
    if F::BITS == 32 {
        // The binary64 square root of a binary32 value is never a binary32
        // value unless exact, so one directed conversion rounds correctly.
        let wide = (f32::from_raw(x.raw()) as f64).sqrt();
        return F::from_raw(convert::<Double, Single>(wide.raw(), round));
    }
    F::from_raw(sqrt_directed_f64(f64::from_raw(x.raw()), round).raw())
}

fn sqrt_directed_f64(x: f64, round: Round) -> f64 {
    // 2^e, for e in the normal exponent range.
    let pow2 = |e: i32| f64::from_bits(((1023 + e) as u64) << 52);
    if x > 0.0 && x < pow2(-900) {
        // The residual below would underflow to zero. Scaling by an even
        // power of two is exact, scales the root exactly and keeps it normal.
        return sqrt_directed_f64(x * pow2(200), round) * pow2(-100);
    }
    let r = x.sqrt();
    // x - r*r is exact in one fused operation: its sign says on which side
    // of the true root r lies.
    let residual = (-r).mul_add(r, x);
    match round {
        Round::Down | Round::Zero if residual < 0.0 => r.next_down(),
        Round::Up if residual > 0.0 => r.next_up(),
        _ => r,
    }
}

pub(super) fn ap_round(round: Round) -> ApRound {
    match round {
        Round::Nearest => ApRound::NearestTiesToEven,
        Round::Zero => ApRound::TowardZero,
        Round::Down => ApRound::TowardNegative,
        Round::Up => ApRound::TowardPositive,
    }
}

fn convert<From: ApFloat + rustc_apfloat::FloatConvert<To>, To: ApFloat>(bits: u128, round: Round) -> u128 {
    let mut loses = false;
    From::from_bits(bits).convert_r(ap_round(round), &mut loses).value.to_bits()
}

/// The quiet form of a NaN of `bits` width.
pub fn quiet(bits: u128, width: u32) -> u128 {
    let mant = if width == 32 { 23 } else { 52 };
    bits | (1 << (mant - 1))
}

/// The default NaN: sign set, quiet, zero payload.
pub fn default_nan(width: u32) -> u128 {
    if width == 32 { 0xffc0_0000 } else { 0xfff8_0000_0000_0000 }
}

/// The NaN rule for operands: the first NaN operand, quiet.
fn propagate<F: Fp>(args: &[u128]) -> Option<u128> {
    args.iter().find(|a| F::from_raw(**a).is_nan()).map(|a| quiet(*a, F::BITS))
}

/// The NaN rule for a computed result.
fn finish<F: Fp>(r: F) -> u128 {
    if r.is_nan() { default_nan(F::BITS) } else { r.raw() }
}

fn binary<F: Fp>(op: Opcode, round: Round, a: u128, b: u128) -> u128 {
    if let Some(nan) = propagate::<F>(&[a, b]) {
        return nan;
    }
    let (x, y) = (F::from_raw(a), F::from_raw(b));
    if round == Round::Nearest {
        return finish(match op {
            Opcode::Fadd | Opcode::Vfadd => x.add(y),
            Opcode::Fsub | Opcode::Vfsub => x.sub(y),
            Opcode::Fmul | Opcode::Vfmul => x.mul(y),
            _ => x.div(y),
        });
    }
    let (p, q, mode) = (F::Ap::from_bits(a), F::Ap::from_bits(b), ap_round(round));
    let r = match op {
        Opcode::Fadd | Opcode::Vfadd => p.add_r(q, mode),
        Opcode::Fsub | Opcode::Vfsub => p.sub_r(q, mode),
        Opcode::Fmul | Opcode::Vfmul => p.mul_r(q, mode),
        _ => p.div_r(q, mode),
    };
    finish(F::from_raw(r.value.to_bits()))
}

/// The signs a fused operation gives its product and its addend: `fms`
/// negates the addend, `fnma` the product, `fnms` both.
pub fn fused_negations(op: Opcode) -> (bool, bool) {
    match op {
        Opcode::Fma | Opcode::Vfma => (false, false),
        Opcode::Fms | Opcode::Vfms => (false, true),
        Opcode::Fnma | Opcode::Vfnma => (true, false),
        _ => (true, true),
    }
}

/// A fused multiply-add (`fma` `fms` `fnma` `fnms` and their lane-wise
/// forms): +-(a * b) +- c rounded once. A NaN operand propagates as given,
/// its sign not negated.
pub fn fused<F: Fp>(op: Opcode, round: Round, a: u128, b: u128, c: u128) -> u128 {
    if let Some(nan) = propagate::<F>(&[a, b, c]) {
        return nan;
    }
    let sign_bit = 1u128 << (F::BITS - 1);
    let (neg_product, neg_addend) = fused_negations(op);
    let a = if neg_product { a ^ sign_bit } else { a };
    let c = if neg_addend { c ^ sign_bit } else { c };
    if round == Round::Nearest {
        return finish(F::from_raw(a).mul_add(F::from_raw(b), F::from_raw(c)));
    }
    let r = F::Ap::from_bits(a).mul_add_r(F::Ap::from_bits(b), F::Ap::from_bits(c), ap_round(round));
    finish(F::from_raw(r.value.to_bits()))
}

fn sqrt<F: Fp>(round: Round, a: u128) -> u128 {
    if let Some(nan) = propagate::<F>(&[a]) {
        return nan;
    }
    finish(F::from_raw(a).sqrt_directed(round))
}

/// IEEE 754-2019 minimum (`max` false) or maximum.
fn min_max<F: Fp>(max: bool, a: u128, b: u128) -> u128 {
    if let Some(nan) = propagate::<F>(&[a, b]) {
        return nan;
    }
    let (x, y) = (F::from_raw(a), F::from_raw(b));
    let sign = |v: u128| (v >> (F::BITS - 1)) & 1 == 1;
    if x == y {
        // Equal values differ only for zeros: minimum prefers -0.
        return if sign(a) != max { a } else { b };
    }
    if (x < y) != max { a } else { b }
}

pub fn fcmp<F: Fp>(cc: FloatCC, a: u128, b: u128) -> bool {
    let (x, y) = (F::from_raw(a), F::from_raw(b));
    let uno = x.is_nan() || y.is_nan();
    match cc {
        FloatCC::Eq => x == y,
        FloatCC::Ne => x != y,
        FloatCC::Lt => x < y,
        FloatCC::Le => x <= y,
        FloatCC::Gt => x > y,
        FloatCC::Ge => x >= y,
        FloatCC::Ord => !uno,
        FloatCC::Uno => uno,
        FloatCC::One => !uno && x != y,
        FloatCC::Ueq => uno || x == y,
        FloatCC::Ult => uno || x < y,
        FloatCC::Ule => uno || x <= y,
        FloatCC::Ugt => uno || x > y,
        FloatCC::Uge => uno || x >= y,
    }
}

fn from_int<F: Fp>(round: Round, value: u128, from_bits: u32, signed: bool) -> u128 {
    let (v_s, v_u) = (sext(value, from_bits), value);
    match (round, signed) {
        (Round::Nearest, true) => F::from_i128_nearest(v_s).raw(),
        (Round::Nearest, false) => F::from_u128_nearest(v_u).raw(),
        (r, true) => F::Ap::from_i128_r(v_s, ap_round(r)).value.to_bits(),
        (r, false) => F::Ap::from_u128_r(v_u, ap_round(r)).value.to_bits(),
    }
}

/// Lane or scalar float operation on one or two operands of width `F`.
pub fn unary_or_binary<F: Fp>(op: Opcode, imm: &Imm, a: u128, b: u128) -> u128 {
    let round = match imm {
        Imm::Round(r) => *r,
        _ => Round::Nearest,
    };
    let sign_bit = 1u128 << (F::BITS - 1);
    match op {
        Opcode::Fadd | Opcode::Fsub | Opcode::Fmul | Opcode::Fdiv => binary::<F>(op, round, a, b),
        Opcode::Vfadd | Opcode::Vfsub | Opcode::Vfmul | Opcode::Vfdiv => binary::<F>(op, round, a, b),
        Opcode::Fsqrt | Opcode::Vfsqrt => sqrt::<F>(round, a),
        Opcode::Fmin | Opcode::Vfmin => min_max::<F>(false, a, b),
        Opcode::Fmax | Opcode::Vfmax => min_max::<F>(true, a, b),
        Opcode::Fneg => a ^ sign_bit,
        Opcode::Fabs => a & !sign_bit,
        Opcode::Fround => match propagate::<F>(&[a]) {
            Some(nan) => nan,
            None => F::from_raw(a).round_int(round).raw(),
        },
        Opcode::Fcmp | Opcode::Vfcmp => {
            let Imm::FloatCC(cc) = imm else { unreachable!("fcmp without a condition") };
            fcmp::<F>(*cc, a, b) as u128
        }
        _ => unreachable!("`{}` is not a float operation", op.name()),
    }
}

pub fn eval(op: Opcode, t: Type, imm: &Imm, args: &[u128], arg_types: &[Type], out: &mut [u128]) {
    let a = args[0];
    let b = args.get(1).copied().unwrap_or(0);
    let round = match imm {
        Imm::Round(r) => *r,
        _ => Round::Nearest,
    };
    out[0] = match op {
        Opcode::Fma | Opcode::Fms | Opcode::Fnma | Opcode::Fnms if t == Type::F32 => {
            fused::<f32>(op, round, a, b, args[2])
        }
        Opcode::Fma | Opcode::Fms | Opcode::Fnma | Opcode::Fnms => fused::<f64>(op, round, a, b, args[2]),
        Opcode::FcvtToSint | Opcode::FcvtToUint => {
            let signed = op == Opcode::FcvtToSint;
            match arg_types[0] {
                Type::F32 => f32::from_raw(a).to_int_sat(t.bits(), signed),
                _ => f64::from_raw(a).to_int_sat(t.bits(), signed),
            }
        }
        Opcode::FcvtFromSint | Opcode::FcvtFromUint => {
            let signed = op == Opcode::FcvtFromSint;
            match t {
                Type::F32 => from_int::<f32>(round, a, arg_types[0].bits(), signed),
                _ => from_int::<f64>(round, a, arg_types[0].bits(), signed),
            }
        }
        Opcode::Fpromote => {
            if f32::from_raw(a).is_nan() {
                let sign = (a >> 31) << 63;
                sign | (0x7ff << 52) | (1 << 51) | ((a & 0x7f_ffff) << 29)
            } else {
                (f32::from_raw(a) as f64).raw()
            }
        }
        Opcode::Fdemote => {
            if f64::from_raw(a).is_nan() {
                let sign = (a >> 63) << 31;
                sign | (0xff << 23) | (1 << 22) | ((a >> 29) & 0x7f_ffff)
            } else if round == Round::Nearest {
                (f64::from_raw(a) as f32).raw()
            } else {
                convert::<Double, Single>(a, round)
            }
        }
        _ if t == Type::F32 => unary_or_binary::<f32>(op, imm, a, b),
        _ => unary_or_binary::<f64>(op, imm, a, b),
    };
}
