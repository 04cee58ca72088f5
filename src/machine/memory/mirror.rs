//! Guest page permissions mirrored on the host (`Mapping::mirror`), so that
//! compiled code's loads and stores need no permission checks of their
//! own: a page the guest may not read is inaccessible on the host, a page
//! it may read but not write, or that holds translated code, is read-only,
//! and the rest is readable and writable. A compiled access the host
//! refuses faults, and the block is given up for the interpreter, which
//! faults where the guest does or records the write to code
//! (`jit::replay`).
//!
//! visa's own writes (the interpreter's stores, system calls' output,
//! helpers) reach read-only pages the guest may write by opening them for
//! the while. A page's host protection is never stricter than its
//! permission byte says, and exactly as strict whenever compiled code runs:
//! a page that gains code is closed only before compiled code runs next
//! (`settle_host_protection`), so translating blocks makes no host call
//! per block, while one that loses it is opened at once.

use super::{GuestMemory, PAGE_SIZE, PERM_CODE, PERM_R, PERM_W};
use std::sync::atomic::Ordering;

/// The host protection that mirrors a page's permission byte.
fn host_prot(perm: u8) -> libc::c_int {
    if perm & PERM_R == 0 {
        libc::PROT_NONE
    } else if perm & PERM_W != 0 && perm & PERM_CODE == 0 {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    }
}

const OPEN: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

/// Most pages awaiting `settle_host_protection`.
const MAX_UNSETTLED: usize = 4096;

impl GuestMemory {
    /// Are the guest's page permissions (and its code pages) mirrored on
    /// the host?
    pub fn mirrors(&self) -> bool {
        self.mapping.mirror.load(Ordering::Relaxed)
    }

    /// Opens every page on the host for good: a second thread is to run on
    /// this memory, and another thread could change a page's permissions
    /// between one's check of them and its access.
    pub fn stop_mirroring(&self) {
        if self.mapping.mirror.swap(false, Ordering::SeqCst) {
            let pages = self.size.div_ceil(PAGE_SIZE);
            // SAFETY: all of our own mapping (its length rounded up to host pages).
            let r = unsafe { libc::mprotect(self.base as *mut libc::c_void, (pages * PAGE_SIZE) as usize, OPEN) };
            assert_eq!(r, 0, "opening guest memory: {}", std::io::Error::last_os_error());
        }
    }

    /// Gives the host pages of guest pages `[first, end)` protection
    /// `prot`. If the host refuses (too many mappings), every page is
    /// opened and the mirror is off from now on.
    fn host_protect(&self, first: u64, end: u64, prot: libc::c_int) {
        let end = end.min(self.size.div_ceil(PAGE_SIZE));
        if first >= end {
            return;
        }
        // SAFETY: whole pages of our own mapping (`end` at most the page
        // count; the mapping's length is rounded up to whole host pages).
        let done = unsafe {
            let at = self.base.add((first * PAGE_SIZE) as usize) as *mut libc::c_void;
            libc::mprotect(at, ((end - first) * PAGE_SIZE) as usize, prot) == 0
        };
        if !done && self.mirrors() {
            eprintln!(
                "visa: the host refused to change guest page protections ({}): checking them in software only",
                std::io::Error::last_os_error()
            );
            self.stop_mirroring();
        }
    }

    /// Makes the host pages of guest pages `[first, end)` mirror their
    /// permissions, a run of alike pages at a time.
    pub(super) fn mirror_pages(&self, first: u64, end: u64) {
        let end = end.min(self.size.div_ceil(PAGE_SIZE));
        let mut at = first;
        while at < end && self.mirrors() {
            let prot = host_prot(self.perm(at));
            let run_end = (at + 1..end).find(|&p| host_prot(self.perm(p)) != prot).unwrap_or(end);
            self.host_protect(at, run_end, prot);
            at = run_end;
        }
    }

    /// Is any of guest pages `[first, end)` not writable on the host
    /// (where `closed` says of its permission byte)?
    fn any_closed(&self, first: u64, end: u64, closed: impl Fn(u8) -> bool) -> bool {
        self.mirrors() && (first..end.min(self.size.div_ceil(PAGE_SIZE))).any(|p| closed(self.perm(p)))
    }

    /// Runs `write` on guest bytes `[at, at + len)` with their host pages
    /// open, closing again those that were not writable on the host (any
    /// page: zeroing ignores the guest's permissions).
    pub(super) fn with_open_pages<R>(&mut self, at: u64, len: u64, write: impl FnOnce(&mut Self) -> R) -> R {
        let (first, end) = (at / PAGE_SIZE, (at + len).div_ceil(PAGE_SIZE));
        let closed = len > 0 && self.any_closed(first, end, |p| host_prot(p) != OPEN);
        if closed {
            self.host_protect(first, end, OPEN);
        }
        let r = write(self);
        if closed {
            self.mirror_pages(first, end);
        }
        r
    }

    /// Do guest bytes `[at, at + len)`, which the guest may write, lie on a
    /// page that is read-only on the host for holding code?
    #[inline]
    pub(super) fn on_code_page(&self, at: u64, len: u64) -> bool {
        self.has_protection()
            && len > 0
            && self.any_closed(at / PAGE_SIZE, (at + len).div_ceil(PAGE_SIZE), |p| p & PERM_CODE != 0)
    }

    /// Opens the host pages of guest bytes `[at, at + len)`, which the
    /// guest may write, until compiled code runs next: a system call's
    /// output buffer, written after this returns.
    pub(super) fn open_until_settled(&mut self, at: u64, len: u64) {
        let (first, end) = (at / PAGE_SIZE, (at + len).div_ceil(PAGE_SIZE));
        self.host_protect(first, end, OPEN);
        self.unsettled.extend(first..end.min(self.size.div_ceil(PAGE_SIZE)));
    }

    /// A page the guest may write gained translated code: it is closed
    /// on the host before compiled code runs next (one the guest may not
    /// write is read-only there already).
    pub(super) fn code_marked(&mut self, page: u64, perm: u8) {
        if perm & PERM_W != 0 && self.mirrors() {
            // Bounded where compiled code seldom or never runs.
            if self.unsettled.len() >= MAX_UNSETTLED {
                self.settle_host_protection();
            }
            self.unsettled.push(page);
        }
    }

    /// A page the guest may write lost its translated code: it is opened
    /// on the host now.
    pub(super) fn code_unmarked(&mut self, page: u64, perm: u8) {
        if perm & PERM_W != 0 {
            self.mirror_pages(page, page + 1);
        }
    }

    /// Brings the host protection of pages whose code marks changed, or
    /// that were opened for a system call, in line with their permissions.
    /// Compiled code relies on it: called before every run of it.
    pub fn settle_host_protection(&mut self) {
        if self.unsettled.is_empty() {
            return;
        }
        let mut pages = std::mem::take(&mut self.unsettled);
        pages.sort_unstable();
        pages.dedup();
        let mut i = 0;
        while i < pages.len() {
            let mut j = i + 1;
            while j < pages.len() && pages[j] == pages[j - 1] + 1 {
                j += 1;
            }
            self.mirror_pages(pages[i], pages[j - 1] + 1);
            i = j;
        }
        pages.clear();
        self.unsettled = pages;
    }
}
