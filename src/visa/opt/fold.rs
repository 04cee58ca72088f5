//! Constant folding: operations whose operands are all constants are
//! computed with the reference semantics (`visa::eval`) and replaced by
//! constants; equal constants are shared. An operation that would trap is
//! left to trap at run time.

use std::collections::HashMap;

use crate::visa::{Block, Imm, Opcode, Type, Value, eval};

pub fn fold_constants(block: &Block) -> Block {
    let mut out = Block::new(block.addr);
    // Old value -> new value, and new value -> its constant bits.
    let mut map: Vec<Value> = Vec::with_capacity(block.types.len());
    let mut known: HashMap<u32, u128> = HashMap::new();
    let mut shared: HashMap<(Type, u128), Value> = HashMap::new();
    let mut args = Vec::new();
    let mut values = Vec::new();
    let mut arg_types = Vec::new();
    let mut results = Vec::new();
    for inst in &block.insts {
        args.clear();
        args.extend(block.args(inst).iter().map(|a| map[a.0 as usize]));
        results.clear();
        results.extend(inst.results().map(|v| block.value_type(v)));
        let foldable = inst.op != Opcode::Const
            && inst.op != Opcode::TrapIf
            && eval::is_evaluable(inst.op)
            && !results.is_empty()
            && args.iter().all(|a| known.contains_key(&a.0));
        let folded = if foldable {
            values.clear();
            values.extend(args.iter().map(|a| known[&a.0]));
            arg_types.clear();
            arg_types.extend(args.iter().map(|a| out.value_type(*a)));
            let mut outs = vec![0u128; results.len()];
            eval::eval(inst.op, inst.ty, &inst.imm, &values, &arg_types, &mut outs).ok().map(|()| outs)
        } else if let (Opcode::Const, Imm::Const(bits)) = (inst.op, inst.imm) {
            Some(vec![bits])
        } else {
            None
        };
        match folded {
            Some(consts) => {
                for (ty, bits) in results.iter().zip(consts) {
                    let v = *shared.entry((*ty, bits)).or_insert_with(|| {
                        let r = out.push(Opcode::Const, Some(*ty), Imm::Const(bits), &[], &[*ty]);
                        known.insert(r.start, bits);
                        Value(r.start)
                    });
                    map.push(v);
                }
            }
            None => {
                let range = out.push(inst.op, inst.ty, inst.imm, &args, &results);
                map.extend(range.map(Value));
            }
        }
    }
    out
}
