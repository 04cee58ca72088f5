//! Pre-resolution: a verified block becomes a flat list of `Op`s with
//! register indices, masks and state offsets worked out once, so execution
//! does no lookups, hashing or allocation. Common operations on scalars of
//! up to 64 bits get their own fast `Op`; everything else runs through the
//! reference semantics (`visa::eval`).

use std::fmt;

use crate::visa::{Block, Env, ExitReason, Imm, IntCC, Opcode, TrapCode, Type, eval};

/// Register (= SSA value) index.
pub(crate) type Reg = u32;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Const {
        d: Reg,
        v: u64,
    },
    ConstWide {
        d: Reg,
        k: u32,
    },
    Copy {
        d: Reg,
        a: Reg,
    },
    Add {
        d: Reg,
        a: Reg,
        b: Reg,
        m: u64,
    },
    Sub {
        d: Reg,
        a: Reg,
        b: Reg,
        m: u64,
    },
    Mul {
        d: Reg,
        a: Reg,
        b: Reg,
        m: u64,
    },
    Neg {
        d: Reg,
        a: Reg,
        m: u64,
    },
    And {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Or {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Xor {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Not {
        d: Reg,
        a: Reg,
        m: u64,
    },
    Shl {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u32,
    },
    Lshr {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u32,
    },
    Ashr {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u32,
    },
    Icmp {
        d: Reg,
        a: Reg,
        b: Reg,
        cc: IntCC,
        w: u32,
    },
    Select {
        d: Reg,
        c: Reg,
        a: Reg,
        b: Reg,
    },
    Trunc {
        d: Reg,
        a: Reg,
        m: u64,
    },
    Sext {
        d: Reg,
        a: Reg,
        from: u32,
        m: u64,
    },
    AddCarry {
        d: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
        w: u32,
    },
    SubBorrow {
        d: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
        w: u32,
    },
    Parity {
        d: Reg,
        a: Reg,
    },
    Get {
        d: Reg,
        off: u32,
        size: u32,
    },
    Set {
        a: Reg,
        off: u32,
        size: u32,
    },
    Load {
        d: Reg,
        addr: Reg,
        size: u32,
        aligned: bool,
    },
    Store {
        v: Reg,
        addr: Reg,
        size: u32,
        aligned: bool,
    },
    Marker {
        addr: u64,
    },
    TrapIf {
        c: Reg,
        code: TrapCode,
    },
    JumpIf {
        c: Reg,
        target: u64,
    },
    /// Anything else: an entry of `Compiled::generic`.
    Generic {
        i: u32,
    },
    Fence,
    Jump {
        target: u64,
    },
    Branch {
        c: Reg,
        taken: u64,
        not_taken: u64,
    },
    JumpInd {
        a: Reg,
    },
    Exit {
        reason: ExitReason,
        resume: u64,
    },
}

/// An operation executed through the reference semantics, a helper call or
/// an atomic.
#[derive(Clone, Debug)]
pub(crate) struct GenericOp {
    pub op: Opcode,
    pub ty: Option<Type>,
    pub imm: Imm,
    pub args: Vec<Reg>,
    pub arg_types: Vec<Type>,
    pub first_result: Reg,
    pub results: u32,
}

/// A block ready to execute.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub(crate) addr: u64,
    pub(crate) ops: Vec<Op>,
    pub(crate) generic: Vec<GenericOp>,
    pub(crate) consts: Vec<u128>,
    pub(crate) regs: usize,
    pub(crate) guest_insts: u32,
}

impl Compiled {
    /// Guest address of the block.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Guest instructions (markers) in the block.
    pub fn guest_insts(&self) -> u32 {
        self.guest_insts
    }

    /// Operations that run through the generic path.
    pub fn generic_ops(&self) -> usize {
        self.generic.len()
    }

    /// Bytes of host memory it takes.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Compiled>()
            + self.ops.capacity() * std::mem::size_of::<Op>()
            + self.generic.capacity() * std::mem::size_of::<GenericOp>()
            + self.consts.capacity() * std::mem::size_of::<u128>()
    }
}

/// Why a block cannot be prepared for execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError(pub String);

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

/// Prepares a verified block. `state_size` is the size of the state record
/// it will run against; every slot it touches must lie inside it.
pub fn compile(env: &Env, block: &Block, state_size: usize) -> Result<Compiled, CompileError> {
    let mut c = Compiled {
        addr: block.addr,
        ops: Vec::with_capacity(block.insts.len()),
        generic: Vec::new(),
        consts: Vec::new(),
        regs: block.types.len(),
        guest_insts: 0,
    };
    for inst in &block.insts {
        let args = block.args(inst);
        let a = args.first().map_or(0, |v| v.0);
        let b = args.get(1).map_or(0, |v| v.0);
        let d = inst.first_result;
        let ty = inst.ty;
        let small = ty.is_some_and(|t| t.bits() <= 64 && !t.is_shape());
        let w = ty.map_or(0, Type::bits);
        let m = ty.map_or(0, Type::mask);
        let op = match (inst.op, inst.imm) {
            (Opcode::Const, Imm::Const(v)) if v <= u64::MAX as u128 => Op::Const { d, v: v as u64 },
            (Opcode::Const, Imm::Const(v)) => {
                c.consts.push(v);
                Op::ConstWide { d, k: c.consts.len() as u32 - 1 }
            }
            (Opcode::Zext | Opcode::Bitcast, _) => Op::Copy { d, a },
            (Opcode::Select, _) => Op::Select { d, c: a, a: b, b: args[2].0 },
            (Opcode::Iadd, _) if small => Op::Add { d, a, b, m },
            (Opcode::Isub, _) if small => Op::Sub { d, a, b, m },
            (Opcode::Imul, _) if small => Op::Mul { d, a, b, m },
            (Opcode::Ineg, _) if small => Op::Neg { d, a, m },
            (Opcode::And, _) => Op::And { d, a, b },
            (Opcode::Or, _) => Op::Or { d, a, b },
            (Opcode::Xor, _) => Op::Xor { d, a, b },
            (Opcode::Not, _) if small => Op::Not { d, a, m },
            (Opcode::Shl, _) if small => Op::Shl { d, a, b, w },
            (Opcode::Lshr, _) if small => Op::Lshr { d, a, b, w },
            (Opcode::Ashr, _) if small => Op::Ashr { d, a, b, w },
            (Opcode::Icmp, Imm::IntCC(cc)) if small => Op::Icmp { d, a, b, cc, w },
            (Opcode::Trunc, _) if small => Op::Trunc { d, a, m },
            (Opcode::Sext, _) if small => Op::Sext { d, a, from: block.value_type(args[0]).bits(), m },
            (Opcode::IaddCarry, _) if small => Op::AddCarry { d, a, b, c: args[2].0, w },
            (Opcode::IsubBorrow, _) if small => Op::SubBorrow { d, a, b, c: args[2].0, w },
            (Opcode::Parity, _) => Op::Parity { d, a },
            (Opcode::Get | Opcode::Set, Imm::Slot(slot)) => {
                let decl = env.slot_decl(slot).ok_or_else(|| CompileError(format!("no slot #{}", slot.0)))?;
                let size = decl.ty.bytes();
                if decl.offset as usize + size as usize > state_size {
                    return Err(CompileError(format!(
                        "slot %{} ({} bytes at {}) lies outside the {state_size}-byte state",
                        decl.name, size, decl.offset
                    )));
                }
                if inst.op == Opcode::Get {
                    Op::Get { d, off: decl.offset, size }
                } else {
                    Op::Set { a, off: decl.offset, size }
                }
            }
            (Opcode::Load, Imm::Mem(f)) => Op::Load { d, addr: a, size: w / 8, aligned: f.aligned },
            (Opcode::Store, Imm::Mem(f)) => {
                let size = block.value_type(args[0]).bytes();
                Op::Store { v: a, addr: b, size, aligned: f.aligned }
            }
            (Opcode::Guest, Imm::Guest { addr, .. }) => {
                c.guest_insts += 1;
                Op::Marker { addr }
            }
            (Opcode::TrapIf, Imm::Trap(code)) => Op::TrapIf { c: a, code },
            (Opcode::JumpIf, Imm::Target(target)) => Op::JumpIf { c: a, target },
            (Opcode::Fence, _) => Op::Fence,
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
                    args: args.iter().map(|v| v.0).collect(),
                    arg_types: args.iter().map(|v| block.value_type(*v)).collect(),
                    first_result: d,
                    results: inst.results_len as u32,
                });
                Op::Generic { i: c.generic.len() as u32 - 1 }
            }
        };
        c.ops.push(op);
    }
    Ok(c)
}
