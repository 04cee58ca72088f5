//! Event descriptors and timers: epoll, eventfd, timerfd and POSIX timers.
//! They are host kernel objects (the guest's descriptors and timer ids are
//! the host's); what differs is converted: `struct epoll_event` is packed
//! to 12 bytes on x86-64 and 16 bytes on other hosts, and every guest word
//! is little-endian. A timer's signal reaches the guest as host signals do
//! (see `signals`). The waits go on through host interruptions the guest
//! does not see, as poll's do. signalfd, which is visa's own, is in
//! `signalfd`.

use std::time::Duration;

use super::super::errno::{EFAULT, EINTR, EINVAL, Errno, check, last};
use super::super::process::{Process, access_ok};
use super::super::signals;
use super::deadline::Deadline;
use super::fs::host_open_flags;
use super::host::int_call;
use super::misc::{read_timespec, write_timespec};
use super::{Arg, Entry};
use crate::machine::PERM_W;

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (213, "epoll_create", &[Int], |_, a| if a[0] as i32 <= 0 { Err(EINVAL) } else { epoll_create1(0) }),
    (291, "epoll_create1", &[Hex], |_, a| epoll_create1(a[0])),
    (233, "epoll_ctl", &[Int, Int, Int, Hex], epoll_ctl),
    (232, "epoll_wait", &[Int, Hex, Int, Int], |p, a| epoll_wait(p, a, ms_timeout(a[3]))),
    (281, "epoll_pwait", &[Int, Hex, Int, Int, Hex, Int], |p, a| {
        let mask = super::sig::mask_arg(p, a[4], a[5])?;
        super::sig::with_mask(p, mask, |p| epoll_wait(p, a, ms_timeout(a[3])))
    }),
    (441, "epoll_pwait2", &[Int, Hex, Int, Hex, Hex, Int], |p, a| {
        let timeout = if a[3] != 0 { Some(duration(read_timespec(p, a[3])?)?) } else { None };
        let mask = super::sig::mask_arg(p, a[4], a[5])?;
        super::sig::with_mask(p, mask, |p| epoll_wait(p, a, timeout))
    }),
    (284, "eventfd", &[Int], |_, a| eventfd2(a[0], 0)),
    (290, "eventfd2", &[Int, Hex], |_, a| eventfd2(a[0], a[1])),
    (283, "timerfd_create", &[Int, Hex], timerfd_create),
    (286, "timerfd_settime", &[Int, Hex, Hex, Hex], |p, a| settime(p, libc::SYS_timerfd_settime, a, EFAULT)),
    (287, "timerfd_gettime", &[Int, Hex], |p, a| gettime(p, libc::SYS_timerfd_gettime, a)),
    (222, "timer_create", &[Int, Hex, Hex], timer_create),
    (223, "timer_settime", &[Int, Hex, Hex, Hex], |p, a| settime(p, libc::SYS_timer_settime, a, EINVAL)),
    (224, "timer_gettime", &[Int, Hex], |p, a| gettime(p, libc::SYS_timer_gettime, a)),
    (225, "timer_getoverrun", &[Int], |_, a| {
        // SAFETY: timer_getoverrun takes an integer timer id.
        check(unsafe { libc::syscall(libc::SYS_timer_getoverrun, a[0] as i32) })
    }),
    (226, "timer_delete", &[Int], |_, a| {
        // SAFETY: timer_delete takes an integer timer id.
        check(unsafe { libc::syscall(libc::SYS_timer_delete, a[0] as i32) })
    }),
];

/// The open-flag bits (O_CLOEXEC, O_NONBLOCK on x86-64) that the create
/// calls take as flags: EPOLL_CLOEXEC, EFD_*, TFD_*.
const CLOEXEC: u64 = 0o2000000;
const NONBLOCK: u64 = 0o4000;
const EFD_SEMAPHORE: u64 = 1;

/// The descriptor-creating calls take these flags only (EINVAL otherwise),
/// the open-flag bits translated to the host's.
fn create_flags(flags: u64, allowed: u64) -> Result<i32, Errno> {
    if flags & !allowed != 0 {
        return Err(EINVAL);
    }
    Ok(host_open_flags(flags & (CLOEXEC | NONBLOCK)) | (flags & EFD_SEMAPHORE & allowed) as i32)
}

fn epoll_create1(flags: u64) -> Result<u64, Errno> {
    let flags = create_flags(flags as u32 as u64, CLOEXEC)?;
    // SAFETY: epoll_create1 takes integer flags.
    check(unsafe { libc::epoll_create1(flags) } as i64)
}

fn eventfd2(count: u64, flags: u64) -> Result<u64, Errno> {
    let flags = create_flags(flags as u32 as u64, CLOEXEC | NONBLOCK | EFD_SEMAPHORE)?;
    // SAFETY: eventfd takes an integer count and flags.
    check(unsafe { libc::eventfd(count as u32, flags) } as i64)
}

fn timerfd_create(_: &mut Process, [clock, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let flags = create_flags(flags as u32 as u64, CLOEXEC | NONBLOCK)?;
    // SAFETY: timerfd_create takes an integer clock id and flags.
    check(unsafe { libc::timerfd_create(clock as i32, flags) } as i64)
}

/// A guest `struct epoll_event`: u32 events, u64 data, packed.
const GUEST_EVENT: usize = 12;

/// The most events one host wait collects (fewer than asked is allowed).
const MAX_BATCH: usize = 1024;

const EPOLL_CTL_DEL: u64 = 2;

fn epoll_ctl(p: &mut Process, [epfd, op, fd, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // Every op but EPOLL_CTL_DEL reads an event (EFAULT first, as Linux).
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    if op as i32 as u64 != EPOLL_CTL_DEL {
        let b = p.read(at, GUEST_EVENT)?;
        event.events = u32::from_le_bytes(b[0..4].try_into().unwrap());
        event.u64 = u64::from_le_bytes(b[4..12].try_into().unwrap());
    }
    // SAFETY: `event` is a host epoll_event of ours the host reads.
    check(unsafe { libc::epoll_ctl(epfd as i32, op as i32, fd as i32, &mut event) } as i64)
}

/// epoll_wait's timeout in milliseconds (negative: none).
fn ms_timeout(ms: u64) -> Option<Duration> {
    let ms = ms as i32;
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

fn duration(t: libc::timespec) -> Result<Duration, Errno> {
    if t.tv_sec < 0 {
        return Err(EINVAL);
    }
    Ok(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

/// The epoll waits: events converted to the guest's packed layout.
fn epoll_wait(p: &mut Process, [epfd, at, max, ..]: [u64; 6], timeout: Option<Duration>) -> Result<u64, Errno> {
    let max = max as i32;
    if max <= 0 || max as usize > i32::MAX as usize / GUEST_EVENT {
        return Err(EINVAL);
    }
    if !access_ok(at, max as u64 * GUEST_EVENT as u64) {
        return Err(EFAULT);
    }
    // Linux hands out only events it can copy, putting the rest back: so
    // the host is asked for no more than the guest can take. With no room
    // at all, Linux still waits, and fails with EFAULT when an event comes:
    // the epoll descriptor is then polled, which takes no event.
    let room = p.accessible(at, max as u64 * GUEST_EVENT as u64, PERM_W) as usize / GUEST_EVENT;
    let mut host = vec![libc::epoll_event { events: 0, u64: 0 }; room.min(MAX_BATCH)];
    let mut ready = libc::pollfd { fd: epfd as i32, events: libc::POLLIN, revents: 0 };
    // A timeout too far to be a time is none.
    let deadline = Deadline::after(timeout);
    let n = loop {
        let ms = deadline.left_ms();
        let r = signals::wait_unless_signalled(&p.signals, |mask| {
            let left = deadline.left_timespec();
            let tp = left.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: `host` is our vector of `host.len()` host epoll_events;
            // `ready` is our one pollfd; `tp` is null or our `left`; `mask`
            // is the caller's sigset.
            unsafe {
                if host.is_empty() {
                    libc::ppoll(&mut ready, 1, tp, mask) as i64
                } else {
                    libc::epoll_pwait(epfd as i32, host.as_mut_ptr(), host.len() as i32, ms, mask) as i64
                }
            }
        });
        if r >= 0 || last() != EINTR || signals::interrupts(&mut p.signals) {
            break check(r)? as usize;
        }
    };
    if host.is_empty() && n > 0 {
        return Err(EFAULT);
    }
    let mut out = Vec::with_capacity(n * GUEST_EVENT);
    for e in &host[..n] {
        // Copies: the host's epoll_event may be packed.
        let (events, data) = (e.events, e.u64);
        out.extend_from_slice(&events.to_le_bytes());
        out.extend_from_slice(&data.to_le_bytes());
    }
    p.write(at, &out)?;
    Ok(n as u64)
}

/// Reads a guest `struct itimerspec` (interval, then value).
fn read_itimerspec(p: &Process, at: u64) -> Result<libc::itimerspec, Errno> {
    Ok(libc::itimerspec { it_interval: read_timespec(p, at)?, it_value: read_timespec(p, at + 16)? })
}

fn write_itimerspec(p: &mut Process, at: u64, t: &libc::itimerspec) -> Result<(), Errno> {
    write_timespec(p, at, &t.it_interval)?;
    write_timespec(p, at + 16, &t.it_value)
}

fn zero_itimerspec() -> libc::itimerspec {
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    libc::itimerspec { it_interval: zero, it_value: zero }
}

/// timerfd_settime and timer_settime (`nr`, the host's): a missing new
/// setting is `missing`; the old one is written back when asked.
fn settime(
    p: &mut Process,
    nr: libc::c_long,
    [id, flags, new, old, ..]: [u64; 6],
    missing: Errno,
) -> Result<u64, Errno> {
    if new == 0 {
        return Err(missing);
    }
    let value = read_itimerspec(p, new)?;
    let mut prev = zero_itimerspec();
    // SAFETY: `value` and `prev` are host itimerspecs of ours, read and
    // filled; the id and flags are integers.
    check(unsafe { libc::syscall(nr, id as i32, flags as i32, &value, &mut prev) })?;
    if old != 0 {
        write_itimerspec(p, old, &prev)?;
    }
    Ok(0)
}

/// timerfd_gettime and timer_gettime (`nr`, the host's).
fn gettime(p: &mut Process, nr: libc::c_long, [id, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut now = zero_itimerspec();
    // SAFETY: `now` is a host itimerspec of ours the host fills.
    check(unsafe { libc::syscall(nr, id as i32, &mut now) })?;
    write_itimerspec(p, at, &now)?;
    Ok(0)
}

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD_ID: i32 = 4;

/// Signals a timer may not raise, since visa cannot take them over on the
/// host: those of its own faults (a fault of visa's caught as a guest
/// signal would repeat forever) and the host C library's own real-time
/// signals (glibc's SIGCANCEL and SIGSETXID).
const HOST_RESERVED: [i32; 7] =
    [signals::SIGILL, signals::SIGTRAP, signals::SIGBUS, signals::SIGFPE, signals::SIGSEGV, 32, 33];

/// timer_create. The guest's `struct sigevent` (value, signo, notify, tid:
/// one layout on 64-bit Linux, little-endian words) is rebuilt for the
/// host. SIGEV_THREAD_ID may name only the process's one thread. The
/// timer's signal is caught on the host and so reaches the guest with its
/// siginfo (SI_TIMER, the timer id, the overrun and the value).
fn timer_create(p: &mut Process, [clock, at, id_at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: sigevent is plain data; all zeros is a valid value.
    let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
    let given = at != 0;
    if given {
        let b = p.read(at, 64)?;
        let value = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let signo = i32::from_le_bytes(b[8..12].try_into().unwrap());
        let notify = i32::from_le_bytes(b[12..16].try_into().unwrap());
        let tid = i32::from_le_bytes(b[16..20].try_into().unwrap());
        let me = int_call!(libc::gettid());
        match notify {
            SIGEV_NONE => {}
            SIGEV_SIGNAL | SIGEV_THREAD_ID => {
                if (notify == SIGEV_THREAD_ID && tid != me)
                    || !(1..=signals::NSIG as i32).contains(&signo)
                    || HOST_RESERVED.contains(&signo)
                {
                    return Err(EINVAL);
                }
            }
            _ => return Err(EINVAL),
        }
        event.sigev_value = libc::sigval { sival_ptr: value as usize as *mut libc::c_void };
        event.sigev_signo = signo;
        event.sigev_notify = notify;
        event.sigev_notify_thread_id = me;
        if notify != SIGEV_NONE {
            signals::forward_host_signal(signo, true);
        }
    }
    let mut id: libc::c_int = 0;
    let ep: *mut libc::sigevent = if given { &mut event } else { std::ptr::null_mut() };
    // SAFETY: `ep` is null (SIGALRM, which visa forwards) or our host
    // sigevent; `id` is a local int the host fills (the kernel's timer_t).
    check(unsafe { libc::syscall(libc::SYS_timer_create, clock as i32, ep, &mut id) })?;
    if let Err(e) = p.write_u32(id_at, id as u32) {
        // SAFETY: deleting the timer just made, by its integer id.
        unsafe { libc::syscall(libc::SYS_timer_delete, id) };
        return Err(e);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_flags_are_translated_and_checked() {
        assert_eq!(create_flags(CLOEXEC | NONBLOCK, CLOEXEC | NONBLOCK), Ok(libc::O_CLOEXEC | libc::O_NONBLOCK));
        assert_eq!(create_flags(EFD_SEMAPHORE, CLOEXEC | NONBLOCK | EFD_SEMAPHORE), Ok(libc::EFD_SEMAPHORE));
        assert_eq!(create_flags(EFD_SEMAPHORE, CLOEXEC), Err(EINVAL));
        assert_eq!(create_flags(NONBLOCK, CLOEXEC), Err(EINVAL));
    }
}
