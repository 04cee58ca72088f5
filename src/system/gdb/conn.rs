//! gdb's connection as the stub sees it: replies go straight to the
//! socket; requests come from an inbox that one thread alone fills (the
//! stub's reader), so no byte gdb sends is ever taken by two readers, and
//! the stub can ask whether a byte is there without waiting for one.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::system::host_fds::OwnFd;

use gdbstub::conn::Connection;

/// What the inbox holds next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Byte(u8),
    /// Nothing yet.
    Empty,
    /// gdb closed the connection (or it broke), and every byte was taken.
    Closed,
}

#[derive(Default)]
struct Queue {
    bytes: VecDeque<u8>,
    closed: bool,
}

/// The bytes gdb sent that the stub has not taken yet.
#[derive(Default)]
pub struct Inbox {
    queue: Mutex<Queue>,
    arrived: Condvar,
}

impl Inbox {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues bytes read from gdb; none: the connection closed.
    pub fn put(&self, bytes: &[u8]) {
        let mut q = self.queue();
        if bytes.is_empty() {
            q.closed = true;
        } else {
            q.bytes.extend(bytes);
        }
        self.arrived.notify_all();
    }

    fn next(q: &mut Queue) -> Next {
        match q.bytes.pop_front() {
            Some(b) => Next::Byte(b),
            None if q.closed => Next::Closed,
            None => Next::Empty,
        }
    }

    /// The next byte if one is there, without waiting.
    pub fn try_take(&self) -> Next {
        Self::next(&mut self.queue())
    }

    /// The next byte, waiting for it; none once the connection closed.
    pub fn take(&self) -> Option<u8> {
        let mut q = self.queue();
        loop {
            match Self::next(&mut q) {
                Next::Byte(b) => return Some(b),
                Next::Closed => return None,
                Next::Empty => q = self.arrived.wait(q).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

/// The stub's end of the connection.
pub struct Conn {
    stream: Arc<OwnFd>,
    pub inbox: Arc<Inbox>,
}

impl Conn {
    pub fn new(stream: Arc<OwnFd>, inbox: Arc<Inbox>) -> Conn {
        Conn { stream, inbox }
    }
}

impl Connection for Conn {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> std::io::Result<()> {
        (&*self.stream).write_all(&[byte])
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        (&*self.stream).write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn on_session_start(&mut self) -> std::io::Result<()> {
        // Each reply is a packet of its own: no waiting to fill a segment.
        let on: libc::c_int = 1;
        // SAFETY: TCP_NODELAY reads one int, `on`, ours.
        let r = self.stream.with(|fd| unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                &on as *const libc::c_int as *const libc::c_void,
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        });
        if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }
}

/// Makes descriptors of the connection in this process read and write
/// /dev/null instead (the numbers stay taken, by whatever still owns them),
/// or closes them when /dev/null cannot be opened; the connection itself is
/// left to the other processes that hold it.
pub fn let_go(fds: &[Arc<OwnFd>]) {
    // SAFETY: a path of ours.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    for own in fds {
        // SAFETY: the descriptors are this process's, and dup3 replaces
        // each atomically (a socket of a forked parent's).
        own.with(|fd| unsafe {
            if null < 0 {
                libc::close(fd);
            } else {
                libc::dup3(null, fd, libc::O_CLOEXEC);
            }
        });
    }
    if null >= 0 {
        // SAFETY: ours, closed once.
        unsafe { libc::close(null) };
    }
}

/// Waits (without holding the number, see `OwnFd::racy_number`) until
/// `fd` may be readable, or a while has passed: a caller then tries again
/// without waiting.
pub fn wait_readable(fd: &OwnFd) {
    let mut p = libc::pollfd { fd: fd.racy_number(), events: libc::POLLIN, revents: 0 };
    // SAFETY: poll reads and writes one pollfd, ours; on a number that is
    // no longer visa's it only waits.
    unsafe { libc::poll(&mut p, 1, 200) };
}
