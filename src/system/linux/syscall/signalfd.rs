//! signalfd and signalfd4, and reads of a signalfd: the signals pending in
//! the descriptor's mask are taken from the calling thread's pending set,
//! then the process's, and written as x86-64 `struct signalfd_siginfo`s
//! (128 bytes, little-endian), by read and readv (pread and preadv fail
//! with ESPIPE, as on the pipe that stands for it; lseek stays at 0). The descriptor itself is visa's object (see
//! `signalfd`), ready for poll and epoll while such a signal is pending.

use super::super::errno::{EAGAIN, EFAULT, EINTR, EINVAL, Errno, check};
use super::super::process::Process;
use super::super::signals::{self, SIGBUS, SIGCHLD, SIGFPE, SIGILL, SIGSEGV, SIGTRAP, SigInfo, UNBLOCKABLE};
use super::fs::host_open_flags;
use super::{Arg, Entry};

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (282, "signalfd", &[Int, Hex, Int], |p, a| signalfd4(p, [a[0], a[1], a[2], 0, 0, 0])),
    (289, "signalfd4", &[Int, Hex, Int, Hex], signalfd4),
];

/// SFD_CLOEXEC and SFD_NONBLOCK: O_CLOEXEC and O_NONBLOCK on x86-64.
const SFD_FLAGS: u64 = 0o2000000 | 0o4000;

/// The size of a `struct signalfd_siginfo`.
const SIGINFO_SIZE: u64 = 128;

const SI_TIMER: i32 = -2;
const SI_KERNEL: i32 = 0x80;

fn signalfd4(p: &mut Process, [fd, mask_at, size, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let flags = flags as u32 as u64;
    if flags & !SFD_FLAGS != 0 || size != 8 {
        return Err(EINVAL);
    }
    let mask = p.read_u64(mask_at)? & !UNBLOCKABLE;
    let fd = fd as i32;
    let fds = p.signals.signalfds();
    let result = if fd == -1 {
        fds.create(mask, host_open_flags(flags))?
    } else {
        // SAFETY: F_GETFD takes no argument; EBADF for a bad descriptor.
        check(unsafe { libc::fcntl(fd, libc::F_GETFD) } as i64)?;
        if !fds.set_mask(fd, mask) {
            return Err(EINVAL);
        }
        fd as u64
    };
    p.signals.changed();
    Ok(result)
}

/// A read of `fd` when it is a signalfd (none otherwise): as many pending
/// signals of its mask as `len` has room for, waiting for the first unless
/// the descriptor is non-blocking. A signal for a handler that comes while
/// it waits ends the wait with EINTR (restarted under SA_RESTART).
pub fn read(p: &mut Process, fd: u64, at: u64, len: u64) -> Option<Result<u64, Errno>> {
    readv(p, fd, &[(at, len)])
}

/// readv of `fd` when it is a signalfd (none otherwise): as `read`, with
/// room for as many signals as the buffers (address, length) hold
/// together, each `struct signalfd_siginfo` written across them in turn,
/// as Linux's read_iter does.
pub fn readv(p: &mut Process, fd: u64, bufs: &[(u64, u64)]) -> Option<Result<u64, Errno>> {
    let mask = p.signals.signalfds().mask_of(fd as i32)?;
    // The kernel refuses lengths that are negative as an ssize_t.
    if bufs.iter().any(|(_, len)| (*len as i64) < 0) {
        return Some(Err(EINVAL));
    }
    Some(read_signals(p, fd as i32, mask, bufs))
}

/// lseek of `fd` when it is a signalfd (none otherwise): Linux's signalfd
/// stays at offset 0 whatever is asked.
pub fn lseek(p: &Process, fd: u64) -> Option<Result<u64, Errno>> {
    p.signals.signalfds().mask_of(fd as i32).map(|_| Ok(0))
}

/// Where the next bytes of a read go: the buffers and how far into them.
struct Cursor<'a> {
    bufs: &'a [(u64, u64)],
    at: usize,
    offset: u64,
}

impl Cursor<'_> {
    /// Writes `bytes` at the cursor, across buffers; a fault is EFAULT.
    fn put(&mut self, p: &mut Process, mut bytes: &[u8]) -> Result<(), Errno> {
        while !bytes.is_empty() {
            let &(base, len) = self.bufs.get(self.at).ok_or(EFAULT)?;
            let n = (len - self.offset).min(bytes.len() as u64);
            p.write(base.wrapping_add(self.offset), &bytes[..n as usize])?;
            bytes = &bytes[n as usize..];
            self.offset += n;
            if self.offset == len {
                (self.at, self.offset) = (self.at + 1, 0);
            }
        }
        Ok(())
    }
}

fn read_signals(p: &mut Process, fd: i32, mask: u64, bufs: &[(u64, u64)]) -> Result<u64, Errno> {
    let room = bufs.iter().fold(0u64, |all, (_, len)| all.saturating_add(*len));
    let count = room / SIGINFO_SIZE;
    if count == 0 {
        return Err(EINVAL);
    }
    // SAFETY: F_GETFL takes no argument.
    let nonblocking = check(unsafe { libc::fcntl(fd, libc::F_GETFL) } as i64)? as i32 & libc::O_NONBLOCK != 0;
    let first = loop {
        signals::collect_host_signals(&mut p.signals);
        if let Some(info) = p.signals.take_in(mask) {
            break info;
        }
        if nonblocking {
            return Err(EAGAIN);
        }
        if signals::interrupts(&mut p.signals) {
            return Err(EINTR);
        }
        signals::wait_for_host_signal(&p.signals, mask, None);
    };
    let mut cursor = Cursor { bufs, at: 0, offset: 0 };
    let mut total = 0;
    let mut next = Some(first);
    while let Some(info) = next {
        // A signal taken for a buffer that faults is lost, as on Linux.
        if cursor.put(p, &siginfo(&info)).is_err() {
            return if total > 0 { Ok(total) } else { Err(EFAULT) };
        }
        total += SIGINFO_SIZE;
        next = if total / SIGINFO_SIZE < count { p.signals.take_in(mask) } else { None };
    }
    Ok(total)
}

/// A `struct signalfd_siginfo` for `info`, with the fields Linux fills for
/// its kind of signal (a fault's address; a child's pid, uid and status; a
/// timer's id, overrun and value; a queued signal's sender and value; a
/// sender's pid and uid otherwise). A child's user and system times are
/// not known to visa and read as 0.
fn siginfo(info: &SigInfo) -> [u8; SIGINFO_SIZE as usize] {
    let mut b = [0u8; SIGINFO_SIZE as usize];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &info.signo.to_le_bytes());
    put(8, &info.code.to_le_bytes());
    let specific = info.code > 0 && info.code < SI_KERNEL;
    if specific && matches!(info.signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP) {
        put(72, &info.addr.to_le_bytes());
    } else if info.code == SI_TIMER {
        put(24, &info.pid.to_le_bytes());
        put(32, &info.uid.to_le_bytes());
        put(44, &(info.value as u32).to_le_bytes());
        put(48, &info.value.to_le_bytes());
    } else {
        put(12, &info.pid.to_le_bytes());
        put(16, &info.uid.to_le_bytes());
        if specific && info.signo == SIGCHLD {
            put(40, &(info.value as u32).to_le_bytes());
        } else if info.code < 0 {
            put(44, &(info.value as u32).to_le_bytes());
            put(48, &info.value.to_le_bytes());
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn siginfo_fields_sit_where_linux_puts_them() {
        let kill = SigInfo { signo: 10, code: 0, pid: 77, uid: 1000, ..SigInfo::default() };
        let b = siginfo(&kill);
        assert_eq!((word(&b, 0), word(&b, 8), word(&b, 12), word(&b, 16)), (10, 0, 77, 1000));
        let child = SigInfo { signo: SIGCHLD, code: 1, pid: 5, uid: 6, value: 3, ..SigInfo::default() };
        let b = siginfo(&child);
        assert_eq!((word(&b, 12), word(&b, 16), word(&b, 40), word(&b, 44)), (5, 6, 3, 0));
        let queued = SigInfo { signo: 34, code: -1, pid: 5, uid: 6, value: 0x1_0000_0009, ..SigInfo::default() };
        let b = siginfo(&queued);
        assert_eq!((word(&b, 44), word(&b, 48), word(&b, 52)), (9, 9, 1));
        let timer = SigInfo { signo: 14, code: SI_TIMER, pid: 2, uid: 4, value: 8, ..SigInfo::default() };
        let b = siginfo(&timer);
        assert_eq!((word(&b, 12), word(&b, 24), word(&b, 32), word(&b, 44)), (0, 2, 4, 8));
        let fault = SigInfo { signo: SIGSEGV, code: 1, addr: 0x1234, ..SigInfo::default() };
        assert_eq!(word(&siginfo(&fault), 72), 0x1234);
    }
}
