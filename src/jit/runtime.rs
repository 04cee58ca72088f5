//! What compiled blocks share with the runtime: the context record they
//! receive, and the slow-path functions they call (generic operations by
//! the reference semantics, helper calls, atomics, code-write tracking).

use std::ffi::c_void;

use crate::abi::{HelperCtx, Helpers, Outcome, Trap};
use crate::machine::GuestMemory;
use crate::visa::{ExitReason, Helper, Imm, Opcode, TrapCode, Type, eval};

/// How a compiled block left (its return value).
pub const EXIT_JUMP: u32 = 0;
pub const EXIT_INDIRECT: u32 = 1;
pub const EXIT_EXIT: u32 = 2;
pub const EXIT_TRAP: u32 = 3;
pub const EXIT_INTERPRET: u32 = 4;
pub const EXIT_REPLAY: u32 = 5;
/// Not returned by blocks: a failed check trapped (`replay`).
pub const EXIT_TRAPPED: u32 = 6;

/// The record a compiled block receives. Compiled code addresses its fields
/// by offset (`offset_of!`), so it is `repr(C)`.
#[repr(C)]
pub struct JitCtx {
    pub state: *mut u8,
    pub mem_base: *mut u8,
    pub mem_size: u64,
    pub code_lines: *const u8,
    /// The page-permission map (null without protection).
    pub perms: *const u8,
    pub mem: *mut GuestMemory,
    /// Points at a `&mut dyn Helpers`.
    pub helpers: *mut c_void,
    /// Set when a store hit translated code.
    pub code_modified: u32,
    pub exit_reason: u32,
    pub exit_pc: u64,
    pub trap_code: u32,
    pub trap_completed: u32,
    pub trap_guest: u64,
    pub trap_addr: u64,
    pub has_trap_addr: u32,
    pub _pad: u32,
    /// Guest instructions the chain of compiled blocks may still run; a
    /// block that would overdraw it returns to the dispatcher instead.
    pub budget: i64,
    /// Set by the runtime when the dispatcher must look before any other
    /// block runs (a helper stopped the machine, code was written): the
    /// budget left then is banked and the budget zeroed, so the next block
    /// entry leaves without a check of its own.
    pub stop: u32,
    pub _pad2: u32,
    pub banked: i64,
    /// The indirect-jump table: `IND_ENTRIES` entries.
    pub ind_table: *const IndEntry,
    /// The engine's interrupt word (`abi::Interrupt`): nonzero makes the next block entry (or round of a
    /// loop) leave for the dispatcher.
    pub interrupt: *const std::sync::atomic::AtomicU32,
    /// On an unlinked direct exit: the link cell that would have taken it
    /// (so the dispatcher can link it), else 0.
    pub exit_link: u64,
    /// The block whose failed checks trap, stored as it starts: its
    /// address, and its instruction count from bit `replay::ADDR_BITS` on.
    pub replay_block: u64,
    /// The stack pointer in `visa_jit_enter`, for the trap handler
    /// (`replay`).
    pub entry_sp: u64,
}

/// An entry of the indirect-jump table: a guest address and the compiled
/// block for it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IndEntry {
    pub guest: u64,
    pub code: u64,
}

/// log2 of the entries of the indirect-jump table.
pub const IND_BITS: u32 = 14;

/// Entries of the indirect-jump table.
pub const IND_ENTRIES: usize = 1 << IND_BITS;

/// The multiplier of the guest-address hash: 2^64 divided by the golden
/// ratio, made odd (Fibonacci hashing).
pub const ADDR_HASH: u64 = 0x9E37_79B9_7F4A_7C15;

/// The slot of a guest address in a table of `2^bits` entries: the high
/// bits of the address times `ADDR_HASH`, which depend on all of its bits
/// (folding the page number onto the offset made blocks 64 KiB and 16 bytes
/// apart share a slot, and such pairs are common in real code). The
/// engine's front table and the indirect-jump table use it; compiled code
/// computes the same for the latter.
pub const fn addr_slot(addr: u64, bits: u32) -> usize {
    (addr.wrapping_mul(ADDR_HASH) >> (64 - bits)) as usize
}

/// The indirect-jump table's slot of a guest address.
pub fn ind_slot(addr: u64) -> usize {
    addr_slot(addr, IND_BITS)
}

/// An empty entry (told by its null code).
pub const IND_EMPTY: IndEntry = IndEntry { guest: 0, code: 0 };

/// An operation a compiled block hands to the reference semantics.
pub struct EvalDesc {
    pub op: Opcode,
    pub ty: Option<Type>,
    pub imm: Imm,
    pub arg_types: Vec<Type>,
    pub results: usize,
}

/// Status a runtime function returns: 0, or 1 + the trap code's encoding.
fn status(r: Result<(), TrapCode>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(code) => 1 + code.code() as u32,
    }
}

/// Computes an operation by the reference semantics.
///
/// # Safety
/// Called only by compiled code, with a live descriptor and buffers of its
/// operand and result counts (so for every runtime function below).
pub(super) unsafe extern "C" fn rt_eval(
    _ctx: *mut JitCtx,
    desc: *const EvalDesc,
    args: *const u128,
    results: *mut u128,
) -> u32 {
    // SAFETY: compiled code passes a live descriptor and buffers of the
    // descriptor's operand and result counts.
    unsafe {
        let d = &*desc;
        let args = std::slice::from_raw_parts(args, d.arg_types.len());
        let out = std::slice::from_raw_parts_mut(results, d.results);
        status(eval::eval(d.op, d.ty, &d.imm, args, &d.arg_types, out))
    }
}

/// Calls a runtime helper.
///
/// # Safety
/// Called only by compiled code (through `runtime_call`) while its block
/// runs: `ctx` is the run's live `JitCtx`, whose `helpers` points at the
/// dispatcher's `&mut dyn Helpers`, `state` at the guest's `CpuState` and
/// `mem` at its `GuestMemory`, none of them borrowed elsewhere during the
/// call; `counts` holds the argument count (low 16 bits) and the result
/// count (the next 16), and `args` and `results` point at that many
/// `u128`s in the block's stack slot.
pub(super) unsafe extern "C" fn rt_call(
    ctx: *mut JitCtx,
    helper: u32,
    args: *const u128,
    results: *mut u128,
    counts: u64,
) -> u32 {
    // SAFETY: the context is live for the block's run; `helpers` points at
    // the dispatcher's `&mut dyn Helpers`, and the buffers hold `counts`.
    unsafe {
        let ctx = &mut *ctx;
        let helpers = &mut *(ctx.helpers as *mut &mut dyn Helpers);
        let (nargs, nres) = ((counts & 0xffff) as usize, (counts >> 16) as usize);
        let args = std::slice::from_raw_parts(args, nargs);
        let out = std::slice::from_raw_parts_mut(results, nres);
        let size = std::mem::size_of::<crate::machine::CpuState>();
        let state = std::slice::from_raw_parts_mut(ctx.state, size);
        let r = helpers.call(Helper(helper as u16), HelperCtx { state, mem: &mut *ctx.mem }, args, out);
        if (*ctx.mem).code_written() {
            ctx.code_modified = 1;
        }
        // A helper that stopped the machine, or wrote code: no linked block
        // may run before the dispatcher has looked.
        if ctx.code_modified != 0 || helpers.stop_requested() {
            ctx.request_stop();
        }
        status(r)
    }
}

/// An atomic read-modify-write or compare-exchange on guest memory (a
/// host atomic operation, see `GuestMemory::atomic`).
///
/// # Safety
/// As for `rt_eval`: called only by compiled code, with a live descriptor
/// of the atomic operation (one result) and buffers of its operand and
/// result counts; `ctx` is the run's live `JitCtx`, whose `mem` points at
/// the guest's `GuestMemory`. The guest address is not trusted: it goes
/// through `GuestMemory::atomic`, which checks it, and a bad
/// one is a guest fault, never a host access.
pub(super) unsafe extern "C" fn rt_atomic(
    ctx: *mut JitCtx,
    desc: *const EvalDesc,
    args: *const u128,
    results: *mut u128,
) -> u32 {
    // SAFETY: as for `rt_eval`; the context's memory is live, and
    // `results` holds the operation's one result.
    unsafe {
        let ctx = &mut *ctx;
        let d = &*desc;
        let args = std::slice::from_raw_parts(args, d.arg_types.len());
        let mem = &mut *ctx.mem;
        let size = d.ty.map_or(8, |t| t.bytes());
        let addr = args[0] as u64;
        let fault = |ctx: &mut JitCtx| {
            ctx.trap_addr = addr;
            ctx.has_trap_addr = 1;
            status(Err(TrapCode::MemFault))
        };
        let update = |old| eval::atomic_update(&d.imm, size, args, old);
        let Ok(old) = mem.atomic(addr, size, update) else { return fault(ctx) };
        if mem.code_written() {
            ctx.code_modified = 1;
            ctx.request_stop();
        }
        *results = old;
        0
    }
}

impl JitCtx {
    /// Makes every block entry from now on leave for the dispatcher.
    pub(super) fn request_stop(&mut self) {
        if self.stop == 0 {
            self.stop = 1;
            self.banked = self.budget;
            self.budget = 0;
        }
    }

    /// The budget left when control came back.
    pub fn budget_left(&self) -> i64 {
        if self.stop != 0 { self.banked + self.budget } else { self.budget }
    }

    /// The outcome a compiled block reported with its return value.
    pub fn outcome(&self, kind: u32) -> Outcome {
        match kind {
            EXIT_JUMP => Outcome::Jump(self.exit_pc),
            EXIT_INDIRECT => Outcome::Indirect(self.exit_pc),
            EXIT_INTERPRET => Outcome::Interpret(self.exit_pc),
            EXIT_REPLAY => Outcome::Replay(self.exit_pc),
            EXIT_EXIT => {
                Outcome::Exit(ExitReason::from_code(self.exit_reason as u8).expect("exit reason"), self.exit_pc)
            }
            _ => Outcome::Trap(Trap {
                code: TrapCode::from_code(self.trap_code as u16).expect("trap code"),
                guest: self.trap_guest,
                completed: self.trap_completed,
                fault_addr: (self.has_trap_addr != 0).then_some(self.trap_addr),
            }),
        }
    }
}
