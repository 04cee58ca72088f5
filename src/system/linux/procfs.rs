//! The files of /proc that describe the process itself, answered for the
//! guest rather than for visa: `maps` lists the guest's own mappings (the
//! dynamic linker, language runtimes and sanitizers read it) and `auxv`
//! holds the auxiliary vector the guest started with. Opening one gives a
//! file of the contents at that moment, as reading the kernel's does.

use std::sync::Arc;

use super::errno::{Errno, check};
use super::mm::Backing;
use super::process::Process;
use super::syscall::host::int_call;
use super::vsyscall::PAGE;
use crate::machine::{PERM_R, PERM_W, PERM_X};

/// The width /proc/self/maps pads a line to before the name.
const NAME_COLUMN: usize = 73;

/// Makes the contents of one process file.
type Contents = fn(&Process) -> Vec<u8>;

/// The /proc files answered here, by name within the process's directory.
const FILES: &[(&str, Contents)] = &[("maps", maps), ("auxv", |p| p.auxv.clone())];

/// The contents of a process file, if `path` names one of the guest's own
/// (/proc/self/NAME, /proc/thread-self/NAME or /proc/PID/NAME).
fn contents(p: &Process, path: &[u8]) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(b"/proc/")?;
    let slash = rest.iter().position(|b| *b == b'/')?;
    let (dir, name) = (&rest[..slash], &rest[slash + 1..]);
    let pid = std::process::id().to_string();
    if dir != b"self" && dir != b"thread-self" && dir != pid.as_bytes() {
        return None;
    }
    FILES.iter().find(|(n, _)| n.as_bytes() == name).map(|(_, make)| make(p))
}

/// Opens `path` if it is one of the process files answered here: a file
/// of their contents, read from the start (`cloexec` as the guest asked).
pub fn open(p: &Process, path: &[u8], cloexec: bool) -> Option<Result<u64, Errno>> {
    let bytes = contents(p, path)?;
    Some(memory_file(&bytes, cloexec))
}

fn memory_file(bytes: &[u8], cloexec: bool) -> Result<u64, Errno> {
    let flags = if cloexec { libc::MFD_CLOEXEC } else { 0 };
    // SAFETY: the name is a NUL-terminated literal; flags are an integer.
    let fd = check(unsafe { libc::memfd_create(c"visa-proc".as_ptr(), flags) } as i64)? as i32;
    let mut file = std::mem::ManuallyDrop::new(
        // SAFETY: `fd` is the descriptor just created, which this File
        // only borrows (ManuallyDrop keeps it open for the guest).
        unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) },
    );
    let written = std::io::Write::write_all(&mut *file, bytes)
        .and_then(|()| std::io::Seek::seek(&mut *file, std::io::SeekFrom::Start(0)));
    if let Err(e) = written {
        int_call!(libc::close(fd));
        return Err(e.raw_os_error().unwrap_or(libc::EIO));
    }
    Ok(fd as u64)
}

/// One line of /proc/self/maps.
fn map_line(start: u64, end: u64, perms: u8, offset: u64, dev: u64, inode: u64, name: &[u8]) -> Vec<u8> {
    let flag = |bit: u8, c: char| if perms & bit != 0 { c } else { '-' };
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let mut line = format!(
        "{start:08x}-{end:08x} {}{}{}p {offset:08x} {major:02x}:{minor:02x} {inode} ",
        flag(PERM_R, 'r'),
        flag(PERM_W, 'w'),
        flag(PERM_X, 'x'),
    )
    .into_bytes();
    if !name.is_empty() {
        line.resize(line.len().max(NAME_COLUMN), b' ');
        line.extend_from_slice(name);
    }
    line.push(b'\n');
    line
}

/// /proc/self/maps: every guest mapping with what it holds, and the
/// vsyscall page.
fn maps(p: &Process) -> Vec<u8> {
    let mut out = Vec::new();
    for (start, end, perms, backing) in p.space().mappings() {
        let (offset, dev, inode, name): (u64, u64, u64, Arc<[u8]>) = match backing {
            Backing::File { name, offset, dev, inode } => (offset, dev, inode, name),
            Backing::Named(name) => (0, 0, 0, name.as_bytes().into()),
            Backing::Anonymous => (0, 0, 0, b"".as_slice().into()),
        };
        out.extend(map_line(start, end, perms, offset, dev, inode, &name));
    }
    out.extend(map_line(PAGE, PAGE + 4096, PERM_X, 0, 0, 0, b"[vsyscall]"));
    out
}
