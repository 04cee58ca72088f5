//! Behaviour where x86 processors of different vendors differ, and visa
//! does one of them: the oracle accepts either, so it passes on any host.
//!
//! | where | AMD (visa) | Intel |
//! |---|---|---|
//! | REP string instruction with 32-bit addressing and ECX = 0 | RCX, RSI, RDI unchanged | their upper halves cleared |
//! | DPPS, DPPD with NaN products | one NaN of the sum | another NaN of the sum |
//! | FXSAVE with no x87 exception pending | FOP, FIP, FDP stored as 0 | stored (see `setup_x87::leeway`) |

use iced_x86::{Decoder, DecoderOptions, Mnemonic};

use super::CODE;

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
            Mnemonic::Dpps => out.nan_lanes = Some(32),
            Mnemonic::Dppd => out.nan_lanes = Some(64),
            _ => {}
        }
    }
    out
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
