//! The legacy vsyscall page at 0xffffffffff600000, as Linux's emulation
//! does it (its default, execute-only mode): a call to one of the three
//! entry points runs that system call and returns to the caller; reading
//! the page, or jumping anywhere else in it, faults.

use super::process::Process;
use super::syscall;
use crate::engine::Fault;

/// The page's address.
pub const PAGE: u64 = 0xffff_ffff_ff60_0000;

/// The entry points: offset in the page and the system call each makes
/// (gettimeofday, time, getcpu).
const ENTRIES: [(u64, u64); 3] = [(0, 96), (0x400, 201), (0x800, 309)];

/// If `f` is the fetch fault of a call to an entry point: makes its system
/// call and returns to the caller, as Linux does. Otherwise (or if the
/// return address cannot be read) the fault stands.
pub fn emulate(p: &mut Process, f: &Fault) -> bool {
    let fetch = f.vector == 14 && f.addr.is_none_or(|a| a == f.rip);
    let Some(&(_, nr)) = ENTRIES.iter().find(|(off, _)| f.rip == PAGE + off) else { return false };
    let rsp = p.cpu.gpr[4];
    let Ok(ret) = p.read_u64(rsp) else { return false };
    if !fetch {
        return false;
    }
    p.cpu.gpr[0] = nr;
    syscall::dispatch(p);
    p.cpu.rip = ret;
    p.cpu.gpr[4] = rsp.wrapping_add(8);
    true
}
