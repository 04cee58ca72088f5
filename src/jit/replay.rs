//! Failed checks as host traps. Where compiled code may give up on its
//! block for the interpreter to run it again (`access::replayable`), a
//! failed check (bounds, page permissions, alignment, a division's) is a
//! trap instruction instead of a branch to an exit: the code that passes
//! has no block boundary at each check, so Cranelift keeps values in
//! registers across them, as it cannot across branches.
//!
//! A block with such traps records itself in the context as it starts
//! (`JitCtx::replay_block`: its address, and its instruction count in the
//! top 16 bits). The trap raises SIGILL; the handler finds it is a trap
//! instruction in the compiled code of the current thread's run and resumes
//! at `visa_jit_abort`, which unwinds to the frame of `visa_jit_enter` (the
//! caller of the entry trampoline) and returns `EXIT_TRAPPED`; the run then
//! refunds the block's budget and reports `Outcome::Replay` of it.
//!
//! Where guest memory's page protection is mirrored on the host
//! (`Setup::host_perms`), a load or store that may give its block up checks
//! only its bounds: an access of a page the guest may not access so, or a
//! store into a page holding translated code, faults on the host (SIGSEGV,
//! at an address inside guest memory), and the handler gives the block up
//! the same way, for the interpreter to fault where the guest does or to
//! record the write to code.
//!
//! x86-64 Linux hosts only (`SUPPORTED`); elsewhere failed checks branch to
//! the block's replay exit, which does the same without a signal.

use super::runtime::JitCtx;
use std::sync::atomic::{AtomicU64, Ordering};

/// Failed checks trap on this host.
pub const SUPPORTED: bool = cfg!(all(target_arch = "x86_64", target_os = "linux"));

/// The trap code of a failed check that gives up on its block.
pub const TRAP: cranelift_codegen::ir::TrapCode = cranelift_codegen::ir::TrapCode::unwrap_user(1);

/// Bits of `JitCtx::replay_block` that hold the block's address.
pub const ADDR_BITS: u32 = 48;

/// What the entry trampoline is.
pub type Entry = extern "C" fn(*mut JitCtx, *const u8) -> u64;

/// Runs `tramp(ctx, entry)`, catching the traps of failed checks in
/// compiled code (the regions `register` made known).
///
/// # Safety
/// As for calling `tramp(ctx, entry)` directly.
pub unsafe fn enter(tramp: Entry, ctx: &mut JitCtx, entry: *const u8) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        host::install();
        let previous = host::CURRENT.replace(ctx as *mut JitCtx);
        // SAFETY: the caller's contract; `visa_jit_enter` only saves the
        // callee-saved registers and the stack pointer around the call.
        let kind = unsafe { host::visa_jit_enter(tramp as *const (), ctx as *mut JitCtx as *mut _, entry) };
        host::CURRENT.set(previous);
        kind
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        tramp(ctx, entry)
    }
}

/// The compiled code regions of the process, which the handler looks up
/// before anything else (it may not lock, and until the PC is known to be
/// in compiled code, not even read thread-locals: the oracle's native runs
/// change the thread pointer).
const SLOTS: usize = 4096;
static REGIONS: [[AtomicU64; 2]; SLOTS] = [const { [AtomicU64::new(0), AtomicU64::new(0)] }; SLOTS];

/// A code region the handler knows, while this lives.
pub struct Registered(usize);

/// Makes `[lo, hi)` known as compiled code (`None`: too many regions).
pub fn register(lo: u64, hi: u64) -> Option<Registered> {
    let free = REGIONS.iter().position(|r| r[0].compare_exchange(0, lo, Ordering::SeqCst, Ordering::SeqCst).is_ok())?;
    REGIONS[free][1].store(hi, Ordering::SeqCst);
    Some(Registered(free))
}

impl Drop for Registered {
    fn drop(&mut self) {
        REGIONS[self.0][1].store(0, Ordering::SeqCst);
        REGIONS[self.0][0].store(0, Ordering::SeqCst);
    }
}

/// Is the instruction at `pc` (two bytes) inside a registered region?
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn in_code(pc: u64) -> bool {
    REGIONS.iter().any(|r| {
        let lo = r[0].load(Ordering::SeqCst);
        lo != 0 && pc >= lo && pc.saturating_add(2) <= r[1].load(Ordering::SeqCst)
    })
}

/// For another handler of SIGILL, SIGSEGV or SIGBUS in the process (the
/// oracle's): takes the signal if it is a failed check's trap, or an
/// access's fault in guest memory, in compiled code, making the thread resume at
/// `visa_jit_abort`.
///
/// # Safety
/// `sig`, `info` and `uc` are what the kernel passed to an SA_SIGINFO
/// handler of that signal.
pub unsafe fn claim(sig: i32, info: *mut libc::siginfo_t, uc: *mut std::ffi::c_void) -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        // SAFETY: the caller's contract.
        unsafe { host::claim(sig, info, uc) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        let _ = (sig, info, uc);
        false
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod host {
    use super::JitCtx;
    use std::cell::Cell;
    use std::mem::offset_of;
    use std::sync::OnceLock;

    thread_local! {
        /// The context of this thread's run of compiled code (null outside one).
        pub static CURRENT: Cell<*mut JitCtx> = const { Cell::new(std::ptr::null_mut()) };
    }

    // visa_jit_enter(tramp, ctx, entry): saves the callee-saved registers,
    // records the stack pointer in ctx, and calls tramp(ctx, entry).
    // visa_jit_abort (rdi = ctx): returns EXIT_TRAPPED from visa_jit_enter.
    std::arch::global_asm!(
        ".text",
        ".globl visa_jit_enter",
        ".type visa_jit_enter,@function",
        ".p2align 4",
        "visa_jit_enter:",
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "sub rsp, 8",
        "mov [rsi + {sp}], rsp",
        "mov rax, rdi",
        "mov rdi, rsi",
        "mov rsi, rdx",
        "call rax",
        ".Lvisa_jit_leave:",
        "add rsp, 8",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
        ".size visa_jit_enter, . - visa_jit_enter",
        ".globl visa_jit_abort",
        ".type visa_jit_abort,@function",
        ".p2align 4",
        "visa_jit_abort:",
        "mov rsp, [rdi + {sp}]",
        "mov eax, {trapped}",
        "jmp .Lvisa_jit_leave",
        ".size visa_jit_abort, . - visa_jit_abort",
        sp = const offset_of!(JitCtx, entry_sp),
        trapped = const crate::jit::runtime::EXIT_TRAPPED,
    );

    // SAFETY: the two functions of the assembly above, with these C
    // signatures.
    unsafe extern "C" {
        // Untyped: the context's fields are only Rust's and compiled code's.
        pub fn visa_jit_enter(tramp: *const (), ctx: *mut std::ffi::c_void, entry: *const u8) -> u64;
        fn visa_jit_abort();
    }

    /// The signals the handler takes, and the actions before it, to pass
    /// on what is not ours.
    const SIGNALS: [i32; 3] = [libc::SIGILL, libc::SIGSEGV, libc::SIGBUS];
    static PREVIOUS: OnceLock<[libc::sigaction; 3]> = OnceLock::new();

    pub fn install() {
        PREVIOUS.get_or_init(|| {
            SIGNALS.map(|sig| {
                // SAFETY: a plain SA_SIGINFO handler; the old action is kept.
                // On the thread's alternate stack if it has one (the oracle's
                // native runs have the guest's stack pointer), as the old one.
                unsafe {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = on_signal as *const () as usize;
                    sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                    libc::sigemptyset(&mut sa.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(sig, &sa, &mut old);
                    old
                }
            })
        });
    }

    /// Is the thread in compiled code at a trap instruction (`ud2`, for
    /// SIGILL) or at an access that faulted inside guest memory (SIGSEGV,
    /// SIGBUS)? Then it resumes at `visa_jit_abort`.
    ///
    /// # Safety
    /// What the kernel passed to an SA_SIGINFO handler of `sig`.
    pub unsafe fn claim(sig: i32, info: *mut libc::siginfo_t, uc: *mut std::ffi::c_void) -> bool {
        // SAFETY: the kernel's siginfo and ucontext (the caller's contract);
        // the PC checked to be inside a registered code region, which is
        // mapped, and `ctx` the live context of this thread's run.
        unsafe {
            let uc = &mut *(uc as *mut libc::ucontext_t);
            let g = &mut uc.uc_mcontext.gregs;
            let pc = g[libc::REG_RIP as usize] as u64;
            if !super::in_code(pc) {
                return false;
            }
            let ctx = CURRENT.get();
            if ctx.is_null() {
                return false;
            }
            let ours = match sig {
                libc::SIGILL => *(pc as *const [u8; 2]) == [0x0f, 0x0b],
                _ => {
                    let (at, base) = ((*info).si_addr() as u64, (*ctx).mem_base as u64);
                    at >= base && at - base < (*ctx).mem_size
                }
            };
            if !ours {
                return false;
            }
            g[libc::REG_RIP as usize] = visa_jit_abort as *const () as i64;
            g[libc::REG_RDI as usize] = ctx as i64;
        }
        true
    }

    extern "C" fn on_signal(sig: i32, info: *mut libc::siginfo_t, uc: *mut std::ffi::c_void) {
        // SAFETY: the kernel's arguments to an SA_SIGINFO handler.
        if unsafe { claim(sig, info, uc) } {
            return;
        }
        let Some(previous) = PREVIOUS.get() else { return };
        let Some(old) = SIGNALS.iter().position(|&s| s == sig).map(|i| &previous[i]) else { return };
        // SAFETY: passing the signal on as the previous action would have
        // taken it; with none, the default action (the instruction runs
        // again and the process dies of it).
        unsafe {
            match old.sa_sigaction {
                libc::SIG_DFL | libc::SIG_IGN => {
                    libc::signal(sig, libc::SIG_DFL);
                }
                f if old.sa_flags & libc::SA_SIGINFO != 0 => {
                    let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut std::ffi::c_void) = std::mem::transmute(f);
                    f(sig, info, uc);
                }
                f => {
                    let f: extern "C" fn(i32) = std::mem::transmute(f);
                    f(sig);
                }
            }
        }
    }
}
