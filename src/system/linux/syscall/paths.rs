//! Names and metadata: the stat family (converted to the x86-64 `struct
//! stat`), statx, statfs, directories (getdents64, getcwd, chdir, mkdir,
//! rmdir), links, renames, permissions, ownership and times. Paths go to
//! the host as they are, except `/proc/self/exe`, which names the guest
//! program rather than visa.

use std::ffi::CString;

use super::super::errno::{EINVAL, ERANGE, Errno, check};
use super::super::process::{Dir, Process};
use super::byteorder::{Layout, size, swap_fields};
use super::fs::AT_FDCWD;
use super::host::int_call;
use super::misc::read_timespec;
use super::{Arg, Entry};

use Arg::{Hex, Int, Str};

pub const TABLE: &[Entry] = &[
    (4, "stat", &[Str, Hex], |p, a| newfstatat(p, [AT_FDCWD, a[0], a[1], 0, 0, 0])),
    (5, "fstat", &[Int, Hex], fstat),
    (6, "lstat", &[Str, Hex], |p, a| newfstatat(p, [AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW, 0, 0])),
    (21, "access", &[Str, Hex], |p, a| faccessat(p, [AT_FDCWD, a[0], a[1], 0, 0, 0])),
    (76, "truncate", &[Str, Int], |p, a| {
        let path = path_arg(p, a[0])?;
        // SAFETY: `path` is a NUL-terminated `CString` of ours.
        check(unsafe { libc::truncate(path.as_ptr(), a[1] as i64) } as i64)
    }),
    (79, "getcwd", &[Hex, Int], getcwd),
    (80, "chdir", &[Str], |p, a| {
        let path = path_arg(p, a[0])?;
        // SAFETY: `path` is a NUL-terminated `CString` of ours.
        check(unsafe { libc::chdir(path.as_ptr()) } as i64)
    }),
    (81, "fchdir", &[Int], |_, a| check(int_call!(libc::fchdir(a[0] as i32)) as i64)),
    (82, "rename", &[Str, Str], |p, a| renameat2(p, [AT_FDCWD, a[0], AT_FDCWD, a[1], 0, 0])),
    (83, "mkdir", &[Str, Hex], |p, a| mkdirat(p, [AT_FDCWD, a[0], a[1], 0, 0, 0])),
    (84, "rmdir", &[Str], |p, a| unlinkat(p, [AT_FDCWD, a[0], AT_REMOVEDIR, 0, 0, 0])),
    (86, "link", &[Str, Str], |p, a| linkat(p, [AT_FDCWD, a[0], AT_FDCWD, a[1], 0, 0])),
    (87, "unlink", &[Str], |p, a| unlinkat(p, [AT_FDCWD, a[0], 0, 0, 0, 0])),
    (88, "symlink", &[Str, Str], |p, a| symlinkat(p, [a[0], AT_FDCWD, a[1], 0, 0, 0])),
    (89, "readlink", &[Str, Hex, Int], |p, a| readlinkat(p, [AT_FDCWD, a[0], a[1], a[2], 0, 0])),
    (90, "chmod", &[Str, Hex], |p, a| fchmodat(p, [AT_FDCWD, a[0], a[1], 0, 0, 0])),
    (91, "fchmod", &[Int, Hex], |_, a| check(int_call!(libc::fchmod(a[0] as i32, a[1] as libc::mode_t)) as i64)),
    (92, "chown", &[Str, Int, Int], |p, a| fchownat(p, [AT_FDCWD, a[0], a[1], a[2], 0, 0])),
    (93, "fchown", &[Int, Int, Int], |_, a| {
        check(int_call!(libc::fchown(a[0] as i32, a[1] as u32, a[2] as u32)) as i64)
    }),
    (94, "lchown", &[Str, Int, Int], |p, a| fchownat(p, [AT_FDCWD, a[0], a[1], a[2], AT_SYMLINK_NOFOLLOW, 0])),
    (137, "statfs", &[Str, Hex], statfs),
    (138, "fstatfs", &[Int, Hex], fstatfs),
    (162, "sync", &[], |_, _| {
        int_call!(libc::sync());
        Ok(0)
    }),
    (217, "getdents64", &[Int, Hex, Int], getdents64),
    (258, "mkdirat", &[Int, Str, Hex], mkdirat),
    (260, "fchownat", &[Int, Str, Int, Int, Hex], fchownat),
    (262, "newfstatat", &[Int, Str, Hex, Hex], newfstatat),
    (263, "unlinkat", &[Int, Str, Hex], unlinkat),
    (264, "renameat", &[Int, Str, Int, Str], |p, a| renameat2(p, [a[0], a[1], a[2], a[3], 0, 0])),
    (265, "linkat", &[Int, Str, Int, Str, Hex], linkat),
    (266, "symlinkat", &[Str, Int, Str], symlinkat),
    (267, "readlinkat", &[Int, Str, Hex, Int], readlinkat),
    (268, "fchmodat", &[Int, Str, Hex], fchmodat),
    (269, "faccessat", &[Int, Str, Hex], faccessat),
    (280, "utimensat", &[Int, Str, Hex, Hex], utimensat),
    (316, "renameat2", &[Int, Str, Int, Str, Hex], renameat2),
    (332, "statx", &[Int, Str, Hex, Hex, Hex], statx),
    (439, "faccessat2", &[Int, Str, Hex, Hex], faccessat),
];

const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;

/// Is this the path of our own executable (which the guest sees as its own)?
fn is_self_exe(path: &[u8]) -> bool {
    path == b"/proc/self/exe" || path == format!("/proc/{}/exe", std::process::id()).as_bytes()
}

/// A path argument as the host should see it.
pub fn path_arg(p: &Process, addr: u64) -> Result<CString, Errno> {
    let path = p.read_path(addr)?;
    if is_self_exe(path.as_bytes()) {
        return CString::new(p.exe.clone()).map_err(|_| EINVAL);
    }
    Ok(p.sysroot.lookup_c(&path))
}

/// Writes a host `struct stat` as the x86-64 one (144 bytes). (Field
/// types vary by host, hence the casts.)
#[allow(clippy::unnecessary_cast)]
fn write_stat(p: &mut Process, at: u64, st: &libc::stat) -> Result<u64, Errno> {
    let mut b = [0u8; 144];
    let mut put = |off: usize, v: u64, n: usize| b[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
    put(0, st.st_dev, 8);
    put(8, st.st_ino, 8);
    put(16, st.st_nlink as u64, 8);
    put(24, st.st_mode as u64, 4);
    put(28, st.st_uid as u64, 4);
    put(32, st.st_gid as u64, 4);
    put(40, st.st_rdev, 8);
    put(48, st.st_size as u64, 8);
    put(56, st.st_blksize as u64, 8);
    put(64, st.st_blocks as u64, 8);
    put(72, st.st_atime as u64, 8);
    put(80, st.st_atime_nsec as u64, 8);
    put(88, st.st_mtime as u64, 8);
    put(96, st.st_mtime_nsec as u64, 8);
    put(104, st.st_ctime as u64, 8);
    put(112, st.st_ctime_nsec as u64, 8);
    p.write(at, &b)?;
    Ok(0)
}

fn fstat(p: &mut Process, [fd, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: plain data the host fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd as i32, &mut st) } as i64)?;
    write_stat(p, at, &st)
}

fn newfstatat(p: &mut Process, [dirfd, path, at, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: plain data the host fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(dirfd as i32, path.as_ptr(), &mut st, flags as i32) } as i64)?;
    write_stat(p, at, &st)
}

/// `struct statx` (256 bytes): mask and block size, attributes, nlink uid
/// gid, mode and padding, ino size blocks and attribute mask, four
/// timestamps (seconds, nanoseconds, padding), the device numbers, mount
/// id, direct I/O alignments, subvolume, atomic write limits and spares.
const STATX: Layout = &[
    (4, 2),
    (8, 1),
    (4, 3),
    (2, 2),
    (8, 4),
    (8, 1),
    (4, 2),
    (8, 1),
    (4, 2),
    (8, 1),
    (4, 2),
    (8, 1),
    (4, 2),
    (4, 4),
    (8, 1),
    (4, 2),
    (8, 1),
    (4, 6),
    (8, 8),
];

/// statx: `struct statx` has one layout on every Linux (in the host's byte
/// order).
fn statx(p: &mut Process, [dirfd, path, flags, mask, at, _]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: plain data the host fills.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    check(unsafe { libc::statx(dirfd as i32, path.as_ptr(), flags as i32, mask as u32, &mut st) } as i64)?;
    let mut b = [0u8; size(STATX)];
    let n = std::mem::size_of::<libc::statx>().min(b.len());
    // SAFETY: copies the first `n` bytes of plain data we own into `b`.
    unsafe { std::ptr::copy_nonoverlapping(&st as *const libc::statx as *const u8, b.as_mut_ptr(), n) };
    swap_fields(&mut b, STATX);
    p.write(at, &b)?;
    Ok(0)
}

/// Writes a host `struct statfs` as the x86-64 one (120 bytes). The mount
/// flags come from statvfs (the C library's statfs does not name them).
#[allow(clippy::unnecessary_cast)]
fn write_statfs(p: &mut Process, at: u64, s: &libc::statfs, v: &libc::statvfs) -> Result<u64, Errno> {
    // SAFETY: fsid is two ints.
    let fsid: [i32; 2] = unsafe { std::mem::transmute(s.f_fsid) };
    let words = [
        s.f_type as u64,
        s.f_bsize as u64,
        s.f_blocks,
        s.f_bfree,
        s.f_bavail,
        s.f_files,
        s.f_ffree,
        (fsid[0] as u32 as u64) | ((fsid[1] as u32 as u64) << 32),
        s.f_namelen as u64,
        s.f_frsize as u64,
        v.f_flag as u64 | ST_VALID,
        0,
        0,
        0,
        0,
    ];
    let b: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    p.write(at, &b)?;
    Ok(0)
}

/// statfs's flags word says it holds flags.
const ST_VALID: u64 = 0x20;

fn statfs(p: &mut Process, [path, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: plain data the host fills.
    let (mut s, mut v): (libc::statfs, libc::statvfs) = unsafe { std::mem::zeroed() };
    check(unsafe { libc::statfs(path.as_ptr(), &mut s) } as i64)?;
    check(unsafe { libc::statvfs(path.as_ptr(), &mut v) } as i64)?;
    write_statfs(p, at, &s, &v)
}

fn fstatfs(p: &mut Process, [fd, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: plain data the host fills.
    let (mut s, mut v): (libc::statfs, libc::statvfs) = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatfs(fd as i32, &mut s) } as i64)?;
    check(unsafe { libc::fstatvfs(fd as i32, &mut v) } as i64)?;
    write_statfs(p, at, &s, &v)
}

/// The head of a `struct linux_dirent64`: inode, offset, record length.
const DIRENT_HEAD: Layout = &[(8, 2), (2, 1)];

/// getdents64: `struct linux_dirent64` has one layout on every Linux (in
/// the host's byte order: a big-endian host's records are swapped after).
/// The buffer goes to the host as a `HostBuf`, so that its checks come in
/// Linux's order (a file that is not a directory is ENOTDIR, whatever the
/// buffer).
fn getdents64(p: &mut Process, [fd, buf, len, ..]: [u64; 6]) -> Result<u64, Errno> {
    let out = p.host_buf(buf, len as u32 as u64, Dir::Out);
    // SAFETY: `out` is a `HostBuf` of `out.len` bytes from
    // `Process::host_buf` (writable guest memory inside the reservation, a
    // stand-in of ours, or an address the kernel refuses), alive through
    // the call.
    let n = check(unsafe { libc::syscall(libc::SYS_getdents64, fd as i32, out.ptr, out.len) })?;
    out.finish(p, n as usize);
    if cfg!(target_endian = "big") {
        let mut b = p.read(buf, n as usize)?;
        let mut at = 0;
        while at + size(DIRENT_HEAD) <= b.len() {
            let reclen = u16::from_ne_bytes([b[at + 16], b[at + 17]]) as usize;
            swap_fields(&mut b[at..], DIRENT_HEAD);
            if reclen == 0 {
                break;
            }
            at += reclen;
        }
        p.write(buf, &b)?;
    }
    Ok(n)
}

fn getcwd(p: &mut Process, [buf, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    let cwd = std::env::current_dir().map_err(|e| e.raw_os_error().unwrap_or(EINVAL))?;
    let mut bytes = std::os::unix::ffi::OsStrExt::as_bytes(cwd.as_os_str()).to_vec();
    bytes.push(0);
    if bytes.len() as u64 > size {
        return Err(ERANGE);
    }
    p.write(buf, &bytes)?;
    Ok(bytes.len() as u64)
}

fn mkdirat(p: &mut Process, [dirfd, path, mode, ..]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: `path` is a NUL-terminated `CString` of ours, alive through the
    // call; the other arguments are integers.
    check(unsafe { libc::mkdirat(dirfd as i32, path.as_ptr(), mode as libc::mode_t) } as i64)
}

fn unlinkat(p: &mut Process, [dirfd, path, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: `path` is a NUL-terminated `CString` of ours, alive through the
    // call; the other arguments are integers.
    check(unsafe { libc::unlinkat(dirfd as i32, path.as_ptr(), flags as i32) } as i64)
}

fn renameat2(p: &mut Process, [olddir, old, newdir, new, flags, _]: [u64; 6]) -> Result<u64, Errno> {
    let (old, new) = (path_arg(p, old)?, path_arg(p, new)?);
    // SAFETY: `old` and `new` are NUL-terminated `CString`s of ours, alive
    // through the call; the other arguments are integers.
    check(unsafe { libc::renameat2(olddir as i32, old.as_ptr(), newdir as i32, new.as_ptr(), flags as u32) } as i64)
}

fn linkat(p: &mut Process, [olddir, old, newdir, new, flags, _]: [u64; 6]) -> Result<u64, Errno> {
    let (old, new) = (path_arg(p, old)?, path_arg(p, new)?);
    // SAFETY: `old` and `new` are NUL-terminated `CString`s of ours, alive
    // through the call; the other arguments are integers.
    check(unsafe { libc::linkat(olddir as i32, old.as_ptr(), newdir as i32, new.as_ptr(), flags as i32) } as i64)
}

fn symlinkat(p: &mut Process, [target, dirfd, path, ..]: [u64; 6]) -> Result<u64, Errno> {
    let (target, path) = (p.read_path(target)?, path_arg(p, path)?);
    // SAFETY: `target` and `path` are NUL-terminated `CString`s of ours,
    // alive through the call.
    check(unsafe { libc::symlinkat(target.as_ptr(), dirfd as i32, path.as_ptr()) } as i64)
}

fn readlinkat(p: &mut Process, [dirfd, path, buf, size, ..]: [u64; 6]) -> Result<u64, Errno> {
    if (size as i64) <= 0 {
        return Err(EINVAL);
    }
    let path = p.read_path(path)?;
    let target = if is_self_exe(path.as_bytes()) {
        p.exe.clone()
    } else {
        let mut out = vec![0u8; 4096];
        // SAFETY: `path` is a `CString` of ours; `out` is a buffer of ours
        // of `out.len()` bytes, the length passed.
        let n = check(unsafe {
            libc::readlinkat(dirfd as i32, path.as_ptr(), out.as_mut_ptr() as *mut libc::c_char, out.len())
        } as i64)?;
        out.truncate(n as usize);
        out
    };
    let n = target.len().min(size as usize);
    p.write(buf, &target[..n])?;
    Ok(n as u64)
}

fn fchmodat(p: &mut Process, [dirfd, path, mode, ..]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: `path` is a NUL-terminated `CString` of ours, alive through the
    // call; the other arguments are integers.
    check(unsafe { libc::fchmodat(dirfd as i32, path.as_ptr(), mode as libc::mode_t, 0) } as i64)
}

fn fchownat(p: &mut Process, [dirfd, path, uid, gid, flags, _]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: `path` is a NUL-terminated `CString` of ours, alive through the
    // call; the other arguments are integers.
    check(unsafe { libc::fchownat(dirfd as i32, path.as_ptr(), uid as u32, gid as u32, flags as i32) } as i64)
}

fn faccessat(p: &mut Process, [dirfd, path, mode, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path)?;
    // SAFETY: `path` is a NUL-terminated `CString` of ours, alive through the
    // call; the other arguments are integers.
    check(unsafe { libc::faccessat(dirfd as i32, path.as_ptr(), mode as i32, flags as i32) } as i64)
}

fn utimensat(p: &mut Process, [dirfd, path, times, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let ts = if times != 0 { Some([read_time(p, times)?, read_time(p, times + 16)?]) } else { None };
    let tp = ts.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
    if path == 0 {
        // The file open on `dirfd` itself.
        // SAFETY: `tp` is null or points at `ts`, our two timespecs.
        return check(unsafe { libc::futimens(dirfd as i32, tp) } as i64);
    }
    let path = path_arg(p, path)?;
    // SAFETY: `path` is a `CString` of ours; `tp` is null or points at
    // `ts`, our two timespecs.
    check(unsafe { libc::utimensat(dirfd as i32, path.as_ptr(), tp, flags as i32) } as i64)
}

/// A utimensat time: a timespec whose nanoseconds may be UTIME_NOW or UTIME_OMIT.
fn read_time(p: &Process, at: u64) -> Result<libc::timespec, Errno> {
    let b = p.read(at, 16)?;
    let nsec = i64::from_le_bytes(b[8..16].try_into().unwrap());
    if nsec == libc::UTIME_NOW || nsec == libc::UTIME_OMIT {
        return Ok(libc::timespec { tv_sec: 0, tv_nsec: nsec });
    }
    read_timespec(p, at)
}
