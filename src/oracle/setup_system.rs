//! Oracle case setup for segment register moves, IRET and far JMP and CALL
//! through memory (`frontend::x86::segment`), as a Linux process runs them:
//! selectors drawn around the ones Linux's GDT holds (null ones with each
//! RPL, user code and data, the kernel's, the per-CPU segment, LDT and
//! out-of-table ones) so both loads and #GP compare; FS and GS are
//! written only where the harness can give the snippet its own (a host
//! with FSGSBASE: natively they are the harness's thread pointer), and no
//! selector of 32-bit code is used (natively the snippet would go on in
//! compatibility mode). IRET pops `END` and flags without TF and AC (which
//! would trap the harness). PUSH and POP of FS and GS start from FS and GS
//! of their own (a selector Linux lets user code load, a canonical base),
//! which the harness gives them on a host with FSGSBASE.

use iced_x86::{Code, Mnemonic, OpKind, Register};

use super::cases::{Rng, STACK, set_register};
use super::native::{END, Regs, host_has_fsgsbase};
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

/// PUSH and POP of FS and GS, in both operand sizes.
pub const FS_GS_STACK: [Code; 8] = [
    Code::Pushq_FS,
    Code::Pushw_FS,
    Code::Popq_FS,
    Code::Popw_FS,
    Code::Pushq_GS,
    Code::Pushw_GS,
    Code::Popq_GS,
    Code::Popw_GS,
];

fn is_fs_gs_stack(code: Code) -> bool {
    FS_GS_STACK.contains(&code)
}

/// FS and GS of the case's own: selectors user code may load, canonical
/// bases. Not a null selector with a nonzero RPL: an interrupt landing in
/// the native run returns through IRET, which clears it, so the host cannot
/// hold one for a case (a pushed FS of 3 came out 0 on a busy machine).
fn own_fs_gs(regs: &mut Regs, rng: &mut Rng) {
    for i in 4..6 {
        regs.seg[i] = rng.pick(&[0, 0x2b, 0x7b, 0x33]);
    }
    regs.fs_base = rng.next_u64() & 0x7fff_ffff_fff8;
    regs.gs_base = rng.next_u64() & 0x7fff_ffff_fff8;
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
    if is_fs_gs_stack(code) {
        own_fs_gs(regs, rng);
        if m == Mnemonic::Pop {
            let value = if rng.chance(50) { rng.next_u64() << 16 } else { 0 };
            write_data(data, STACK, &(value | selector(rng) as u64).to_le_bytes());
        }
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
            if !host_has_fsgsbase() && matches!(insn.op0_register(), Register::FS | Register::GS) {
                set_register(insn, 0, rng.pick(&[Register::DS, Register::ES, Register::SS]));
            }
            if host_has_fsgsbase() {
                own_fs_gs(regs, rng);
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
