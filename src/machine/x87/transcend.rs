//! Transcendental functions for the x87 (FSIN FCOS FSINCOS FPTAN FPATAN
//! F2XM1 FYL2X FYL2XP1), computed in IEEE quad (113 bits) with
//! `rustc_apfloat` and rounded once to the 64-bit result. They are accurate
//! to well under an ulp of the 80-bit result but not bit-exact with any
//! processor: hardware reduces arguments with its own approximation of pi
//! and does not always round correctly.

use rustc_apfloat::ieee::Quad;
use rustc_apfloat::{Float, Round};

const NEAREST: Round = Round::NearestTiesToEven;

const PIO2_1: u128 = 0x3fff921fb54442d18469898cc51701b8;
const PI: u128 = 0x4000921fb54442d18469898cc51701b8;
const LN2: u128 = 0x3ffe62e42fefa39ef35793c7673007e6;
const LOG2E: u128 = 0x3fff71547652b82fe1777d0ffda0d23a;
/// atan(k/8) for k = 0..8.
const ATAN: [u128; 9] = [
    0,
    0x3ffbfd5ba9aac2f6dc65912f313e7d11,
    0x3ffcf5b75f92c80dd62adb8f3debef44,
    0x3ffd6f61941e4def08e715464245b9fd,
    0x3ffddac670561bb4f68adfc88bd97875,
    0x3ffe1e00babdefeb3f36b906bc2ccb88,
    0x3ffe4978fa3269ee12483350fe548afb,
    0x3ffe700a7c5784633ce7965b4aa42149,
    0x3ffe921fb54442d18469898cc51701b8,
];

fn q(bits: u128) -> Quad {
    Quad::from_bits(bits)
}

fn int(n: i64) -> Quad {
    let m = Quad::from_u128(n.unsigned_abs() as u128).value;
    if n < 0 { -m } else { m }
}

fn add(a: Quad, b: Quad) -> Quad {
    a.add_r(b, NEAREST).value
}

fn sub(a: Quad, b: Quad) -> Quad {
    a.sub_r(b, NEAREST).value
}

fn mul(a: Quad, b: Quad) -> Quad {
    a.mul_r(b, NEAREST).value
}

fn div(a: Quad, b: Quad) -> Quad {
    a.div_r(b, NEAREST).value
}

/// Sums a power series `sum c_n x^n` term by term until the terms vanish:
/// `term(n, previous)` gives each term from the last.
fn series(first: Quad, mut term: impl FnMut(u32, Quad) -> Quad) -> Quad {
    let (mut sum, mut t) = (first, first);
    for n in 1..200 {
        t = term(n, t);
        let next = add(sum, t);
        if next == sum {
            break;
        }
        sum = next;
    }
    sum
}

/// sin and cos of `r`, |r| <= pi/4.
fn sin_cos_reduced(r: Quad) -> (Quad, Quad) {
    let r2 = mul(r, r);
    let s = series(r, |n, t| -div(mul(t, r2), int((2 * n as i64) * (2 * n as i64 + 1))));
    let c = series(int(1), |n, t| -div(mul(t, r2), int((2 * n as i64 - 1) * (2 * n as i64))));
    (s, c)
}

/// pi rounded to 66 bits, as x87 hardware reduces arguments with: the
/// integer `PI66 * 2^-66` is pi, split in two 34-bit halves.
const PI66: u128 = 0xc_90fd_aa22_168c_234c;
const PI66_LOW_BITS: u32 = 34;

/// sin(x) and cos(x) for finite |x| < 2^63, with the argument reduced by
/// the 66-bit pi of the hardware (so large arguments give the hardware's
/// results, not the exact ones).
pub fn sin_cos(x: Quad) -> (Quad, Quad) {
    let high = Quad::from_u128(PI66 >> PI66_LOW_BITS << PI66_LOW_BITS).value.scalbn(-67);
    let low = Quad::from_u128(PI66 & ((1 << PI66_LOW_BITS) - 1)).value.scalbn(-67);
    let k = div(x, q(PIO2_1)).round_to_integral(NEAREST).value;
    let r = (-k).mul_add_r(high, x, NEAREST).value;
    let r = (-k).mul_add_r(low, r, NEAREST).value;
    let quadrant = if k.is_zero() {
        0
    } else {
        let m = k.abs().to_u128(128).value & 3;
        if k.is_negative() { (4 - m) & 3 } else { m }
    };
    let (s, c) = sin_cos_reduced(r);
    let (s, c) = match quadrant {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    };
    // sin(-0) keeps its sign.
    if x.is_zero() { (x, c) } else { (s, c) }
}

/// atan(t) for 0 <= t <= 1.
fn atan_unit(t: Quad) -> Quad {
    let k = mul(t, int(8)).round_to_integral(NEAREST).value;
    let ki = if k.is_zero() { 0 } else { k.to_u128(8).value as usize };
    let c = div(k, int(8));
    // atan(t) = atan(c) + atan((t - c) / (1 + t c)).
    let u = div(sub(t, c), add(int(1), mul(t, c)));
    let u2 = mul(u, u);
    let mut power = u;
    let at = series(u, |n, _| {
        power = -mul(power, u2);
        div(power, int(2 * n as i64 + 1))
    });
    add(q(ATAN[ki.min(8)]), at)
}

/// atan2(y, x) with C99's special cases (FPATAN: ST1 = y, ST0 = x).
pub fn atan2(y: Quad, x: Quad) -> Quad {
    let pi = q(PI);
    let half = div(pi, int(2));
    let r = if y.is_zero() {
        if x.is_negative() { pi } else { Quad::ZERO }
    } else if x.is_zero() {
        half
    } else if y.is_infinite() && x.is_infinite() {
        let quarter = div(pi, int(4));
        if x.is_negative() { mul(quarter, int(3)) } else { quarter }
    } else if y.is_infinite() {
        half
    } else if x.is_infinite() {
        if x.is_negative() { pi } else { Quad::ZERO }
    } else {
        let (ay, ax) = (y.abs(), x.abs());
        let a = if ay > ax { sub(half, atan_unit(div(ax, ay))) } else { atan_unit(div(ay, ax)) };
        if x.is_negative() { sub(pi, a) } else { a }
    };
    if y.is_negative() { -r } else { r }
}

/// expm1(y) for |y| <= 1.
fn expm1(y: Quad) -> Quad {
    // expm1(y) = e(e + 2) with e = expm1(y / 2): halve six times.
    let small = y.scalbn(-6);
    let mut e = series(small, |n, t| div(mul(t, small), int(n as i64 + 1)));
    for _ in 0..6 {
        e = mul(e, add(e, int(2)));
    }
    e
}

/// 2^x - 1 for |x| <= 1 (F2XM1); exact for zeros.
pub fn exp2m1(x: Quad) -> Quad {
    if x.is_zero() {
        return x;
    }
    expm1(mul(x, q(LN2)))
}

/// ln(1 + u) for small |u| (below 1/2), via 2 atanh(u / (2 + u)).
fn ln1p(u: Quad) -> Quad {
    let s = div(u, add(int(2), u));
    let s2 = mul(s, s);
    let mut power = s;
    let a = series(s, |n, _| {
        power = mul(power, s2);
        div(power, int(2 * n as i64 + 1))
    });
    mul(a, int(2))
}

/// log2(x) for finite x > 0.
pub fn log2(x: Quad) -> Quad {
    let mut e = x.ilogb();
    let mut m = x.scalbn(-e);
    // m in [sqrt(1/2), sqrt(2)).
    if m > div(int(17), int(12)) {
        m = m.scalbn(-1);
        e += 1;
    }
    let l = mul(ln1p(sub(m, int(1))), q(LOG2E));
    add(int(e as i64), l)
}

/// log2(1 + x) for x > -1 (FYL2XP1); keeps the sign of a zero. Small
/// arguments (the manual's range) take the series of ln(1 + x) directly;
/// larger ones, where it converges too slowly, log2 of 1 + x, which quad
/// precision holds exactly for any 80-bit x below 2^49 and to 2^-113
/// beyond.
pub fn log2_1p(x: Quad) -> Quad {
    if x.is_zero() {
        return x;
    }
    if x.abs() < div(int(1), int(4)) {
        return mul(ln1p(x), q(LOG2E));
    }
    log2(add(int(1), x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> Quad {
        use rustc_apfloat::FloatConvert;
        rustc_apfloat::ieee::Double::from_bits(x.to_bits() as u128).convert(&mut false).value
    }

    fn d(x: Quad) -> f64 {
        use rustc_apfloat::FloatConvert;
        let v: rustc_apfloat::ieee::Double = x.convert(&mut false).value;
        f64::from_bits(v.to_bits() as u64)
    }

    #[test]
    fn agrees_with_f64() {
        // (Large arguments differ by the error of the 66-bit pi, about x * 2^-67.)
        for x in [0.5, 1.0, -2.5, 3.0, 100.0, 1e6, -7.25] {
            let (s, c) = sin_cos(f(x));
            let tolerance = 1e-15 + x.abs() * 1e-20;
            assert!((d(s) - x.sin()).abs() < tolerance, "sin {x}");
            assert!((d(c) - x.cos()).abs() < tolerance, "cos {x}");
        }
        for (y, x) in [(1.0, 2.0), (-3.0, 0.5), (2.0, -1.0), (0.1, 0.3)] {
            assert!((d(atan2(f(y), f(x))) - f64::atan2(y, x)).abs() < 1e-15);
        }
        for x in [0.5, -0.75, 1.0, -1.0, 1e-5] {
            assert!((d(exp2m1(f(x))) - (x.exp2() - 1.0)).abs() < 1e-15);
        }
        for x in [0.3, 2.0, 10.0, 1e-300, 1.5] {
            assert!((d(log2(f(x))) - x.log2()).abs() < 1e-13);
        }
        for x in [0.25, 0.1, 33.0, 1e10, 1e18, -0.5] {
            assert!((d(log2_1p(f(x))) - (1.0 + x).log2()).abs() < 1e-14 * (1.0 + x).log2().abs(), "log2_1p {x}");
        }
    }
}
