//! Random SSE-to-SSE4.2, AVX, AVX2, MMX and x87 sequences for the oracle, with
//! general-purpose instructions among them, so values flow between XMM
//! registers, MMX registers, the x87 stack they alias, general registers,
//! flags and memory.
//!
//! The forms are those the families' setups own (`setup_sse_*`,
//! `setup_sse4`, `setup_crypto`, `setup_x87`) that the host runs, EMMS, and the lifted VEX
//! forms of AVX, AVX2, FMA and F16C (on the YMM registers of the XMM pool;
//! gathers aside), but for the
//! ones the oracle cannot compare exactly (the x87 transcendentals, RCP and
//! RSQRT, and DPPS and DPPD, whose NaN results differ between vendors and
//! would flow into later values) and MASKMOVDQU and MASKMOVQ, which store
//! through RDI; the general-purpose ones are moves, arithmetic and the flag
//! readers of `SEQUENCE_MNEMONICS`. A compare is often followed by a flag
//! reader (SETcc, CMOVcc, FCMOVcc, ADC, LAHF...), FNSTSW AX by SAHF. Each
//! sequence mostly draws from one or two kinds (SSE, MMX, x87: MMX and x87
//! together interleave the two views of the x87 registers, full tags and
//! TOP 0 after MMX, empty tags after EMMS) and works on a few XMM, MMX and
//! general registers, so one instruction's result is often the next one's
//! operand.
//!
//! The state starts with XMM registers, memory operands and MXCSR's
//! rounding from `simd_values`, the x87 state of `setup_x87` (every
//! exception masked, random precision and rounding, edge values) and MMX
//! values in the registers of the sequence's pool.
//! Memory operands are R15- or RIP-relative (see `sequences`): most go to a
//! few 16-byte slots shared by the whole sequence, m128 ones 16-byte aligned
//! but now and then not (#GP for the forms that require alignment). State
//! images (the operands of LDMXCSR, STMXCSR, FXSAVE, FXRSTOR, FLDENV,
//! FNSTENV, FRSTOR, FNSAVE, FLDCW, FNSTCW) live in a region no other
//! instruction writes: a restore reads a fresh image or one a store of the
//! sequence wrote, so every MXCSR a sequence loads is one of
//! `simd_values::mxcsr_image` or was saved from such a state.

use std::ops::Range;

use iced_x86::{Code, CpuidFeature, Encoder, Instruction, Mnemonic, OpCodeOperandKind as K, Register};

use super::cases::{
    DATA_LEN, Rng, forms_where, gpr_width, immediate, is_mm_kind, is_xmm_kind, is_ymm_kind, randomize_fp, register_for,
    set_register, sized,
};
use super::native::{CODE, DATA, Regs};
use super::sequences::{SEQUENCE_MNEMONICS, Sequence, initial_regs, set_memory};
use super::setup::write_data;
use super::simd_values::{memory_image, pair, seed_vector};
use super::{Case, vendors};
use super::{setup_crypto, setup_mmx, setup_sse_float, setup_sse_int, setup_sse_move, setup_sse4, setup_x87};

/// Where the slots and other ordinary memory operands lie.
const GENERAL: Range<u64> = DATA + 0x100..DATA + 0x1100;
/// Where the state images lie.
const IMAGES: Range<u64> = DATA + 0x1100..DATA + 0x1f00;

/// General-purpose mnemonics mixed in, besides CMOVcc and SETcc.
const GPR_MIX: &[Mnemonic] = {
    use Mnemonic::*;
    &[Mov, Movzx, Movsx, Movsxd, Add, Adc, Sub, Sbb, And, Or, Xor, Cmp, Test, Neg, Not, Inc, Dec, Bswap, Lahf, Sahf]
};

/// The general registers a sequence may use (not RSP, not R15).
const GPRS: [Register; 14] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
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
];

/// The forms SIMD sequences draw from.
pub struct SimdForms {
    pub sse: Vec<Code>,
    /// The lifted VEX forms of AVX and AVX2.
    pub avx: Vec<Code>,
    /// The forms naming an MMX register, and EMMS.
    pub mmx: Vec<Code>,
    pub x87: Vec<Code>,
    pub gpr: Vec<Code>,
    /// The forms of `gpr` and `x87` that read flags.
    flag_readers: Vec<Code>,
}

/// True when the host has the extensions the form needs.
fn host_runs(code: Code) -> bool {
    code.cpuid_features().iter().all(|f| match f {
        CpuidFeature::SSE3 => std::arch::is_x86_feature_detected!("sse3"),
        CpuidFeature::SSSE3 => std::arch::is_x86_feature_detected!("ssse3"),
        CpuidFeature::SSE4_1 => std::arch::is_x86_feature_detected!("sse4.1"),
        CpuidFeature::SSE4_2 => std::arch::is_x86_feature_detected!("sse4.2"),
        CpuidFeature::AES => std::arch::is_x86_feature_detected!("aes"),
        CpuidFeature::PCLMULQDQ => std::arch::is_x86_feature_detected!("pclmulqdq"),
        CpuidFeature::SHA => std::arch::is_x86_feature_detected!("sha"),
        CpuidFeature::AVX => std::arch::is_x86_feature_detected!("avx"),
        CpuidFeature::AVX2 => std::arch::is_x86_feature_detected!("avx2"),
        CpuidFeature::FMA => std::arch::is_x86_feature_detected!("fma"),
        CpuidFeature::F16C => std::arch::is_x86_feature_detected!("f16c"),
        _ => true,
    })
}

fn reads_flags(code: Code) -> bool {
    let mut insn = Instruction::default();
    insn.set_code(code);
    insn.rflags_read() != 0
}

impl SimdForms {
    pub fn new() -> SimdForms {
        let usable = |c: Code| {
            let m = c.mnemonic();
            host_runs(c)
                && !setup_sse_float::is_reciprocal(m)
                && !setup_x87::is_transcendental(m)
                && !matches!(m, Mnemonic::Maskmovdqu | Mnemonic::Maskmovq)
                && !matches!(m, Mnemonic::Dpps | Mnemonic::Dppd)
        };
        let sse_mnemonic = |c: Code| crate::frontend::x86::vex::sse_form(c).map_or(c.mnemonic(), |s| s.mnemonic());
        let names_mmx = |c: Code| c.op_code().op_kinds().iter().any(|k| is_mm_kind(*k));
        let simd = |mmx: bool| {
            forms_where(|c| {
                usable(c)
                    && names_mmx(c) == mmx
                    && (setup_sse_move::owns(c)
                        || setup_sse_int::owns(c)
                        || setup_sse_float::owns(c)
                        || setup_sse4::owns(c)
                        || setup_crypto::owns(c))
            })
        };
        let sse = simd(false);
        let lifted: Vec<Mnemonic> = crate::frontend::x86::lifted_mnemonics().collect();
        let avx = forms_where(|c| {
            let features = c.cpuid_features();
            [CpuidFeature::AVX, CpuidFeature::AVX2, CpuidFeature::FMA, CpuidFeature::F16C]
                .iter()
                .any(|f| features == [*f])
                && host_runs(c)
                && (crate::frontend::x86::vex::lifted_through_sse(c) || lifted.contains(&c.mnemonic()))
                && usable(c)
                && !setup_sse_float::is_reciprocal(sse_mnemonic(c))
                && !matches!(sse_mnemonic(c), Mnemonic::Maskmovdqu | Mnemonic::Dpps | Mnemonic::Dppd | Mnemonic::Vdpps)
        });
        let mut mmx = simd(true);
        mmx.push(Code::Emms);
        let x87 = forms_where(|c| usable(c) && setup_x87::is_x87(c));
        let gpr = forms_where(|c| {
            let m = c.mnemonic();
            let name = format!("{m:?}");
            SEQUENCE_MNEMONICS.contains(&m)
                && (GPR_MIX.contains(&m) || name.starts_with("Cmov") || name.starts_with("Set"))
        });
        let flag_readers = gpr.iter().chain(&x87).copied().filter(|c| reads_flags(*c)).collect();
        SimdForms { sse, avx, mmx, x87, gpr, flag_readers }
    }

    /// The mnemonics of every form.
    pub fn mnemonics(&self) -> Vec<Mnemonic> {
        let all = self.sse.iter().chain(&self.avx).chain(&self.mmx).chain(&self.x87).chain(&self.gpr);
        let mut all: Vec<Mnemonic> = all.map(|c| c.mnemonic()).collect();
        all.sort_by_key(|m| *m as u32);
        all.dedup();
        all
    }

    /// A form: SSE, MMX and x87 with the mix's percents, else
    /// general-purpose.
    fn pick(&self, mix: Mix, rng: &mut Rng) -> Code {
        match rng.below(100) {
            r if r < mix.sse => rng.pick(&self.sse),
            r if r < mix.sse + mix.mmx => rng.pick(&self.mmx),
            r if r < mix.sse + mix.mmx + mix.x87 => rng.pick(&self.x87),
            r if r < mix.sse + mix.mmx + mix.x87 + mix.avx && !self.avx.is_empty() => rng.pick(&self.avx),
            _ => rng.pick(&self.gpr),
        }
    }

    /// Forms to follow `insn` with, now and then: SAHF after FNSTSW AX, a
    /// flag reader after an instruction that sets flags without reading
    /// any (a compare, not another flag reader).
    fn follow_up(&self, insn: &Instruction, rng: &mut Rng) -> Option<&[Code]> {
        match insn.code() {
            Code::Fnstsw_AX | Code::Fstsw_AX if rng.chance(50) => Some(&[Code::Sahf]),
            _ if insn.rflags_modified() != 0 && insn.rflags_read() == 0 && rng.chance(40) => Some(&self.flag_readers),
            _ => None,
        }
    }
}

impl Default for SimdForms {
    fn default() -> SimdForms {
        SimdForms::new()
    }
}

/// Whether a form's memory operand is a state image, and whether it
/// stores one.
fn state_image(m: Mnemonic) -> Option<bool> {
    use Mnemonic::*;
    match m {
        Ldmxcsr | Vldmxcsr | Fxrstor | Fxrstor64 | Fldenv | Frstor | Fldcw => Some(false),
        Stmxcsr | Vstmxcsr | Fxsave | Fxsave64 | Fnstenv | Fstenv | Fnsave | Fsave | Fnstcw | Fstcw => Some(true),
        _ => None,
    }
}

/// Percents of SSE, MMX, x87 and AVX forms in a sequence (the rest are
/// general-purpose).
#[derive(Clone, Copy)]
struct Mix {
    sse: u64,
    mmx: u64,
    x87: u64,
    avx: u64,
}

/// What one sequence shares between its instructions.
struct Plan {
    xmm: Vec<Register>,
    mm: Vec<Register>,
    gpr: Vec<Register>,
    /// 16-byte slots in `GENERAL`.
    slots: Vec<u64>,
    /// The next free byte of `IMAGES`.
    images: u64,
    /// State images the sequence stores: (size, address).
    saved: Vec<(usize, u64)>,
    mix: Mix,
}

impl Plan {
    fn new(rng: &mut Rng, avx_only: bool) -> Plan {
        // `least` to `least + more - 1` distinct registers of `all`.
        let pool = |rng: &mut Rng, all: &[Register], least: u64, more: u64| {
            let n = (least + rng.below(more)) as usize;
            let mut pool = Vec::with_capacity(n);
            while pool.len() < n {
                let r = rng.pick(all);
                if !pool.contains(&r) {
                    pool.push(r);
                }
            }
            pool
        };
        let xmm_all: Vec<Register> = (0..16).map(|i| Register::XMM0 + i).collect();
        let xmm = if rng.chance(10) { xmm_all.clone() } else { pool(rng, &xmm_all, 2, 5) };
        let mm_all: Vec<Register> = (0..8).map(|i| Register::MM0 + i).collect();
        let mm = pool(rng, &mm_all, 2, 4);
        // RAX, RCX and RDX are implicit operands (FNSTSW AX, LAHF, the
        // string compares): always among them.
        let mut gpr = vec![Register::RAX, Register::RCX, Register::RDX];
        gpr.extend(pool(rng, &GPRS[3..], 1, 3));
        let slots = (0..6).map(|_| (GENERAL.start + rng.below(GENERAL.end - GENERAL.start - 32)) & !15).collect();
        let mix = match (avx_only, rng.below(7)) {
            (true, _) | (false, 5) => Mix { sse: 15, mmx: 0, x87: 0, avx: 70 },
            (false, 0) => Mix { sse: 75, mmx: 0, x87: 10, avx: 0 },
            (false, 1) => Mix { sse: 15, mmx: 0, x87: 70, avx: 0 },
            (false, 2) => Mix { sse: 45, mmx: 0, x87: 40, avx: 0 },
            (false, 3) => Mix { sse: 20, mmx: 55, x87: 5, avx: 0 },
            (false, 4) => Mix { sse: 10, mmx: 40, x87: 35, avx: 0 },
            _ => Mix { sse: 30, mmx: 10, x87: 10, avx: 40 },
        };
        Plan { xmm, mm, gpr, slots, images: IMAGES.start, saved: Vec::new(), mix }
    }

    /// The floating-point state: random XMM registers, those of the pool
    /// from `simd_values` (some in pairs mostly equal), MXCSR with a random
    /// rounding direction, the x87 state of `setup_x87` with MMX lanes in
    /// the significands of the MMX pool.
    fn seed(&self, regs: &mut Regs, rng: &mut Rng) {
        randomize_fp(regs, rng);
        setup_x87::randomize(regs, rng);
        for &r in &self.mm {
            regs.fx.set_mm(r.number(), setup_mmx::mm_value(rng));
        }
        let mut last = None;
        for &r in &self.xmm {
            let i = r.number();
            match last {
                Some(prev) if rng.chance(30) => {
                    let (a, b) = pair(rng, regs.fx.xmm(prev));
                    regs.fx.set_xmm(prev, a);
                    regs.fx.set_xmm(i, b);
                }
                _ => regs.fx.set_xmm(i, seed_vector(rng)),
            }
            last = Some(i);
        }
    }

    /// An address for an ordinary memory operand of `size` bytes: mostly in
    /// a slot, naturally aligned; m128 ones misaligned now and then.
    fn ordinary(&self, size: u64, rng: &mut Rng) -> u64 {
        let at = if rng.chance(70) {
            rng.pick(&self.slots) + rng.below(17 - size.min(16))
        } else {
            GENERAL.start + rng.below(GENERAL.end - GENERAL.start - 32)
        };
        let align = size.clamp(1, 32).next_power_of_two();
        match (size >= 16, rng.below(100)) {
            (true, 0..3) => (at & !15) + 1 + rng.below(15),
            (true, _) | (false, 0..80) => at & !(align - 1),
            _ => at,
        }
    }

    /// An address in `IMAGES` for a state image of `size` bytes, and
    /// whether it holds a stored one; `None` when the region is full.
    fn image(&mut self, size: usize, store: bool, rng: &mut Rng) -> Option<(u64, bool)> {
        let saved: Vec<u64> = self.saved.iter().filter(|(n, _)| *n == size).map(|(_, at)| *at).collect();
        if !store && !saved.is_empty() && rng.chance(35) {
            return Some((rng.pick(&saved), true));
        }
        let at = (self.images + 15) & !15;
        if at + size as u64 + 16 > IMAGES.end {
            return None;
        }
        self.images = at + size as u64 + 16;
        let misaligned = if rng.chance(3) { 1 + rng.below(15) } else { 0 };
        Some((at + misaligned, false))
    }

    /// A register for an operand of `kind`: XMM, MMX and general ones from
    /// the pools.
    fn register(&self, kind: K, rng: &mut Rng) -> Option<Register> {
        if is_xmm_kind(kind) {
            return Some(rng.pick(&self.xmm));
        }
        if is_ymm_kind(kind) {
            return Some(Register::YMM0 + rng.pick(&self.xmm).number() as u32);
        }
        if is_mm_kind(kind) {
            return Some(rng.pick(&self.mm));
        }
        if let Some(bytes) = gpr_width(kind) {
            let full = rng.pick(&self.gpr);
            return Some(sized(full, bytes, rng));
        }
        register_for(kind, rng)
    }

    /// An instruction of the form, its memory operand's initial bytes
    /// written to `data`; with the state image it stores, if any.
    fn instruction(
        &mut self,
        code: Code,
        data: &mut [u8],
        rng: &mut Rng,
    ) -> Option<(Instruction, Option<(usize, u64)>)> {
        let op = code.op_code();
        let mut insn = Instruction::default();
        insn.set_code(code);
        let mut memory = None;
        for i in 0..op.op_count() {
            let kind = op.op_kind(i);
            let use_mem = match kind {
                K::mem => true,
                K::r8_or_mem
                | K::r16_or_mem
                | K::r32_or_mem
                | K::r64_or_mem
                | K::xmm_or_mem
                | K::ymm_or_mem
                | K::mm_or_mem => rng.chance(40),
                _ => false,
            };
            if use_mem {
                let size = insn.memory_size().size();
                // Where, and whether the operand gets initial bytes (not a
                // stored image, nor one a restore reads back).
                let (at, fresh) = match state_image(code.mnemonic()) {
                    Some(store) => {
                        let (at, saved) = self.image(size, store, rng)?;
                        (at, !saved && !store)
                    }
                    None => {
                        let at = self.ordinary(size as u64, rng);
                        (if vendors::host_aligns(code.mnemonic()) { at & !15 } else { at }, true)
                    }
                };
                set_memory(&mut insn, i, at, rng);
                memory = Some((at, fresh));
            } else if let Some(reg) = self.register(kind, rng) {
                set_register(&mut insn, i, reg);
            } else if let Some((k, v)) = immediate(kind, rng) {
                let v = if kind == K::imm8 { family_imm8(code, rng).map_or(v, u64::from) } else { v };
                insn.set_op_kind(i, k);
                insn.set_immediate_u64(i, v);
            } else {
                return None;
            }
        }
        Encoder::new(64).encode(&insn, CODE).ok()?;
        let mut stored = None;
        if let Some((at, fresh)) = memory {
            if fresh {
                write_data(data, at, &memory_image(&insn, rng));
            }
            if state_image(code.mnemonic()) == Some(true) {
                stored = Some((insn.memory_size().size(), at));
            }
        }
        Some((insn, stored))
    }
}

/// The imm8 the form's family draws, when it draws its own (shift counts,
/// compare predicates, ROUND modes, PALIGNR shifts).
fn family_imm8(code: Code, rng: &mut Rng) -> Option<u8> {
    let code = crate::frontend::x86::vex::sse_form(code).unwrap_or(code);
    let m = code.mnemonic();
    if setup_sse_int::is_shift(m) {
        Some(setup_sse_int::shift_count(rng) as u8)
    } else if setup_sse_float::owns(code) {
        Some(setup_sse_float::imm8(m, rng))
    } else if m == Mnemonic::Palignr {
        setup_sse4::palignr_shift(rng)
    } else {
        None
    }
}

/// A sequence of `len` random instructions from `forms`, then `jmp END`.
pub fn simd_sequence_case(forms: &SimdForms, len: usize, rng: &mut Rng) -> Option<Case> {
    simd_case(forms, len, false, rng)
}

/// A sequence mostly of AVX and AVX2 forms, with SSE and general-purpose
/// ones among them.
pub fn avx_sequence_case(forms: &SimdForms, len: usize, rng: &mut Rng) -> Option<Case> {
    simd_case(forms, len, true, rng)
}

fn simd_case(forms: &SimdForms, len: usize, avx_only: bool, rng: &mut Rng) -> Option<Case> {
    let mut plan = Plan::new(rng, avx_only);
    let mut regs = initial_regs(rng);
    plan.seed(&mut regs, rng);
    let mut data: Vec<u8> = (0..DATA_LEN).map(|_| rng.next_u64() as u8).collect();
    let mut seq = Sequence::default();
    let mut follow: Option<&[Code]> = None;
    let mut tries = 0;
    while seq.len() < len {
        tries += 1;
        if tries > len * 50 {
            return None;
        }
        let code = match follow.take() {
            Some(codes) => rng.pick(codes),
            None => forms.pick(plan.mix, rng),
        };
        let Some((insn, stored)) = plan.instruction(code, &mut data, rng) else { continue };
        if !seq.push(insn) {
            continue;
        }
        plan.saved.extend(stored);
        follow = forms.follow_up(&insn, rng);
    }
    seq.case(regs, data)
}
