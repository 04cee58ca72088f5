//! The x87 state of oracle cases whose instruction names an MMX register
//! (or is EMMS): MMX registers alias the x87 registers, so the case starts
//! from a random x87 state (`setup_x87::randomize`: any TOP, tags and
//! 80-bit values) whose significands, the MMX registers, hold lanes of
//! edge values, some registers with the all-ones sign and exponent an MMX
//! write leaves, and now and then an unmasked x87 exception pending (#MF).
//! The families' setups then put their operand values in the registers the
//! instruction names.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::cases::{Rng, edge_vector};
use super::native::Regs;
use super::setup_x87;

/// Does the instruction name an MMX register?
pub(super) fn names_mmx(insn: &Instruction) -> bool {
    (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Register && insn.op_register(i).is_mm())
}

/// Does the instruction use the x87 state MMX shares: name an MMX
/// register, or empty it (EMMS)?
pub(super) fn uses_x87_state(insn: &Instruction) -> bool {
    names_mmx(insn) || insn.mnemonic() == Mnemonic::Emms
}

/// MMX register values: lanes of edge values of one width.
pub(super) fn mm_value(rng: &mut Rng) -> u64 {
    let bits = rng.pick(&[8, 16, 32, 64]);
    edge_vector(rng, bits, None) as u64
}

/// A random x87 state with MMX values (see the module doc).
pub(super) fn randomize(regs: &mut Regs, rng: &mut Rng) {
    setup_x87::randomize(regs, rng);
    for i in 0..8 {
        if rng.chance(70) {
            regs.fx.set_mm(i, mm_value(rng));
        }
        if rng.chance(30) {
            regs.fx.set_exponent(i, 0xffff);
        }
    }
    if rng.chance(4) {
        pending_exception(regs);
    }
}

/// An invalid-operation exception unmasked and flagged: FSW's IE, ES and B
/// set (what FXRSTOR derives ES and B from), FCW's IM clear.
pub(super) fn pending_exception(regs: &mut Regs) {
    let img = &mut regs.fx.0;
    img[0] &= !1;
    img[2] |= 0x81;
    img[3] |= 0x80;
}
