//! Oracle case setup for the crypto extensions (`frontend::x86::crypto`):
//! the m128 operand on a 16-byte boundary most of the time (else #GP), edge
//! states (all zeros, all ones, one byte or one bit set, the destination's
//! own value) in both operands and XMM0, and immediates that select each
//! quadword of PCLMULQDQ and each round function of SHA1RNDS4, with
//! garbage in the bits they ignore now and then.

use iced_x86::{Code, Mnemonic, OpKind, Register};

use super::cases::Rng;
use super::setup::{Case, align16, set_vreg, vreg, write_data};

/// The crypto extensions' mnemonics this family sets up.
pub const FAMILY: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Aesenc,
        Aesenclast,
        Aesdec,
        Aesdeclast,
        Aesimc,
        Aeskeygenassist,
        Pclmulqdq,
        Sha1rnds4,
        Sha1nexte,
        Sha1msg1,
        Sha1msg2,
        Sha256rnds2,
        Sha256msg1,
        Sha256msg2,
    ]
};

/// True for the forms this setup owns.
pub(super) fn owns(code: Code) -> bool {
    FAMILY.contains(&code.mnemonic())
}

/// A 128-bit value, often an edge one (or `like`).
fn edge(rng: &mut Rng, like: u128) -> u128 {
    match rng.below(10) {
        0 => 0,
        1 => u128::MAX,
        2 => 1u128 << rng.below(128),
        3 => (rng.next_u64() as u8 as u128) << (8 * rng.below(16)),
        4 => like,
        5 => u128::from_le_bytes([0x80; 16]),
        _ => (rng.next_u64() as u128) << 64 | rng.next_u64() as u128,
    }
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    let m = code.mnemonic();
    if !FAMILY.contains(&m) {
        return false;
    }
    let dst = insn.op0_register();
    let a = edge(rng, vreg(regs, dst));
    set_vreg(regs, dst, a);
    let b = edge(rng, a);
    match (insn.op_kind(1), mem) {
        (OpKind::Register, _) => set_vreg(regs, insn.op_register(1), b),
        (_, Some(at)) => {
            let at = if rng.chance(90) { align16(insn, at) } else { at };
            write_data(data, at, &b.to_le_bytes());
        }
        _ => {}
    }
    if m == Mnemonic::Sha256rnds2 && rng.chance(30) {
        set_vreg(regs, Register::XMM0, edge(rng, a));
    }
    if insn.op_count() > 2 && insn.op_kind(2) == OpKind::Immediate8 && rng.chance(70) {
        let garbage = if rng.chance(20) { rng.next_u64() as u8 & 0xee } else { 0 };
        let imm = match m {
            Mnemonic::Pclmulqdq => rng.pick(&[0x00, 0x01, 0x10, 0x11]),
            Mnemonic::Sha1rnds4 => rng.below(4) as u8,
            _ => rng.pick(&[0x00, 0x01, 0x1b, 0x36, 0x80, 0xff]),
        };
        insn.set_immediate8(imm | garbage);
    }
    true
}
