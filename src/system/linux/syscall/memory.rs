//! Memory syscalls: mmap munmap mprotect brk mremap (growing in place,
//! moving, to a fixed address) madvise msync mincore, over the process's
//! address space; guest memory enforces the permissions. Lengths and
//! addresses are checked as Linux checks them (page rounding that wraps,
//! ranges past the user address space), with Linux's error numbers. The
//! threads of a process share the address space: each call holds its lock.
//! A file is mapped privately by the host over the guest's memory, so its
//! pages are read only when touched (the part past the file's end reads as
//! zeros); MAP_SHARED file writes do not reach the file, and anonymous
//! shared memory is not shared across fork.

use super::super::errno::{EEXIST, EFAULT, EINVAL, ENOMEM, Errno};
use super::super::mm::{AddressSpace, Backing, GUEST_SIZE, page_up};
use super::super::process::{Process, TASK_SIZE};
use super::{Arg, Entry};
use crate::machine::{PAGE_SIZE, PERM_R, PERM_W, PERM_X};

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (9, "mmap", &[Hex, Int, Hex, Hex, Int, Hex], |p, a| with_space(p, a, mmap)),
    (10, "mprotect", &[Hex, Int, Hex], |p, a| with_space(p, a, mprotect)),
    (11, "munmap", &[Hex, Int], |p, a| with_space(p, a, munmap)),
    (12, "brk", &[Hex], |p, a| with_space(p, a, brk)),
    (25, "mremap", &[Hex, Int, Int, Hex, Hex], |p, a| with_space(p, a, mremap)),
    (26, "msync", &[Hex, Int, Hex], |p, a| with_space(p, a, msync)),
    (27, "mincore", &[Hex, Int, Hex], |p, a| with_space(p, a, mincore)),
    (28, "madvise", &[Hex, Int, Int], |p, a| with_space(p, a, madvise)),
];

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const MAP_TYPE: u64 = 0xf;
const MADV_DONTNEED: u64 = 4;
const MADV_DONTNEED_LOCKED: u64 = 24;
const MS_ASYNC: u64 = 1;
const MS_INVALIDATE: u64 = 2;
const MS_SYNC: u64 = 4;

/// Runs a memory call with the address space locked: the threads of a
/// process share it, and each call changes it as one step.
fn with_space(
    p: &mut Process,
    args: [u64; 6],
    call: fn(&mut Process, &mut AddressSpace, [u64; 6]) -> Result<u64, Errno>,
) -> Result<u64, Errno> {
    let shared = p.space.clone();
    let mut space = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    call(p, &mut space, args)
}

/// A length rounded up to whole pages as the kernel's PAGE_ALIGN does:
/// wrapping to 0 when it overflows.
fn page_align(len: u64) -> u64 {
    len.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

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
fn map_fresh(p: &mut Process, space: &mut AddressSpace, addr: u64, len: u64, perms: u8) {
    retire_code(p, addr, len);
    space.unmap(&mut p.mem, addr, len);
    p.mem.protect(addr, len, perms);
    space.record(addr, len, perms);
}

fn mmap(p: &mut Process, space: &mut AddressSpace, [addr, len, prot, flags, fd, off]: [u64; 6]) -> Result<u64, Errno> {
    if off % PAGE_SIZE != 0 || len == 0 || !matches!(flags & MAP_TYPE, 1..=3) {
        return Err(EINVAL);
    }
    let len = page_align(len);
    if len == 0 || len > TASK_SIZE {
        return Err(ENOMEM);
    }
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let at = if fixed {
        if addr % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        // Past the guest space (which Linux would map) is beyond visa's reach.
        if !in_space(addr, len) {
            return Err(ENOMEM);
        }
        if flags & MAP_FIXED_NOREPLACE != 0 && space.overlaps(addr, len) {
            return Err(EEXIST);
        }
        addr
    } else if addr != 0 && addr % PAGE_SIZE == 0 && in_space(addr, len) && !space.overlaps(addr, len) {
        addr
    } else {
        space.find_free(len).ok_or(ENOMEM)?
    };
    let final_perms = perms(prot);
    if flags & MAP_ANONYMOUS != 0 {
        map_fresh(p, space, at, len, final_perms);
        return Ok(at);
    }
    let backing = map_file(p, space, at, len, fd as i32, off)?;
    p.mem.protect(at, len, final_perms);
    space.record_backed(at, len, final_perms, backing);
    Ok(at)
}

/// Maps `len` bytes of a file at `at`: the host maps the file's pages there
/// (read when touched); what lies past the file's end reads as zeros.
/// Where the host cannot map the file (a host page size larger than the
/// guest's), its bytes are copied in. Returns what the mapping holds.
fn map_file(p: &mut Process, space: &mut AddressSpace, at: u64, len: u64, fd: i32, off: u64) -> Result<Backing, Errno> {
    // SAFETY: plain data the host fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    super::super::errno::check(unsafe { libc::fstat(fd, &mut st) } as i64)?;
    let name = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default();
    let backing = Backing::File {
        name: std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str()).into(),
        offset: off,
        dev: st.st_dev,
        inode: st.st_ino,
    };
    let regular = st.st_mode & libc::S_IFMT == libc::S_IFREG;
    // The pages that hold file bytes (a device such as /dev/zero maps whole).
    let in_file = if regular { page_up((st.st_size as u64).saturating_sub(off)).min(len) } else { len };
    retire_code(p, at, len);
    space.unmap(&mut p.mem, at, len);
    if in_file == 0 {
        return Ok(backing);
    }
    match p.mem.map_file(at, in_file, fd, off) {
        Ok(()) => Ok(backing),
        Err(e) if !regular || e.raw_os_error() != Some(EINVAL) => Err(e.raw_os_error().unwrap_or(EINVAL)),
        Err(_) => copy_file(p, at, in_file, fd, off).map(|()| backing),
    }
}

/// Reads a file's bytes into fresh guest memory, a chunk at a time.
fn copy_file(p: &mut Process, at: u64, len: u64, fd: i32, off: u64) -> Result<(), Errno> {
    p.mem.protect(at, len, PERM_R | PERM_W);
    let mut got = 0u64;
    while got < len {
        let chunk = (len - got).min(1 << 20) as usize;
        let buf = p.buf_mut(at + got, chunk)?;
        // SAFETY: reading into checked guest memory.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr() as *mut libc::c_void, chunk, (off + got) as i64) };
        match n {
            0 => break,
            n if n < 0 => return Err(super::super::errno::last()),
            n => got += n as u64,
        }
    }
    Ok(())
}

fn munmap(p: &mut Process, space: &mut AddressSpace, [addr, len, ..]: [u64; 6]) -> Result<u64, Errno> {
    let len = page_align(len);
    if addr % PAGE_SIZE != 0 || len == 0 || len > TASK_SIZE || addr > TASK_SIZE - len {
        return Err(EINVAL);
    }
    // Nothing is mapped past the guest space.
    let len = len.min(GUEST_SIZE.saturating_sub(addr));
    if len != 0 {
        retire_code(p, addr, len);
        space.unmap(&mut p.mem, addr, len);
    }
    Ok(0)
}

fn mprotect(p: &mut Process, space: &mut AddressSpace, [addr, len, prot, ..]: [u64; 6]) -> Result<u64, Errno> {
    if addr % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let len = page_align(len);
    if addr.wrapping_add(len) <= addr {
        return Err(ENOMEM);
    }
    // PROT_SEM, PROT_GROWSDOWN and PROT_GROWSUP are accepted and ignored.
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | 0x8 | 0x0100_0000 | 0x0200_0000) != 0 {
        return Err(EINVAL);
    }
    if !space.covers(addr, len) {
        return Err(ENOMEM);
    }
    retire_code(p, addr, len);
    p.mem.protect(addr, len, perms(prot));
    space.reprotect(addr, len, perms(prot));
    Ok(0)
}

fn brk(p: &mut Process, space: &mut AddressSpace, [addr, ..]: [u64; 6]) -> Result<u64, Errno> {
    let (start, old) = (space.brk_start, space.brk);
    if addr < start {
        return Ok(old);
    }
    let (old_top, new_top) = (page_up(old), page_up(addr));
    if new_top > old_top {
        if !in_space(old_top, new_top - old_top) || space.overlaps(old_top, new_top - old_top) {
            return Ok(old);
        }
        map_fresh(p, space, old_top, new_top - old_top, PERM_R | PERM_W);
        space.record_backed(old_top, new_top - old_top, PERM_R | PERM_W, Backing::Named("[heap]"));
    } else if new_top < old_top {
        space.unmap(&mut p.mem, new_top, old_top - new_top);
    }
    space.brk = addr;
    Ok(addr)
}

fn mremap(
    p: &mut Process,
    space: &mut AddressSpace,
    [old, old_len, new_len, flags, new_addr, _]: [u64; 6],
) -> Result<u64, Errno> {
    let (may_move, fixed) = (flags & MREMAP_MAYMOVE != 0, flags & MREMAP_FIXED != 0);
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0 || (fixed && !may_move) || old % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let (old_len, new_len) = (page_align(old_len), page_align(new_len));
    if new_len == 0 || new_len > TASK_SIZE || old_len > TASK_SIZE {
        return Err(EINVAL);
    }
    if fixed
        && (new_addr > TASK_SIZE - new_len
            || new_addr % PAGE_SIZE != 0
            || (new_addr < old.saturating_add(old_len) && old < new_addr + new_len))
    {
        return Err(EINVAL);
    }
    if !space.covers(old, 1) || !space.covers(old, old_len) {
        return Err(EFAULT);
    }
    // An old length of 0 duplicates a shared mapping; visa has none.
    if old_len == 0 {
        return Err(EINVAL);
    }
    if fixed && !in_space(new_addr, new_len) {
        return Err(ENOMEM);
    }
    if !fixed {
        if new_len <= old_len {
            retire_code(p, old + new_len, old_len - new_len);
            space.unmap(&mut p.mem, old + new_len, old_len - new_len);
            return Ok(old);
        }
        let perms = p.mem.perms_at(old);
        if in_space(old + old_len, new_len - old_len) && !space.overlaps(old + old_len, new_len - old_len) {
            map_fresh(p, space, old + old_len, new_len - old_len, perms);
            return Ok(old);
        }
        if !may_move {
            return Err(ENOMEM);
        }
    }
    let to = if fixed { new_addr } else { space.find_free(new_len).ok_or(ENOMEM)? };
    move_pages(p, space, old, old_len, to, new_len);
    Ok(to)
}

/// Moves a mapping's bytes and permissions to `to` (whatever was there is
/// replaced) and unmaps the old range. The bytes are copied a chunk at a
/// time, leaving out chunks of zeros (the new range reads as zeros already),
/// so that untouched memory costs nothing however large.
fn move_pages(p: &mut Process, space: &mut AddressSpace, old: u64, old_len: u64, to: u64, new_len: u64) {
    let perms = p.mem.perms_at(old);
    let backing = space.backing_at(old).unwrap_or(Backing::Anonymous);
    let keep = old_len.min(new_len);
    // Readable for the copy whatever its permissions (PROT_NONE moves too).
    p.mem.protect(old, keep, PERM_R);
    map_fresh(p, space, to, new_len, PERM_R | PERM_W);
    let mut chunk = vec![0u8; 1 << 16];
    let mut done = 0;
    while done < keep {
        let n = (keep - done).min(chunk.len() as u64) as usize;
        if p.mem.read_bytes(old + done, &mut chunk[..n]).is_ok() && chunk[..n].iter().any(|b| *b != 0) {
            // Both ranges are checked mapped and the target writable.
            let _ = p.mem.write_bytes(to + done, &chunk[..n]);
        }
        done += n as u64;
    }
    p.mem.protect(to, new_len, perms);
    space.record_backed(to, new_len, perms, backing);
    retire_code(p, old, old_len);
    space.unmap(&mut p.mem, old, old_len);
}

/// The advice values Linux knows (others are EINVAL).
fn known_advice(advice: u64) -> bool {
    matches!(advice, 0..=4 | 8..=25)
}

fn madvise(p: &mut Process, space: &mut AddressSpace, [addr, len_in, advice, ..]: [u64; 6]) -> Result<u64, Errno> {
    let len = page_align(len_in);
    if addr % PAGE_SIZE != 0 || !known_advice(advice) || (len_in != 0 && len == 0) || addr.wrapping_add(len) < addr {
        return Err(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    if advice == MADV_DONTNEED || advice == MADV_DONTNEED_LOCKED {
        // Anonymous pages read back as zeros, a file's pages as the file.
        retire_code(p, addr, len);
        p.mem.discard(addr, len);
    }
    // Linux advises what is mapped, and fails if anything is not.
    if !space.covers(addr, len) {
        return Err(ENOMEM);
    }
    Ok(0)
}

fn msync(_: &mut Process, space: &mut AddressSpace, [addr, len, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || addr % PAGE_SIZE != 0
        || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0)
    {
        return Err(EINVAL);
    }
    let end = addr.wrapping_add(page_align(len));
    if end < addr {
        return Err(ENOMEM);
    }
    // Private copies have nothing to write back; the range must be mapped.
    if end > addr && !space.covers(addr, end - addr) {
        return Err(ENOMEM);
    }
    Ok(0)
}

/// mincore: which pages of a mapped range are in memory (as the host holds
/// the guest's memory).
fn mincore(p: &mut Process, space: &mut AddressSpace, [addr, len, vec, ..]: [u64; 6]) -> Result<u64, Errno> {
    if addr % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    if addr.checked_add(len).is_none_or(|end| end > TASK_SIZE) {
        return Err(ENOMEM);
    }
    let pages = len.div_ceil(PAGE_SIZE);
    if vec.checked_add(pages).is_none_or(|end| end > TASK_SIZE) {
        return Err(EFAULT);
    }
    // Mapped pages from the start (at most the guest space's).
    let mut mapped = 0;
    while mapped < pages && space.covers(addr + mapped * PAGE_SIZE, PAGE_SIZE) {
        mapped += 1;
    }
    let mut out = vec![0u8; mapped as usize];
    p.mem.resident(addr, &mut out);
    p.write(vec, &out)?;
    if mapped < pages {
        return Err(ENOMEM);
    }
    Ok(0)
}
