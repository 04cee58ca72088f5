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
const R15_AT: u64 = DATA + 0x800;

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
            insn.set_op_kind(i, OpKind::Memory);
            let target = DATA + 0x100 + rng.below(DATA_LEN as u64 - 0x200 - 16);
            if rng.chance(20) {
                insn.set_memory_base(Register::RIP);
                insn.set_memory_displacement64(target);
                insn.set_memory_displ_size(8);
            } else {
                insn.set_memory_base(Register::R15);
                insn.set_memory_displacement64(target.wrapping_sub(R15_AT));
                // 8: a full (32-bit, sign-extended) displacement in 64-bit addressing.
                insn.set_memory_displ_size(8);
            }
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
    let mut list = Vec::with_capacity(len + 1);
    let mut undefined = 0u64;
    let mut before = Vec::with_capacity(len);
    let mut tries = 0;
    while list.len() < len {
        tries += 1;
        if tries > len * 50 {
            return None;
        }
        let Some(mut insn) = instruction(rng.pick(forms), rng) else { continue };
        if to_rflags(insn.rflags_read()) & undefined != 0 {
            continue;
        }
        before.push(undefined);
        let modified = to_rflags(insn.rflags_modified());
        let now_undefined = to_rflags(insn.rflags_undefined());
        // A shift or rotate may leave every flag as it was (count 0), so it
        // never makes a flag defined again; and its OF is undefined for any
        // count but 1 (processors differ even where the masked count is a
        // multiple of 9 or 17 for RCL/RCR), so OF is taken as undefined.
        undefined = if is_shift(insn.mnemonic()) {
            undefined | now_undefined | 1 << 11
        } else {
            (undefined & !modified) | now_undefined
        };
        insn.set_ip(list.len() as u64 + 1);
        list.push(insn);
    }
    let mut end = Instruction::with_branch(Code::Jmp_rel32_64, END).ok()?;
    end.set_ip(list.len() as u64 + 1);
    list.push(end);
    let options = BlockEncoderOptions::DONT_FIX_BRANCHES | BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS;
    let encoded = BlockEncoder::encode(64, InstructionBlock::new(&list, CODE), options).ok()?;
    let undefined_before =
        encoded.new_instruction_offsets.iter().zip(before).map(|(off, m)| (CODE + *off as u64, m)).collect();
    let code = encoded.code_buffer;
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
    let data = (0..DATA_LEN).map(|_| rng.next_u64() as u8).collect();
    Some(Case { code, regs, data, undefined_flags: undefined, undefined_before })
}
