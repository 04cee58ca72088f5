//! Processes and threads: exit and exit_group, fork and the process forms
//! of clone (the host forks, and the child carries on translating; only
//! the calling thread goes on in it), vfork and the clones that share
//! the parent's memory (see `vfork`), clone with CLONE_THREAD (a
//! new host thread runs the guest thread), execve (visa runs the new program in a
//! fresh visa), wait4, and process, group, session and user ids.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use super::super::errno::{EACCES, EINVAL, ENOEXEC, ENOMEM, Errno, check, last};
use super::super::process::Exit;
use super::super::process::Process;
use super::host::int_call;
use super::misc::write_rusage;
use super::paths::path_arg;
use super::{Arg, Entry};
use crate::machine::CpuState;

use Arg::{Hex, Int, Str};

pub const TABLE: &[Entry] = &[
    (39, "getpid", &[], |_, _| Ok(std::process::id() as u64)),
    // The flags are an int: clone3's own flags are above it.
    (56, "clone", &[Hex, Hex, Hex, Hex, Hex], |p, a| clone(p, [a[0] & 0xffff_ffff, a[1], a[2], a[3], a[4], 0])),
    (57, "fork", &[], |p, _| clone(p, [SIGCHLD, 0, 0, 0, 0, 0])),
    (58, "vfork", &[], |p, _| clone(p, [CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0, 0])),
    (59, "execve", &[Str, Hex, Hex], execve),
    (60, "exit", &[Int], |p, a| {
        p.exit = Some(Exit::Thread(a[0] as i32 & 0xff));
        Ok(0)
    }),
    (61, "wait4", &[Int, Hex, Hex, Hex], wait4),
    (105, "setuid", &[Int], |_, a| check(int_call!(libc::setuid(a[0] as u32)) as i64)),
    (106, "setgid", &[Int], |_, a| check(int_call!(libc::setgid(a[0] as u32)) as i64)),
    (109, "setpgid", &[Int, Int], |_, a| check(int_call!(libc::setpgid(a[0] as i32, a[1] as i32)) as i64)),
    (110, "getppid", &[], |_, _| Ok(int_call!(libc::getppid()) as u64)),
    (111, "getpgrp", &[], |_, _| Ok(int_call!(libc::getpgrp()) as u64)),
    (112, "setsid", &[], |_, _| check(int_call!(libc::setsid()) as i64)),
    (113, "setreuid", &[Int, Int], |_, a| check(int_call!(libc::setreuid(a[0] as u32, a[1] as u32)) as i64)),
    (114, "setregid", &[Int, Int], |_, a| check(int_call!(libc::setregid(a[0] as u32, a[1] as u32)) as i64)),
    (117, "setresuid", &[Int, Int, Int], |_, a| {
        check(int_call!(libc::setresuid(a[0] as u32, a[1] as u32, a[2] as u32)) as i64)
    }),
    (118, "getresuid", &[Hex, Hex, Hex], |p, a| {
        let mut ids = [0u32; 3];
        // SAFETY: the three pointers are to the elements of `ids`, ours.
        check(unsafe { libc::getresuid(&mut ids[0], &mut ids[1], &mut ids[2]) } as i64)?;
        write_ids(p, &a[..3], ids)
    }),
    (119, "setresgid", &[Int, Int, Int], |_, a| {
        check(int_call!(libc::setresgid(a[0] as u32, a[1] as u32, a[2] as u32)) as i64)
    }),
    (120, "getresgid", &[Hex, Hex, Hex], |p, a| {
        let mut ids = [0u32; 3];
        // SAFETY: the three pointers are to the elements of `ids`, ours.
        check(unsafe { libc::getresgid(&mut ids[0], &mut ids[1], &mut ids[2]) } as i64)?;
        write_ids(p, &a[..3], ids)
    }),
    (121, "getpgid", &[Int], |_, a| check(int_call!(libc::getpgid(a[0] as i32)) as i64)),
    (124, "getsid", &[Int], |_, a| check(int_call!(libc::getsid(a[0] as i32)) as i64)),
    (140, "getpriority", &[Int, Int], |_, a| {
        // The raw call's answer: 20 - nice, never negative.
        // SAFETY: getpriority takes integers only.
        check(unsafe { libc::syscall(libc::SYS_getpriority, a[0] as i32, a[1] as i32) })
    }),
    (141, "setpriority", &[Int, Int, Int], |_, a| {
        check(int_call!(libc::setpriority(a[0] as _, a[1] as u32, a[2] as i32)) as i64)
    }),
    (157, "prctl", &[Int, Hex, Hex], prctl),
    (186, "gettid", &[], |_, _| Ok(int_call!(libc::gettid()) as u64)),
    (231, "exit_group", &[Int], |p, a| {
        p.exit = Some(Exit::Process(a[0] as i32 & 0xff));
        Ok(0)
    }),
    (435, "clone3", &[Hex, Int], super::clone3::clone3),
];

const SIGCHLD: u64 = 17;

fn write_ids(p: &mut Process, at: &[u64], ids: [u32; 3]) -> Result<u64, Errno> {
    for (a, id) in at.iter().zip(ids) {
        p.write_u32(*a, id)?;
    }
    Ok(0)
}

pub(in crate::system::linux) const CLONE_VM: u64 = 0x100;
pub(in crate::system::linux) const CLONE_SIGHAND: u64 = 0x800;
pub(in crate::system::linux) const CLONE_VFORK: u64 = 0x4000;
pub(super) const CLONE_THREAD: u64 = 0x10000;
const CLONE_SETTLS: u64 = 0x80000;
pub(in crate::system::linux) const CLONE_PARENT_SETTID: u64 = 0x10_0000;
pub(in crate::system::linux) const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
pub(in crate::system::linux) const CLONE_CHILD_SETTID: u64 = 0x100_0000;
/// clone3's: the child's handlers go back to SIG_DFL (ignored signals stay ignored).
pub(in crate::system::linux) const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;

/// Flags that contradict each other, as Linux refuses them: a thread
/// shares the dispositions, which share the memory.
pub(super) fn check_flags(flags: u64) -> Result<(), Errno> {
    let thread_without_sighand = flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0;
    let sighand_without_vm = flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0;
    if thread_without_sighand || sighand_without_vm { Err(EINVAL) } else { Ok(()) }
}

/// clone, fork and vfork (and clone3, through them): a thread
/// (CLONE_THREAD) runs on a new host thread; a child sharing the parent's
/// memory (CLONE_VM: vfork, posix_spawn, and children that run beside
/// their parent) is `vfork`'s; anything else is a host fork, whose memory
/// is a copy.
pub(super) fn clone(p: &mut Process, [flags, stack, ptid, ctid, tls, _]: [u64; 6]) -> Result<u64, Errno> {
    check_flags(flags)?;
    if flags & CLONE_THREAD != 0 {
        return clone_thread(p, [flags, stack, ptid, ctid, tls, 0]);
    }
    if super::super::vfork::shares_memory(flags) {
        return super::super::vfork::clone_vm(p, [flags, stack, ptid, ctid, tls, 0]);
    }
    // Held across the fork, so that no other thread holds them in the child
    // (the compiler's lock first: a thread compiling holds it while it
    // writes the code region, which `prepare_fork` locks).
    let group = p.group.clone();
    let translations = group.translations.hold_for_fork();
    // The child gets its own copy of the JIT's code region (a shared
    // mapping would otherwise stay shared with the parent).
    let mut code = crate::jit::prepare_fork().map_err(|_| ENOMEM)?;
    let space = p.space.clone();
    let space = space.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let signals = p.signals.hold_for_fork();
    let debugger = group.debugger.get().map(|d| d.hold_for_fork());
    // SAFETY: fork takes no arguments. Of visa's threads only this one goes
    // on in the child; the locks other guest threads take (translations,
    // code region, address space, signal state, memory views, the gdb
    // stub's state) are held here, so none is held by a thread that is
    // gone, and the child goes on with this thread's engine and memory view
    // alone.
    let pid = check(p.mem.around_fork(|| unsafe { libc::fork() } as i64))?;
    drop(space);
    if pid == 0 {
        // The calling thread is the child's only thread, and its first.
        p.signals.after_fork(signals);
        translations.child();
        p.group.after_fork();
        if let Some(held) = debugger {
            held.child();
        }
        p.leader = true;
        code.child();
        drop(code);
        if flags & CLONE_CLEAR_SIGHAND != 0 {
            p.signals.clear_handlers();
        }
        if stack != 0 {
            p.cpu.gpr[4] = stack;
        }
        if flags & CLONE_SETTLS != 0 {
            p.cpu.fs_base = tls;
        }
        if flags & CLONE_CHILD_SETTID != 0 {
            p.write_u32(ctid, std::process::id())?;
        }
        return Ok(0);
    }
    drop(debugger);
    drop(signals);
    drop(translations);
    if flags & CLONE_PARENT_SETTID != 0 {
        p.write_u32(ptid, pid as u32)?;
    }
    Ok(pid)
}

/// A clone child's registers: the parent's, with clone's 0 in RAX, the
/// new stack if given and the TLS base (CLONE_SETTLS); and where its exit
/// clears its tid (CLONE_CHILD_CLEARTID; 0: nowhere).
pub(in crate::system::linux) fn child_start(
    p: &Process,
    flags: u64,
    stack: u64,
    ctid: u64,
    tls: u64,
) -> (CpuState, u64) {
    let mut cpu = p.cpu.clone();
    cpu.gpr[0] = 0;
    if stack != 0 {
        cpu.gpr[4] = stack;
    }
    if flags & CLONE_SETTLS != 0 {
        cpu.fs_base = tls;
    }
    (cpu, if flags & CLONE_CHILD_CLEARTID != 0 { ctid } else { 0 })
}

/// clone with CLONE_THREAD (what pthread_create, musl and Go pass): the
/// new thread shares memory, address space, files and dispositions, and
/// starts after the SYSCALL with RAX 0, on `stack`, with FS base `tls`
/// (CLONE_SETTLS). Its tid is the host thread's.
fn clone_thread(p: &mut Process, [flags, stack, ptid, ctid, tls, _]: [u64; 6]) -> Result<u64, Errno> {
    let (cpu, clear_tid) = child_start(p, flags, stack, ctid, tls);
    // Compiled code fences guest accesses from now on where the host needs it.
    p.group.translations.going_threaded();
    p.sharing_memory();
    let child = p.new_thread(cpu, clear_tid);
    let tid = super::super::spawn_thread(child, move |t, tid| {
        // Both before clone returns in either thread, as Linux writes them.
        if flags & CLONE_CHILD_SETTID != 0 {
            let _ = t.write_u32(ctid, tid as u32);
        }
        if flags & CLONE_PARENT_SETTID != 0 {
            let _ = t.write_u32(ptid, tid as u32);
        }
    })?;
    Ok(tid as u64)
}

fn wait4(p: &mut Process, [pid, status_at, options, ru_at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let mut status = 0i32;
    // SAFETY: plain data the host fills.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = check(unsafe { libc::wait4(pid as i32, &mut status, options as i32, &mut ru) } as i64)?;
    if status_at != 0 && r != 0 {
        p.write_u32(status_at, status as u32)?;
    }
    if ru_at != 0 {
        write_rusage(p, ru_at, &ru)?;
    }
    Ok(r)
}

const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const PR_GET_DUMPABLE: u64 = 3;
const PR_SET_DUMPABLE: u64 = 4;

fn prctl(p: &mut Process, [option, arg, ..]: [u64; 6]) -> Result<u64, Errno> {
    match option {
        PR_SET_NAME => {
            let mut name = p.read_cstr(arg)?;
            name.truncate(15);
            let name = CString::new(name).expect("no NUL inside");
            // SAFETY: `name` is a `CString` of ours of at most 16 bytes with
            // its NUL, as PR_SET_NAME reads.
            check(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } as i64)
        }
        PR_GET_NAME => {
            let mut name = [0u8; 16];
            // SAFETY: PR_GET_NAME fills 16 bytes: `name` is a buffer of
            // ours of 16 bytes.
            check(unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) } as i64)?;
            p.write(arg, &name)?;
            Ok(0)
        }
        // SAFETY: these options take an integer argument, not a pointer.
        PR_GET_DUMPABLE | PR_SET_DUMPABLE => check(unsafe { libc::prctl(option as i32, arg) } as i64),
        _ => Err(EINVAL),
    }
}

/// execve: the checks the kernel makes before replacing the process (so a
/// failure returns to the guest), then the host runs visa again on the new
/// program, with the same options, arguments and environment.
fn execve(p: &mut Process, [path_at, argv_at, envp_at, ..]: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(p, path_at)?;
    let argv = p.read_str_array(argv_at)?;
    let envp = p.read_str_array(envp_at)?;
    // SAFETY: `path` is a NUL-terminated `CString` of ours.
    check(unsafe { libc::access(path.as_ptr(), libc::X_OK) } as i64)?;
    let host_path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.as_bytes()));
    let meta = std::fs::metadata(host_path).map_err(|e| e.raw_os_error().unwrap_or(EACCES))?;
    if !meta.is_file() {
        return Err(EACCES);
    }
    let mut magic = [0u8; 4];
    let file = std::fs::File::open(host_path).map_err(|e| e.raw_os_error().unwrap_or(EACCES))?;
    let n = std::io::Read::read(&mut &file, &mut magic).map_err(|e| e.raw_os_error().unwrap_or(EACCES))?;
    if !(magic[..n].starts_with(b"\x7fELF") || magic[..n].starts_with(b"#!")) {
        return Err(ENOEXEC);
    }
    let cstr = |b: &[u8]| CString::new(b.to_vec()).map_err(|_| EINVAL);
    let mut args: Vec<CString> = p.exec_prefix.clone();
    if let Some(left) = p.insns_left {
        args.push(cstr(b"--max-insns")?);
        args.push(cstr(left.to_string().as_bytes())?);
    }
    // Each program writes a profile of its own (FILE.PID); this one's is
    // written now, before it is replaced.
    if let Some(file) = p.group.exec_profile_path() {
        if let Err(e) = p.group.write_profile(None) {
            eprintln!("visa: {e}");
        }
        args.push(cstr(b"--profile")?);
        args.push(cstr(file.as_os_str().as_bytes())?);
    }
    let argv0 = argv.first().map_or(path.as_bytes().to_vec(), |a| a.clone());
    args.push(cstr(b"--argv0")?);
    args.push(cstr(&argv0)?);
    args.push(cstr(b"--")?);
    args.push(path.clone());
    for a in argv.iter().skip(1) {
        args.push(cstr(a)?);
    }
    let env: Vec<CString> = envp.iter().map(|e| cstr(e)).collect::<Result<_, _>>()?;
    let mut arg_ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    if p.group.debugger.get().is_some_and(|d| d.serving()) {
        // As under qemu-user: the new program runs without the stub, and
        // gdb sees the connection close.
        eprintln!("visa: execve {}: gdb is not carried over to the new program", path.to_string_lossy());
    }
    // The new program starts with the persistent cache as this one leaves it.
    p.group.translations.save_disk_cache();
    super::super::signals::prepare_exec(&p.signals);
    let self_exe = c"/proc/self/exe";
    // SAFETY: NULL-terminated arrays of valid C strings.
    unsafe { libc::execve(self_exe.as_ptr(), arg_ptrs.as_ptr(), env_ptrs.as_ptr()) };
    let err = last();
    super::super::signals::take_host_signals(&mut p.signals);
    Err(err)
}
