//! Where a hot block's compiled form ends. A block goes on past up to a
//! few conditional branches (side exits), guessing that each is mostly not
//! taken; while the interpreter runs it, the engine counts where it leaves
//! for, and a side exit it saw taken most of the time ends the block that
//! is compiled (`Frontend::lift_ending_at`): the branch's two ways become
//! the block's two exits, so that the common path does not enter code it
//! leaves at once (paying the whole block's entry for a few instructions).

use std::sync::atomic::{AtomicU32, Ordering};

use super::cache::Translation;
use crate::visa::Block;

/// A side exit that leaves for its target at least this many times in
/// `TAKEN_OF` of the block's interpreted runs ends its compiled form.
const TAKEN: u64 = 1;
const TAKEN_OF: u64 = 2;

/// A block's side exit, for choosing where its compiled form ends: the
/// guest address of its branch and its target's index in `targets`.
#[derive(Clone, Copy, Debug)]
pub struct Branch {
    pub at: u64,
    pub target: u32,
}

/// The addresses a block may leave for directly (each once: the exits'
/// targets, then where a side exit's branch goes on, an exit of the block
/// if it ends there), and its side exits.
pub fn exits_of(block: &Block) -> (Vec<u64>, Vec<Branch>) {
    fn add(targets: &mut Vec<u64>, a: u64) -> u32 {
        match targets.iter().position(|&t| t == a) {
            Some(i) => i as u32,
            None => {
                targets.push(a);
                targets.len() as u32 - 1
            }
        }
    }
    let mut targets = block.exit_targets();
    let side = block.side_exits();
    let branches = side.iter().map(|s| Branch { at: s.at, target: add(&mut targets, s.target) }).collect();
    for resume in side.iter().filter_map(|s| s.resume) {
        add(&mut targets, resume);
    }
    (targets, branches)
}

impl Translation {
    /// Counts a run of the interpreter's form that left for `next`.
    pub fn count_exit(&self, next: u64) {
        if let Some(i) = self.targets.iter().position(|&t| t == next) {
            let taken = &self.taken[i];
            taken.store(taken.load(Ordering::Relaxed).saturating_add(1), Ordering::Relaxed);
        }
    }

    /// The branch its compiled form is to end at: the first side exit
    /// taken in at least `TAKEN / TAKEN_OF` of its interpreted runs.
    pub fn end_branch(&self) -> Option<u64> {
        let runs = self.runs.load(Ordering::Relaxed) as u64;
        let taken = |b: &Branch| self.taken[b.target as usize].load(Ordering::Relaxed) as u64;
        self.branches.iter().find(|b| runs > 0 && taken(b) * TAKEN_OF >= runs * TAKEN).map(|b| b.at)
    }

    /// Where `block`, compiled for this translation, ends early: the
    /// address of the branch it ends at, if it does.
    pub fn ended_at(&self, block: &Block) -> Option<u64> {
        if block.side_exits().len() == self.branches.len() {
            return None;
        }
        block.insts.iter().rev().find_map(|i| match i.imm {
            crate::visa::Imm::Guest { addr, .. } => Some(addr),
            _ => None,
        })
    }

    /// The link cells of `block`'s direct targets, in the order the JIT
    /// numbers them (`Block::exit_targets`): `block` is this translation's
    /// block, or one its compiled form ends earlier, whose targets are all
    /// this translation's.
    pub fn cells_for(&self, block: &Block) -> Vec<(u64, usize)> {
        let cell = |a: u64| self.targets.iter().position(|&t| t == a).map(|i| (a, &self.links[i] as *const _ as usize));
        block.exit_targets().into_iter().filter_map(cell).collect()
    }
}

/// Zeroed exit counts for `targets`.
pub fn counters(targets: &[u64]) -> Box<[AtomicU32]> {
    targets.iter().map(|_| AtomicU32::new(0)).collect()
}
