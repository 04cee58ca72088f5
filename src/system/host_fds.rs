//! The host descriptors visa holds for itself (the `-D` log, the perf map,
//! gdb's listener and connection, signalfd pipes' private ends): a guest
//! shares the host's descriptor table, so its close and close_range must
//! pass over these. Descriptors visa opened before the guest's first
//! instruction are found by `adopt_open` (Rust opens every file
//! close-on-exec, and a freshly exec'd process holds no other
//! close-on-exec descriptor); those opened later are registered by their
//! owner. Each is known by its number and its file (device and inode), so
//! a registered descriptor that its owner closed without saying so is
//! not mistaken for the guest's file that later gets its number.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard, PoisonError};

type File = (u64, u64);

static OWN: Mutex<BTreeMap<i32, File>> = Mutex::new(BTreeMap::new());

fn own() -> MutexGuard<'static, BTreeMap<i32, File>> {
    OWN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The device and inode of the file `fd` is open on.
fn file_of(fd: i32) -> Option<File> {
    // SAFETY: stat is plain data the host fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is ours; a closed descriptor fails.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

/// `fd` (open) is visa's own from now on.
pub fn register(fd: i32) {
    if let Some(file) = file_of(fd) {
        own().insert(fd, file);
    }
}

/// Is `fd` registered and still open on the file it was registered with?
fn still_own(set: &BTreeMap<i32, File>, fd: i32) -> bool {
    set.get(&fd).is_some_and(|f| file_of(fd) == Some(*f))
}

/// A descriptor of visa's own, registered while it is open.
pub struct OwnFd(i32);

impl OwnFd {
    /// Takes `fd` (open, owned by nobody else) as visa's own.
    pub fn adopt(fd: OwnedFd) -> OwnFd {
        let fd = fd.into_raw_fd();
        register(fd);
        OwnFd(fd)
    }
}

impl AsRawFd for OwnFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl Drop for OwnFd {
    fn drop(&mut self) {
        // Closed and forgotten under the lock, so no guest close sees the
        // number in between as visa's own.
        let mut set = own();
        // SAFETY: our descriptor, closed once.
        unsafe { libc::close(self.0) };
        set.remove(&self.0);
    }
}

/// Is `fd` one of visa's own descriptors?
pub fn is_own(fd: i32) -> bool {
    still_own(&own(), fd)
}

/// visa's own descriptors from `first` to `last`, in order.
pub fn own_in(first: u32, last: u32) -> Vec<u32> {
    let set = own();
    let last = last.min(i32::MAX as u32) as i32;
    let first = first.min(i32::MAX as u32) as i32;
    set.range(first..=last).filter(|(fd, _)| still_own(&set, **fd)).map(|(fd, _)| *fd as u32).collect()
}

/// Registers every open close-on-exec descriptor: called once, before the
/// guest runs, when all of them are visa's.
pub fn adopt_open() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    // The listing's own descriptor is closed once the loop ends.
    let fds: Vec<i32> = dir.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok())).collect();
    for fd in fds {
        // SAFETY: F_GETFD takes no argument; a closed descriptor fails.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
            register(fd);
        }
    }
}
