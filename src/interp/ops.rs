//! The interpreter's form of a block: a flat array of `Op`s whose operands
//! are register numbers, widths and state offsets worked out once. Constants
//! are not operations: they sit in the first registers, copied in whole when
//! the block starts. Guest instruction boundaries are not operations either
//! (`Compiled::marks` finds them when a trap needs them), except where a
//! store before them may have written code (`Op::Check`). Fused operations
//! (`…F`, `Zsp`, `Aux`, `JumpIfCmp`, `Set…Set…`, `LoadAdd`, `StoreAdd`)
//! do the work of several V-ISA operations.

use crate::visa::{ExitReason, Imm, IntCC, Opcode, TrapCode, Type};

/// Register (= SSA value, renumbered) index.
pub(crate) type Reg = u32;

/// One operation. Widths (`w`) are in bits, 1 to 64; the results of
/// integer operations are kept zero-extended from their width.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Add {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u8,
    },
    Sub {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u8,
    },
    Mul {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u8,
    },
    Neg {
        d: Reg,
        a: Reg,
        w: u8,
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
        w: u8,
    },
    Shl {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u8,
    },
    Lshr {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u8,
    },
    Ashr {
        d: Reg,
        a: Reg,
        b: Reg,
        w: u8,
    },
    Icmp {
        d: Reg,
        a: Reg,
        b: Reg,
        cc: IntCC,
        w: u8,
    },
    /// `Icmp` whose result is also stored to the 1-byte slot at `off`.
    IcmpF {
        d: Reg,
        a: Reg,
        b: Reg,
        cc: IntCC,
        w: u8,
        off: u16,
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
        w: u8,
    },
    /// `Trunc` to `i1` stored to the slot at `off` too.
    BitF {
        d: Reg,
        a: Reg,
        off: u16,
    },
    Sext {
        d: Reg,
        a: Reg,
        from: u8,
        w: u8,
    },
    /// Sum, carry out and signed overflow in `d`, `d + 1`, `d + 2`.
    AddCarry {
        d: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
        w: u8,
    },
    SubBorrow {
        d: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
        w: u8,
    },
    /// The two with the carry and overflow also stored at `cf` and `of`.
    AddCarryF {
        d: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
        w: u8,
        cf: u16,
        of: u16,
    },
    SubBorrowF {
        d: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
        w: u8,
        cf: u16,
        of: u16,
    },
    Parity {
        d: Reg,
        a: Reg,
    },
    ParityF {
        d: Reg,
        a: Reg,
        off: u16,
    },
    /// `a == 0`, `a < 0` (signed, width `w`) and the parity of its low byte,
    /// stored at `zf`, `sf` and `pf` (no register is written).
    Zsp {
        a: Reg,
        w: u8,
        zf: u16,
        sf: u16,
        pf: u16,
    },
    /// Bit 4 of `a ^ b ^ r`, stored at `off` and in `d`.
    Aux {
        d: Reg,
        a: Reg,
        b: Reg,
        r: Reg,
        off: u16,
    },
    /// The exception flags of arithmetic (`Quick::Ordinary`): the flags
    /// in when the quick test passes, else generic operation `i`.
    Fexc {
        i: u32,
        lane_bits: u8,
        lanes: u8,
    },
    /// The lane of `w` bits at bit `shift` of a vector.
    VExtract {
        d: Reg,
        a: Reg,
        shift: u8,
        w: u8,
    },
    /// Vector `a` with its lane of `w` bits at bit `shift` replaced by `b`.
    VInsert {
        d: Reg,
        a: Reg,
        b: Reg,
        shift: u8,
        w: u8,
    },
    Get {
        d: Reg,
        off: u32,
        size: u8,
    },
    Get64 {
        d: Reg,
        off: u32,
    },
    Get8 {
        d: Reg,
        off: u32,
    },
    Set {
        a: Reg,
        off: u32,
        size: u8,
    },
    Set64 {
        a: Reg,
        off: u32,
    },
    Set8 {
        a: Reg,
        off: u32,
    },
    /// Three `set`s in a row: `c` to the 1-byte slot at `off_c`, then `a`
    /// and `b` to the 8-byte slots at `off_a` and `off_b` (a lazily
    /// evaluated condition: its operation and operands).
    Set8Set64Set64 {
        c: Reg,
        a: Reg,
        b: Reg,
        off_c: u16,
        off_a: u16,
        off_b: u16,
    },
    /// Two `set`s of 8-byte slots in a row.
    Set64Set64 {
        a: Reg,
        off_a: u32,
        b: Reg,
        off_b: u32,
    },
    Load {
        d: Reg,
        addr: Reg,
        size: u8,
        aligned: bool,
    },
    Store {
        v: Reg,
        addr: Reg,
        size: u8,
        aligned: bool,
    },
    /// `Load` from `a + b` (an `iadd` whose only use is the address).
    LoadAdd {
        d: Reg,
        a: Reg,
        b: Reg,
        size: u8,
        aligned: bool,
    },
    /// `Store` to `a + b`.
    StoreAdd {
        v: Reg,
        a: Reg,
        b: Reg,
        size: u8,
        aligned: bool,
    },
    /// The boundary before guest instruction number `ord` at `addr`, after
    /// one that stored to memory: if the store hit translated code, the
    /// rest of the block may be stale, so leave for `addr`.
    Check {
        addr: u64,
        ord: u32,
    },
    TrapIf {
        c: Reg,
        code: TrapCode,
    },
    /// A side exit, counting `executed` guest instructions.
    JumpIf {
        c: Reg,
        target: u64,
        executed: u32,
    },
    /// A side exit on a comparison (an `icmp` whose only use is the exit).
    JumpIfCmp {
        a: Reg,
        b: Reg,
        cc: IntCC,
        w: u8,
        target: u64,
        executed: u32,
    },
    /// Anything else: an entry of `Compiled::generic`.
    Generic {
        i: u32,
    },
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

/// A guest instruction boundary: the instruction at `addr` starts with the
/// operation at `pc`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    pub pc: u32,
    pub addr: u64,
}

/// A block ready to execute.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub(crate) addr: u64,
    pub(crate) ops: Vec<Op>,
    pub(crate) generic: Vec<GenericOp>,
    /// The values of registers `0..consts.len()`.
    pub(crate) consts: Vec<u128>,
    /// Registers the block uses; every operand is below it.
    pub(crate) regs: usize,
    /// Bytes of state record every slot access lies within.
    pub(crate) state_size: usize,
    pub(crate) marks: Vec<Mark>,
}

impl Compiled {
    /// Guest address of the block.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Guest instructions (markers) in the block.
    pub fn guest_insts(&self) -> u32 {
        self.marks.len() as u32
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
            + self.marks.capacity() * std::mem::size_of::<Mark>()
    }

    /// The guest instruction that operation `pc` belongs to, and how many
    /// instructions of the block completed before it.
    pub(crate) fn position(&self, pc: usize) -> (u64, u32) {
        let n = self.marks.partition_point(|m| m.pc as usize <= pc);
        match n {
            0 => (self.addr, 0),
            n => (self.marks[n - 1].addr, n as u32 - 1),
        }
    }
}

// Three words an operation: the array stays dense in the cache.
const _: () = assert!(std::mem::size_of::<Op>() <= 24);
