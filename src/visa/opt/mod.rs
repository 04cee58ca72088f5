//! Optimisation passes over V-ISA blocks. Each pass is a plain function from
//! a verified block to an equivalent verified block; `optimize` runs them in
//! order. Equivalent means: the same outcome, the same state and memory at
//! the exit, and at every trap the same state as the unoptimised block.

mod dce;
mod dse;
mod fold;

pub use dce::dead_code;
pub use dse::dead_sets;
pub use fold::{Folder, fold_constants};

use super::{Block, Env};

/// The pass pipeline: constants folded, dead state writes dropped, then
/// everything whose result nobody uses.
pub fn optimize(env: &Env, block: &Block) -> Block {
    optimize_built(env, &fold_constants(block))
}

/// The pipeline for a block whose constants are already folded, as the
/// builder builds them (every lifted block): dead state writes dropped,
/// then everything whose result nobody uses (both choose what to keep,
/// and the block is rebuilt once).
pub fn optimize_built(env: &Env, block: &Block) -> Block {
    let mut keep = dead_sets(env, block);
    dead_code(block, &mut keep);
    retain(block, &keep)
}

/// Rebuilds a block keeping the instructions `keep` selects, renumbering
/// values densely. Operands of kept instructions must be kept too.
pub(crate) fn retain(block: &Block, keep: &[bool]) -> Block {
    let mut out = Block::with_capacity(block.addr, block);
    let mut map = vec![None; block.types.len()];
    let mut args = Vec::new();
    let mut results = Vec::new();
    for (inst, _) in block.insts.iter().zip(keep).filter(|(_, k)| **k) {
        args.clear();
        args.extend(block.args(inst).iter().map(|a| map[a.0 as usize].expect("operand of a kept instruction is kept")));
        results.clear();
        results.extend(inst.results().map(|v| block.value_type(v)));
        let range = out.push(inst.op, inst.ty, inst.imm, &args, &results);
        for (old, new) in inst.results().zip(range) {
            map[old.0 as usize] = Some(super::Value(new));
        }
    }
    out
}
