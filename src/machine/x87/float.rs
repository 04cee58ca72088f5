//! 80-bit extended-precision values: classification, exact conversion to
//! and from IEEE quad (same exponent range, more precision), the memory
//! formats (single, double, integers, packed BCD), and rounding to the
//! precision and direction FCW selects, with the x87's exception flags and
//! C1 (rounded up).
//!
//! Arithmetic is done by `rustc_apfloat`: an operation is computed in a wide
//! format (100 bits, 27-bit exponent) toward zero and made round-to-odd (an
//! inexact result gets its last bit set), which rounds again to any
//! precision of 64 bits or fewer exactly as the exact result would. Tininess is detected after rounding, as x86 does:
//! the result rounded with an unbounded exponent is below the smallest
//! normal.

use core::cmp::Ordering;

use rustc_apfloat::ieee::{DoubleS, IeeeFloat, Quad, Semantics, SingleS};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};

use super::{IE, OE, PE, UE};

/// IEEE-style semantics with `P` significand bits (integer bit included)
/// and `E` exponent bits: the x87 precisions (24, 53, 64 bits with the
/// 15-bit exponent) and wide-exponent variants for tininess checks.
pub struct Ext<const P: usize, const E: usize>;

impl<const P: usize, const E: usize> Semantics for Ext<P, E> {
    const BITS: usize = P + E;
    const EXP_BITS: usize = E;
}

/// The intermediate format: 100 bits of precision (enough to round again
/// to 64 bits from round-to-odd) and an exponent range no operation on
/// 80-bit values leaves, so nothing overflows or underflows before the
/// final rounding.
pub type Wide = IeeeFloat<Ext<100, 27>>;

/// An 80-bit value in the low bits of a u128.
pub const MASK80: u128 = (1 << 80) - 1;
/// The real indefinite: the default quiet NaN.
pub const INDEFINITE: u128 = 0xffff_c000_0000_0000_0000;
const SIGN: u128 = 1 << 79;
const QUIET: u128 = 1 << 62;
const J: u64 = 1 << 63;

/// What an 80-bit register holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Zero,
    /// Denormals and pseudo-denormals (exponent 0, integer bit set).
    Denormal,
    Normal,
    Infinity,
    QNan,
    SNan,
    /// Unnormals, pseudo-NaNs and pseudo-infinities: invalid operands.
    Unsupported,
}

pub fn class(v: u128) -> Class {
    let exp = (v >> 64) as u16 & 0x7fff;
    let sig = v as u64;
    match (exp, sig & J != 0) {
        (0, false) if sig == 0 => Class::Zero,
        (0, _) => Class::Denormal,
        (0x7fff, true) if sig << 1 == 0 => Class::Infinity,
        (0x7fff, true) if sig & (1 << 62) != 0 => Class::QNan,
        (0x7fff, true) => Class::SNan,
        (_, false) => Class::Unsupported,
        _ => Class::Normal,
    }
}

pub fn is_nan(v: u128) -> bool {
    matches!(class(v), Class::QNan | Class::SNan)
}

pub fn sign(v: u128) -> bool {
    v & SIGN != 0
}

pub fn neg(v: u128) -> u128 {
    v ^ SIGN
}

pub fn abs(v: u128) -> u128 {
    v & !SIGN
}

pub fn quiet(v: u128) -> u128 {
    v | QUIET
}

pub fn with_sign(v: u128, negative: bool) -> u128 {
    (v & !SIGN) | if negative { SIGN } else { 0 }
}

pub fn zero(negative: bool) -> u128 {
    with_sign(0, negative)
}

pub fn infinity(negative: bool) -> u128 {
    with_sign(0x7fff_8000_0000_0000_0000, negative)
}

/// The biased exponent field.
pub fn exponent_field(v: u128) -> u32 {
    (v >> 64) as u32 & 0x7fff
}

/// A finite nonzero value as `(m, e)` with `m` normalised (bit 63 set) and
/// value `m * 2^e`.
pub fn unpack(v: u128) -> (u64, i32) {
    let sig = v as u64;
    let exp = (exponent_field(v) as i32).max(1);
    let lz = sig.leading_zeros();
    (sig << lz, exp - 16383 - 63 - lz as i32)
}

/// A zero, denormal, normal or infinity as a quad (exactly).
pub fn to_quad(v: u128) -> Quad {
    let sign = (v >> 79) & 1;
    let mut exp = (v >> 64) & 0x7fff;
    let sig = v as u64;
    if exp == 0 && sig & J != 0 {
        exp = 1;
    }
    let frac = (sig & !J) as u128;
    Quad::from_bits(sign << 127 | exp << 112 | frac << 49)
}

/// A quad that fits the 80-bit format exactly (not a NaN).
pub fn from_quad(q: Quad) -> u128 {
    let b = q.to_bits();
    let sign = b >> 127;
    let exp = (b >> 112) & 0x7fff;
    let frac = b & ((1 << 112) - 1);
    let j = if exp != 0 { 1u128 << 63 } else { 0 };
    sign << 79 | exp << 64 | j | frac >> 49
}

/// A zero, denormal, normal or infinity in the wide format (exactly).
pub fn to_wide(v: u128) -> Wide {
    to_quad(v).convert(&mut false).value
}

/// A wide value that fits the 80-bit format exactly.
pub fn from_wide(w: Wide) -> u128 {
    from_quad(w.convert(&mut false).value)
}

/// A finite value re-encoded as the FPU writes it (pseudo-denormals become
/// normals); other values unchanged.
pub fn canonical(v: u128) -> u128 {
    match class(v) {
        Class::Denormal => from_wide(to_wide(v)),
        _ => v,
    }
}

/// An exact integer times a power of two (`m` below 2^113).
pub fn scaled(m: u128, exp: i32, negative: bool) -> Wide {
    let q = Wide::from_u128(m).value.scalbn(exp);
    if negative { -q } else { q }
}

// ---- memory formats ----

/// Layout of an IEEE binary format: total bits and fraction bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ieee {
    Single,
    Double,
}

impl Ieee {
    fn layout(self) -> (u32, u32) {
        match self {
            Ieee::Single => (32, 23),
            Ieee::Double => (64, 52),
        }
    }
}

/// A single or double as an 80-bit value (exactly; NaNs keep their payload
/// and quiet bit), and whether it was a denormal.
pub fn from_ieee(bits: u64, fmt: Ieee) -> (u128, bool) {
    let (width, mant) = fmt.layout();
    let negative = bits >> (width - 1) & 1 == 1;
    let emask = (1u64 << (width - 1 - mant)) - 1;
    let e = (bits >> mant) & emask;
    let f = bits & ((1u64 << mant) - 1);
    if e == emask {
        let v = 0x7fff_u128 << 64 | (J | f << (63 - mant)) as u128;
        return (with_sign(v, negative), false);
    }
    let q: Quad = match fmt {
        Ieee::Single => IeeeFloat::<SingleS>::from_bits(bits as u128).convert(&mut false).value,
        Ieee::Double => IeeeFloat::<DoubleS>::from_bits(bits as u128).convert(&mut false).value,
    };
    (from_quad(q), e == 0 && f != 0)
}

/// A rounded result: the value, the exception flags it raised (PE UE OE),
/// and whether it was rounded up in magnitude (C1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounded<T> {
    pub value: T,
    pub flags: u16,
    pub up: bool,
}

/// Rounds `x` to the format `S` (in direction `rc`); `W` has `S`'s
/// precision and a wider exponent, for the tininess check.
fn round<I: Semantics, S: Semantics, W: Semantics>(x: IeeeFloat<I>, rc: Round) -> Rounded<IeeeFloat<S>> {
    let mut lost = false;
    let r: StatusAnd<IeeeFloat<S>> = x.convert_r(rc, &mut lost);
    let inexact = r.status.contains(Status::INEXACT);
    // Overflow and tininess from the result rounded with an unbounded
    // exponent (apfloat reports no overflow when it rounds to the largest
    // finite value).
    let wide: IeeeFloat<W> = x.convert_r(rc, &mut lost).value;
    let mut flags = 0;
    if inexact {
        flags |= PE;
        if wide.is_finite_non_zero() && wide.ilogb() < S::MIN_EXP {
            flags |= UE;
        }
    }
    if wide.is_finite_non_zero() && wide.ilogb() > S::MAX_EXP {
        flags |= OE | PE;
    }
    let back: IeeeFloat<I> = r.value.convert(&mut lost).value;
    let up = inexact && back.abs().partial_cmp(&x.abs()) == Some(Ordering::Greater);
    Rounded { value: r.value, flags, up }
}

/// An x87 precision (FCW.PC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prec {
    P24,
    P53,
    P64,
}

fn to_ext<I: Semantics, S: Semantics, W: Semantics>(x: IeeeFloat<I>, rc: Round) -> Rounded<u128> {
    let r = round::<I, S, W>(x, rc);
    let q: Quad = r.value.convert(&mut false).value;
    Rounded { value: from_quad(q), flags: r.flags, up: r.up }
}

/// Rounds a wide value (exact, or round-to-odd) to an 80-bit value of
/// precision `prec`.
pub fn round_ext(x: Wide, prec: Prec, rc: Round) -> Rounded<u128> {
    match prec {
        Prec::P24 => to_ext::<_, Ext<24, 15>, Ext<24, 20>>(x, rc),
        Prec::P53 => to_ext::<_, Ext<53, 15>, Ext<53, 20>>(x, rc),
        Prec::P64 => to_ext::<_, Ext<64, 15>, Ext<64, 20>>(x, rc),
    }
}

/// An 80-bit value (zero, denormal, normal, infinity) rounded to single or double bits.
pub fn to_ieee(v: u128, fmt: Ieee, rc: Round) -> Rounded<u64> {
    let q = to_quad(v);
    match fmt {
        Ieee::Single => {
            let r = round::<_, SingleS, Ext<24, 17>>(q, rc);
            Rounded { value: r.value.to_bits() as u64, flags: r.flags, up: r.up }
        }
        Ieee::Double => {
            let r = round::<_, DoubleS, Ext<53, 17>>(q, rc);
            Rounded { value: r.value.to_bits() as u64, flags: r.flags, up: r.up }
        }
    }
}

/// A NaN as a single or double: the payload's top bits, quieted.
pub fn nan_to_ieee(v: u128, fmt: Ieee) -> u64 {
    let (width, mant) = fmt.layout();
    let sign = (v >> 79) as u64 & 1;
    let emask = (1u64 << (width - 1 - mant)) - 1;
    let frac = ((v as u64) & !J) >> (63 - mant);
    sign << (width - 1) | emask << mant | frac | 1 << (mant - 1)
}

/// A result computed toward zero, made round-to-odd.
fn odd(r: StatusAnd<Wide>) -> Wide {
    if r.status.contains(Status::INEXACT) && r.value.is_finite() {
        Wide::from_bits(r.value.to_bits() | 1)
    } else {
        r.value
    }
}

/// The basic operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// `a op b` for valid operands (no NaN, no invalid or zero-divide case),
/// rounded to `prec` in direction `rc`.
pub fn arith(a: u128, b: u128, op: Op, prec: Prec, rc: Round) -> Rounded<u128> {
    let (qa, qb) = (to_wide(a), to_wide(b));
    let z = Round::TowardZero;
    let r = match op {
        Op::Add => qa.add_r(qb, z),
        Op::Sub => qa.sub_r(qb, z),
        Op::Mul => qa.mul_r(qb, z),
        Op::Div => qa.div_r(qb, z),
    };
    let r = match op {
        // An exact zero sum takes its sign from the rounding direction.
        Op::Add if r.value.is_zero() && r.status == Status::OK => qa.add_r(qb, rc),
        Op::Sub if r.value.is_zero() && r.status == Status::OK => qa.sub_r(qb, rc),
        _ => r,
    };
    round_ext(odd(r), prec, rc)
}

/// The square root of a positive finite nonzero value.
pub fn sqrt(a: u128, prec: Prec, rc: Round) -> Rounded<u128> {
    let (m, e) = unpack(a);
    // sqrt(m * 2^e) with an even exponent: the radicand is m or 2m.
    let (rad, e) = if e & 1 != 0 { ((m as u128) << 1, e - 1) } else { (m as u128, e) };
    // Digit by digit: 33 pairs of radicand bits, then 37 pairs of zeros.
    let (mut root, mut rem) = (0u128, 0u128);
    for i in (0..70).rev() {
        let pair = if i >= 37 { (rad >> (2 * (i - 37))) & 3 } else { 0 };
        rem = rem << 2 | pair;
        let trial = root << 2 | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    round_ext(scaled(root | (rem != 0) as u128, e / 2 - 37, false), prec, rc)
}

/// Rounds to an integral value in direction `rc` (exact in 80 bits).
pub fn round_integral(v: u128, rc: Round) -> Rounded<u128> {
    let q = to_quad(v);
    let r = q.round_to_integral(rc);
    let inexact = r.status.contains(Status::INEXACT);
    let up = inexact && r.value.abs().partial_cmp(&q.abs()) == Some(Ordering::Greater);
    Rounded { value: from_quad(r.value), flags: if inexact { PE } else { 0 }, up }
}

/// Converts to a signed integer of `bits` bits in direction `rc`: `None`
/// (invalid) when out of range or not a number.
pub fn to_int(v: u128, bits: u32, rc: Round) -> Option<Rounded<i64>> {
    match class(v) {
        Class::Zero | Class::Denormal | Class::Normal => {}
        _ => return None,
    }
    let r = round_integral(v, rc);
    let q = to_quad(r.value);
    let limit = Quad::from_u128(1).value.scalbn(bits as i32 - 1);
    if q >= limit || q < -limit {
        return None;
    }
    let mag = if q.is_zero() { 0 } else { q.abs().to_u128(64).value as i64 };
    let value = if q.is_negative() { mag.wrapping_neg() } else { mag };
    Some(Rounded { value, flags: r.flags, up: r.up })
}

/// A signed integer as an 80-bit value (exact).
pub fn from_int(i: i64) -> u128 {
    if i == 0 {
        return 0;
    }
    from_wide(scaled(i.unsigned_abs() as u128, 0, i < 0))
}

/// The invalid flag for an operand that is not a number or not supported.
pub fn invalid_operand(v: u128) -> u16 {
    match class(v) {
        Class::SNan | Class::Unsupported => IE,
        _ => 0,
    }
}

/// The quiet NaN two operands produce when at least one is a NaN: the
/// quiet one if the other signals, else the larger significand (the
/// positive one if equal), quieted.
pub fn propagate(a: u128, b: u128) -> u128 {
    match (is_nan(a), is_nan(b)) {
        (true, true) => {
            let (qa, qb) = (class(a) == Class::QNan, class(b) == Class::QNan);
            let (sa, sb) = (a as u64, b as u64);
            let pick_b = if qa != qb { qb } else { sb > sa || (sb == sa && !sign(b)) };
            quiet(if pick_b { b } else { a })
        }
        (true, false) => quiet(a),
        _ => quiet(b),
    }
}

/// Packed BCD (18 digits and a sign byte) as an 80-bit value.
pub fn from_bcd(bytes: &[u8; 10]) -> u128 {
    let digits = bytes[..9]
        .iter()
        .rev()
        .fold(0u64, |acc, b| acc.wrapping_mul(100).wrapping_add((b >> 4) as u64 * 10 + (b & 15) as u64));
    let v = from_int(digits as i64);
    with_sign(v, bytes[9] & 0x80 != 0)
}

/// An integral magnitude below 10^18 as packed BCD with a sign.
pub fn to_bcd(mut mag: u64, negative: bool) -> [u8; 10] {
    let mut out = [0u8; 10];
    for b in out.iter_mut().take(9) {
        let lo = (mag % 10) as u8;
        mag /= 10;
        let hi = (mag % 10) as u8;
        mag /= 10;
        *b = hi << 4 | lo;
    }
    out[9] = if negative { 0x80 } else { 0 };
    out
}

/// The packed BCD indefinite.
pub const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quad_round_trips() {
        for v in [
            0x3fff_8000_0000_0000_0000u128,
            0x0000_0000_0000_0000_0001,
            0x7ffe_ffff_ffff_ffff_ffff,
            0xc000_c000_0000_0000_0001,
        ] {
            assert_eq!(from_quad(to_quad(v)), v);
        }
    }

    #[test]
    fn sqrt_of_two() {
        let two = 0x4000_8000_0000_0000_0000u128;
        let r = sqrt(two, Prec::P64, Round::NearestTiesToEven);
        assert_eq!(r.value, 0x3fff_b504_f333_f9de_6484);
        assert_eq!(r.flags, PE);
        let four = 0x4001_8000_0000_0000_0000u128;
        assert_eq!(sqrt(four, Prec::P64, Round::NearestTiesToEven).value, two);
    }

    #[test]
    fn precision_control() {
        let one = 0x3fff_8000_0000_0000_0000u128;
        let three = 0x4000_c000_0000_0000_0000u128;
        let r = arith(one, three, Op::Div, Prec::P24, Round::NearestTiesToEven);
        assert_eq!(r.value, 0x3ffd_aaaa_ab00_0000_0000);
        assert!(r.up);
    }
}
