//! Oracle case setup for the forms of `frontend::x86::x87`: a random x87
//! state (FCW with every exception masked and random precision and rounding
//! control, FSW with random flags, condition codes and TOP, random tags,
//! registers with 80-bit edge values: zeros, denormals, pseudo-denormals,
//! unnormals, infinities, pseudo-infinities, NaNs, pseudo-NaNs, values at
//! rounding boundaries of each precision), memory operands of the form's
//! format (images for FLDENV FRSTOR FXRSTOR built from random states, some
//! FXRSTOR images with reserved MXCSR bits), memory operands moved so large
//! images fit in the scratch data (FXSAVE/FXRSTOR mostly 16-byte aligned),
//! and transcendental arguments in the ranges the manuals define, and
//! beyond them where processors are accurate too (FSIN FCOS FSINCOS FPTAN
//! up to 2^63, FYL2XP1 up to 2^64).
//!
//! `leeway` says what a case does not compare exactly: FXSAVE's
//! MXCSR_MASK (the host's has AMD's MM bit), the instruction and data
//! pointers in FNSTENV and FNSAVE images (the host loses FIP, FDP and FOP
//! whenever the kernel switches FPU context: an AMD saves them only while an
//! exception is pending), the MXCSR exception flags in STMXCSR and FXSAVE
//! images (not modelled), and transcendental results (1 ulp, with C1; 2
//! in a sequence, where later arithmetic may carry it).

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use super::Leeway;
use super::cases::{DATA_LEN, Rng, float_value, value};
use super::native::{CODE, DATA, Regs};
use super::setup::{Case, reg_value, write_data};

/// True for the x87 forms (the F mnemonics but 3DNow!'s FEMMS, WAIT,
/// FXSAVE and FXRSTOR).
pub(super) fn is_x87(code: Code) -> bool {
    let m = code.mnemonic();
    (format!("{m:?}").starts_with('F') && m != Mnemonic::Femms) || m == Mnemonic::Wait
}

pub(super) fn is_transcendental(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Fsin | Fcos | Fsincos | Fptan | Fpatan | F2xm1 | Fyl2x | Fyl2xp1)
}

/// A normal 80-bit value `m * 2^(e - 63)` (m normalised).
fn normal(negative: bool, exp: i32, m: u64) -> u128 {
    let field = (exp + 16383).clamp(1, 0x7ffe) as u128;
    (negative as u128) << 79 | field << 64 | (m | 1 << 63) as u128
}

/// An 80-bit value, often a special one.
pub fn ext_value(rng: &mut Rng) -> u128 {
    let negative = rng.chance(50);
    let sig = rng.next_u64();
    let sign = (negative as u128) << 79;
    let exp_field = |e: u64| (e as u128) << 64;
    let v = match rng.below(24) {
        0 => 0,
        1 => (sig >> rng.below(64)) as u128 & !(1 << 63),
        2 => (sig | 1 << 63) as u128,
        3 => exp_field(1 + rng.below(0x7ffe)) | (sig & !(1 << 63)) as u128,
        4 => exp_field(0x7fff) | 1 << 63,
        5 => exp_field(0x7fff) | (sig | 3 << 62) as u128,
        6 => exp_field(0x7fff) | ((sig & !(1 << 62)) | 1 << 63 | 1) as u128,
        7 => exp_field(0x7fff) | (sig >> 1) as u128,
        8 => crate::machine::x87::INDEFINITE & !(1 << 79),
        9 => {
            let k = rng.below(100) + 1;
            normal(false, 63 - k.leading_zeros() as i32, k << k.leading_zeros())
        }
        10 => normal(false, 0, rng.below(16)),
        11 => normal(false, -16382 + rng.below(4) as i32, sig),
        12 => normal(false, 16383 - rng.below(4) as i32, sig),
        13 => {
            let e =
                rng.pick(&[-126, -127, -149, -150, 127, 128, -1022, -1023, -1074, -1075, 1023, 1024, 63, 64, 31, 15]);
            normal(false, e + rng.below(3) as i32 - 1, sig)
        }
        14 => {
            // A value exact in single or double precision, or halfway between two.
            let bits = rng.pick(&[24u32, 53, 64]);
            let keep = !0u64 << (64 - bits);
            let half = if rng.chance(50) && bits < 64 { 1u64 << (63 - bits) } else { 0 };
            normal(false, rng.below(40) as i32 - 20, (sig & keep) | half)
        }
        15 => normal(false, rng.below(200) as i32 - 100, sig),
        16 => normal(false, rng.below(32768) as i32 - 16383, sig),
        _ => normal(false, rng.below(16) as i32 - 8, sig),
    };
    v | sign
}

/// FCW with every exception masked, random precision and rounding.
fn control_word(rng: &mut Rng) -> u16 {
    let pc = rng.pick(&[0u16, 2, 3, 3]);
    0x7f | pc << 8 | (rng.below(4) as u16) << 10 | (rng.chance(20) as u16) << 12
}

/// A random x87 state in the FXSAVE image.
pub(super) fn randomize(regs: &mut Regs, rng: &mut Rng) {
    let img = &mut regs.fx.0;
    let fsw = (rng.next_u64() as u16 & 0x477f) | (rng.below(8) as u16) << 11;
    let ftw: u8 = match rng.below(10) {
        0..=4 => 0xff,
        5..=6 => rng.next_u64() as u8,
        7 => 0,
        _ => !(1 << rng.below(8)),
    };
    img[0..2].copy_from_slice(&control_word(rng).to_le_bytes());
    img[2..4].copy_from_slice(&fsw.to_le_bytes());
    img[4] = ftw;
    img[6..8].copy_from_slice(&(rng.next_u64() as u16 & 0x7ff).to_le_bytes());
    let (fip, fdp) = (rng.next_u64(), rng.next_u64());
    img[8..16].copy_from_slice(&fip.to_le_bytes());
    img[16..24].copy_from_slice(&fdp.to_le_bytes());
    for i in 0..8 {
        img[32 + 16 * i..42 + 16 * i].copy_from_slice(&ext_value(rng).to_le_bytes()[..10]);
    }
}

/// An argument where the transcendental's result is defined.
fn transcendental_argument(m: Mnemonic, rng: &mut Rng) -> u128 {
    if rng.chance(15) {
        // A special operand (the defined ones: not a finite number out of range).
        for _ in 0..100 {
            let v = ext_value(rng);
            let exp = (v >> 64) as u32 & 0x7fff;
            if exp == 0 || exp == 0x7fff || (v as u64) >> 63 == 0 {
                return v;
            }
        }
    }
    let negative = rng.chance(50);
    let sig = rng.next_u64();
    match m {
        Mnemonic::F2xm1 if rng.chance(5) => normal(negative, 0, 0),
        Mnemonic::F2xm1 => normal(negative, -1 - rng.below(70) as i32, sig),
        // Past the manual's range too (|x| < 1 - sqrt(2)/2), where the
        // processor is accurate as well: positive arguments up to 2^64.
        Mnemonic::Fyl2xp1 if rng.chance(30) => normal(false, rng.below(66) as i32 - 2, sig),
        Mnemonic::Fyl2xp1 => normal(negative, -2 - rng.below(70) as i32, sig),
        Mnemonic::Fyl2x => normal(false, rng.below(400) as i32 - 200, sig),
        // The whole range the processor reduces: |x| < 2^63.
        _ if rng.chance(20) => normal(negative, rng.below(63) as i32, sig),
        _ => normal(negative, rng.below(90) as i32 - 70, sig),
    }
}

/// The memory operand's address.
fn address(insn: &Instruction, regs: &Regs) -> Option<u64> {
    (0..insn.op_count()).find(|i| insn.op_kind(*i) == OpKind::Memory)?;
    if insn.memory_index().is_xmm() || insn.memory_index().is_ymm() {
        // A gather's: one address per element, none of them x87's.
        return None;
    }
    if insn.memory_base() == Register::RIP {
        return Some(insn.memory_displacement64());
    }
    let reg = |r: Register| if r == Register::None { 0 } else { reg_value(regs, r) };
    let index = reg(insn.memory_index()).wrapping_mul(insn.memory_index_scale() as u64);
    Some(reg(insn.memory_base()).wrapping_add(index).wrapping_add(insn.memory_displacement64()))
}

/// Moves the memory operand to `target`.
fn relocate(insn: &mut Instruction, regs: &mut Regs, target: u64) {
    let Some(at) = address(insn, regs) else { return };
    let delta = target.wrapping_sub(at);
    match insn.memory_base() {
        Register::RIP => insn.set_memory_displacement64(target),
        Register::None => insn.set_memory_displacement64(insn.memory_displacement64().wrapping_add(delta)),
        base => {
            let v = reg_value(regs, base).wrapping_add(delta);
            super::setup::set_reg(regs, base, v);
        }
    }
}

/// A full tag word, mostly valid tags.
fn full_tags(rng: &mut Rng) -> u16 {
    (0..8).fold(0, |acc, r| acc | (if rng.chance(80) { rng.below(3) } else { 3 } as u16) << (2 * r))
}

/// An FLDENV/FRSTOR image (14/28 bytes, then 8 registers).
fn env_image(rng: &mut Rng, wide: bool, regs: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let fcw = if rng.chance(90) { control_word(rng) } else { rng.next_u64() as u16 };
    let fsw = rng.next_u64() as u16;
    let words =
        [fcw as u64, fsw as u64, full_tags(rng) as u64, rng.next_u64(), rng.next_u64(), rng.next_u64(), rng.next_u64()];
    for w in words {
        let n = if wide { 4 } else { 2 };
        out.extend_from_slice(&w.to_le_bytes()[..n]);
    }
    if regs {
        for _ in 0..8 {
            out.extend_from_slice(&ext_value(rng).to_le_bytes()[..10]);
        }
    }
    out
}

/// An FXRSTOR image: a random state, MXCSR now and then with reserved bits.
fn fx_image(rng: &mut Rng) -> Vec<u8> {
    let mut regs = Regs::default();
    randomize(&mut regs, rng);
    let mut img = regs.fx.0.to_vec();
    for b in img[160..416].iter_mut() {
        *b = rng.next_u64() as u8;
    }
    let mxcsr = if rng.chance(10) { rng.next_u64() as u32 } else { rng.next_u64() as u32 & 0xffbf | 0x1f80 };
    img[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    if rng.chance(20) {
        img[0..2].copy_from_slice(&(rng.next_u64() as u16).to_le_bytes());
        img[2..4].copy_from_slice(&(rng.next_u64() as u16).to_le_bytes());
    }
    img[416..].fill(0);
    img
}

/// Packed BCD: digits (now and then an invalid one) and a sign.
fn bcd(rng: &mut Rng) -> Vec<u8> {
    let digits = rng.pick(&[18u64, 18, 4, 1, 0]);
    let mut out: Vec<u8> =
        (0..9).map(|i| if (2 * i) < digits { (rng.below(10) as u8) << 4 | rng.below(10) as u8 } else { 0 }).collect();
    out.push(if rng.chance(50) { 0x80 } else { 0 });
    out
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    if !is_x87(code) {
        return false;
    }
    let m = code.mnemonic();
    randomize(regs, rng);
    if is_transcendental(m) {
        regs.fx.0[32..42].copy_from_slice(&transcendental_argument(m, rng).to_le_bytes()[..10]);
        if m == Mnemonic::Fyl2xp1 || m == Mnemonic::Fyl2x || m == Mnemonic::Fpatan {
            let y = if rng.chance(80) {
                normal(rng.chance(50), rng.below(40) as i32 - 20, rng.next_u64())
            } else {
                ext_value(rng)
            };
            regs.fx.0[48..58].copy_from_slice(&y.to_le_bytes()[..10]);
        }
    }
    let Some(_) = mem else { return true };
    let size = insn.memory_size().size() as u64;
    let room = DATA_LEN as u64 - 0x200 - size;
    let mut target = DATA + 0x100 + rng.below(room);
    if matches!(m, Mnemonic::Fxsave | Mnemonic::Fxsave64 | Mnemonic::Fxrstor | Mnemonic::Fxrstor64) && rng.chance(90) {
        target &= !15;
    } else if rng.chance(50) {
        target &= !7;
    }
    relocate(insn, regs, target);
    let bytes = memory_image(insn, rng);
    if !bytes.is_empty() && !insn.memory_size().is_broadcast() {
        let writes = matches!(m, Mnemonic::Fst | Mnemonic::Fstp | Mnemonic::Fist | Mnemonic::Fistp | Mnemonic::Fisttp);
        if !writes || rng.chance(50) {
            write_data(data, target, &bytes);
        }
    }
    true
}

/// A value of the memory operand's format: floats, integers and BCD of
/// their sizes, FLDENV FRSTOR and FXRSTOR images, FLDCW control words;
/// empty for other formats.
pub(super) fn memory_image(insn: &Instruction, rng: &mut Rng) -> Vec<u8> {
    let size = insn.memory_size().size();
    match insn.memory_size() {
        iced_x86::MemorySize::Float32 => (float_value(rng, 32) as u32).to_le_bytes().to_vec(),
        iced_x86::MemorySize::Float64 => float_value(rng, 64).to_le_bytes().to_vec(),
        iced_x86::MemorySize::Float80 => ext_value(rng).to_le_bytes()[..10].to_vec(),
        iced_x86::MemorySize::Int16 | iced_x86::MemorySize::Int32 | iced_x86::MemorySize::Int64 => {
            value(rng, size as u32 * 8).to_le_bytes()[..size].to_vec()
        }
        iced_x86::MemorySize::Bcd => bcd(rng),
        iced_x86::MemorySize::FpuEnv14 | iced_x86::MemorySize::FpuEnv28 => env_image(rng, size == 28, false),
        iced_x86::MemorySize::FpuState94 | iced_x86::MemorySize::FpuState108 => env_image(rng, size == 108, true),
        iced_x86::MemorySize::Fxsave_512Byte | iced_x86::MemorySize::Fxsave64_512Byte => fx_image(rng),
        _ if insn.mnemonic() == Mnemonic::Fldcw => {
            let cw = if rng.chance(80) { control_word(rng) } else { rng.next_u64() as u16 };
            cw.to_le_bytes().to_vec()
        }
        _ => Vec::new(),
    }
}

fn loads(m: Mnemonic) -> bool {
    matches!(m, Mnemonic::Fldenv | Mnemonic::Frstor | Mnemonic::Fxrstor | Mnemonic::Fxrstor64)
}

/// What the instructions of a case leave uncompared (see the module doc).
pub fn leeway(code: &[u8], regs: &Regs) -> Leeway {
    let mut out = Leeway::default();
    // A transcendental result is at most 1 ulp from the host's (see
    // `accuracy`); in a sequence, later arithmetic may carry that further.
    let single = Decoder::with_ip(64, code, CODE, DecoderOptions::NONE).into_iter().count() <= 2;
    for insn in Decoder::with_ip(64, code, CODE, DecoderOptions::NONE) {
        let m = insn.mnemonic();
        if is_transcendental(m) {
            out.st_ulps = out.st_ulps.max(if single { 1 } else { 2 });
        }
        // Uncompared bytes of the image: (offset, length).
        let fields: &[(u64, usize)] = match insn.memory_size() {
            // FOP, FIP, FDP (vendors differ: AMD stores them only while an
            // exception is pending, Intel always), and MXCSR_MASK.
            iced_x86::MemorySize::Fxsave_512Byte | iced_x86::MemorySize::Fxsave64_512Byte => &[(6, 18), (28, 4)],
            iced_x86::MemorySize::FpuEnv14 | iced_x86::MemorySize::FpuState94 if !loads(m) => &[(6, 8)],
            iced_x86::MemorySize::FpuEnv28 | iced_x86::MemorySize::FpuState108 if !loads(m) => &[(12, 16)],
            _ => &[],
        };
        match address(&insn, regs) {
            Some(at) if (DATA..DATA + DATA_LEN as u64 - 32).contains(&at) => {
                out.data.extend(fields.iter().map(|(off, len)| (at + off, *len)));
            }
            _ => {}
        }
    }
    out
}
