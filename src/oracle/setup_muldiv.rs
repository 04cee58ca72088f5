//! Oracle case setup for the forms of `frontend::x86::muldiv`.
//!
//! Multiplications often get half-width factors, so products that fit
//! (CF = OF = 0) are as common as ones that do not. Most divisions get a
//! divisor and dividend whose quotient fits; some are left random (divide
//! errors), some divide by zero. Registers that address the memory operand
//! are never changed.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::cases::{Rng, value};
use super::native::Regs;
use super::setup::{Case, reg_value, set_reg, write_data};

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    match code.mnemonic() {
        Mnemonic::Mul | Mnemonic::Imul => multiply(insn, regs, data, mem, rng),
        Mnemonic::Div | Mnemonic::Idiv => divide(insn, regs, data, mem, rng),
        _ => return false,
    }
    true
}

fn operand_bytes(insn: &Instruction) -> usize {
    if insn.op_kind(0) == OpKind::Register { insn.op0_register().size() } else { insn.memory_size().size() }
}

fn mask(bits: u32) -> u64 {
    if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

/// True when the register shares its full register with the memory operand's address.
fn addresses(insn: &Instruction, reg: Register) -> bool {
    let full = reg.full_register();
    (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Memory)
        && (insn.memory_base().full_register() == full || insn.memory_index().full_register() == full)
}

/// The accumulator pair of an operand size: (low, high).
fn pair(bytes: usize) -> (Register, Register) {
    match bytes {
        1 => (Register::AL, Register::AH),
        2 => (Register::AX, Register::DX),
        4 => (Register::EAX, Register::EDX),
        _ => (Register::RAX, Register::RDX),
    }
}

/// Sets a register operand unless it addresses memory.
fn set_free(insn: &Instruction, regs: &mut Regs, reg: Register, v: u64) {
    if !addresses(insn, reg) {
        set_reg(regs, reg, v);
    }
}

/// Each factor (the accumulator of the one-operand forms included) is
/// replaced, now and then, by a small value of either sign.
fn multiply(insn: &Instruction, regs: &mut Regs, data: &mut [u8], mem: Option<u64>, rng: &mut Rng) {
    let bytes = operand_bytes(insn);
    let bits = bytes as u32 * 8;
    let small = |rng: &mut Rng| {
        let v = rng.next_u64() & mask(bits / 2 - 1);
        if rng.chance(50) { v.wrapping_neg() } else { v }
    };
    if insn.op_count() == 1 && rng.chance(40) {
        let v = small(rng);
        set_free(insn, regs, pair(bytes).0, v);
    }
    for i in 0..insn.op_count() {
        if !rng.chance(40) {
            continue;
        }
        let v = small(rng);
        match insn.op_kind(i) {
            OpKind::Register => set_free(insn, regs, insn.op_register(i), v),
            OpKind::Memory => write_data(data, mem.expect("memory factor"), &v.to_le_bytes()[..bytes]),
            _ => {}
        }
    }
}

fn divide(insn: &Instruction, regs: &mut Regs, data: &mut [u8], mem: Option<u64>, rng: &mut Rng) {
    let bytes = operand_bytes(insn);
    let bits = bytes as u32 * 8;
    let mask = mask(bits);
    let divisor = match rng.below(10) {
        0 => 0,
        1 => mask,
        _ => value(rng, bits) & mask,
    };
    match insn.op_kind(0) {
        // The divisor register may also be part of the dividend.
        OpKind::Register => set_reg(regs, insn.op0_register(), divisor),
        _ => write_data(data, mem.expect("memory divisor"), &divisor.to_le_bytes()[..bytes]),
    }
    if rng.chance(20) {
        return;
    }
    let divisor = if insn.op_kind(0) == OpKind::Register { reg_value(regs, insn.op0_register()) } else { divisor };
    let (lo_reg, hi_reg) = pair(bytes);
    let hi = if insn.mnemonic() == Mnemonic::Div {
        if divisor == 0 { 0 } else { rng.next_u64() % divisor }
    } else {
        let negative = (reg_value(regs, lo_reg) >> (bits - 1)) & 1 == 1;
        if negative { mask } else { 0 }
    };
    set_free(insn, regs, hi_reg, hi);
}
