//! Oracle case setup for the VEX forms (AVX, AVX2, FMA, F16C). A VEX form
//! with an SSE counterpart gets that form's setup (edge values, shift
//! counts, imm8 draws, MXCSR images): the SSE instruction on the same
//! registers (its first operand being the VEX.vvvv register it merges with)
//! is set up, and the imm8 and memory operand it chose are taken back. The
//! upper halves of the YMM registers a 256-bit form names then get the
//! lower halves' values or edge values of their own; the others keep their
//! random values.

use iced_x86::{EncodingKind, Mnemonic, OpKind, Register};

use super::cases::edge_vector;
use super::native::DATA;
use super::setup::Case;
use crate::frontend::x86::vex;

/// Sets a VEX case up; false for any other form.
pub fn adjust(mut case: Case) -> bool {
    if case.code.op_code().encoding() != EncodingKind::VEX || !vex::needs_avx(case.insn) {
        return false;
    }
    if super::setup_fma::adjust(case.again()) || super::setup_f16c::adjust(case.again()) {
        return true;
    }
    let Case { code, insn, regs, data, mem, rng } = case;
    if let Some(sse) = vex::sse_form(code) {
        let map = vex::sse_operands(code);
        let vvvv = (0..insn.op_count()).find(|i| !map.contains(i));
        let mut s = *insn;
        s.set_code(sse);
        for (j, &i) in map.iter().enumerate() {
            s.set_op_kind(j as u32, insn.op_kind(i));
            if insn.op_kind(i) == OpKind::Register {
                let reg = match (j, vvvv) {
                    (0, Some(1)) => insn.op_register(1),
                    _ => insn.op_register(i),
                };
                s.set_op_register(j as u32, as_xmm(reg));
            }
        }
        super::setup::adjust(Case { code: sse, insn: &mut s, regs: &mut *regs, data: &mut *data, mem, rng: &mut *rng });
        if (0..s.op_count()).any(|j| s.op_kind(j) == OpKind::Immediate8) {
            insn.set_immediate8(s.immediate8());
        }
        insn.set_memory_displacement64(s.memory_displacement64());
        insn.set_memory_displ_size(s.memory_displ_size());
    }
    // The approximations' inputs are drawn where every vendor agrees: the
    // high lanes take them too.
    let approximation = matches!(vex::sse_form(code).map(|c| c.mnemonic()), Some(Mnemonic::Rcpps | Mnemonic::Rsqrtps));
    for i in 0..insn.op_count() {
        if insn.op_kind(i) == OpKind::Register && insn.op_register(i).is_ymm() {
            let n = insn.op_register(i) as usize - Register::YMM0 as usize;
            regs.ymmh[n] = match if approximation { 0 } else { rng.below(3) } {
                0 => regs.fx.xmm(n),
                1 => {
                    let bits = rng.pick(&[8, 16, 32, 64]);
                    edge_vector(rng, bits, Some(regs.fx.xmm(n)))
                }
                _ => regs.ymmh[n],
            };
        }
    }
    let index = insn.memory_index();
    if index.is_xmm() || index.is_ymm() {
        // Gather indices: small offsets either side of the base, so every
        // element lands in the data, but now and then one that faults (on
        // hosts that leave a faulting gather's registers as visa does, see
        // `vendors`); masks with random sign bits.
        let n = if index.is_ymm() { index as usize - Register::YMM0 as usize } else { index.number() };
        let lane = if matches!(
            code.mnemonic(),
            Mnemonic::Vgatherqps | Mnemonic::Vgatherqpd | Mnemonic::Vpgatherqd | Mnemonic::Vpgatherqq
        ) {
            64
        } else {
            32
        };
        let mut halves = [0u128; 2];
        for h in halves.iter_mut() {
            for i in 0..128 / lane {
                let v = (rng.below(96) as i64 - 32) as u128 & (u128::MAX >> (128 - lane));
                *h |= v << (i * lane);
            }
        }
        if rng.chance(30) && super::vendors::host_gathers_fault_alike() {
            // One index far below the base (into the kernel's half of the
            // address space, canonical whatever the scale): that element
            // faults if its mask selects it.
            let far: u128 = if lane == 32 { 0x8000_0000 } else { 0xffff_f000_0000_0000 };
            let i = rng.below(256 / lane as u64) as usize;
            let (h, at) = (i * lane / 128, i * lane % 128);
            halves[h] = halves[h] & !((u128::MAX >> (128 - lane)) << at) | far << at;
        }
        regs.fx.set_xmm(n, halves[0]);
        regs.ymmh[n] = halves[1];
    }
    if let Some(target) = mem.filter(|_| insn.memory_size().size() == 32 && (approximation || rng.chance(50))) {
        let at = (target - DATA) as usize;
        let low: [u8; 16] = data[at..at + 16].try_into().expect("16 bytes");
        data[at + 16..at + 32].copy_from_slice(&low);
    }
    true
}

fn as_xmm(reg: Register) -> Register {
    if reg.is_ymm() { Register::XMM0 + (reg as u32 - Register::YMM0 as u32) } else { reg }
}
