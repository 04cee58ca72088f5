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
        self.b.ins().load(cl_type(decl.ty), MemFlagsData::new().with_notrap(), self.state, decl.offset as i32)
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
            self.b.ins().store(MemFlagsData::new().with_notrap(), v, self.state, offset);
        }
    }
}
