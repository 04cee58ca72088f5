//! Robust futex lists: set_robust_list and get_robust_list, and the walk of
//! a dying thread's list that marks the futexes it still owns
//! FUTEX_OWNER_DIED and wakes a waiter, so that the next locker of a robust
//! mutex gets EOWNERDEAD. The list is guest memory the guest may have
//! broken: every pointer is checked, a bad one ends the walk, and the walk
//! stops after ROBUST_LIST_LIMIT entries (a loop), as Linux's does.

use std::sync::atomic::{AtomicU32, Ordering};

use super::super::errno::{EINVAL, Errno};
use super::super::process::Process;
use super::host::int_call;
use super::{Arg, Entry};

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (273, "set_robust_list", &[Hex, Int], set_robust_list),
    (274, "get_robust_list", &[Int, Hex, Hex], get_robust_list),
];

/// The size of a `struct robust_list_head`: the list (a pointer to the
/// first entry, or to the head when empty), the offset from an entry to its
/// futex word, and the entry being locked or unlocked (list_op_pending).
const HEAD_SIZE: u64 = 24;

/// The most entries walked (Linux's ROBUST_LIST_LIMIT).
const ROBUST_LIST_LIMIT: usize = 2048;

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// ESRCH: no such thread.
const ESRCH: Errno = 3;

fn set_robust_list(p: &mut Process, [head, len, ..]: [u64; 6]) -> Result<u64, Errno> {
    if len != HEAD_SIZE {
        return Err(EINVAL);
    }
    p.group.set_robust_list(int_call!(libc::gettid()), head);
    Ok(0)
}

/// get_robust_list: the head of the calling thread (pid 0) or of another
/// thread of the process; other processes' threads are not visa's to see.
fn get_robust_list(p: &mut Process, [tid, head_at, len_at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let tid = if tid as i32 == 0 { int_call!(libc::gettid()) } else { tid as i32 };
    if !p.signals.has_thread(tid) {
        return Err(ESRCH);
    }
    let head = p.group.robust_list(tid);
    p.write_u64(len_at, HEAD_SIZE)?;
    p.write_u64(head_at, head)?;
    Ok(0)
}

/// At the calling thread's exit: its list is walked.
pub fn exit_robust_list(p: &mut Process) {
    let tid = int_call!(libc::gettid());
    if let Some(head) = p.group.take_robust_list(tid) {
        walk(p, head, tid as u32);
    }
}

/// At exit_group: every thread's list is walked, as each thread's exit
/// does on Linux.
pub fn exit_robust_lists(p: &mut Process) {
    for (tid, head) in p.group.take_robust_lists() {
        walk(p, head, tid as u32);
    }
}

/// An entry pointer of the list: its address, and whether it is a
/// priority-inheritance futex's (the low bit).
fn entry_at(p: &Process, at: u64) -> Option<(u64, bool)> {
    let v = p.read_u64(at).ok()?;
    Some((v & !1, v & 1 != 0))
}

/// Walks the list at `head` of the thread `tid` that is dying.
fn walk(p: &mut Process, head: u64, tid: u32) {
    let Some((mut entry, mut pi)) = entry_at(p, head) else { return };
    let Ok(offset) = p.read_u64(head + 8) else { return };
    let Some((pending, pending_pi)) = entry_at(p, head + 16) else { return };
    for _ in 0..ROBUST_LIST_LIMIT {
        if entry == head {
            break;
        }
        // The next entry is read before this one's futex is released (the
        // entry may be freed once a waiter runs).
        let next = entry_at(p, entry);
        if entry != pending && owner_died(p, entry.wrapping_add(offset), tid, pi, false).is_none() {
            return;
        }
        let Some((n, npi)) = next else { return };
        (entry, pi) = (n, npi);
    }
    if pending != 0 {
        owner_died(p, pending.wrapping_add(offset), tid, pending_pi, true);
    }
}

/// The futex word at `addr` of a dying owner `tid`: if `tid` owns it, its
/// owner becomes FUTEX_OWNER_DIED (its waiters bit kept) and, for a
/// non-PI futex with waiters, one waiter is woken. A word the thread was
/// about to take or release (`pending`) that reads 0 gets a waiter woken
/// too (the thread may have released it without waking anyone). None when
/// the word cannot be reached.
fn owner_died(p: &mut Process, addr: u64, tid: u32, pi: bool, pending: bool) -> Option<()> {
    if !addr.is_multiple_of(4) {
        return None;
    }
    let word = p.mem.bytes_mut(addr, 4).ok()?.as_mut_ptr() as *mut u32;
    // SAFETY: `word` is the host address of an aligned guest word, checked
    // writable, inside the reservation, which outlives this call; other
    // threads reach it atomically too.
    let atomic = unsafe { AtomicU32::from_ptr(word) };
    let mut value = atomic.load(Ordering::SeqCst);
    loop {
        if pending && !pi && value == 0 {
            wake_one(word);
            return Some(());
        }
        if value & FUTEX_TID_MASK != tid {
            return Some(());
        }
        let died = (value & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        match atomic.compare_exchange(value, died, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break,
            Err(now) => value = now,
        }
    }
    if !pi && value & FUTEX_WAITERS != 0 {
        wake_one(word);
    }
    Some(())
}

/// Wakes one waiter on a guest futex word, as Linux does for a dead owner
/// (a shared wake, which private waiters in the process hear too).
fn wake_one(word: *mut u32) {
    // SAFETY: `word` is the host address of an aligned guest word inside
    // the reservation; the rest are integers.
    unsafe { libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE, 1, 0, 0, 0) };
}
