//! The guest address space of a process: which ranges are mapped and what
//! they hold (for /proc/self/maps), where new mappings go (top-down below
//! the stack, as Linux does), and the brk heap. Guest memory holds the
//! bytes and enforces the permissions.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::machine::{GuestMemory, PAGE_SIZE};

/// Guest address space size: 64 GiB of guest addresses, reserved lazily.
pub const GUEST_SIZE: u64 = 1 << 36;
/// The top of the main thread's stack (a guard page above it).
pub const STACK_TOP: u64 = GUEST_SIZE - PAGE_SIZE;
pub const STACK_SIZE: u64 = 8 << 20;
/// New mappings are placed below this, top-down.
pub const MMAP_TOP: u64 = STACK_TOP - STACK_SIZE - (1 << 30);

/// What a mapping holds, as /proc/self/maps names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backing {
    Anonymous,
    /// A file: its path, the file offset of the mapping's first byte, and
    /// its device and inode numbers.
    File {
        name: Arc<[u8]>,
        offset: u64,
        dev: u64,
        inode: u64,
    },
    /// A region the kernel names, such as `[stack]`.
    Named(&'static str),
}

impl Backing {
    /// A file, from its path and metadata, at offset 0.
    pub fn file(name: &[u8], meta: &std::fs::Metadata) -> Backing {
        use std::os::unix::fs::MetadataExt;
        Backing::File { name: name.into(), offset: 0, dev: meta.dev(), inode: meta.ino() }
    }

    /// The backing of the part of a mapping `by` bytes past its start.
    pub fn advanced(&self, by: u64) -> Backing {
        match self {
            Backing::File { name, offset, dev, inode } => {
                Backing::File { name: name.clone(), offset: offset + by, dev: *dev, inode: *inode }
            }
            other => other.clone(),
        }
    }
}

/// One mapped range.
#[derive(Clone, Debug)]
struct Region {
    len: u64,
    perms: u8,
    backing: Backing,
}

pub struct AddressSpace {
    /// Mapped ranges by start address.
    regions: BTreeMap<u64, Region>,
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

    /// Notes an anonymous mapping (the caller set its permissions in guest
    /// memory).
    pub fn record(&mut self, start: u64, len: u64, perms: u8) {
        self.record_backed(start, len, perms, Backing::Anonymous);
    }

    /// Notes a mapping of what `backing` names.
    pub fn record_backed(&mut self, start: u64, len: u64, perms: u8, backing: Backing) {
        self.forget(start, len);
        self.regions.insert(start, Region { len, perms, backing });
    }

    /// The mapped regions overlapping `[start, end)`.
    fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = (&u64, &Region)> {
        self.regions.range(..end).filter(move |(s, r)| **s + r.len > start)
    }

    /// Removes `[start, start + len)` from the map, splitting regions.
    pub fn forget(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        let cut: Vec<(u64, Region)> = self.overlapping(start, end).map(|(s, r)| (*s, r.clone())).collect();
        for (s, r) in cut {
            self.regions.remove(&s);
            if s < start {
                self.regions.insert(s, Region { len: start - s, ..r.clone() });
            }
            if s + r.len > end {
                let backing = r.backing.advanced(end - s);
                self.regions.insert(end, Region { len: s + r.len - end, perms: r.perms, backing });
            }
        }
    }

    /// Is any byte of the range mapped?
    pub fn overlaps(&self, start: u64, len: u64) -> bool {
        self.overlapping(start, start.saturating_add(len)).next().is_some()
    }

    /// What the mapping at `addr` holds there, if it is mapped.
    pub fn backing_at(&self, addr: u64) -> Option<Backing> {
        let (s, r) = self.overlapping(addr, addr + 1).next()?;
        Some(r.backing.advanced(addr - s))
    }

    /// Is every byte of the range mapped?
    pub fn covers(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else { return false };
        let mut at = start;
        for (s, r) in self.regions.range(..end) {
            if *s + r.len <= at {
                continue;
            }
            if *s > at {
                return false;
            }
            at = *s + r.len;
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
        for (s, r) in self.regions.range(..MMAP_TOP).rev() {
            let end = s + r.len;
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
        let pieces: Vec<(u64, u64, Backing)> = self
            .overlapping(start, end)
            .map(|(s, r)| ((*s).max(start), (*s + r.len).min(end), r.backing.advanced(start.saturating_sub(*s))))
            .collect();
        for (a, b, backing) in pieces {
            self.record_backed(a, b - a, perms, backing);
        }
    }

    /// The mappings in order, each as start, end, permissions and backing,
    /// with neighbours that Linux would show as one joined.
    pub fn mappings(&self) -> Vec<(u64, u64, u8, Backing)> {
        let mut out: Vec<(u64, u64, u8, Backing)> = Vec::new();
        for (s, r) in &self.regions {
            if let Some(last) = out.last_mut()
                && last.1 == *s
                && last.2 == r.perms
                && last.3.advanced(*s - last.0) == r.backing
            {
                last.1 = s + r.len;
                continue;
            }
            out.push((*s, s + r.len, r.perms, r.backing.clone()));
        }
        out
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
