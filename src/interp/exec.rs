//! The execution loop over pre-resolved operations.

use std::sync::atomic::{Ordering, fence};

use super::compile::{Compiled, GenericOp, Op};
use crate::abi::{HelperCtx, Helpers, Outcome, Trap};
use crate::machine::{GuestMemory, MemFault};
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

#[inline]
fn icmp64(cc: IntCC, a: u64, b: u64, w: u32) -> bool {
    let s = |x: u64| ((x << (64 - w)) as i64) >> (64 - w);
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

#[inline]
fn read_state(state: &[u8], off: u32, size: u32) -> u128 {
    let off = off as usize;
    match size {
        1 => state[off] as u128,
        2 => u16::from_ne_bytes(state[off..off + 2].try_into().unwrap()) as u128,
        4 => u32::from_ne_bytes(state[off..off + 4].try_into().unwrap()) as u128,
        8 => u64::from_ne_bytes(state[off..off + 8].try_into().unwrap()) as u128,
        _ => u128::from_ne_bytes(state[off..off + 16].try_into().unwrap()),
    }
}

#[inline]
fn write_state(state: &mut [u8], off: u32, size: u32, v: u128) {
    let off = off as usize;
    match size {
        1 => state[off] = v as u8,
        2 => state[off..off + 2].copy_from_slice(&(v as u16).to_ne_bytes()),
        4 => state[off..off + 4].copy_from_slice(&(v as u32).to_ne_bytes()),
        8 => state[off..off + 8].copy_from_slice(&(v as u64).to_ne_bytes()),
        _ => state[off..off + 16].copy_from_slice(&v.to_ne_bytes()),
    }
}

/// Where the running block is, for precise trap reports.
struct Position {
    guest: u64,
    completed: u32,
    started: bool,
}

impl Position {
    fn trap(&self, code: TrapCode, fault_addr: Option<u64>) -> Outcome {
        Outcome::Trap(Trap { code, guest: self.guest, completed: self.completed, fault_addr })
    }

    fn mem_fault(&self, f: MemFault) -> Outcome {
        self.trap(TrapCode::MemFault, Some(f.addr))
    }
}

#[inline]
fn check_aligned(addr: u64, size: u32, aligned: bool) -> bool {
    !aligned || addr & (size as u64 - 1) == 0
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
    let r = &mut scratch.regs;
    if r.len() < block.regs {
        r.resize(block.regs, 0);
    }
    let mut pos = Position { guest: block.addr, completed: 0, started: false };
    // A store hit a page holding translated code: the rest of this block may
    // be stale, so stop at the next instruction boundary.
    let mut code_modified = false;
    for op in &block.ops {
        match *op {
            Op::Const { d, v } => r[d as usize] = v as u128,
            Op::ConstWide { d, k } => r[d as usize] = block.consts[k as usize],
            Op::Copy { d, a } => r[d as usize] = r[a as usize],
            Op::Add { d, a, b, m } => {
                r[d as usize] = ((r[a as usize] as u64).wrapping_add(r[b as usize] as u64) & m) as u128
            }
            Op::Sub { d, a, b, m } => {
                r[d as usize] = ((r[a as usize] as u64).wrapping_sub(r[b as usize] as u64) & m) as u128
            }
            Op::Mul { d, a, b, m } => {
                r[d as usize] = ((r[a as usize] as u64).wrapping_mul(r[b as usize] as u64) & m) as u128
            }
            Op::Neg { d, a, m } => r[d as usize] = ((r[a as usize] as u64).wrapping_neg() & m) as u128,
            Op::And { d, a, b } => r[d as usize] = r[a as usize] & r[b as usize],
            Op::Or { d, a, b } => r[d as usize] = r[a as usize] | r[b as usize],
            Op::Xor { d, a, b } => r[d as usize] = r[a as usize] ^ r[b as usize],
            Op::Not { d, a, m } => r[d as usize] = (!(r[a as usize] as u64) & m) as u128,
            Op::Shl { d, a, b, w } => {
                let n = (r[b as usize] as u32) & (w - 1);
                r[d as usize] = ((r[a as usize] as u64) << n) as u128 & eval::mask(w);
            }
            Op::Lshr { d, a, b, w } => {
                let n = (r[b as usize] as u32) & (w - 1);
                r[d as usize] = ((r[a as usize] as u64) >> n) as u128;
            }
            Op::Ashr { d, a, b, w } => {
                let n = (r[b as usize] as u32) & (w - 1);
                let x = (((r[a as usize] as u64) << (64 - w)) as i64) >> (64 - w);
                r[d as usize] = ((x >> n) as u64) as u128 & eval::mask(w);
            }
            Op::Icmp { d, a, b, cc, w } => {
                r[d as usize] = icmp64(cc, r[a as usize] as u64, r[b as usize] as u64, w) as u128
            }
            Op::Select { d, c, a, b } => {
                r[d as usize] = if r[c as usize] & 1 == 1 { r[a as usize] } else { r[b as usize] }
            }
            Op::Trunc { d, a, m } => r[d as usize] = r[a as usize] & m as u128,
            Op::Sext { d, a, from, m } => r[d as usize] = (sext(r[a as usize], from) as u64 & m) as u128,
            Op::AddCarry { d, a, b, c, w } => {
                let (x, y) = (r[a as usize], r[b as usize]);
                let s = x + y + (r[c as usize] & 1);
                let res = s & eval::mask(w);
                let sign = |v: u128| (v >> (w - 1)) & 1;
                r[d as usize] = res;
                r[d as usize + 1] = (s >> w) & 1;
                r[d as usize + 2] = (sign(x) == sign(y) && sign(res) != sign(x)) as u128;
            }
            Op::SubBorrow { d, a, b, c, w } => {
                let (x, y, bin) = (r[a as usize], r[b as usize], r[c as usize] & 1);
                let res = x.wrapping_sub(y).wrapping_sub(bin) & eval::mask(w);
                let sign = |v: u128| (v >> (w - 1)) & 1;
                r[d as usize] = res;
                r[d as usize + 1] = (x < y + bin) as u128;
                r[d as usize + 2] = (sign(x) != sign(y) && sign(res) != sign(x)) as u128;
            }
            Op::Parity { d, a } => r[d as usize] = (r[a as usize] as u8).count_ones().is_multiple_of(2) as u128,
            Op::Get { d, off, size } => r[d as usize] = read_state(state, off, size),
            Op::Set { a, off, size } => write_state(state, off, size, r[a as usize]),
            Op::Load { d, addr, size, aligned } => {
                let addr = r[addr as usize] as u64;
                if !check_aligned(addr, size, aligned) {
                    {
                        scratch.executed = pos.completed;
                        return pos.trap(TrapCode::Misaligned, Some(addr));
                    }
                }
                match mem.read_le(addr, size) {
                    // The fences keep x86's order among threads on hosts
                    // that order more weakly (they cost nothing on x86-64).
                    Ok(v) => {
                        r[d as usize] = v;
                        fence(Ordering::Acquire);
                    }
                    Err(f) => {
                        scratch.executed = pos.completed;
                        return pos.mem_fault(f);
                    }
                }
            }
            Op::Store { v, addr, size, aligned } => {
                let addr = r[addr as usize] as u64;
                if !check_aligned(addr, size, aligned) {
                    {
                        scratch.executed = pos.completed;
                        return pos.trap(TrapCode::Misaligned, Some(addr));
                    }
                }
                fence(Ordering::Release);
                if let Err(f) = mem.write_le(addr, size, r[v as usize]) {
                    scratch.executed = pos.completed;
                    return pos.mem_fault(f);
                }
                code_modified |= mem.code_written();
            }
            Op::Marker { addr } => {
                if code_modified {
                    scratch.executed = pos.completed + pos.started as u32;
                    return Outcome::Jump(addr);
                }
                if pos.started {
                    pos.completed += 1;
                }
                pos.started = true;
                pos.guest = addr;
            }
            Op::JumpIf { c, target } => {
                if r[c as usize] & 1 == 1 {
                    scratch.executed = pos.completed + 1;
                    return Outcome::Jump(target);
                }
            }
            Op::TrapIf { c, code } => {
                if r[c as usize] & 1 == 1 {
                    scratch.executed = pos.completed;
                    return pos.trap(code, None);
                }
            }
            Op::Generic { i } => {
                let g = &block.generic[i as usize];
                if let Err(outcome) = generic(g, r, &mut scratch.args, &mut scratch.results, state, mem, helpers, &pos)
                {
                    scratch.executed = pos.completed;
                    return outcome;
                }
                code_modified |= mem.code_written();
            }
            Op::Fence => {}
            Op::Jump { target } => {
                scratch.executed = block.guest_insts;
                return Outcome::Jump(target);
            }
            Op::Branch { c, taken, not_taken } => {
                scratch.executed = block.guest_insts;
                return Outcome::Jump(if r[c as usize] & 1 == 1 { taken } else { not_taken });
            }
            Op::JumpInd { a } => {
                scratch.executed = block.guest_insts;
                return Outcome::Indirect(r[a as usize] as u64);
            }
            Op::Exit { reason, resume } => {
                // An undefined instruction does not complete.
                scratch.executed = block.guest_insts.saturating_sub((reason == ExitReason::Undefined) as u32);
                return Outcome::Exit(reason, resume);
            }
        }
    }
    unreachable!("a verified block ends in a terminator")
}

#[allow(clippy::too_many_arguments)]
fn generic(
    g: &GenericOp,
    r: &mut [u128],
    args: &mut Vec<u128>,
    results: &mut Vec<u128>,
    state: &mut [u8],
    mem: &mut GuestMemory,
    helpers: &mut dyn Helpers,
    pos: &Position,
) -> Result<(), Outcome> {
    args.clear();
    args.extend(g.args.iter().map(|a| r[*a as usize]));
    results.clear();
    results.resize(g.results as usize, 0);
    let outcome = match (g.op, g.imm) {
        (Opcode::Call, Imm::Helper(h)) => helpers.call(h, HelperCtx { state, mem }, args, results),
        (Opcode::AtomicRmw | Opcode::AtomicCas, imm) => {
            let size = g.ty.map_or(8, |t| t.bytes());
            let update = |old| eval::atomic_update(&imm, size, args, old);
            results[0] = mem.atomic(args[0] as u64, size, update).map_err(|f| pos.mem_fault(f))?;
            Ok(())
        }
        (op, imm) => eval::eval(op, g.ty, &imm, args, &g.arg_types, results),
    };
    if let Err(code) = outcome {
        return Err(pos.trap(code, None));
    }
    for (i, v) in results.iter().enumerate() {
        r[g.first_result as usize + i] = *v;
    }
    Ok(())
}
