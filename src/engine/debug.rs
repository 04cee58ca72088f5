//! Debugger breakpoints and watchpoints in the engine. A debugger (the gdb
//! stub) sets them in `DebugPoints`, shared by the engines of a process;
//! each engine applies a change before its next block: translations
//! holding a new or removed breakpoint are dropped, and blocks are lifted
//! to end before any breakpoint, so the dispatcher sees every breakpoint
//! address as a block start and stops there. Watched memory is marked as
//! code: a store into it ends the running block after the storing
//! instruction (as a store into code does), and the engine compares the
//! watched bytes.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::machine::GuestMemory;
use crate::visa::{Block, Imm, Opcode};

/// A watched range of guest memory (writes are seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    pub addr: u64,
    pub len: u64,
}

/// Why the engine stopped for the debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugEvent {
    /// RIP reached a breakpoint (not yet run).
    Breakpoint(u64),
    /// The instruction before RIP changed watched memory.
    Watch(Watch),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Points {
    breakpoints: BTreeSet<u64>,
    watches: Vec<Watch>,
}

/// The breakpoints and watchpoints of a process, shared by its engines.
#[derive(Debug, Default)]
pub struct DebugPoints {
    points: Mutex<Points>,
    generation: AtomicU64,
}

impl DebugPoints {
    pub fn new() -> Arc<DebugPoints> {
        Arc::new(DebugPoints::default())
    }

    fn change(&self, f: impl FnOnce(&mut Points) -> bool) -> bool {
        let mut p = self.points.lock().unwrap_or_else(|e| e.into_inner());
        let changed = f(&mut p);
        if changed {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        changed
    }

    pub fn add_breakpoint(&self, addr: u64) -> bool {
        self.change(|p| p.breakpoints.insert(addr))
    }

    pub fn remove_breakpoint(&self, addr: u64) -> bool {
        self.change(|p| p.breakpoints.remove(&addr))
    }

    pub fn add_watch(&self, w: Watch) -> bool {
        self.change(|p| {
            p.watches.push(w);
            true
        })
    }

    pub fn remove_watch(&self, w: Watch) -> bool {
        self.change(|p| match p.watches.iter().position(|x| *x == w) {
            Some(i) => {
                p.watches.remove(i);
                true
            }
            None => false,
        })
    }

    /// Every breakpoint and watchpoint gone (the debugger detached).
    pub fn clear(&self) {
        self.change(empty);
    }

    /// Holds the points across a fork, so that the child does not find
    /// them locked by an engine of a thread it does not have.
    pub fn hold_for_fork(&self) -> PointsHold<'_> {
        PointsHold { points: self.points.lock().unwrap_or_else(|e| e.into_inner()), generation: &self.generation }
    }
}

/// Empties the points; true if there were any.
fn empty(p: &mut Points) -> bool {
    let had = *p != Points::default();
    *p = Points::default();
    had
}

/// The points, held across a fork.
pub struct PointsHold<'a> {
    points: MutexGuard<'a, Points>,
    generation: &'a AtomicU64,
}

impl PointsHold<'_> {
    /// In the child, which runs free of the debugger: no points.
    pub fn clear(mut self) {
        if empty(&mut self.points) {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One engine's copy of the points, brought up to date before each block.
pub(super) struct DebugState {
    shared: Arc<DebugPoints>,
    seen: u64,
    local: Points,
    /// The watched bytes as last seen.
    values: Vec<Vec<u8>>,
}

/// What an engine must do after the points changed.
pub(super) struct Changes {
    /// Addresses whose translations must go (breakpoints added or removed).
    pub moved: Vec<u64>,
    /// Watched ranges to mark in guest memory.
    pub watches: Vec<Watch>,
}

impl DebugState {
    pub fn new(shared: Arc<DebugPoints>) -> DebugState {
        DebugState { shared, seen: u64::MAX, local: Points::default(), values: Vec::new() }
    }

    /// The changes since the last call, if any.
    pub fn sync(&mut self, mem: &GuestMemory) -> Option<Changes> {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        if generation == self.seen {
            return None;
        }
        self.seen = generation;
        let now = self.shared.points.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let moved = now.breakpoints.symmetric_difference(&self.local.breakpoints).copied().collect();
        self.local = now;
        self.values = self.local.watches.iter().map(|w| read(mem, *w)).collect();
        Some(Changes { moved, watches: self.local.watches.clone() })
    }

    pub fn watches(&self) -> &[Watch] {
        &self.local.watches
    }

    pub fn is_breakpoint(&self, addr: u64) -> bool {
        self.local.breakpoints.contains(&addr)
    }

    /// How many guest instructions of `block` come before its first
    /// breakpoint past its start (the block must end there), if any.
    pub fn cut(&self, block: &Block) -> Option<usize> {
        if self.local.breakpoints.is_empty() {
            return None;
        }
        let guests = block.insts.iter().filter_map(|i| match (i.op, i.imm) {
            (Opcode::Guest, Imm::Guest { addr, .. }) => Some(addr),
            _ => None,
        });
        guests.enumerate().skip(1).find(|(_, a)| self.local.breakpoints.contains(a)).map(|(i, _)| i)
    }

    /// The first watched range whose bytes changed since last seen.
    pub fn watch_hit(&mut self, mem: &GuestMemory) -> Option<Watch> {
        for (w, old) in self.local.watches.iter().zip(self.values.iter_mut()) {
            let now = read(mem, *w);
            if now != *old {
                *old = now;
                return Some(*w);
            }
        }
        None
    }
}

fn read(mem: &GuestMemory, w: Watch) -> Vec<u8> {
    let mut bytes = vec![0u8; w.len as usize];
    let _ = mem.read_bytes(w.addr, &mut bytes);
    bytes
}
