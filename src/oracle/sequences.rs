//! Random instruction sequences for the oracle's long mode: several lifted
//! instructions in a row, so what one leaves in registers, flags and memory
//! is what the next consumes.
//!
//! Memory operands are R15-relative (R15 points into the scratch data and no
//! instruction names it or RSP) or RIP-relative into the data, so every
//! access stays inside what both runs share. A flag the architecture leaves
//! undefined is tracked through the sequence: no later instruction may read
//! it, and it is masked at the end unless a later instruction defines it.

use iced_x86::{
    BlockEncoder, BlockEncoderOptions, Code, Instruction, InstructionBlock, Mnemonic, OpCodeOperandKind as K, OpKind,
    Register,
};

use super::Case;
use super::cases::{DATA_LEN, Rng, STACK, immediate, register_for, set_register, value};
use super::native::{CODE, DATA, END, Regs};
use super::setup::{is_shift, to_rflags};

/// Where R15 points during a sequence.
pub(super) const R15_AT: u64 = DATA + 0x800;

/// Mnemonics of the lifted general-purpose forms a sequence may contain:
/// no control transfers, string instructions, or forms that reach memory
/// through registers the sequence changes.
pub const SEQUENCE_MNEMONICS: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Add, Adc, Sub, Sbb, Cmp, And, Or, Xor, Test, Inc, Dec, Neg, Not, Mov, Movzx, Movsx, Movsxd, Xchg, Bswap, Lea,
        Cbw, Cwde, Cdqe, Cwd, Cdq, Cqo, Cmovo, Cmovno, Cmovb, Cmovae, Cmove, Cmovne, Cmovbe, Cmova, Cmovs, Cmovns,
        Cmovp, Cmovnp, Cmovl, Cmovge, Cmovle, Cmovg, Seto, Setno, Setb, Setae, Sete, Setne, Setbe, Seta, Sets, Setns,
        Setp, Setnp, Setl, Setge, Setle, Setg, Push, Pop, Pushfq, Clc, Stc, Cmc, Cld, Std, Lahf, Sahf, Nop, Shl, Sal,
        Shr, Sar, Rol, Ror, Rcl, Rcr, Shld, Shrd, Mul, Imul, Div, Idiv, Bt, Bts, Btr, Btc, Bsf, Bsr, Lzcnt, Tzcnt,
        Popcnt, Andn, Blsi, Blsr, Blsmsk, Bextr, Bzhi, Pdep, Pext, Sarx, Shlx, Shrx, Rorx, Mulx, Adcx, Adox, Cmpxchg,
        Xadd,
    ]
};

fn is_reserved(reg: Register) -> bool {
    reg != Register::None && matches!(reg.full_register(), Register::RSP | Register::R15)
}

/// Makes operand `i` the memory at `target`: R15-relative, or now and then
/// RIP-relative.
pub(super) fn set_memory(insn: &mut Instruction, i: u32, target: u64, rng: &mut Rng) {
    insn.set_op_kind(i, OpKind::Memory);
    if rng.chance(20) {
        insn.set_memory_base(Register::RIP);
        insn.set_memory_displacement64(target);
    } else {
        insn.set_memory_base(Register::R15);
        insn.set_memory_displacement64(target.wrapping_sub(R15_AT));
    }
    // 8: a full (32-bit, sign-extended) displacement in 64-bit addressing.
    insn.set_memory_displ_size(8);
}

/// One instruction of a form with its memory operand based on R15 (or RIP).
fn instruction(code: Code, rng: &mut Rng) -> Option<Instruction> {
    let op = code.op_code();
    let mut insn = Instruction::default();
    insn.set_code(code);
    for i in 0..op.op_count() {
        let kind = op.op_kind(i);
        let use_mem = match kind {
            K::mem => true,
            K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::r64_or_mem => rng.chance(40),
            _ => false,
        };
        if use_mem {
            let target = DATA + 0x100 + rng.below(DATA_LEN as u64 - 0x200 - 16);
            set_memory(&mut insn, i, target, rng);
        } else if let Some(reg) = register_for(kind, rng) {
            if is_reserved(reg) {
                return None;
            }
            set_register(&mut insn, i, reg);
        } else if let Some((k, v)) = immediate(kind, rng) {
            insn.set_op_kind(i, k);
            insn.set_immediate_u64(i, v);
        } else {
            return None;
        }
    }
    // A register bit offset into memory reaches beyond the operand.
    let far_bit = matches!(code.mnemonic(), Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc)
        && insn.op_kind(0) == OpKind::Memory
        && insn.op_kind(1) == OpKind::Register;
    // 16-bit SHLD/SHRD by more than 16 leave the result undefined; the
    // count is not known here, so they are left to the single-form tests.
    let undefined_result = matches!(code.mnemonic(), Mnemonic::Shld | Mnemonic::Shrd) && op.operand_size() == 16;
    if far_bit || undefined_result {
        return None;
    }
    if op.can_use_lock_prefix() && insn.op_kind(0) == OpKind::Memory && rng.chance(20) {
        insn.set_has_lock_prefix(true);
    }
    Some(insn)
}

/// A sequence of `len` random instructions from `forms`, then `jmp END`.
pub fn sequence_case(forms: &[Code], len: usize, rng: &mut Rng) -> Option<Case> {
    let mut seq = Sequence::default();
    let mut tries = 0;
    while seq.len() < len {
        tries += 1;
        if tries > len * 50 {
            return None;
        }
        if let Some(insn) = instruction(rng.pick(forms), rng) {
            seq.push(insn);
        }
    }
    let regs = initial_regs(rng);
    let data = (0..DATA_LEN).map(|_| rng.next_u64() as u8).collect();
    seq.case(regs, data)
}

/// Random registers for a sequence (RSP at the stack, R15 at `R15_AT`)
/// and random flags.
pub(super) fn initial_regs(rng: &mut Rng) -> Regs {
    let mut regs = Regs::default();
    for (i, r) in regs.gpr.iter_mut().enumerate() {
        *r = match i {
            4 => STACK,
            15 => R15_AT,
            _ => value(rng, 64),
        };
    }
    let flag_bits = [0u64, 2, 4, 6, 7, 10, 11];
    regs.rflags = 0x202 | flag_bits.iter().fold(0, |acc, b| acc | if rng.chance(50) { 1 << b } else { 0 });
    regs
}

/// The instructions of a sequence so far, with the flags each leaves
/// undefined.
#[derive(Default)]
pub(super) struct Sequence {
    list: Vec<Instruction>,
    /// Flags undefined after the last instruction.
    undefined: u64,
    /// Flags undefined before each instruction.
    before: Vec<u64>,
}

impl Sequence {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Appends `insn` unless it reads a flag left undefined; returns whether
    /// it did.
    pub(super) fn push(&mut self, mut insn: Instruction) -> bool {
        if to_rflags(insn.rflags_read()) & self.undefined != 0 {
            return false;
        }
        self.before.push(self.undefined);
        let modified = to_rflags(insn.rflags_modified());
        let now_undefined = to_rflags(insn.rflags_undefined());
        // A shift or rotate may leave every flag as it was (count 0), so it
        // never makes a flag defined again; and its OF is undefined for any
        // count but 1 (processors differ even where the masked count is a
        // multiple of 9 or 17 for RCL/RCR), so OF is taken as undefined.
        self.undefined = if is_shift(insn.mnemonic()) {
            self.undefined | now_undefined | 1 << 11
        } else {
            (self.undefined & !modified) | now_undefined
        };
        insn.set_ip(self.list.len() as u64 + 1);
        self.list.push(insn);
        true
    }

    /// The case: the instructions, then `jmp END`, from `regs` and `data`.
    pub(super) fn case(mut self, regs: Regs, data: Vec<u8>) -> Option<Case> {
        let mut end = Instruction::with_branch(Code::Jmp_rel32_64, END).ok()?;
        end.set_ip(self.list.len() as u64 + 1);
        self.list.push(end);
        let options = BlockEncoderOptions::DONT_FIX_BRANCHES | BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS;
        let encoded = BlockEncoder::encode(64, InstructionBlock::new(&self.list, CODE), options).ok()?;
        let undefined_before =
            encoded.new_instruction_offsets.iter().zip(self.before).map(|(off, m)| (CODE + *off as u64, m)).collect();
        Some(Case { code: encoded.code_buffer, regs, data, undefined_flags: self.undefined, undefined_before })
    }
}
