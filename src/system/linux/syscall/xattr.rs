//! Extended attributes: get, set, list and remove, on a path (following
//! links or not) or a descriptor. Names and values go to the host as they
//! are (the attribute calls have one ABI on every Linux); value buffers are
//! `HostBuf`s, so a bad buffer fails as Linux fails it.

use std::ffi::CString;

use super::super::errno::{Errno, check};
use super::super::process::{Dir, Process};
use super::paths::path_arg;
use super::{Arg, Entry};

use Arg::{Hex, Int, Str};

pub const TABLE: &[Entry] = &[
    (188, "setxattr", &[Str, Str, Hex, Int, Hex], |p, a| set(p, Target::Path(a[0]), a)),
    (189, "lsetxattr", &[Str, Str, Hex, Int, Hex], |p, a| set(p, Target::Link(a[0]), a)),
    (190, "fsetxattr", &[Int, Str, Hex, Int, Hex], |p, a| set(p, Target::Fd(a[0]), a)),
    (191, "getxattr", &[Str, Str, Hex, Int], |p, a| get(p, Target::Path(a[0]), a)),
    (192, "lgetxattr", &[Str, Str, Hex, Int], |p, a| get(p, Target::Link(a[0]), a)),
    (193, "fgetxattr", &[Int, Str, Hex, Int], |p, a| get(p, Target::Fd(a[0]), a)),
    (194, "listxattr", &[Str, Hex, Int], |p, a| list(p, Target::Path(a[0]), a)),
    (195, "llistxattr", &[Str, Hex, Int], |p, a| list(p, Target::Link(a[0]), a)),
    (196, "flistxattr", &[Int, Hex, Int], |p, a| list(p, Target::Fd(a[0]), a)),
    (197, "removexattr", &[Str, Str], |p, a| remove(p, Target::Path(a[0]), a)),
    (198, "lremovexattr", &[Str, Str], |p, a| remove(p, Target::Link(a[0]), a)),
    (199, "fremovexattr", &[Int, Str], |p, a| remove(p, Target::Fd(a[0]), a)),
];

/// What an attribute call acts on: a path (followed), a path's own link,
/// or an open descriptor; each the guest's argument.
#[derive(Clone, Copy)]
enum Target {
    Path(u64),
    Link(u64),
    Fd(u64),
}

/// The host syscall numbers for a target: (path, link, fd) forms.
fn host_call(t: Target, (path, link, fd): (libc::c_long, libc::c_long, libc::c_long)) -> libc::c_long {
    match t {
        Target::Path(_) => path,
        Target::Link(_) => link,
        Target::Fd(_) => fd,
    }
}

/// The first argument as the host takes it: a path of ours or a descriptor.
enum HostTarget {
    Path(CString),
    Fd(i64),
}

impl HostTarget {
    fn of(p: &Process, t: Target) -> Result<HostTarget, Errno> {
        match t {
            Target::Path(at) | Target::Link(at) => Ok(HostTarget::Path(path_arg(p, at)?)),
            Target::Fd(fd) => Ok(HostTarget::Fd(fd as i32 as i64)),
        }
    }

    /// The argument word: the path's address (alive as long as `self`) or the descriptor.
    fn word(&self) -> libc::c_long {
        match self {
            HostTarget::Path(c) => c.as_ptr() as libc::c_long,
            HostTarget::Fd(fd) => *fd as libc::c_long,
        }
    }
}

fn get(p: &mut Process, t: Target, [_, name, value, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    let (target, name) = (HostTarget::of(p, t)?, p.read_path(name)?);
    let out = p.host_buf(value, size, Dir::Out);
    let nr = host_call(t, (libc::SYS_getxattr, libc::SYS_lgetxattr, libc::SYS_fgetxattr));
    // SAFETY: the target word is a descriptor or the address of a `CString`
    // of ours, `name` is a `CString` of ours, and `out` is a `HostBuf` of
    // `out.len` bytes (see `Process::host_buf`); all live through the call.
    let n = check(unsafe { libc::syscall(nr, target.word(), name.as_ptr(), out.ptr, out.len) })?;
    out.finish(p, n as usize);
    Ok(n)
}

fn set(p: &mut Process, t: Target, [_, name, value, size, flags, _]: [u64; 6]) -> Result<u64, Errno> {
    let (target, name) = (HostTarget::of(p, t)?, p.read_path(name)?);
    let data = p.host_buf(value, size, Dir::In);
    let nr = host_call(t, (libc::SYS_setxattr, libc::SYS_lsetxattr, libc::SYS_fsetxattr));
    // SAFETY: as for `get`; the host only reads `data`.
    check(unsafe { libc::syscall(nr, target.word(), name.as_ptr(), data.ptr, data.len, flags as i32) })
}

fn list(p: &mut Process, t: Target, [_, buf, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    let target = HostTarget::of(p, t)?;
    let out = p.host_buf(buf, size, Dir::Out);
    let nr = host_call(t, (libc::SYS_listxattr, libc::SYS_llistxattr, libc::SYS_flistxattr));
    // SAFETY: as for `get`.
    let n = check(unsafe { libc::syscall(nr, target.word(), out.ptr, out.len) })?;
    out.finish(p, n as usize);
    Ok(n)
}

fn remove(p: &mut Process, t: Target, [_, name, ..]: [u64; 6]) -> Result<u64, Errno> {
    let (target, name) = (HostTarget::of(p, t)?, p.read_path(name)?);
    let nr = host_call(t, (libc::SYS_removexattr, libc::SYS_lremovexattr, libc::SYS_fremovexattr));
    // SAFETY: the target word is a descriptor or a `CString` of ours, and
    // `name` is a `CString` of ours, alive through the call.
    check(unsafe { libc::syscall(nr, target.word(), name.as_ptr()) })
}
