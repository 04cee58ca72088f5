//! Building blocks instruction by instruction.
//!
//! The builder computes result types from the opcode table, so a frontend
//! only names the operation, its controlling type, immediate and operands.
//! It folds constants as it goes (an operation of constants is its
//! constant result, each constant is built once), so what it builds needs
//! no folding pass. It checks nothing else: run the verifier on what it
//! builds in tests.

use std::cell::RefCell;

use super::block::{Block, Value};
use super::env::Env;
use super::imm::{ExitReason, Imm, IntCC, MemFlags, Slot, TrapCode};
use super::opcodes::Opcode;
use super::opt::Folder;
use super::sig;
use super::types::Type;

/// What the blocks built on a thread leave for the next: a folder, and
/// the buffers of a block (`Builder::recycle`). A block's buffers and
/// folder are tens of kilobytes, which allocated afresh for every block
/// cost more than building a short block (fresh pages, zeroing).
#[derive(Default)]
struct Spare {
    folder: Option<Folder>,
    block: Option<Block>,
}

thread_local! {
    static SPARE: RefCell<Spare> = RefCell::default();
}

pub struct Builder<'e> {
    env: &'e Env,
    block: Block,
    folder: Folder,
    results: Vec<Type>,
    values: Vec<Value>,
}

impl<'e> Builder<'e> {
    pub fn new(env: &'e Env, addr: u64) -> Builder<'e> {
        Builder::with_capacity(env, addr, 0)
    }

    /// A builder with room for `insts` instructions (about as many values
    /// and twice as many operands) before it grows.
    pub fn with_capacity(env: &'e Env, addr: u64, insts: usize) -> Builder<'e> {
        let (folder, block) = SPARE.with_borrow_mut(|s| (s.folder.take(), s.block.take()));
        let mut block = block.unwrap_or_default();
        block.addr = addr;
        block.insts.clear();
        block.pool.clear();
        block.types.clear();
        block.insts.reserve(insts);
        block.pool.reserve(2 * insts);
        block.types.reserve(insts);
        let mut folder = folder.unwrap_or_default();
        folder.reset();
        Builder { env, block, folder, results: Vec::new(), values: Vec::new() }
    }

    /// Keeps a built block's buffers, no longer needed, for the next
    /// builder on this thread (unless the spare ones are larger).
    pub fn recycle(block: Block) {
        SPARE.with_borrow_mut(|s| {
            if s.block.as_ref().is_none_or(|b| b.insts.capacity() < block.insts.capacity()) {
                s.block = Some(block)
            }
        });
    }

    pub fn env(&self) -> &'e Env {
        self.env
    }

    pub fn block(&self) -> &Block {
        &self.block
    }

    pub fn finish(self) -> Block {
        SPARE.with_borrow_mut(|s| s.folder = Some(self.folder));
        self.block
    }

    /// Drops everything after the given instruction, operand and value counts.
    pub fn truncate(&mut self, insts: usize, pool: usize, types: usize) {
        self.block.insts.truncate(insts);
        self.block.pool.truncate(pool);
        self.block.types.truncate(types);
        self.folder.truncate(types);
    }

    pub fn type_of(&self, v: Value) -> Type {
        self.block.value_type(v)
    }

    /// Appends an instruction (or the constants it computes) and returns
    /// its first result (or `Value(u32::MAX)` when it has none). Panics on a
    /// rule the table cannot resolve, which is a frontend bug.
    pub fn ins(&mut self, op: Opcode, ty: Option<Type>, imm: Imm, args: &[Value]) -> Value {
        // The usual operation's result types, in a buffer on the stack.
        let mut few = [Type::I1; 4];
        let opds = op.info().results;
        let fixed = !matches!(imm, Imm::Helper(_)) && opds.len() <= few.len();
        let types = match fixed {
            true => {
                for (t, &opd) in few.iter_mut().zip(opds) {
                    *t = sig::result_type(opd, ty).unwrap_or_else(|e| panic!("building `{}`: {e}", op.name()));
                }
                &few[..opds.len()]
            }
            false => {
                self.results.clear();
                if let Err(e) = sig::result_types(op, ty, &imm, self.env, &mut self.results) {
                    panic!("building `{}`: {e}", op.name());
                }
                &self.results[..]
            }
        };
        self.folder.push(&mut self.block, op, ty, &imm, args, types, &mut self.values);
        self.values.first().copied().unwrap_or(Value(u32::MAX))
    }

    /// Appends an instruction with several results and returns them all.
    pub fn ins_multi(&mut self, op: Opcode, ty: Option<Type>, imm: Imm, args: &[Value]) -> Vec<Value> {
        self.ins(op, ty, imm, args);
        self.values.clone()
    }

    /// An operation whose controlling type is its first operand's type.
    pub fn op(&mut self, op: Opcode, args: &[Value]) -> Value {
        let ty = self.type_of(args[0]);
        self.ins(op, Some(ty), Imm::None, args)
    }

    pub fn iconst(&mut self, ty: Type, value: u64) -> Value {
        self.folder.constant(&mut self.block, ty, (value & ty.mask()) as u128)
    }

    pub fn icmp(&mut self, cc: IntCC, a: Value, b: Value) -> Value {
        let ty = self.type_of(a);
        self.ins(Opcode::Icmp, Some(ty), Imm::IntCC(cc), &[a, b])
    }

    pub fn select(&mut self, c: Value, a: Value, b: Value) -> Value {
        let ty = self.type_of(a);
        self.ins(Opcode::Select, Some(ty), Imm::None, &[c, a, b])
    }

    /// Zero-extends, truncates or passes through to reach `ty`.
    pub fn zext_or_trunc(&mut self, ty: Type, v: Value) -> Value {
        let from = self.type_of(v);
        match from.bits().cmp(&ty.bits()) {
            std::cmp::Ordering::Less => self.ins(Opcode::Zext, Some(ty), Imm::None, &[v]),
            std::cmp::Ordering::Greater => self.ins(Opcode::Trunc, Some(ty), Imm::None, &[v]),
            std::cmp::Ordering::Equal => v,
        }
    }

    pub fn get(&mut self, slot: Slot) -> Value {
        let ty = self.env.slot_decl(slot).expect("undeclared slot").ty;
        self.ins(Opcode::Get, Some(ty), Imm::Slot(slot), &[])
    }

    pub fn set(&mut self, slot: Slot, v: Value) {
        let ty = self.type_of(v);
        self.ins(Opcode::Set, Some(ty), Imm::Slot(slot), &[v]);
    }

    pub fn load(&mut self, ty: Type, addr: Value, flags: MemFlags) -> Value {
        self.ins(Opcode::Load, Some(ty), Imm::Mem(flags), &[addr])
    }

    pub fn store(&mut self, v: Value, addr: Value, flags: MemFlags) {
        let ty = self.type_of(v);
        self.ins(Opcode::Store, Some(ty), Imm::Mem(flags), &[v, addr]);
    }

    pub fn guest(&mut self, addr: u64, len: u8) {
        self.ins(Opcode::Guest, None, Imm::Guest { addr, len }, &[]);
    }

    pub fn trap_if(&mut self, c: Value, code: TrapCode) {
        self.ins(Opcode::TrapIf, None, Imm::Trap(code), &[c]);
    }

    /// Leaves the block for `target` when `c` is 1.
    pub fn jump_if(&mut self, c: Value, target: u64) {
        self.ins(Opcode::JumpIf, None, Imm::Target(target), &[c]);
    }

    pub fn jump(&mut self, target: u64) {
        self.ins(Opcode::Jump, None, Imm::Target(target), &[]);
    }

    pub fn branch(&mut self, c: Value, taken: u64, not_taken: u64) {
        self.ins(Opcode::Branch, None, Imm::Branch(taken, not_taken), &[c]);
    }

    pub fn jump_ind(&mut self, addr: Value) {
        self.ins(Opcode::JumpInd, None, Imm::None, &[addr]);
    }

    pub fn exit(&mut self, reason: ExitReason, resume: u64) {
        self.ins(Opcode::Exit, None, Imm::Exit(reason, resume), &[]);
    }
}
