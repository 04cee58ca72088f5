//! The translation cache: translations by guest address, a direct-mapped
//! front for the common lookup, and which code pages each came from.
//!
//! Entries are reference-counted so a running block stays valid while its
//! page is invalidated under it, and so a cache can later be shared.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

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
    /// The interpreter's form.
    pub code: Compiled,
    /// The optimised V-ISA, kept (by the JIT engine) until the block is
    /// compiled to host code; the tiered engine lifts a hot block again.
    pub block: RefCell<Option<Block>>,
    /// Host code, once compiled.
    pub jit: RefCell<Option<crate::jit::Compiled>>,
    /// Times run by the interpreter (for tiering).
    pub runs: Cell<u32>,
    /// The JIT could not compile it: stay interpreted.
    pub jit_failed: Cell<bool>,
    /// The direct exits' targets (side exits included, each once), and the
    /// cells compiled code reads to jump straight to their compiled blocks
    /// (0: back to the dispatcher).
    pub targets: Vec<u64>,
    pub links: Box<[Cell<u64>]>,
    /// Link cells of other blocks that point at this block's code.
    pub incoming: RefCell<Vec<*const Cell<u64>>>,
}

impl Translation {
    pub fn key(&self) -> Key {
        Key { addr: self.addr, mode: self.mode }
    }

    /// The link cell that takes the direct exit to `target`.
    pub fn link_cell(&self, target: u64) -> Option<&Cell<u64>> {
        self.targets.iter().position(|t| *t == target).map(|i| &self.links[i])
    }

    /// Is any of the block's code in `[start, end)`?
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.ranges.iter().any(|&(at, len)| at < end && start < at + len.max(1))
    }

    /// Each direct target with the host address of its cell, for the compiled code.
    pub fn link_addrs(&self) -> Vec<(u64, usize)> {
        self.targets.iter().zip(self.links.iter()).map(|(t, c)| (*t, c as *const Cell<u64> as usize)).collect()
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

const FAST_SLOTS: usize = 4096;

#[derive(Default)]
pub struct Cache {
    blocks: AddrMap<Key, Rc<Translation>>,
    fast: Vec<Option<Rc<Translation>>>,
    /// Guest page number to the addresses of blocks made from it.
    pages: AddrMap<u64, Vec<Key>>,
}

fn slot(addr: u64) -> usize {
    ((addr ^ (addr >> 12)) as usize) & (FAST_SLOTS - 1)
}

/// What a translation depends on: the guest address and the mode bits the
/// frontend specialised it for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub addr: u64,
    pub mode: u32,
}

impl Cache {
    pub fn new() -> Cache {
        Cache { fast: vec![None; FAST_SLOTS], ..Cache::default() }
    }

    #[inline]
    pub fn get(&mut self, key: Key) -> Option<Rc<Translation>> {
        if let Some(t) = &self.fast[slot(key.addr)]
            && t.key() == key
        {
            return Some(t.clone());
        }
        let t = self.blocks.get(&key)?.clone();
        self.fast[slot(key.addr)] = Some(t.clone());
        Some(t)
    }

    pub fn insert(&mut self, t: Translation) -> Rc<Translation> {
        let t = Rc::new(t);
        for &(at, len) in &t.ranges {
            for page in at / PAGE_SIZE..=(at + len.max(1) - 1) / PAGE_SIZE {
                let keys = self.pages.entry(page).or_default();
                if !keys.contains(&t.key()) {
                    keys.push(t.key());
                }
            }
        }
        self.fast[slot(t.addr)] = Some(t.clone());
        self.blocks.insert(t.key(), t.clone());
        t
    }

    /// Drops every block whose bytes overlap `[start, end)`; returns them,
    /// and calls `keep` with the ranges of each block still made from the
    /// pages touched (so their code marks can be restored).
    pub fn invalidate_range(&mut self, start: u64, end: u64, mut keep: impl FnMut(u64, u64)) -> Vec<Rc<Translation>> {
        let mut dropped = Vec::new();
        for page in start / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
            let Some(keys) = self.pages.remove(&page) else { continue };
            let mut kept = Vec::with_capacity(keys.len());
            for key in keys {
                let Some(t) = self.blocks.get(&key) else { continue };
                if t.overlaps(start, end) {
                    dropped.extend(self.blocks.remove(&key));
                    let s = slot(key.addr);
                    if self.fast[s].as_ref().is_some_and(|t| t.key() == key) {
                        self.fast[s] = None;
                    }
                } else if !kept.contains(&key) {
                    t.ranges.iter().for_each(|&(at, len)| keep(at, len));
                    kept.push(key);
                }
            }
            if !kept.is_empty() {
                self.pages.insert(page, kept);
            }
        }
        dropped
    }

    /// Looks a block up without touching the fast table.
    pub fn peek(&self, key: Key) -> Option<&Rc<Translation>> {
        self.blocks.get(&key)
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}
