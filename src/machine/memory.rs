//! Guest memory: a contiguous guest-physical range mapped onto one host
//! reservation. Every access is bounds-checked; an access outside the range
//! is a `MemFault`, never a host access. Guest memory is little-endian
//! whatever the host.
//!
//! Memory that holds translated code is marked in 64-byte lines; a write to
//! a marked line is recorded so the engine can invalidate the translations
//! made from it (self-modifying code). Lines rather than pages keep data
//! that shares a page with code from invalidating it on every store.

use memmap2::{MmapMut, MmapOptions};
use std::fmt;

/// An access the guest may not make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault {
    pub addr: u64,
    pub size: u32,
    pub write: bool,
}

/// Page permissions, when memory has them (user mode): read, write, execute.
pub const PERM_R: u8 = 1;
pub const PERM_W: u8 = 2;
pub const PERM_X: u8 = 4;
/// Not a permission: the page holds translated code (kept beside the
/// permissions so compiled stores check both with one load).
pub const PERM_CODE: u8 = 8;

impl fmt::Display for MemFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.write { "write" } else { "read" };
        write!(f, "{}-byte {what} at {:#x} is outside guest memory", self.size, self.addr)
    }
}

impl std::error::Error for MemFault {}

/// log2 of the bytes of a page.
pub const PAGE_SHIFT: u32 = 12;
/// Bytes of a page.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// log2 of the bytes of a code-tracking line.
pub const LINE_SHIFT: u32 = 6;
/// Bytes of a code-tracking line.
pub const LINE_SIZE: u64 = 1 << LINE_SHIFT;

/// The smallest guest memory: the widest single access (16 bytes), so
/// that no access is larger than memory and one unsigned compare of its
/// address against `size - access` bounds it (compiled code relies on it).
pub const MIN_MEMORY: u64 = 16;

/// The largest guest memory: 2^40 bytes (1 TiB), far below what an
/// address computation near 2^64 could wrap into.
pub const MAX_MEMORY: u64 = 1 << 40;

/// Guest RAM from address 0 to `size`, backed lazily: untouched pages cost
/// no host memory.
pub struct GuestMemory {
    map: MmapMut,
    size: u64,
    /// One byte per line: nonzero when the line holds translated code.
    code_lines: MmapMut,
    /// Code lines written since the engine last looked, deduplicated.
    code_writes: Vec<u64>,
    /// With protection (user mode): one byte of `PERM_*` bits per page; an
    /// access to a page without the right bit faults. Without it, all of
    /// `0..size` may be read, written and executed (the board's RAM).
    perms: Option<MmapMut>,
}

impl GuestMemory {
    /// Reserves `size` bytes of zeroed guest memory (`MIN_MEMORY` to
    /// `MAX_MEMORY`; other sizes are an `InvalidInput` error).
    pub fn new(size: u64) -> std::io::Result<GuestMemory> {
        if !(MIN_MEMORY..=MAX_MEMORY).contains(&size) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("guest memory of {size} bytes is outside {MIN_MEMORY} bytes .. 1 TiB"),
            ));
        }
        let len = usize::try_from(size)
            .map_err(|_| std::io::Error::other("guest memory larger than the host address space"))?;
        let map = MmapOptions::new().len(len).no_reserve_swap().map_anon()?;
        let lines = len.div_ceil(LINE_SIZE as usize);
        let code_lines = MmapOptions::new().len(lines).no_reserve_swap().map_anon()?;
        Ok(GuestMemory { map, size, code_lines, code_writes: Vec::new(), perms: None })
    }

    /// Guest memory where no page is accessible until `protect` maps it.
    pub fn with_protection(size: u64) -> std::io::Result<GuestMemory> {
        let mut mem = GuestMemory::new(size)?;
        let pages = size.div_ceil(PAGE_SIZE) as usize;
        mem.perms = Some(MmapOptions::new().len(pages).no_reserve_swap().map_anon()?);
        Ok(mem)
    }

    pub fn has_protection(&self) -> bool {
        self.perms.is_some()
    }

    /// Host address of the permission map (one byte per page), if any.
    pub fn perms_ptr(&self) -> Option<*const u8> {
        self.perms.as_ref().map(|p| p.as_ptr())
    }

    /// Sets the permissions of the pages overlapping `[addr, addr + len)`.
    /// Removing access does not free the memory; see `discard`.
    pub fn protect(&mut self, addr: u64, len: u64, perms: u8) {
        let end = addr.saturating_add(len).min(self.size);
        if let Some(map) = self.perms.as_mut() {
            for page in addr / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
                let p = &mut map[page as usize];
                *p = perms | (*p & PERM_CODE);
            }
        }
    }

    /// The permissions of the page holding `addr` (all, without protection).
    pub fn perms_at(&self, addr: u64) -> u8 {
        match &self.perms {
            _ if addr >= self.size => 0,
            Some(map) => map[(addr / PAGE_SIZE) as usize] & !PERM_CODE,
            None => PERM_R | PERM_W | PERM_X,
        }
    }

    /// Zeroes `[addr, addr + len)` and gives its host memory back (munmap
    /// of a guest mapping): page-aligned ranges only.
    pub fn discard(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len).min(self.size);
        if addr >= end {
            return;
        }
        let (start, end) = (addr as usize, end as usize);
        // SAFETY: the range lies inside our own mapping; MADV_DONTNEED on a
        // private anonymous mapping makes the pages read back as zeros.
        let ok = unsafe {
            libc::madvise(self.map.as_mut_ptr().add(start) as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
        };
        if ok != 0 {
            self.map[start..end].fill(0);
        }
    }

    /// Replaces the host memory of `[addr, addr + len)` with fresh
    /// anonymous zero pages (munmap of a guest mapping, which may have been
    /// a file's: MADV_DONTNEED would bring the file's bytes back). Page-aligned
    /// ranges only; the part past guest memory is ignored.
    pub fn clear(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len).min(self.size);
        if addr >= end {
            return;
        }
        let (start, len) = (addr as usize, (end - addr) as usize);
        // SAFETY: the range lies inside our own mapping, which stays
        // reserved: MAP_FIXED replaces its pages in place.
        let ok = unsafe {
            let at = self.map.as_mut_ptr().add(start) as *mut libc::c_void;
            libc::mmap(
                at,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            ) == at
        };
        if !ok {
            self.map[start..start + len].fill(0);
        }
    }

    /// Zeroes `[addr, addr + len)` (any alignment) without touching the
    /// whole pages inside it, which are given back instead: a segment's
    /// zero tail costs no host memory however large.
    pub fn zero(&mut self, addr: u64, len: u64) -> Result<(), MemFault> {
        let end = addr.checked_add(len).filter(|e| *e <= self.size).ok_or(MemFault {
            addr,
            size: len.min(u32::MAX as u64) as u32,
            write: true,
        })?;
        if addr >= end {
            return Ok(());
        }
        let (inner_start, inner_end) = (addr.next_multiple_of(PAGE_SIZE), end / PAGE_SIZE * PAGE_SIZE);
        if inner_start >= inner_end {
            self.note_write(addr, len);
            self.map[addr as usize..end as usize].fill(0);
            return Ok(());
        }
        self.note_write(addr, len);
        self.map[addr as usize..inner_start as usize].fill(0);
        self.map[inner_end as usize..end as usize].fill(0);
        self.clear(inner_start, inner_end - inner_start);
        Ok(())
    }

    /// Maps `len` bytes of the host file `fd` at `offset` privately at
    /// guest address `addr` (page-aligned), in place of the memory there:
    /// the file's pages are read when touched, and writes stay private.
    /// On failure the range holds zeros.
    pub fn map_file(&mut self, addr: u64, len: u64, fd: i32, offset: u64) -> std::io::Result<()> {
        let fits = addr.is_multiple_of(PAGE_SIZE) && addr.checked_add(len).is_some_and(|e| e <= self.size);
        if !fits || len == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let off = i64::try_from(offset).map_err(|_| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        // SAFETY: the range lies inside our own mapping; MAP_FIXED replaces
        // its pages in place.
        let r = unsafe {
            let at = self.map.as_mut_ptr().add(addr as usize) as *mut libc::c_void;
            libc::mmap(
                at,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_NORESERVE | libc::MAP_FIXED,
                fd,
                off,
            )
        };
        if r == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            self.clear(addr, len);
            return Err(e);
        }
        Ok(())
    }

    /// Fills `out` with one byte per page from `addr` (page-aligned): 1
    /// where the host holds the page in memory, 0 where it does not (as
    /// mincore reports). Pages past guest memory are not resident.
    pub fn resident(&self, addr: u64, out: &mut [u8]) {
        out.fill(0);
        let pages = (self.size.div_ceil(PAGE_SIZE).saturating_sub(addr / PAGE_SIZE) as usize).min(out.len());
        if !addr.is_multiple_of(PAGE_SIZE) || pages == 0 {
            return;
        }
        // SAFETY: the pages lie inside our own mapping; mincore only
        // writes `pages` bytes to `out`.
        unsafe {
            let at = self.map.as_ptr().add(addr as usize) as *mut libc::c_void;
            let len = (pages as u64 * PAGE_SIZE).min(self.size - addr) as usize;
            if libc::mincore(at, len, out.as_mut_ptr()) == 0 {
                out[..pages].iter_mut().for_each(|b| *b &= 1);
            }
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Host address of guest address 0 (for compiled code's inline accesses).
    pub fn host_base(&mut self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    #[inline]
    fn check(&self, addr: u64, size: usize, write: bool) -> Result<usize, MemFault> {
        let fault = MemFault { addr, size: size as u32, write };
        match addr.checked_add(size as u64) {
            // An empty range needs no permission (and may start at `size`).
            Some(end) if end <= self.size && size == 0 => Ok(addr as usize),
            Some(end) if end <= self.size => {
                if let Some(perms) = &self.perms {
                    let need = if write { PERM_W } else { PERM_R };
                    let (first, last) = (addr / PAGE_SIZE, (end - 1) / PAGE_SIZE);
                    if (first..=last).any(|p| perms[p as usize] & need == 0) {
                        return Err(fault);
                    }
                }
                Ok(addr as usize)
            }
            _ => Err(fault),
        }
    }

    /// Reads `N` bytes at `addr`.
    #[inline]
    pub fn read<const N: usize>(&self, addr: u64) -> Result<[u8; N], MemFault> {
        let at = self.check(addr, N, false)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.map[at..at + N]);
        Ok(out)
    }

    /// Writes `N` bytes at `addr`.
    #[inline]
    pub fn write<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> Result<(), MemFault> {
        let at = self.check(addr, N, true)?;
        self.note_write(addr, N as u64);
        self.map[at..at + N].copy_from_slice(&bytes);
        Ok(())
    }

    /// Records writes to code lines (the range is already bounds-checked;
    /// an empty range writes nothing).
    #[inline]
    fn note_write(&mut self, addr: u64, len: u64) {
        if len == 0 {
            return;
        }
        let (first, last) = (addr / LINE_SIZE, (addr + len - 1) / LINE_SIZE);
        if self.code_lines[first as usize] | self.code_lines[last as usize] != 0 || last > first + 1 {
            self.note_code_write(first, last);
        }
    }

    #[cold]
    fn note_code_write(&mut self, first: u64, last: u64) {
        // Page by page, skipping pages without code, so that a write over
        // gigabytes (a munmap, a zero tail) costs little.
        let per_page = PAGE_SIZE / LINE_SIZE;
        let mut line = first;
        while line <= last {
            let page = line / per_page;
            let page_last = ((page + 1) * per_page - 1).min(last);
            let code_page = match &self.perms {
                Some(map) => map[page as usize] & PERM_CODE != 0,
                None => self.code_lines[line as usize..=page_last as usize].iter().any(|c| *c != 0),
            };
            if code_page {
                for l in line..=page_last {
                    if self.code_lines[l as usize] != 0 && !self.code_writes.contains(&l) {
                        self.code_writes.push(l);
                    }
                }
            }
            line = page_last + 1;
        }
    }

    /// Records a write that bypassed `write` (compiled code stores inline,
    /// or a system call changed a range): the part inside guest memory.
    pub fn note_external_write(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len).min(self.size);
        if addr < end {
            self.note_write(addr, end - addr);
        }
    }

    /// Host address of the code-line map (one byte per `LINE_SIZE` bytes).
    pub fn code_lines_ptr(&self) -> *const u8 {
        self.code_lines.as_ptr()
    }

    /// Marks `[addr, addr + len)` as holding translated code (the part
    /// inside guest memory).
    pub fn mark_code(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len.max(1)).min(self.size);
        if addr >= end {
            return;
        }
        for line in addr / LINE_SIZE..end.div_ceil(LINE_SIZE) {
            self.code_lines[line as usize] = 1;
        }
        if let Some(map) = self.perms.as_mut() {
            for page in addr / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
                map[page as usize] |= PERM_CODE;
            }
        }
    }

    /// Unmarks every line of a page (a page outside guest memory has none).
    pub fn unmark_page(&mut self, page: u64) {
        if page >= self.size.div_ceil(PAGE_SIZE) {
            return;
        }
        let lines = PAGE_SIZE / LINE_SIZE;
        let first = (page * lines) as usize;
        let end = (first + lines as usize).min(self.code_lines.len());
        self.code_lines[first..end].fill(0);
        if let Some(map) = self.perms.as_mut() {
            map[page as usize] &= !PERM_CODE;
        }
    }

    /// True when code lines were written since `take_code_writes`.
    #[inline]
    pub fn code_written(&self) -> bool {
        !self.code_writes.is_empty()
    }

    /// The code lines written since the last call (line numbers: address / `LINE_SIZE`).
    pub fn take_code_writes(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.code_writes)
    }

    /// Reads a little-endian value of `size` bytes (1, 2, 4, 8 or 16), zero-extended.
    #[inline]
    pub fn read_le(&self, addr: u64, size: u32) -> Result<u128, MemFault> {
        Ok(match size {
            1 => self.read::<1>(addr)?[0] as u128,
            2 => u16::from_le_bytes(self.read(addr)?) as u128,
            4 => u32::from_le_bytes(self.read(addr)?) as u128,
            8 => u64::from_le_bytes(self.read(addr)?) as u128,
            _ => u128::from_le_bytes(self.read(addr)?),
        })
    }

    /// Writes the low `size` bytes (1, 2, 4, 8 or 16) of `value`, little-endian.
    #[inline]
    pub fn write_le(&mut self, addr: u64, size: u32, value: u128) -> Result<(), MemFault> {
        match size {
            1 => self.write(addr, [value as u8]),
            2 => self.write(addr, (value as u16).to_le_bytes()),
            4 => self.write(addr, (value as u32).to_le_bytes()),
            8 => self.write(addr, (value as u64).to_le_bytes()),
            _ => self.write(addr, value.to_le_bytes()),
        }
    }

    /// A checked view of guest bytes (a system call's input buffer).
    pub fn bytes(&self, addr: u64, len: usize) -> Result<&[u8], MemFault> {
        let at = self.check(addr, len, false)?;
        Ok(&self.map[at..at + len])
    }

    /// A checked writable view of guest bytes (a system call's output
    /// buffer); the range counts as written, for code tracking.
    pub fn bytes_mut(&mut self, addr: u64, len: usize) -> Result<&mut [u8], MemFault> {
        let at = self.check(addr, len, true)?;
        self.note_write(addr, len as u64);
        Ok(&mut self.map[at..at + len])
    }

    /// Copies guest bytes out.
    pub fn read_bytes(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault> {
        let at = self.check(addr, out.len(), false)?;
        out.copy_from_slice(&self.map[at..at + out.len()]);
        Ok(())
    }

    /// Copies bytes into guest memory.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let at = self.check(addr, data.len(), true)?;
        self.note_write(addr, data.len() as u64);
        self.map[at..at + data.len()].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_are_bounds_checked_and_little_endian() {
        let mut m = GuestMemory::new(4096).unwrap();
        m.write_le(8, 4, 0x1122_3344).unwrap();
        assert_eq!(m.read::<4>(8).unwrap(), [0x44, 0x33, 0x22, 0x11]);
        assert_eq!(m.read_le(8, 2).unwrap(), 0x3344);
        assert_eq!(m.read_le(4092, 4).unwrap(), 0);
        assert_eq!(m.read_le(4093, 4), Err(MemFault { addr: 4093, size: 4, write: false }));
        assert!(m.write_le(u64::MAX, 8, 0).is_err());
        assert!(m.write_bytes(4000, &[0; 97]).is_err());
    }

    #[test]
    fn writes_to_code_lines_are_recorded() {
        let mut m = GuestMemory::new(4 * PAGE_SIZE).unwrap();
        m.mark_code(PAGE_SIZE + 10, 4);
        m.write_le(0, 8, 1).unwrap();
        m.write_le(PAGE_SIZE + 100, 1, 1).unwrap();
        assert!(!m.code_written(), "data in the code's page but not its line");
        m.write_le(PAGE_SIZE - 4, 8, 1).unwrap();
        m.write_bytes(PAGE_SIZE - 64, &[0; 256]).unwrap();
        assert_eq!(m.take_code_writes(), vec![PAGE_SIZE / LINE_SIZE]);
        m.unmark_page(1);
        m.write_le(PAGE_SIZE + 12, 1, 1).unwrap();
        assert!(!m.code_written());
    }

    #[test]
    fn protection_faults_unmapped_and_read_only_pages() {
        let mut m = GuestMemory::with_protection(4 * PAGE_SIZE).unwrap();
        assert!(m.read_le(0, 1).is_err(), "nothing is mapped at first");
        m.protect(PAGE_SIZE, PAGE_SIZE, PERM_R);
        m.protect(2 * PAGE_SIZE, PAGE_SIZE, PERM_R | PERM_W);
        assert_eq!(m.read_le(PAGE_SIZE, 8).unwrap(), 0);
        assert!(m.write_le(PAGE_SIZE, 8, 1).is_err(), "read-only");
        assert!(m.write_le(2 * PAGE_SIZE - 4, 8, 1).is_err(), "straddles into read-only");
        m.write_le(2 * PAGE_SIZE, 8, 5).unwrap();
        assert!(m.read_le(3 * PAGE_SIZE - 4, 8).is_err(), "straddles into unmapped");
        m.discard(2 * PAGE_SIZE, PAGE_SIZE);
        assert_eq!(m.read_le(2 * PAGE_SIZE, 8).unwrap(), 0);
        assert_eq!(m.perms_at(PAGE_SIZE), PERM_R);
    }

    #[test]
    fn item1_memory_smaller_than_an_access_is_refused() {
        for size in [0, 1, 15, MAX_MEMORY + 1, u64::MAX] {
            let err = GuestMemory::new(size).err().expect("refused");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{size}");
        }
        let mut m = GuestMemory::new(MIN_MEMORY).unwrap();
        m.write_le(0, 16, u128::MAX).unwrap();
        assert!(m.write_le(1, 16, 0).is_err());
        assert!(m.read_le(MIN_MEMORY, 1).is_err());
    }

    #[test]
    fn large_reservations_cost_nothing_until_touched() {
        let mut m = GuestMemory::new(4 << 30).unwrap();
        m.write_le((4 << 30) - 8, 8, 7).unwrap();
        assert_eq!(m.read_le((4 << 30) - 8, 8).unwrap(), 7);
    }
}
