//! The guest state while lowering: slot values held in SSA values, the
//! writes not yet stored (sunk to the paths that leave the block), and
//! their stores.

use super::*;

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
        load_slot(&mut self.b, self.big_endian, cl_type(decl.ty), self.state, decl.offset as i32)
    }

    /// Writes a slot: pending when stores are sunk, else stored at once.
    /// `read`: other instructions of the block read the value too.
    pub(super) fn set_slot(&mut self, s: usize, v: ir::Value, read: bool) {
        if let Some(pending) = self.pending.as_mut() {
            if pending[s].replace(v).is_none() {
                self.pending_order.push(s);
            }
            self.pending_read[s] = read;
            return;
        }
        let decl = &self.env.slots[s];
        store_slot(&mut self.b, self.big_endian, v, self.state, decl.offset as i32);
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
            .filter(|(_, v)| dfg.value_type(*v) == types::I64)
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
            store_slot(&mut self.b, self.big_endian, v, self.state, offset);
        }
    }
}
