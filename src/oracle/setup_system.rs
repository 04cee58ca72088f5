//! Oracle case setup for segment register moves, IRET and far JMP and CALL
//! through memory (`frontend::x86::segment`), as a Linux process runs them:
//! selectors drawn around the ones Linux's GDT holds (null ones with each
//! RPL, user code and data, the kernel's, the per-CPU segment, LDT and
//! out-of-table ones) so both loads and #GP compare; FS and GS are never
//! written (natively their bases are the harness's thread pointer) and no
//! selector of 32-bit code is used (natively the snippet would go on in
//! compatibility mode). IRET pops `END` and flags without TF and AC (which
//! would trap the harness).

use iced_x86::{Code, Mnemonic, OpKind, Register};

use super::cases::{Rng, STACK, set_register};
use super::native::END;
use super::setup::{Case, set_reg, write_data};

/// Selectors to load: Linux's user ones most of the time.
fn selector(rng: &mut Rng) -> u16 {
    const SELECTORS: [u16; 18] =
        [0, 1, 2, 3, 0x2b, 0x28, 0x2a, 0x33, 0x30, 0x7b, 0x78, 0x10, 0x18, 0x08, 0x13, 0x63, 0x2f, 0x80];
    match rng.below(10) {
        0 => rng.next_u64() as u16 & !0x20 | 0x40,
        1..4 => rng.pick(&[0x2b, 0x33, 0]),
        _ => rng.pick(&SELECTORS),
    }
}

/// A code selector for a far transfer or IRET: 0x33 most of the time, else
/// one that faults (never 32-bit code).
fn code_selector(rng: &mut Rng) -> u16 {
    if rng.chance(70) { 0x33 } else { rng.pick(&[0x30, 0x31, 0x2b, 0x10, 0x13, 0x3b, 0, 0x7b]) }
}

fn far_size(code: Code) -> Option<usize> {
    match code {
        Code::Jmp_m1632 | Code::Call_m1632 => Some(4),
        Code::Jmp_m1664 | Code::Call_m1664 => Some(8),
        _ => None,
    }
}

/// The far forms the oracle runs (the 16-bit ones would leave RIP in the
/// low 64 KiB).
pub(super) fn is_far_memory(code: Code) -> bool {
    far_size(code).is_some()
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    let m = code.mnemonic();
    if let Some(size) = far_size(code) {
        let at = mem.expect("far pointer in memory");
        write_data(data, at, &END.to_le_bytes()[..size]);
        write_data(data, at + size as u64, &code_selector(rng).to_le_bytes());
        return true;
    }
    match m {
        Mnemonic::Iretd | Mnemonic::Iretq => {
            let size = if m == Mnemonic::Iretd { 4 } else { 8 };
            let flags = rng.next_u64() & !0x4_0100;
            let ss = if rng.chance(70) { 0x2b } else { selector(rng) as u64 };
            let rsp = STACK + 0x40 + 8 * rng.below(8);
            let words = [END, code_selector(rng) as u64, flags, rsp, ss];
            for (i, w) in words.iter().enumerate() {
                write_data(data, STACK + (i * size) as u64, &w.to_le_bytes()[..size]);
            }
            true
        }
        Mnemonic::Mov if insn.op_kind(0) == OpKind::Register && insn.op0_register().is_segment_register() => {
            if matches!(insn.op0_register(), Register::FS | Register::GS) {
                set_register(insn, 0, rng.pick(&[Register::DS, Register::ES, Register::SS]));
            }
            let sel = selector(rng);
            match insn.op_kind(1) {
                OpKind::Register => {
                    let reg = insn.op_register(1);
                    set_reg(regs, reg, rng.next_u64() << 16 | sel as u64);
                }
                _ => write_data(data, mem.expect("selector in memory"), &sel.to_le_bytes()),
            }
            true
        }
        _ => false,
    }
}
