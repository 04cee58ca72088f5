//! Oracle case setup for the forms of `frontend::x86::sse_move`, XMM and
//! MMX: the 16-byte memory operands that must be aligned and are not
//! `xmm_or_mem` (MOVNTPS MOVNTPD MOVNTDQ) are moved to a 16-byte boundary
//! most of the time (else #GP); MASKMOVDQU and MASKMOVQ get rDI inside the
//! scratch data (EDI with garbage above it under a 67 prefix now and then,
//! and a segment override with base 0); the PACK forms get lanes around
//! their saturation bounds.

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use super::cases::{Rng, value};
use super::native::{DATA, Regs};
use super::setup::{Case, align16, is_vreg, set_vreg, write_data};

/// The mnemonics this setup owns.
const FAMILY: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Movaps, Movapd, Movdqa, Movntps, Movntpd, Movntdq, Movntq, Movups, Movupd, Movdqu, Lddqu, Movd, Movq, Movq2dq,
        Movdq2q, Movss, Movsd, Movlps, Movlpd, Movhps, Movhpd, Movhlps, Movlhps, Movddup, Movsldup, Movshdup, Pand,
        Andps, Andpd, Pandn, Andnps, Andnpd, Por, Orps, Orpd, Pxor, Xorps, Xorpd, Packsswb, Packssdw, Packuswb, Shufps,
        Shufpd, Pshufd, Pshuflw, Pshufhw, Pshufw, Unpcklps, Unpckhps, Unpcklpd, Unpckhpd, Punpcklbw, Punpcklwd,
        Punpckldq, Punpcklqdq, Punpckhbw, Punpckhwd, Punpckhdq, Punpckhqdq, Pmovmskb, Movmskps, Movmskpd, Pinsrw,
        Pextrw, Maskmovdqu, Maskmovq,
    ]
};

/// True for the forms this setup owns (MOVSD only in its SSE forms).
pub(super) fn owns(code: Code) -> bool {
    FAMILY.contains(&code.mnemonic()) && code != Code::Movsd_m32_m32
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    if !owns(code) {
        return false;
    }
    let m = code.mnemonic();
    match m {
        Mnemonic::Movntps | Mnemonic::Movntpd | Mnemonic::Movntdq if rng.chance(85) => {
            align16(insn, mem.expect("memory operand"));
        }
        Mnemonic::Maskmovdqu | Mnemonic::Maskmovq => mask_target(insn, regs, rng),
        Mnemonic::Packsswb | Mnemonic::Packuswb => near_bounds(insn, regs, data, mem, 16, rng),
        Mnemonic::Packssdw => near_bounds(insn, regs, data, mem, 32, rng),
        _ => {}
    }
    true
}

/// rDI at any byte of the scratch data with 16 bytes after it.
fn mask_target(insn: &mut Instruction, regs: &mut Regs, rng: &mut Rng) {
    let at = DATA + 0x100 + rng.below(0x1000);
    regs.gpr[7] = at;
    if rng.chance(30) {
        insn.set_op_kind(0, OpKind::MemorySegEDI);
        regs.gpr[7] |= rng.next_u64() << 32;
    }
    if rng.chance(25) {
        // FS has the host thread's base natively: never used.
        insn.set_segment_prefix(rng.pick(&[Register::ES, Register::CS, Register::SS, Register::DS, Register::GS]));
    }
}

/// Lanes of `bits` near the signed and unsigned bounds of half that width.
pub(super) fn bound_lanes(rng: &mut Rng, bits: u32) -> u128 {
    let half = 1i64 << (bits / 2 - 1);
    let edges = [-2 * half, -half - 1, -half, -half + 1, -1, 0, 1, half - 1, half, 2 * half - 1, 2 * half];
    let mask = (1u128 << bits) - 1;
    (0..128 / bits).fold(0, |acc, i| {
        let v = if rng.chance(80) { rng.pick(&edges) + rng.below(3) as i64 - 1 } else { value(rng, bits) as i64 };
        acc | (v as u128 & mask) << (bits * i)
    })
}

/// Fills the PACK operands (both registers, or the memory source) with
/// lanes near the saturation bounds half the time.
fn near_bounds(insn: &Instruction, regs: &mut Regs, data: &mut [u8], mem: Option<u64>, bits: u32, rng: &mut Rng) {
    if rng.chance(50) {
        return;
    }
    for i in 0..2 {
        if insn.op_kind(i) == OpKind::Register && is_vreg(insn.op_register(i)) {
            set_vreg(regs, insn.op_register(i), bound_lanes(rng, bits));
        }
    }
    if let Some(at) = mem {
        write_data(data, at, &bound_lanes(rng, bits).to_le_bytes());
    }
}
