//! Executable memory for compiled blocks: one bounded region, filled from
//! the start; when it is full the engine flushes every compiled block and
//! starts again (the interpreter carries execution meanwhile).

use std::ptr::NonNull;

pub struct CodeMemory {
    base: NonNull<u8>,
    capacity: usize,
    used: usize,
}

impl CodeMemory {
    /// Reserves `capacity` bytes of read-write-execute memory, backed lazily.
    pub fn new(capacity: usize) -> std::io::Result<CodeMemory> {
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                capacity,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(CodeMemory { base: NonNull::new(p as *mut u8).expect("mmap returned null"), capacity, used: 0 })
    }

    /// Copies code in; `None` when the region is full.
    pub fn add(&mut self, code: &[u8]) -> Option<*const u8> {
        let start = self.used.next_multiple_of(16);
        if start + code.len() > self.capacity {
            return None;
        }
        // SAFETY: [start, start + len) lies inside the mapping and no
        // compiled code runs while it is written.
        unsafe {
            let dst = self.base.as_ptr().add(start);
            std::ptr::copy_nonoverlapping(code.as_ptr(), dst, code.len());
            self.used = start + code.len();
            Some(dst)
        }
    }

    /// Forgets every block: the caller must drop all pointers into it first.
    pub fn clear(&mut self) {
        self.used = 0;
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
        // SAFETY: the mapping is ours and no pointer into it outlives self.
        unsafe { libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.capacity) };
    }
}
