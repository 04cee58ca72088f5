//! Oracle case setup for the forms of `frontend::x86::sse_float`: float
//! operands of the form's lane width (edge values, moderate values with
//! fractions, the destination's own lanes so compares, MIN and MAX see equal
//! values and zeros of both signs), values around the integer range for the
//! conversions to integers, compare predicates 0-7 and now and then a
//! byte with the ignored high bits set, any imm8 for ROUND DPPS DPPD BLEND
//! INSERTPS EXTRACTPS, and MXCSR images for LDMXCSR, some with reserved bits.
//!
//! RCP and RSQRT approximate (12 bits, differently on each vendor): their
//! cases get only inputs whose results the manuals define exactly (zeros,
//! infinities, NaNs, denormals, negatives for RSQRT, and for RCP inputs
//! whose reciprocal is tiny however it is approximated).

use iced_x86::{Code, Instruction, Mnemonic, OpKind};

use super::cases::{Rng, float_value, value};
use super::native::DATA;
use super::setup::{Case, is_vreg, set_vreg, vreg};

/// The mnemonics this setup owns.
const FAMILY: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Addps, Addpd, Addss, Addsd, Subps, Subpd, Subss, Subsd, Mulps, Mulpd, Mulss, Mulsd, Divps, Divpd, Divss, Divsd,
        Sqrtps, Sqrtpd, Sqrtss, Sqrtsd, Minps, Minpd, Minss, Minsd, Maxps, Maxpd, Maxss, Maxsd, Rcpps, Rcpss, Rsqrtps,
        Rsqrtss, Cmpps, Cmppd, Cmpss, Cmpsd, Comiss, Ucomiss, Comisd, Ucomisd, Cvtsi2ss, Cvtsi2sd, Cvtss2si, Cvtsd2si,
        Cvttss2si, Cvttsd2si, Cvtss2sd, Cvtsd2ss, Cvtps2pd, Cvtpd2ps, Cvtdq2ps, Cvtps2dq, Cvttps2dq, Cvtdq2pd,
        Cvtpd2dq, Cvttpd2dq, Cvtpi2ps, Cvtpi2pd, Cvtps2pi, Cvttps2pi, Cvtpd2pi, Cvttpd2pi, Ldmxcsr, Stmxcsr, Haddps,
        Haddpd, Hsubps, Hsubpd, Addsubps, Addsubpd, Roundps, Roundpd, Roundss, Roundsd, Dpps, Dppd, Blendps, Blendpd,
        Blendvps, Blendvpd, Insertps, Extractps,
    ]
};

/// What the lanes of a form's source hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lanes {
    Float(u32),
    Int,
}

/// The source lanes of a mnemonic: the part before `2` of a conversion
/// (`cvt[t]XX2YY`), else the suffix.
fn source_lanes(m: Mnemonic) -> Lanes {
    let name = format!("{m:?}").to_lowercase();
    let kind = match name.find('2') {
        Some(at) => &name[at - 2..at],
        None => &name[name.len() - 2..],
    };
    match kind {
        "ps" | "ss" => Lanes::Float(32),
        "pd" | "sd" => Lanes::Float(64),
        _ => Lanes::Int,
    }
}

/// Bits of the integer a conversion produces, when it produces one.
fn integer_result(m: Mnemonic, insn: &Instruction) -> Option<u32> {
    let name = format!("{m:?}").to_lowercase();
    if name.ends_with("2si") {
        Some(insn.op0_register().size() as u32 * 8)
    } else if name.ends_with("2dq") || name.ends_with("2pi") {
        Some(32)
    } else {
        None
    }
}

/// True for the forms this setup owns (CMPSD only in its XMM form).
pub(super) fn owns(code: Code) -> bool {
    FAMILY.contains(&code.mnemonic()) && code != Code::Cmpsd_m32_m32
}

/// The imm8 of a form of this family: mostly a defined compare predicate
/// or ROUND mode, else any byte.
pub(super) fn imm8(m: Mnemonic, rng: &mut Rng) -> u8 {
    let imm = match m {
        Mnemonic::Cmpps | Mnemonic::Cmppd | Mnemonic::Cmpss | Mnemonic::Cmpsd if rng.chance(85) => rng.below(8),
        Mnemonic::Roundps | Mnemonic::Roundpd | Mnemonic::Roundss | Mnemonic::Roundsd if rng.chance(80) => {
            rng.below(16)
        }
        _ => rng.below(256),
    };
    imm as u8
}

/// RCP and RSQRT: approximations whose bits differ between vendors.
pub(super) fn is_reciprocal(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Rcpps | Rcpss | Rsqrtps | Rsqrtss)
}

/// A float with a fraction, of moderate size.
pub(super) fn moderate(rng: &mut Rng, bits: u32) -> u64 {
    let v = (rng.below(200_000) as f64 - 100_000.0) / (1u64 << rng.below(12)) as f64;
    if bits == 32 { (v as f32).to_bits() as u64 } else { v.to_bits() }
}

/// A float near the edge of the `int_bits` integer range: +-2^(n-1) plus a
/// small offset, then nudged by an ulp.
pub(super) fn near_limit(rng: &mut Rng, bits: u32, int_bits: u32) -> u64 {
    let offset = rng.pick(&[-1.5, -1.0, -0.5, -0.4, 0.0, 0.4, 0.5, 0.6, 1.0]);
    let sign = if rng.chance(50) { -1.0 } else { 1.0 };
    let v = sign * (2f64.powi(int_bits as i32 - 1) + offset);
    let raw = if bits == 32 { (v as f32).to_bits() as u64 } else { v.to_bits() };
    raw.wrapping_add(rng.below(3)).wrapping_sub(1)
}

/// A special value of binary32 whose RCP or RSQRT the manuals define.
fn reciprocal_special(rng: &mut Rng, m: Mnemonic) -> u64 {
    let sign = if rng.chance(50) { 0x8000_0000 } else { 0 };
    let v = match rng.below(6) {
        0 => 0,
        1 => 0x7f80_0000,
        2 => 0x7f80_0000 | (rng.next_u64() & 0x7f_ffff).max(1),
        3 => (rng.next_u64() & 0x7f_ffff).max(1),
        // RCP: from 2^126 (1 + 2^-9) on, the reciprocal is tiny even with
        // the approximations' error (at most 1.5 * 2^-12), so it is flushed.
        _ if matches!(m, Mnemonic::Rcpps | Mnemonic::Rcpss) => 0x7e80_4000 + rng.below(0x7f80_0000 - 0x7e80_4000),
        // RSQRT of a negative number: the default NaN.
        _ => return 0x8000_0000 | (0x80_0000 + rng.below(0x7f80_0000 - 0x80_0000)),
    };
    v | sign
}

/// A vector of `lanes` lanes of `bits`, each from `f`.
fn vector(lanes: u32, bits: u32, mut f: impl FnMut() -> u64) -> u128 {
    let mask = u128::MAX >> (128 - bits);
    (0..lanes).fold(0, |acc, i| acc | ((f() as u128) & mask) << (bits * i))
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    if !owns(code) {
        return false;
    }
    let m = code.mnemonic();
    let write_mem = |data: &mut [u8], bytes: &[u8]| {
        if let Some(target) = mem {
            let at = (target - DATA) as usize;
            data[at..at + bytes.len()].copy_from_slice(bytes);
        }
    };
    match m {
        Mnemonic::Ldmxcsr => {
            write_mem(data, &mxcsr_image(rng).to_le_bytes());
            return true;
        }
        Mnemonic::Stmxcsr => return true,
        _ => {}
    }
    if (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Immediate8) {
        insn.set_immediate8(imm8(m, rng));
    }
    let dest = (insn.op_kind(0) == OpKind::Register && is_vreg(insn.op0_register())).then(|| insn.op0_register());
    let lanes = source_lanes(m);
    let float_bits = match lanes {
        Lanes::Float(bits) => bits,
        Lanes::Int => 32,
    };
    let count = 128 / float_bits;
    // The destination: lanes of the form's width (some forms read it).
    if let (Some(d), true) = (dest, rng.chance(50)) {
        set_vreg(regs, d, vector(count, float_bits, || float_value(rng, float_bits)));
    }
    let int_result = integer_result(m, insn);
    let src = match lanes {
        _ if is_reciprocal(m) => vector(4, 32, || reciprocal_special(rng, m)),
        Lanes::Int => vector(4, 32, || if rng.chance(50) { value(rng, 32) } else { rng.next_u64() }),
        Lanes::Float(bits) => match (dest, rng.below(4)) {
            (Some(d), 0) => {
                let (dest, src) = equal_lanes(vreg(regs, d), bits, rng);
                set_vreg(regs, d, dest);
                src
            }
            _ => vector(count, bits, || match (int_result, rng.below(3)) {
                (Some(n), 0) => near_limit(rng, bits, n),
                (_, 1) => moderate(rng, bits),
                _ => float_value(rng, bits),
            }),
        },
    };
    let src_op = if m == Mnemonic::Extractps { None } else { Some(1) };
    match src_op.map(|i| insn.op_kind(i)) {
        Some(OpKind::Memory) => write_mem(data, &src.to_le_bytes()),
        Some(OpKind::Register) if is_vreg(insn.op1_register()) => set_vreg(regs, insn.op1_register(), src),
        _ => {}
    }
    true
}

/// A destination and a source mostly equal lane by lane: lanes kept,
/// zeros of opposite signs, or fresh values.
pub(super) fn equal_lanes(dest: u128, bits: u32, rng: &mut Rng) -> (u128, u128) {
    let mask = (1u128 << bits) - 1;
    let sign = 1u64 << (bits - 1);
    (0..128 / bits).fold((dest, dest), |(d, s), i| {
        let at = bits * i;
        let lane = ((dest >> at) & mask) as u64;
        let (dl, sl) = match rng.below(10) {
            0..=5 => (lane, lane),
            6 | 7 => {
                let zero = if rng.chance(50) { sign } else { 0 };
                (zero, zero ^ sign)
            }
            _ => (lane, float_value(rng, bits)),
        };
        let clear = !(mask << at);
        ((d & clear) | (dl as u128) << at, (s & clear) | (sl as u128) << at)
    })
}

/// An MXCSR image: any control and flag bits, now and then a reserved bit
/// (bit 17, MM, is left alone: visa's processor lacks it, as Intel's do,
/// while this host's MXCSR_MASK has it).
pub(super) fn mxcsr_image(rng: &mut Rng) -> u32 {
    let v = rng.next_u64() as u32 & 0xffff;
    if rng.chance(15) {
        let bit = rng.pick(&[16u32, 18, 20, 24, 31]);
        return v | 1 << bit | (rng.next_u64() as u32 & 0xfffd_0000);
    }
    v
}
