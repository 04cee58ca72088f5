//! Dead-code elimination: drop instructions with no effect whose results
//! nobody uses, and reads of state slots nobody uses. Anything that may
//! trap, writes state, touches memory, calls, marks a guest instruction or
//! ends the block stays.

use crate::visa::Block;
use crate::visa::opcodes::Effects;

/// Narrows `keep` (the instructions still in the block) to those whose
/// effects or results are needed.
pub fn dead_code(block: &Block, keep: &mut [bool]) {
    let mut used = vec![false; block.types.len()];
    for (i, inst) in block.insts.iter().enumerate().rev() {
        let effects = inst.op.info().effects;
        let removable = effects.is_pure() || effects == Effects::READS_STATE;
        let needed = keep[i] && (!removable || inst.results().any(|v| used[v.0 as usize]));
        keep[i] = needed;
        if needed {
            for a in block.args(inst) {
                used[a.0 as usize] = true;
            }
        }
    }
}
