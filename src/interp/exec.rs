//! The execution loop over pre-resolved operations: one `match` on each
//! operation, registers and state reached without bounds checks (`compile`
//! proved every register below `Compiled::regs` and every slot inside
//! `Compiled::state_size`; `run` checks the two against its buffers once).

use std::sync::atomic::{Ordering, fence};

use super::ops::{Compiled, GenericOp, Op};
use crate::abi::{HelperCtx, Helpers, Outcome, Trap};
use crate::machine::GuestMemory;
use crate::visa::eval::{self, sext};
use crate::visa::{ExitReason, Imm, IntCC, Opcode, TrapCode};

/// Reusable buffers, so running a block allocates nothing.
#[derive(Default)]
pub struct Scratch {
    /// Guest instructions the last `run` completed.
    pub executed: u32,
    regs: Vec<u128>,
    args: Vec<u128>,
    results: Vec<u128>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

/// All ones in the low `w` bits (1 to 64).
#[inline(always)]
fn mask(w: u8) -> u64 {
    u64::MAX >> (64 - w as u32)
}

#[inline(always)]
fn icmp64(cc: IntCC, a: u64, b: u64, w: u8) -> bool {
    let s = |x: u64| ((x << (64 - w as u32)) as i64) >> (64 - w as u32);
    match cc {
        IntCC::Eq => a == b,
        IntCC::Ne => a != b,
        IntCC::Slt => s(a) < s(b),
        IntCC::Sle => s(a) <= s(b),
        IntCC::Sgt => s(a) > s(b),
        IntCC::Sge => s(a) >= s(b),
        IntCC::Ult => a < b,
        IntCC::Ule => a <= b,
        IntCC::Ugt => a > b,
        IntCC::Uge => a >= b,
    }
}

#[inline(always)]
fn parity(a: u64) -> bool {
    (a as u8).count_ones().is_multiple_of(2)
}

/// Sum of `x + y + c`, its carry out and signed overflow, at width `w`.
#[inline(always)]
fn add_carry(x: u64, y: u64, c: u64, w: u8) -> (u64, bool, bool) {
    let s = x as u128 + y as u128 + (c & 1) as u128;
    let res = s as u64 & mask(w);
    let sign = |v: u64| (v >> (w - 1)) & 1;
    (res, (s >> w) & 1 == 1, sign(x) == sign(y) && sign(res) != sign(x))
}

/// Difference `x - y - b`, its borrow and signed overflow, at width `w`.
#[inline(always)]
fn sub_borrow(x: u64, y: u64, b: u64, w: u8) -> (u64, bool, bool) {
    let b = b & 1;
    let res = x.wrapping_sub(y).wrapping_sub(b) & mask(w);
    let sign = |v: u64| (v >> (w - 1)) & 1;
    (res, (x as u128) < y as u128 + b as u128, sign(x) != sign(y) && sign(res) != sign(x))
}

/// A slot's value: the `size` bytes at `off` of a state record, a host
/// integer of that width in the host's byte order (visa-spec/state.md).
pub fn read_state(state: &[u8], off: u32, size: u8) -> u128 {
    let off = off as usize;
    match size {
        1 => state[off] as u128,
        2 => u16::from_ne_bytes(state[off..off + 2].try_into().unwrap()) as u128,
        4 => u32::from_ne_bytes(state[off..off + 4].try_into().unwrap()) as u128,
        8 => u64::from_ne_bytes(state[off..off + 8].try_into().unwrap()) as u128,
        _ => u128::from_ne_bytes(state[off..off + 16].try_into().unwrap()),
    }
}

/// Writes a slot's value `v` (its low `size` bytes) as `read_state` reads it.
pub fn write_state(state: &mut [u8], off: u32, size: u8, v: u128) {
    let off = off as usize;
    match size {
        1 => state[off] = v as u8,
        2 => state[off..off + 2].copy_from_slice(&(v as u16).to_ne_bytes()),
        4 => state[off..off + 4].copy_from_slice(&(v as u32).to_ne_bytes()),
        8 => state[off..off + 8].copy_from_slice(&(v as u64).to_ne_bytes()),
        _ => state[off..off + 16].copy_from_slice(&v.to_ne_bytes()),
    }
}

#[inline]
fn check_aligned(addr: u64, size: u8, aligned: bool) -> bool {
    !aligned || addr & (size as u64 - 1) == 0
}

/// A trap at operation `pc`, with the position of its guest instruction.
#[cold]
fn trap(block: &Compiled, scratch_executed: &mut u32, pc: usize, code: TrapCode, fault_addr: Option<u64>) -> Outcome {
    let (guest, completed) = block.position(pc);
    *scratch_executed = completed;
    Outcome::Trap(Trap { code, guest, completed, fault_addr })
}

/// Runs a compiled block against a state record and guest memory until its
/// terminator or a trap.
pub fn run(
    block: &Compiled,
    state: &mut [u8],
    mem: &mut GuestMemory,
    helpers: &mut dyn Helpers,
    scratch: &mut Scratch,
) -> Outcome {
    assert!(state.len() >= block.state_size, "state record smaller than the block was compiled for");
    if scratch.regs.len() < block.regs {
        scratch.regs.resize(block.regs, 0);
    }
    scratch.regs[..block.consts.len()].copy_from_slice(&block.consts);
    let rp = scratch.regs.as_mut_ptr();
    let (sp, state_len) = (state.as_mut_ptr(), state.len());
    // The accessors below reach registers and state through raw pointers.
    // `compile` made every register operand less than `block.regs`, which
    // `scratch.regs` now holds, and every state offset and size lie within
    // `block.state_size`, which the assertion above checked `state` covers.
    macro_rules! r {
        ($i:expr) => {
            // SAFETY: a register operand, below `block.regs` (see above).
            *unsafe { &mut *rp.add($i as usize) }
        };
    }
    macro_rules! set8 {
        ($off:expr, $v:expr) => {{
            let v = $v as u8;
            // SAFETY: a 1-byte slot inside the state (see above).
            unsafe { *sp.add($off as usize) = v }
        }};
    }
    macro_rules! get8 {
        ($off:expr) => {
            // SAFETY: a 1-byte slot inside the state (see above).
            unsafe { *sp.add($off as usize) }
        };
    }
    macro_rules! get64 {
        ($off:expr) => {
            // SAFETY: an 8-byte slot inside the state (see above).
            unsafe { sp.add($off as usize).cast::<u64>().read_unaligned() }
        };
    }
    macro_rules! set64 {
        ($off:expr, $v:expr) => {{
            let v = $v as u64;
            // SAFETY: an 8-byte slot inside the state (see above).
            unsafe { sp.add($off as usize).cast::<u64>().write_unaligned(v) }
        }};
    }
    // The state as a slice, for the rarer accesses and for helpers.
    macro_rules! state {
        () => {
            // SAFETY: `sp` and `state_len` are of `state`, which `run` no
            // longer uses directly, and the slice lives for one operation.
            unsafe { std::slice::from_raw_parts_mut(sp, state_len) }
        };
    }
    // A store hit a page holding translated code: the rest of this block may
    // be stale, so stop at the next instruction boundary.
    let mut code_modified = false;
    let mut pc = 0;
    macro_rules! load {
        ($d:expr, $addr:expr, $size:expr, $aligned:expr) => {{
            let addr = $addr;
            if !check_aligned(addr, $size, $aligned) {
                return trap(block, &mut scratch.executed, pc - 1, TrapCode::Misaligned, Some(addr));
            }
            match mem.read_le(addr, $size as u32) {
                // The fences keep x86's order among threads on hosts
                // that order more weakly (they cost nothing on x86-64).
                Ok(v) => {
                    r!($d) = v;
                    fence(Ordering::Acquire);
                }
                Err(f) => return trap(block, &mut scratch.executed, pc - 1, TrapCode::MemFault, Some(f.addr)),
            }
        }};
    }
    macro_rules! store {
        ($v:expr, $addr:expr, $size:expr, $aligned:expr) => {{
            let addr = $addr;
            if !check_aligned(addr, $size, $aligned) {
                return trap(block, &mut scratch.executed, pc - 1, TrapCode::Misaligned, Some(addr));
            }
            fence(Ordering::Release);
            if let Err(f) = mem.write_le(addr, $size as u32, r!($v)) {
                return trap(block, &mut scratch.executed, pc - 1, TrapCode::MemFault, Some(f.addr));
            }
            code_modified |= mem.code_written();
        }};
    }
    loop {
        // SAFETY: a compiled block ends in a terminator, which returns.
        let op = unsafe { *block.ops.get_unchecked(pc) };
        pc += 1;
        match op {
            Op::Add { d, a, b, w } => r!(d) = ((r!(a) as u64).wrapping_add(r!(b) as u64) & mask(w)) as u128,
            Op::Sub { d, a, b, w } => r!(d) = ((r!(a) as u64).wrapping_sub(r!(b) as u64) & mask(w)) as u128,
            Op::Mul { d, a, b, w } => r!(d) = ((r!(a) as u64).wrapping_mul(r!(b) as u64) & mask(w)) as u128,
            Op::Neg { d, a, w } => r!(d) = ((r!(a) as u64).wrapping_neg() & mask(w)) as u128,
            Op::And { d, a, b } => r!(d) = r!(a) & r!(b),
            Op::Or { d, a, b } => r!(d) = r!(a) | r!(b),
            Op::Xor { d, a, b } => r!(d) = r!(a) ^ r!(b),
            Op::Not { d, a, w } => r!(d) = (!(r!(a) as u64) & mask(w)) as u128,
            Op::Shl { d, a, b, w } => {
                let n = (r!(b) as u32) & (w as u32 - 1);
                r!(d) = (((r!(a) as u64) << n) & mask(w)) as u128;
            }
            Op::Lshr { d, a, b, w } => {
                let n = (r!(b) as u32) & (w as u32 - 1);
                r!(d) = ((r!(a) as u64) >> n) as u128;
            }
            Op::Ashr { d, a, b, w } => {
                let n = (r!(b) as u32) & (w as u32 - 1);
                let x = (((r!(a) as u64) << (64 - w as u32)) as i64) >> (64 - w as u32);
                r!(d) = (((x >> n) as u64) & mask(w)) as u128;
            }
            Op::Icmp { d, a, b, cc, w } => r!(d) = icmp64(cc, r!(a) as u64, r!(b) as u64, w) as u128,
            Op::IcmpF { d, a, b, cc, w, off } => {
                let v = icmp64(cc, r!(a) as u64, r!(b) as u64, w);
                r!(d) = v as u128;
                set8!(off, v);
            }
            Op::Select { d, c, a, b } => r!(d) = if r!(c) & 1 == 1 { r!(a) } else { r!(b) },
            Op::Trunc { d, a, w } => r!(d) = (r!(a) as u64 & mask(w)) as u128,
            Op::BitF { d, a, off } => {
                let v = r!(a) as u8 & 1;
                r!(d) = v as u128;
                set8!(off, v);
            }
            Op::Sext { d, a, from, w } => r!(d) = (sext(r!(a), from as u32) as u64 & mask(w)) as u128,
            Op::AddCarry { d, a, b, c, w } => {
                let (res, cf, of) = add_carry(r!(a) as u64, r!(b) as u64, r!(c) as u64, w);
                r!(d) = res as u128;
                r!(d + 1) = cf as u128;
                r!(d + 2) = of as u128;
            }
            Op::SubBorrow { d, a, b, c, w } => {
                let (res, cf, of) = sub_borrow(r!(a) as u64, r!(b) as u64, r!(c) as u64, w);
                r!(d) = res as u128;
                r!(d + 1) = cf as u128;
                r!(d + 2) = of as u128;
            }
            Op::AddCarryF { d, a, b, c, w, cf: cf_off, of: of_off } => {
                let (res, cf, of) = add_carry(r!(a) as u64, r!(b) as u64, r!(c) as u64, w);
                r!(d) = res as u128;
                r!(d + 1) = cf as u128;
                r!(d + 2) = of as u128;
                set8!(cf_off, cf);
                set8!(of_off, of);
            }
            Op::SubBorrowF { d, a, b, c, w, cf: cf_off, of: of_off } => {
                let (res, cf, of) = sub_borrow(r!(a) as u64, r!(b) as u64, r!(c) as u64, w);
                r!(d) = res as u128;
                r!(d + 1) = cf as u128;
                r!(d + 2) = of as u128;
                set8!(cf_off, cf);
                set8!(of_off, of);
            }
            Op::Parity { d, a } => r!(d) = parity(r!(a) as u64) as u128,
            Op::ParityF { d, a, off } => {
                let v = parity(r!(a) as u64);
                r!(d) = v as u128;
                set8!(off, v);
            }
            Op::Zsp { a, w, zf, sf, pf } => {
                let x = r!(a) as u64;
                set8!(zf, x == 0);
                set8!(sf, (x >> (w - 1)) & 1);
                set8!(pf, parity(x));
            }
            Op::Aux { d, a, b, r, off } => {
                let v = ((r!(a) ^ r!(b) ^ r!(r)) >> 4) as u8 & 1;
                r!(d) = v as u128;
                set8!(off, v);
            }
            Op::VExtract { d, a, shift, w } => r!(d) = (r!(a) >> shift) & mask(w) as u128,
            Op::VInsert { d, a, b, shift, w } => {
                let m = (mask(w) as u128) << shift;
                r!(d) = (r!(a) & !m) | ((r!(b) & mask(w) as u128) << shift);
            }
            Op::Get64 { d, off } => r!(d) = get64!(off) as u128,
            Op::Get8 { d, off } => r!(d) = get8!(off) as u128,
            Op::Get { d, off, size } => r!(d) = read_state(state!(), off, size),
            Op::Set64 { a, off } => set64!(off, r!(a)),
            Op::Set8 { a, off } => set8!(off, r!(a)),
            Op::Set { a, off, size } => write_state(state!(), off, size, r!(a)),
            Op::Set8Set64Set64 { c, a, b, off_c, off_a, off_b } => {
                set8!(off_c, r!(c));
                set64!(off_a, r!(a));
                set64!(off_b, r!(b));
            }
            Op::Set64Set64 { a, off_a, b, off_b } => {
                set64!(off_a, r!(a));
                set64!(off_b, r!(b));
            }
            Op::Load { d, addr, size, aligned } => load!(d, r!(addr) as u64, size, aligned),
            Op::LoadAdd { d, a, b, size, aligned } => {
                load!(d, (r!(a) as u64).wrapping_add(r!(b) as u64), size, aligned)
            }
            Op::Store { v, addr, size, aligned } => store!(v, r!(addr) as u64, size, aligned),
            Op::StoreAdd { v, a, b, size, aligned } => {
                store!(v, (r!(a) as u64).wrapping_add(r!(b) as u64), size, aligned)
            }
            Op::Check { addr, ord } => {
                if code_modified {
                    scratch.executed = ord;
                    return Outcome::Jump(addr);
                }
            }
            Op::JumpIf { c, target, executed } => {
                if r!(c) & 1 == 1 {
                    scratch.executed = executed;
                    return Outcome::Jump(target);
                }
            }
            Op::JumpIfCmp { a, b, cc, w, target, executed } => {
                if icmp64(cc, r!(a) as u64, r!(b) as u64, w) {
                    scratch.executed = executed;
                    return Outcome::Jump(target);
                }
            }
            Op::TrapIf { c, code } => {
                if r!(c) & 1 == 1 {
                    return trap(block, &mut scratch.executed, pc - 1, code, None);
                }
            }
            Op::Fexc { i, lane_bits, lanes }
                if {
                    let g = &block.generic[i as usize];
                    let mut values = [0u128; 4];
                    for (v, a) in values.iter_mut().zip(&g.args[1..]) {
                        *v = r!(*a);
                    }
                    let flags = r!(g.args[0]) as u32;
                    flags & eval::PE != 0
                        && eval::ordinary_passes(lane_bits as u32, lanes as u32, &values[..g.args.len() - 1])
                } =>
            {
                let g = &block.generic[i as usize];
                r!(g.first_result) = r!(g.args[0]);
            }
            Op::Generic { i } | Op::Fexc { i, .. } => {
                let g = &block.generic[i as usize];
                let (args, results) = (&mut scratch.args, &mut scratch.results);
                // SAFETY: as for `r!`: the generic operation's registers
                // are below `block.regs`.
                let regs = unsafe { std::slice::from_raw_parts_mut(rp, block.regs) };
                if let Err((code, addr)) = generic(g, regs, args, results, state!(), mem, helpers) {
                    return trap(block, &mut scratch.executed, pc - 1, code, addr);
                }
                code_modified |= mem.code_written();
            }
            Op::Jump { target } => {
                scratch.executed = block.guest_insts();
                return Outcome::Jump(target);
            }
            Op::Branch { c, taken, not_taken } => {
                scratch.executed = block.guest_insts();
                return Outcome::Jump(if r!(c) & 1 == 1 { taken } else { not_taken });
            }
            Op::JumpInd { a } => {
                scratch.executed = block.guest_insts();
                return Outcome::Indirect(r!(a) as u64);
            }
            Op::Exit { reason, resume } => {
                // An undefined instruction does not complete.
                scratch.executed = block.guest_insts().saturating_sub((reason == ExitReason::Undefined) as u32);
                return Outcome::Exit(reason, resume);
            }
        }
    }
}

/// Runs a generic operation; a trap comes back as its code and fault address.
/// Never inlined: the reference semantics it calls cost far more than the
/// call, and its code inside `run` (the atomic operations' above all) made
/// the dispatch loop's own code larger and slower.
#[inline(never)]
fn generic(
    g: &GenericOp,
    r: &mut [u128],
    args: &mut Vec<u128>,
    results: &mut Vec<u128>,
    state: &mut [u8],
    mem: &mut GuestMemory,
    helpers: &mut dyn Helpers,
) -> Result<(), (TrapCode, Option<u64>)> {
    args.clear();
    args.extend(g.args.iter().map(|a| r[*a as usize]));
    results.clear();
    results.resize(g.results as usize, 0);
    let outcome = match (g.op, g.imm) {
        (Opcode::Call, Imm::Helper(h)) => helpers.call(h, HelperCtx { state, mem }, args, results),
        (Opcode::AtomicRmw | Opcode::AtomicCas, imm) => {
            let size = g.ty.map_or(8, |t| t.bytes());
            let update = |old| eval::atomic_update(&imm, size, args, old);
            results[0] = mem.atomic(args[0] as u64, size, update).map_err(|f| (TrapCode::MemFault, Some(f.addr)))?;
            Ok(())
        }
        (op, imm) => eval::eval(op, g.ty, &imm, args, &g.arg_types, results),
    };
    outcome.map_err(|code| (code, None))?;
    r[g.first_result as usize..][..results.len()].copy_from_slice(results);
    Ok(())
}
