//! Dead-code elimination: drop instructions with no effect whose results
//! nobody uses. Anything that may trap, touches state or memory, calls,
//! marks a guest instruction or ends the block stays.

use super::retain;
use crate::visa::Block;

pub fn dead_code(block: &Block) -> Block {
    let mut used = vec![false; block.types.len()];
    let mut keep = vec![false; block.insts.len()];
    for (i, inst) in block.insts.iter().enumerate().rev() {
        let needed = !inst.op.info().effects.is_pure() || inst.results().any(|v| used[v.0 as usize]);
        if needed {
            keep[i] = true;
            for a in block.args(inst) {
                used[a.0 as usize] = true;
            }
        }
    }
    retain(block, &keep)
}
