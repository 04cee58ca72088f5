//! Behaviour where x86 processors of different vendors differ, and visa
//! does one of them: the oracle accepts either, or leaves out what the
//! host would do otherwise, so it passes on any host.
//!
//! | where | AMD | Intel | visa |
//! |---|---|---|---|
//! | REP string instruction with 32-bit addressing and ECX = 0 | RCX, RSI, RDI unchanged | their upper halves cleared | AMD |
//! | DPPS, DPPD with NaN products | one NaN of the sum | another NaN of the sum | AMD |
//! | FXSAVE with no x87 exception pending | FOP, FIP, FDP stored as 0 | stored (see `setup_x87::leeway`) | AMD |
//! | SHA instruction with a misaligned m128 | reads it | #GP (the manual's Type 4 exceptions) | AMD; the oracle draws no such operand on other hosts |
//! | far JMP or CALL through memory with REX.W | reads an m16:32 (REX.W ignored) | reads an m16:64 | Intel (its CPUID says GenuineIntel); the oracle runs no such form on other hosts |
//! | 0F 0D /r (PREFETCH's group) with a register operand | #UD | a reserved NOP | Intel; the oracle runs no such form on other hosts |
//! | AVX2 gather that faults partway | other elements done, upper halves of a VEX.128 form's registers kept | the elements before the faulting one done, upper halves zeroed | Intel; the oracle makes no gather fault on other hosts |
//!
//! Intel processors also depart from the manual's precise faults in one
//! place: an MMX store (MOVD, MOVQ or MOVNTQ to memory, MASKMOVQ) that
//! faults has already set TOP to 0 (MASKMOVQ every tag to valid too). visa
//! leaves the x87 state as it was, and the oracle accepts either.

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind};

use super::CODE;
use super::native::FxImage;

/// What of a case's final state may differ by vendor.
#[derive(Clone, Copy, Debug, Default)]
pub struct VendorLeeway {
    /// GPRs (by bit) whose upper halves one vendor clears.
    pub upper_halves: u16,
    /// Lane width (32 or 64) of XMM results whose NaN payloads may differ.
    pub nan_lanes: Option<u32>,
}

pub fn leeway(code: &[u8]) -> VendorLeeway {
    let mut out = VendorLeeway::default();
    for insn in Decoder::with_ip(64, code, CODE, DecoderOptions::NONE) {
        let rep = insn.has_rep_prefix() || insn.has_repne_prefix();
        if insn.is_string_instruction() && rep && a32(&insn) {
            out.upper_halves |= 1 << 1 | 1 << 6 | 1 << 7;
        }
        match insn.mnemonic() {
            Mnemonic::Dpps | Mnemonic::Vdpps => out.nan_lanes = Some(32),
            Mnemonic::Dppd | Mnemonic::Vdppd => out.nan_lanes = Some(64),
            _ => {}
        }
    }
    out
}

/// Whether an m128 operand of `m` must be aligned on this host, where
/// visa need not align it: the SHA instructions on Intel's processors.
pub fn host_aligns(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Sha1rnds4 | Sha1nexte | Sha1msg1 | Sha1msg2 | Sha256rnds2 | Sha256msg1 | Sha256msg2) && host_is_intel()
}

/// Whether the host runs `code` as visa does (see the table): not far JMP
/// and CALL through an m16:64, nor 0F 0D's reserved NOPs, on processors
/// other than Intel's.
pub fn host_runs_as_visa(code: Code) -> bool {
    use Code::*;
    let intel_only = matches!(
        code,
        Jmp_m1664 | Call_m1664 | Reservednop_rm16_r16_0F0D | Reservednop_rm32_r32_0F0D | Reservednop_rm64_r64_0F0D
    );
    !intel_only || host_is_intel()
}

/// Whether a gather that faults partway leaves its registers on this host
/// as visa does (see the table).
pub fn host_gathers_fault_alike() -> bool {
    host_is_intel()
}

/// Whether the host's processor is Intel's (CPUID's vendor string).
fn host_is_intel() -> bool {
    let id = std::arch::x86_64::__cpuid(0);
    [id.ebx, id.edx, id.ecx].map(u32::to_le_bytes).concat() == b"GenuineIntel"
}

/// A string instruction that addresses memory through ESI or EDI.
fn a32(insn: &iced_x86::Instruction) -> bool {
    use iced_x86::OpKind::{MemoryESEDI, MemorySegEDI, MemorySegESI};
    (0..insn.op_count()).any(|i| matches!(insn.op_kind(i), MemorySegESI | MemorySegEDI | MemoryESEDI))
}

/// Whether native and visa values of GPR `i` agree, up to `leeway`.
pub fn gpr_agrees(leeway: VendorLeeway, i: usize, native: u64, visa: u64) -> bool {
    native == visa || (leeway.upper_halves >> i & 1 == 1 && native == visa & 0xffff_ffff)
}

/// Whether two XMM values agree, up to `leeway` (NaN lanes alike in any payload).
pub fn xmm_agrees(leeway: VendorLeeway, native: u128, visa: u128) -> bool {
    if native == visa {
        return true;
    }
    let Some(bits) = leeway.nan_lanes else { return false };
    let lanes = 128 / bits;
    (0..lanes).all(|l| {
        let (a, b) = (native >> (l * bits), visa >> (l * bits));
        let (a, b) =
            if bits == 32 { (a as u32 as u128, b as u32 as u128) } else { (a as u64 as u128, b as u64 as u128) };
        let nan = |v: u128| {
            if bits == 32 { f32::from_bits(v as u32).is_nan() } else { f64::from_bits(v as u64).is_nan() }
        };
        a == b || (nan(a) && nan(b))
    })
}

/// An MMX instruction that stores: MOVD MOVQ MOVNTQ to memory, MASKMOVQ.
fn mmx_store(insn: &Instruction) -> bool {
    let names_mmx = (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Register && insn.op_register(i).is_mm());
    names_mmx && (insn.mnemonic() == Mnemonic::Maskmovq || insn.op_kind(0) == OpKind::Memory)
}

/// After a fault at `rip`: when the instruction there is an MMX store and
/// the host's x87 state is visa's with TOP 0 (and perhaps every tag valid),
/// the transition Intel processors make before the store faults, takes
/// visa's TOP and tags into the native image, its registers reordered to
/// that TOP, so the rest compares as usual.
pub fn mmx_store_fault(code: &[u8], rip: u64, native: &mut FxImage, visa: &FxImage) {
    let Some(at) = rip.checked_sub(CODE).filter(|at| *at < code.len() as u64) else { return };
    let insn = Decoder::with_ip(64, &code[at as usize..], rip, DecoderOptions::NONE).decode();
    let top = |img: &FxImage| (img.0[3] >> 3) & 7;
    let (native_top, visa_top) = (top(native), top(visa));
    if !mmx_store(&insn) || native_top != 0 || visa_top == 0 {
        return;
    }
    let st = native.0[32..160].to_vec();
    for i in 0..8 {
        // ST(i) at visa's TOP is physical register TOP + i: ST(TOP + i) at 0.
        let from = 16 * ((visa_top as usize + i) & 7);
        native.0[32 + 16 * i..48 + 16 * i].copy_from_slice(&st[from..from + 16]);
    }
    native.0[3] = (native.0[3] & !0x38) | visa_top << 3;
    if native.0[4] == 0xff {
        native.0[4] = visa.0[4];
    }
}
