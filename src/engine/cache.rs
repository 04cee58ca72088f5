//! The translation cache: translations by guest address and the code pages
//! each came from (shared by the engines of a process's threads, under the
//! lock of `Shared`).
//!
//! Entries are reference-counted so a running block stays valid while its
//! page is invalidated under it, by its own thread or another.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::interp::Compiled;
use crate::machine::PAGE_SIZE;
use crate::visa::Block;

/// One translated guest block.
pub struct Translation {
    pub addr: u64,
    /// The frontend mode it was lifted in (see `Key`).
    pub mode: u32,
    /// The guest code the block was made from: ranges `(start, length)`,
    /// and (with a JIT) a hash of its bytes, to check that code lifted again
    /// for compilation is the same.
    pub ranges: Vec<(u64, u64)>,
    pub code_hash: u64,
    pub guest_insts: u32,
    /// Running it may change the frontend's mode (`frontend::may_change_mode`).
    pub changes_mode: bool,
    /// What it counts against the cache's bound (`footprint`).
    pub bytes: usize,
    /// The interpreter's form.
    pub code: Compiled,
    /// The optimised V-ISA, kept (by the JIT engine) until the block is
    /// compiled to host code; the tiered engine lifts a hot block again.
    pub block: Mutex<Option<Block>>,
    /// Host code, once compiled (a translation is compiled at most once: a
    /// flush of the code region drops every translation).
    pub jit: OnceLock<crate::jit::Compiled>,
    /// Times run by the interpreter (for tiering), by any thread.
    pub runs: AtomicU32,
    /// The JIT could not compile it: stay interpreted.
    pub jit_failed: AtomicBool,
    /// Its compiled code's exits for the interpreter (`Outcome::Interpret`).
    pub float_exits: FloatExits,
    /// Waiting for, or being compiled by, the compiler thread.
    pub queued: AtomicBool,
    /// The addresses the block, or a compiled form of it that ends at a
    /// side exit, may leave for directly (`shape::exits_of`), and the
    /// cells compiled code reads to jump straight to their compiled blocks
    /// (0: back to the dispatcher).
    pub targets: Vec<u64>,
    pub links: Box<[AtomicU64]>,
    /// How many of the interpreter's runs left for each target.
    pub taken: Box<[AtomicU32]>,
    /// Its side exits, with their targets' indices.
    pub branches: Box<[super::shape::Branch]>,
    /// Link cells of other blocks that point at this block's code (changed
    /// only under the cache's lock).
    pub incoming: Mutex<Vec<usize>>,
}

/// A translation's exits for the interpreter: how many in the current
/// window, the engine's guest instruction count when the window started,
/// and whether they came too often, so that the block stays interpreted.
#[derive(Default)]
pub struct FloatExits {
    pub count: AtomicU32,
    pub since: AtomicU64,
    pub demoted: AtomicBool,
}

/// Bytes of host memory a translation takes, as the cache counts it
/// against its bound: the interpreter's form, the V-ISA kept for the JIT,
/// the code ranges, the link cells and the cache's index entries for it.
pub fn footprint(code: &Compiled, block: Option<&Block>, ranges: usize, targets: usize, branches: usize) -> usize {
    std::mem::size_of::<Translation>()
        + code.footprint()
        + block.map_or(0, Block::footprint)
        + ranges * (std::mem::size_of::<(u64, u64)>() + 2 * std::mem::size_of::<Key>())
        + targets * (std::mem::size_of::<u64>() + std::mem::size_of::<AtomicU64>() + std::mem::size_of::<AtomicU32>())
        + branches * std::mem::size_of::<super::shape::Branch>()
        + 64
}

impl Translation {
    pub fn key(&self) -> Key {
        Key { addr: self.addr, mode: self.mode }
    }

    /// Is any of the block's code in `[start, end)`?
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.ranges.iter().any(|&(at, len)| at < end && start < at + len.max(1))
    }

    /// Each direct target with the host address of its cell, for the compiled code.
    pub fn link_addrs(&self) -> Vec<(u64, usize)> {
        self.targets.iter().zip(self.links.iter()).map(|(t, c)| (*t, c as *const AtomicU64 as usize)).collect()
    }

    /// The block's host code, if it has been compiled.
    #[inline]
    pub fn entry(&self) -> Option<*const u8> {
        self.jit.get().filter(|_| !self.float_exits.demoted.load(Ordering::Relaxed)).map(|c| c.entry)
    }

    /// The same translation without compiled code (to be compiled again
    /// when hot): its interpreter's form, ranges and counts kept.
    fn without_compiled(&self) -> Translation {
        let count = |c: &AtomicU32| AtomicU32::new(c.load(Ordering::Relaxed));
        Translation {
            addr: self.addr,
            mode: self.mode,
            ranges: self.ranges.clone(),
            code_hash: self.code_hash,
            guest_insts: self.guest_insts,
            changes_mode: self.changes_mode,
            bytes: self.bytes,
            code: self.code.clone(),
            block: super::lock(&self.block).take().into(),
            jit: OnceLock::new(),
            runs: count(&self.runs),
            jit_failed: false.into(),
            float_exits: FloatExits::default(),
            queued: false.into(),
            targets: self.targets.clone(),
            links: self.targets.iter().map(|_| AtomicU64::new(0)).collect(),
            taken: self.taken.iter().map(count).collect(),
            branches: self.branches.clone(),
            incoming: Vec::new().into(),
        }
    }

    /// Zeroes every link cell that leads to this block's code.
    pub fn unlink_incoming(&self) {
        for cell in super::lock(&self.incoming).drain(..) {
            // SAFETY: a cell stays in an incoming list only while its owner is
            // in the cache (`Cache::forget_links` takes it out when the owner
            // goes), and translations outlive their time in the cache.
            unsafe { (*(cell as *const AtomicU64)).store(0, Ordering::Release) };
        }
    }
}

/// A hasher for guest addresses (the default SipHash is needlessly slow here).
#[derive(Default)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ *b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        // Mixed into what was written before (a key's later fields must
        // not replace its earlier ones).
        self.0 = (self.0.rotate_left(5) ^ v ^ (v >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
}

type AddrMap<K, V> = HashMap<K, V, BuildHasherDefault<AddrHasher>>;

/// What a translation depends on: the guest address and the mode bits the
/// frontend specialised it for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub addr: u64,
    pub mode: u32,
}

/// The translations of a process, by key and by code page.
#[derive(Default)]
pub struct Cache {
    blocks: AddrMap<Key, Arc<Translation>>,
    /// Guest page number to the addresses of blocks made from it.
    pages: AddrMap<u64, Vec<Key>>,
    /// The translations' footprints, summed.
    bytes: usize,
}

impl Cache {
    pub fn get(&self, key: Key) -> Option<&Arc<Translation>> {
        self.blocks.get(&key)
    }

    /// Is `t` itself (not a later translation of its address) in the cache?
    pub fn holds(&self, t: &Arc<Translation>) -> bool {
        self.blocks.get(&t.key()).is_some_and(|c| Arc::ptr_eq(c, t))
    }

    /// Adds a translation; if another thread added one for the key first,
    /// that one stays and is returned.
    pub fn insert(&mut self, t: Translation) -> Arc<Translation> {
        if let Some(first) = self.blocks.get(&t.key()) {
            return first.clone();
        }
        let t = Arc::new(t);
        self.put_back(t.clone());
        t
    }

    /// Replaces every translation with one without compiled code
    /// (`Translation::without_compiled`), for a flush of the code region
    /// that keeps what was translated.
    pub fn drop_compiled(&mut self) {
        let old = std::mem::take(self);
        for t in old.blocks.into_values() {
            self.put_back(Arc::new(t.without_compiled()));
        }
    }

    /// Every translation.
    pub fn translations(&self) -> impl Iterator<Item = &Arc<Translation>> {
        self.blocks.values()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a translation made earlier (the running one, after a flush).
    pub fn put_back(&mut self, t: Arc<Translation>) {
        self.bytes += t.bytes;
        for &(at, len) in &t.ranges {
            for page in at / PAGE_SIZE..=(at + len.max(1) - 1) / PAGE_SIZE {
                let keys = self.pages.entry(page).or_default();
                if !keys.contains(&t.key()) {
                    keys.push(t.key());
                }
            }
        }
        self.blocks.insert(t.key(), t);
    }

    /// Would `invalidate_range` drop anything?
    pub fn overlaps_any(&self, start: u64, end: u64) -> bool {
        (start / PAGE_SIZE..end.div_ceil(PAGE_SIZE)).any(|page| {
            self.pages
                .get(&page)
                .is_some_and(|keys| keys.iter().any(|key| self.blocks.get(key).is_some_and(|t| t.overlaps(start, end))))
        })
    }

    /// Drops every block whose bytes overlap `[start, end)`, unlinking the
    /// compiled code that jumps to it; returns how many, and calls `keep`
    /// with the ranges of each block still made from the pages touched (so
    /// their code marks can be restored).
    pub fn invalidate_range(&mut self, start: u64, end: u64, mut keep: impl FnMut(u64, u64)) -> usize {
        let mut dropped = Vec::new();
        for page in start / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
            let Some(keys) = self.pages.remove(&page) else { continue };
            let mut kept = Vec::with_capacity(keys.len());
            for key in keys {
                let Some(t) = self.blocks.get(&key) else { continue };
                if t.overlaps(start, end) {
                    dropped.extend(self.blocks.remove(&key));
                } else if !kept.contains(&key) {
                    t.ranges.iter().for_each(|&(at, len)| keep(at, len));
                    kept.push(key);
                }
            }
            if !kept.is_empty() {
                self.pages.insert(page, kept);
            }
        }
        for t in &dropped {
            t.unlink_incoming();
            self.forget_links(t);
            self.bytes -= t.bytes;
        }
        dropped.len()
    }

    /// Takes a dropped block's own cells out of its successors' lists.
    fn forget_links(&self, t: &Translation) {
        for (target, cell) in t.targets.iter().zip(t.links.iter()) {
            if cell.load(Ordering::Relaxed) != 0
                && let Some(next) = self.blocks.get(&Key { addr: *target, mode: t.mode })
            {
                let cell = cell as *const AtomicU64 as usize;
                super::lock(&next.incoming).retain(|c| *c != cell);
            }
        }
    }

    /// Points `cell` (a link cell of a block that is running, so alive) at
    /// the compiled code of the block at `target`, if that block is still
    /// in the cache and compiled.
    pub fn link(&self, cell: usize, target: Key) {
        let Some(next) = self.blocks.get(&target) else { return };
        let Some(entry) = next.entry() else { return };
        // SAFETY: the cell belongs to a block whose code just ran: it is
        // alive; if that block is no longer in the cache its cells are never
        // read again, and the stale link is harmless.
        unsafe { (*(cell as *const AtomicU64)).store(entry as u64, Ordering::Release) };
        super::lock(&next.incoming).push(cell);
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}
