//! Children that share the parent's memory without being its threads:
//! clone with CLONE_VM, without CLONE_THREAD. Each is a host process made
//! by the host's clone with CLONE_VM: it shares all of visa's host memory
//! with the parent (guest memory included), runs on a host stack of its
//! own with its own engine and translations, and has its own pid, file
//! descriptor table (unless CLONE_FILES), signal dispositions (unless
//! CLONE_SIGHAND), mask and pending signals, as a forked child. The host's CLONE_VFORK suspends the
//! host thread that made it until it execs or exits, whose thread-local
//! storage the child borrows meanwhile; once it is done that thread drops
//! the child's process, engine and stack.
//!
//! With CLONE_VFORK (vfork, posix_spawn) that thread is the calling one,
//! which is the guest's vfork wait. Host signals other than faults are
//! blocked in such a child until it execs (the new program gets those
//! pending), since visa's record of arrived host signals is its parent's.
//!
//! Without CLONE_VFORK the parent goes on beside the child: a helper host
//! thread with every host signal blocked makes the child, lending it its
//! thread-local storage, and waits for its end; the calling thread waits
//! only for its pid. The child records the host signals that reach its
//! host process in a record of its own, so they are its. Its exit signal
//! (SIGCHLD or another, or none) is the host's, which the parent's visa
//! forwards, and the parent's wait4 is the host's; CLONE_CHILD_CLEARTID is
//! the host's too, so the word is cleared and its waiter woken however the
//! child ends (exit, a signal, execve), as Linux does.

use super::errno::{EAGAIN, Errno, check, last};
use super::process::Process;
use super::signals::{self, HostRecord};
use crate::engine::Engine;

use super::syscall::procs::{
    CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_CLEAR_SIGHAND, CLONE_PARENT_SETTID, CLONE_SIGHAND, CLONE_VFORK,
    CLONE_VM, child_start,
};

const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
pub(in crate::system::linux) const CLONE_PARENT: u64 = 0x8000;
/// The signal the parent gets when the child ends (CSIGNAL).
const EXIT_SIGNAL: u64 = 0xff;

/// The guest's clone flags the host's clone takes as they are: with
/// CLONE_SIGHAND the host's dispositions are shared too, so that the
/// signals visa lets the host ignore for the guest stay the same in both.
const PASSED: u64 = CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_PARENT | EXIT_SIGNAL;

/// Does a clone of these flags (without CLONE_THREAD) make a child on the
/// parent's memory?
pub fn shares_memory(flags: u64) -> bool {
    flags & CLONE_VM != 0
}

/// A child that runs beside its parent: the record of its host signals,
/// and where it tells the parent its pid.
struct Beside {
    record: HostRecord,
    started: std::sync::mpsc::Sender<Result<i32, Errno>>,
}

/// What the child runs with, made by the parent.
struct Child {
    process: Process,
    engine: Engine,
    flags: u64,
    ptid: u64,
    ctid: u64,
    beside: Option<Beside>,
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

/// clone with CLONE_VM (vfork among them): the child's pid, once the child
/// has exec'd or exited with CLONE_VFORK, once it runs without.
pub fn clone_vm(p: &mut Process, [flags, stack, ptid, ctid, tls, _]: [u64; 6]) -> Result<u64, Errno> {
    let (cpu, clear_tid) = child_start(p, flags, stack, ctid, tls);
    let group = p.group.for_vfork_child();
    // Two engines run on one memory now: compiled code fences where the
    // host needs it.
    p.group.translations.going_threaded();
    group.translations.going_threaded();
    if flags & CLONE_VFORK == 0 {
        p.sharing_memory();
        return clone_beside(p, cpu, group, [flags, ptid, ctid]);
    }
    let engine = super::new_engine(&group);
    let mut process = p.vfork_child(cpu, clear_tid, group, flags & CLONE_SIGHAND != 0);
    if flags & CLONE_CLEAR_SIGHAND != 0 {
        process.signals.clear_handlers();
    }
    let mut child = Box::new(Child { process, engine, flags, ptid, ctid, beside: None });
    let host_stack = HostStack::new(super::THREAD_STACK)?;
    let host_flags = CLONE_VM | CLONE_VFORK | (flags & PASSED);
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

/// A CLONE_VM child without CLONE_VFORK: made by a helper host thread,
/// which waits for its end (see the module's documentation).
fn clone_beside(
    p: &mut Process,
    cpu: crate::machine::CpuState,
    group: std::sync::Arc<super::process::Group>,
    [flags, ptid, ctid]: [u64; 3],
) -> Result<u64, Errno> {
    let mut host_flags = CLONE_VM | CLONE_VFORK | (flags & PASSED);
    // The host clears the word at the child's end (0: it has none).
    let mut clear_at = 0usize;
    if flags & CLONE_CHILD_CLEARTID != 0
        && let Ok(word) = super::syscall::misc::futex_word(p, ctid, true)
    {
        host_flags |= CLONE_CHILD_CLEARTID;
        clear_at = word as usize;
    }
    let mut process = p.vfork_child(cpu, 0, group, flags & CLONE_SIGHAND != 0);
    if flags & CLONE_CLEAR_SIGHAND != 0 {
        process.signals.clear_handlers();
    }
    // As Linux: a child on the same memory that does not wait for its
    // parent gets no alternate stack.
    process.signals.altstack_off();
    let (tx, rx) = std::sync::mpsc::channel();
    let helper = std::thread::Builder::new().stack_size(HELPER_STACK).spawn(move || {
        signals::block_host_signals();
        let failed = tx.clone();
        let started = || -> Result<(Box<Child>, HostStack), Errno> {
            let engine = super::new_engine(&process.group);
            let beside = Some(Beside { record: HostRecord::new(), started: tx });
            Ok((Box::new(Child { process, engine, flags, ptid, ctid, beside }), HostStack::new(super::THREAD_STACK)?))
        };
        let (mut child, host_stack) = match started() {
            Ok(made) => made,
            Err(e) => {
                let _ = failed.send(Err(e));
                return;
            }
        };
        // SAFETY: as in `clone_vm`: this thread is suspended until the
        // child has exec'd or exited, and touches nothing of it till then;
        // `clear_at` is the host address of a guest word, or null.
        let pid = unsafe {
            libc::clone(
                run_child,
                host_stack.top(),
                host_flags as i32,
                &mut *child as *mut Child as *mut libc::c_void,
                std::ptr::null_mut::<libc::pid_t>(),
                std::ptr::null_mut::<libc::c_void>(),
                clear_at as *mut libc::pid_t,
            )
        };
        if pid < 0 {
            let _ = failed.send(Err(last()));
        }
    });
    if helper.is_err() {
        return Err(EAGAIN);
    }
    rx.recv().map_err(|_| EAGAIN)?.map(|pid| pid as u64)
}

/// The helper thread's own stack: it only makes the child and waits.
const HELPER_STACK: usize = 256 << 10;

/// The child: its ids written where clone was asked to, then the guest
/// until it exits (the host process ends with its status) or execs.
extern "C" fn run_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `Child`, which nothing else touches
    // while the child runs (see `clone_vm`).
    let child = unsafe { &mut *(arg as *mut Child) };
    match &child.beside {
        Some(beside) => signals::keep_record(&beside.record),
        None => signals::entered_vfork_child(),
    }
    let p = &mut child.process;
    p.group.after_fork();
    let pid = std::process::id();
    if child.flags & CLONE_CHILD_SETTID != 0 {
        let _ = p.write_u32(child.ctid, pid);
    }
    if child.flags & CLONE_PARENT_SETTID != 0 {
        let _ = p.write_u32(child.ptid, pid);
    }
    // Both ids are written before the parent's clone returns, as on Linux.
    if let Some(beside) = &child.beside {
        let _ = beside.started.send(Ok(pid as i32));
    }
    let status = super::run_thread(p, &mut child.engine).unwrap_or(0);
    if let Err(e) = super::finish(&mut child.engine, &p.mem, &p.group) {
        eprintln!("visa: {e}");
    }
    // SAFETY: ends this host process (the child) without running anything
    // that would touch the memory it shares with the parent.
    unsafe { libc::_exit(status) }
}
