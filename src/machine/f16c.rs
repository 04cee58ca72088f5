//! F16C's conversions as one pure runtime helper: four binary16 values to
//! binary32 (VCVTPH2PS, exact) and four binary32 values to binary16
//! (VCVTPS2PH, rounded in a given direction), computed in software
//! (`rustc_apfloat`), so every host gives the same bits, with the MXCSR
//! exception flags they raise. A NaN keeps its sign and the top of its
//! payload and is made quiet, as processors do (a signalling one raises
//! invalid). VCVTPS2PH reads a denormal as zero under DAZ, else raises
//! denormal, and raises overflow, underflow and inexact as a float
//! narrowing does; FTZ does not apply. VCVTPH2PS is exact: a binary16
//! denormal raises nothing, and DAZ does not apply to it (as processors
//! do).

use rustc_apfloat::ieee::{Half, Single};
use rustc_apfloat::{Float, FloatConvert, Round as ApRound};

use crate::abi::HelperCtx;
use crate::visa::eval::{IE, Report, to_half_flags};
use crate::visa::{Overflow, Round, TrapCode, Underflow};

/// The helper's first argument: which way to convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum F16cOp {
    /// The four binary16 values in bits 0-63 to four binary32 values.
    ToSingle,
    /// Four binary32 values to four binary16 values in bits 0-63, zero above.
    ToHalf,
}

/// `ToHalf`'s control bits beside the rounding direction (bits 0-1, a
/// `visa::Round` code): DAZ, underflow unmasked (a tiny result raises
/// underflow whether or not it is exact) and overflow unmasked (as
/// `visa::Underflow::Tiny` and `visa::Overflow::Huge` report them).
pub const CONTROL_DAZ: u32 = 4;
pub const CONTROL_TINY: u32 = 8;
pub const CONTROL_HUGE: u32 = 16;

/// The runtime helper: `(op, value, control) -> (result, flags)`, the
/// control word read by `ToHalf` only, the flags MXCSR's (bits 0-5) of
/// the four lanes together.
pub fn helper(_: HelperCtx<'_>, args: &[u128], results: &mut [u128]) -> Result<(), TrapCode> {
    // A hand-written block may pass anything: an unknown operation or
    // control bit is #UD.
    let control = args[2];
    if control >= 32 {
        return Err(TrapCode::User(6));
    }
    let round = Round::from_code(control as u8 & 3).ok_or(TrapCode::User(6))?;
    let daz = control as u32 & CONTROL_DAZ != 0;
    let under = if control as u32 & CONTROL_TINY != 0 { Underflow::Tiny } else { Underflow::Masked };
    let over = if control as u32 & CONTROL_HUGE != 0 { Overflow::Huge } else { Overflow::Masked };
    let mut flags = 0;
    results[0] = match args[0] {
        0 => lanes(4, 32, |i| {
            let (r, f) = to_single((args[1] >> (16 * i)) as u16);
            flags |= f;
            r as u128
        }),
        1 => lanes(4, 16, |i| {
            let (r, f) = to_half((args[1] >> (32 * i)) as u32, round, daz, (under, over));
            flags |= f;
            r as u128
        }),
        _ => return Err(TrapCode::User(6)),
    };
    results[1] = flags as u128;
    Ok(())
}

/// `count` lanes of `bits`, lane `i` from `f(i)`.
fn lanes(count: u32, bits: u32, mut f: impl FnMut(u32) -> u128) -> u128 {
    (0..count).fold(0, |acc, i| acc | f(i) << (bits * i))
}

/// A binary16 value as binary32 (always exact), with its flags: invalid
/// for a signalling NaN.
pub fn to_single(h: u16) -> (u32, u32) {
    if h & 0x7c00 == 0x7c00 && h & 0x3ff != 0 {
        let sign = (h as u32 >> 15) << 31;
        let flags = if h & 0x200 == 0 { IE } else { 0 };
        return (sign | 0x7fc0_0000 | (h as u32 & 0x3ff) << 13, flags);
    }
    let mut loses = false;
    let single: Single = Half::from_bits(h as u128).convert(&mut loses).value;
    (single.to_bits() as u32, 0)
}

/// A binary32 value as binary16, rounded in direction `round`, with its
/// flags; a denormal read as zero with `daz`.
pub fn to_half(s: u32, round: Round, daz: bool, report: Report) -> (u16, u32) {
    let s = if daz && s & 0x7f80_0000 == 0 { s & 0x8000_0000 } else { s };
    let flags = to_half_flags(s, round, report);
    if s & 0x7f80_0000 == 0x7f80_0000 && s & 0x7f_ffff != 0 {
        let sign = (s >> 31) << 15;
        return ((sign | 0x7e00 | (s >> 13) & 0x3ff) as u16, flags);
    }
    let mode = match round {
        Round::Nearest => ApRound::NearestTiesToEven,
        Round::Zero => ApRound::TowardZero,
        Round::Down => ApRound::TowardNegative,
        Round::Up => ApRound::TowardPositive,
    };
    let mut loses = false;
    let half: Half = FloatConvert::convert_r(Single::from_bits(s as u128), mode, &mut loses).value;
    (half.to_bits() as u16, flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visa::eval::MASKED;

    fn half(s: u32, round: Round) -> u16 {
        to_half(s, round, false, MASKED).0
    }

    #[test]
    fn round_trips_and_edges() {
        for h in [0u16, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00] {
            assert_eq!(half(to_single(h).0, Round::Nearest), h, "{h:#x}");
        }
        assert_eq!(to_single(0x7c01), (0x7fc0_2000, IE), "a signalling NaN is made quiet");
        assert_eq!(half(0xff80_2001, Round::Nearest), 0xfe01, "payload's top bits, quiet");
        assert_eq!(half(0x4780_0000, Round::Zero), 0x7bff, "65536 toward zero: the largest");
        assert_eq!(half(0x4780_0000, Round::Nearest), 0x7c00, "65536 to nearest: infinity");
        assert_eq!(half(0x3380_0000, Round::Up), 0x0001, "2^-24 is the smallest denormal");
    }

    #[test]
    fn flags() {
        use crate::visa::eval::{DE, OE, PE, UE};
        let masked = |s| to_half(s, Round::Nearest, false, MASKED);
        assert_eq!(to_single(0x0001), (0x3380_0000, 0), "a binary16 denormal raises nothing");
        assert_eq!(masked(0x0000_0001), (0, DE | UE | PE), "a binary32 denormal");
        assert_eq!(to_half(0x8000_0001, Round::Nearest, true, MASKED), (0x8000, 0), "DAZ");
        assert_eq!(masked(0x4780_0000), (0x7c00, OE | PE));
        assert_eq!(masked(0x3300_0000), (0, UE | PE), "2^-25 rounds to zero");
        assert_eq!(masked(0x3380_0000), (1, 0), "exact and tiny: no underflow when masked");
        assert_eq!(to_half(0x3380_0000, Round::Nearest, false, (Underflow::Tiny, Overflow::Masked)), (1, UE));
        assert_eq!(masked(0x387f_f000), (0x0400, PE), "rounds to the smallest normal: not tiny after rounding");
        assert_eq!(masked(0x7f80_0001), (0x7e00, IE));
        assert_eq!(masked(0x7fc0_0000), (0x7e00, 0));
    }
}
