//! vfork and clone with CLONE_VM | CLONE_VFORK (what posix_spawn passes):
//! the child shares the parent's memory, as on Linux, and the calling
//! thread waits until the child execs or exits. The child is a host
//! process made by the host's clone with the same two flags: it shares all
//! of visa's host memory with the parent (guest memory included), runs on a
//! host stack of its own with its own engine and translations, and the
//! host suspends the calling thread in clone until the child execs or
//! exits, which is the guest's vfork wait. The child's pid, file descriptor
//! table (unless CLONE_FILES), signal dispositions, mask and pending
//! signals are its own, as for a forked child.
//!
//! The child borrows the calling host thread's thread-local storage (that
//! thread is suspended meanwhile) and never frees what it uses: when the
//! host clone returns, the child has exec'd or exited, and the parent
//! drops the child's process, engine and stack. Host signals other than
//! faults are blocked in the child until it execs (the new program gets
//! those pending), since visa's record of arrived host signals is in the
//! memory parent and child share.

use super::errno::{EAGAIN, Errno, check};
use super::process::Process;
use super::signals;
use crate::engine::Engine;

use super::syscall::procs::{CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_VFORK, CLONE_VM, child_start};

const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
/// The signal the parent gets when the child ends (CSIGNAL).
const EXIT_SIGNAL: u64 = 0xff;

/// Does a clone of these flags (without CLONE_THREAD) share memory with a
/// waiting parent?
pub fn is_vfork(flags: u64) -> bool {
    flags & (CLONE_VM | CLONE_VFORK) == CLONE_VM | CLONE_VFORK
}

/// What the child runs with, made by the parent.
struct Child {
    process: Process,
    engine: Engine,
    flags: u64,
    ptid: u64,
    ctid: u64,
}

/// The child's host stack (a private mapping of ours).
struct HostStack {
    base: *mut libc::c_void,
    size: usize,
}

impl HostStack {
    fn new(size: usize) -> Result<HostStack, Errno> {
        // SAFETY: a fresh private anonymous mapping of ours.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(EAGAIN);
        }
        Ok(HostStack { base, size })
    }

    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of our mapping, where a stack starts.
        unsafe { (self.base as *mut u8).add(self.size) as *mut libc::c_void }
    }
}

impl Drop for HostStack {
    fn drop(&mut self) {
        // SAFETY: our own mapping, which the child (exec'd or exited) no
        // longer runs on.
        unsafe { libc::munmap(self.base, self.size) };
    }
}

/// vfork, and clone with CLONE_VM | CLONE_VFORK: the child's pid once the
/// child has exec'd or exited.
pub fn clone_vfork(p: &mut Process, [flags, stack, ptid, ctid, tls, _]: [u64; 6]) -> Result<u64, Errno> {
    let (cpu, clear_tid) = child_start(p, flags, stack, ctid, tls);
    let group = p.group.for_vfork_child();
    // Two engines run on one memory now: compiled code fences where the
    // host needs it.
    p.group.translations.going_threaded();
    group.translations.going_threaded();
    let engine = super::new_engine(&group);
    let process = p.vfork_child(cpu, clear_tid, group);
    let mut child = Box::new(Child { process, engine, flags, ptid, ctid });
    let host_stack = HostStack::new(super::THREAD_STACK)?;
    let host_flags = CLONE_VM | CLONE_VFORK | (flags & (CLONE_FS | CLONE_FILES | EXIT_SIGNAL));
    // SAFETY: `run_child` runs on `host_stack`, ours, with `child`, which
    // this thread does not touch until clone returns: the host suspends it
    // until the child has exec'd or exited, after which nothing of the
    // child runs on either.
    let pid = unsafe {
        libc::clone(run_child, host_stack.top(), host_flags as i32, &mut *child as *mut Child as *mut libc::c_void)
    };
    signals::left_vfork_child();
    drop(child);
    drop(host_stack);
    check(pid as i64)
}

/// The child: its ids written where clone was asked to, then the guest
/// until it exits (the host process ends with its status) or execs.
extern "C" fn run_child(arg: *mut libc::c_void) -> libc::c_int {
    signals::entered_vfork_child();
    // SAFETY: `arg` is the parent's `Child`, which nothing else touches
    // while the child runs (see `clone_vfork`).
    let child = unsafe { &mut *(arg as *mut Child) };
    let p = &mut child.process;
    p.group.after_fork();
    let pid = std::process::id();
    if child.flags & CLONE_CHILD_SETTID != 0 {
        let _ = p.write_u32(child.ctid, pid);
    }
    if child.flags & CLONE_PARENT_SETTID != 0 {
        let _ = p.write_u32(child.ptid, pid);
    }
    let status = super::run_thread(p, &mut child.engine).unwrap_or(0);
    if let Err(e) = super::finish(&child.engine, &p.group) {
        eprintln!("visa: {e}");
    }
    // SAFETY: ends this host process (the child) without running anything
    // that would touch the memory it shares with the parent.
    unsafe { libc::_exit(status) }
}
