//! Per-block profiles (`--profile`): how often each block ran, the guest
//! instructions it ran, the time it took and on which tier, gathered by
//! the dispatcher while a profile is asked for.

use std::collections::HashMap;
use std::time::Duration;

/// What one block (by guest address) did.
#[derive(Clone, Debug, Default)]
pub struct BlockProfile {
    pub runs: u64,
    /// Of those runs, how many were compiled code.
    pub compiled_runs: u64,
    pub guest_insts: u64,
    /// Wall time in the block (the dispatcher's, around each run).
    pub time: Duration,
}

impl BlockProfile {
    /// `interp`, `jit` or `mixed` (interpreted, then compiled).
    pub fn tier(&self) -> &'static str {
        match self.compiled_runs {
            0 => "interp",
            n if n == self.runs => "jit",
            _ => "mixed",
        }
    }
}

/// The blocks an engine ran.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub blocks: HashMap<u64, BlockProfile>,
}

impl Profile {
    pub(super) fn record(&mut self, addr: u64, compiled: bool, insts: u64, time: Duration) {
        let b = self.blocks.entry(addr).or_default();
        b.runs += 1;
        b.compiled_runs += compiled as u64;
        b.guest_insts += insts;
        b.time += time;
    }

    /// The blocks, hottest (most time) first; ties by address.
    pub fn hottest(&self) -> Vec<(u64, &BlockProfile)> {
        let mut v: Vec<(u64, &BlockProfile)> = self.blocks.iter().map(|(a, b)| (*a, b)).collect();
        v.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(a.0.cmp(&b.0)));
        v
    }

    /// Adds another engine's profile (another guest thread's).
    pub fn merge(&mut self, other: &Profile) {
        for (addr, b) in &other.blocks {
            let mine = self.blocks.entry(*addr).or_default();
            mine.runs += b.runs;
            mine.compiled_runs += b.compiled_runs;
            mine.guest_insts += b.guest_insts;
            mine.time += b.time;
        }
    }
}
