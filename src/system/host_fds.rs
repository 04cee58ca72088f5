//! The host descriptors visa holds for itself (the `-D` log, the perf map,
//! gdb's listener and connection, signalfd pipes' private ends): a guest
//! shares the host's descriptor table, so they must stay out of its way.
//! Each is an [`OwnFd`], which keeps it at or above [`PRIVATE_FDS`] (the
//! guest's first open gets 3, as natively), makes the guest's close and
//! close_range pass over it, and moves it to a free number when the
//! guest's dup2 or dup3 names its number ([`make_room`]), so the guest
//! gets the number and visa keeps its file. Descriptors open before the
//! guest's first instruction that no [`OwnFd`] holds are found by
//! `adopt_open` (Rust opens every file close-on-exec, and a freshly exec'd
//! process holds no other close-on-exec descriptor): they are passed over
//! by close, but a dup2 onto one replaces it. Each registered descriptor
//! is known by its number and its file (device and inode), so one that
//! its owner closed without saying so is not mistaken for the guest's
//! file that later gets its number.

use std::collections::BTreeMap;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, Weak};

/// visa's own descriptors go at or above this number, out of the way of
/// the low numbers the guest expects to get.
pub const PRIVATE_FDS: i32 = 512;

type File = (u64, u64);

/// What the registry knows of one of visa's descriptors.
struct Own {
    file: File,
    /// The number's holder, which a move updates; none for a descriptor
    /// found by `adopt_open`.
    slot: Option<Weak<Slot>>,
}

/// The number an [`OwnFd`] is at now. Short operations hold it read for
/// their length, so that a move (which holds it written) never falls
/// between reading the number and using it.
type Slot = RwLock<RawFd>;

static OWN: Mutex<BTreeMap<i32, Own>> = Mutex::new(BTreeMap::new());

fn own() -> MutexGuard<'static, BTreeMap<i32, Own>> {
    OWN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The device and inode of the file `fd` is open on.
fn file_of(fd: i32) -> Option<File> {
    // SAFETY: stat is plain data the host fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is ours; a closed descriptor fails.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

/// Is `fd` registered and still open on the file it was registered with?
fn still_own(set: &BTreeMap<i32, Own>, fd: i32) -> bool {
    set.get(&fd).is_some_and(|o| file_of(fd) == Some(o.file))
}

/// A duplicate of `fd`, close-on-exec, at the lowest free number at or
/// above [`PRIVATE_FDS`].
fn private_dup(fd: RawFd) -> std::io::Result<RawFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer; the new descriptor is the
    // caller's.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, PRIVATE_FDS) };
    if new < 0 { Err(std::io::Error::last_os_error()) } else { Ok(new) }
}

/// A descriptor of visa's own, registered while it is open, at a number
/// that may change (see the module's doc): use it through [`OwnFd::with`].
pub struct OwnFd(Arc<Slot>);

impl OwnFd {
    /// Takes `fd` (open, owned by nobody else) as visa's own, moved to
    /// [`PRIVATE_FDS`] or above (close-on-exec) if it is below.
    pub fn adopt(fd: OwnedFd) -> std::io::Result<OwnFd> {
        let fd = fd.into_raw_fd();
        let fd = if fd < PRIVATE_FDS {
            let moved = private_dup(fd);
            // SAFETY: the descriptor handed over, closed once (the
            // duplicate, if made, holds the file).
            unsafe { libc::close(fd) };
            moved?
        } else {
            fd
        };
        let slot = Arc::new(RwLock::new(fd));
        let file = file_of(fd).ok_or_else(std::io::Error::last_os_error)?;
        own().insert(fd, Own { file, slot: Some(Arc::downgrade(&slot)) });
        Ok(OwnFd(slot))
    }

    fn number(&self) -> RwLockReadGuard<'_, RawFd> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the descriptor's number, which stays this descriptor's
    /// while `f` runs: `f` must not block for long (a guest dup2 onto the
    /// number waits for it).
    pub fn with<R>(&self, f: impl FnOnce(RawFd) -> R) -> R {
        f(*self.number())
    }

    /// The number now, for a blocking call that cannot hold it (poll):
    /// by the time the call runs, the number may be the guest's, so what
    /// the call does must be harmless to any descriptor.
    pub fn racy_number(&self) -> RawFd {
        *self.number()
    }

    /// A second descriptor of the same file, visa's own as well.
    pub fn try_clone(&self) -> std::io::Result<OwnFd> {
        self.with(OwnFd::duplicate)
    }

    /// A descriptor of visa's own on the file `fd` (anyone's) is open on.
    pub fn duplicate(fd: RawFd) -> std::io::Result<OwnFd> {
        let new = private_dup(fd)?;
        // SAFETY: a descriptor just made, owned by nobody else.
        OwnFd::adopt(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(new) })
    }
}

/// Host calls on an [`OwnFd`] that return -1 and set errno on failure.
fn io(r: isize) -> std::io::Result<usize> {
    if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(r as usize) }
}

impl std::io::Write for &OwnFd {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: writing `buf`, ours, to visa's descriptor.
        io(self.with(|fd| unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) }))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Write for OwnFd {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Read for &OwnFd {
    /// Reads what a socket holds without waiting (one that would block
    /// gives `WouldBlock`): the number is held for the call's length only.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: reading into `buf`, ours, from visa's descriptor.
        io(self
            .with(|fd| unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), libc::MSG_DONTWAIT) }))
    }
}

impl Drop for OwnFd {
    fn drop(&mut self) {
        // Closed and forgotten under the lock, so no guest close sees the
        // number in between as visa's own.
        let mut set = own();
        let fd = *self.0.write().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: our descriptor, closed once.
        unsafe { libc::close(fd) };
        set.remove(&fd);
    }
}

/// Registers `fd` (open) as visa's own, with no holder to move it.
fn register(fd: i32) {
    if let Some(file) = file_of(fd) {
        own().insert(fd, Own { file, slot: None });
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

/// Before the guest's dup2 or dup3 onto `fd`: if it is one of visa's own
/// that an [`OwnFd`] holds, moves it to a free number and closes `fd`, so
/// the guest's call takes a number that is free, as the guest sees it.
/// Fails (with the host's errno) only when no number is free.
pub fn make_room(fd: i32) -> Result<(), i32> {
    let mut set = own();
    if !still_own(&set, fd) {
        return Ok(());
    }
    let Some(slot) = set[&fd].slot.as_ref().and_then(Weak::upgrade) else { return Ok(()) };
    let mut number = slot.write().unwrap_or_else(PoisonError::into_inner);
    let moved = private_dup(fd).map_err(|e| e.raw_os_error().unwrap_or(libc::EMFILE))?;
    *number = moved;
    let entry = set.remove(&fd).expect("registered");
    set.insert(moved, entry);
    // SAFETY: visa's old number of the file, which the duplicate now holds.
    unsafe { libc::close(fd) };
    Ok(())
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
        if flags >= 0 && flags & libc::FD_CLOEXEC != 0 && !own().contains_key(&fd) {
            register(fd);
        }
    }
}
