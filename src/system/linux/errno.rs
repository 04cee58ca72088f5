//! Linux error numbers (the same on every Linux architecture visa hosts).

pub type Errno = i32;

pub const EPERM: Errno = 1;
pub const EINTR: Errno = 4;
pub const E2BIG: Errno = 7;
pub const ENOEXEC: Errno = 8;
pub const EBADF: Errno = 9;
pub const EAGAIN: Errno = 11;
pub const ENOMEM: Errno = 12;
pub const EACCES: Errno = 13;
pub const EFAULT: Errno = 14;
pub const EEXIST: Errno = 17;
pub const EINVAL: Errno = 22;
pub const ENOTTY: Errno = 25;
pub const ERANGE: Errno = 34;
pub const ENAMETOOLONG: Errno = 36;
pub const ENOSYS: Errno = 38;

/// The errno of the last failed host call.
pub fn last() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(EINVAL)
}

/// A host call's return value as a syscall result: -1 becomes `-errno`.
pub fn check(ret: i64) -> Result<u64, Errno> {
    if ret < 0 { Err(last()) } else { Ok(ret as u64) }
}
