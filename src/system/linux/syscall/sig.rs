//! Signal system calls: dispositions, the mask, the alternate stack,
//! waiting (pause, rt_sigsuspend, rt_sigtimedwait), sending (kill, tkill, tgkill and the
//! sigqueueinfo calls: to the guest itself they are queued, for the process
//! or the thread named, to others they go to the host), and the interval
//! timers whose SIGALRM the host forwards.

use super::super::errno::{EAGAIN, EINTR, EINVAL, Errno, check};
use super::super::process::Process;
use super::super::signals::{self, NSIG, SI_TKILL, SI_USER, SigAction, SigInfo, UNBLOCKABLE};
use super::deadline::Deadline;
use super::host::int_call;
use super::misc::read_timespec;
use super::{Arg, Entry};

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (13, "rt_sigaction", &[Int, Hex, Hex, Int], rt_sigaction),
    (14, "rt_sigprocmask", &[Int, Hex, Hex, Int], rt_sigprocmask),
    (15, "rt_sigreturn", &[], |p, _| signals::sigreturn(p).map(|()| 0)),
    (34, "pause", &[], |p, _| suspend(p, p.signals.mask)),
    (36, "getitimer", &[Int, Hex], |p, a| itimer(p, a[0], 0, a[1])),
    (37, "alarm", &[Int], |_, a| Ok(int_call!(libc::alarm(a[0] as u32)) as u64)),
    (38, "setitimer", &[Int, Hex, Hex], |p, a| itimer(p, a[0], a[1], a[2])),
    (62, "kill", &[Int, Int], kill),
    (127, "rt_sigpending", &[Hex, Int], rt_sigpending),
    (130, "rt_sigsuspend", &[Hex, Int], |p, a| {
        sigset_size(a[1])?;
        let mask = p.read_u64(a[0])?;
        suspend(p, mask)
    }),
    (128, "rt_sigtimedwait", &[Hex, Hex, Hex, Int], sigtimedwait),
    (129, "rt_sigqueueinfo", &[Int, Int, Hex], |p, a| sigqueueinfo(p, a[0], None, a[1], a[2])),
    (131, "sigaltstack", &[Hex, Hex], |p, a| signals::set_altstack(p, a[0], a[1])),
    (200, "tkill", &[Int, Int], |p, a| tgkill(p, [0, a[0], a[1], 0, 0, 0])),
    (234, "tgkill", &[Int, Int, Int], tgkill),
    (297, "rt_tgsigqueueinfo", &[Int, Int, Int, Hex], |p, a| sigqueueinfo(p, a[0], Some(a[1]), a[2], a[3])),
];

fn sigset_size(size: u64) -> Result<(), Errno> {
    if size == 8 { Ok(()) } else { Err(EINVAL) }
}

fn valid_signal(sig: u64) -> Result<i32, Errno> {
    if sig <= NSIG as u64 { Ok(sig as i32) } else { Err(EINVAL) }
}

fn rt_sigaction(p: &mut Process, [sig, new, old, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    sigset_size(size)?;
    let new = if new != 0 {
        let b = p.read(new, 32)?;
        let word = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap());
        Some(SigAction { handler: word(0), flags: word(1), restorer: word(2), mask: word(3) & !UNBLOCKABLE })
    } else {
        None
    };
    let prev = p.signals.set_action(sig as i32, new)?;
    if old != 0 {
        let words = [prev.handler, prev.flags, prev.restorer, prev.mask];
        p.write(old, &words.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>())?;
    }
    Ok(0)
}

const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;

fn rt_sigprocmask(p: &mut Process, [how, set, old, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    sigset_size(size)?;
    let prev = p.signals.mask;
    if set != 0 {
        let s = p.read_u64(set)?;
        p.signals.mask = match how {
            SIG_BLOCK => prev | s,
            SIG_UNBLOCK => prev & !s,
            SIG_SETMASK => s,
            _ => return Err(EINVAL),
        } & !UNBLOCKABLE;
    }
    if old != 0 {
        p.write_u64(old, prev)?;
    }
    Ok(0)
}

fn rt_sigpending(p: &mut Process, [set, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    if size > 8 {
        return Err(EINVAL);
    }
    signals::collect_host_signals(&mut p.signals);
    p.write(set, &p.signals.pending().to_le_bytes()[..size as usize])?;
    Ok(0)
}

/// pause and rt_sigsuspend: wait under `mask` until a signal that runs a
/// handler or ends the process arrives. The handler then runs with the
/// old mask saved in its frame.
fn suspend(p: &mut Process, mask: u64) -> Result<u64, Errno> {
    let old = p.signals.mask;
    p.signals.mask = mask & !UNBLOCKABLE;
    loop {
        signals::collect_host_signals(&mut p.signals);
        if p.signals.drop_ignored() {
            break;
        }
        signals::wait_for_host_signal(&p.signals, 0, None);
    }
    p.signals.saved_mask = Some(old);
    Err(EINTR)
}

/// rt_sigtimedwait (sigwaitinfo, sigtimedwait, sigwait): takes a pending
/// signal of the set (the thread's own first, then the process's),
/// waiting for one until the timeout if none is; its siginfo is written
/// where asked. A signal for a handler that comes while it waits ends it
/// with EINTR (never restarted); the timeout passing, with EAGAIN.
fn sigtimedwait(p: &mut Process, [set_at, info_at, timeout_at, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    sigset_size(size)?;
    let set = p.read_u64(set_at)? & !UNBLOCKABLE;
    let timeout = if timeout_at != 0 { Some(read_timespec(p, timeout_at)?) } else { None };
    let deadline = Deadline::after_timespec(timeout)?;
    loop {
        signals::collect_host_signals(&mut p.signals);
        if let Some(info) = p.signals.take_in(set) {
            if info_at != 0 {
                p.write(info_at, &info.bytes())?;
            }
            return Ok(info.signo as u64);
        }
        if deadline.passed() {
            return Err(EAGAIN);
        }
        if signals::interrupts(&mut p.signals) {
            return Err(EINTR);
        }
        signals::wait_for_host_signal(&p.signals, set, deadline.left_timespec());
    }
}

/// The signal mask argument of ppoll, pselect6 and epoll_pwait: the
/// sigset at `at` (none when null), which must be the guest's size.
pub(super) fn mask_arg(p: &Process, at: u64, size: u64) -> Result<Option<u64>, Errno> {
    if at == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(EINVAL);
    }
    Ok(Some(p.read_u64(at)?))
}

/// Runs a wait with `mask` (if given) as the thread's signal mask, as
/// ppoll, pselect6 and epoll_pwait do: a signal the mask lets through
/// interrupts it (at once if one is already pending), and its handler runs
/// under that mask, the old one restored when the handler returns; on any
/// other end the old mask is back at once.
pub(super) fn with_mask(
    p: &mut Process,
    mask: Option<u64>,
    wait: impl FnOnce(&mut Process) -> Result<u64, Errno>,
) -> Result<u64, Errno> {
    let Some(mask) = mask else { return wait(p) };
    let old = p.signals.mask;
    p.signals.mask = mask & !UNBLOCKABLE;
    let result = if signals::interrupts(&mut p.signals) { Err(EINTR) } else { wait(p) };
    if result == Err(EINTR) {
        p.signals.saved_mask = Some(old);
    } else {
        p.signals.mask = old;
    }
    result
}

/// What a signal sent by the guest itself carries.
fn own_info(sig: i32, code: i32) -> SigInfo {
    SigInfo { signo: sig, code, pid: std::process::id() as i32, uid: int_call!(libc::getuid()), ..SigInfo::default() }
}

fn kill(p: &mut Process, [pid, sig, ..]: [u64; 6]) -> Result<u64, Errno> {
    let sig = valid_signal(sig)?;
    if pid as i32 == std::process::id() as i32 {
        if sig != 0 {
            p.signals.raise_process(own_info(sig, SI_USER));
        }
        return Ok(0);
    }
    check(int_call!(libc::kill(pid as i32, sig)) as i64)
}

/// tkill (`tgid` 0) and tgkill: to a thread of the guest's own, queued for
/// it (and it is woken); to another process's, sent by the host.
fn tgkill(p: &mut Process, [tgid, tid, sig, ..]: [u64; 6]) -> Result<u64, Errno> {
    let sig = valid_signal(sig)?;
    let me = std::process::id() as i32;
    let info = own_info(sig, SI_TKILL);
    if (tgid == 0 || tgid as i32 == me) && p.signals.raise_thread(tid as i32, info) {
        return Ok(0);
    }
    if tgid == 0 {
        // SAFETY: tkill takes integers only.
        return check(unsafe { libc::syscall(libc::SYS_tkill, tid as i32, sig) });
    }
    // SAFETY: tgkill takes integers only.
    check(unsafe { libc::syscall(libc::SYS_tgkill, tgid as i32, tid as i32, sig) })
}

/// rt_sigqueueinfo and rt_tgsigqueueinfo: a signal with the sender's
/// siginfo (one layout on every 64-bit Linux). To the guest itself it is
/// queued; to another process the host sends it.
fn sigqueueinfo(p: &mut Process, tgid: u64, tid: Option<u64>, sig: u64, at: u64) -> Result<u64, Errno> {
    let sig = valid_signal(sig)?;
    let raw = p.read(at, 128)?;
    let me = std::process::id() as i32;
    let ours = tgid as i32 == me && tid.is_none_or(|t| p.signals.has_thread(t as i32));
    if ours {
        let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().unwrap());
        let info = SigInfo {
            signo: sig,
            code: word(8) as u32 as i32,
            pid: word(16) as u32 as i32,
            uid: (word(16) >> 32) as u32,
            value: word(24),
            ..SigInfo::default()
        };
        match tid {
            _ if sig == 0 => {}
            Some(t) => _ = p.signals.raise_thread(t as i32, info),
            None => p.signals.raise_process(info),
        }
        return Ok(0);
    }
    // SAFETY: `raw` is a buffer of ours of 128 bytes, the size of a
    // siginfo, which the host reads; the other arguments are integers.
    check(match tid {
        None => unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, tgid as i32, sig, raw.as_ptr()) },
        // SAFETY: as above.
        Some(t) => unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, tgid as i32, t as i32, sig, raw.as_ptr()) },
    })
}

const _: () = assert!(std::mem::size_of::<libc::siginfo_t>() == 128);
/// A guest `struct itimerval` (four little-endian i64s: interval, value)
/// as the host's.
fn read_itimerval(p: &Process, at: u64) -> Result<libc::itimerval, Errno> {
    let b = p.read(at, 32)?;
    let w = |i: usize| i64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    let tv = |s: i64, us: i64| libc::timeval { tv_sec: s as _, tv_usec: us as _ };
    Ok(libc::itimerval { it_interval: tv(w(0), w(1)), it_value: tv(w(2), w(3)) })
}

/// getitimer and setitimer: the host's timer raises the SIGALRM the guest
/// sees; the structures are converted field by field (the host's byte
/// order may differ).
fn itimer(p: &mut Process, which: u64, new: u64, old: u64) -> Result<u64, Errno> {
    let zero = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut prev = libc::itimerval { it_interval: zero, it_value: zero };
    if new != 0 {
        let value = read_itimerval(p, new)?;
        // SAFETY: `value` and `prev` are host itimervals of ours (read and
        // filled).
        check(unsafe { libc::syscall(libc::SYS_setitimer, which as i32, &value, &mut prev) })?;
    } else {
        // SAFETY: `prev` is a host itimerval of ours, which the host fills.
        check(unsafe { libc::syscall(libc::SYS_getitimer, which as i32, &mut prev) })?;
    }
    #[allow(clippy::unnecessary_cast)]
    let prev: Vec<u8> = [prev.it_interval, prev.it_value]
        .iter()
        .flat_map(|t| [t.tv_sec as i64, t.tv_usec as i64])
        .flat_map(|w| w.to_le_bytes())
        .collect();
    if old != 0 {
        p.write(old, &prev)?;
    }
    Ok(0)
}
