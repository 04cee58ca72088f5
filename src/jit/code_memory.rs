//! Executable memory for compiled blocks: one bounded region, filled from
//! the start; when it is full the engine flushes every compiled block and
//! starts again (the interpreter carries execution meanwhile).
//!
//! No page is ever writable and executable at once (W^X). The region is
//! preferably one `memfd` file mapped twice: a read-write view where code
//! is written and a read-execute view it runs from, so writing a new block
//! never changes the protection of pages other code may be running in.
//! Where no memfd can be mapped executable, the region is one mapping kept
//! read-execute, each block starts on a fresh page, and only the block's own
//! pages turn read-write while it is written. Both are backed lazily: pages
//! cost nothing until code is written to them.
//!
//! After code is written it is made coherent with the instruction cache
//! ([`icache`](super::icache): nothing to do on x86-64 and s390x; aarch64
//! and riscv64 need it), also when a flush refills addresses that held older
//! code. A dual-mapped region also turns its executable view inaccessible
//! and back before the first block written after a flush: an emulated host
//! (qemu user mode) keeps translations of the code it ran until the pages
//! they came from change protection or are written through, and does not
//! see writes through the other view.
//!
//! A shared file mapping stays shared across `fork`, so a process that
//! forks while it has dual-mapped regions must go through [`prepare_fork`]:
//! it gives each region's code to the child in a file of its own.

use std::ffi::c_void;
use std::io;
use std::ptr::NonNull;

/// How the region is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// A memfd mapped twice: read-write to write, read-execute to run.
    Dual,
    /// One read-execute mapping whose pages turn read-write only while a new
    /// block is written into them (no other code lives on those pages).
    Toggle,
}

/// Why code could not be added.
#[derive(Debug)]
pub enum AddError {
    /// The region is full: flush and retry.
    Full,
    /// The host refused a protection change or the cache maintenance.
    Host(io::Error),
}

impl std::fmt::Display for AddError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddError::Full => f.write_str("the code region is full"),
            AddError::Host(e) => e.fmt(f),
        }
    }
}

pub struct CodeMemory {
    /// Where code is written (the read-write view; in `Toggle` mode the one
    /// mapping).
    write: NonNull<u8>,
    /// Where code runs from (the read-execute view); entry points point here.
    exec: NonNull<u8>,
    capacity: usize,
    used: usize,
    mapping: Mapping,
    page: usize,
    /// The region's entry in `REGIONS` (dual mapping).
    id: u64,
    /// A flush emptied the region after code ran from it: the executable
    /// view is re-protected before new code goes in (dual mapping).
    refill: bool,
}

/// `MFD_EXEC` (Linux 6.3): an executable memfd, asked for explicitly where
/// `vm.memfd_noexec` would otherwise seal it against execution.
const MFD_EXEC: libc::c_uint = 0x10;

/// A fresh memfd of `len` bytes (a sparse file).
fn memfd(len: usize) -> io::Result<libc::c_int> {
    let name = c"visa-code";
    // SAFETY: a valid NUL-terminated name; the flags are plain bits.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | MFD_EXEC) };
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // A kernel before 6.3 knows no MFD_EXEC (and no sealing).
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is the memfd just created.
    if unsafe { libc::ftruncate(fd, len as libc::off_t) } != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: fd is ours and closed once.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// A dual-mapped region as the fork handling sees it: its views (as
/// addresses), size, and the bytes of live code from its start.
struct Region {
    id: u64,
    write: usize,
    exec: usize,
    capacity: usize,
    used: usize,
}

/// Every live dual-mapped region of the process. Code is written into a
/// region only with this held, so a fork sees each region complete.
static REGIONS: std::sync::Mutex<Vec<Region>> = std::sync::Mutex::new(Vec::new());

fn regions() -> std::sync::MutexGuard<'static, Vec<Region>> {
    REGIONS.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a process about to fork holds: every dual-mapped region's live code
/// copied into a new file for the child. Call [`ForkCopies::child`] in the
/// child; drop it in the parent (and in the child, after `child`).
pub struct ForkCopies {
    regions: std::sync::MutexGuard<'static, Vec<Region>>,
    files: Vec<libc::c_int>,
}

/// Copies every dual-mapped region for a child about to be forked (its views
/// would otherwise be the parent's: both processes would write code into one
/// file). No code is written until the copies are dropped.
pub fn prepare_fork() -> io::Result<ForkCopies> {
    let mut copies = ForkCopies { regions: regions(), files: Vec::new() };
    for r in copies.regions.iter() {
        let fd = memfd(r.capacity)?;
        copies.files.push(fd);
        let mut done = 0;
        while done < r.used {
            // SAFETY: [write, write + used) is mapped and readable: the
            // region's read-write view.
            let n = unsafe { libc::pwrite(fd, (r.write + done) as *const c_void, r.used - done, done as libc::off_t) };
            if n <= 0 {
                return Err(io::Error::last_os_error());
            }
            done += n as usize;
        }
    }
    Ok(copies)
}

impl ForkCopies {
    /// In the child: puts each region's copy in place of both its views, at
    /// the same addresses (so every entry point stays valid). On failure the
    /// child cannot run compiled code safely and ends.
    pub fn child(&mut self) {
        for (r, fd) in self.regions.iter().zip(&self.files) {
            for (at, prot) in
                [(r.write, libc::PROT_READ | libc::PROT_WRITE), (r.exec, libc::PROT_READ | libc::PROT_EXEC)]
            {
                // SAFETY: replaces (MAP_FIXED) a view of ours by the same
                // bytes in the child's own file; nothing runs from the
                // region meanwhile (this thread is here, the only one).
                let p = unsafe {
                    libc::mmap(
                        at as *mut c_void,
                        r.capacity,
                        prot,
                        libc::MAP_SHARED | libc::MAP_FIXED | libc::MAP_NORESERVE,
                        *fd,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    eprintln!("visa: the forked child cannot have its own code region: {}", io::Error::last_os_error());
                    // SAFETY: ends the process at once.
                    unsafe { libc::_exit(127) };
                }
            }
            // The same code now comes from other pages: coherent again.
            // SAFETY: [write, write + used) and [exec, exec + used) are the
            // views just mapped.
            if let Err(e) = unsafe { super::icache::sync(r.write as *const u8, r.exec as *const u8, r.used) } {
                eprintln!("visa: the forked child cannot make its code coherent: {e}");
                // SAFETY: ends the process at once.
                unsafe { libc::_exit(127) };
            }
        }
    }
}

impl Drop for ForkCopies {
    fn drop(&mut self) {
        for fd in &self.files {
            // SAFETY: the descriptors are ours (the child's mappings, if any,
            // keep its file alive).
            unsafe { libc::close(*fd) };
        }
    }
}

/// Maps `len` bytes; `Err` with the OS error on failure.
///
/// # Safety
/// As `mmap`: `fd` must be valid for a file mapping or -1 for an anonymous one.
unsafe fn map(len: usize, prot: libc::c_int, flags: libc::c_int, fd: libc::c_int) -> io::Result<NonNull<u8>> {
    // SAFETY: the caller's contract; the kernel chooses the address, so no
    // existing mapping is replaced.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags | libc::MAP_NORESERVE, fd, 0) };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p as *mut u8).ok_or_else(|| io::Error::other("mmap returned null"))
}

impl CodeMemory {
    /// Reserves `capacity` bytes of code region, backed lazily: dual-mapped
    /// if the host allows, else with protections toggled per block.
    pub fn new(capacity: usize) -> io::Result<CodeMemory> {
        CodeMemory::with_mapping(capacity, Mapping::Dual).or_else(|dual| {
            CodeMemory::with_mapping(capacity, Mapping::Toggle).map_err(|toggle| {
                io::Error::new(toggle.kind(), format!("dual mapping: {dual}; toggled protections: {toggle}"))
            })
        })
    }

    /// Reserves a region mapped as `mapping` asks.
    pub fn with_mapping(capacity: usize, mapping: Mapping) -> io::Result<CodeMemory> {
        let page = crate::machine::host_page_size() as usize;
        let capacity = capacity.max(1).next_multiple_of(page);
        let (write, exec) = match mapping {
            Mapping::Dual => {
                // A sparse file: no page is allocated before it is written.
                let fd = memfd(capacity)?;
                // The mappings keep the file alive; the descriptor is not needed
                // past this block, whatever happens in it.
                let views = (|| {
                    // SAFETY: fd is a valid memfd of `capacity` bytes.
                    let write = unsafe { map(capacity, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd)? };
                    // SAFETY: as above.
                    match unsafe { map(capacity, libc::PROT_READ | libc::PROT_EXEC, libc::MAP_SHARED, fd) } {
                        Ok(exec) => Ok((write, exec)),
                        Err(e) => {
                            // SAFETY: the view was just mapped and nothing refers to it.
                            unsafe { libc::munmap(write.as_ptr() as *mut c_void, capacity) };
                            Err(e)
                        }
                    }
                })();
                // SAFETY: fd is ours and closed once.
                unsafe { libc::close(fd) };
                views?
            }
            Mapping::Toggle => {
                // SAFETY: a fresh anonymous mapping; nothing else refers to it.
                let p = unsafe {
                    map(capacity, libc::PROT_READ | libc::PROT_EXEC, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)?
                };
                (p, p)
            }
        };
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if mapping == Mapping::Dual {
            regions().push(Region {
                id,
                write: write.as_ptr() as usize,
                exec: exec.as_ptr() as usize,
                capacity,
                used: 0,
            });
        }
        Ok(CodeMemory { write, exec, capacity, used: 0, mapping, page, id, refill: false })
    }

    pub fn mapping(&self) -> Mapping {
        self.mapping
    }

    /// Changes the protection of `[start, end)` of the view at `view`.
    ///
    /// # Safety
    /// The range must lie inside the view, start on a page boundary, and
    /// hold no code a thread could be running.
    unsafe fn protect(view: NonNull<u8>, start: usize, end: usize, prot: libc::c_int) -> io::Result<()> {
        // SAFETY: the caller's contract.
        let r = unsafe { libc::mprotect(view.as_ptr().add(start) as *mut c_void, end - start, prot) };
        if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    /// Makes the executable view inaccessible and then read-execute again,
    /// which every host's kernel and emulator takes as the end of the code
    /// it held (the bytes are unchanged).
    fn reprotect_exec(&self) -> io::Result<()> {
        for prot in [libc::PROT_NONE, libc::PROT_READ | libc::PROT_EXEC] {
            // SAFETY: the whole view; after a flush no thread runs code
            // from it.
            unsafe { CodeMemory::protect(self.exec, 0, self.capacity, prot) }?;
        }
        Ok(())
    }

    /// Copies code in and makes it coherent for execution; gives its entry
    /// point (in the executable view).
    ///
    /// The code must run wherever it is put: Cranelift's code is
    /// position-independent apart from the absolute addresses already patched
    /// into it, which do not point into the region.
    pub fn add(&mut self, code: &[u8]) -> Result<*const u8, AddError> {
        let align = match self.mapping {
            Mapping::Dual => 16,
            // A fresh page: no other block's code is on a page made writable.
            Mapping::Toggle => self.page,
        };
        let start = self.used.next_multiple_of(align);
        let end = start + code.len();
        if end > self.capacity {
            return Err(AddError::Full);
        }
        if self.refill {
            self.reprotect_exec().map_err(AddError::Host)?;
            self.refill = false;
        }
        // A fork must not copy the region half written.
        let mut regions = regions();
        let pages = end.next_multiple_of(self.page);
        if self.mapping == Mapping::Toggle {
            // SAFETY: [start, pages) is inside the region, starts on a page
            // (toggle mode aligns blocks so) and holds no code handed out.
            unsafe { CodeMemory::protect(self.write, start, pages, libc::PROT_READ | libc::PROT_WRITE) }
                .map_err(AddError::Host)?;
        }
        // SAFETY: [start, end) lies inside the region, is writable through
        // `write` (the read-write view, or pages just made writable), and no
        // code runs from it: it lies past every block handed out since the
        // last flush, and a flush drops all of those.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), self.write.as_ptr().add(start), code.len()) };
        if self.mapping == Mapping::Toggle {
            // SAFETY: as above.
            unsafe { CodeMemory::protect(self.write, start, pages, libc::PROT_READ | libc::PROT_EXEC) }
                .map_err(AddError::Host)?;
        }
        self.used = end;
        if let Some(r) = regions.iter_mut().find(|r| r.id == self.id) {
            r.used = end;
        }
        drop(regions);
        // SAFETY: start < capacity, inside the executable view.
        let entry = unsafe { self.exec.as_ptr().add(start) };
        // SAFETY: both ranges are mapped: the code just written, through
        // the view it was written in and the one it will be fetched from.
        unsafe { super::icache::sync(self.write.as_ptr().add(start), entry, code.len()) }.map_err(AddError::Host)?;
        Ok(entry)
    }

    /// Forgets every block: the caller must drop all pointers into it first.
    /// The addresses are then reused; `add` makes the instruction cache
    /// coherent with each new block it writes over old code.
    pub fn clear(&mut self) {
        self.refill |= self.mapping == Mapping::Dual && self.used > 0;
        self.used = 0;
        if let Some(r) = regions().iter_mut().find(|r| r.id == self.id) {
            r.used = 0;
        }
    }

    /// The addresses code runs from: `[start, end)` of the executable view.
    pub fn exec_range(&self) -> (u64, u64) {
        let start = self.exec.as_ptr() as u64;
        (start, start + self.capacity as u64)
    }

    pub fn used(&self) -> usize {
        self.used
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        let mut regions = regions();
        regions.retain(|r| r.id != self.id);
        // SAFETY: the mappings are ours and no pointer into them outlives self.
        unsafe {
            libc::munmap(self.exec.as_ptr() as *mut c_void, self.capacity);
            if self.write != self.exec {
                libc::munmap(self.write.as_ptr() as *mut c_void, self.capacity);
            }
        }
    }
}
