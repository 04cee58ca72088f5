//! clone3: the guest's `struct clone_args` read and checked as Linux does
//! (each version's size, unknown trailing bytes, the flags only clone3
//! has, exit_signal, the stack as a base and size, set_tid), then carried
//! out by clone's implementation with the arguments of the clone it
//! amounts to.

use super::super::errno::{E2BIG, EINVAL, EPERM, Errno};
use super::super::process::{Process, access_ok};
use super::super::vfork::CLONE_PARENT;
use super::procs::{CLONE_CLEAR_SIGHAND, CLONE_SIGHAND, CLONE_THREAD, check_flags, clone};

/// The first struct clone_args (flags to tls), and the largest Linux
/// knows (set_tid and set_tid_size, then cgroup).
const SIZE_VER0: usize = 64;
const SIZE_VER2: usize = 88;
/// clone3 reads no more than a page of arguments.
const MAX_SIZE: u64 = 4096;

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 1 << 33;
const CLONE_NEWTIME: u64 = 0x80;
const CLONE_DETACHED: u64 = 0x40_0000;
/// The exit signal's byte of clone's flags.
const CSIGNAL: u64 = 0xff;
/// The flags clone has, and clone3's own.
const KNOWN: u64 = 0xffff_ffff | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP;
/// Pid namespaces set_tid may name (MAX_PID_NS_LEVEL).
const MAX_PID_NS_LEVEL: u64 = 32;
const NSIG: u64 = 64;

/// struct clone_args, fields in order, as Linux sees them (missing
/// trailing fields are zero).
struct Args {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3(args, size).
pub fn clone3(p: &mut Process, [at, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    let a = read_args(p, at, size)?;
    let set_tid = match a.set_tid {
        0 => Vec::new(),
        at => p.read(at, a.set_tid_size as usize * 4)?,
    };
    check_args(&a)?;
    check_flags(a.flags)?;
    if !set_tid.is_empty() {
        return Err(refuse_set_tid(&set_tid));
    }
    let stack = if a.stack == 0 { 0 } else { a.stack + a.stack_size };
    let pid = clone(p, [a.flags | a.exit_signal, stack, a.parent_tid, a.child_tid, a.tls, 0])?;
    if a.flags & CLONE_PIDFD != 0 && pid != 0 {
        // SAFETY: pidfd_open takes integers only.
        let fd = super::super::errno::check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid as i32, 0) })?;
        p.write_u32(a.pidfd, fd as u32)?;
    }
    Ok(pid)
}

/// copy_clone_args_from_user: the size, the bytes past what Linux knows
/// (zero, or E2BIG), the fields, and the checks on them alone.
fn read_args(p: &Process, at: u64, size: u64) -> Result<Args, Errno> {
    if size > MAX_SIZE {
        return Err(E2BIG);
    }
    let size = size as usize;
    if size < SIZE_VER0 {
        return Err(EINVAL);
    }
    if size > SIZE_VER2 && p.read(at.wrapping_add(SIZE_VER2 as u64), size - SIZE_VER2)?.iter().any(|&b| b != 0) {
        return Err(E2BIG);
    }
    let mut bytes = [0u8; SIZE_VER2];
    let known = size.min(SIZE_VER2);
    bytes[..known].copy_from_slice(&p.read(at, known)?);
    let f = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let a = Args {
        flags: f(0),
        pidfd: f(1),
        child_tid: f(2),
        parent_tid: f(3),
        exit_signal: f(4),
        stack: f(5),
        stack_size: f(6),
        tls: f(7),
        set_tid: f(8),
        set_tid_size: f(9),
        cgroup: f(10),
    };
    let bad_set_tid = a.set_tid_size > MAX_PID_NS_LEVEL || (a.set_tid == 0) != (a.set_tid_size == 0);
    let bad_signal = a.exit_signal & !CSIGNAL != 0 || a.exit_signal > NSIG;
    let bad_cgroup = a.flags & CLONE_INTO_CGROUP != 0 && (a.cgroup > i32::MAX as u64 || size < SIZE_VER2);
    if bad_set_tid || bad_signal || bad_cgroup {
        return Err(EINVAL);
    }
    Ok(a)
}

/// clone3_args_valid: flags clone3 does not take or that contradict each
/// other, an exit signal for a thread or a sibling, a stack without a
/// size (or the reverse) or outside user space; and what visa cannot do.
fn check_args(a: &Args) -> Result<(), Errno> {
    let unknown = a.flags & !KNOWN != 0 || a.flags & (CLONE_DETACHED | (CSIGNAL & !CLONE_NEWTIME)) != 0;
    let both_sighand = a.flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND) == CLONE_SIGHAND | CLONE_CLEAR_SIGHAND;
    let signal_for_thread = a.flags & (CLONE_THREAD | CLONE_PARENT) != 0 && a.exit_signal != 0;
    let bad_stack = match a.stack {
        0 => a.stack_size != 0,
        base => a.stack_size == 0 || !access_ok(base, a.stack_size),
    };
    if unknown || both_sighand || signal_for_thread || bad_stack {
        return Err(EINVAL);
    }
    // Not done by visa: a time namespace (the host's fork makes none), a
    // child put in a cgroup, a pidfd for a thread.
    if a.flags & (CLONE_NEWTIME | CLONE_INTO_CGROUP) != 0
        || a.flags & (CLONE_PIDFD | CLONE_THREAD) == CLONE_PIDFD | CLONE_THREAD
    {
        return Err(EINVAL);
    }
    Ok(())
}

/// set_tid, as a process without privileges gets it: EINVAL for more pids
/// than the namespaces visa's process is in (NSpid's count) or a first pid
/// out of range, else EPERM (choosing a pid takes CAP_CHECKPOINT_RESTORE,
/// and visa makes its children by the host's fork, which cannot).
fn refuse_set_tid(set_tid: &[u8]) -> Errno {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let levels = status.lines().find_map(|l| l.strip_prefix("NSpid:")).map_or(1, |l| l.split_whitespace().count());
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .unwrap_or(1 << 22);
    let tid = i32::from_le_bytes(set_tid[..4].try_into().expect("4 bytes"));
    if set_tid.len() / 4 > levels || tid < 1 || tid >= pid_max { EINVAL } else { EPERM }
}
