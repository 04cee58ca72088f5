//! Instruction-cache coherence: what the host needs between writing code
//! and running it. x86-64 and s390x fetch instructions coherently with
//! stores (nothing to do). aarch64 cleans the written lines of the data
//! cache to the point of unification, invalidates them in the instruction
//! cache, and waits for both (`dc cvau`, `dsb ish`, `ic ivau`, `dsb ish`,
//! `isb`), skipping what CTR_EL0 says the core does not need. riscv64 asks
//! the kernel (`riscv_flush_icache`), which reaches every hart.
//!
//! The invalidations are broadcast to every core, and a thread that moves
//! to another core passes through the kernel, which synchronises its
//! instruction stream. A thread that runs code another thread wrote (the
//! compiler thread, another guest thread's engine) synchronises its own
//! instruction stream first ([`sync_this_thread`]: `isb` on aarch64).

use std::io;

/// Makes the `len` bytes just written at `written` fetchable as
/// instructions at `exec`: the same memory, seen through the writable and
/// the executable view (the same address when there is one view).
///
/// # Safety
/// Both ranges must be mapped and readable.
#[allow(unused_variables)]
pub unsafe fn sync(written: *const u8, exec: *const u8, len: usize) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the caller's contract.
    unsafe {
        aarch64::sync(written as usize, exec as usize, len)
    };
    #[cfg(target_arch = "riscv64")]
    riscv64::sync(exec as usize, len)?;
    Ok(())
}

/// Makes code that another thread wrote and made coherent (`sync`)
/// fetchable by this thread.
#[inline]
pub fn sync_this_thread() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: an instruction synchronisation barrier.
    unsafe {
        std::arch::asm!("isb", options(nostack, preserves_flags))
    };
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use std::arch::asm;

    /// CTR_EL0, which Linux lets user space read: IminLine (bits 0-3) and
    /// DminLine (16-19) as log2 of words, IDC (28): no data cache clean is
    /// needed, DIC (29): no instruction cache invalidation is needed.
    fn cache_type() -> u64 {
        let ctr: u64;
        // SAFETY: reads a register; no memory is touched.
        unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        ctr
    }

    /// The lines of `[start, start + len)`, `line` bytes each.
    fn lines(start: usize, len: usize, line: usize) -> impl Iterator<Item = usize> {
        (start & !(line - 1)..start + len).step_by(line)
    }

    /// # Safety
    /// Both ranges must be mapped and readable (a maintenance operation on
    /// an unmapped address faults).
    pub unsafe fn sync(written: usize, exec: usize, len: usize) {
        let ctr = cache_type();
        if ctr >> 28 & 1 == 0 {
            let dline = 4 << (ctr >> 16 & 15);
            for at in lines(written, len, dline) {
                // SAFETY: `at` lies on a line of the mapped written range.
                unsafe { asm!("dc cvau, {}", in(reg) at, options(nostack, preserves_flags)) };
            }
        }
        // SAFETY: a barrier.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
        if ctr >> 29 & 1 == 0 {
            let iline = 4 << (ctr & 15);
            for at in lines(exec, len, iline) {
                // SAFETY: `at` lies on a line of the mapped executable range.
                unsafe { asm!("ic ivau, {}", in(reg) at, options(nostack, preserves_flags)) };
            }
            // SAFETY: a barrier.
            unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
        }
        // SAFETY: an instruction synchronisation barrier.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
    }
}

#[cfg(target_arch = "riscv64")]
mod riscv64 {
    /// `__NR_riscv_flush_icache` (the architecture's syscall base 244 + 15).
    const RISCV_FLUSH_ICACHE: libc::c_long = 259;

    /// Flags 0: every hart, not only the caller's.
    pub fn sync(exec: usize, len: usize) -> std::io::Result<()> {
        // SAFETY: the kernel reads only the three integers.
        let r = unsafe { libc::syscall(RISCV_FLUSH_ICACHE, exec, exec + len, 0 as libc::c_ulong) };
        if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    }
}
