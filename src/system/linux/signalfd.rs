//! signalfd descriptors. The guest's signals pend in visa (see `signals`),
//! never on the host, so a signalfd is visa's own object: the guest's
//! descriptor is the read end of a host pipe, which holds one byte while a
//! signal of the descriptor's mask is pending for the process or any of its
//! threads and nothing otherwise, so that poll, select and epoll wait on it
//! as on any descriptor; a read of it is answered by visa, which takes
//! signals from the guest's pending sets (see `syscall::signalfd`). A
//! signalfd is known by its pipe (device and inode), whatever descriptor
//! number the guest reaches it by (dup, dup2 and fork keep it).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::errno::{Errno, check};
use crate::system::host_fds::OwnFd;

/// One signalfd: its pipe and mask.
pub struct SignalFd {
    /// The pipe's device and inode.
    id: (u64, u64),
    /// visa's own ends: the read end to take the byte back, the write end
    /// (non-blocking) to put it in.
    read: OwnFd,
    write: OwnFd,
    mask: u64,
}

/// The process's signalfds.
#[derive(Default)]
pub struct SignalFds {
    /// How many there are: while none, nothing here costs more than a load.
    count: AtomicUsize,
    list: Mutex<Vec<SignalFd>>,
}

/// The device and inode of a descriptor's file, when it is a pipe.
fn pipe_id(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: stat is plain data the host fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a host stat of ours; a bad descriptor fails.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

/// The errno of a failed host call on visa's own descriptors.
fn host_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(libc::EMFILE)
}

/// The bytes waiting in a pipe.
fn queued(fd: i32) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int, `n`, ours.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } != 0 {
        return 0;
    }
    n
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SignalFds {
    /// Makes a signalfd for `mask`: the guest's descriptor (the lowest
    /// free number, as Linux gives), with `flags` (host O_CLOEXEC and
    /// O_NONBLOCK) on it.
    pub fn create(&self, mask: u64, flags: i32) -> Result<u64, Errno> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two ints of `fds`, ours.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as i64)?;
        // SAFETY: the two descriptors were just made; the guest's is
        // handed over, the write end is closed once duplicated.
        let (guest, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let write = OwnFd::adopt(write).map_err(host_errno)?;
        let read = OwnFd::duplicate(guest.as_raw_fd()).map_err(host_errno)?;
        // SAFETY: setting descriptor flags, integers only.
        unsafe {
            check(write.with(|fd| libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK)) as i64)?;
            check(libc::fcntl(guest.as_raw_fd(), libc::F_SETFL, flags & libc::O_NONBLOCK) as i64)?;
            if flags & libc::O_CLOEXEC == 0 {
                check(libc::fcntl(guest.as_raw_fd(), libc::F_SETFD, 0) as i64)?;
            }
        }
        let id = pipe_id(guest.as_raw_fd()).expect("a pipe");
        let mut list = lock(&self.list);
        self.reap(&mut list);
        list.push(SignalFd { id, read, write, mask });
        self.count.store(list.len(), Ordering::SeqCst);
        drop(list);
        Ok(std::os::fd::IntoRawFd::into_raw_fd(guest) as u64)
    }

    /// Drops the signalfds no guest descriptor refers to any more (only
    /// visa's own two ends of the pipe are left).
    fn reap(&self, list: &mut Vec<SignalFd>) {
        if list.is_empty() {
            return;
        }
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
        let mut refs = vec![0usize; list.len()];
        for entry in dir.flatten() {
            let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            if let Some(id) = pipe_id(fd)
                && let Some(i) = list.iter().position(|s| s.id == id)
            {
                refs[i] += 1;
            }
        }
        let mut refs = refs.into_iter();
        list.retain(|_| refs.next().is_some_and(|n| n > 2));
    }

    /// The mask of the signalfd `fd` is, if it is one.
    pub fn mask_of(&self, fd: i32) -> Option<u64> {
        if self.count.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let id = pipe_id(fd)?;
        lock(&self.list).iter().find(|s| s.id == id).map(|s| s.mask)
    }

    /// signalfd on an existing descriptor: its new mask; false when `fd` is
    /// not a signalfd.
    pub fn set_mask(&self, fd: i32, mask: u64) -> bool {
        let Some(id) = pipe_id(fd) else { return false };
        let mut list = lock(&self.list);
        let Some(s) = list.iter_mut().find(|s| s.id == id) else { return false };
        s.mask = mask;
        true
    }

    /// Brings every signalfd's byte in line with the signals pending
    /// (`pending`, computed under the lock so that two threads' updates
    /// cannot cross).
    pub fn refresh(&self, pending: impl FnOnce() -> u64) {
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let list = lock(&self.list);
        let pending = pending();
        for s in list.iter() {
            let have = s.read.with(queued);
            if pending & s.mask != 0 {
                if have == 0 {
                    // SAFETY: writing one byte of ours to our pipe's
                    // non-blocking write end.
                    s.write.with(|fd| unsafe { libc::write(fd, [1u8].as_ptr() as *const libc::c_void, 1) });
                }
            } else if have > 0 {
                let mut sink = vec![0u8; have as usize];
                // SAFETY: reading the `have` bytes FIONREAD counted into a
                // buffer of ours of that size.
                s.read.with(|fd| unsafe { libc::read(fd, sink.as_mut_ptr() as *mut libc::c_void, sink.len()) });
            }
        }
    }

    /// Holds the list while the host forks (see `signals::ForkHold`).
    pub fn hold(&self) -> MutexGuard<'_, Vec<SignalFd>> {
        lock(&self.list)
    }
}
