//! Float exception flags (`fexc1` `fexc2` `fexc3`): which of invalid,
//! denormal operand, divide by zero, overflow, underflow and inexact an
//! operation raises, from its operands (and its result where that is the
//! cheaper witness), computed exactly on every host: the exact result is
//! rounded by rustc_apfloat in a format of the same precision and a wider
//! exponent range, which is what overflow and tininess (detected after
//! rounding) are defined on. The host's float status is never read.

use rustc_apfloat::ieee::{Double, Half, IeeeFloat, Quad, Semantics, Single};
use rustc_apfloat::{Float, FloatConvert, Round as ApRound, Status};

use super::float::ap_round;
use crate::visa::imm::{ExcOp, Overflow, Round, Underflow};

/// How an operation reports underflow and overflow (its `fexc`'s immediate).
pub type Report = (Underflow, Overflow);

/// Both reported as with their exceptions masked.
pub const MASKED: Report = (Underflow::Masked, Overflow::Masked);

/// The flag bits, in the order of x86's MXCSR and x87 status word.
pub const IE: u32 = 1;
pub const DE: u32 = 2;
pub const ZE: u32 = 4;
pub const OE: u32 = 8;
pub const UE: u32 = 16;
pub const PE: u32 = 32;

/// binary32's precision with an exponent range beyond binary64's (its
/// denormals included).
pub struct WideSingleS;
impl Semantics for WideSingleS {
    const BITS: usize = 36;
    const EXP_BITS: usize = 12;
}

/// binary64's precision with a 15-bit exponent.
pub struct WideDoubleS;
impl Semantics for WideDoubleS {
    const BITS: usize = 68;
    const EXP_BITS: usize = 15;
}

/// binary16's precision with an exponent range beyond binary32's (its
/// denormals included).
pub struct WideHalfS;
impl Semantics for WideHalfS {
    const BITS: usize = 20;
    const EXP_BITS: usize = 9;
}

/// A format and its unbounded-exponent twin.
trait Format {
    type N: Float + FloatConvert<Self::W> + FloatConvert<Quad>;
    type W: Float + FloatConvert<Self::N>;
    const BITS: u32;
}

struct F16;
struct F32;
struct F64;

impl Format for F16 {
    type N = Half;
    type W = IeeeFloat<WideHalfS>;
    const BITS: u32 = 16;
}

impl Format for F32 {
    type N = Single;
    type W = IeeeFloat<WideSingleS>;
    const BITS: u32 = 32;
}

impl Format for F64 {
    type N = Double;
    type W = IeeeFloat<WideDoubleS>;
    const BITS: u32 = 64;
}

/// What an operand is, from its bits.
#[derive(Clone, Copy)]
struct Class {
    nan: bool,
    snan: bool,
    inf: bool,
    zero: bool,
    denormal: bool,
    neg: bool,
}

fn class(bits: u128, width: u32) -> Class {
    let mant_bits = if width == 32 { 23 } else { 52 };
    let exp_max = (1u128 << (width - 1 - mant_bits)) - 1;
    let exp = bits >> mant_bits & exp_max;
    let mant = bits & ((1 << mant_bits) - 1);
    let nan = exp == exp_max && mant != 0;
    Class {
        nan,
        snan: nan && mant >> (mant_bits - 1) == 0,
        inf: exp == exp_max && mant == 0,
        zero: exp == 0 && mant == 0,
        denormal: exp == 0 && mant != 0,
        neg: bits >> (width - 1) & 1 == 1,
    }
}

fn widen<T: Format>(bits: u128) -> T::W {
    let mut loses = false;
    T::N::from_bits(bits).convert(&mut loses).value
}

/// The flags of a result `exact` (already rounded at the format's precision
/// with an unbounded exponent, `inexact` when that lost bits) gets when
/// delivered in the format `T` in direction `round`. An unmasked overflow
/// (`huge`) or underflow (`tiny`) is raised with inexact only when that
/// rounding lost bits, as the processor reports an exception it traps on.
fn deliver<T: Format>(w: rustc_apfloat::StatusAnd<T::W>, round: Round, (under, over): Report) -> u32 {
    let (value, unbounded_inexact) = (w.value, w.status.contains(Status::INEXACT));
    if value.is_zero() {
        return 0;
    }
    let mut loses = false;
    let max: T::W = T::N::largest().convert(&mut loses).value;
    if value.abs() > max {
        return match over {
            Overflow::Masked => OE | PE,
            Overflow::Huge => OE | if unbounded_inexact { PE } else { 0 },
        };
    }
    let min_normal: T::W = T::N::smallest_normalized().convert(&mut loses).value;
    let tiny = value.abs() < min_normal;
    let narrow: rustc_apfloat::StatusAnd<T::N> = value.convert_r(ap_round(round), &mut loses);
    let delivered_inexact = unbounded_inexact || narrow.status.contains(Status::INEXACT);
    let (underflow, inexact) = match under {
        Underflow::Masked => (tiny && delivered_inexact, delivered_inexact),
        Underflow::Tiny if tiny => (true, unbounded_inexact),
        Underflow::Tiny => (false, delivered_inexact),
        Underflow::Ftz => (tiny, delivered_inexact || tiny),
    };
    (if underflow { UE } else { 0 }) | (if inexact { PE } else { 0 })
}

/// Flags of the arithmetic operations (add, sub, mul, div, the fused ones)
/// on one lane.
fn arith<T: Format>(op: ExcOp, round: Round, report: Report, args: &[u128]) -> u32 {
    use ExcOp::*;
    let c: Vec<Class> = args.iter().map(|a| class(*a, T::BITS)).collect();
    if c.iter().any(|c| c.snan) {
        return IE;
    }
    if c.iter().any(|c| c.nan) {
        return 0;
    }
    let (a, b) = (c[0], c[1]);
    let product_sign = a.neg != b.neg;
    let invalid = match op {
        Add => a.inf && b.inf && a.neg != b.neg,
        Sub => a.inf && b.inf && a.neg == b.neg,
        Mul => (a.zero && b.inf) || (a.inf && b.zero),
        Div => (a.zero && b.zero) || (a.inf && b.inf),
        _ => {
            let (neg_product, neg_addend) = fused_signs(op);
            let zero_times_inf = (a.zero && b.inf) || (a.inf && b.zero);
            let product_inf = a.inf || b.inf;
            let cc = c[2];
            zero_times_inf || (product_inf && cc.inf && (product_sign != neg_product) != (cc.neg != neg_addend))
        }
    };
    if invalid {
        return IE;
    }
    if op == Div && b.zero && !a.inf && !a.zero {
        return ZE;
    }
    let denormal = if c.iter().any(|c| c.denormal) { DE } else { 0 };
    if c.iter().any(|c| c.inf) || (matches!(op, Mul | Div) && (a.zero || (op == Mul && b.zero))) {
        return denormal;
    }
    let w = |i: usize| widen::<T>(args[i]);
    let mode = ap_round(round);
    let r = match op {
        Add => w(0).add_r(w(1), mode),
        Sub => w(0).sub_r(w(1), mode),
        Mul => w(0).mul_r(w(1), mode),
        Div => w(0).div_r(w(1), mode),
        _ => {
            let (neg_product, neg_addend) = fused_signs(op);
            let x = if neg_product { -w(0) } else { w(0) };
            let z = if neg_addend { -w(2) } else { w(2) };
            x.mul_add_r(w(1), z, mode)
        }
    };
    denormal | deliver::<T>(r, round, report)
}

fn fused_signs(op: ExcOp) -> (bool, bool) {
    match op {
        ExcOp::Fma => (false, false),
        ExcOp::Fms => (false, true),
        ExcOp::Fnma => (true, false),
        _ => (true, true),
    }
}

/// Square root: invalid below zero, inexact unless `r * r` is `a` (exact
/// in `Quad`, whose precision holds the square of either format's).
fn sqrt<T: Format>(a: u128, r: u128) -> u32 {
    let c = class(a, T::BITS);
    if c.snan || (c.neg && !c.zero && !c.nan) {
        return IE;
    }
    if c.nan || c.zero || c.inf {
        return 0;
    }
    let denormal = if c.denormal { DE } else { 0 };
    let q = |bits: u128| -> Quad { T::N::from_bits(bits).convert(&mut false).value };
    let square = q(r).mul_r(q(r), ApRound::NearestTiesToEven).value;
    denormal | if square == q(a) { 0 } else { PE }
}

/// Comparisons and MIN/MAX: invalid on a signalling NaN (on any NaN when
/// `signal`), else denormal.
fn compare<T: Format>(signal: bool, args: &[u128]) -> u32 {
    let c: Vec<Class> = args.iter().map(|a| class(*a, T::BITS)).collect();
    if c.iter().any(|c| c.snan || (signal && c.nan)) {
        return IE;
    }
    if c.iter().any(|c| c.nan) {
        return 0;
    }
    if c.iter().any(|c| c.denormal) { DE } else { 0 }
}

/// Float to integer of `bits` bits, rounded in `round`: invalid for NaN and
/// out of range, else inexact when not integral. No denormal flag.
fn to_int<T: Format>(a: u128, round: Round, bits: u32) -> u32 {
    let x = T::N::from_bits(a);
    if x.is_nan() {
        return IE;
    }
    let mut exact = false;
    let r = x.to_i128_r(bits as usize, ap_round(round), &mut exact);
    if r.status.contains(Status::INVALID_OP) {
        return IE;
    }
    if r.status.contains(Status::INEXACT) { PE } else { 0 }
}

/// Integer (signed, of `bits` bits) to float: inexact when not representable.
fn from_int(a: u128, bits: u32, to: u32) -> u32 {
    let v = super::sext(a, bits);
    let status = if to == 32 {
        Single::from_i128_r(v, ApRound::NearestTiesToEven).status
    } else {
        Double::from_i128_r(v, ApRound::NearestTiesToEven).status
    };
    if status.contains(Status::INEXACT) { PE } else { 0 }
}

/// Float to float: invalid for a signalling NaN, denormal for a denormal
/// source, and narrowing may overflow, underflow or be inexact.
fn convert(a: u128, from: u32, round: Round, report: Report) -> u32 {
    let c = class(a, from);
    if c.snan {
        return IE;
    }
    if c.nan || c.inf || c.zero {
        return 0;
    }
    let denormal = if c.denormal { DE } else { 0 };
    if from == 32 {
        return denormal;
    }
    // binary64 values are exact in binary32's unbounded-exponent twin's
    // exponent range; rounding them there is rounding at its precision.
    let mut loses = false;
    let w: rustc_apfloat::StatusAnd<<F32 as Format>::W> = Double::from_bits(a).convert_r(ap_round(round), &mut loses);
    denormal | deliver::<F32>(w, round, report)
}

/// The flags of F16C's VCVTPS2PH narrowing binary32 `s` to binary16 in
/// direction `round`: as a float narrowing (`convert`), DAZ having been
/// applied to `s` already; FTZ does not apply (underflow is reported
/// `Masked` or `Tiny`).
pub fn to_half_flags(s: u32, round: Round, report: Report) -> u32 {
    let c = class(s as u128, 32);
    if c.snan {
        return IE;
    }
    if c.nan || c.inf || c.zero {
        return 0;
    }
    let denormal = if c.denormal { DE } else { 0 };
    // binary32 values, denormals included, are exact in binary16's
    // unbounded-exponent twin's exponent range.
    let mut loses = false;
    let w: rustc_apfloat::StatusAnd<<F16 as Format>::W> =
        Single::from_bits(s as u128).convert_r(ap_round(round), &mut loses);
    denormal | deliver::<F16>(w, round, report)
}

/// Round to an integral value: invalid for a signalling NaN, inexact (unless
/// `quiet`) when not integral.
fn round_int<T: Format>(a: u128, round: Round, quiet: bool) -> u32 {
    let c = class(a, T::BITS);
    if c.snan {
        return IE;
    }
    if quiet || c.nan || c.inf {
        return 0;
    }
    let r = T::N::from_bits(a).round_to_integral(ap_round(round));
    if r.status.contains(Status::INEXACT) { PE } else { 0 }
}

/// The flags of one lane (or scalar) of operation `op`: `args` are its
/// operands then its result, `width` the operands' width and `result` the
/// result's.
fn lane_flags(op: ExcOp, round: Round, report: Report, width: u32, result: u32, args: &[u128]) -> u32 {
    use ExcOp::*;
    let n = op.arity();
    let (ops, r) = (&args[..n], args[n]);
    let f64_ = width == 64;
    match op {
        Sqrt if f64_ => sqrt::<F64>(ops[0], r),
        Sqrt => sqrt::<F32>(ops[0], r),
        MinMax | CmpSignal if f64_ => compare::<F64>(true, ops),
        MinMax | CmpSignal => compare::<F32>(true, ops),
        CmpQuiet if f64_ => compare::<F64>(false, ops),
        CmpQuiet => compare::<F32>(false, ops),
        ToInt if f64_ => to_int::<F64>(ops[0], round, result),
        ToInt => to_int::<F32>(ops[0], round, result),
        FromInt => from_int(ops[0], width, result),
        Convert => convert(ops[0], width, round, report),
        RoundInt | RoundQuiet if f64_ => round_int::<F64>(ops[0], round, op == RoundQuiet),
        RoundInt | RoundQuiet => round_int::<F32>(ops[0], round, op == RoundQuiet),
        _ if f64_ => arith::<F64>(op, round, report, ops),
        _ => arith::<F32>(op, round, report, ops),
    }
}

/// What an operation's flags can be known from without computing them
/// (visa-spec/semantics.md): the tests both tiers make before the exact
/// computation, sound because they only pass where the exact flags are
/// already set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Quick {
    /// Inexact already set, no denormal operand, and the result's exponent
    /// field 2 to max-2: nothing else can be raised (a NaN, infinity, zero,
    /// tiny or overflowed result is outside that range).
    Ordinary,
    /// No NaN and no denormal operand: nothing is raised.
    Plain,
    /// As `Plain`, and inexact already set: nothing else.
    PlainInexact,
    /// Inexact already set, and |a| below 2^(bits-2): nothing else.
    InRange,
    /// Inexact already set: nothing else.
    Inexact,
    /// Always computed.
    Never,
}

impl Quick {
    pub fn of(op: ExcOp, operand: crate::visa::Type, result: crate::visa::Type) -> Quick {
        use ExcOp::*;
        match op {
            MinMax | CmpQuiet | CmpSignal | RoundQuiet => Quick::Plain,
            Convert if operand.bits() < result.bits() => Quick::Plain,
            Convert => Quick::Never,
            RoundInt => Quick::PlainInexact,
            ToInt => Quick::InRange,
            FromInt => Quick::Inexact,
            _ => Quick::Ordinary,
        }
    }

    /// Does the test pass for these lane bits (operands then result)?
    fn passes(self, flags_in: u32, width: u32, result_bits: u32, args: &[u128]) -> bool {
        let mant = if width == 32 { 23 } else { 52 };
        let abs = |x: u128| x & super::mask(width - 1);
        let min_normal = 1u128 << mant;
        let denormal = |x: u128| abs(x).wrapping_sub(1) < min_normal - 1;
        let inf = super::mask(width - 1 - mant) << mant;
        let pe = flags_in & PE != 0;
        let (ops, r) = args.split_at(args.len() - 1);
        match self {
            Quick::Ordinary => {
                let exp = abs(r[0]) >> mant;
                pe && ops.iter().all(|x| !denormal(*x)) && exp.wrapping_sub(2) <= (inf >> mant) - 4
            }
            Quick::Plain => ops.iter().all(|x| !denormal(*x) && abs(*x) <= inf),
            Quick::PlainInexact => pe && ops.iter().all(|x| !denormal(*x) && abs(*x) <= inf),
            Quick::InRange => {
                let limit = if width == 32 {
                    (127 + result_bits as u128 - 2) << 23
                } else {
                    (1023 + result_bits as u128 - 2) << 52
                };
                pe && abs(ops[0]) < limit
            }
            Quick::Inexact => pe,
            Quick::Never => false,
        }
    }
}

/// `Quick::Ordinary`'s test of the operands and result (the last of
/// `values`) past inexact, in 64-bit words: what the interpreter runs for
/// nearly every float operation.
pub fn ordinary_passes(lane_bits: u32, lanes: u32, values: &[u128]) -> bool {
    let (mant, field) = if lane_bits == 32 { (23, 0xff) } else { (52, 0x7ff) };
    let abs = (1u64 << (lane_bits - 1)) - 1;
    let min_normal = 1u64 << mant;
    let (ops, r) = values.split_at(values.len() - 1);
    (0..lanes).all(|i| {
        let lane = |x: u128| (x >> (lane_bits * i)) as u64 & (abs << 1 | 1);
        let e = lane(r[0]) >> mant & field;
        e.wrapping_sub(2) <= field - 4 && ops.iter().all(|x| (lane(*x) & abs).wrapping_sub(1) >= min_normal - 1)
    })
}

/// `fexc1` `fexc2` `fexc3` of controlling type `t`: `args` are the flags in,
/// the operands and the result, `types` their types. Lane shapes OR the
/// flags of every lane.
pub fn eval(
    t: crate::visa::Type,
    op: ExcOp,
    round: Round,
    report: Report,
    args: &[u128],
    types: &[crate::visa::Type],
) -> u128 {
    let result_bits = types[types.len() - 1].bits();
    let (lane_bits, lanes) = match t.lane() {
        Some((lane, n)) => (lane.bits(), n),
        None => (t.bits(), 1),
    };
    let mask = super::mask(lane_bits);
    // Lane `i` of the operands and result, without allocating: this runs
    // for every float operation the interpreter executes.
    let n = args.len() - 1;
    let lane = |i: u32| {
        let mut l = [0u128; 4];
        for (x, v) in l.iter_mut().zip(&args[1..]) {
            *x = v >> (lane_bits * i) & mask;
        }
        l
    };
    let flags_in = args[0] as u32;
    let quick = Quick::of(op, types[1], types[types.len() - 1]);
    if quick == Quick::Ordinary && flags_in & PE != 0 && ordinary_passes(lane_bits, lanes, &args[1..]) {
        return flags_in as u128;
    }
    if (0..lanes).all(|i| quick.passes(flags_in, lane_bits, result_bits, &lane(i)[..n])) {
        return flags_in as u128;
    }
    let flags = (0..lanes).fold(0, |acc, i| acc | lane_flags(op, round, report, lane_bits, result_bits, &lane(i)[..n]));
    (flags_in | flags) as u128
}
