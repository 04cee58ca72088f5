//! Oracle case setup for F16C (`frontend::x86::f16c`): VCVTPH2PS sources of
//! binary16 edge values (zeros, denormals, the normal extremes, infinities,
//! quiet and signalling NaNs with payloads) and random halves; VCVTPS2PH
//! sources of binary32 values in and around binary16's range (denormal
//! results, halfway cases, values that overflow, NaNs whose payload is cut)
//! and edge values; its imm8 any rounding control, with MXCSR's (bit 2) and
//! ignored high bits now and then.

use iced_x86::{Code, CpuidFeature, Mnemonic, OpKind, Register};

use super::cases::{Rng, float_value};
use super::setup::{Case, write_data};

/// True for the forms this setup owns.
pub(super) fn owns(code: Code) -> bool {
    code.cpuid_features() == [CpuidFeature::F16C]
}

/// A binary16 value, often a special one.
fn half(rng: &mut Rng) -> u64 {
    let v = match rng.below(10) {
        0 => 0,
        1 => 0x7c00,
        2 => 0x7c00 | 0x200 | rng.below(0x200),
        3 => 0x7c00 | (rng.below(0x1ff) + 1),
        4 => rng.below(0x400),
        5 => rng.pick(&[0x0001, 0x03ff, 0x0400, 0x7bff, 0x3c00]),
        _ => rng.below(0x7c00),
    };
    if rng.chance(50) { v | 0x8000 } else { v }
}

/// A binary32 value around binary16's range, or an edge value.
fn single(rng: &mut Rng) -> u64 {
    let sign = if rng.chance(50) { 0x8000_0000 } else { 0 };
    let v = match rng.below(8) {
        // Exponents from below the smallest denormal half to above the
        // largest normal one, random significands.
        0..=2 => (rng.below(50) + 127 - 26) << 23 | rng.next_u64() & 0x7f_ffff,
        // Exactly halfway between two halves, or a little either side.
        3 => {
            let exp = rng.below(45) + 127 - 25;
            let halfway = exp << 23 | (rng.next_u64() & 0x7f_e000) | 0x1000;
            halfway.wrapping_add(rng.below(3)).wrapping_sub(1)
        }
        // Around the overflow threshold 65520.
        4 => 0x477f_e000u64.wrapping_add(rng.below(0x4000)).wrapping_sub(0x2000),
        _ => float_value(rng, 32),
    };
    (v | sign) & 0xffff_ffff
}

/// 128 bits of `bits`-wide lanes from `f`.
fn lanes(bits: u32, mut f: impl FnMut() -> u64) -> u128 {
    (0..128 / bits).fold(0, |acc, i| acc | (f() as u128) << (i * bits))
}

/// Sets an F16C case up; false for any other form.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    if !owns(code) {
        return false;
    }
    let to_half = code.mnemonic() == Mnemonic::Vcvtps2ph;
    let value = |rng: &mut Rng| if to_half { lanes(32, || single(rng)) } else { lanes(16, || half(rng)) };
    let (low, high) = (value(rng), value(rng));
    match insn.op_kind(1) {
        OpKind::Register => {
            let reg = insn.op1_register();
            let n = if reg.is_ymm() { reg as usize - Register::YMM0 as usize } else { reg.number() };
            regs.fx.set_xmm(n, low);
            regs.ymmh[n] = high;
        }
        _ => {
            let bytes = low.to_le_bytes();
            write_data(data, mem.expect("a memory operand"), &bytes[..insn.memory_size().size()]);
        }
    }
    if to_half {
        let imm = rng.below(8) as u8 | if rng.chance(10) { (rng.below(32) as u8) << 3 } else { 0 };
        insn.set_immediate8(imm);
    }
    true
}
