//! Pre-resolution: a verified block becomes the flat `Op` array of `ops`.
//! Constants move to the first registers; a `zext` or `bitcast` is no
//! operation but its operand's register; guest markers become `Mark`s;
//! common operations on scalars of up to 64 bits get their own `Op`, and
//! everything else runs through the reference semantics (`visa::eval`).
//! A `set` of a 1-byte slot moves into the operation that computes its
//! value (`fuse` says when that is exact), and the usual groups of such
//! operations (zero, sign and parity of a result; the auxiliary carry;
//! a compare feeding a side exit) become one operation each.

use std::cell::RefCell;
use std::fmt;

use super::fuse::{Fusion, fuse_sets, refill};
use super::ops::{Compiled, GenericOp, Mark, Op, Reg};
use crate::visa::{Block, Env, Imm, Inst, IntCC, Opcode, Type, Value, eval};

/// Why a block cannot be prepared for execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError(pub String);

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

/// A slot access resolved against the state record: byte offset and size.
#[inline]
pub(crate) fn slot_range(env: &Env, imm: Imm, state_size: usize) -> Result<(u32, u32), CompileError> {
    if let Imm::Slot(slot) = imm
        && let Some(decl) = env.slot_decl(slot)
        && decl.offset as usize + decl.ty.bytes() as usize <= state_size
    {
        return Ok((decl.offset, decl.ty.bytes()));
    }
    Err(bad_slot(env, imm, state_size))
}

/// Why `slot_range` refuses `imm`.
#[cold]
fn bad_slot(env: &Env, imm: Imm, state_size: usize) -> CompileError {
    let Imm::Slot(slot) = imm else { return CompileError("a slot access without a slot".into()) };
    let Some(decl) = env.slot_decl(slot) else { return CompileError(format!("no slot #{}", slot.0)) };
    CompileError(format!(
        "slot %{} ({} bytes at {}) lies outside the {state_size}-byte state",
        decl.name,
        decl.ty.bytes(),
        decl.offset
    ))
}

/// Bit position and width of lane `k` of a vector shape.
fn lane_of(shape: Option<Type>, k: u8) -> Option<(u8, u8)> {
    let (lane, n) = shape?.lane()?;
    ((k as u32) < n).then(|| ((k as u32 * lane.bits()) as u8, lane.bits() as u8))
}

/// The block's values with what `compile` knows of them.
struct Values<'a> {
    block: &'a Block,
    /// Register of each value.
    reg: Vec<Reg>,
    /// The constants, in the registers they start the file with.
    consts: Vec<u128>,
    /// Operands that read each value.
    uses: Vec<u32>,
}

impl Values<'_> {
    /// The values of `block`, worked out in `spare`'s buffers.
    fn new(block: &Block, spare: Spare) -> Result<Values<'_>, CompileError> {
        let n = block.types.len();
        let mut consts = spare.consts;
        consts.clear();
        let mut uses = refill(spare.uses, n, 0u32);
        for inst in &block.insts {
            if inst.first_result as usize + inst.results_len as usize > n {
                return Err(CompileError(format!("`{}` defines values past the block's", inst.op.name())));
            }
            for a in block.args(inst) {
                let Some(u) = uses.get_mut(a.0 as usize) else {
                    return Err(CompileError(format!("`{}` reads undefined value {a}", inst.op.name())));
                };
                *u += 1;
            }
            if inst.op == Opcode::Const {
                let (Imm::Const(bits), 1) = (inst.imm, inst.results_len) else {
                    return Err(CompileError("a `const` without one value".into()));
                };
                consts.push(bits.get());
            }
        }
        // Constants first, in order, then every other value at its own
        // number past them (multi-result values stay consecutive). Values
        // are kept zero-extended, so a `zext` or `bitcast` is its operand's
        // register again.
        let first = consts.len() as u32;
        let mut reg = refill(spare.reg, n, 0);
        let mut next = 0;
        for inst in &block.insts {
            for v in inst.results() {
                let v = v.0 as usize;
                reg[v] = match inst.op {
                    Opcode::Const => {
                        next += 1;
                        next - 1
                    }
                    Opcode::Zext | Opcode::Bitcast => reg[block.args(inst)[0].0 as usize],
                    _ => first + v as u32,
                };
            }
        }
        Ok(Values { block, reg, consts, uses })
    }

    fn r(&self, v: Value) -> Reg {
        self.reg[v.0 as usize]
    }

    fn arg(&self, inst: &Inst, i: usize) -> Reg {
        self.r(self.block.args(inst)[i])
    }

    /// Whether `v` holds the constant `bits` (zero-extended: a `zext` of a
    /// constant is the constant's register).
    fn is_const(&self, v: Value, bits: u128) -> bool {
        self.consts.get(self.r(v) as usize) == Some(&bits)
    }
}

/// The buffers `compile` works in, kept between blocks (a thread
/// prepares blocks one at a time).
#[derive(Default)]
struct Spare {
    reg: Vec<Reg>,
    consts: Vec<u128>,
    uses: Vec<u32>,
    live: Vec<usize>,
    ops: Vec<Op>,
    fusion: Fusion,
}

thread_local! {
    static SPARE: RefCell<Spare> = RefCell::default();
}

/// Prepares a verified block. `state_size` is the size of the state record
/// it will run against; every slot it touches must lie inside it.
pub fn compile(env: &Env, block: &Block, state_size: usize) -> Result<Compiled, CompileError> {
    let mut spare = SPARE.take();
    let reuse = std::mem::take(&mut spare.fusion);
    let mut live = std::mem::take(&mut spare.live);
    let mut ops = std::mem::take(&mut spare.ops);
    ops.clear();
    let vals = Values::new(block, spare)?;
    let fusion = fuse_sets(env, block, state_size, reuse)?;
    // The instructions that become operations.
    live.clear();
    live.extend((0..block.insts.len()).filter(|&i| {
        !fusion.folded[i]
            && !matches!(block.insts[i].op, Opcode::Const | Opcode::Fence | Opcode::Zext | Opcode::Bitcast)
    }));
    let guests = live.iter().filter(|&&i| block.insts[i].op == Opcode::Guest).count();
    let mut c = Compiled {
        addr: block.addr,
        ops,
        generic: Vec::new(),
        consts: vals.consts.clone(),
        regs: vals.consts.len() + block.types.len(),
        state_size,
        marks: Vec::with_capacity(guests),
    };
    let mut stored = false;
    let mut k = 0;
    while k < live.len() {
        let (op, taken) = match group(env, state_size, &vals, &fusion, &live[k..], c.marks.len() as u32) {
            Some(g) => g,
            None => (single(env, &vals, &fusion, &mut c, live[k], &mut stored, state_size)?, 1),
        };
        stored |= matches!(op, Some(Op::StoreAdd { .. }));
        if let Some(op) = op {
            c.ops.push(op);
        }
        k += taken;
    }
    // Kept as long as the translation: in a buffer of its own size.
    let ops = std::mem::take(&mut c.ops);
    c.ops = ops.to_vec();
    let Values { reg, consts, uses, .. } = vals;
    SPARE.set(Spare { reg, consts, uses, live, ops, fusion });
    Ok(c)
}

/// A group of instructions starting at `at[0]` that one fused operation
/// does, with the number of instructions it covers.
fn group(
    env: &Env,
    state_size: usize,
    vals: &Values,
    fusion: &Fusion,
    at: &[usize],
    marks: u32,
) -> Option<(Option<Op>, usize)> {
    let block = vals.block;
    let inst = |k: usize| at.get(k).map(|&i| &block.insts[i]);
    let res = |k: usize| Value(block.insts[at[k]].first_result);
    let first = inst(0)?;
    // Fusing moves stores of slots, so nothing else may stand between.
    let contiguous = |n: usize| {
        at.len() >= n && (at[0]..=at[n - 1]).all(|i| at[..n].contains(&i) || block.insts[i].op == Opcode::Const)
    };
    let small = |i: &Inst| i.ty.is_some_and(|t| t.bits() <= 64 && !t.is_shape());
    match first.op {
        // Zero, sign and parity of one value, each only stored to its slot.
        Opcode::Icmp => {
            let (i1, i2) = (inst(1)?, inst(2)?);
            let x = block.args(first)[0];
            let zero_cmp = |i: &Inst, cc: IntCC| {
                i.op == Opcode::Icmp
                    && i.imm == Imm::IntCC(cc)
                    && block.args(i)[0] == x
                    && vals.is_const(block.args(i)[1], 0)
            };
            let only_stored =
                |k: usize| fusion.set_of[res(k).0 as usize].is_some() && vals.uses[res(k).0 as usize] == 1;
            if small(first)
                && zero_cmp(first, IntCC::Eq)
                && zero_cmp(i1, IntCC::Slt)
                && i2.op == Opcode::Parity
                && block.args(i2)[0] == x
                && (0..3).all(only_stored)
                && contiguous(3)
            {
                let off = |k: usize| fusion.set_of[res(k).0 as usize].unwrap();
                let w = first.ty.unwrap().bits() as u8;
                return Some((Some(Op::Zsp { a: vals.r(x), w, zf: off(0), sf: off(1), pf: off(2) }), 3));
            }
            // A compare whose only use is the side exit after it.
            let next = inst(1)?;
            let d = res(0);
            if small(first)
                && fusion.set_of[d.0 as usize].is_none()
                && vals.uses[d.0 as usize] == 1
                && next.op == Opcode::JumpIf
                && block.args(next)[0] == d
                && let (Imm::IntCC(cc), Imm::Target(target)) = (first.imm, next.imm)
            {
                let op = Op::JumpIfCmp {
                    a: vals.arg(first, 0),
                    b: vals.arg(first, 1),
                    cc,
                    w: first.ty.unwrap().bits() as u8,
                    target,
                    executed: marks.max(1),
                };
                return Some((Some(op), 2));
            }
            None
        }
        // Bit 4 of a ^ b ^ r, the auxiliary carry of an addition or
        // subtraction a, b -> r.
        Opcode::Xor => {
            let (x2, sh, tr) = (inst(1)?, inst(2)?, inst(3)?);
            let t1 = res(0);
            let ok = small(first)
                && first.ty.unwrap().bits() >= 8
                && x2.op == Opcode::Xor
                && sh.op == Opcode::Lshr
                && tr.op == Opcode::Trunc
                && tr.ty == Some(Type::I1)
                && (block.args(x2)[0] == t1 || block.args(x2)[1] == t1)
                && block.args(sh)[0] == res(1)
                && vals.is_const(block.args(sh)[1], 4)
                && block.args(tr)[0] == res(2)
                && (0..3).all(|k| vals.uses[res(k).0 as usize] == 1)
                && fusion.set_of[res(3).0 as usize].is_some()
                && contiguous(4);
            if !ok {
                return None;
            }
            let r = if block.args(x2)[0] == t1 { block.args(x2)[1] } else { block.args(x2)[0] };
            let op = Op::Aux {
                d: vals.r(res(3)),
                a: vals.arg(first, 0),
                b: vals.arg(first, 1),
                r: vals.r(r),
                off: fusion.set_of[res(3).0 as usize].unwrap(),
            };
            Some((Some(op), 4))
        }
        // `set`s in a row (nothing runs between two instructions of `at`).
        Opcode::Set => {
            let set = |k: usize| {
                let i = inst(k).filter(|i| i.op == Opcode::Set)?;
                let (off, size) = slot_range(env, i.imm, state_size).ok()?;
                Some((vals.arg(i, 0), off, size))
            };
            let ((c, off_c, 1), Some((a, off_a, 8)), Some((b, off_b, 8))) = (set(0)?, set(1), set(2)) else {
                return match (set(0)?, set(1)?) {
                    ((a, off_a, 8), (b, off_b, 8)) => Some((Some(Op::Set64Set64 { a, off_a, b, off_b }), 2)),
                    _ => None,
                };
            };
            let [off_c, off_a, off_b] = [off_c, off_a, off_b].map(|o| u16::try_from(o).ok());
            Some((Some(Op::Set8Set64Set64 { c, a, b, off_c: off_c?, off_a: off_a?, off_b: off_b? }), 3))
        }
        // An address computed for one access only.
        Opcode::Iadd => {
            let next = inst(1)?;
            let sum = res(0);
            if first.ty != Some(Type::I64) || vals.uses[sum.0 as usize] != 1 {
                return None;
            }
            let (a, b) = (vals.arg(first, 0), vals.arg(first, 1));
            let op = match (next.op, next.imm, block.args(next)) {
                (Opcode::Load, Imm::Mem(f), &[addr]) if addr == sum => {
                    let (d, size) = (vals.r(res(1)), (next.ty?.bits() / 8) as u8);
                    Op::LoadAdd { d, a, b, size, aligned: f.aligned }
                }
                (Opcode::Store, Imm::Mem(f), &[v, addr]) if addr == sum => {
                    let size = block.value_type(v).bytes() as u8;
                    Op::StoreAdd { v: vals.r(v), a, b, size, aligned: f.aligned }
                }
                _ => return None,
            };
            Some((Some(op), 2))
        }
        _ => None,
    }
}

/// The operation of instruction `i` alone (none for a marker that needs
/// no check).
fn single(
    env: &Env,
    vals: &Values,
    fusion: &Fusion,
    c: &mut Compiled,
    i: usize,
    stored: &mut bool,
    state_size: usize,
) -> Result<Option<Op>, CompileError> {
    let block = vals.block;
    let inst = &block.insts[i];
    let args = block.args(inst);
    let a = args.first().map_or(0, |v| vals.r(*v));
    let b = args.get(1).map_or(0, |v| vals.r(*v));
    let d = vals.reg.get(inst.first_result as usize).copied().unwrap_or(0);
    let ty = inst.ty;
    let small = ty.is_some_and(|t| t.bits() <= 64 && !t.is_shape());
    let w = ty.map_or(0, Type::bits) as u8;
    let set_of = |k: u32| fusion.set_of.get((inst.first_result + k) as usize).copied().flatten();
    let op = match (inst.op, inst.imm) {
        (Opcode::Select, _) => Op::Select { d, c: a, a: b, b: vals.r(args[2]) },
        (Opcode::Iadd, _) if small => Op::Add { d, a, b, w },
        (Opcode::Isub, _) if small => Op::Sub { d, a, b, w },
        (Opcode::Imul, _) if small => Op::Mul { d, a, b, w },
        (Opcode::Ineg, _) if small => Op::Neg { d, a, w },
        (Opcode::And, _) => Op::And { d, a, b },
        (Opcode::Or, _) => Op::Or { d, a, b },
        (Opcode::Xor, _) => Op::Xor { d, a, b },
        (Opcode::Not, _) if small => Op::Not { d, a, w },
        (Opcode::Shl, _) if small => Op::Shl { d, a, b, w },
        (Opcode::Lshr, _) if small => Op::Lshr { d, a, b, w },
        (Opcode::Ashr, _) if small => Op::Ashr { d, a, b, w },
        (Opcode::Icmp, Imm::IntCC(cc)) if small => match set_of(0) {
            Some(off) => Op::IcmpF { d, a, b, cc, w, off },
            None => Op::Icmp { d, a, b, cc, w },
        },
        (Opcode::Trunc, _) if small => match set_of(0) {
            Some(off) => Op::BitF { d, a, off },
            None => Op::Trunc { d, a, w },
        },
        (Opcode::Sext, _) if small => Op::Sext { d, a, from: block.value_type(args[0]).bits() as u8, w },
        (Opcode::IaddCarry | Opcode::IsubBorrow, _) if small => {
            let add = inst.op == Opcode::IaddCarry;
            let c3 = vals.r(args[2]);
            let flags_used = (1..3).any(|k| vals.uses[(inst.first_result + k) as usize] > 0 || set_of(k).is_some());
            match (set_of(1), set_of(2)) {
                _ if !flags_used && vals.is_const(args[2], 0) => {
                    if add {
                        Op::Add { d, a, b, w }
                    } else {
                        Op::Sub { d, a, b, w }
                    }
                }
                (Some(cf), Some(of)) if add => Op::AddCarryF { d, a, b, c: c3, w, cf, of },
                (Some(cf), Some(of)) => Op::SubBorrowF { d, a, b, c: c3, w, cf, of },
                _ if add => Op::AddCarry { d, a, b, c: c3, w },
                _ => Op::SubBorrow { d, a, b, c: c3, w },
            }
        }
        (Opcode::Parity, _) => match set_of(0) {
            Some(off) => Op::ParityF { d, a, off },
            None => Op::Parity { d, a },
        },
        (Opcode::Vextract | Opcode::Vinsert, Imm::Lane(k)) if lane_of(ty, k).is_some() => {
            let (shift, w) = lane_of(ty, k).unwrap_or_default();
            if inst.op == Opcode::Vextract {
                Op::VExtract { d, a, shift, w }
            } else {
                Op::VInsert { d, a, b, shift, w }
            }
        }
        (Opcode::Get | Opcode::Set, imm) => {
            let (off, size) = slot_range(env, imm, state_size)?;
            match (inst.op, size) {
                (Opcode::Get, 8) => Op::Get64 { d, off },
                (Opcode::Get, 1) => Op::Get8 { d, off },
                (Opcode::Get, _) => Op::Get { d, off, size: size as u8 },
                (_, 8) => Op::Set64 { a, off },
                (_, 1) => Op::Set8 { a, off },
                _ => Op::Set { a, off, size: size as u8 },
            }
        }
        (Opcode::Load, Imm::Mem(f)) => Op::Load { d, addr: a, size: w / 8, aligned: f.aligned },
        (Opcode::Store, Imm::Mem(f)) => {
            *stored = true;
            let size = block.value_type(args[0]).bytes() as u8;
            Op::Store { v: a, addr: b, size, aligned: f.aligned }
        }
        (Opcode::Guest, Imm::Guest { addr, .. }) => {
            let ord = c.marks.len() as u32;
            c.marks.push(Mark { pc: c.ops.len() as u32, addr });
            if !std::mem::take(stored) {
                return Ok(None);
            }
            Op::Check { addr, ord }
        }
        (Opcode::TrapIf, Imm::Trap(code)) => Op::TrapIf { c: a, code },
        (Opcode::JumpIf, Imm::Target(target)) => Op::JumpIf { c: a, target, executed: (c.marks.len() as u32).max(1) },
        (Opcode::Jump, Imm::Target(target)) => Op::Jump { target },
        (Opcode::Branch, Imm::Branch(taken, not_taken)) => Op::Branch { c: a, taken, not_taken },
        (Opcode::JumpInd, _) => Op::JumpInd { a },
        (Opcode::Exit, Imm::Exit(reason, resume)) => Op::Exit { reason, resume },
        (op, imm) => {
            if !(eval::is_evaluable(op) || matches!(op, Opcode::Call | Opcode::AtomicRmw | Opcode::AtomicCas)) {
                return Err(CompileError(format!("`{}` has no execution path", op.name())));
            }
            c.generic.push(GenericOp {
                op,
                ty,
                imm,
                args: args.iter().map(|v| vals.r(*v)).collect(),
                arg_types: args.iter().map(|v| block.value_type(*v)).collect(),
                first_result: d,
                results: inst.results_len as u32,
            });
            let i = c.generic.len() as u32 - 1;
            // Arithmetic's exception flags: the quick test inline, the
            // reference semantics when it fails.
            let ordinary = match (op, imm, ty) {
                (Opcode::Fexc1 | Opcode::Fexc2 | Opcode::Fexc3, Imm::Fexc(kind, ..), Some(t)) => {
                    let result = block.value_type(args[args.len() - 1]);
                    eval::Quick::of(kind, t, result) == eval::Quick::Ordinary
                }
                _ => false,
            };
            match ty.map(|t| t.lane().map_or((t.bits(), 1), |(l, n)| (l.bits(), n))) {
                Some((lane_bits, lanes)) if ordinary => Op::Fexc { i, lane_bits: lane_bits as u8, lanes: lanes as u8 },
                _ => {
                    *stored = true;
                    Op::Generic { i }
                }
            }
        }
    };
    Ok(Some(op))
}
