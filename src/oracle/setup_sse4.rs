//! Oracle case setup for the forms of `frontend::x86::sse4` (the SSSE3
//! ones in their XMM and MMX forms): lane edge values (zero, one, the signed and unsigned extremes, lanes equal to the
//! destination's) in the vector operands, PALIGNR shifts around 16 and 32
//! bytes, PTEST operands that make ZF or CF, words with ties for
//! PHMINPOSUW, strings over a small alphabet with nulls and lengths around
//! the element count (32-bit ones with garbage above them) for the string
//! compares, and MOVNTDQA's m128 on a 16-byte boundary most of the time.

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use super::cases::{Rng, edge_vector, value};
use super::native::Regs;
use super::setup::{Case, align16, is_vreg, set_vreg, write_data};

/// The lane width in bits of the operands of each mnemonic this setup owns.
const LANE_BITS: &[(Mnemonic, u32)] = {
    use Mnemonic::*;
    &[
        (Pshufb, 8),
        (Palignr, 8),
        (Phaddw, 16),
        (Phaddd, 32),
        (Phaddsw, 16),
        (Phsubw, 16),
        (Phsubd, 32),
        (Phsubsw, 16),
        (Pmaddubsw, 8),
        (Pmulhrsw, 16),
        (Psignb, 8),
        (Psignw, 16),
        (Psignd, 32),
        (Pabsb, 8),
        (Pabsw, 16),
        (Pabsd, 32),
        (Pblendw, 16),
        (Pblendvb, 8),
        (Ptest, 64),
        (Pmovsxbw, 8),
        (Pmovsxbd, 8),
        (Pmovsxbq, 8),
        (Pmovsxwd, 16),
        (Pmovsxwq, 16),
        (Pmovsxdq, 32),
        (Pmovzxbw, 8),
        (Pmovzxbd, 8),
        (Pmovzxbq, 8),
        (Pmovzxwd, 16),
        (Pmovzxwq, 16),
        (Pmovzxdq, 32),
        (Pminsb, 8),
        (Pminsd, 32),
        (Pminuw, 16),
        (Pminud, 32),
        (Pmaxsb, 8),
        (Pmaxsd, 32),
        (Pmaxuw, 16),
        (Pmaxud, 32),
        (Pmulld, 32),
        (Pmuldq, 32),
        (Pcmpeqq, 64),
        (Pcmpgtq, 64),
        (Packusdw, 32),
        (Pextrb, 8),
        (Pextrd, 32),
        (Pextrq, 64),
        (Pinsrb, 8),
        (Pinsrd, 32),
        (Pinsrq, 64),
        (Mpsadbw, 8),
        (Phminposuw, 16),
        (Movntdqa, 64),
        (Pcmpestri, 8),
        (Pcmpestri64, 8),
        (Pcmpestrm, 8),
        (Pcmpestrm64, 8),
        (Pcmpistri, 8),
        (Pcmpistrm, 8),
        (Crc32, 64),
    ]
};

/// True for the forms this setup owns.
pub(super) fn owns(code: Code) -> bool {
    LANE_BITS.iter().any(|(m, _)| *m == code.mnemonic())
}

/// A PALIGNR shift, mostly around 16 and 32 bytes.
pub(super) fn palignr_shift(rng: &mut Rng) -> Option<u8> {
    rng.chance(70).then(|| rng.below(40) as u8)
}

fn is_string_compare(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Pcmpestri | Pcmpestri64 | Pcmpestrm | Pcmpestrm64 | Pcmpistri | Pcmpistrm)
}

/// A vector of `bits`-wide lanes drawn from a few values (nulls among
/// them when `nulls`), so lanes often repeat and compare equal.
pub(super) fn alphabet_vector(rng: &mut Rng, bits: u32, nulls: bool) -> u128 {
    const LETTERS: [u128; 8] = [0x61, 0x62, 0x63, 0x64, 0x7f, 0x80, 0xff, 0x8061];
    let mask = u128::MAX >> (128 - bits);
    (0..128 / bits).fold(0, |acc, i| {
        let lane = match rng.below(10) {
            0 if nulls => 0,
            1 => rng.next_u64() as u128 & mask,
            _ => rng.pick(&LETTERS) & mask,
        };
        acc | lane << (i * bits)
    })
}

/// The vector register or memory operand `i`, if it is one.
fn set_vector(insn: &Instruction, i: u32, regs: &mut Regs, data: &mut [u8], mem: Option<u64>, v: u128) {
    match insn.op_kind(i) {
        OpKind::Register if is_vreg(insn.op_register(i)) => set_vreg(regs, insn.op_register(i), v),
        OpKind::Memory => write_data(data, mem.expect("memory operand"), &v.to_le_bytes()),
        _ => {}
    }
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    let m = code.mnemonic();
    let Some(&(_, bits)) = LANE_BITS.iter().find(|(x, _)| *x == m) else {
        return false;
    };
    if m == Mnemonic::Crc32 {
        return true;
    }
    if is_string_compare(m) {
        string_operands(insn, regs, data, mem, rng);
        return true;
    }
    if rng.chance(60) {
        let a = match m {
            Mnemonic::Phminposuw => alphabet_vector(rng, 16, true),
            _ => edge_vector(rng, bits, None),
        };
        set_vector(insn, 0, regs, data, mem, a);
        let b = match m {
            Mnemonic::Ptest => match rng.below(3) {
                0 => a & rng.next_u64() as u128,
                1 => !a & ((rng.next_u64() as u128) << 64 | rng.next_u64() as u128),
                _ => 0,
            },
            Mnemonic::Phminposuw => alphabet_vector(rng, 16, true),
            _ => edge_vector(rng, bits, Some(a)),
        };
        set_vector(insn, 1, regs, data, mem, b);
    }
    match m {
        Mnemonic::Palignr => {
            if let Some(shift) = palignr_shift(rng) {
                insn.set_immediate8(shift);
            }
        }
        Mnemonic::Movntdqa if rng.chance(85) => {
            align16(insn, mem.expect("memory operand"));
        }
        _ => {}
    }
    true
}

/// Strings for PCMPxSTRx: both operands over a small alphabet (of the
/// element size imm8 picks), any control byte, and for the explicit-length
/// forms lengths in EAX and EDX (RAX and RDX) around the element count, of
/// either sign, now and then huge.
fn string_operands(insn: &mut Instruction, regs: &mut Regs, data: &mut [u8], mem: Option<u64>, rng: &mut Rng) {
    let imm = rng.below(256) as u8;
    insn.set_immediate8(imm);
    let bits = if imm & 1 != 0 { 16 } else { 8 };
    for i in 0..2 {
        if rng.chance(85) {
            let nulls = rng.chance(50);
            let v = alphabet_vector(rng, bits, nulls);
            set_vector(insn, i, regs, data, mem, v);
        }
    }
    use Mnemonic::*;
    let wide = matches!(insn.mnemonic(), Pcmpestri64 | Pcmpestrm64);
    if !(wide || matches!(insn.mnemonic(), Pcmpestri | Pcmpestrm)) {
        return;
    }
    let addressing = [insn.memory_base(), insn.memory_index()];
    for (reg, full) in [(0, Register::RAX), (2, Register::RDX)] {
        if mem.is_some() && addressing.contains(&full) {
            continue;
        }
        let len = match rng.below(8) {
            0 => value(rng, 64),
            1 => value(rng, 32),
            _ => (rng.below(41) as i64 - 20) as u64,
        };
        regs.gpr[reg] = match wide {
            true => len,
            false => (len & 0xffff_ffff) | rng.next_u64() << 32,
        };
    }
}
