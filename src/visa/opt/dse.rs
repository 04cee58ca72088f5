//! Dead state-write elimination (dead flags, mostly): a `set` of a slot is
//! dropped when a later `set` of the same slot overwrites it before anything
//! could observe it. Observers are a `get` of the slot, a helper call, a
//! side exit, and any operation that may trap: a trap must see the state of
//! the last completed guest instruction, so a write is only dead when no trap
//! can happen before it is overwritten.

use crate::visa::opcodes::Effects;
use crate::visa::{Block, Env, Imm, Opcode};

/// The instructions to keep: all but the dead `set`s.
pub fn dead_sets(env: &Env, block: &Block) -> Vec<bool> {
    // For each slot, the index of a pending `set` not yet observed.
    let mut pending: Vec<Option<usize>> = vec![None; env.slots.len()];
    let mut keep = vec![true; block.insts.len()];
    for (i, inst) in block.insts.iter().enumerate() {
        let effects = inst.op.info().effects;
        let observes_all = effects.has(Effects::TRAPS)
            || effects.has(Effects::SIDE_EXIT)
            || effects.has(Effects::TERMINATOR)
            || inst.op == Opcode::Call;
        if observes_all {
            pending.iter_mut().for_each(|p| *p = None);
        }
        match (inst.op, inst.imm) {
            (Opcode::Get, Imm::Slot(s)) => pending[s.0 as usize] = None,
            (Opcode::Set, Imm::Slot(s)) => {
                if let Some(dead) = pending[s.0 as usize] {
                    keep[dead] = false;
                }
                pending[s.0 as usize] = Some(i);
            }
            _ => {}
        }
    }
    keep
}
