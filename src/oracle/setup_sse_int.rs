//! Oracle case setup for the forms of `frontend::x86::sse_int`, XMM and
//! MMX: shift counts (imm8, or the low 64 bits of the count register,
//! m128 or m64, whose high bits stay random) drawn around the lane widths
//! and beyond 32 bits, and lane edge values (zero, one, the signed and
//! unsigned extremes, lanes equal to the destination's) in the operands of
//! the arithmetic forms.

use iced_x86::{Code, Mnemonic, OpKind};

use super::cases::{Rng, edge_vector};
use super::setup::{Case, is_vreg, set_vreg, vreg, write_data};

/// The lane width in bits of each mnemonic this setup owns.
const LANE_BITS: &[(Mnemonic, u32)] = {
    use Mnemonic::*;
    &[
        (Paddb, 8),
        (Paddw, 16),
        (Paddd, 32),
        (Paddq, 64),
        (Psubb, 8),
        (Psubw, 16),
        (Psubd, 32),
        (Psubq, 64),
        (Paddsb, 8),
        (Paddsw, 16),
        (Paddusb, 8),
        (Paddusw, 16),
        (Psubsb, 8),
        (Psubsw, 16),
        (Psubusb, 8),
        (Psubusw, 16),
        (Pmullw, 16),
        (Pmulhw, 16),
        (Pmulhuw, 16),
        (Pmuludq, 32),
        (Pmaddwd, 16),
        (Pavgb, 8),
        (Pavgw, 16),
        (Psadbw, 8),
        (Pminub, 8),
        (Pmaxub, 8),
        (Pminsw, 16),
        (Pmaxsw, 16),
        (Pcmpeqb, 8),
        (Pcmpeqw, 16),
        (Pcmpeqd, 32),
        (Pcmpgtb, 8),
        (Pcmpgtw, 16),
        (Pcmpgtd, 32),
        (Psllw, 16),
        (Pslld, 32),
        (Psllq, 64),
        (Psrlw, 16),
        (Psrld, 32),
        (Psrlq, 64),
        (Psraw, 16),
        (Psrad, 32),
        (Pslldq, 128),
        (Psrldq, 128),
    ]
};

/// Counts at and around every lane width (and byte-shift width).
const COUNTS: [u64; 20] = [0, 1, 2, 7, 8, 9, 14, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 200, 255];

/// Counts that only the whole 64-bit count operand tells from small ones.
const WIDE_COUNTS: [u64; 5] = [1 << 32, (1 << 32) | 3, 1 << 63, u64::MAX, 0x100];

/// The element and byte shifts.
pub(super) fn is_shift(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Psllw | Pslld | Psllq | Psrlw | Psrld | Psrlq | Psraw | Psrad | Pslldq | Psrldq)
}

/// True for the forms this setup owns.
pub(super) fn owns(code: Code) -> bool {
    LANE_BITS.iter().any(|(m, _)| *m == code.mnemonic())
}

/// A shift count: mostly at and around the lane widths, now and then one
/// only the whole 64-bit count tells from a small one, or any byte.
pub(super) fn shift_count(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0..2 => rng.below(256),
        2 => rng.pick(&WIDE_COUNTS),
        _ => rng.pick(&COUNTS),
    }
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    let m = code.mnemonic();
    let Some(&(_, bits)) = LANE_BITS.iter().find(|(x, _)| *x == m) else {
        return false;
    };
    if insn.op_count() < 2 || insn.op_kind(0) != OpKind::Register || !is_vreg(insn.op0_register()) {
        return true;
    }
    let dst = insn.op0_register();
    if is_shift(m) {
        // The destination first: it may be the count register too.
        if rng.chance(50) {
            set_vreg(regs, dst, edge_vector(rng, bits.min(64), None));
        }
        let count = shift_count(rng);
        match insn.op_kind(1) {
            OpKind::Immediate8 => insn.set_immediate8(count as u8),
            OpKind::Register => {
                let src = insn.op_register(1);
                let old = vreg(regs, src);
                set_vreg(regs, src, (old & !(u64::MAX as u128)) | count as u128);
            }
            _ => write_data(data, mem.expect("memory count"), &count.to_le_bytes()),
        }
        return true;
    }
    if rng.chance(60) {
        let a = edge_vector(rng, bits, None);
        set_vreg(regs, dst, a);
        let b = edge_vector(rng, bits, Some(a));
        match (insn.op_kind(1), mem) {
            (OpKind::Register, _) => set_vreg(regs, insn.op_register(1), b),
            (_, Some(at)) => write_data(data, at, &b.to_le_bytes()),
            _ => {}
        }
    }
    true
}
