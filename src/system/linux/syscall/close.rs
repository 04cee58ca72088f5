//! close and close_range over the guest's descriptors, which are the
//! host's: visa's own descriptors in the same table (see
//! `system::host_fds`) are not the guest's, so closing one is EBADF and a
//! range passes over them.

use super::super::errno::{EBADF, EINVAL, Errno, check};
use super::host::int_call;
use super::{Arg, Entry};
use crate::system::host_fds;

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[(3, "close", &[Int], close), (436, "close_range", &[Int, Int, Hex], close_range)];

const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;
const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

fn close(_: &mut super::super::process::Process, [fd, ..]: [u64; 6]) -> Result<u64, Errno> {
    let fd = fd as i32;
    if host_fds::is_own(fd) {
        return Err(EBADF);
    }
    check(int_call!(libc::close(fd)) as i64)
}

/// close_range(first, last, flags): closes (or with CLOSE_RANGE_CLOEXEC
/// marks close-on-exec) the guest's descriptors from `first` to `last`,
/// after making the calling thread's table its own with
/// CLOSE_RANGE_UNSHARE. The host does it piece by piece between visa's
/// own descriptors.
fn close_range(_: &mut super::super::process::Process, [first, last, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    // The kernel takes three unsigned ints.
    let (first, last, flags) = (first as u32, last as u32, flags as u32);
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(EINVAL);
    }
    if flags & CLOSE_RANGE_UNSHARE != 0 {
        check(int_call!(libc::unshare(libc::CLONE_FILES)) as i64)?;
    }
    let host_flags = flags & CLOSE_RANGE_CLOEXEC;
    // The pieces between visa's descriptors (u64: `last` may be the
    // largest u32).
    let mut from = u64::from(first);
    for own in host_fds::own_in(first, last).into_iter().map(u64::from).chain([u64::from(last) + 1]) {
        if own > from {
            host_close_range(from as u32, (own - 1) as u32, host_flags)?;
        }
        from = own + 1;
    }
    Ok(0)
}

fn host_close_range(first: u32, last: u32, flags: u32) -> Result<(), Errno> {
    // SAFETY: close_range takes integers only; the descriptors it closes
    // are the guest's.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) })?;
    Ok(())
}
