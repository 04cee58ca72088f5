//! Oracle case setup for the forms of `frontend::x86::atomic`: CMPXCHG,
//! CMPXCHG8B and CMPXCHG16B find the accumulator (EDX:EAX, RDX:RAX) equal
//! to the destination half the time; CMPXCHG16B's operand is moved to a
//! 16-byte boundary most of the time (else #GP); LOCK on a register
//! destination is drawn now and then (#UD).

use iced_x86::{Mnemonic, OpKind, Register};

use super::setup::{Case, align16, reg_value, set_reg, write_data};

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    let m = code.mnemonic();
    if !matches!(m, Mnemonic::Cmpxchg | Mnemonic::Xadd | Mnemonic::Cmpxchg8b | Mnemonic::Cmpxchg16b) {
        return false;
    }
    if insn.op_kind(0) == OpKind::Register && rng.chance(5) {
        insn.set_has_lock_prefix(true);
    }
    let equal = rng.chance(50);
    match m {
        Mnemonic::Cmpxchg if equal => {
            let size = insn.memory_size().size().max(insn.op0_register().size());
            let acc = regs.gpr[0];
            match mem {
                Some(at) => write_data(data, at, &acc.to_le_bytes()[..size]),
                None => set_reg(regs, insn.op0_register(), acc),
            }
        }
        Mnemonic::Cmpxchg8b | Mnemonic::Cmpxchg16b => {
            let at = mem.expect("memory operand");
            let at = if m == Mnemonic::Cmpxchg16b && rng.chance(85) { align16(insn, at) } else { at };
            if equal {
                let half = insn.memory_size().size() / 2;
                for (i, reg) in [Register::RAX, Register::RDX].into_iter().enumerate() {
                    let v = reg_value(regs, reg).to_le_bytes();
                    write_data(data, at + (i * half) as u64, &v[..half]);
                }
            }
        }
        _ => {}
    }
    true
}
