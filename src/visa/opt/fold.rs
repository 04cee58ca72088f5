//! Constant folding: operations whose operands are all constants are
//! computed with the reference semantics (`visa::eval`) and replaced by
//! constants; equal constants are shared. An operation that would trap is
//! left to trap at run time.
//!
//! `Folder` does it one instruction at a time, so the builder folds as a
//! frontend builds (a lifted block arrives folded) and `fold_constants`
//! folds a block made some other way (parsed, decoded).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::visa::{Block, Imm, Opcode, Type, Value, eval};

/// A multiplicative hash for the table of constants: its keys are a few
/// words, and it is built for every block translated, where SipHash's
/// resistance to chosen keys buys nothing.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, byte: u8) {
        self.write_u64(byte.into());
    }

    fn write_isize(&mut self, word: isize) {
        self.write_u64(word as u64);
    }

    fn write_u128(&mut self, word: u128) {
        self.write_u64(word as u64);
        self.write_u64((word >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Lines of `Folder::recent`.
const RECENT: usize = 256;

/// Lines of `Folder::converted`.
const CONVERTED: usize = 64;

/// A line of `Folder::converted`: a conversion of a value and its result,
/// good in one epoch of the folder.
#[derive(Clone, Copy)]
struct Conversion {
    op: Opcode,
    ty: Option<Type>,
    arg: Value,
    result: Value,
    epoch: u64,
}

/// A value that is no constant, in `Folder::known`.
const UNKNOWN: u32 = u32::MAX;

/// The folding state of a block being built: which of its values are
/// constants, and the value holding each constant.
pub struct Folder {
    /// For each value of the block, the index in `bits` of its constant,
    /// or `UNKNOWN`.
    known: Vec<u32>,
    bits: Vec<u128>,
    shared: HashMap<(Type, u128), Value, BuildHasherDefault<WordHasher>>,
    /// A direct-mapped cache in front of `shared`: the constant last
    /// found or made in each of its lines (`Value(u32::MAX)`: none).
    recent: Box<[(Type, u128, Value); RECENT]>,
    /// A direct-mapped cache of the conversions (`trunc`, `zext`, `sext`)
    /// made, so that reading a narrow register twice converts it once.
    converted: Box<[Conversion; CONVERTED]>,
    /// Lines of `converted` from other epochs are empty: `reset` and
    /// `truncate` start a new one (64 bits: an epoch is never reused).
    epoch: u64,
    values: Vec<u128>,
    arg_types: Vec<Type>,
    outs: Vec<u128>,
}

impl Default for Folder {
    fn default() -> Folder {
        Folder {
            known: Vec::with_capacity(1024),
            bits: Vec::with_capacity(128),
            shared: HashMap::with_capacity_and_hasher(128, BuildHasherDefault::default()),
            recent: Box::new([(Type::I1, 0, Value(u32::MAX)); RECENT]),
            converted: Box::new(
                [Conversion { op: Opcode::Const, ty: None, arg: Value(0), result: Value(0), epoch: 0 }; CONVERTED],
            ),
            epoch: 1,
            values: Vec::new(),
            arg_types: Vec::new(),
            outs: Vec::new(),
        }
    }
}

impl Folder {
    /// Appends `op` (whose results have the types `types`) to `out`, or,
    /// when it computes constants, the constants (each value only once);
    /// `results` gets the values that stand for its results.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        out: &mut Block,
        op: Opcode,
        ty: Option<Type>,
        imm: &Imm,
        args: &[Value],
        types: &[Type],
        results: &mut Vec<Value>,
    ) {
        results.clear();
        if let (Opcode::Const, Imm::Const(bits), &[t]) = (op, imm, types) {
            results.push(self.constant(out, t, bits.get()));
        } else if self.fold(out, op, ty, imm, args, types.len()) {
            for (i, &t) in types.iter().enumerate() {
                // By index: `constant` borrows the folder.
                let v = self.constant(out, t, self.outs[i]);
                results.push(v);
            }
        } else if let Some(v) = self.converted(op, ty, args) {
            results.push(v);
        } else if let (Opcode::And | Opcode::Or, &[a, b]) = (op, args)
            && a == b
        {
            // x86's `test r, r` and `or r, r`: the operand itself.
            results.push(a);
        } else {
            let range = out.push(op, ty, *imm, args, types);
            self.known.resize(out.types.len(), UNKNOWN);
            let result = Value(range.start);
            results.extend(range.map(Value));
            if let (Opcode::Trunc | Opcode::Zext | Opcode::Sext, &[arg]) = (op, args) {
                self.converted[arg.0 as usize % CONVERTED] = Conversion { op, ty, arg, result, epoch: self.epoch };
            }
        }
    }

    /// The result of the same conversion of the same value made before.
    fn converted(&self, op: Opcode, ty: Option<Type>, args: &[Value]) -> Option<Value> {
        let &[arg] = args else { return None };
        let c = self.converted[arg.0 as usize % CONVERTED];
        (c.epoch == self.epoch && c.op == op && c.ty == ty && c.arg == arg).then_some(c.result)
    }

    /// The value holding the constant `bits` of type `t`, appended to
    /// `out` if the block has none yet.
    pub fn constant(&mut self, out: &mut Block, t: Type, bits: u128) -> Value {
        let line = ((bits as usize).wrapping_mul(31) ^ (t as usize)) % RECENT;
        // A line is a hint, good while its value is still that constant
        // (lines outlive `truncate` and `reset`).
        let (rt, rb, rv) = self.recent[line];
        if rt == t && rb == bits && self.known_bits(rv) == Some(bits) && out.value_type(rv) == t {
            return rv;
        }
        let (known, consts) = (&mut self.known, &mut self.bits);
        let v = *self.shared.entry((t, bits)).or_insert_with(|| {
            let r = out.push(Opcode::Const, Some(t), Imm::Const(bits.into()), &[], &[t]);
            known.push(consts.len() as u32);
            consts.push(bits);
            Value(r.start)
        });
        self.recent[line] = (t, bits, v);
        v
    }

    /// Computes `op`'s results into `outs` when they are constants.
    fn fold(&mut self, out: &Block, op: Opcode, ty: Option<Type>, imm: &Imm, args: &[Value], results: usize) -> bool {
        if self.same_operands(op, args) {
            self.outs.clear();
            self.outs.resize(results, 0u128);
            return true;
        }
        let foldable = op != Opcode::Const
            && op != Opcode::TrapIf
            && results != 0
            && args.iter().all(|a| self.known_bits(*a).is_some())
            && eval::is_evaluable(op);
        if !foldable {
            return false;
        }
        self.values.clear();
        self.values.extend(args.iter().map(|a| self.bits[self.known[a.0 as usize] as usize]));
        self.arg_types.clear();
        self.arg_types.extend(args.iter().map(|a| out.value_type(*a)));
        self.outs.clear();
        self.outs.resize(results, 0u128);
        eval::eval(op, ty, imm, &self.values, &self.arg_types, &mut self.outs).is_ok()
    }

    /// The constant bits of value `v` of the block, if it is a constant
    /// (none for a value past the block's end).
    fn known_bits(&self, v: Value) -> Option<u128> {
        let k = *self.known.get(v.0 as usize)?;
        (k != UNKNOWN).then(|| self.bits[k as usize])
    }

    /// Is `op` of two equal operands all zeros whatever they are: `xor`
    /// and `isub` (x86's idioms for zeroing a register), and `isub_borrow`
    /// without a borrow in (no borrow out, no overflow either)?
    fn same_operands(&self, op: Opcode, args: &[Value]) -> bool {
        match (op, args) {
            (Opcode::Xor | Opcode::Isub, [a, b]) => a == b,
            (Opcode::IsubBorrow, [a, b, borrow]) => a == b && self.known_bits(*borrow) == Some(0),
            _ => false,
        }
    }

    /// The block was cut back to its first `values` values: forgets the rest.
    pub fn truncate(&mut self, values: usize) {
        self.known.truncate(values);
        self.shared.retain(|_, v| (v.0 as usize) < values);
        self.epoch += 1;
        // The constants' bits stay: only values name them.
    }

    /// Forgets the block, for building another one with the same buffers.
    pub fn reset(&mut self) {
        self.known.clear();
        self.bits.clear();
        self.shared.clear();
        self.epoch += 1;
    }
}

/// A copy of `block` with its constants folded.
pub fn fold_constants(block: &Block) -> Block {
    let mut out = Block::with_capacity(block.addr, block);
    let mut folder = Folder::default();
    // Old value -> new value.
    let mut map: Vec<Value> = Vec::with_capacity(block.types.len());
    let mut args = Vec::new();
    let mut types = Vec::new();
    let mut results = Vec::new();
    for inst in &block.insts {
        args.clear();
        args.extend(block.args(inst).iter().map(|a| map[a.0 as usize]));
        types.clear();
        types.extend(inst.results().map(|v| block.value_type(v)));
        folder.push(&mut out, inst.op, inst.ty, &inst.imm, &args, &types, &mut results);
        map.extend_from_slice(&results);
    }
    out
}
