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
    // For each slot, the index of its latest `set` and the observation
    // epoch it was made in: it is pending (not yet observed) while no
    // observer of every slot came since, that is while the epoch is the
    // current one (cheaper than forgetting every slot at each load).
    const NONE: (u32, u32) = (u32::MAX, u32::MAX);
    let mut pending: Vec<(u32, u32)> = vec![NONE; env.slots.len()];
    let mut epoch = 0u32;
    let mut keep = vec![true; block.insts.len()];
    for (i, inst) in block.insts.iter().enumerate() {
        let effects = inst.op.info().effects;
        let observes_all = effects.has(Effects::TRAPS)
            || effects.has(Effects::SIDE_EXIT)
            || effects.has(Effects::TERMINATOR)
            || inst.op == Opcode::Call;
        epoch += observes_all as u32;
        match (inst.op, inst.imm) {
            (Opcode::Get, Imm::Slot(s)) => pending[s.0 as usize] = NONE,
            (Opcode::Set, Imm::Slot(s)) => {
                let (dead, made) = pending[s.0 as usize];
                if made == epoch {
                    keep[dead as usize] = false;
                }
                pending[s.0 as usize] = (i as u32, epoch);
            }
            _ => {}
        }
    }
    keep
}
