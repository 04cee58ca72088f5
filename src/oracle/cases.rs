//! Random oracle cases for x86 instruction forms, built with iced-x86's
//! encoder from each form's operand kinds: random registers of every size
//! (general, XMM, MMX), every addressing mode (base, index, scale,
//! displacement, RIP-relative) kept inside the scratch data, and operand
//! values mixed with edge values. Per-mnemonic setup puts divisors,
//! counts, stack contents and branch targets where the form needs them
//! (and a random x87 state under the MMX registers).

use iced_x86::{
    BlockEncoder, BlockEncoderOptions, Code, CpuidFeature, EncodingKind, Instruction, InstructionBlock, Mnemonic,
    OpCodeOperandKind as K, OpKind, Register,
};

use super::Case;
use super::native::{CODE, DATA, END, Regs};

/// A small, fast, reproducible generator (xorshift64*).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A value of `bits` width, often an edge value, sign-extended to 64 bits
/// half the time so narrow operands see varied upper bits too.
pub fn value(rng: &mut Rng, bits: u32) -> u64 {
    let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let sign = 1u64 << (bits - 1);
    let v = match rng.below(12) {
        0 => 0,
        1 => 1,
        2 => mask,
        3 => sign,
        4 => sign - 1,
        5 => sign + 1,
        6 => mask - 1,
        7 => rng.below(16),
        8 => 0x0f0f_0f0f_0f0f_0f0f & mask,
        _ => rng.next_u64() & mask,
    };
    let upper = if rng.chance(50) { rng.next_u64() & !mask } else { 0 };
    v | upper
}

/// A float bit pattern of `bits` (32 or 64), often a special value: zeros,
/// infinities, quiet and signalling NaNs with payloads, subnormals, the
/// extremes of the normal range, small integers.
pub fn float_value(rng: &mut Rng, bits: u32) -> u64 {
    let (mant, exp_mask, sign) = if bits == 32 { (23, 0xffu64, 1u64 << 31) } else { (52, 0x7ff, 1 << 63) };
    let frac_mask = (1u64 << mant) - 1;
    let quiet = 1u64 << (mant - 1);
    let inf = exp_mask << mant;
    let v = match rng.below(16) {
        0 => 0,
        1 => inf,
        2 => inf | quiet | (rng.next_u64() & (quiet - 1)),
        3 => inf | ((rng.next_u64() & (quiet - 1)) | 1),
        4 => rng.next_u64() & frac_mask,
        5 => 1,
        6 => 1 << mant,
        7 => (inf - 1) & !sign,
        8 => {
            let one = (exp_mask >> 1) << mant;
            one + (rng.below(8) << (mant - 3))
        }
        9 => {
            // An integer-valued float near a rounding boundary.
            let k = rng.below(64) as f64 + 0.5;
            if bits == 32 { (k as f32).to_bits() as u64 } else { k.to_bits() }
        }
        _ => rng.next_u64() & ((sign << 1).wrapping_sub(1)) & !sign,
    };
    if rng.chance(50) { v | sign } else { v }
}

/// A 128-bit vector of float lanes, integer lanes, or random bits.
pub fn vector_value(rng: &mut Rng) -> u128 {
    match rng.below(4) {
        0 => (0..4).fold(0, |acc, i| acc | (float_value(rng, 32) as u128) << (32 * i)),
        1 => (0..2).fold(0, |acc, i| acc | (float_value(rng, 64) as u128) << (64 * i)),
        2 => (0..2).fold(0, |acc, i| acc | (value(rng, 64) as u128) << (64 * i)),
        _ => (rng.next_u64() as u128) << 64 | rng.next_u64() as u128,
    }
}

/// A vector of `bits`-wide lanes (`bits` up to 64), each an edge value,
/// random, or (with `like`) the same as `like`'s lane.
pub fn edge_vector(rng: &mut Rng, bits: u32, like: Option<u128>) -> u128 {
    let mask = u128::MAX >> (128 - bits);
    (0..128 / bits).fold(0, |acc, i| {
        let lane = match like {
            Some(v) if rng.chance(30) => (v >> (i * bits)) & mask,
            _ => value(rng, bits) as u128 & mask,
        };
        acc | lane << (i * bits)
    })
}

/// Random XMM registers and YMM upper halves, and MXCSR with a random rounding mode; in half the
/// cases random exception flags already set (a block is translated for the flags set when it
/// starts), in a quarter DAZ and FTZ drawn at random (else both clear), and in a tenth some of
/// the six exceptions unmasked, so that a float instruction raising one faults with #XM (SIGFPE
/// natively).
pub(super) fn randomize_fp(regs: &mut Regs, rng: &mut Rng) {
    for i in 0..16 {
        regs.fx.set_xmm(i, vector_value(rng));
        regs.ymmh[i] = vector_value(rng);
    }
    let flags = if rng.chance(50) { rng.below(64) as u32 } else { 0 };
    let daz_ftz = if rng.chance(25) { (rng.below(2) as u32) << 6 | (rng.below(2) as u32) << 15 } else { 0 };
    // A nonempty subset of the exceptions, as mask bits 7-12.
    let unmasked = if rng.chance(10) { (rng.below(63) as u32 + 1) << 7 } else { 0 };
    regs.fx.set_mxcsr((0x1f80 & !unmasked) | (rng.below(4) as u32) << 13 | daz_ftz | flags);
}

/// Bytes of scratch data cases use: the stack sits in the middle.
pub const DATA_LEN: usize = 0x2000;
pub const STACK: u64 = DATA + 0x1000;

const GPR64: [Register; 16] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RSP,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];

fn gpr(rng: &mut Rng, bytes: usize) -> Register {
    let full = rng.pick(&GPR64);
    sized(full, bytes, rng)
}

/// The `bytes`-wide part of a 64-bit register (AH to BH now and then for
/// a byte of RAX to RBX).
pub(super) fn sized(full: Register, bytes: usize, rng: &mut Rng) -> Register {
    let i = full as u32 - Register::RAX as u32;
    match bytes {
        8 => full,
        4 => Register::EAX + i,
        2 => Register::AX + i,
        _ if i < 4 && rng.chance(30) => Register::AH + i,
        _ if i < 4 => Register::AL + i,
        _ => Register::SPL + (i - 4),
    }
}

fn index_of(reg: Register) -> usize {
    reg.full_register() as usize - Register::RAX as usize
}

/// Operand kinds the generator fills in.
fn supported(kind: K) -> bool {
    matches!(
        kind,
        K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r64_or_mem
            | K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_opcode
            | K::r16_rm
            | K::r32_reg
            | K::r32_opcode
            | K::r32_rm
            | K::r64_reg
            | K::r64_opcode
            | K::r64_rm
            | K::r32_vvvv
            | K::xmm_reg
            | K::xmm_rm
            | K::xmm_or_mem
            | K::xmm_vvvv
            | K::xmm_is4
            | K::ymm_reg
            | K::ymm_rm
            | K::ymm_or_mem
            | K::ymm_vvvv
            | K::ymm_is4
            | K::mem_vsib32x
            | K::mem_vsib32y
            | K::mem_vsib64x
            | K::mem_vsib64y
            | K::mm_reg
            | K::mm_rm
            | K::mm_or_mem
            | K::r64_vvvv
            | K::mem
            | K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm8sex64
            | K::imm16
            | K::imm32
            | K::imm32sex64
            | K::imm64
            | K::al
            | K::cl
            | K::ax
            | K::eax
            | K::rax
            | K::dx
            | K::br64_1
            | K::br64_4
            | K::seg_rSI
            | K::es_rDI
            | K::seg_rDI
            | K::seg_rBX_al
            | K::mem_offs
            | K::st0
            | K::sti_opcode
            | K::seg_reg
    )
}

/// 16-bit near branches leave RIP in the low 64 KiB, outside anything the
/// native run can catch: they are not compared, nor are indirect branches
/// through memory but the far ones of 32 and 64 bits, which
/// `setup_system` fills.
fn is_branch(m: Mnemonic) -> bool {
    matches!(m, Mnemonic::Call | Mnemonic::Jmp | Mnemonic::Ret) || format!("{m:?}").starts_with('J')
}

/// Every legacy- or VEX-encoded 64-bit-mode form of the given mnemonics
/// whose operands the generator can fill (VEX ones are the GPR forms of
/// BMI1/BMI2; Knights Corner forms do not decode in 64-bit mode).
pub fn forms(mnemonics: &[Mnemonic]) -> Vec<Code> {
    forms_where(|c| mnemonics.contains(&c.mnemonic()))
}

/// The forms `forms` would give for every mnemonic, narrowed to those
/// `wanted` accepts.
pub fn forms_where(wanted: impl Fn(Code) -> bool) -> Vec<Code> {
    Code::values()
        .filter(|c| {
            let op = c.op_code();
            op.is_instruction()
                && (op.encoding() == EncodingKind::Legacy
                    || (op.encoding() == EncodingKind::VEX && !c.cpuid_features().contains(&CpuidFeature::KNC)))
                && op.mode64()
                && wanted(*c)
                && super::vendors::host_runs_as_visa(*c)
                && op.op_kinds().iter().all(|k| supported(*k))
                && !(is_branch(c.mnemonic())
                    && (op.operand_size() == 16
                        || (op.op_kinds() == [K::mem] && !super::setup_system::is_far_memory(*c))))
        })
        .collect()
}

/// A memory operand inside the scratch data: `(base, index, scale, disp)`
/// with register values chosen so the address lands at `target`.
struct MemPlan {
    base: Option<Register>,
    index: Option<(Register, u32)>,
    disp: i64,
    rip_relative: bool,
}

fn plan_memory(rng: &mut Rng, target: u64, values: &mut [Option<u64>; 16], insn_len_guess: u64) -> MemPlan {
    let _ = insn_len_guess;
    if rng.chance(10) {
        return MemPlan { base: None, index: None, disp: target as i64, rip_relative: true };
    }
    let free = |rng: &mut Rng, values: &[Option<u64>; 16], allow_rsp: bool| -> Option<Register> {
        for _ in 0..8 {
            let r = rng.pick(&GPR64);
            if (r != Register::RSP || allow_rsp) && values[index_of(r)].is_none() {
                return Some(r);
            }
        }
        None
    };
    let disp: i64 = match rng.below(3) {
        0 => 0,
        1 => rng.below(256) as i64 - 128,
        _ => rng.below(0x800) as i64 - 0x400,
    };
    let index = if rng.chance(50) {
        free(rng, values, false).map(|r| {
            let scale = rng.pick(&[1u32, 2, 4, 8]);
            let v = rng.below(32);
            values[index_of(r)] = Some(v);
            (r, scale)
        })
    } else {
        None
    };
    let idx_part = index.map_or(0, |(r, s)| values[index_of(r)].unwrap() * s as u64);
    let base = if index.is_none() || rng.chance(80) { free(rng, values, false) } else { None };
    match base {
        Some(b) => values[index_of(b)] = Some(target.wrapping_sub(idx_part).wrapping_sub(disp as u64)),
        None => {
            // Index only: the displacement carries the address.
            return MemPlan { base: None, index, disp: target.wrapping_sub(idx_part) as i64, rip_relative: false };
        }
    }
    MemPlan { base, index, disp, rip_relative: false }
}

pub(super) fn set_register(insn: &mut Instruction, i: u32, reg: Register) {
    insn.set_op_kind(i, OpKind::Register);
    insn.set_op_register(i, reg);
}

/// The width in bytes of an operand kind that takes any general register.
pub(super) fn gpr_width(kind: K) -> Option<usize> {
    Some(match kind {
        K::r8_or_mem | K::r8_reg | K::r8_opcode => 1,
        K::r16_or_mem | K::r16_reg | K::r16_opcode | K::r16_rm => 2,
        K::r32_or_mem | K::r32_reg | K::r32_opcode | K::r32_rm | K::r32_vvvv => 4,
        K::r64_or_mem | K::r64_reg | K::r64_opcode | K::r64_rm | K::r64_vvvv => 8,
        _ => return None,
    })
}

/// True for the operand kinds that take any XMM register.
pub(super) fn is_xmm_kind(kind: K) -> bool {
    matches!(kind, K::xmm_reg | K::xmm_rm | K::xmm_or_mem | K::xmm_vvvv | K::xmm_is4)
}

/// True for the operand kinds that take any YMM register.
pub(super) fn is_ymm_kind(kind: K) -> bool {
    matches!(kind, K::ymm_reg | K::ymm_rm | K::ymm_or_mem | K::ymm_vvvv | K::ymm_is4)
}

/// True for the operand kinds that take any MMX register.
pub(super) fn is_mm_kind(kind: K) -> bool {
    matches!(kind, K::mm_reg | K::mm_rm | K::mm_or_mem)
}

pub(super) fn register_for(kind: K, rng: &mut Rng) -> Option<Register> {
    if let Some(bytes) = gpr_width(kind) {
        return Some(gpr(rng, bytes));
    }
    Some(match kind {
        _ if is_xmm_kind(kind) => Register::XMM0 + rng.below(16) as u32,
        _ if is_ymm_kind(kind) => Register::YMM0 + rng.below(16) as u32,
        _ if is_mm_kind(kind) => Register::MM0 + rng.below(8) as u32,
        K::al => Register::AL,
        K::cl => Register::CL,
        K::ax => Register::AX,
        K::eax => Register::EAX,
        K::rax => Register::RAX,
        K::dx => Register::DX,
        K::st0 => Register::ST0,
        K::sti_opcode => Register::ST0 + rng.below(8) as u32,
        _ => return None,
    })
}

/// A segment register for the single-form cases (`setup_system` keeps
/// MOV off FS and GS where they are written; PUSH and POP of FS and GS,
/// not among `forms`, are named by code where the host lets the harness
/// give FS and GS), or a control or debug register; sequences never name
/// one.
fn segment_register(kind: K, rng: &mut Rng) -> Option<Register> {
    match kind {
        K::seg_reg => Some(Register::ES + rng.below(6) as u32),
        K::fs => Some(Register::FS),
        K::gs => Some(Register::GS),
        // Control and debug registers (what user code gets for them is
        // #GP, or #UD for one the processor lacks), named by code too.
        K::cr_reg => Some(Register::CR0 + rng.below(16) as u32),
        K::dr_reg => Some(Register::DR0 + rng.below(16) as u32),
        _ => None,
    }
}

pub(super) fn immediate(kind: K, rng: &mut Rng) -> Option<(OpKind, u64)> {
    Some(match kind {
        K::imm8 => (OpKind::Immediate8, value(rng, 8) & 0xff),
        K::imm8_const_1 => (OpKind::Immediate8, 1),
        K::imm8sex16 => (OpKind::Immediate8to16, value(rng, 8) as i8 as u64),
        K::imm8sex32 => (OpKind::Immediate8to32, value(rng, 8) as i8 as u64),
        K::imm8sex64 => (OpKind::Immediate8to64, value(rng, 8) as i8 as u64),
        K::imm16 => (OpKind::Immediate16, value(rng, 16) & 0xffff),
        K::imm32 => (OpKind::Immediate32, value(rng, 32) & 0xffff_ffff),
        K::imm32sex64 => (OpKind::Immediate32to64, value(rng, 32) as i32 as u64),
        K::imm64 => (OpKind::Immediate64, value(rng, 64)),
        _ => return None,
    })
}

/// Where branch forms jump: the `not r14` after the fall-through path.
const TARGET_ID: u64 = 3;

/// Builds one random case for a form; `None` when this draw cannot encode.
pub fn case_for(code: Code, rng: &mut Rng) -> Option<Case> {
    let op = code.op_code();
    let mut insn = Instruction::default();
    insn.set_code(code);
    let mut values: [Option<u64>; 16] = [None; 16];
    values[4] = Some(STACK);
    let mut mem_target = None;
    let mut branch = false;
    for i in 0..op.op_count() {
        let kind = op.op_kind(i);
        let use_mem = match kind {
            K::mem | K::mem_offs => true,
            K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r64_or_mem
            | K::xmm_or_mem
            | K::ymm_or_mem
            | K::mm_or_mem => rng.chance(50),
            _ => false,
        };
        if matches!(kind, K::mem_vsib32x | K::mem_vsib32y | K::mem_vsib64x | K::mem_vsib64y) {
            // A base register at the middle of the data; the index
            // register's lanes are made small offsets by `setup_avx`.
            let target = DATA + 0x800 + rng.below(0x400);
            let base = loop {
                let r = rng.pick(&GPR64);
                if r != Register::RSP && values[index_of(r)].is_none() {
                    break r;
                }
            };
            values[index_of(base)] = Some(target);
            let first = if matches!(kind, K::mem_vsib32y | K::mem_vsib64y) { Register::YMM0 } else { Register::XMM0 };
            insn.set_op_kind(i, OpKind::Memory);
            insn.set_memory_base(base);
            insn.set_memory_index(first + rng.below(16) as u32);
            insn.set_memory_index_scale(rng.pick(&[1u32, 2, 4, 8]));
            insn.set_memory_displacement64(0);
            insn.set_memory_displ_size(1);
            mem_target = Some(target);
        } else if use_mem {
            let size = 32;
            let target = DATA + 0x100 + rng.below(DATA_LEN as u64 - 0x200 - size);
            // Vector operands are mostly aligned to their size (misaligned
            // ones test the #GP of the forms that require alignment).
            let wide =
                kind == K::ymm_or_mem || (kind == K::mem && code.op_code().op_kinds().iter().any(|k| is_ymm_kind(*k)));
            let target = match (kind == K::xmm_or_mem, wide, rng.below(100)) {
                (_, true, 0..85) => target & !31,
                (true, _, 0..85) => target & !15,
                (false, _, 0..50) => target & !7,
                _ => target,
            };
            let plan = if kind == K::mem_offs {
                MemPlan { base: None, index: None, disp: target as i64, rip_relative: false }
            } else {
                plan_memory(rng, target, &mut values, 8)
            };
            insn.set_op_kind(i, OpKind::Memory);
            if plan.rip_relative {
                insn.set_memory_base(Register::RIP);
                insn.set_memory_displacement64(target);
                insn.set_memory_displ_size(8);
            } else {
                insn.set_memory_base(plan.base.unwrap_or(Register::None));
                if let Some((r, s)) = plan.index {
                    insn.set_memory_index(r);
                    insn.set_memory_index_scale(s);
                }
                insn.set_memory_displacement64(plan.disp as u64);
                let fits8 = (-128..128).contains(&plan.disp);
                let size = if kind == K::mem_offs {
                    8
                } else if plan.disp == 0 && plan.base.is_some() {
                    0
                } else if fits8 && plan.base.is_some() {
                    1
                } else {
                    // A full displacement: 32 bits, sign-extended, in 64-bit addressing.
                    8
                };
                insn.set_memory_displ_size(size);
            }
            mem_target = Some(target);
        } else if let Some(reg) = segment_register(kind, rng).or_else(|| register_for(kind, rng)) {
            set_register(&mut insn, i, reg);
        } else if let Some((k, v)) = immediate(kind, rng) {
            // A second 8-bit immediate (ENTER's nesting level) has its own kind.
            let second = i > 0 && k == OpKind::Immediate8 && insn.op_kind(i - 1) == OpKind::Immediate16;
            insn.set_op_kind(i, if second { OpKind::Immediate8_2nd } else { k });
            insn.set_immediate_u64(i, v);
        } else if matches!(kind, K::br64_1 | K::br64_4) {
            insn.set_op_kind(i, OpKind::NearBranch64);
            insn.set_near_branch64(TARGET_ID);
            branch = true;
        } else if matches!(kind, K::seg_rSI | K::es_rDI | K::seg_rDI | K::seg_rBX_al) {
            let kind = match kind {
                K::seg_rSI => OpKind::MemorySegRSI,
                K::es_rDI => OpKind::MemoryESRDI,
                K::seg_rDI => OpKind::MemorySegRDI,
                _ => OpKind::Memory,
            };
            insn.set_op_kind(i, kind);
            if kind == OpKind::Memory {
                insn.set_memory_base(Register::RBX);
            }
        } else {
            return None;
        }
    }
    let mut regs = Regs::default();
    let mut data = vec![0u8; DATA_LEN];
    for b in data.iter_mut() {
        *b = rng.next_u64() as u8;
    }
    let flag_bits = [0u64, 2, 4, 6, 7, 10, 11];
    regs.rflags = 0x202 | flag_bits.iter().fold(0, |acc, b| acc | if rng.chance(50) { 1 << b } else { 0 });
    randomize_fp(&mut regs, rng);
    for (i, v) in values.iter().enumerate() {
        regs.gpr[i] = v.unwrap_or_else(|| value(rng, 64));
    }
    if op.can_use_lock_prefix() && insn.op_kind(0) == OpKind::Memory && rng.chance(30) {
        insn.set_has_lock_prefix(true);
    }
    let case = super::setup::Case { code, insn: &mut insn, regs: &mut regs, data: &mut data, mem: mem_target, rng };
    super::setup::adjust(case);
    let code_bytes = encode(insn, branch)?;
    let undefined_flags = super::setup::undefined_flags(&insn, &regs);
    Some(Case { code: code_bytes, regs, data, undefined_flags, undefined_before: Vec::new() })
}

/// Encodes the instruction, then `jmp END`; a branch form gets a
/// fall-through path (`not r15`) and a target path (`not r14`).
fn encode(mut insn: Instruction, branch: bool) -> Option<Vec<u8>> {
    let mut list = Vec::new();
    insn.set_ip(1);
    list.push(insn);
    let jmp_end = |ip| {
        let mut j = Instruction::with_branch(Code::Jmp_rel32_64, END).ok()?;
        j.set_ip(ip);
        Some(j)
    };
    if branch {
        let mut not15 = Instruction::with1(Code::Not_rm64, Register::R15).ok()?;
        not15.set_ip(2);
        list.push(not15);
        let mut j = jmp_end(20)?;
        j.set_ip(20);
        list.push(j);
        let mut not14 = Instruction::with1(Code::Not_rm64, Register::R14).ok()?;
        not14.set_ip(TARGET_ID);
        list.push(not14);
        list.push(jmp_end(21)?);
    } else {
        list.push(jmp_end(2)?);
    }
    let block = InstructionBlock::new(&list, CODE);
    BlockEncoder::encode(64, block, BlockEncoderOptions::DONT_FIX_BRANCHES).ok().map(|r| r.code_buffer)
}
