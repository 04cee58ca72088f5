//! Sockets (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK and any family the host
//! has): guest descriptors are host sockets. What is converted:
//! - socket type flags (SOCK_NONBLOCK, SOCK_CLOEXEC are open-flag bits);
//! - socket addresses, message headers and control messages, whose
//!   layouts are one on every 64-bit Linux but whose host-order integers
//!   (sa_family, sin6_scope_id, the netlink ids, cmsg headers, passed
//!   descriptors and credentials) are little-endian in the guest;
//! - SOL_SOCKET and its option numbers, through a table: on visa's hosts
//!   (x86-64, aarch64, riscv64, s390x) they are the asm-generic numbers,
//!   as x86-64's are, but mips, parisc and sparc number them otherwise,
//!   and 32-bit hosts would pick other SO_RCVTIMEO/SO_TIMESTAMP variants.
//!
//! Data buffers go to the host as `HostBuf`s (see fs.rs); every other guest
//! pointer is read or written through the checked accessors. Calls that
//! block go on through host interruptions the guest does not see.

use super::super::errno::{EINTR, EINVAL, Errno, check, last};
use super::super::process::{Dir, HostBuf, Process};
use super::super::signals;
use super::byteorder::swap_words;
use super::deadline::Deadline;
use super::fs::{give_fd_pair, host_iovecs, host_open_flags};
use super::host::int_call;
use super::misc::read_timespec;
use super::{Arg, Entry};

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (41, "socket", &[Int, Hex, Int], |_, a| {
        let kind = sock_type(a[1])?;
        // SAFETY: socket takes integers.
        check(unsafe { libc::socket(a[0] as i32, kind, a[2] as i32) } as i64)
    }),
    (53, "socketpair", &[Int, Hex, Int, Hex], socketpair),
    (49, "bind", &[Int, Hex, Int], |p, a| {
        let addr = SockAddr::from_guest(p, a[1], a[2])?;
        // SAFETY: `addr` is a host socket address of ours of `addr.len` bytes.
        check(unsafe { libc::bind(a[0] as i32, addr.ptr(), addr.len) } as i64)
    }),
    (42, "connect", &[Int, Hex, Int], |p, a| {
        let addr = SockAddr::from_guest(p, a[1], a[2])?;
        // SAFETY: as for bind.
        blocking(p, || unsafe { libc::connect(a[0] as i32, addr.ptr(), addr.len) } as isize)
    }),
    (50, "listen", &[Int, Int], |_, a| {
        // SAFETY: listen takes integers.
        check(unsafe { libc::listen(a[0] as i32, a[1] as i32) } as i64)
    }),
    (43, "accept", &[Int, Hex, Hex], |p, a| accept4(p, [a[0], a[1], a[2], 0, 0, 0])),
    (288, "accept4", &[Int, Hex, Hex, Hex], accept4),
    (51, "getsockname", &[Int, Hex, Hex], |p, a| name(p, a, libc::getsockname)),
    (52, "getpeername", &[Int, Hex, Hex], |p, a| name(p, a, libc::getpeername)),
    (44, "sendto", &[Int, Hex, Int, Hex, Hex, Int], sendto),
    (45, "recvfrom", &[Int, Hex, Int, Hex, Hex, Hex], recvfrom),
    (46, "sendmsg", &[Int, Hex, Hex], |p, a| sendmsg(p, a[0], a[1], a[2] as i32)),
    (47, "recvmsg", &[Int, Hex, Hex], |p, a| recvmsg(p, a[0], a[1], a[2] as i32)),
    (307, "sendmmsg", &[Int, Hex, Int, Hex], |p, a| mmsg(p, a, None, sendmsg)),
    (299, "recvmmsg", &[Int, Hex, Int, Hex, Hex], |p, a| {
        let timeout = if a[4] != 0 { Some(read_timespec(p, a[4])?) } else { None };
        if timeout.is_some_and(|t| t.tv_sec < 0) {
            return Err(EINVAL);
        }
        mmsg(p, a, timeout, recvmsg)
    }),
    (48, "shutdown", &[Int, Int], |_, a| {
        // SAFETY: shutdown takes integers.
        check(unsafe { libc::shutdown(a[0] as i32, a[1] as i32) } as i64)
    }),
    (54, "setsockopt", &[Int, Int, Int, Hex, Int], setsockopt),
    (55, "getsockopt", &[Int, Int, Int, Hex, Hex], getsockopt),
];

const SOCK_NONBLOCK: u64 = 0o4000;
const SOCK_CLOEXEC: u64 = 0o2000000;
const SOCK_TYPE_MASK: u64 = 0xf;

/// A socket type with its flags as the host's (other flag bits: EINVAL).
fn sock_type(t: u64) -> Result<i32, Errno> {
    let t = t as u32 as u64;
    let flags = t & !SOCK_TYPE_MASK;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    Ok((t & SOCK_TYPE_MASK) as i32 | host_open_flags(flags))
}

/// Runs a host call that may block until it ends or is interrupted by a
/// signal the guest sees (EINTR, which the run loop restarts or not).
fn blocking(p: &mut Process, mut call: impl FnMut() -> isize) -> Result<u64, Errno> {
    loop {
        let r = call();
        if r >= 0 || last() != EINTR || signals::interrupts(&mut p.signals) {
            return check(r as i64);
        }
    }
}

/// The size of `struct sockaddr_storage`.
const ADDR_MAX: usize = 128;

/// A socket address in host form.
#[repr(C, align(8))]
struct SockAddr {
    bytes: [u8; ADDR_MAX],
    len: libc::socklen_t,
}

/// Host-order integer fields of the socket addresses of a family, after
/// sa_family itself: (offset, size).
fn addr_fields(family: u16) -> &'static [(usize, usize)] {
    match family as i32 {
        libc::AF_INET6 => &[(24, 4)],          // sin6_scope_id
        libc::AF_NETLINK => &[(4, 4), (8, 4)], // nl_pid, nl_groups
        libc::AF_PACKET => &[(4, 4), (8, 2)],  // sll_ifindex, sll_hatype
        _ => &[],
    }
}

/// Converts a socket address between guest and host byte order, in place;
/// `family` is its family, read on the side it comes from.
fn swap_addr(b: &mut [u8], family: u16) {
    for &(at, size) in [(0, 2)].iter().chain(addr_fields(family)) {
        if at + size <= b.len() {
            swap_words(&mut b[at..at + size], size);
        }
    }
}

impl SockAddr {
    fn empty() -> SockAddr {
        SockAddr { bytes: [0; ADDR_MAX], len: ADDR_MAX as libc::socklen_t }
    }

    /// A guest address of `len` bytes, as Linux's move_addr_to_kernel
    /// takes it: a length over the storage size or negative is EINVAL.
    fn from_guest(p: &Process, at: u64, len: u64) -> Result<SockAddr, Errno> {
        let len = len as i32;
        if len < 0 || len as usize > ADDR_MAX {
            return Err(EINVAL);
        }
        let mut a = SockAddr { bytes: [0; ADDR_MAX], len: len as libc::socklen_t };
        a.bytes[..len as usize].copy_from_slice(&p.read(at, len as usize)?);
        let family = if len >= 2 { u16::from_le_bytes([a.bytes[0], a.bytes[1]]) } else { 0 };
        swap_addr(&mut a.bytes[..len as usize], family);
        Ok(a)
    }

    fn ptr(&self) -> *const libc::sockaddr {
        self.bytes.as_ptr() as *const libc::sockaddr
    }

    fn ptr_mut(&mut self) -> *mut libc::sockaddr {
        self.bytes.as_mut_ptr() as *mut libc::sockaddr
    }

    /// Gives the guest the address as Linux's move_addr_to_user does: the
    /// guest's buffer length is read at `len_at` (negative: EINVAL), as
    /// much of the address as fits is written at `at`, and the full
    /// length at `len_at`.
    fn to_guest(&self, p: &mut Process, at: u64, len_at: u64) -> Result<(), Errno> {
        let room = p.read(len_at, 4)?;
        let room = i32::from_le_bytes(room.try_into().unwrap());
        if room < 0 {
            return Err(EINVAL);
        }
        let full = (self.len as usize).min(ADDR_MAX);
        let mut b = self.bytes[..full].to_vec();
        let family = if full >= 2 { u16::from_ne_bytes([b[0], b[1]]) } else { 0 };
        swap_addr(&mut b, family);
        p.write(at, &b[..full.min(room as usize)])?;
        p.write_u32(len_at, self.len)
    }
}

fn socketpair(p: &mut Process, [domain, kind, proto, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let kind = sock_type(kind)?;
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a local array of the two ints socketpair writes.
    check(unsafe { libc::socketpair(domain as i32, kind, proto as i32, fds.as_mut_ptr()) } as i64)?;
    give_fd_pair(p, at, fds)
}

/// accept4 (and accept): the peer's address is given after the connection
/// is taken; if it cannot be, the new socket is closed (as Linux does).
fn accept4(p: &mut Process, [fd, at, len_at, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let flags = flags as u32 as u64;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    let mut peer = SockAddr::empty();
    let len: *mut libc::socklen_t = &mut peer.len;
    let ap = peer.ptr_mut();
    // SAFETY: `ap` and `len` point into `peer`, a host socket address of
    // ours with room for `ADDR_MAX` bytes, its length set to that.
    let new = blocking(p, || unsafe { libc::accept4(fd as i32, ap, len, host_open_flags(flags)) } as isize)?;
    if at != 0
        && let Err(e) = peer.to_guest(p, at, len_at)
    {
        int_call!(libc::close(new as i32));
        return Err(e);
    }
    Ok(new)
}

// SAFETY: the type of getsockname and getpeername, which write at most
// `*len` bytes at the address and the new length at `len`; calling one is
// unsafe, and `name` says why its call is sound.
type NameCall = unsafe extern "C" fn(i32, *mut libc::sockaddr, *mut libc::socklen_t) -> i32;

/// getsockname and getpeername.
fn name(p: &mut Process, [fd, at, len_at, ..]: [u64; 6], call: NameCall) -> Result<u64, Errno> {
    let mut addr = SockAddr::empty();
    let ap = addr.ptr_mut();
    // SAFETY: `call` is getsockname or getpeername; `ap` and the length
    // point into `addr`, a host socket address of ours of `ADDR_MAX` bytes.
    check(unsafe { call(fd as i32, ap, &mut addr.len) } as i64)?;
    addr.to_guest(p, at, len_at)?;
    Ok(0)
}

fn sendto(p: &mut Process, [fd, buf, len, flags, at, addr_len]: [u64; 6]) -> Result<u64, Errno> {
    let addr = if at != 0 { Some(SockAddr::from_guest(p, at, addr_len)?) } else { None };
    let (ap, al) = addr.as_ref().map_or((std::ptr::null(), 0), |a| (a.ptr(), a.len));
    let data = p.host_buf(buf, len, Dir::In);
    // SAFETY: `data` is a `HostBuf` the host reads (guest memory checked by
    // `Process::host_buf`, a stand-in of ours, or an address the kernel
    // refuses); `ap` is null or our host address of `al` bytes.
    blocking(p, || unsafe { libc::sendto(fd as i32, data.ptr as *const libc::c_void, data.len, flags as i32, ap, al) })
}

fn recvfrom(p: &mut Process, [fd, buf, len, flags, at, len_at]: [u64; 6]) -> Result<u64, Errno> {
    let out = p.host_buf(buf, len, Dir::Out);
    let mut from = SockAddr::empty();
    let fl: *mut libc::socklen_t = &mut from.len;
    let fp = from.ptr_mut();
    // SAFETY: `out` is a `HostBuf` the host fills (see `sendto`); `fp` and
    // `fl` point into `from`, our host address of `ADDR_MAX` bytes.
    let n = blocking(p, || unsafe {
        libc::recvfrom(fd as i32, out.ptr as *mut libc::c_void, out.len, flags as i32, fp, fl)
    })?;
    out.finish(p, n as usize);
    if at != 0 {
        from.to_guest(p, at, len_at)?;
    }
    Ok(n)
}

/// The most iovecs a message may have (UIO_MAXIOV).
const UIO_MAXIOV: u64 = 1024;

/// Guest iovecs as host buffers: the `HostBuf`s (kept alive through the
/// call) and the host iovecs pointing at them.
fn host_iovs(p: &mut Process, at: u64, count: u64, dir: Dir) -> Result<(Vec<HostBuf>, Vec<libc::iovec>), Errno> {
    if count > UIO_MAXIOV {
        return Err(libc::EMSGSIZE);
    }
    let raw = p.read(at, 16 * count as usize)?;
    Ok(host_iovecs(p, &raw, dir))
}

/// Control messages of SOL_SOCKET whose data are host-order words:
/// (guest type, host type, word size). Others pass as they are.
const CMSGS: &[(i32, i32, usize)] = &[
    (1, libc::SCM_RIGHTS, 4),
    (2, libc::SCM_CREDENTIALS, 4),
    (29, libc::SCM_TIMESTAMP, 8),
    (35, libc::SCM_TIMESTAMPNS, 8),
];

/// The guest's SOL_SOCKET.
const GUEST_SOL_SOCKET: i32 = 1;

const CMSG_HEADER: usize = 16;

/// Converts a control buffer (struct cmsghdr: u64 length, i32 level, i32
/// type, data aligned to 8 bytes) between the guest's form and the host's,
/// in place. A malformed header ends the walk; the rest passes as it is,
/// for the host to judge.
fn convert_cmsgs(b: &mut [u8], to_host: bool) {
    let mut at = 0;
    while at + CMSG_HEADER <= b.len() {
        let h = &mut b[at..at + CMSG_HEADER];
        if to_host {
            swap_words(&mut h[..8], 8);
            swap_words(&mut h[8..], 4);
        }
        let len = u64::from_ne_bytes(h[0..8].try_into().unwrap()) as usize;
        let level = i32::from_ne_bytes(h[8..12].try_into().unwrap());
        let kind = i32::from_ne_bytes(h[12..16].try_into().unwrap());
        let (sol, other) =
            if to_host { (GUEST_SOL_SOCKET, libc::SOL_SOCKET) } else { (libc::SOL_SOCKET, GUEST_SOL_SOCKET) };
        let (level, kind, word) = if level == sol {
            match CMSGS.iter().find(|r| kind == if to_host { r.0 } else { r.1 }) {
                Some(&(g, h, w)) => (other, if to_host { h } else { g }, w),
                None => (other, kind, 1),
            }
        } else {
            (level, kind, 1)
        };
        h[8..12].copy_from_slice(&level.to_ne_bytes());
        h[12..16].copy_from_slice(&kind.to_ne_bytes());
        if !to_host {
            swap_words(&mut h[..8], 8);
            swap_words(&mut h[8..], 4);
        }
        if len < CMSG_HEADER || len > b.len() - at {
            return;
        }
        swap_words(&mut b[at + CMSG_HEADER..at + len], word);
        at += len.next_multiple_of(8);
    }
}

/// A guest `struct msghdr` (56 bytes on 64-bit Linux).
const MSGHDR: usize = 56;

/// A guest `struct msghdr`'s fields, read and checked as Linux's
/// copy_msghdr_from_user does (a name length past the storage size is
/// cut to it).
struct MsgHdr {
    name: u64,
    name_len: u64,
    iov: u64,
    iov_len: u64,
    control: u64,
    control_len: usize,
}

impl MsgHdr {
    fn read(p: &Process, at: u64) -> Result<MsgHdr, Errno> {
        let m = p.read(at, MSGHDR)?;
        let word = |o: usize| u64::from_le_bytes(m[o..o + 8].try_into().unwrap());
        let name_len = word(8) as u32 as i32;
        if name_len < 0 {
            return Err(EINVAL);
        }
        if word(40) > i32::MAX as u64 {
            return Err(libc::ENOBUFS);
        }
        Ok(MsgHdr {
            name: word(0),
            name_len: (name_len as u64).min(ADDR_MAX as u64),
            iov: word(16),
            iov_len: word(24),
            control: word(32),
            control_len: word(40) as usize,
        })
    }
}

/// sendmsg: the header, iovecs, address and control messages converted.
fn sendmsg(p: &mut Process, fd: u64, at: u64, flags: i32) -> Result<u64, Errno> {
    let m = MsgHdr::read(p, at)?;
    let addr = if m.name != 0 { Some(SockAddr::from_guest(p, m.name, m.name_len)?) } else { None };
    let (_bufs, mut iovs) = host_iovs(p, m.iov, m.iov_len, Dir::In)?;
    let mut ctl = p.read(m.control, m.control_len)?;
    convert_cmsgs(&mut ctl, true);
    // SAFETY: msghdr is plain data; zero is a valid value.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(a) = &addr {
        hdr.msg_name = a.ptr() as *mut libc::c_void;
        hdr.msg_namelen = a.len;
    }
    hdr.msg_iov = iovs.as_mut_ptr();
    hdr.msg_iovlen = iovs.len() as _;
    if !ctl.is_empty() {
        hdr.msg_control = ctl.as_mut_ptr() as *mut libc::c_void;
        hdr.msg_controllen = ctl.len() as _;
    }
    // SAFETY: `hdr` points at our host address, our iovecs (each a
    // `HostBuf` of `_bufs`, alive through the call) and our control
    // buffer, with their lengths.
    blocking(p, || unsafe { libc::sendmsg(fd as i32, &hdr, flags) })
}

/// The most control bytes one recvmsg takes (the guest's buffer may be
/// larger; Linux fills no more than the messages queued).
const CONTROL_MAX: usize = 1 << 16;

/// recvmsg: the data, address and control messages written back, with the
/// header's lengths and flags.
fn recvmsg(p: &mut Process, fd: u64, at: u64, flags: i32) -> Result<u64, Errno> {
    let MsgHdr { name, iov, iov_len, control, control_len, .. } = MsgHdr::read(p, at)?;
    let (bufs, mut iovs) = host_iovs(p, iov, iov_len, Dir::Out)?;
    let mut from = SockAddr::empty();
    let control_len = control_len.min(CONTROL_MAX);
    let mut ctl = vec![0u64; control_len.div_ceil(8)];
    // SAFETY: msghdr is plain data; zero is a valid value.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    if name != 0 {
        hdr.msg_name = from.ptr_mut() as *mut libc::c_void;
        hdr.msg_namelen = ADDR_MAX as libc::socklen_t;
    }
    hdr.msg_iov = iovs.as_mut_ptr();
    hdr.msg_iovlen = iovs.len() as _;
    if control_len != 0 {
        hdr.msg_control = ctl.as_mut_ptr() as *mut libc::c_void;
        hdr.msg_controllen = control_len as _;
    }
    let hp: *mut libc::msghdr = &mut hdr;
    // SAFETY: `hp` points at `hdr`, which points at our host address, our
    // iovecs (each a `HostBuf` of `bufs`, alive through the call) and our
    // control buffer of `msg_controllen` bytes, for the host to fill.
    let n = blocking(p, || unsafe { libc::recvmsg(fd as i32, hp, flags) })?;
    let mut left = n as usize;
    for b in &bufs {
        b.finish(p, left.min(b.len));
        left -= left.min(b.len);
    }
    if name != 0 {
        from.len = hdr.msg_namelen;
        from.to_guest(p, name, at + 8)?;
    }
    let used = hdr.msg_controllen as usize;
    // SAFETY: the host filled `used` bytes of our control buffer, which
    // holds at least that many.
    let mut bytes = unsafe { std::slice::from_raw_parts(ctl.as_ptr() as *const u8, used) }.to_vec();
    convert_cmsgs(&mut bytes, false);
    p.write(control, &bytes)?;
    p.write_u64(at + 40, used as u64)?;
    p.write_u32(at + 48, hdr.msg_flags as u32)?;
    Ok(n)
}

const MSG_WAITFORONE: i32 = 0x10000;
const MSG_DONTWAIT: i32 = 0x40;

/// A guest `struct mmsghdr`: a msghdr and the u32 length moved.
const MMSGHDR: u64 = 64;

/// sendmmsg and recvmmsg: one `each` per message, as Linux does them: the
/// count of messages moved, or the first one's error. recvmmsg's timeout
/// is checked after each message (as Linux checks it); one too far to be a
/// time is none.
fn mmsg(
    p: &mut Process,
    [fd, at, count, flags, ..]: [u64; 6],
    timeout: Option<libc::timespec>,
    each: fn(&mut Process, u64, u64, i32) -> Result<u64, Errno>,
) -> Result<u64, Errno> {
    let deadline = Deadline::after_timespec(timeout)?;
    let mut flags = flags as i32;
    let mut done = 0;
    while done < (count as u32 as u64).min(UIO_MAXIOV) {
        let hdr = at + done * MMSGHDR;
        match each(p, fd, hdr, flags & !MSG_WAITFORONE) {
            Ok(n) => p.write_u32(hdr + 56, n as u32)?,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += 1;
        if flags & MSG_WAITFORONE != 0 {
            flags |= MSG_DONTWAIT;
        }
        if deadline.passed() {
            break;
        }
    }
    Ok(done)
}

/// SOL_SOCKET options: (guest name, host name, word size of the value's
/// host-order fields; 1 for bytes). Options not listed (those whose values
/// hold pointers, such as the filters, and unknown ones) are ENOPROTOOPT.
const SOCKOPTS: &[(i32, i32, usize)] = &[
    (1, libc::SO_DEBUG, 4),
    (2, libc::SO_REUSEADDR, 4),
    (3, libc::SO_TYPE, 4),
    (4, libc::SO_ERROR, 4),
    (5, libc::SO_DONTROUTE, 4),
    (6, libc::SO_BROADCAST, 4),
    (7, libc::SO_SNDBUF, 4),
    (8, libc::SO_RCVBUF, 4),
    (9, libc::SO_KEEPALIVE, 4),
    (10, libc::SO_OOBINLINE, 4),
    (11, libc::SO_NO_CHECK, 4),
    (12, libc::SO_PRIORITY, 4),
    (13, libc::SO_LINGER, 4),
    (15, libc::SO_REUSEPORT, 4),
    (16, libc::SO_PASSCRED, 4),
    (17, libc::SO_PEERCRED, 4),
    (18, libc::SO_RCVLOWAT, 4),
    (19, libc::SO_SNDLOWAT, 4),
    // SO_RCVTIMEO_OLD and SO_SNDTIMEO_OLD: a struct timeval, which on
    // 64-bit hosts is the _NEW variants' struct too.
    (20, libc::SO_RCVTIMEO, 8),
    (21, libc::SO_SNDTIMEO, 8),
    (25, libc::SO_BINDTODEVICE, 1),
    (29, libc::SO_TIMESTAMP, 4),
    (30, libc::SO_ACCEPTCONN, 4),
    (31, libc::SO_PEERSEC, 1),
    (32, libc::SO_SNDBUFFORCE, 4),
    (33, libc::SO_RCVBUFFORCE, 4),
    (34, libc::SO_PASSSEC, 4),
    (35, libc::SO_TIMESTAMPNS, 4),
    (36, libc::SO_MARK, 4),
    (38, libc::SO_PROTOCOL, 4),
    (39, libc::SO_DOMAIN, 4),
    (40, libc::SO_RXQ_OVFL, 4),
    (42, libc::SO_PEEK_OFF, 4),
    (46, libc::SO_BUSY_POLL, 4),
    (49, libc::SO_INCOMING_CPU, 4),
    (57, libc::SO_COOKIE, 8),
    (59, libc::SO_PEERGROUPS, 4),
    (60, libc::SO_ZEROCOPY, 4),
    (66, libc::SO_RCVTIMEO, 8), // SO_RCVTIMEO_NEW
    (67, libc::SO_SNDTIMEO, 8), // SO_SNDTIMEO_NEW
];

/// The most bytes of an option value passed to or from the host.
const OPTVAL_MAX: usize = 1 << 16;

/// An option's host level and name, and the word size of its value.
/// Options of other levels (IP, TCP, IPv6...) are numbered alike on every
/// Linux; their values are converted as an int when 4 bytes long.
fn host_option(level: u64, name: u64, len: usize) -> Result<(i32, i32, usize), Errno> {
    let (level, name) = (level as i32, name as i32);
    if level != GUEST_SOL_SOCKET {
        return Ok((level, name, if len == 4 { 4 } else { 1 }));
    }
    let &(_, host, word) = SOCKOPTS.iter().find(|o| o.0 == name).ok_or(libc::ENOPROTOOPT)?;
    Ok((libc::SOL_SOCKET, host, word))
}

fn setsockopt(p: &mut Process, [fd, level, name, at, len, _]: [u64; 6]) -> Result<u64, Errno> {
    let len = len as i32;
    if len < 0 {
        return Err(EINVAL);
    }
    let len = (len as usize).min(OPTVAL_MAX);
    let (level, name, word) = host_option(level, name, len)?;
    let mut value = p.read(at, len)?;
    swap_words(&mut value, word);
    // SAFETY: `value` is our buffer of `len` bytes, which the host reads.
    check(unsafe {
        libc::setsockopt(fd as i32, level, name, value.as_ptr() as *const libc::c_void, len as libc::socklen_t)
    } as i64)
}

fn getsockopt(p: &mut Process, [fd, level, name, at, len_at, _]: [u64; 6]) -> Result<u64, Errno> {
    let room = i32::from_le_bytes(p.read(len_at, 4)?.try_into().unwrap());
    if room < 0 {
        return Err(EINVAL);
    }
    let room = (room as usize).min(OPTVAL_MAX);
    let (level, name, word) = host_option(level, name, room)?;
    let mut value = vec![0u8; room];
    let mut len = room as libc::socklen_t;
    // SAFETY: `value` is our buffer of `len` bytes, which the host fills,
    // writing the value's length to `len`.
    check(
        unsafe { libc::getsockopt(fd as i32, level, name, value.as_mut_ptr() as *mut libc::c_void, &mut len) } as i64
    )?;
    let got = (len as usize).min(room);
    swap_words(&mut value[..got], word);
    p.write(at, &value[..got])?;
    p.write_u32(len_at, len)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_type_flags_are_open_flags() {
        assert_eq!(sock_type(1 | SOCK_NONBLOCK | SOCK_CLOEXEC), Ok(1 | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC));
        assert_eq!(sock_type(2 | 0o100), Err(EINVAL));
    }

    #[test]
    fn control_messages_round_trip() {
        // SCM_RIGHTS with two descriptors, then an unknown IP message.
        let mut b = Vec::new();
        b.extend_from_slice(&24u64.to_le_bytes());
        b.extend_from_slice(&1i32.to_le_bytes());
        b.extend_from_slice(&1i32.to_le_bytes());
        b.extend_from_slice(&5i32.to_le_bytes());
        b.extend_from_slice(&6i32.to_le_bytes());
        b.extend_from_slice(&20u64.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&8i32.to_le_bytes());
        b.extend_from_slice(&[9, 9, 9, 9, 0, 0, 0, 0]);
        let guest = b.clone();
        convert_cmsgs(&mut b, true);
        assert_eq!(i32::from_ne_bytes(b[8..12].try_into().unwrap()), libc::SOL_SOCKET);
        assert_eq!(i32::from_ne_bytes(b[12..16].try_into().unwrap()), libc::SCM_RIGHTS);
        assert_eq!(i32::from_ne_bytes(b[20..24].try_into().unwrap()), 6);
        convert_cmsgs(&mut b, false);
        assert_eq!(b, guest);
    }

    #[test]
    fn a_control_length_past_the_buffer_ends_the_walk() {
        // An empty message, then one whose length would wrap the offset.
        let mut b = [16u64.to_le_bytes(), [1, 0, 0, 0, 1, 0, 0, 0], (u64::MAX - 7).to_le_bytes(), [0; 8]].concat();
        let guest = b.clone();
        convert_cmsgs(&mut b, true);
        convert_cmsgs(&mut b, false);
        assert_eq!(b, guest);
    }

    #[test]
    fn socket_options_map_to_the_hosts() {
        assert_eq!(host_option(1, 2, 4), Ok((libc::SOL_SOCKET, libc::SO_REUSEADDR, 4)));
        assert_eq!(host_option(1, 26, 16), Err(libc::ENOPROTOOPT)); // SO_ATTACH_FILTER
        assert_eq!(host_option(6, 1, 4), Ok((6, 1, 4))); // TCP_NODELAY
    }
}
