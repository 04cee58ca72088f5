//! The guest state while lowering: slot values held in SSA values, the
//! writes not yet stored (sunk to the paths that leave the block), and
//! their stores.

use super::*;
use crate::visa::Effects;

/// The first instruction of a block from which on its state writes may be
/// stored where they are made rather than sunk to the paths that leave:
/// where it may no longer be given up and run again from its start (which
/// needs the state record as the block found it), or from where nothing
/// may leave it before its terminator (`quiet_from`). A write stored there
/// is exact for every later exit, trap or call, which then need not store
/// it, and its value holds no register to the end; only a slot's last write
/// is stored so (`last_sets`): an earlier one would cost a store the path
/// that stays does not need.
pub(super) fn eager_from(block: &Block, covered: &[bool], group: &[Option<usize>], replayable: &[bool]) -> usize {
    let replay_ends = replayable.iter().position(|r| !r).unwrap_or(block.insts.len());
    replay_ends.min(quiet_from(block, covered, group, replayable))
}

/// By instruction: a `set` that is the last write of its slot in `block`.
pub(super) fn last_sets(block: &Block) -> Vec<bool> {
    let mut seen = std::collections::HashSet::new();
    let mut last = vec![false; block.insts.len()];
    for (i, inst) in block.insts.iter().enumerate().rev() {
        if let (Opcode::Set, Imm::Slot(s)) = (inst.op, inst.imm) {
            last[i] = seen.insert(s.0);
        }
    }
    last
}

/// The first instruction of a block from which on nothing may leave it
/// before its terminator: no check, side exit, trap, call, fence or atomic
/// operation (nor the test after one at the next instruction's start) and no
/// access with a check of its own or that the host checks.
pub(super) fn quiet_from(block: &Block, covered: &[bool], group: &[Option<usize>], replayable: &[bool]) -> usize {
    let last = block.insts.len().saturating_sub(1);
    let quiet_effects = Effects::READS_STATE.with(Effects::WRITES_STATE).with(Effects::MARKER);
    let (mut quiet, mut stored) = (0, false);
    let mut checked_groups: Vec<usize> = Vec::new();
    for (i, inst) in block.insts.iter().enumerate() {
        let effects = inst.op.info().effects;
        let leaves = match (inst.op, inst.imm) {
            (Opcode::Guest, _) => std::mem::take(&mut stored),
            (Opcode::Get | Opcode::Set, _) => false,
            (Opcode::Load | Opcode::Store, Imm::Mem(f)) => {
                // A group's first access checks its span; the others check
                // nothing, unless the host does.
                let checked = match group[i] {
                    Some(g) if !checked_groups.contains(&g) => {
                        checked_groups.push(g);
                        true
                    }
                    Some(_) => replayable[i],
                    None => !covered[i],
                };
                checked || f.aligned
            }
            _ if i == last => false,
            _ => {
                stored |= effects.has(Effects::ORDERED) || effects.has(Effects::WRITES_MEM);
                !effects.within(quiet_effects)
            }
        };
        if leaves {
            quiet = i + 1;
        }
    }
    quiet
}

impl Lower<'_, '_> {
    /// At the body's start the carried slots hold its parameters: pending
    /// (to be stored on the way out) for slots the block writes, known
    /// equal to the state for the others.
    pub(super) fn start_body(&mut self, writes: &[bool]) {
        let params = self.b.block_params(self.body).to_vec();
        for (s, v) in self.carried.clone().into_iter().zip(params) {
            match self.pending.as_mut() {
                Some(pending) if writes[s] => {
                    pending[s] = Some(v);
                    self.pending_order.push(s);
                }
                _ => self.known[s] = Some(v),
            }
        }
    }

    /// The current value of a slot, loaded if the function has not got it.
    pub(super) fn slot_value(&mut self, s: usize) -> ir::Value {
        if let Some(v) = self.pending.as_ref().and_then(|p| p[s]).or(self.known[s]) {
            return v;
        }
        // The state record need not be aligned (a filetest's is a byte buffer).
        let decl = &self.env.slots[s];
        load_slot(
            &mut self.b,
            self.big_endian,
            self.regions.state_flags,
            cl_type(decl.ty),
            self.state,
            decl.offset as i32,
        )
    }

    /// Writes a slot: pending when stores are sunk, else stored at once.
    /// `read`: other instructions of the block read the value too.
    pub(super) fn set_slot(&mut self, s: usize, v: ir::Value, read: bool) {
        let eager = self.at >= self.eager_from && self.last_set[self.at] && !self.loops;
        if let Some(pending) = self.pending.as_mut() {
            if eager {
                // Its last write, where nothing can need the state before it
                // (`eager_from`).
                pending[s] = None;
                self.known[s] = Some(v);
            } else {
                if pending[s].replace(v).is_none() {
                    self.pending_order.push(s);
                }
                self.pending_read[s] = read;
                return;
            }
        }
        let decl = &self.env.slots[s];
        store_slot(&mut self.b, self.big_endian, self.regions.state_flags, v, self.state, decl.offset as i32);
    }

    /// At `eager_from` (not in a loop, whose branch back carries slots):
    /// stores the pending writes the rest of the block does not overwrite
    /// (the others are stored at their last write, see `set_slot`); their
    /// values are then known to be the state's.
    pub(super) fn store_pending_now(&mut self) {
        if self.loops || self.pending.is_none() {
            return;
        }
        let mut overwritten = vec![false; self.env.slots.len()];
        for inst in &self.block.insts[self.at..] {
            if let (Opcode::Set, Imm::Slot(s)) = (inst.op, inst.imm) {
                overwritten[s.0 as usize] = true;
            }
        }
        self.store_pending_except(&overwritten);
        let pending = self.pending.as_mut().expect("pending");
        for s in self.pending_order.iter().filter(|s| !overwritten[**s]) {
            if let Some(v) = pending[*s].take() {
                self.known[*s] = Some(v);
            }
        }
    }

    /// Makes the pending values that other instructions read computed
    /// here, on the path that stays, before a side path that stores them.
    ///
    /// Cranelift computes a pure value in the first block that needs it, and
    /// again in each later block that block does not dominate. A side path
    /// (a trap, an exit) that stores a pending value would compute it anew,
    /// with the chain of earlier values it depends on that the path that
    /// stays has not needed yet: a register that every instruction of a
    /// long block updates (an accumulator, a CRC) was computed from scratch
    /// on every side path, quadratic code and compile time. An instruction
    /// with two results is never moved or merged, so splitting a 128-bit
    /// pair made of the value pins it here at no cost (the pair is just two
    /// registers). Values nobody else reads (flags the next instruction
    /// redefines) stay computed only on the side paths that store them,
    /// from operands the path that stays has.
    pub(super) fn settle_pending(&mut self) {
        let Some(pending) = &self.pending else { return };
        let dfg = &self.b.func.dfg;
        let read: Vec<(usize, ir::Value)> = self
            .pending_order
            .iter()
            .filter(|s| self.pending_read[**s])
            .filter_map(|s| pending[*s].map(|v| (*s, v)))
            .filter(|(_, v)| dfg.value_type(*v) == types::I64 && movable(dfg, *v))
            .collect();
        for (s, v) in read {
            let pinned = self.pin(v);
            self.pending.as_mut().expect("pending")[s] = Some(pinned);
            self.pending_read[s] = false;
        }
    }

    /// `v` (64-bit), computed here and never moved or merged with an equal
    /// value elsewhere (see `settle_pending`).
    pub(super) fn pin(&mut self, v: ir::Value) -> ir::Value {
        let pair = self.b.ins().iconcat(v, v);
        self.b.ins().isplit(pair).0
    }

    /// Stores every pending state write (on a path that leaves the block,
    /// or before a helper call); they stay pending for the path that goes on.
    pub(super) fn store_pending(&mut self) {
        self.store_pending_except(&[]);
    }

    /// Stores the pending writes of the slots `skip` does not mark.
    pub(super) fn store_pending_except(&mut self, skip: &[bool]) {
        let Some(pending) = &self.pending else { return };
        let writes: Vec<(usize, ir::Value)> = self
            .pending_order
            .iter()
            .filter(|s| !skip.get(**s).copied().unwrap_or(false))
            .filter_map(|s| pending[*s].map(|v| (*s, v)))
            .collect();
        for (s, v) in writes {
            let offset = self.env.slots[s].offset as i32;
            store_slot(&mut self.b, self.big_endian, self.regions.state_flags, v, self.state, offset);
        }
    }
}

/// Whether Cranelift may compute `v` elsewhere than where it is defined
/// (see `settle_pending`): not a load (which stays where it is), a constant
/// (which is cheaper made again than kept in a register) or a parameter.
fn movable(dfg: &ir::DataFlowGraph, v: ir::Value) -> bool {
    match dfg.value_def(v) {
        ir::ValueDef::Result(inst, _) => !matches!(dfg.insts[inst].opcode(), ir::Opcode::Load | ir::Opcode::Iconst),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visa::text::parse_module;

    #[test]
    fn writes_are_stored_at_once_only_where_nothing_before_the_end_needs_them_pending() {
        // A load (checked), a side exit, a store of the same bytes (checked:
        // a load never covers a store), then a load of them (covered) and
        // the end.
        let src = "slot %a: i64 @ 0\nslot %b: i64 @ 8\n
block 0x1000 {
  guest 0x1000, 4
    v0 = get.i64 %a
    v1 = load.i64 v0
    set.i64 %b, v1
  guest 0x1004, 2
    v2 = const.i64 1
    v3 = icmp.i64 eq v1, v2
    jump_if v3, 0x2000
  guest 0x1006, 4
    store.i64 v1, v0
  guest 0x100a, 4
    v4 = load.i64 v0
    set.i64 %a, v4
    jump 0x100e
}
";
        let module = parse_module(src).unwrap();
        let block = &module.blocks[0];
        let accesses = access::accesses(block);
        let covered = access::covered(&accesses);
        let groups = vec![None; block.insts.len()];
        let store = block.insts.iter().position(|i| i.op == Opcode::Store).unwrap();
        let replayable = vec![false; block.insts.len()];
        assert_eq!(quiet_from(block, &covered, &groups, &replayable), store + 1, "after the store's check");
        // Where the host checks the covered load (the block may be run
        // again there), it may leave too.
        let replayable = vec![true; block.insts.len()];
        let load = block.insts.iter().rposition(|i| i.op == Opcode::Load).unwrap();
        assert_eq!(quiet_from(block, &covered, &groups, &replayable), store + 1, "a covered load is not checked");
        assert!(covered[load]);
        // Writes are stored where they are made from where the block may
        // no longer run again (the store), or from where nothing leaves.
        let mut replayable = vec![true; block.insts.len()];
        assert_eq!(eager_from(block, &covered, &groups, &replayable), store + 1);
        replayable[store..].fill(false);
        assert_eq!(eager_from(block, &covered, &groups, &replayable), store);
        // Each slot's last write.
        let sets: Vec<usize> = (0..block.insts.len()).filter(|i| block.insts[*i].op == Opcode::Set).collect();
        let last: Vec<usize> = last_sets(block).iter().enumerate().filter(|(_, l)| **l).map(|(i, _)| i).collect();
        assert_eq!(last, sets, "%b and %a are written once each");
        let src = "slot %a: i64 @ 0\nslot %b: i64 @ 8\n
block 0x1000 {
  guest 0x1000, 4
    v0 = get.i64 %a
    set.i64 %a, v0
    set.i64 %b, v0
    set.i64 %a, v0
    jump 0x1004
}
";
        let module = parse_module(src).unwrap();
        assert_eq!(last_sets(&module.blocks[0]), [false, false, false, true, true, false]);
        // A call leaves at the next instruction's start.
        let src = "slot %a: i64 @ 0\nhelper @h() -> ()\n
block 0x1000 {
  guest 0x1000, 4
    call @h()
  guest 0x1004, 4
    v0 = get.i64 %a
    set.i64 %a, v0
    jump 0x1008
}
";
        let module = parse_module(src).unwrap();
        let block = &module.blocks[0];
        let n = block.insts.len();
        let marker = block.insts.iter().rposition(|i| i.op == Opcode::Guest).unwrap();
        assert_eq!(quiet_from(block, &vec![false; n], &vec![None; n], &vec![false; n]), marker + 1);
    }
}
