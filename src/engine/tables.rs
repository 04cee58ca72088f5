//! Each engine's own direct-mapped tables, read without a lock: the front
//! table of recently run translations (in front of the shared cache) and
//! the indirect-jump table that compiled code probes inline. Both are
//! emptied whenever the shared cache drops anything; they remember the
//! slots they filled, so emptying costs what was filled, not their size
//! (a guest that rewrites its code empties them at every rewrite).

use std::sync::Arc;

use super::cache::{Key, Translation};
use crate::jit::{IND_EMPTY, IND_ENTRIES, IndEntry, addr_slot, ind_slot};

/// log2 of the front table's slots.
const FRONT_BITS: u32 = 13;

/// Recently run translations by guest address.
pub struct Front {
    slots: Vec<Option<Arc<Translation>>>,
    /// The slots filled since the last clear, once each (a slot taken
    /// out to run is filled again when put back), and their bits.
    filled: Vec<u32>,
    marks: Vec<u64>,
}

fn slot(addr: u64) -> usize {
    addr_slot(addr, FRONT_BITS)
}

impl Front {
    pub fn new() -> Front {
        Front { slots: vec![None; 1 << FRONT_BITS], filled: Vec::new(), marks: vec![0; (1 << FRONT_BITS) / 64] }
    }

    /// Takes the translation at `key` out (the engine puts it back after
    /// running it, so a hit costs no reference count).
    #[inline]
    pub fn take(&mut self, key: Key) -> Option<Arc<Translation>> {
        let s = &mut self.slots[slot(key.addr)];
        if s.as_ref().is_some_and(|t| t.key() == key) { s.take() } else { None }
    }

    #[inline]
    pub fn put(&mut self, t: Arc<Translation>) {
        let s = slot(t.addr);
        self.slots[s] = Some(t);
        let (word, bit) = (s / 64, 1 << (s % 64));
        if self.marks[word] & bit == 0 {
            self.marks[word] |= bit;
            self.filled.push(s as u32);
        }
    }

    pub fn clear(&mut self) {
        for s in self.filled.drain(..) {
            self.slots[s as usize] = None;
            self.marks[s as usize / 64] = 0;
        }
    }
}

/// Guest address to compiled code, for indirect jumps.
pub struct IndTable {
    /// `IndEntry`s as their two words: a table of zeroes is allocated
    /// zeroed, so the host maps its pages only as they are filled.
    entries: Vec<[u64; 2]>,
    filled: Vec<u32>,
}

impl IndTable {
    pub fn new() -> IndTable {
        IndTable { entries: vec![[IND_EMPTY.guest, IND_EMPTY.code]; IND_ENTRIES], filled: Vec::new() }
    }

    pub fn fill(&mut self, guest: u64, code: *const u8) {
        let s = ind_slot(guest);
        if self.entries[s][1] == IND_EMPTY.code {
            self.filled.push(s as u32);
        }
        self.entries[s] = [guest, code as u64];
    }

    pub fn clear(&mut self) {
        for s in self.filled.drain(..) {
            self.entries[s as usize] = [IND_EMPTY.guest, IND_EMPTY.code];
        }
    }

    /// The table as compiled code reads it.
    pub fn as_ptr(&self) -> *const IndEntry {
        const { assert!(std::mem::size_of::<IndEntry>() == 16 && std::mem::offset_of!(IndEntry, code) == 8) };
        self.entries.as_ptr().cast()
    }
}
