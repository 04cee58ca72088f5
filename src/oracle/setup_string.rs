//! Oracle case setup for the forms of `frontend::x86::string`: no prefix,
//! REP, REPE or REPNE (and F2 on the non-compare forms, which repeats as
//! F3 does), small counts, the 32-bit address size with garbage in the upper
//! halves of RSI, RDI, RCX and RBX, segment overrides on the source, and RSI
//! and RDI inside the scratch data with room for every element in either
//! direction. Compare forms get data equal for a while, or equal from some
//! element on, so REPE and REPNE stop early.
//!
//! FS is never used as an override: natively its base is the host thread's,
//! which visa's state does not have. GS has base 0 in both runs.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::cases::{DATA_LEN, Rng};
use super::native::{DATA, DATA_SIZE};
use super::setup::{Case, write_data};

const COUNTS: [u64; 10] = [0, 0, 1, 1, 2, 3, 4, 7, 16, 31];
/// Bytes kept free on either side of RSI and RDI: 31 qwords and then some.
const ROOM: u64 = 0x200;

fn is_compare(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Scasb | Scasw | Scasd | Scasq | Cmpsb | Cmpsw | Cmpsd | Cmpsq)
}

fn is_store(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Movsb | Movsw | Movsd | Movsq | Stosb | Stosw | Stosd | Stosq)
}

fn is_string(m: Mnemonic) -> bool {
    use Mnemonic::*;
    is_compare(m)
        || matches!(m, Movsb | Movsw | Movsd | Movsq | Stosb | Stosw | Stosd | Stosq | Lodsb | Lodsw | Lodsd | Lodsq)
}

/// A pointer into the scratch data with `ROOM` bytes on both sides; in the
/// 32-bit forms only the low half counts, so the upper one is garbage.
fn pointer(rng: &mut Rng, narrow: bool) -> (u64, u64) {
    let at = DATA + ROOM + rng.below(DATA_LEN as u64 - 2 * ROOM);
    let garbage = if narrow { rng.next_u64() << 32 } else { 0 };
    (at, at | garbage)
}

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(Case { code, insn, regs, data, rng, .. }: Case) -> bool {
    let m = code.mnemonic();
    let narrow = rng.chance(30);
    if m == Mnemonic::Xlatb {
        insn.set_memory_base(if narrow { Register::EBX } else { Register::RBX });
        insn.set_memory_index(Register::AL);
        override_segment(insn, rng);
        // AL adds at most 255.
        regs.gpr[3] = if rng.chance(5) { unmapped(rng, narrow) } else { pointer(rng, narrow).1 - ROOM / 2 };
        return true;
    }
    let has = |kind| (0..insn.op_count()).any(|i| insn.op_kind(i) == kind);
    let (reads_source, uses_destination) = (has(OpKind::MemorySegRSI), has(OpKind::MemoryESRDI));
    if !is_string(m) || !(reads_source || uses_destination) {
        return false;
    }
    if narrow {
        for i in 0..insn.op_count() {
            match insn.op_kind(i) {
                OpKind::MemorySegRSI => insn.set_op_kind(i, OpKind::MemorySegESI),
                OpKind::MemoryESRDI => insn.set_op_kind(i, OpKind::MemoryESEDI),
                _ => {}
            }
        }
    }
    if reads_source {
        override_segment(insn, rng);
    }
    match rng.below(10) {
        0..=2 => {}
        3..=5 if is_compare(m) => insn.set_has_repne_prefix(true),
        9 => insn.set_has_repne_prefix(true),
        _ => insn.set_has_rep_prefix(true),
    }
    let count = if rng.chance(15) { rng.below(32) } else { rng.pick(&COUNTS) };
    // A 32-bit count keeps garbage above it.
    regs.gpr[1] = if narrow { rng.next_u64() << 32 | count } else { count };
    let (src, src_reg) = pointer(rng, narrow);
    let (mut dst, mut dst_reg) = pointer(rng, narrow);
    if reads_source && rng.chance(20) {
        // Overlapping copies and compares, both ways.
        let delta = rng.below(33).wrapping_sub(16);
        (dst, dst_reg) = (src.wrapping_add(delta), src_reg.wrapping_add(delta));
    }
    regs.gpr[6] = src_reg;
    regs.gpr[7] = dst_reg;
    if is_compare(m) {
        let size = insn.memory_size().size();
        let down = regs.rflags & (1 << 10) != 0;
        let acc = regs.gpr[0].to_le_bytes();
        shape_compare_data(data, reads_source.then_some(src), dst, &acc[..size], down, count, rng);
    }
    let garbage = regs.gpr[7] & !0xffff_ffff;
    match rng.below(10) {
        // A pointer outside memory: with a zero count nothing happens.
        0 if reads_source && (!uses_destination || rng.chance(50)) => regs.gpr[6] = unmapped(rng, narrow),
        0 => regs.gpr[7] = unmapped(rng, narrow),
        // A store running off the end of memory after some elements: the
        // fault leaves RSI, RDI and RCX at the faulting element.
        1 if is_store(m) => {
            let size = insn.memory_size().size() as u64;
            regs.rflags &= !(1 << 10);
            let done = rng.below(count.max(1)) * size + rng.below(size);
            regs.gpr[7] = garbage | (DATA + DATA_SIZE - size - done);
        }
        _ => {}
    }
    true
}

/// An address where neither run has memory: past the end of the mapping,
/// in the kernel half, non-canonical, or (32-bit forms) above 2 GiB.
fn unmapped(rng: &mut Rng, narrow: bool) -> u64 {
    if narrow {
        return rng.next_u64() << 32 | (0x8000_0000 + rng.below(0x7fff_f000));
    }
    match rng.below(3) {
        0 => DATA + DATA_SIZE + rng.below(0x1_0000),
        1 => 0xffff_8000_0000_0000 | rng.below(1 << 40),
        _ => (rng.next_u64() & !(1 << 63)) | 1 << 62,
    }
}

/// Sometimes a segment override on the source: ES CS SS DS have base 0 in
/// 64-bit mode, and so does the host's GS.
fn override_segment(insn: &mut Instruction, rng: &mut Rng) {
    if rng.chance(25) {
        let seg = rng.pick(&[Register::ES, Register::CS, Register::SS, Register::DS, Register::GS]);
        insn.set_segment_prefix(seg);
    }
}

/// Makes the compared elements equal for the first `k` and random after
/// (REPE stops at element `k`), or unequal for the first `k` and equal at
/// `k` (REPNE stops there), or leaves them random. `src` is `None` for SCAS,
/// which compares with the accumulator `acc`.
fn shape_compare_data(data: &mut [u8], src: Option<u64>, dst: u64, acc: &[u8], down: bool, count: u64, rng: &mut Rng) {
    let size = acc.len() as u64;
    let mode = rng.below(3);
    if mode == 0 {
        return;
    }
    let k = rng.below(count + 2);
    let at = |base: u64, j: u64| {
        if down { base.wrapping_sub(j * size) } else { base + j * size }
    };
    for j in 0..=k {
        let want: Vec<u8> = match src {
            Some(s) => {
                let off = (at(s, j) - DATA) as usize;
                data[off..off + size as usize].to_vec()
            }
            None => acc.to_vec(),
        };
        let equal = (mode == 1) == (j < k);
        let mut v = want;
        if !equal {
            v[rng.below(size) as usize] ^= 1 + rng.below(255) as u8;
        }
        write_data(data, at(dst, j), &v);
    }
}
