//! The V-ABI: what a block hands back to the runtime when it stops, and how
//! blocks call runtime helpers. Both execution tiers speak exactly this.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::visa::{ExitReason, Helper, TrapCode};

/// Interrupt words: nonzero when something outside the guest (a host
/// signal, another guest thread) wants a running engine back. Both tiers
/// check their engine's word at every block entry and every round of a
/// loop, so the engine returns `Stop::Interrupted` within one block. Each
/// engine claims a word of its own (engines on several threads each take
/// their own request); they are words of their own, never written by guest
/// code, so setting one from a signal handler cannot be lost to a racing
/// update. Word 0 is shared by engines beyond the others' number.
static INTERRUPTS: [AtomicU32; INTERRUPT_WORDS] = [const { AtomicU32::new(0) }; INTERRUPT_WORDS];
static CLAIMED: [AtomicBool; INTERRUPT_WORDS] = [const { AtomicBool::new(false) }; INTERRUPT_WORDS];
const INTERRUPT_WORDS: usize = 512;

/// Asks every running engine to return at the next block boundary
/// (async-signal-safe: atomic stores only).
pub fn interrupt() {
    for w in &INTERRUPTS {
        w.store(1, Ordering::SeqCst);
    }
}

/// An engine's interrupt word, claimed while the engine lives.
pub struct Interrupt {
    index: usize,
}

impl Interrupt {
    /// Claims a free word (clear), or the shared one when none is free.
    pub fn claim() -> Interrupt {
        let index = (1..INTERRUPT_WORDS)
            .find(|i| CLAIMED[*i].compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok())
            .unwrap_or(0);
        INTERRUPTS[index].store(0, Ordering::SeqCst);
        Interrupt { index }
    }

    /// The word: storing nonzero into it asks this engine back.
    pub fn word(&self) -> &'static AtomicU32 {
        &INTERRUPTS[self.index]
    }

    /// Takes a pending request: true once per request.
    pub fn take(&self) -> bool {
        let w = self.word();
        w.load(Ordering::Relaxed) != 0 && w.swap(0, Ordering::SeqCst) != 0
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        if self.index != 0 {
            CLAIMED[self.index].store(false, Ordering::Release);
        }
    }
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
    /// Compiled code left before the guest instruction at the address,
    /// for the interpreter to run it: a float operation raised exception
    /// flags that the code's screen does not compute (state as at a trap).
    Interpret(u64),
    /// Compiled code gave up on the block that starts at the address, for
    /// the interpreter to run it from its start: a check failed (a fault,
    /// or a store into translated code) where running the block again
    /// gives what running it once would. The state is as the block found
    /// it; memory holds the stores it made, which it makes again.
    Replay(u64),
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

/// Guest memory as a helper reaches it: bytes at guest addresses, with
/// the guest's permissions (an access the guest may not make is a
/// `mem_fault`).
pub trait HelperMemory {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), TrapCode>;
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), TrapCode>;
}

/// What a helper can reach.
pub struct HelperCtx<'a> {
    /// The guest state record.
    pub state: &'a mut [u8],
    pub mem: &'a mut dyn HelperMemory,
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
