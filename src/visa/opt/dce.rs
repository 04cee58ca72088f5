//! Dead-code elimination: drop instructions with no effect whose results
//! nobody uses. Anything that may trap, touches state or memory, calls,
//! marks a guest instruction or ends the block stays.

use crate::visa::Block;

/// Narrows `keep` (the instructions still in the block) to those whose
/// effects or results are needed.
pub fn dead_code(block: &Block, keep: &mut [bool]) {
    let mut used = vec![false; block.types.len()];
    for (i, inst) in block.insts.iter().enumerate().rev() {
        let needed = keep[i] && (!inst.op.info().effects.is_pure() || inst.results().any(|v| used[v.0 as usize]));
        keep[i] = needed;
        if needed {
            for a in block.args(inst) {
                used[a.0 as usize] = true;
            }
        }
    }
}
