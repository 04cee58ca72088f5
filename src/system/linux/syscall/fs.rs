//! File-descriptor I/O: read and write (plain, vectored, positioned), open
//! and close, lseek, dup, pipe, fcntl, ioctl, poll and select (which wait
//! on through interruptions the guest does not see). Guest file
//! descriptors are host file descriptors; data moves straight between the
//! host and guest memory, and flag values are translated where the x86-64
//! ABI differs from the host's.

use super::super::errno::{EINTR, EINVAL, ENOTTY, Errno, check, last};
use super::super::process::{Dir, HostBuf, Process};
use super::super::signals;
use super::byteorder::{Layout, size, swap_fields, swap_words};
use super::deadline::Deadline;
use super::host::int_call;
use super::misc::{read_timespec, write_timespec};
use super::paths::path_arg;
use super::{Arg, Entry};

use Arg::{Hex, Int, Str};

pub const TABLE: &[Entry] = &[
    (0, "read", &[Int, Hex, Int], read),
    (1, "write", &[Int, Hex, Int], write),
    (2, "open", &[Str, Hex, Hex], |p, a| openat(p, [AT_FDCWD, a[0], a[1], a[2], 0, 0])),
    (7, "poll", &[Hex, Int, Int], poll),
    (8, "lseek", &[Int, Int, Int], |p, a| {
        if let Some(result) = super::signalfd::lseek(p, a[0]) {
            return result;
        }
        check(int_call!(libc::lseek(a[0] as i32, a[1] as i64, a[2] as i32)))
    }),
    (16, "ioctl", &[Int, Hex, Hex], ioctl),
    (17, "pread64", &[Int, Hex, Int, Int], pread64),
    (18, "pwrite64", &[Int, Hex, Int, Int], pwrite64),
    (19, "readv", &[Int, Hex, Int], |p, a| vectored(p, a, false)),
    (20, "writev", &[Int, Hex, Int], |p, a| vectored(p, a, true)),
    (22, "pipe", &[Hex], |p, a| pipe2(p, [a[0], 0, 0, 0, 0, 0])),
    (23, "select", &[Int, Hex, Hex, Hex, Hex], select),
    (32, "dup", &[Int], |_, a| check(int_call!(libc::dup(a[0] as i32)) as i64)),
    (33, "dup2", &[Int, Int], |_, a| {
        make_room(a[0], a[1])?;
        check(int_call!(libc::dup2(a[0] as i32, a[1] as i32)) as i64)
    }),
    (40, "sendfile", &[Int, Int, Hex, Int], sendfile),
    (221, "fadvise64", &[Int, Int, Int, Int], |_, a| {
        // posix_fadvise returns the error number rather than setting errno.
        let e = int_call!(libc::posix_fadvise(a[0] as i32, a[1] as i64, a[2] as i64, a[3] as i32));
        if e != 0 { Err(e) } else { Ok(0) }
    }),
    (326, "copy_file_range", &[Int, Hex, Int, Hex, Int, Hex], copy_file_range),
    (72, "fcntl", &[Int, Int, Hex], fcntl),
    (73, "flock", &[Int, Int], |_, a| check(int_call!(libc::flock(a[0] as i32, a[1] as i32)) as i64)),
    (74, "fsync", &[Int], |_, a| check(int_call!(libc::fsync(a[0] as i32)) as i64)),
    (75, "fdatasync", &[Int], |_, a| check(int_call!(libc::fdatasync(a[0] as i32)) as i64)),
    (77, "ftruncate", &[Int, Int], |_, a| check(int_call!(libc::ftruncate(a[0] as i32, a[1] as i64)) as i64)),
    (85, "creat", &[Str, Hex], |p, a| openat(p, [AT_FDCWD, a[0], 0o1101, a[1], 0, 0])),
    (257, "openat", &[Int, Str, Hex, Hex], openat),
    (270, "pselect6", &[Int, Hex, Hex, Hex, Hex, Hex], pselect6),
    (271, "ppoll", &[Hex, Int, Hex, Hex, Int], ppoll),
    (285, "fallocate", &[Int, Int, Int, Int], |_, a| {
        check(int_call!(libc::fallocate(a[0] as i32, a[1] as i32, a[2] as i64, a[3] as i64)) as i64)
    }),
    (292, "dup3", &[Int, Int, Hex], |_, a| {
        make_room(a[0], a[1])?;
        check(int_call!(libc::dup3(a[0] as i32, a[1] as i32, host_open_flags(a[2]))) as i64)
    }),
    (293, "pipe2", &[Hex, Hex], pipe2),
];

/// Before dup2 or dup3 from `old` onto `new`: moves one of visa's own
/// descriptors out of `new` (see `system::host_fds`).
fn make_room(old: u64, new: u64) -> Result<(), Errno> {
    if old != new && new <= i32::MAX as u64 {
        crate::system::host_fds::make_room(new as i32)?;
    }
    Ok(())
}

pub const AT_FDCWD: u64 = -100i64 as u64;
const O_CLOEXEC: u64 = 0o2000000;

/// x86-64 open flags (bits that differ between Linux ABIs) and the host's.
/// O_LARGEFILE is left out: 64-bit kernels imply it.
const OPEN_FLAGS: &[(u64, i32)] = &[
    (0o100, libc::O_CREAT),
    (0o200, libc::O_EXCL),
    (0o400, libc::O_NOCTTY),
    (0o1000, libc::O_TRUNC),
    (0o2000, libc::O_APPEND),
    (0o4000, libc::O_NONBLOCK),
    (0o10000, libc::O_DSYNC),
    (0o20000, libc::O_ASYNC),
    (0o40000, libc::O_DIRECT),
    (0o200000, libc::O_DIRECTORY),
    (0o400000, libc::O_NOFOLLOW),
    (0o1000000, libc::O_NOATIME),
    (0o2000000, libc::O_CLOEXEC),
    (0o4000000, libc::O_SYNC & !libc::O_DSYNC),
    (0o10000000, libc::O_PATH),
    (0o20000000, libc::O_TMPFILE & !libc::O_DIRECTORY),
];

/// Guest open flags as host flags (unknown bits dropped, as the kernel ignores them).
pub fn host_open_flags(guest: u64) -> i32 {
    OPEN_FLAGS.iter().filter(|(g, _)| guest & g != 0).fold((guest & 3) as i32, |f, (_, h)| f | h)
}

/// Host file status flags as the guest's.
fn guest_open_flags(host: i32) -> u64 {
    OPEN_FLAGS.iter().filter(|(_, h)| *h != 0 && host & h == *h).fold((host & 3) as u64, |f, (g, _)| f | g)
}

fn openat(p: &mut Process, [dirfd, path, flags, mode, ..]: [u64; 6]) -> Result<u64, Errno> {
    if let Some(fd) = super::super::procfs::open(p, p.read_path(path)?.as_bytes(), flags & O_CLOEXEC != 0) {
        return fd;
    }
    let path = path_arg(p, path)?;
    // SAFETY: `path` is a NUL-terminated `CString` of ours that lives
    // through the call; the other arguments are integers.
    check(unsafe { libc::openat(dirfd as i32, path.as_ptr(), host_open_flags(flags), mode as libc::c_uint) } as i64)
}

// The data calls pass guest buffers to the host as `HostBuf`s, so that a
// bad buffer gets what Linux gives: /dev/null takes any buffer, a file
// takes the bytes up to the first page that faults, a range past user
// space fails with EFAULT, and a bad descriptor is EBADF first.

fn read(p: &mut Process, [fd, buf, len, ..]: [u64; 6]) -> Result<u64, Errno> {
    if let Some(result) = super::signalfd::read(p, fd, buf, len) {
        return result;
    }
    let out = p.host_buf(buf, len, Dir::Out);
    // SAFETY: `out` is a `HostBuf` from `Process::host_buf`: `out.len`
    // bytes at `out.ptr` are writable guest memory inside the reservation,
    // or a stand-in mapping of ours (its pages past the guest's accessible
    // bytes inaccessible, so the kernel stops there), or an address the
    // kernel refuses (EFAULT); it stays alive through the call.
    let n = check(unsafe { libc::read(fd as i32, out.ptr as *mut libc::c_void, out.len) } as i64)?;
    out.finish(p, n as usize);
    Ok(n)
}

fn write(p: &mut Process, [fd, buf, len, ..]: [u64; 6]) -> Result<u64, Errno> {
    let data = p.host_buf(buf, len, Dir::In);
    // SAFETY: `data` is a `HostBuf` of `data.len` bytes the kernel only
    // reads: readable guest memory, a stand-in of ours or an address the
    // kernel refuses (see `read`).
    check(unsafe { libc::write(fd as i32, data.ptr as *const libc::c_void, data.len) } as i64)
}

fn pread64(p: &mut Process, [fd, buf, len, off, ..]: [u64; 6]) -> Result<u64, Errno> {
    let out = p.host_buf(buf, len, Dir::Out);
    // SAFETY: as for `read`: `out` is a `HostBuf` of `out.len` bytes.
    let n = check(unsafe { libc::pread(fd as i32, out.ptr as *mut libc::c_void, out.len, off as i64) } as i64)?;
    out.finish(p, n as usize);
    Ok(n)
}

fn pwrite64(p: &mut Process, [fd, buf, len, off, ..]: [u64; 6]) -> Result<u64, Errno> {
    let data = p.host_buf(buf, len, Dir::In);
    // SAFETY: as for `write`: `data` is a `HostBuf` of `data.len` bytes.
    check(unsafe { libc::pwrite(fd as i32, data.ptr as *const libc::c_void, data.len, off as i64) } as i64)
}

/// Most iovecs a call takes (UIO_MAXIOV).
const IOV_MAX: u64 = 1024;

/// readv and writev: the guest's iovecs become host iovecs over `HostBuf`s.
/// An iovec array the guest cannot read, or too many entries, go to the
/// host as an array it cannot read either, so that its checks decide.
/// Guest iovecs (their bytes, 16 each) as host iovecs over `HostBuf`s,
/// which must stay alive through the call. A length that is negative as an
/// ssize_t is passed on, for the host to refuse as Linux does.
pub fn host_iovecs(p: &mut Process, raw: &[u8], dir: Dir) -> (Vec<HostBuf>, Vec<libc::iovec>) {
    let mut bufs = Vec::with_capacity(raw.len() / 16);
    for entry in raw.chunks(16) {
        let base = u64::from_le_bytes(entry[0..8].try_into().unwrap());
        let len = u64::from_le_bytes(entry[8..16].try_into().unwrap());
        let b = if (len as i64) < 0 {
            let mut b = p.host_buf(u64::MAX, 1, dir);
            b.len = len as usize;
            b
        } else {
            p.host_buf(base, len, dir)
        };
        bufs.push(b);
    }
    let iovs = bufs.iter().map(|b| libc::iovec { iov_base: b.ptr as *mut libc::c_void, iov_len: b.len }).collect();
    (bufs, iovs)
}

fn vectored(p: &mut Process, [fd, iov, count, ..]: [u64; 6], writing: bool) -> Result<u64, Errno> {
    let raw = if count <= IOV_MAX { p.read(iov, 16 * count as usize).ok() } else { None };
    let Some(raw) = raw else {
        let bad = (usize::MAX & !4095) as *const libc::iovec;
        let count = count.min(i32::MAX as u64) as i32;
        // SAFETY: `bad` is in the last page of the address space, which the
        // kernel refuses (EFAULT) before reading an iovec; nothing is
        // dereferenced by visa.
        let r =
            unsafe { if writing { libc::writev(fd as i32, bad, count) } else { libc::readv(fd as i32, bad, count) } };
        return check(r as i64);
    };
    if !writing {
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let bufs: Vec<(u64, u64)> = raw.chunks(16).map(|v| (word(&v[..8]), word(&v[8..]))).collect();
        if let Some(result) = super::signalfd::readv(p, fd, &bufs) {
            return result;
        }
    }
    let (bufs, host) = host_iovecs(p, &raw, if writing { Dir::In } else { Dir::Out });
    // SAFETY: `host` holds `host.len()` iovecs, each the pointer and length
    // of a `HostBuf` in `bufs` (guest memory checked by `Process::host_buf`,
    // a stand-in of ours, or an address the kernel refuses), all alive
    // through the call; a negative length is refused by the kernel.
    let r = unsafe {
        if writing {
            libc::writev(fd as i32, host.as_ptr(), host.len() as i32)
        } else {
            libc::readv(fd as i32, host.as_ptr(), host.len() as i32)
        }
    };
    let n = check(r as i64)?;
    if !writing {
        let mut left = n as usize;
        for b in &bufs {
            b.finish(p, left.min(b.len));
            left -= left.min(b.len);
        }
    }
    Ok(n)
}

fn sendfile(p: &mut Process, [out, inp, off_at, count, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut off = if off_at != 0 { Some(p.read_u64(off_at)? as i64) } else { None };
    let offp = off.as_mut().map_or(std::ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: `offp` is null or points at `off`, a local i64 that lives
    // through the call.
    let n = check(unsafe { libc::sendfile(out as i32, inp as i32, offp, count as usize) } as i64)?;
    if let Some(o) = off {
        p.write_u64(off_at, o as u64)?;
    }
    Ok(n)
}

/// copy_file_range: the offsets, where given, are guest words read before
/// and written back after.
fn copy_file_range(p: &mut Process, [fd_in, off_in, fd_out, off_out, len, flags]: [u64; 6]) -> Result<u64, Errno> {
    let read_off = |at: u64| if at != 0 { p.read_u64(at).map(|o| Some(o as i64)) } else { Ok(None) };
    let (mut oin, mut oout) = (read_off(off_in)?, read_off(off_out)?);
    let ptr = |o: &mut Option<i64>| o.as_mut().map_or(std::ptr::null_mut(), |o| o as *mut i64);
    let (pin, pout) = (ptr(&mut oin), ptr(&mut oout));
    // SAFETY: `pin` and `pout` are null or point at `oin` and `oout`,
    // local i64s that live through the call; the rest are integers.
    let n = check(unsafe {
        libc::syscall(libc::SYS_copy_file_range, fd_in as i32, pin, fd_out as i32, pout, len as usize, flags as u32)
    })?;
    for (at, o) in [(off_in, oin), (off_out, oout)] {
        if let Some(o) = o {
            p.write_u64(at, o as u64)?;
        }
    }
    Ok(n)
}

fn pipe2(p: &mut Process, [at, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a local array of the two ints pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), host_open_flags(flags)) } as i64)?;
    give_fd_pair(p, at, fds)
}

/// Writes a new pair of descriptors (pipe2, socketpair) to the guest's two
/// ints at `at`; if it cannot, closes them (as Linux does) and fails.
pub fn give_fd_pair(p: &mut Process, at: u64, fds: [i32; 2]) -> Result<u64, Errno> {
    let bytes = [fds[0].to_le_bytes(), fds[1].to_le_bytes()].concat();
    if let Err(e) = p.write(at, &bytes) {
        int_call!(libc::close(fds[0]));
        int_call!(libc::close(fds[1]));
        return Err(e);
    }
    Ok(0)
}

const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_GETLK: u64 = 5;
const F_SETLK: u64 = 6;
const F_SETLKW: u64 = 7;

/// The size of `struct flock` (guest's and host's alike).
const FLOCK_SIZE: usize = 32;
const _: () = assert!(std::mem::size_of::<libc::flock>() == FLOCK_SIZE);

fn fcntl(p: &mut Process, [fd, cmd, arg, ..]: [u64; 6]) -> Result<u64, Errno> {
    let fd = fd as i32;
    match cmd {
        // SAFETY: F_GETFL takes no argument.
        F_GETFL => Ok(guest_open_flags(check(unsafe { libc::fcntl(fd, libc::F_GETFL) } as i64)? as i32)),
        // SAFETY: F_SETFL takes an integer.
        F_SETFL => check(unsafe { libc::fcntl(fd, libc::F_SETFL, host_open_flags(arg)) } as i64),
        F_GETLK | F_SETLK | F_SETLKW => {
            // struct flock has one layout on every 64-bit Linux.
            let mut lock = p.read(arg, FLOCK_SIZE)?;
            // SAFETY: `lock` is a buffer of ours of `FLOCK_SIZE` bytes, the
            // size of the host's `struct flock`, which the host reads and
            // (F_GETLK) fills.
            check(unsafe { libc::fcntl(fd, cmd as i32, lock.as_mut_ptr()) } as i64)?;
            p.write(arg, &lock)?;
            Ok(0)
        }
        // F_DUPFD F_GETFD F_SETFD F_SETOWN F_GETOWN F_DUPFD_CLOEXEC and the pipe
        // size and seal commands take and return integers, numbered alike on
        // every Linux.
        0 | 1 | 2 | 8 | 9 | 1030 | 1031 | 1032 | 1033 | 1034 => {
            // SAFETY: these commands take an integer argument, not a pointer.
            check(unsafe { libc::fcntl(fd, cmd as i32, arg as libc::c_long) } as i64)
        }
        _ => Err(EINVAL),
    }
}

/// How an ioctl passes its argument.
#[derive(Clone, Copy)]
enum IoArg {
    /// An integer, or nothing.
    Value,
    /// A guest structure the host reads.
    In(Layout),
    /// A guest structure the host fills.
    Out(Layout),
}

/// `struct termios`: four flag words, the line discipline and 19 control
/// characters.
const TERMIOS: Layout = &[(4, 4), (1, 20)];
/// `struct winsize`: four shorts.
const WINSIZE: Layout = &[(2, 4)];
const INT: Layout = &[(4, 1)];

/// The terminal and file ioctls (numbered alike on x86-64 and the
/// generic ABI of aarch64, riscv64 and s390x; the structures too, but for
/// a big-endian host's byte order).
const IOCTLS: &[(u64, IoArg)] = &[
    (0x5401, IoArg::Out(TERMIOS)), // TCGETS
    (0x5402, IoArg::In(TERMIOS)),  // TCSETS
    (0x5403, IoArg::In(TERMIOS)),  // TCSETSW
    (0x5404, IoArg::In(TERMIOS)),  // TCSETSF
    (0x5409, IoArg::Value),        // TCSBRK
    (0x540A, IoArg::Value),        // TCXONC
    (0x540B, IoArg::Value),        // TCFLSH
    (0x540E, IoArg::Value),        // TIOCSCTTY
    (0x540F, IoArg::Out(INT)),     // TIOCGPGRP
    (0x5410, IoArg::In(INT)),      // TIOCSPGRP
    (0x5413, IoArg::Out(WINSIZE)), // TIOCGWINSZ
    (0x5414, IoArg::In(WINSIZE)),  // TIOCSWINSZ
    (0x541B, IoArg::Out(INT)),     // FIONREAD
    (0x5421, IoArg::In(INT)),      // FIONBIO
    (0x5429, IoArg::Out(INT)),     // TIOCGSID
    (0x5450, IoArg::Value),        // FIONCLEX
    (0x5451, IoArg::Value),        // FIOCLEX
    (0x5452, IoArg::In(INT)),      // FIOASYNC
];

fn ioctl(p: &mut Process, [fd, cmd, arg, ..]: [u64; 6]) -> Result<u64, Errno> {
    let Some((_, how)) = IOCTLS.iter().find(|(c, _)| *c == cmd) else {
        if p.reported.insert(1 << 32 | cmd) {
            eprintln!("visa: ioctl {cmd:#x} is not supported (returns ENOTTY)");
        }
        return Err(ENOTTY);
    };
    let (fd, req) = (fd as i32, cmd as libc::c_ulong);
    // The command is one of `IOCTLS`, whose sizes are the kernel's.
    match *how {
        // SAFETY: a `Value` command takes an integer, not a pointer.
        IoArg::Value => check(unsafe { libc::ioctl(fd, req as _, arg as libc::c_ulong) } as i64),
        IoArg::In(layout) => {
            let mut b = p.read(arg, size(layout))?;
            swap_fields(&mut b, layout);
            // SAFETY: the command reads a structure of `size(layout)`
            // bytes: `b` is a buffer of ours of exactly that many.
            check(unsafe { libc::ioctl(fd, req as _, b.as_mut_ptr()) } as i64)
        }
        IoArg::Out(layout) => {
            let mut b = vec![0u8; size(layout)];
            // SAFETY: the command fills a structure of `size(layout)`
            // bytes: `b` is a buffer of ours of exactly that many.
            let r = check(unsafe { libc::ioctl(fd, req as _, b.as_mut_ptr()) } as i64)?;
            swap_fields(&mut b, layout);
            p.write(arg, &b)?;
            Ok(r)
        }
    }
}

/// Runs poll on guest `struct pollfd`s (one layout and one set of event
/// bits on every Linux).
fn poll_fds(p: &mut Process, fds: u64, nfds: u64, timeout: Option<libc::timespec>) -> Result<u64, Errno> {
    // nfds is an unsigned int, and may not exceed RLIMIT_NOFILE.
    let nfds = nfds as u32 as u64;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a local `rlimit` the host fills.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if nfds > limit.rlim_cur.min(1 << 20) {
        return Err(EINVAL);
    }
    let raw = p.read(fds, 8 * nfds as usize)?;
    let mut host: Vec<libc::pollfd> = raw
        .chunks(8)
        .map(|c| libc::pollfd {
            fd: i32::from_le_bytes(c[0..4].try_into().unwrap()),
            events: i16::from_le_bytes(c[4..6].try_into().unwrap()),
            revents: 0,
        })
        .collect();
    let deadline = Deadline::after_timespec(timeout)?;
    let n = loop {
        let left = deadline.left_timespec();
        let tp = left.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let r = signals::wait_unless_signalled(&p.signals, |mask| {
            // SAFETY: `host` is our vector of `host.len()` pollfds; `tp` is
            // null or points at `left`, a local timespec; `mask` is the
            // caller's sigset.
            unsafe { libc::ppoll(host.as_mut_ptr(), host.len() as libc::nfds_t, tp, mask) as i64 }
        });
        if r >= 0 || last() != EINTR || signals::interrupts(&mut p.signals) {
            break check(r)?;
        }
    };
    for (i, h) in host.iter().enumerate() {
        p.write(fds + 8 * i as u64 + 6, &h.revents.to_le_bytes())?;
    }
    Ok(n)
}

fn poll(p: &mut Process, [fds, nfds, timeout_ms, ..]: [u64; 6]) -> Result<u64, Errno> {
    let ms = timeout_ms as i32;
    let timeout =
        (ms >= 0).then(|| libc::timespec { tv_sec: (ms / 1000) as i64, tv_nsec: (ms % 1000) as i64 * 1_000_000 });
    poll_fds(p, fds, nfds, timeout)
}

/// ppoll, under its signal mask if it gives one.
fn ppoll(p: &mut Process, [fds, nfds, tsp, mask, size, _]: [u64; 6]) -> Result<u64, Errno> {
    let timeout = if tsp != 0 { Some(read_timespec(p, tsp)?) } else { None };
    let mask = super::sig::mask_arg(p, mask, size)?;
    super::sig::with_mask(p, mask, |p| poll_fds(p, fds, nfds, timeout))
}

/// select and pselect6 over guest fd_sets (bit arrays of 64-bit words on
/// every 64-bit Linux). Returns the ready count and the time left.
fn select_sets(
    p: &mut Process,
    nfds: u64,
    sets: [u64; 3],
    timeout: Option<libc::timespec>,
) -> Result<(u64, Option<libc::timespec>), Errno> {
    if nfds > libc::FD_SETSIZE as u64 {
        return Err(EINVAL);
    }
    let bytes = nfds.div_ceil(64) as usize * 8;
    // SAFETY: fd_set is plain bits.
    let mut asked: [libc::fd_set; 3] = unsafe { std::mem::zeroed() };
    for (h, at) in asked.iter_mut().zip(sets) {
        if at != 0 {
            // The sets are arrays of longs: 64-bit words on both sides.
            let mut b = p.read(at, bytes)?;
            swap_words(&mut b, 8);
            // SAFETY: `bytes` is at most the size of an fd_set.
            unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), h as *mut libc::fd_set as *mut u8, bytes) };
        }
    }
    let deadline = Deadline::after_timespec(timeout)?;
    let ptr = |h: &mut libc::fd_set, at: u64| if at != 0 { h as *mut libc::fd_set } else { std::ptr::null_mut() };
    let (n, host) = loop {
        let mut host = asked;
        let left = deadline.left_timespec();
        let [r, w, e] = &mut host;
        let n = signals::wait_unless_signalled(&p.signals, |mask| {
            // SAFETY: each set is null or one of our local fd_sets, and the
            // kernel touches its first `nfds` bits, `nfds` being at most
            // FD_SETSIZE (checked above); the timeout is null or our
            // `left`; `mask` is the caller's sigset.
            unsafe {
                libc::pselect(
                    nfds as i32,
                    ptr(r, sets[0]),
                    ptr(w, sets[1]),
                    ptr(e, sets[2]),
                    left.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec),
                    mask,
                ) as i64
            }
        });
        if n >= 0 || last() != EINTR || signals::interrupts(&mut p.signals) {
            break (check(n)?, host);
        }
    };
    let tv = deadline.left_timespec().map(|t| libc::timeval { tv_sec: t.tv_sec, tv_usec: t.tv_nsec / 1000 });
    for (h, at) in host.iter().zip(sets) {
        if at != 0 {
            // SAFETY: reading the first `bytes` of a plain-data fd_set.
            let mut b = unsafe { std::slice::from_raw_parts(h as *const libc::fd_set as *const u8, bytes) }.to_vec();
            swap_words(&mut b, 8);
            p.write(at, &b)?;
        }
    }
    Ok((n, tv.map(|t| libc::timespec { tv_sec: t.tv_sec, tv_nsec: t.tv_usec * 1000 })))
}

fn select(p: &mut Process, [nfds, r, w, e, tvp, _]: [u64; 6]) -> Result<u64, Errno> {
    let timeout = if tvp != 0 {
        let b = p.read(tvp, 16)?;
        let sec = i64::from_le_bytes(b[0..8].try_into().unwrap());
        let usec = i64::from_le_bytes(b[8..16].try_into().unwrap());
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(EINVAL);
        }
        Some(libc::timespec { tv_sec: sec, tv_nsec: usec * 1000 })
    } else {
        None
    };
    let (n, left) = select_sets(p, nfds, [r, w, e], timeout)?;
    if let Some(t) = left {
        write_timespec(p, tvp, &libc::timespec { tv_sec: t.tv_sec, tv_nsec: t.tv_nsec / 1000 })?;
    }
    Ok(n)
}

/// pselect6, under its signal mask if it gives one (its sixth argument
/// points at the mask's address and size).
fn pselect6(p: &mut Process, [nfds, r, w, e, tsp, sig]: [u64; 6]) -> Result<u64, Errno> {
    let timeout = if tsp != 0 { Some(read_timespec(p, tsp)?) } else { None };
    let mask = if sig != 0 { super::sig::mask_arg(p, p.read_u64(sig)?, p.read_u64(sig + 8)?)? } else { None };
    let mut left = None;
    let n = super::sig::with_mask(p, mask, |p| {
        let (n, l) = select_sets(p, nfds, [r, w, e], timeout)?;
        left = l;
        Ok(n)
    })?;
    if let Some(t) = left {
        write_timespec(p, tsp, &t)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_round_trip_through_the_host() {
        for (g, _) in OPEN_FLAGS {
            let guest = g | 2;
            assert_eq!(guest_open_flags(host_open_flags(guest)), guest, "flag {g:#o}");
        }
        // O_LARGEFILE (x86-64 0o100000) is implied and dropped.
        assert_eq!(host_open_flags(0o100000), 0);
    }
}
