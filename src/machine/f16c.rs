//! F16C's conversions as one pure runtime helper: four binary16 values to
//! binary32 (VCVTPH2PS, exact) and four binary32 values to binary16
//! (VCVTPS2PH, rounded in a given direction), computed in software
//! (`rustc_apfloat`), so every host gives the same bits. A NaN keeps its
//! sign and the top of its payload and is made quiet, as processors do;
//! denormals are converted exactly (DAZ and FTZ are not modelled).

use rustc_apfloat::ieee::{Half, Single};
use rustc_apfloat::{Float, FloatConvert, Round as ApRound};

use crate::abi::HelperCtx;
use crate::visa::{Round, TrapCode};

/// The helper's first argument: which way to convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum F16cOp {
    /// The four binary16 values in bits 0-63 to four binary32 values.
    ToSingle,
    /// Four binary32 values to four binary16 values in bits 0-63, zero above.
    ToHalf,
}

/// The runtime helper: `(op, value, rounding) -> result`, the rounding
/// direction a `visa::Round` code (read by `ToHalf` only).
pub fn helper(_: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    // A hand-written block may pass anything: an unknown operation is #UD.
    let round = Round::from_code(args[2] as u8).ok_or(TrapCode::User(6))?;
    results[0] = match args[0] {
        0 => lanes(4, 32, |i| to_single((args[1] >> (16 * i)) as u16) as u128),
        1 => lanes(4, 16, |i| to_half((args[1] >> (32 * i)) as u32, round) as u128),
        _ => return Err(TrapCode::User(6)),
    };
    Ok(())
}

/// `count` lanes of `bits`, lane `i` from `f(i)`.
fn lanes(count: u32, bits: u32, f: impl Fn(u32) -> u128) -> u128 {
    (0..count).fold(0, |acc, i| acc | f(i) << (bits * i))
}

/// A binary16 value as binary32 (always exact).
pub fn to_single(h: u16) -> u32 {
    if h & 0x7c00 == 0x7c00 && h & 0x3ff != 0 {
        let sign = (h as u32 >> 15) << 31;
        return sign | 0x7fc0_0000 | (h as u32 & 0x3ff) << 13;
    }
    let mut loses = false;
    let single: Single = Half::from_bits(h as u128).convert(&mut loses).value;
    single.to_bits() as u32
}

/// A binary32 value as binary16, rounded in direction `round`.
pub fn to_half(s: u32, round: Round) -> u16 {
    if s & 0x7f80_0000 == 0x7f80_0000 && s & 0x7f_ffff != 0 {
        let sign = (s >> 31) << 15;
        return (sign | 0x7e00 | (s >> 13) & 0x3ff) as u16;
    }
    let mode = match round {
        Round::Nearest => ApRound::NearestTiesToEven,
        Round::Zero => ApRound::TowardZero,
        Round::Down => ApRound::TowardNegative,
        Round::Up => ApRound::TowardPositive,
    };
    let mut loses = false;
    let half: Half = FloatConvert::convert_r(Single::from_bits(s as u128), mode, &mut loses).value;
    half.to_bits() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_edges() {
        for h in [0u16, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00] {
            assert_eq!(to_half(to_single(h), Round::Nearest), h, "{h:#x}");
        }
        assert_eq!(to_single(0x7c01), 0x7fc0_2000, "a signalling NaN is made quiet");
        assert_eq!(to_half(0xff80_2001, Round::Nearest), 0xfe01, "payload's top bits, quiet");
        assert_eq!(to_half(0x4780_0000, Round::Zero), 0x7bff, "65536 toward zero: the largest");
        assert_eq!(to_half(0x4780_0000, Round::Nearest), 0x7c00, "65536 to nearest: infinity");
        assert_eq!(to_half(0x3380_0000, Round::Up), 0x0001, "2^-24 is the smallest denormal");
    }
}
