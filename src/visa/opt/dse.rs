//! Dead state-write elimination (dead flags, mostly): a `set` of a slot is
//! dropped when a later `set` of the same slot overwrites it before anything
//! could observe it. Observers are a `get` of the slot, a helper call, a
//! side exit, and any operation that may trap: a trap must see the state of
//! the last completed guest instruction, so a write is only dead when no trap
//! can happen before it is overwritten. So is the start of a guest
//! instruction after one that wrote memory: a write to translated code
//! (by this thread, or seen from another) makes both tiers leave there for
//! the dispatcher with the state exact, and the instruction that would have
//! overwritten the slot may read it first when it runs again.

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
    // Memory was written since the last instruction's start.
    let mut wrote = false;
    for (i, inst) in block.insts.iter().enumerate() {
        let effects = inst.op.info().effects;
        let starts_after_write = inst.op == Opcode::Guest && std::mem::take(&mut wrote);
        let observes_all = effects.has(Effects::TRAPS)
            || effects.has(Effects::SIDE_EXIT)
            || effects.has(Effects::TERMINATOR)
            || inst.op == Opcode::Call
            || starts_after_write;
        wrote |= effects.has(Effects::WRITES_MEM);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visa::text::parse_module;

    #[test]
    fn a_write_is_seen_at_the_next_instruction_after_one_that_wrote_memory() {
        // A push (store, then the stack pointer) and a subtraction from the
        // stack pointer; then the same with a register move in place of the
        // push's store.
        let src = "slot %sp: i64 @ 0\nslot %r: i64 @ 8\n
block 0x1000 {
  guest 0x1000, 1
    v0 = get.i64 %sp
    v1 = const.i64 -8
    v2 = iadd.i64 v0, v1
    store.i64 v0, v2
    set.i64 %sp, v2
  guest 0x1001, 4
    v3 = iadd.i64 v2, v1
    set.i64 %sp, v3
  guest 0x1005, 3
    set.i64 %r, v3
  guest 0x1008, 4
    set.i64 %r, v0
    jump 0x100c
}
";
        let module = parse_module(src).unwrap();
        let keep = dead_sets(&module.env, &module.blocks[0]);
        let dropped: Vec<usize> = (0..keep.len()).filter(|i| !keep[*i]).collect();
        // The push's stack pointer stays (both tiers may leave at 0x1001
        // after its store hit code); the move's %r goes.
        assert_eq!(dropped, [10]);
    }
}
