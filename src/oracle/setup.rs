//! Per-form setup of oracle cases, and the flags each case leaves undefined.
//!
//! The undefined flags come from iced-x86's per-instruction table
//! (`rflags_undefined`), narrowed where the manual defines a flag for some
//! operand values: a shift or rotate by a masked count of 0 changes no flag,
//! one by 1 defines OF, and one by more leaves OF undefined.

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register, RflagsBits};

use super::cases::{Rng, STACK};
use super::native::{DATA, END, Regs};

/// x86 RFLAGS bit of each iced flag bit.
const FLAG_MAP: [(u32, u64); 7] = [
    (RflagsBits::OF, 1 << 11),
    (RflagsBits::SF, 1 << 7),
    (RflagsBits::ZF, 1 << 6),
    (RflagsBits::AF, 1 << 4),
    (RflagsBits::CF, 1),
    (RflagsBits::PF, 1 << 2),
    (RflagsBits::DF, 1 << 10),
];

pub(super) fn to_rflags(bits: u32) -> u64 {
    FLAG_MAP.iter().filter(|(b, _)| bits & b != 0).fold(0, |acc, (_, r)| acc | r)
}

pub(super) fn reg_value(regs: &Regs, reg: Register) -> u64 {
    let full = regs.gpr[reg.full_register() as usize - Register::RAX as usize];
    match reg {
        Register::AH | Register::CH | Register::DH | Register::BH => (full >> 8) & 0xff,
        _ if reg.size() >= 8 => full,
        _ => full & ((1u64 << (reg.size() * 8)) - 1),
    }
}

pub(super) fn set_reg(regs: &mut Regs, reg: Register, v: u64) {
    let i = reg.full_register() as usize - Register::RAX as usize;
    let (shift, bits) = match reg {
        Register::AH | Register::CH | Register::DH | Register::BH => (8, 8),
        _ => (0, reg.size() as u32 * 8),
    };
    let mask = if bits >= 64 { u64::MAX } else { ((1u64 << bits) - 1) << shift };
    regs.gpr[i] = (regs.gpr[i] & !mask) | ((v << shift) & mask);
}

/// Moves the memory operand down to a 16-byte boundary through its
/// displacement (the absolute target of a RIP-relative operand); `at` is
/// its address, and the aligned address is returned.
pub(super) fn align16(insn: &mut Instruction, at: u64) -> u64 {
    let delta = at & 15;
    let disp = insn.memory_displacement64().wrapping_sub(delta);
    insn.set_memory_displacement64(disp);
    if !matches!(insn.memory_base(), Register::RIP | Register::None) {
        let fits8 = (-128..128).contains(&(disp as i64));
        // A full displacement has size 8 (32 bits, sign-extended) in 64-bit addressing.
        insn.set_memory_displ_size(if fits8 { 1 } else { 8 });
    }
    at - delta
}

/// Is `reg` a vector register (XMM or MMX)?
pub(super) fn is_vreg(reg: Register) -> bool {
    reg.is_xmm() || reg.is_mm()
}

/// A vector register's value: an XMM register, or an MMX register
/// zero-extended.
pub(super) fn vreg(regs: &Regs, reg: Register) -> u128 {
    if reg.is_mm() { regs.fx.mm(reg.number()) as u128 } else { regs.fx.xmm(reg.number()) }
}

/// Sets a vector register: an XMM register, or an MMX register to the low
/// 64 bits of `v`.
pub(super) fn set_vreg(regs: &mut Regs, reg: Register, v: u128) {
    if reg.is_mm() {
        regs.fx.set_mm(reg.number(), v as u64);
    } else {
        regs.fx.set_xmm(reg.number(), v);
    }
}

pub(super) fn write_data(data: &mut [u8], addr: u64, bytes: &[u8]) {
    let at = (addr - DATA) as usize;
    data[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The count operand of a shift or rotate, before masking.
fn shift_count(insn: &Instruction, regs: &Regs) -> Option<u64> {
    if insn.op_count() < 2 {
        return None;
    }
    let last = insn.op_count() - 1;
    match insn.op_kind(last) {
        OpKind::Register if insn.op_register(last) == Register::CL => Some(regs.gpr[1] & 0xff),
        OpKind::Immediate8 => Some(insn.immediate8() as u64),
        _ => None,
    }
}

pub(super) fn is_shift(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Shl
            | Mnemonic::Sal
            | Mnemonic::Shr
            | Mnemonic::Sar
            | Mnemonic::Rol
            | Mnemonic::Ror
            | Mnemonic::Rcl
            | Mnemonic::Rcr
            | Mnemonic::Shld
            | Mnemonic::Shrd
    )
}

/// RFLAGS bits the case leaves undefined.
pub fn undefined_flags(insn: &Instruction, regs: &Regs) -> u64 {
    let mut undefined = to_rflags(insn.rflags_undefined());
    if is_shift(insn.mnemonic()) {
        let width = insn.op0_register().size().max(insn.memory_size().size()) as u64 * 8;
        let mask = if width == 64 { 63 } else { 31 };
        match shift_count(insn, regs).map(|c| c & mask) {
            Some(0) => undefined = 0,
            Some(1) => undefined &= !(1 << 11),
            // iced-x86 counts RCL/RCR by a multiple of 9 or 17 as no
            // change, but the manual leaves OF undefined and hardware sets it.
            Some(_) => undefined |= 1 << 11,
            None => {}
        }
    }
    undefined
}

/// A case being set up: its form, the instruction (a family may change
/// its operands), the registers and data it starts from, the address of
/// its memory operand, and the generator of values.
pub struct Case<'a> {
    pub code: Code,
    pub insn: &'a mut Instruction,
    pub regs: &'a mut Regs,
    pub data: &'a mut [u8],
    pub mem: Option<u64>,
    pub rng: &'a mut Rng,
}

impl Case<'_> {
    /// The same case, for one more family to look at.
    pub fn again(&mut self) -> Case<'_> {
        Case { code: self.code, insn: self.insn, regs: self.regs, data: self.data, mem: self.mem, rng: self.rng }
    }
}

/// Puts operand values where the form needs them.
pub fn adjust(mut case: Case) {
    if super::setup_avx::adjust(case.again()) {
        return;
    }
    if super::setup_mmx::uses_x87_state(case.insn) {
        super::setup_mmx::randomize(case.regs, case.rng);
    }
    let families = [
        super::setup_atomic::adjust,
        super::setup_bits::adjust,
        super::setup_crypto::adjust,
        super::setup_muldiv::adjust,
        super::setup_shift::adjust,
        super::setup_string::adjust,
        super::setup_system::adjust,
        super::setup_sse_move::adjust,
        super::setup_sse_int::adjust,
        super::setup_sse_float::adjust,
        super::setup_sse4::adjust,
        super::setup_x87::adjust,
    ];
    if families.iter().any(|adjust| adjust(case.again())) {
        return;
    }
    let Case { code, insn, regs, data, mem, rng } = case;
    let m = code.mnemonic();
    let op0_reg = (insn.op_count() > 0 && insn.op_kind(0) == OpKind::Register).then(|| insn.op0_register());
    match m {
        Mnemonic::Ret => write_data(data, STACK, &END.to_le_bytes()),
        Mnemonic::Popf | Mnemonic::Popfq => {
            // TF would single-step the harness and AC fault it: keep both clear.
            let at = (STACK - DATA) as usize;
            let image = u64::from_le_bytes(data[at..at + 8].try_into().unwrap()) & !0x4_0100;
            write_data(data, STACK, &image.to_le_bytes());
        }
        Mnemonic::Jmp | Mnemonic::Call if insn.op_kind(0) != OpKind::NearBranch64 => match op0_reg {
            Some(r) => set_reg(regs, r, END),
            None => write_data(data, mem.expect("memory target"), &END.to_le_bytes()),
        },
        Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne | Mnemonic::Jrcxz | Mnemonic::Jecxz => {
            regs.gpr[1] = rng.pick(&[0, 1, 2, 3, 0x1_0000_0000, 0x1_0000_0001, u64::MAX]);
        }
        Mnemonic::Leave | Mnemonic::Enter => regs.gpr[5] = STACK + 0x40 + 8 * rng.below(8),
        _ => {}
    }
}
