//! Identity, time, limits and small system calls: uname, arch_prctl,
//! clock and sleep calls, getrandom, rlimits, sysinfo, times, scheduling,
//! user and group ids, futex and the thread calls (set_tid_address,
//! affinity, membarrier), and the calls glibc makes at start that need no
//! more than an answer (rseq).

use super::super::errno::{EFAULT, EINTR, EINVAL, ENOSYS, Errno, check, last};
use super::super::process::{Dir, Process};
use super::super::signals;
use super::host::int_call;
use super::{Arg, Entry};

use Arg::{Hex, Int};

pub const TABLE: &[Entry] = &[
    (24, "sched_yield", &[], |_, _| Ok(int_call!(libc::sched_yield()) as u64)),
    (35, "nanosleep", &[Hex, Hex], nanosleep),
    (63, "uname", &[Hex], uname),
    (95, "umask", &[Hex], |_, a| Ok(int_call!(libc::umask(a[0] as libc::mode_t)) as u64)),
    (96, "gettimeofday", &[Hex, Hex], gettimeofday),
    (97, "getrlimit", &[Int, Hex], getrlimit),
    (98, "getrusage", &[Int, Hex], getrusage),
    (99, "sysinfo", &[Hex], sysinfo),
    (100, "times", &[Hex], times),
    (102, "getuid", &[], |_, _| Ok(int_call!(libc::getuid()) as u64)),
    (104, "getgid", &[], |_, _| Ok(int_call!(libc::getgid()) as u64)),
    (107, "geteuid", &[], |_, _| Ok(int_call!(libc::geteuid()) as u64)),
    (108, "getegid", &[], |_, _| Ok(int_call!(libc::getegid()) as u64)),
    (115, "getgroups", &[Int, Hex], getgroups),
    (158, "arch_prctl", &[Hex, Hex], arch_prctl),
    (160, "setrlimit", &[Int, Hex], setrlimit),
    (201, "time", &[Hex], time),
    (202, "futex", &[Hex, Int, Int, Hex, Hex, Hex], futex),
    (203, "sched_setaffinity", &[Int, Int, Hex], |p, a| affinity(p, a, Dir::In)),
    (204, "sched_getaffinity", &[Int, Int, Hex], |p, a| affinity(p, a, Dir::Out)),
    (218, "set_tid_address", &[Hex], |p, a| {
        p.clear_tid = a[0];
        Ok(int_call!(libc::gettid()) as u64)
    }),
    (228, "clock_gettime", &[Int, Hex], clock_gettime),
    (229, "clock_getres", &[Int, Hex], clock_getres),
    (230, "clock_nanosleep", &[Int, Int, Hex, Hex], clock_nanosleep),
    (302, "prlimit64", &[Int, Int, Hex, Hex], prlimit),
    (309, "getcpu", &[Hex, Hex, Hex], getcpu),
    (318, "getrandom", &[Hex, Int, Hex], getrandom),
    (324, "membarrier", &[Int, Hex, Int], membarrier),
    (334, "rseq", &[Hex, Int, Hex, Hex], |_, _| Err(ENOSYS)),
];

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

fn arch_prctl(p: &mut Process, [code, addr, ..]: [u64; 6]) -> Result<u64, Errno> {
    match code {
        ARCH_SET_FS => p.cpu.fs_base = addr,
        ARCH_SET_GS => p.cpu.gs_base = addr,
        ARCH_GET_FS => p.write_u64(addr, p.cpu.fs_base)?,
        ARCH_GET_GS => p.write_u64(addr, p.cpu.gs_base)?,
        _ => return Err(EINVAL),
    }
    Ok(0)
}

/// getcpu: the host CPU and node the calling thread runs on.
fn getcpu(p: &mut Process, [cpu_at, node_at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let (mut cpu, mut node) = (0u32, 0u32);
    // SAFETY: the two pointers are to `cpu` and `node`, locals of ours;
    // the third (a cache the kernel ignores) is null.
    check(unsafe { libc::syscall(libc::SYS_getcpu, &mut cpu, &mut node, std::ptr::null_mut::<u8>()) })?;
    for (at, v) in [(cpu_at, cpu), (node_at, node)] {
        if at != 0 {
            p.write_u32(at, v)?;
        }
    }
    Ok(0)
}

fn uname(p: &mut Process, [buf, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: utsname is plain data the host fills.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    check(unsafe { libc::uname(&mut u) } as i64)?;
    let field = |f: &[libc::c_char]| -> [u8; 65] {
        let mut out = [0u8; 65];
        for (o, c) in out.iter_mut().zip(f.iter().take(64)) {
            *o = *c as u8;
        }
        out
    };
    let mut machine = [0u8; 65];
    machine[..6].copy_from_slice(b"x86_64");
    let fields =
        [field(&u.sysname), field(&u.nodename), field(&u.release), field(&u.version), machine, field(&u.domainname)];
    p.write(buf, &fields.concat())?;
    Ok(0)
}

/// Reads a guest `struct timespec`.
pub fn read_timespec(p: &Process, at: u64) -> Result<libc::timespec, Errno> {
    let b = p.read(at, 16)?;
    let sec = i64::from_le_bytes(b[0..8].try_into().unwrap());
    let nsec = i64::from_le_bytes(b[8..16].try_into().unwrap());
    if !(0..1_000_000_000).contains(&nsec) {
        return Err(EINVAL);
    }
    Ok(libc::timespec { tv_sec: sec, tv_nsec: nsec })
}

pub fn write_timespec(p: &mut Process, at: u64, ts: &libc::timespec) -> Result<(), Errno> {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&ts.tv_sec.to_le_bytes());
    b[8..16].copy_from_slice(&ts.tv_nsec.to_le_bytes());
    p.write(at, &b)
}

fn clock_gettime(p: &mut Process, [clock, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a local timespec the host fills.
    check(unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) } as i64)?;
    write_timespec(p, at, &ts)?;
    Ok(0)
}

fn clock_getres(p: &mut Process, [clock, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a local timespec the host fills.
    check(unsafe { libc::clock_getres(clock as libc::clockid_t, &mut ts) } as i64)?;
    if at != 0 {
        write_timespec(p, at, &ts)?;
    }
    Ok(0)
}

fn gettimeofday(p: &mut Process, [tv, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a local timespec the host fills.
    check(unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } as i64)?;
    if tv != 0 {
        let usec = libc::timespec { tv_sec: ts.tv_sec, tv_nsec: ts.tv_nsec / 1000 };
        write_timespec(p, tv, &usec)?;
    }
    Ok(0)
}

fn time(p: &mut Process, [at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: with a null pointer, time only returns the time.
    let now = unsafe { libc::time(std::ptr::null_mut()) } as u64;
    if at != 0 {
        p.write_u64(at, now)?;
    }
    Ok(now)
}

const TIMER_ABSTIME: i32 = 1;

/// Sleeps until `ts` (relative, or an absolute time of the call's clock):
/// `call` is the host sleep, returning an error number. Sleeps on through
/// interruptions the guest would not see. Writes the time left to `rem_at`
/// when a signal cuts the sleep short.
fn sleep(
    p: &mut Process,
    mut ts: libc::timespec,
    absolute: bool,
    rem_at: u64,
    call: impl Fn(&libc::timespec, &mut libc::timespec) -> i32,
) -> Result<u64, Errno> {
    let mut rem = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    loop {
        match call(&ts, &mut rem) {
            0 => return Ok(0),
            EINTR if !signals::interrupts(&mut p.signals) => {
                if !absolute {
                    ts = rem;
                }
            }
            EINTR => {
                if rem_at != 0 && !absolute {
                    write_timespec(p, rem_at, &rem)?;
                }
                return Err(EINTR);
            }
            e => return Err(e),
        }
    }
}

fn nanosleep(p: &mut Process, [req, rem_at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let ts = read_timespec(p, req)?;
    // SAFETY: `ts` and `rem` are references to timespecs of `sleep`.
    sleep(p, ts, false, rem_at, |ts, rem| if unsafe { libc::nanosleep(ts, rem) } == 0 { 0 } else { last() })
}

fn clock_nanosleep(p: &mut Process, [clock, flags, req, rem_at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let ts = read_timespec(p, req)?;
    let absolute = flags as i32 & TIMER_ABSTIME != 0;
    // SAFETY: `ts` and `rem` are references to timespecs of `sleep`; the
    // clock and flags are integers.
    sleep(p, ts, absolute, rem_at, |ts, rem| unsafe {
        libc::clock_nanosleep(clock as libc::clockid_t, flags as i32, ts, rem)
    })
}

/// getrlimit always writes its result (NULL is EFAULT), unlike prlimit64.
fn getrlimit(p: &mut Process, [resource, old, ..]: [u64; 6]) -> Result<u64, Errno> {
    if old == 0 {
        // Let the host check the resource first (EINVAL before EFAULT).
        // SAFETY: the address is in the last page of the address space,
        // which the kernel refuses (EFAULT) without writing.
        check(unsafe { libc::syscall(libc::SYS_getrlimit, resource as i32, usize::MAX & !4095) })?;
        return Err(EFAULT);
    }
    prlimit(p, [0, resource, 0, old, 0, 0])
}

/// setrlimit always reads its argument (NULL is EFAULT).
fn setrlimit(p: &mut Process, [resource, new, ..]: [u64; 6]) -> Result<u64, Errno> {
    if new == 0 {
        // SAFETY: as in `getrlimit`, an address the kernel refuses.
        check(unsafe { libc::syscall(libc::SYS_setrlimit, resource as i32, usize::MAX & !4095) })?;
        return Err(EFAULT);
    }
    prlimit(p, [0, resource, new, 0, 0, 0])
}

fn prlimit(p: &mut Process, [pid, resource, new, old, ..]: [u64; 6]) -> Result<u64, Errno> {
    let new_limit = if new != 0 {
        let b = p.read(new, 16)?;
        Some(libc::rlimit64 {
            rlim_cur: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            rlim_max: u64::from_le_bytes(b[8..16].try_into().unwrap()),
        })
    } else {
        None
    };
    let mut old_limit = libc::rlimit64 { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: the new limit is null or points at `new_limit`, and the old
    // one at `old_limit`: local rlimit64s the host reads and fills.
    let r = unsafe {
        libc::prlimit64(
            pid as libc::pid_t,
            resource as _,
            new_limit.as_ref().map_or(std::ptr::null(), |l| l as *const _),
            &mut old_limit,
        )
    };
    check(r as i64)?;
    if old != 0 {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&old_limit.rlim_cur.to_le_bytes());
        b[8..16].copy_from_slice(&old_limit.rlim_max.to_le_bytes());
        p.write(old, &b)?;
    }
    Ok(0)
}

fn getrusage(p: &mut Process, [who, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    check(unsafe { libc::getrusage(who as i32, &mut ru) } as i64)?;
    write_rusage(p, at, &ru)
}

/// Writes a host `struct rusage` for the guest.
pub fn write_rusage(p: &mut Process, at: u64, ru: &libc::rusage) -> Result<u64, Errno> {
    // struct rusage is the same on every 64-bit Linux: two timevals and 14 longs.
    let words = [
        ru.ru_utime.tv_sec,
        ru.ru_utime.tv_usec,
        ru.ru_stime.tv_sec,
        ru.ru_stime.tv_usec,
        ru.ru_maxrss,
        ru.ru_ixrss,
        ru.ru_idrss,
        ru.ru_isrss,
        ru.ru_minflt,
        ru.ru_majflt,
        ru.ru_nswap,
        ru.ru_inblock,
        ru.ru_oublock,
        ru.ru_msgsnd,
        ru.ru_msgrcv,
        ru.ru_nsignals,
        ru.ru_nvcsw,
        ru.ru_nivcsw,
    ];
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    p.write(at, &bytes)?;
    Ok(0)
}

fn sysinfo(p: &mut Process, [at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: plain data.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    check(unsafe { libc::sysinfo(&mut si) } as i64)?;
    let mut b = [0u8; 112];
    let longs = [
        si.uptime as u64,
        si.loads[0],
        si.loads[1],
        si.loads[2],
        si.totalram,
        si.freeram,
        si.sharedram,
        si.bufferram,
        si.totalswap,
        si.freeswap,
    ];
    for (i, v) in longs.iter().enumerate() {
        b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
    b[80..82].copy_from_slice(&si.procs.to_le_bytes());
    b[88..96].copy_from_slice(&si.totalhigh.to_le_bytes());
    b[96..104].copy_from_slice(&si.freehigh.to_le_bytes());
    b[104..108].copy_from_slice(&si.mem_unit.to_le_bytes());
    p.write(at, &b)?;
    Ok(0)
}

fn times(p: &mut Process, [at, ..]: [u64; 6]) -> Result<u64, Errno> {
    // SAFETY: plain data.
    let mut t: libc::tms = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::times(&mut t) };
    if at != 0 {
        let words = [t.tms_utime, t.tms_stime, t.tms_cutime, t.tms_cstime];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        p.write(at, &bytes)?;
    }
    Ok(r as u64)
}

fn getgroups(p: &mut Process, [size, at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: `groups` is our vector of `groups.len()` gids, the count
    // passed, which the host fills.
    let n = check(unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) } as i64)? as usize;
    if size == 0 {
        return Ok(n as u64);
    }
    if (size as usize) < n {
        return Err(EINVAL);
    }
    let bytes: Vec<u8> = groups[..n].iter().flat_map(|g| g.to_le_bytes()).collect();
    p.write(at, &bytes)?;
    Ok(n as u64)
}

/// sched_getaffinity and sched_setaffinity, passed through: a guest
/// thread's tid is its host thread's.
fn affinity(p: &mut Process, [tid, len, at, ..]: [u64; 6], dir: Dir) -> Result<u64, Errno> {
    let buf = p.host_buf(at, len, dir);
    let nr = if dir == Dir::Out { libc::SYS_sched_getaffinity } else { libc::SYS_sched_setaffinity };
    // SAFETY: `buf` is a `HostBuf` of `buf.len` bytes from
    // `Process::host_buf`, alive through the call; the rest are integers.
    let n = check(unsafe { libc::syscall(nr, tid as i32, buf.len, buf.ptr) })?;
    buf.finish(p, n as usize);
    Ok(n)
}

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
/// FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME, passed on as they are.
const FUTEX_CMD_MASK: u64 = !(128 | 256);

/// The host address of the futex word at guest `addr`: aligned (else
/// EINVAL) and accessible, writable for a word the call changes (else
/// EFAULT).
pub(in crate::system::linux) fn futex_word(p: &mut Process, addr: u64, write: bool) -> Result<*mut u32, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(EINVAL);
    }
    let word = if write {
        p.mem.bytes_mut(addr, 4).map(|b| b.as_mut_ptr())
    } else {
        p.mem.bytes(addr, 4).map(|b| b.as_ptr() as *mut u8)
    };
    word.map(|w| w as *mut u32).map_err(|_| EFAULT)
}

/// futex, by the host's futex on the guest's words (guest memory is host
/// memory, and guest threads are host threads): every operation but the
/// priority-inheritance ones. A wait goes on through interruptions the
/// guest would not see (a relative timeout then starts again).
fn futex(p: &mut Process, [addr, op, val, timeout, addr2, val3]: [u64; 6]) -> Result<u64, Errno> {
    let cmd = op & FUTEX_CMD_MASK;
    let word = futex_word(p, addr, false)?;
    let futex = |timeout: *const libc::timespec, word2: *mut u32| {
        // SAFETY: `word` and `word2` (or null) are host addresses of
        // aligned guest words checked accessible, inside the reservation,
        // which outlives the call; `timeout` is null or a timespec of ours;
        // the rest are integers.
        unsafe { libc::syscall(libc::SYS_futex, word, op as i32, val as u32, timeout, word2, val3 as u32) }
    };
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let ts = if timeout != 0 { Some(read_timespec(p, timeout)?) } else { None };
            let at = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
            loop {
                let r = futex(at, std::ptr::null_mut());
                if r >= 0 || last() != EINTR || signals::interrupts(&mut p.signals) {
                    return check(r);
                }
            }
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => check(futex(std::ptr::null(), std::ptr::null_mut())),
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP => {
            let word2 = futex_word(p, addr2, cmd == FUTEX_WAKE_OP)?;
            // The fourth argument is a count here (val2), not a pointer.
            check(futex(timeout as usize as *const libc::timespec, word2))
        }
        _ => Err(ENOSYS),
    }
}

/// At a thread's exit, as CLONE_CHILD_CLEARTID and set_tid_address ask:
/// 0 into its tid word, and a waiter woken (pthread_join waits there).
pub fn clear_child_tid(p: &mut Process) {
    let at = p.clear_tid;
    if at != 0
        && p.write_u32(at, 0).is_ok()
        && let Ok(word) = futex_word(p, at, false)
    {
        // SAFETY: `word` is the host address of the aligned guest word just
        // written; the rest are integers. The kernel wakes with a shared
        // FUTEX_WAKE, which is what the waiter waits for.
        unsafe { libc::syscall(libc::SYS_futex, word, FUTEX_WAKE as i32, 1, 0, 0, 0) };
    }
}

const MEMBARRIER_CMD_QUERY: u64 = 0;
/// The membarrier commands passed to the host (GLOBAL, the expedited ones
/// and their registrations, SYNC_CORE): the guest's threads are host
/// threads of this process, so the host's barriers are theirs.
const MEMBARRIER_PASSED: u64 = 0x7f;

fn membarrier(_: &mut Process, [cmd, flags, cpu, ..]: [u64; 6]) -> Result<u64, Errno> {
    if cmd != MEMBARRIER_CMD_QUERY && (!cmd.is_power_of_two() || cmd & MEMBARRIER_PASSED == 0) {
        return Err(EINVAL);
    }
    // SAFETY: membarrier takes integers only.
    let r = check(unsafe { libc::syscall(libc::SYS_membarrier, cmd as i32, flags as u32, cpu as i32) })?;
    Ok(if cmd == MEMBARRIER_CMD_QUERY { r & MEMBARRIER_PASSED } else { r })
}

/// Into a `HostBuf`: a partly mapped buffer gets the bytes up to its first
/// page that faults, as Linux fills it.
fn getrandom(p: &mut Process, [buf, len, flags, ..]: [u64; 6]) -> Result<u64, Errno> {
    let out = p.host_buf(buf, len, Dir::Out);
    // SAFETY: `out` is a `HostBuf` of `out.len` bytes from
    // `Process::host_buf` (writable guest memory inside the reservation, a
    // stand-in of ours, or an address the kernel refuses), alive through
    // the call.
    let n = check(unsafe { libc::getrandom(out.ptr as *mut libc::c_void, out.len, flags as u32) } as i64)?;
    out.finish(p, n as usize);
    Ok(n)
}
