//! Memory syscalls: mmap munmap mprotect brk mremap (growing in place,
//! moving, to a fixed address) madvise msync, over the process's address
//! space; guest memory enforces the permissions.
//! File mappings are private copies (MAP_SHARED file writes do not reach
//! the file), and anonymous shared memory is not shared across fork.

use super::super::errno::{EEXIST, EFAULT, EINVAL, ENOMEM, Errno};
use super::super::mm::{GUEST_SIZE, page_up};
use super::super::process::Process;
use super::{Arg, Entry};
use crate::machine::{PAGE_SIZE, PERM_R, PERM_W, PERM_X};

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (9, "mmap", &[Hex, Int, Hex, Hex, Int, Hex], mmap),
    (10, "mprotect", &[Hex, Int, Hex], mprotect),
    (11, "munmap", &[Hex, Int], munmap),
    (12, "brk", &[Hex], brk),
    (25, "mremap", &[Hex, Int, Int, Hex, Hex], mremap),
    (26, "msync", &[Hex, Int, Hex], |_, _| Ok(0)),
    (28, "madvise", &[Hex, Int, Int], madvise),
];

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const MADV_DONTNEED: u64 = 4;

/// Guest page permissions of a `prot` (x86 pages are readable whenever
/// they are writable or executable).
fn perms(prot: u64) -> u8 {
    let mut p = 0;
    if prot & (PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        p |= PERM_R;
    }
    if prot & PROT_WRITE != 0 {
        p |= PERM_W;
    }
    if prot & PROT_EXEC != 0 {
        p |= PERM_X;
    }
    p
}

fn in_space(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= GUEST_SIZE)
}

/// Drops translations of a range whose contents or permissions change.
fn retire_code(p: &mut Process, addr: u64, len: u64) {
    p.mem.note_external_write(addr, len);
}

/// Maps zeroed memory at `addr` (the range is free or being replaced).
fn map_fresh(p: &mut Process, addr: u64, len: u64, perms: u8) {
    retire_code(p, addr, len);
    p.space.unmap(&mut p.mem, addr, len);
    p.mem.protect(addr, len, perms);
    p.space.record(addr, len, perms);
}

fn mmap(p: &mut Process, [addr, len, prot, flags, fd, off]: [u64; 6]) -> Result<u64, Errno> {
    if len == 0 || off % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let len = page_up(len);
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let at = if fixed {
        if addr % PAGE_SIZE != 0 || !in_space(addr, len) {
            return Err(if addr % PAGE_SIZE != 0 { EINVAL } else { ENOMEM });
        }
        if flags & MAP_FIXED_NOREPLACE != 0 && p.space.overlaps(addr, len) {
            return Err(EEXIST);
        }
        addr
    } else if addr != 0 && addr % PAGE_SIZE == 0 && in_space(addr, len) && !p.space.overlaps(addr, len) {
        addr
    } else {
        p.space.find_free(len).ok_or(ENOMEM)?
    };
    let final_perms = perms(prot);
    if flags & MAP_ANONYMOUS != 0 {
        map_fresh(p, at, len, final_perms);
        return Ok(at);
    }
    // A file mapping: a private copy of the file's bytes (zeros past its end).
    let mut buf = vec![0u8; len as usize];
    let mut got = 0usize;
    while got < buf.len() {
        // SAFETY: reading into our own buffer.
        let n = unsafe {
            libc::pread(
                fd as i32,
                buf[got..].as_mut_ptr() as *mut libc::c_void,
                buf.len() - got,
                (off + got as u64) as i64,
            )
        };
        match n {
            0 => break,
            n if n < 0 => return Err(super::super::errno::last()),
            n => got += n as usize,
        }
    }
    map_fresh(p, at, len, PERM_R | PERM_W);
    p.write(at, &buf[..got])?;
    p.mem.protect(at, len, final_perms);
    p.space.record(at, len, final_perms);
    Ok(at)
}

fn munmap(p: &mut Process, [addr, len, ..]: [u64; 6]) -> Result<u64, Errno> {
    if addr % PAGE_SIZE != 0 || len == 0 || !in_space(addr, page_up(len)) {
        return Err(EINVAL);
    }
    let len = page_up(len);
    retire_code(p, addr, len);
    p.space.unmap(&mut p.mem, addr, len);
    Ok(0)
}

fn mprotect(p: &mut Process, [addr, len, prot, ..]: [u64; 6]) -> Result<u64, Errno> {
    if addr % PAGE_SIZE != 0 || !in_space(addr, page_up(len)) {
        return Err(EINVAL);
    }
    let len = page_up(len);
    if !p.space.covers(addr, len) {
        return Err(ENOMEM);
    }
    retire_code(p, addr, len);
    p.mem.protect(addr, len, perms(prot));
    p.space.reprotect(addr, len, perms(prot));
    Ok(0)
}

fn brk(p: &mut Process, [addr, ..]: [u64; 6]) -> Result<u64, Errno> {
    let (start, old) = (p.space.brk_start, p.space.brk);
    if addr < start {
        return Ok(old);
    }
    let (old_top, new_top) = (page_up(old), page_up(addr));
    if new_top > old_top {
        if !in_space(old_top, new_top - old_top) || p.space.overlaps(old_top, new_top - old_top) {
            return Ok(old);
        }
        map_fresh(p, old_top, new_top - old_top, PERM_R | PERM_W);
    } else if new_top < old_top {
        p.space.unmap(&mut p.mem, new_top, old_top - new_top);
    }
    p.space.brk = addr;
    Ok(addr)
}

fn mremap(p: &mut Process, [old, old_len, new_len, flags, new_addr, _]: [u64; 6]) -> Result<u64, Errno> {
    let (old_len, new_len) = (page_up(old_len), page_up(new_len));
    let (may_move, fixed) = (flags & MREMAP_MAYMOVE != 0, flags & MREMAP_FIXED != 0);
    if old % PAGE_SIZE != 0 || new_len == 0 || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0 || (fixed && !may_move) {
        return Err(EINVAL);
    }
    if fixed
        && (new_addr % PAGE_SIZE != 0
            || !in_space(new_addr, new_len)
            || (new_addr < old + old_len && old < new_addr + new_len))
    {
        return Err(EINVAL);
    }
    if !p.space.covers(old, old_len.max(PAGE_SIZE)) {
        return Err(EFAULT);
    }
    if !fixed {
        if new_len <= old_len {
            retire_code(p, old + new_len, old_len - new_len);
            p.space.unmap(&mut p.mem, old + new_len, old_len - new_len);
            return Ok(old);
        }
        let perms = p.mem.perms_at(old);
        if in_space(old + old_len, new_len - old_len) && !p.space.overlaps(old + old_len, new_len - old_len) {
            map_fresh(p, old + old_len, new_len - old_len, perms);
            return Ok(old);
        }
        if !may_move {
            return Err(ENOMEM);
        }
    }
    let to = if fixed { new_addr } else { p.space.find_free(new_len).ok_or(ENOMEM)? };
    move_pages(p, old, old_len, to, new_len);
    Ok(to)
}

/// Moves a mapping's bytes and permissions to `to` (whatever was there is
/// replaced) and unmaps the old range.
fn move_pages(p: &mut Process, old: u64, old_len: u64, to: u64, new_len: u64) {
    let perms = p.mem.perms_at(old);
    let keep = old_len.min(new_len);
    // Readable for the copy whatever its permissions (PROT_NONE moves too).
    p.mem.protect(old, keep, PERM_R);
    let bytes = p.read(old, keep as usize).expect("a mapped range");
    map_fresh(p, to, new_len, PERM_R | PERM_W);
    p.write(to, &bytes).expect("a fresh writable range");
    p.mem.protect(to, new_len, perms);
    p.space.record(to, new_len, perms);
    retire_code(p, old, old_len);
    p.space.unmap(&mut p.mem, old, old_len);
}

fn madvise(p: &mut Process, [addr, len, advice, ..]: [u64; 6]) -> Result<u64, Errno> {
    if addr % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    if advice == MADV_DONTNEED {
        // Private anonymous pages read back as zeros.
        let len = page_up(len);
        retire_code(p, addr, len);
        p.mem.discard(addr, len);
    }
    Ok(0)
}
