//! Constant folding: operations whose operands are all constants are
//! computed with the reference semantics (`visa::eval`) and replaced by
//! constants; equal constants are shared. An operation that would trap is
//! left to trap at run time.

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

    fn write_u128(&mut self, word: u128) {
        self.write_u64(word as u64);
        self.write_u64((word >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub fn fold_constants(block: &Block) -> Block {
    let mut out = Block::with_capacity(block.addr, block);
    // Old value -> new value, and new value -> its constant bits.
    let mut map: Vec<Value> = Vec::with_capacity(block.types.len());
    let mut known: Vec<Option<u128>> = Vec::with_capacity(block.types.len());
    let mut shared: HashMap<(Type, u128), Value, BuildHasherDefault<WordHasher>> = HashMap::default();
    let mut args = Vec::new();
    let mut values = Vec::new();
    let mut arg_types = Vec::new();
    let mut results = Vec::new();
    let mut outs = Vec::new();
    for inst in &block.insts {
        args.clear();
        args.extend(block.args(inst).iter().map(|a| map[a.0 as usize]));
        results.clear();
        results.extend(inst.results().map(|v| block.value_type(v)));
        let foldable = inst.op != Opcode::Const
            && inst.op != Opcode::TrapIf
            && eval::is_evaluable(inst.op)
            && !results.is_empty()
            && args.iter().all(|a| known[a.0 as usize].is_some());
        let folded = if foldable {
            values.clear();
            values.extend(args.iter().map(|a| known[a.0 as usize].unwrap_or_default()));
            arg_types.clear();
            arg_types.extend(args.iter().map(|a| out.value_type(*a)));
            outs.clear();
            outs.resize(results.len(), 0u128);
            eval::eval(inst.op, inst.ty, &inst.imm, &values, &arg_types, &mut outs).is_ok()
        } else if let (Opcode::Const, Imm::Const(bits)) = (inst.op, inst.imm) {
            outs.clear();
            outs.push(bits);
            true
        } else {
            false
        };
        if folded {
            for (ty, &bits) in results.iter().zip(&outs) {
                let v = *shared.entry((*ty, bits)).or_insert_with(|| {
                    let r = out.push(Opcode::Const, Some(*ty), Imm::Const(bits), &[], &[*ty]);
                    known.push(Some(bits));
                    Value(r.start)
                });
                map.push(v);
            }
        } else {
            let range = out.push(inst.op, inst.ty, inst.imm, &args, &results);
            known.resize(out.types.len(), None);
            map.extend(range.map(Value));
        }
    }
    out
}
