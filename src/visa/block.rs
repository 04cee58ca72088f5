//! Blocks of V-ISA instructions in SSA form.
//!
//! Values are numbered in definition order: the results of each instruction
//! are the next values after those of the instructions before it. Operands
//! live in one pool per block, so an instruction is a fixed-size record.

use std::fmt;
use std::ops::Range;

use super::imm::Imm;
use super::opcodes::Opcode;
use super::types::Type;

/// An SSA value of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// One instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Inst {
    pub op: Opcode,
    /// The controlling type; `None` for opcodes without one.
    pub ty: Option<Type>,
    pub imm: Imm,
    /// Operands: a range of the block's operand pool.
    pub args_start: u32,
    pub args_len: u16,
    /// Results: `results_len` values starting at `first_result`.
    pub first_result: u32,
    pub results_len: u16,
}

// Blocks are built, copied and scanned for every translation: keep an
// instruction at five words.
const _: () = assert!(std::mem::size_of::<Inst>() == 40);

impl Inst {
    /// The guest addresses the instruction may leave the block for
    /// directly (`jump`, `jump_if`, both ways of `branch`).
    pub fn direct_targets(&self) -> impl Iterator<Item = u64> + use<> {
        let (a, b) = match (self.op, self.imm) {
            (Opcode::Jump | Opcode::JumpIf, Imm::Target(t)) => (Some(t), None),
            (Opcode::Branch, Imm::Branch(t, f)) => (Some(t), Some(f)),
            _ => (None, None),
        };
        a.into_iter().chain(b)
    }

    pub fn results(&self) -> impl ExactSizeIterator<Item = Value> + use<> {
        (self.first_result..self.first_result + self.results_len as u32).map(Value)
    }

    pub fn args_range(&self) -> Range<usize> {
        self.args_start as usize..self.args_start as usize + self.args_len as usize
    }
}

/// A conditional exit a block goes on past (`jump_if`): the guest
/// instruction it is part of, the address it leaves for, and the next guest
/// instruction in the block after it (none if the block ends first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideExit {
    pub at: u64,
    pub target: u64,
    pub resume: Option<u64>,
}

/// A translated guest basic block: straight-line instructions ending in one
/// terminator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Block {
    /// Guest address of the block's first instruction.
    pub addr: u64,
    pub insts: Vec<Inst>,
    /// Operand pool indexed by `Inst::args_range`.
    pub pool: Vec<Value>,
    /// The type of each value.
    pub types: Vec<Type>,
}

impl Block {
    pub fn new(addr: u64) -> Block {
        Block { addr, ..Block::default() }
    }

    /// Bytes of host memory it takes.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Block>()
            + self.insts.capacity() * std::mem::size_of::<Inst>()
            + self.pool.capacity() * std::mem::size_of::<Value>()
            + self.types.capacity() * std::mem::size_of::<Type>()
    }

    /// An empty block with room for as much as `like` holds.
    pub fn with_capacity(addr: u64, like: &Block) -> Block {
        Block {
            addr,
            insts: Vec::with_capacity(like.insts.len()),
            pool: Vec::with_capacity(like.pool.len()),
            types: Vec::with_capacity(like.types.len()),
        }
    }

    pub fn args(&self, inst: &Inst) -> &[Value] {
        &self.pool[inst.args_range()]
    }

    /// The guest addresses it may leave for directly, each once, in the
    /// order they first appear (the order the JIT numbers link cells in).
    pub fn exit_targets(&self) -> Vec<u64> {
        let mut targets = Vec::new();
        for a in self.insts.iter().flat_map(|i| i.direct_targets()) {
            if !targets.contains(&a) {
                targets.push(a);
            }
        }
        targets
    }

    /// Its side exits (`jump_if`), in order.
    pub fn side_exits(&self) -> Vec<SideExit> {
        let mut exits: Vec<SideExit> = Vec::new();
        let (mut at, mut waiting) = (self.addr, 0);
        for inst in &self.insts {
            match (inst.op, inst.imm) {
                (Opcode::Guest, Imm::Guest { addr, .. }) => {
                    for exit in &mut exits[waiting..] {
                        exit.resume = Some(addr);
                    }
                    (at, waiting) = (addr, exits.len());
                }
                (Opcode::JumpIf, Imm::Target(target)) => exits.push(SideExit { at, target, resume: None }),
                _ => {}
            }
        }
        exits
    }

    pub fn value_type(&self, v: Value) -> Type {
        self.types[v.0 as usize]
    }

    /// Appends an instruction whose results have the given types.
    pub fn push(&mut self, op: Opcode, ty: Option<Type>, imm: Imm, args: &[Value], results: &[Type]) -> Range<u32> {
        let first = self.types.len() as u32;
        self.insts.push(Inst {
            op,
            ty,
            imm,
            args_start: self.pool.len() as u32,
            args_len: args.len() as u16,
            first_result: first,
            results_len: results.len() as u16,
        });
        // Element by element: the slices are a few values long, too short
        // for a call to memcpy to pay.
        self.pool.reserve(args.len());
        for &a in args {
            self.pool.push(a);
        }
        self.types.reserve(results.len());
        for &t in results {
            self.types.push(t);
        }
        first..first + results.len() as u32
    }

    /// The terminator, when the block has one last.
    pub fn terminator(&self) -> Option<&Inst> {
        self.insts.last().filter(|i| i.op.is_terminator())
    }

    /// Number of guest instructions (boundary markers) in the block.
    pub fn guest_count(&self) -> usize {
        self.insts.iter().filter(|i| i.op == Opcode::Guest).count()
    }
}
