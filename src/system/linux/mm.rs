//! The guest address space of a process: which ranges are mapped, where
//! new mappings go (top-down below the stack, as Linux does), and the brk
//! heap. Guest memory holds the bytes and enforces the permissions.

use std::collections::BTreeMap;

use crate::machine::{GuestMemory, PAGE_SIZE};

/// Guest address space size: 64 GiB of guest addresses, reserved lazily.
pub const GUEST_SIZE: u64 = 1 << 36;
/// The top of the main thread's stack (a guard page above it).
pub const STACK_TOP: u64 = GUEST_SIZE - PAGE_SIZE;
pub const STACK_SIZE: u64 = 8 << 20;
/// New mappings are placed below this, top-down.
pub const MMAP_TOP: u64 = STACK_TOP - STACK_SIZE - (1 << 30);

pub struct AddressSpace {
    /// Mapped ranges: start to (length, permissions).
    regions: BTreeMap<u64, (u64, u8)>,
    pub brk_start: u64,
    pub brk: u64,
}

pub fn page_up(a: u64) -> u64 {
    a.saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

impl AddressSpace {
    pub fn new() -> AddressSpace {
        AddressSpace { regions: BTreeMap::new(), brk_start: 0, brk: 0 }
    }

    /// Notes a mapping (the caller set its permissions in guest memory).
    pub fn record(&mut self, start: u64, len: u64, perms: u8) {
        self.forget(start, len);
        self.regions.insert(start, (len, perms));
    }

    /// Removes `[start, start + len)` from the map, splitting regions.
    pub fn forget(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        let overlapping: Vec<(u64, (u64, u8))> =
            self.regions.range(..end).filter(|(s, (l, _))| **s + *l > start).map(|(s, r)| (*s, *r)).collect();
        for (s, (l, p)) in overlapping {
            self.regions.remove(&s);
            if s < start {
                self.regions.insert(s, (start - s, p));
            }
            if s + l > end {
                self.regions.insert(end, (s + l - end, p));
            }
        }
    }

    /// Is any byte of the range mapped?
    pub fn overlaps(&self, start: u64, len: u64) -> bool {
        let end = start.saturating_add(len);
        self.regions.range(..end).any(|(s, (l, _))| *s + *l > start)
    }

    /// Is every byte of the range mapped?
    pub fn covers(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else { return false };
        let mut at = start;
        for (s, (l, _)) in self.regions.range(..end) {
            if *s + *l <= at {
                continue;
            }
            if *s > at {
                return false;
            }
            at = *s + *l;
            if at >= end {
                return true;
            }
        }
        at >= end
    }

    /// The highest free range of `len` bytes below `MMAP_TOP` and above the heap.
    pub fn find_free(&self, len: u64) -> Option<u64> {
        let floor = page_up(self.brk).max(1 << 30);
        let mut top = MMAP_TOP;
        for (s, (l, _)) in self.regions.range(..MMAP_TOP).rev() {
            let end = s + l;
            if end < top && top - end >= len {
                return Some(top - len);
            }
            top = top.min(*s);
            if top < floor.saturating_add(len) {
                return None;
            }
        }
        (top >= floor.saturating_add(len)).then(|| top - len)
    }

    /// Changes the permissions recorded for a range (mprotect).
    pub fn reprotect(&mut self, start: u64, len: u64, perms: u8) {
        let end = start.saturating_add(len);
        let pieces: Vec<(u64, u64)> = self
            .regions
            .range(..end)
            .filter(|(s, (l, _))| **s + *l > start)
            .map(|(s, (l, _))| ((*s).max(start), (*s + *l).min(end)))
            .collect();
        for (a, b) in pieces {
            self.record(a, b - a, perms);
        }
    }

    /// Unmaps and zeroes a range (a file mapped there is dropped).
    pub fn unmap(&mut self, mem: &mut GuestMemory, start: u64, len: u64) {
        self.forget(start, len);
        mem.protect(start, len, 0);
        mem.clear(start, len);
    }
}

impl Default for AddressSpace {
    fn default() -> AddressSpace {
        AddressSpace::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_split_and_free_space_is_found_top_down() {
        let mut a = AddressSpace::new();
        a.brk = 0x100_0000;
        let x = a.find_free(0x2000).unwrap();
        assert_eq!(x, MMAP_TOP - 0x2000);
        a.record(x, 0x2000, 3);
        let y = a.find_free(0x1000).unwrap();
        assert_eq!(y, x - 0x1000);
        a.record(y, 0x1000, 3);
        assert!(a.covers(y, 0x3000));
        a.forget(x, 0x1000);
        assert!(!a.covers(y, 0x3000));
        assert!(a.overlaps(x + 0x1000, 0x10));
        assert_eq!(a.find_free(0x1000), Some(x), "the hole is reused");
    }
}
