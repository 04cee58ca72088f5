//! Guest memory: a contiguous guest-physical range mapped onto one host
//! reservation. Every access is bounds-checked; an access outside the range
//! is a `MemFault`, never a host access. Guest memory is little-endian
//! whatever the host.
//!
//! Memory that holds translated code is marked in 64-byte lines; a write to
//! a marked line is recorded so the engine can invalidate the translations
//! made from it (self-modifying code). Lines rather than pages keep data
//! that shares a page with code from invalidating it on every store.
//!
//! The guest's pages are 4 KiB whatever the host's (16 or 64 KiB on some
//! aarch64 hosts): host calls that work in pages (giving memory back,
//! mapping files, residency) cover only whole host pages, and the guest
//! pages around them are handled byte by byte.
//!
//! Guest threads share one memory through views (`share`): each thread's
//! engine has its own, and a write to code through any view is recorded in
//! every view and asks the other views' engines back, so each invalidates
//! its own translations before it runs another block.

use memmap2::{MmapMut, MmapOptions};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

mod mirror;

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

/// Bytes of a host page, which host mapping calls work in (sysconf's
/// page size: 4 KiB on x86-64, 4, 16 or 64 KiB on aarch64).
pub fn host_page_size() -> u64 {
    static SIZE: OnceLock<u64> = OnceLock::new();
    *SIZE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 { p as u64 } else { PAGE_SIZE }
    })
}

/// The whole host pages inside `[start, end)` (offsets into guest memory,
/// whose base is host-page aligned), if any.
fn host_pages_within(start: u64, end: u64) -> Option<(u64, u64)> {
    let page = host_page_size();
    let (lo, hi) = (start.next_multiple_of(page), end / page * page);
    (lo < hi).then_some((lo, hi))
}

/// The smallest guest memory: the widest single access (16 bytes), so
/// that no access is larger than memory and one unsigned compare of its
/// address against `size - access` bounds it (compiled code relies on it).
pub const MIN_MEMORY: u64 = 16;

/// The largest guest memory: 2^40 bytes (1 TiB), far below what an
/// address computation near 2^64 could wrap into.
pub const MAX_MEMORY: u64 = 1 << 40;

/// Can guest memory with protection mirror its page permissions on the
/// host (`GuestMemory::mirrors`)? On x86-64 Linux hosts, whose
/// pages are the guest's size and whose compiled code turns the host's
/// fault into the guest's (`jit::replay`).
pub fn host_mirrors_permissions() -> bool {
    cfg!(all(target_arch = "x86_64", target_os = "linux")) && host_page_size() == PAGE_SIZE
}

/// The host mappings of one guest memory, shared by its views (which use
/// their addresses; the mappings are held here for their lifetime).
struct Mapping {
    _map: MmapMut,
    /// One byte per line: nonzero when the line holds translated code.
    _code_lines: MmapMut,
    /// With protection (user mode): one byte of `PERM_*` bits per page; an
    /// access to a page without the right bit faults. Without it, all of
    /// `0..size` may be read, written and executed (the board's RAM).
    _perms: Option<MmapMut>,
    /// Each view's record of code writes.
    views: Mutex<Vec<Arc<CodeWrites>>>,
    /// The host protection of each page mirrors its permissions (see
    /// `mirror`). Turned off for good (every page opened) when a second
    /// thread shares the memory or the host refuses a change.
    mirror: AtomicBool,
}

/// The code lines written since a view's engine last looked.
#[derive(Default)]
struct CodeWrites {
    /// Set (under `lines`' lock) when `lines` is not empty.
    written: AtomicBool,
    /// Line numbers, deduplicated.
    lines: Mutex<Vec<u64>>,
    /// Stored 1 when another view writes code: the view's engine's
    /// interrupt word, so that it comes back to look.
    wake: OnceLock<&'static AtomicU32>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Guest RAM from address 0 to `size`, backed lazily: untouched pages cost
/// no host memory. One view of it (see `share`).
pub struct GuestMemory {
    mapping: Arc<Mapping>,
    /// The mapping's host addresses (`perms` null without protection).
    base: *mut u8,
    code_lines: *mut u8,
    perms: *mut u8,
    size: u64,
    writes: Arc<CodeWrites>,
    /// Pages whose host protection is to follow their permissions before
    /// compiled code runs next (`settle_host_protection`).
    unsettled: Vec<u64>,
}

// SAFETY: the pointers are into mappings that `mapping` keeps alive
// wherever the view goes; what views share is synchronised (the code-write
// records by their locks) or is guest memory, which guest threads race on
// as they do natively.
unsafe impl Send for GuestMemory {}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        lock(&self.mapping.views).retain(|v| !Arc::ptr_eq(v, &self.writes));
    }
}

/// The lock of atomic operations the host cannot make atomic (16 bytes,
/// or not naturally aligned).
static WIDE_ATOMICS: Mutex<()> = Mutex::new(());

/// An atomic update of the little-endian `$t` at `$p` by `$f` (old value
/// to new, as u128); gives the old value.
macro_rules! atomic_update {
    ($atomic:ty, $t:ty, $p:expr, $f:expr) => {{
        // SAFETY: (the caller's) `$p` is an aligned address inside the mapping.
        let cell = unsafe { &*($p as *const $atomic) };
        let update = |v: $t| Some(<$t>::to_le($f(<$t>::from_le(v) as u128) as $t));
        <$t>::from_le(cell.fetch_update(Ordering::SeqCst, Ordering::SeqCst, update).unwrap_or_else(|v| v)) as u128
    }};
}

/// Helpers reach guest memory with the guest's permissions.
impl crate::abi::HelperMemory for GuestMemory {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), crate::visa::TrapCode> {
        self.read_bytes(addr, out).map_err(|_| crate::visa::TrapCode::MemFault)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), crate::visa::TrapCode> {
        self.write_bytes(addr, data).map_err(|_| crate::visa::TrapCode::MemFault)
    }
}

impl GuestMemory {
    /// Reserves `size` bytes of zeroed guest memory (`MIN_MEMORY` to
    /// `MAX_MEMORY`; other sizes are an `InvalidInput` error).
    pub fn new(size: u64) -> std::io::Result<GuestMemory> {
        GuestMemory::reserve(size, false)
    }

    /// Guest memory where no page is accessible until `protect` maps it.
    pub fn with_protection(size: u64) -> std::io::Result<GuestMemory> {
        GuestMemory::reserve(size, true)
    }

    fn reserve(size: u64, protection: bool) -> std::io::Result<GuestMemory> {
        if !(MIN_MEMORY..=MAX_MEMORY).contains(&size) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("guest memory of {size} bytes is outside {MIN_MEMORY} bytes .. 1 TiB"),
            ));
        }
        let len = usize::try_from(size)
            .map_err(|_| std::io::Error::other("guest memory larger than the host address space"))?;
        let mut map = MmapOptions::new().len(len).no_reserve_swap().map_anon()?;
        let lines = len.div_ceil(LINE_SIZE as usize);
        let mut code_lines = MmapOptions::new().len(lines).no_reserve_swap().map_anon()?;
        let pages = size.div_ceil(PAGE_SIZE) as usize;
        let mut perms =
            if protection { Some(MmapOptions::new().len(pages).no_reserve_swap().map_anon()?) } else { None };
        let writes = Arc::new(CodeWrites::default());
        let (base, code_lines_at) = (map.as_mut_ptr(), code_lines.as_mut_ptr());
        let perms_at = perms.as_mut().map_or(std::ptr::null_mut(), |p| p.as_mut_ptr());
        // SAFETY: closing all of our own fresh mapping (no page is readable yet).
        let mirror = protection
            && host_mirrors_permissions()
            && unsafe { libc::mprotect(base as *mut libc::c_void, len, libc::PROT_NONE) } == 0;
        let views = Mutex::new(vec![writes.clone()]);
        let mirror = AtomicBool::new(mirror);
        let mapping = Arc::new(Mapping { _map: map, _code_lines: code_lines, _perms: perms, views, mirror });
        Ok(GuestMemory {
            mapping,
            base,
            code_lines: code_lines_at,
            perms: perms_at,
            size,
            writes,
            unsettled: Vec::new(),
        })
    }

    /// Zeroes guest bytes `[at, at + len)` in place, whatever the guest's
    /// permissions (their host pages opened for the while).
    fn fill_zero(&mut self, at: u64, len: u64) {
        self.with_open_pages(at, len, |m| m.slice_mut(at as usize, len as usize).fill(0));
    }

    /// Another view of the same memory, for another thread's engine: the
    /// same bytes and permissions, and code writes through any view reach
    /// this one too.
    pub fn share(&self) -> GuestMemory {
        let writes = Arc::new(CodeWrites::default());
        lock(&self.mapping.views).push(writes.clone());
        GuestMemory { mapping: self.mapping.clone(), writes, unsettled: Vec::new(), ..*self }
    }

    /// Has this memory other views than this one?
    pub fn is_shared(&self) -> bool {
        lock(&self.mapping.views).len() > 1
    }

    /// Makes a code write through another view store 1 into `word` (the
    /// interrupt word of the engine that runs on this view). Set once.
    pub fn wake_on_code_writes(&self, word: &'static AtomicU32) {
        let _ = self.writes.wake.set(word);
    }

    /// Runs `fork` (a host fork: 0 in the child) with the views' records
    /// locked, so that no other thread holds them; in the child, where only
    /// this thread goes on, this view is left the only one.
    pub fn around_fork(&mut self, fork: impl FnOnce() -> i64) -> i64 {
        let mut views = lock(&self.mapping.views);
        let pid = fork();
        if pid == 0 {
            views.retain(|v| Arc::ptr_eq(v, &self.writes));
        }
        pid
    }

    pub fn has_protection(&self) -> bool {
        !self.perms.is_null()
    }

    /// Host address of the permission map (one byte per page), if any.
    pub fn perms_ptr(&self) -> Option<*const u8> {
        self.has_protection().then_some(self.perms as *const u8)
    }

    /// The permission byte of a page (with protection, a page inside memory).
    #[inline]
    fn perm(&self, page: u64) -> u8 {
        assert!(self.has_protection() && page < self.size.div_ceil(PAGE_SIZE));
        // SAFETY: the map has a byte per page of memory (checked above).
        unsafe { *self.perms.add(page as usize) }
    }

    fn set_perm(&mut self, page: u64, perms: u8) {
        assert!(self.has_protection() && page < self.size.div_ceil(PAGE_SIZE));
        // SAFETY: the map has a byte per page of memory (checked above).
        unsafe { *self.perms.add(page as usize) = perms }
    }

    /// The code-line byte of a line inside memory.
    fn line(&self, line: u64) -> u8 {
        assert!(line < self.size.div_ceil(LINE_SIZE));
        // SAFETY: the map has a byte per line of memory (checked above).
        unsafe { *self.code_lines.add(line as usize) }
    }

    fn set_line(&mut self, line: u64, code: u8) {
        assert!(line < self.size.div_ceil(LINE_SIZE));
        // SAFETY: the map has a byte per line of memory (checked above).
        unsafe { *self.code_lines.add(line as usize) = code }
    }

    /// Guest bytes `[at, at + len)`, already checked to lie inside memory.
    fn slice(&self, at: usize, len: usize) -> &[u8] {
        assert!(at as u64 + len as u64 <= self.size);
        // SAFETY: the range lies inside the mapping (checked above), alive
        // while `self` is.
        unsafe { std::slice::from_raw_parts(self.base.add(at), len) }
    }

    fn slice_mut(&mut self, at: usize, len: usize) -> &mut [u8] {
        assert!(at as u64 + len as u64 <= self.size);
        // SAFETY: as for `slice`.
        unsafe { std::slice::from_raw_parts_mut(self.base.add(at), len) }
    }

    /// Sets the permissions of the pages overlapping `[addr, addr + len)`.
    /// Removing access does not free the memory; see `discard`.
    pub fn protect(&mut self, addr: u64, len: u64, perms: u8) {
        let end = addr.saturating_add(len).min(self.size);
        if self.has_protection() {
            for page in addr / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
                let old = self.perm(page);
                self.set_perm(page, perms | (old & PERM_CODE));
            }
            if self.mirrors() && addr < end {
                self.mirror_pages(addr / PAGE_SIZE, end.div_ceil(PAGE_SIZE));
            }
        }
    }

    /// The permissions of the page holding `addr` (all, without protection).
    pub fn perms_at(&self, addr: u64) -> u8 {
        match self.has_protection() {
            _ if addr >= self.size => 0,
            true => self.perm(addr / PAGE_SIZE) & !PERM_CODE,
            false => PERM_R | PERM_W | PERM_X,
        }
    }

    /// Zeroes `[addr, addr + len)` and gives its host memory back (munmap
    /// of a guest mapping): the whole host pages inside it go back, the
    /// rest is zeroed in place.
    pub fn discard(&mut self, addr: u64, len: u64) {
        self.release(addr, len, |at, len| {
            // SAFETY: the range lies inside our own mapping; MADV_DONTNEED
            // on a private anonymous mapping makes the pages read back as
            // zeros.
            unsafe { libc::madvise(at, len, libc::MADV_DONTNEED) == 0 }
        });
    }

    /// Replaces the host memory of `[addr, addr + len)` with fresh
    /// anonymous zero pages (munmap of a guest mapping, which may have been
    /// a file's: MADV_DONTNEED would bring the file's bytes back); what is
    /// not a whole host page is zeroed in place (a private copy of a file's
    /// page reads back as those zeros). The part past guest memory is
    /// ignored.
    pub fn clear(&mut self, addr: u64, len: u64) {
        self.release(addr, len, |at, len| {
            // SAFETY: the range lies inside our own mapping, which stays
            // reserved: MAP_FIXED replaces its pages in place.
            unsafe {
                libc::mmap(
                    at,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                    -1,
                    0,
                ) == at
            }
        });
        if self.mirrors() {
            let end = addr.saturating_add(len).min(self.size);
            self.mirror_pages(addr / PAGE_SIZE, end.div_ceil(PAGE_SIZE));
        }
    }

    /// Zeroes `[addr, addr + len)`, giving the whole host pages inside it
    /// to `give_back` (which says whether it did) and filling the rest.
    fn release(&mut self, addr: u64, len: u64, give_back: impl Fn(*mut libc::c_void, usize) -> bool) {
        let end = addr.saturating_add(len).min(self.size);
        if addr >= end {
            return;
        }
        let (lo, hi) = match host_pages_within(addr, end) {
            // SAFETY: lo < hi <= size: inside our own mapping.
            Some((lo, hi))
                if give_back(unsafe { self.base.add(lo as usize) } as *mut libc::c_void, (hi - lo) as usize) =>
            {
                (lo, hi)
            }
            _ => (end, end),
        };
        self.fill_zero(addr, lo - addr);
        self.fill_zero(hi, end - hi);
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
        self.note_write(addr, len);
        if inner_start >= inner_end {
            self.fill_zero(addr, len);
            return Ok(());
        }
        self.fill_zero(addr, inner_start - addr);
        self.fill_zero(inner_end, end - inner_end);
        self.clear(inner_start, inner_end - inner_start);
        Ok(())
    }

    /// Maps `len` bytes of the host file `fd` at `offset` privately at
    /// guest address `addr`, in place of the memory there: the file's pages
    /// are read when touched, and writes stay private. The address, offset
    /// and length must be whole host pages (EINVAL otherwise: a host with
    /// larger pages than the guest's cannot map a guest page alone, and the
    /// caller copies instead). On failure the range holds zeros.
    pub fn map_file(&mut self, addr: u64, len: u64, fd: i32, offset: u64) -> std::io::Result<()> {
        let page = host_page_size();
        let fits = [addr, len, offset].iter().all(|v| v.is_multiple_of(page))
            && addr.checked_add(len).is_some_and(|e| e <= self.size);
        if !fits || len == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let off = i64::try_from(offset).map_err(|_| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        // SAFETY: the range lies inside our own mapping; MAP_FIXED replaces
        // its pages in place.
        let r = unsafe {
            let at = self.base.add(addr as usize) as *mut libc::c_void;
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
        if self.mirrors() {
            self.mirror_pages(addr / PAGE_SIZE, (addr + len) / PAGE_SIZE);
        }
        Ok(())
    }

    /// Fills `out` with one byte per page from `addr` (page-aligned): 1
    /// where the host holds the page in memory, 0 where it does not (as
    /// mincore reports, for the host page holding it). Pages past guest
    /// memory are not resident.
    pub fn resident(&self, addr: u64, out: &mut [u8]) {
        out.fill(0);
        let pages = (self.size.div_ceil(PAGE_SIZE).saturating_sub(addr / PAGE_SIZE) as usize).min(out.len());
        if !addr.is_multiple_of(PAGE_SIZE) || pages == 0 {
            return;
        }
        let host = host_page_size();
        let first = addr / host * host;
        let end = (addr + pages as u64 * PAGE_SIZE).min(self.size);
        let mut held = vec![0u8; (end - first).div_ceil(host) as usize];
        // SAFETY: [first, end) lies inside our own mapping, from a host page
        // boundary; mincore writes one byte per host page to `held`.
        let ok = unsafe {
            libc::mincore(self.base.add(first as usize) as *mut libc::c_void, (end - first) as usize, held.as_mut_ptr())
        } == 0;
        if ok {
            for (i, b) in out[..pages].iter_mut().enumerate() {
                *b = held[((addr + i as u64 * PAGE_SIZE - first) / host) as usize] & 1;
            }
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Host address of guest address 0 (for compiled code's inline accesses).
    pub fn host_base(&mut self) -> *mut u8 {
        self.base
    }

    #[inline]
    fn check(&self, addr: u64, size: usize, write: bool) -> Result<usize, MemFault> {
        let fault = MemFault { addr, size: size as u32, write };
        match addr.checked_add(size as u64) {
            // An empty range needs no permission (and may start at `size`).
            Some(end) if end <= self.size && size == 0 => Ok(addr as usize),
            Some(end) if end <= self.size => {
                if self.has_protection() {
                    let need = if write { PERM_W } else { PERM_R };
                    let (first, last) = (addr / PAGE_SIZE, (end - 1) / PAGE_SIZE);
                    if (first..=last).any(|p| self.perm(p) & need == 0) {
                        return Err(fault);
                    }
                }
                Ok(addr as usize)
            }
            _ => Err(fault),
        }
    }

    /// Checks a write (of a value: a page or less, on two pages at most,
    /// looked at directly): its offset, and whether the host keeps a page
    /// of it read-only for holding code (`mirror`).
    #[inline]
    fn check_small_write(&self, addr: u64, size: usize) -> Result<(usize, bool), MemFault> {
        let at = self.check(addr, size, true)?;
        if !self.has_protection() || size == 0 {
            return Ok((at, false));
        }
        if size as u64 > PAGE_SIZE {
            return Ok((at, self.on_code_page(addr, size as u64)));
        }
        let (first, last) = (addr / PAGE_SIZE, (addr + size as u64 - 1) / PAGE_SIZE);
        // SAFETY: `check` found both pages inside memory, and the map has a
        // byte per page.
        let code = unsafe { (*self.perms.add(first as usize) | *self.perms.add(last as usize)) & PERM_CODE != 0 };
        Ok((at, code && self.mirrors()))
    }

    /// Reads `N` bytes at `addr`.
    #[inline]
    pub fn read<const N: usize>(&self, addr: u64) -> Result<[u8; N], MemFault> {
        let at = self.check(addr, N, false)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(at, N));
        Ok(out)
    }

    /// Writes `N` bytes at `addr`.
    #[inline]
    pub fn write<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> Result<(), MemFault> {
        let (at, closed) = self.check_small_write(addr, N)?;
        self.note_write(addr, N as u64);
        if closed {
            self.with_open_pages(addr, N as u64, |m| m.slice_mut(at, N).copy_from_slice(&bytes));
        } else {
            self.slice_mut(at, N).copy_from_slice(&bytes);
        }
        Ok(())
    }

    /// An atomic read-modify-write of `size` bytes (1, 2, 4, 8 or 16) at
    /// `addr` (a LOCK-prefixed instruction, XCHG, CMPXCHG): `update` makes
    /// the new value from the old, and the old is returned. Naturally
    /// aligned operations of up to 8 bytes are host atomic operations, so
    /// they are atomic against every other thread's; 16-byte and misaligned
    /// ones take a lock of their own, so are atomic against each other only.
    pub fn atomic(&mut self, addr: u64, size: u32, update: impl Fn(u128) -> u128) -> Result<u128, MemFault> {
        let (at, closed) = self.check_small_write(addr, size as usize)?;
        self.note_write(addr, size as u64);
        if closed {
            return Ok(self.with_open_pages(addr, size as u64, |m| m.atomic_unopened(at, addr, size, update)));
        }
        Ok(self.atomic_unopened(at, addr, size, update))
    }

    /// `atomic` on a checked, host-writable address.
    fn atomic_unopened(&mut self, at: usize, addr: u64, size: u32, update: impl Fn(u128) -> u128) -> u128 {
        let p = self.slice_mut(at, size as usize).as_mut_ptr();
        let aligned = addr.is_multiple_of(size as u64);
        match size {
            1 => atomic_update!(AtomicU8, u8, p, update),
            2 if aligned => atomic_update!(AtomicU16, u16, p, update),
            4 if aligned => atomic_update!(AtomicU32, u32, p, update),
            8 if aligned => atomic_update!(AtomicU64, u64, p, update),
            _ => {
                let _held = lock(&WIDE_ATOMICS);
                let bytes = self.slice_mut(at, size as usize);
                let mut le = [0u8; 16];
                le[..size as usize].copy_from_slice(bytes);
                let old = u128::from_le_bytes(le);
                bytes.copy_from_slice(&update(old).to_le_bytes()[..size as usize]);
                old
            }
        }
    }

    /// Records writes to code lines (the range is already bounds-checked;
    /// an empty range writes nothing).
    #[inline]
    fn note_write(&mut self, addr: u64, len: u64) {
        if len == 0 {
            return;
        }
        let (first, last) = (addr / LINE_SIZE, (addr + len - 1) / LINE_SIZE);
        if self.line(first) | self.line(last) != 0 || last > first + 1 {
            self.note_code_write(first, last);
        }
    }

    #[cold]
    fn note_code_write(&mut self, first: u64, last: u64) {
        // Page by page, skipping pages without code, so that a write over
        // gigabytes (a munmap, a zero tail) costs little.
        let per_page = PAGE_SIZE / LINE_SIZE;
        let mut written = Vec::new();
        let mut line = first;
        while line <= last {
            let page = line / per_page;
            let page_last = ((page + 1) * per_page - 1).min(last);
            let code_page = match self.has_protection() {
                true => self.perm(page) & PERM_CODE != 0,
                false => (line..=page_last).any(|l| self.line(l) != 0),
            };
            if code_page {
                written.extend((line..=page_last).filter(|l| self.line(*l) != 0));
            }
            line = page_last + 1;
        }
        if written.is_empty() {
            return;
        }
        for view in lock(&self.mapping.views).iter() {
            let mut lines = lock(&view.lines);
            for l in &written {
                if !lines.contains(l) {
                    lines.push(*l);
                }
            }
            view.written.store(true, Ordering::Release);
            if !Arc::ptr_eq(view, &self.writes)
                && let Some(word) = view.wake.get()
            {
                word.store(1, Ordering::SeqCst);
            }
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
        self.code_lines
    }

    /// Marks `[addr, addr + len)` as holding translated code (the part
    /// inside guest memory).
    pub fn mark_code(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len.max(1)).min(self.size);
        if addr >= end {
            return;
        }
        for line in addr / LINE_SIZE..end.div_ceil(LINE_SIZE) {
            self.set_line(line, 1);
        }
        if self.has_protection() {
            for page in addr / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
                let old = self.perm(page);
                if old & PERM_CODE == 0 {
                    self.set_perm(page, old | PERM_CODE);
                    self.code_marked(page, old);
                }
            }
        }
    }

    /// Unmarks every line of a page (a page outside guest memory has none),
    /// so the engine can mark again what it still holds there. While other
    /// views exist the marks stay: their engines may hold code there too.
    pub fn unmark_page(&mut self, page: u64) {
        if page >= self.size.div_ceil(PAGE_SIZE) || self.is_shared() {
            return;
        }
        let lines = PAGE_SIZE / LINE_SIZE;
        let first = page * lines;
        let end = (first + lines).min(self.size.div_ceil(LINE_SIZE));
        (first..end).for_each(|l| self.set_line(l, 0));
        if self.has_protection() {
            let old = self.perm(page);
            if old & PERM_CODE != 0 {
                self.set_perm(page, old & !PERM_CODE);
                self.code_unmarked(page, old);
            }
        }
    }

    /// True when code lines were written (through any view) since
    /// `take_code_writes`.
    #[inline]
    pub fn code_written(&self) -> bool {
        self.writes.written.load(Ordering::Acquire)
    }

    /// The code lines written since the last call (line numbers: address / `LINE_SIZE`).
    pub fn take_code_writes(&mut self) -> Vec<u64> {
        let mut lines = lock(&self.writes.lines);
        self.writes.written.store(false, Ordering::Relaxed);
        std::mem::take(&mut *lines)
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
        Ok(self.slice(at, len))
    }

    /// A checked writable view of guest bytes (a system call's output
    /// buffer); the range counts as written, for code tracking, and its
    /// host pages stay writable until compiled code runs next.
    pub fn bytes_mut(&mut self, addr: u64, len: usize) -> Result<&mut [u8], MemFault> {
        let at = self.check(addr, len, true)?;
        self.note_write(addr, len as u64);
        if self.on_code_page(addr, len as u64) {
            self.open_until_settled(addr, len as u64);
        }
        Ok(self.slice_mut(at, len))
    }

    /// Copies guest bytes out.
    pub fn read_bytes(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault> {
        let at = self.check(addr, out.len(), false)?;
        out.copy_from_slice(self.slice(at, out.len()));
        Ok(())
    }

    /// Copies bytes into guest memory.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let at = self.check(addr, data.len(), true)?;
        self.note_write(addr, data.len() as u64);
        let len = data.len() as u64;
        self.with_open_pages(addr, len, |m| m.slice_mut(at, data.len()).copy_from_slice(data));
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

    /// Can the host read (or, with `write`, write) the byte at host address
    /// `p`? Moving it through a pipe fails with EFAULT where it cannot.
    fn host_can(p: *mut u8, write: bool) -> bool {
        let mut fds = [0; 2];
        // SAFETY: a pipe of our own; write(2) reads the byte, read(2)
        // writes it, or either fails.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            let ok = if write {
                assert_eq!(libc::write(fds[1], [0u8].as_ptr() as *const libc::c_void, 1), 1);
                libc::read(fds[0], p as *mut libc::c_void, 1) == 1
            } else {
                libc::write(fds[1], p as *const libc::c_void, 1) == 1
            };
            libc::close(fds[0]);
            libc::close(fds[1]);
            ok
        }
    }

    #[test]
    fn pages_the_guest_may_not_read_are_closed_on_the_host_too() {
        let mut m = GuestMemory::with_protection(8 * PAGE_SIZE).unwrap();
        if !host_mirrors_permissions() {
            assert!(!m.mirrors());
            return;
        }
        assert!(m.mirrors());
        let base = m.host_base();
        // SAFETY: offsets inside the mapping.
        let at = |page: u64| unsafe { base.add((page * PAGE_SIZE) as usize) };
        let open = || (0..8).map(|p| host_can(at(p), false)).collect::<Vec<_>>();
        assert_eq!(open(), [false; 8], "nothing is mapped at first");
        m.protect(PAGE_SIZE, 3 * PAGE_SIZE, PERM_R | PERM_W);
        m.protect(5 * PAGE_SIZE, PAGE_SIZE, PERM_R | PERM_X);
        m.mark_code(5 * PAGE_SIZE, 16);
        assert_eq!(open(), [false, true, true, true, false, true, false, false]);
        m.write_le(2 * PAGE_SIZE + 8, 8, 7).unwrap();
        m.protect(2 * PAGE_SIZE, PAGE_SIZE, 0);
        assert_eq!(open(), [false, true, false, true, false, true, false, false]);
        // Zeroing a closed page's bytes (a munmap's partial page, a
        // segment's tail) opens it for the while only.
        m.zero(2 * PAGE_SIZE + 4, 100).unwrap();
        m.clear(PAGE_SIZE, PAGE_SIZE);
        assert_eq!(open(), [false, true, false, true, false, true, false, false]);
        m.protect(2 * PAGE_SIZE, PAGE_SIZE, PERM_R);
        assert_eq!(m.read_le(2 * PAGE_SIZE + 8, 8).unwrap(), 0, "zeroed while closed");
        m.protect(0, 8 * PAGE_SIZE, 0);
        m.clear(0, 8 * PAGE_SIZE);
        assert_eq!(open(), [false; 8]);
    }

    #[test]
    fn pages_the_guest_may_not_write_or_that_hold_code_are_read_only_on_the_host() {
        let mut m = GuestMemory::with_protection(4 * PAGE_SIZE).unwrap();
        if !m.mirrors() {
            return;
        }
        let base = m.host_base();
        // SAFETY: offsets inside the mapping.
        let at = |page: u64| unsafe { base.add((page * PAGE_SIZE) as usize + 8) };
        let writable = || (0..4).map(|p| host_can(at(p), true)).collect::<Vec<_>>();
        m.protect(0, 3 * PAGE_SIZE, PERM_R | PERM_W);
        m.protect(2 * PAGE_SIZE, PAGE_SIZE, PERM_R);
        assert_eq!(writable(), [true, true, false, false]);
        // Code marks close a page only when compiled code is to run.
        m.mark_code(PAGE_SIZE + 64, 16);
        assert_eq!(writable(), [true, true, false, false]);
        m.settle_host_protection();
        assert_eq!(writable(), [true, false, false, false]);
        // visa's own writes reach it, and leave it closed.
        m.write_le(PAGE_SIZE + 1000, 8, 0x1234).unwrap();
        m.write_bytes(PAGE_SIZE + 2000, &[7; 10]).unwrap();
        assert_eq!(m.atomic(PAGE_SIZE + 16, 8, |v| v + 5).unwrap(), 0);
        assert!(!m.code_written(), "beside the code line");
        assert_eq!(writable(), [true, false, false, false]);
        // A system call's output buffer stays open until compiled code runs.
        m.bytes_mut(PAGE_SIZE + 60, 8).unwrap().fill(9);
        assert_eq!(m.take_code_writes(), vec![(PAGE_SIZE + 64) / LINE_SIZE], "over the code line");
        assert_eq!(writable(), [true, true, false, false]);
        m.settle_host_protection();
        assert_eq!(writable(), [true, false, false, false]);
        assert_eq!(m.read_le(PAGE_SIZE + 1000, 8).unwrap(), 0x1234);
        assert_eq!(m.read_le(PAGE_SIZE + 16, 8).unwrap(), 5);
        assert_eq!(m.read_le(PAGE_SIZE + 60, 8).unwrap(), 0x0909_0909_0909_0909);
        // Unmarked, it is open at once; the guest's own read-only page never is.
        m.unmark_page(1);
        assert_eq!(writable(), [true, true, false, false]);
        assert!(m.write_le(2 * PAGE_SIZE, 1, 1).is_err());
        m.write_le(PAGE_SIZE + 12, 4, 3).unwrap();
        m.protect(PAGE_SIZE, PAGE_SIZE, PERM_R);
        m.zero(PAGE_SIZE, 16).unwrap();
        assert_eq!(writable(), [true, false, false, false]);
        assert_eq!(m.read_le(PAGE_SIZE + 12, 4).unwrap(), 0, "zeroed while read-only");
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
    fn views_share_bytes_and_code_writes_reach_every_view() {
        static WORD: AtomicU32 = AtomicU32::new(0);
        let mut a = GuestMemory::new(4 * PAGE_SIZE).unwrap();
        let mut b = a.share();
        b.wake_on_code_writes(&WORD);
        assert!(a.is_shared());
        a.write_le(8, 4, 7).unwrap();
        assert_eq!(b.read_le(8, 4).unwrap(), 7);
        b.mark_code(PAGE_SIZE, 16);
        b.unmark_page(1);
        a.write_le(PAGE_SIZE + 4, 1, 1).unwrap();
        assert_eq!(WORD.load(Ordering::SeqCst), 1, "the other view's engine is asked back");
        assert_eq!(a.take_code_writes(), vec![PAGE_SIZE / LINE_SIZE]);
        assert_eq!(b.take_code_writes(), vec![PAGE_SIZE / LINE_SIZE], "marks stay while shared");
        drop(b);
        assert!(!a.is_shared());
    }

    #[test]
    fn atomic_updates_are_atomic_across_views() {
        let mem = GuestMemory::new(PAGE_SIZE).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let mut view = mem.share();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        for (addr, size) in [(0, 1), (2, 2), (4, 4), (8, 8), (17, 4), (32, 16)] {
                            view.atomic(addr, size, |v| v.wrapping_add(1) & (u128::MAX >> (128 - 8 * size))).unwrap();
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        for (addr, size, want) in
            [(0, 1, 40_000 % 256), (2, 2, 40_000), (4, 4, 40_000), (8, 8, 40_000), (17, 4, 40_000), (32, 16, 40_000)]
        {
            assert_eq!(mem.read_le(addr, size).unwrap(), want, "{size} bytes at {addr}");
        }
        let mut m = mem;
        assert_eq!(m.atomic(4, 4, |_| 5).unwrap(), 40_000, "the old value comes back");
        assert!(m.atomic(PAGE_SIZE - 2, 4, |v| v).is_err(), "past the end");
    }

    #[test]
    fn large_reservations_cost_nothing_until_touched() {
        let mut m = GuestMemory::new(4 << 30).unwrap();
        m.write_le((4 << 30) - 8, 8, 7).unwrap();
        assert_eq!(m.read_le((4 << 30) - 8, 8).unwrap(), 7);
    }
}
