//! Oracle case setup for the forms of `frontend::x86::shift`: counts (in CL
//! or the immediate) drawn around the operand widths and the count masks.
//!
//! A 16-bit SHLD or SHRD by a masked count above 16 has an undefined result
//! that differs between vendors (this generator's AMD host gives the source
//! rotated by count - 16, Intel parts shift in the destination again), so
//! such counts are brought down by 16: the oracle checks only what the
//! manual defines, and stays host-independent.

use iced_x86::{Instruction, Mnemonic, OpCodeOperandKind, OpKind, Register};

use super::setup::{Case, is_shift, set_reg};

/// Counts at and around every boundary, before masking.
const COUNTS: [u64; 20] = [0, 1, 2, 7, 8, 9, 15, 16, 17, 18, 31, 32, 33, 63, 64, 65, 96, 128, 200, 255];

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, rng, .. }: Case) -> bool {
    let m = code.mnemonic();
    if !is_shift(m) {
        return false;
    }
    let last = insn.op_count() - 1;
    let by_cl = insn.op_kind(last) == OpKind::Register;
    let by_imm = !by_cl && code.op_code().op_kind(last) == OpCodeOperandKind::imm8;
    if !by_cl && !by_imm {
        // Shift by 1.
        return true;
    }
    let mut count = if rng.chance(20) { rng.below(256) } else { rng.pick(&COUNTS) };
    let bits = insn.op0_register().size().max(insn.memory_size().size()) * 8;
    if matches!(m, Mnemonic::Shld | Mnemonic::Shrd) && bits == 16 && count & 31 > 16 {
        count -= 16;
    }
    if by_cl {
        let old = regs.gpr[1];
        set_reg(regs, Register::CL, count);
        keep_address(insn, regs.gpr[1].wrapping_sub(old));
    } else {
        insn.set_immediate8(count as u8);
    }
    true
}

/// A memory operand addressed through RCX moved by `delta` with CL: move
/// the displacement back, so the operand stays inside the scratch data.
fn keep_address(insn: &mut Instruction, delta: u64) {
    if insn.op_kind(0) != OpKind::Memory {
        return;
    }
    let mut disp = insn.memory_displacement64();
    if insn.memory_base() == Register::RCX {
        disp = disp.wrapping_sub(delta);
    }
    if insn.memory_index() == Register::RCX {
        disp = disp.wrapping_sub(delta.wrapping_mul(insn.memory_index_scale() as u64));
    }
    if disp != insn.memory_displacement64() {
        insn.set_memory_displacement64(disp);
        insn.set_memory_displ_size(4);
    }
}
