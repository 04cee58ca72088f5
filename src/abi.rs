//! The V-ABI: what a block hands back to the runtime when it stops, and how
//! blocks call runtime helpers. Both execution tiers speak exactly this.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::machine::GuestMemory;
use crate::visa::{ExitReason, Helper, TrapCode};

/// Nonzero when something outside the guest (a host signal, say) wants the
/// running engine back: both tiers check it at every block entry and every
/// round of a loop, so the engine returns `Stop::Interrupted` within one
/// block. It is a word of its own, never written by guest code, so setting
/// it from a signal handler cannot be lost to a racing update.
pub static INTERRUPT: AtomicU32 = AtomicU32::new(0);

/// Asks the running engine to return at the next block boundary
/// (async-signal-safe: one atomic store).
pub fn interrupt() {
    INTERRUPT.store(1, Ordering::SeqCst);
}

/// Takes a pending interrupt request: true once per request.
pub fn take_interrupt() -> bool {
    INTERRUPT.load(Ordering::Relaxed) != 0 && INTERRUPT.swap(0, Ordering::SeqCst) != 0
}

/// How control leaves a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A direct jump, or a conditional branch, to a guest address.
    Jump(u64),
    /// A computed jump.
    Indirect(u64),
    /// A runtime exit; execution resumes at the address.
    Exit(ExitReason, u64),
    /// An operation trapped. State holds everything before the guest
    /// instruction `guest` (its marker's address); none of it is committed.
    Trap(Trap),
}

/// A trap and where it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    pub code: TrapCode,
    /// Address of the guest instruction that trapped (the block address
    /// when the block has no markers).
    pub guest: u64,
    /// Guest instructions of the block completed before it.
    pub completed: u32,
    /// The memory address at fault, for `mem_fault` and `misaligned`.
    pub fault_addr: Option<u64>,
}

/// What a helper can reach.
pub struct HelperCtx<'a> {
    /// The guest state record.
    pub state: &'a mut [u8],
    pub mem: &'a mut GuestMemory,
}

/// The runtime's helpers, bound to the `Env`'s helper declarations by index.
pub trait Helpers {
    /// Calls helper `helper` with the declared arguments; writes its results.
    fn call(&mut self, helper: Helper, ctx: HelperCtx<'_>, args: &[u128], results: &mut [u128])
    -> Result<(), TrapCode>;

    /// True once a helper has asked the runtime to stop (a device ended the
    /// machine, say). The engine checks it between blocks.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// For blocks that declare no helpers.
pub struct NoHelpers;

impl Helpers for NoHelpers {
    fn call(&mut self, helper: Helper, _: HelperCtx<'_>, _: &[u128], _: &mut [u128]) -> Result<(), TrapCode> {
        unreachable!("call of helper #{} with no helpers bound", helper.0)
    }
}
