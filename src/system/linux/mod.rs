//! The Linux user-mode layer: runs an x86-64 Linux executable, static or
//! dynamically linked, as a host process, as qemu-x86_64 does. It loads the
//! program (and its dynamic linker), builds its initial stack, runs it on
//! an engine, and answers its system calls and turns its faults into
//! signals. Each guest thread runs on a host thread of its own with its
//! own engine, over the process's shared memory.

mod environ;
mod errno;
mod fault;
mod loader;
mod mm;
mod process;
mod procfs;
mod signalfd;
mod signals;
mod signames;
mod stack;
mod syscall;
mod sysroot;
mod vfork;
mod vsyscall;

use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::engine::{Engine, EngineKind, Fault, Stop};
use crate::machine::cpuid::Model;
use crate::machine::x86rt::{NoPorts, X86Runtime};
use crate::machine::{CpuState, GuestMemory, MappedImage, PERM_R, PERM_W};
use crate::visa::ExitReason;

pub use loader::PIE_BASE;
pub use mm::{GUEST_SIZE, STACK_SIZE, STACK_TOP};
pub use syscall::{implemented as implemented_syscalls, name as syscall_name};
pub use sysroot::{CANDIDATES as SYSROOT_CANDIDATES, ENV as SYSROOT_ENV, Sysroot};

use errno::EINTR;
use process::{Exit, Group, Process};
use signals::SIGSEGV;
use syscall::host::int_call;

/// How to run a program.
#[derive(Clone, Debug)]
pub struct Options {
    pub engine: EngineKind,
    /// Log every system call to standard error.
    pub strace: bool,
    /// The guest's argv[0] (default: the program path as given).
    pub argv0: Option<Vec<u8>>,
    /// How visa runs a program the guest execs: visa's path and its options
    /// (all but `--max-insns`, which becomes the instructions left,
    /// `--profile`, which becomes a file of the program's own, and `--gdb`,
    /// which is not carried over), before `--argv0 NAME -- PROGRAM ARGS`.
    pub exec_prefix: Vec<CString>,
    /// Stop after exactly this many guest instructions (status 124).
    pub max_insns: Option<u64>,
    /// The bound of translation memory (`--tb-size`), shared by all threads.
    pub tb_size: u64,
    /// Where the tiered engine compiles hot blocks (`--sync-compile`).
    pub compile: crate::engine::Compile,
    /// Print engine statistics to standard error at the end.
    pub stats: bool,
    /// Write the engine statistics as JSON to this file at the end.
    pub stats_json: Option<PathBuf>,
    /// Name compiled blocks for `perf` in /tmp/perf-PID.map.
    pub perf_map: bool,
    /// The guest's root directory (`--sysroot`).
    pub sysroot: Sysroot,
    /// Listen for gdb on this loopback port (`--gdb`), and whether to stop
    /// before the first instruction (`--gdb-wait`).
    pub gdb: Option<(u16, bool)>,
    /// The execution log (`-d`), shared by every thread.
    pub log: Option<crate::engine::Log>,
    /// Write a per-block profile to this file at the end (`--profile`).
    pub profile: Option<PathBuf>,
    /// The processor model presented (`--cpu`).
    pub cpu: Model,
    /// The persistent translation cache's directory and bound (`--cache`).
    pub cache: Option<(PathBuf, u64)>,
}

/// Exit status when `max_insns` runs out (as `timeout` uses).
pub const OUT_OF_TIME: i32 = 124;

/// How deep `#!` interpreters may nest.
const MAX_SCRIPT_DEPTH: usize = 4;

/// The program to load after following `#!` lines.
struct Resolved {
    path: PathBuf,
    file: MappedImage,
    backing: mm::Backing,
    argv: Vec<Vec<u8>>,
}

/// Follows `#!` lines from `program` (a host path); each interpreter is a
/// guest path, looked up under the guest root.
fn resolve_script(program: &Path, mut argv: Vec<Vec<u8>>, root: &Sysroot) -> Result<Resolved, String> {
    let mut path = program.to_path_buf();
    for _ in 0..MAX_SCRIPT_DEPTH {
        let (image, backing) = map_image_file(&path)?;
        if !image.bytes().starts_with(b"#!") {
            return Ok(Resolved { path, file: image, backing, argv });
        }
        let line = image.bytes()[2..].split(|b| *b == b'\n').next().unwrap_or_default();
        let line = line.trim_ascii();
        let (interp, arg) = match line.iter().position(|b| b.is_ascii_whitespace()) {
            Some(i) => (&line[..i], Some(line[i..].trim_ascii())),
            None => (line, None),
        };
        if interp.is_empty() {
            return Err(format!("{}: empty #! line", path.display()));
        }
        // argv becomes: interpreter [arg] script args...
        let mut next = vec![interp.to_vec()];
        next.extend(arg.filter(|a| !a.is_empty()).map(|a| a.to_vec()));
        next.push(path.as_os_str().as_bytes().to_vec());
        next.extend(argv.into_iter().skip(1));
        argv = next;
        path = PathBuf::from(std::ffi::OsStr::from_bytes(&root.lookup(interp)));
    }
    Err(format!("{}: #! interpreters nest too deeply", program.display()))
}

/// The entry state of a Linux process: user-mode selectors, SSE enabled,
/// CR4.FSGSBASE set (Linux 5.9 and later let user code use RDFSBASE and
/// friends), the processor model presented.
fn entry_state(entry: u64, rsp: u64, model: Model) -> CpuState {
    let mut cpu = CpuState::long_mode(entry);
    cpu.gpr[4] = rsp;
    cpu.set_rflags(0x202);
    // The kernel's user selectors: code 0x33 and stack 0x2b (RPL 3); DS,
    // ES, FS and GS null.
    cpu.seg = USER_SELECTORS;
    cpu.cr4 |= crate::machine::CR4_FSGSBASE;
    cpu.cpu_model = model as u8;
    cpu
}

/// ES CS SS DS FS GS as Linux starts a 64-bit process.
pub const USER_SELECTORS: [u16; 6] = [0, 0x33, 0x2b, 0, 0, 0];

/// A program's memory and entry state, as `visa run` sets them up before
/// its first instruction.
struct Loaded {
    mem: GuestMemory,
    space: mm::AddressSpace,
    cpu: CpuState,
    /// The auxiliary vector as the stack holds it (for /proc/self/auxv).
    auxv: Vec<u8>,
}

/// An ELF image to load, and what /proc/self/maps shows it as.
struct ImageFile<'a> {
    src: loader::Source<'a>,
    backing: mm::Backing,
}

/// The bytes of a mapped image file, and the file to map its segments from.
fn source(image: &MappedImage) -> loader::Source<'_> {
    loader::Source { bytes: image.bytes(), fd: Some(image.file.as_raw_fd()) }
}

/// Where the program's dynamic linker comes from.
enum Linker<'a> {
    /// Looked up by its PT_INTERP path under this root.
    Lookup(&'a Sysroot),
    /// Always this image (fuzzing the loader needs no files).
    Image(&'a [u8]),
}

/// Maps an image and notes its file (by its canonical path, and the
/// device and inode of the file opened).
fn map_image_file(path: &Path) -> Result<(MappedImage, mm::Backing), String> {
    let image = crate::machine::map_image(path)?;
    let backing = match std::fs::canonicalize(path) {
        Ok(name) => mm::Backing::file(name.as_os_str().as_bytes(), &image.meta),
        _ => mm::Backing::Anonymous,
    };
    Ok((image, backing))
}

/// Maps an ELF image (and the dynamic linker it asks for) into a fresh
/// guest space and builds its stack.
fn load(
    program: ImageFile,
    linker: Linker,
    execfn: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    model: Model,
) -> Result<Loaded, String> {
    let mut mem = GuestMemory::with_protection(GUEST_SIZE).map_err(|e| format!("cannot reserve guest memory: {e}"))?;
    let mut space = mm::AddressSpace::new();
    let image = loader::load_program(&mut mem, &mut space, program.src, &program.backing)?;
    space.brk_start = mm::page_up(image.end);
    space.brk = space.brk_start;
    let interp = match (&image.interp, linker) {
        (None, _) => None,
        (Some(_), Linker::Image(bytes)) => {
            let src = loader::Source { bytes, fd: None };
            Some(loader::load_interp(&mut mem, &mut space, src, &mm::Backing::Anonymous)?)
        }
        (Some(path), Linker::Lookup(root)) => {
            let host = PathBuf::from(std::ffi::OsStr::from_bytes(&root.lookup(path)));
            let (image, backing) = map_image_file(&host).map_err(|_| root.missing_linker(path))?;
            let linker = loader::load_interp(&mut mem, &mut space, source(&image), &backing)
                .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(path)))?;
            Some(linker)
        }
    };

    let stack_base = STACK_TOP - STACK_SIZE;
    mem.protect(stack_base, STACK_SIZE, PERM_R | PERM_W);
    space.record_backed(stack_base, STACK_SIZE, PERM_R | PERM_W, mm::Backing::Named("[stack]"));
    let mut random = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into our 16-byte buffer.
    unsafe { libc::getrandom(random.as_mut_ptr() as *mut libc::c_void, random.len(), 0) };
    let machine = stack::Machine { random, model };
    let (rsp, auxv) = stack::build(&mut mem, &image, interp.as_ref(), execfn, argv, envp, machine)?;
    let entry = interp.as_ref().unwrap_or(&image).entry;
    Ok(Loaded { mem, space, cpu: entry_state(entry, rsp, model), auxv })
}

/// Loads a program image as `visa run` does before its first instruction
/// (segments, dynamic linker, stack, entry state) without running it, and
/// gives the entry state: for inspecting loaders and for fuzzing them. A
/// program that asks for a dynamic linker gets `linker` as its image. A bad
/// image is an error, never a crash.
pub fn load_image(file: &[u8], linker: &[u8]) -> Result<CpuState, String> {
    let program = ImageFile { src: loader::Source { bytes: file, fd: None }, backing: mm::Backing::Anonymous };
    load(program, Linker::Image(linker), b"program", &[b"program".to_vec()], &[], Model::Max).map(|loaded| loaded.cpu)
}

/// Loads the program and makes its process.
fn start(program: &Path, args: &[Vec<u8>], opts: &Options) -> Result<Process, String> {
    let mut argv = vec![opts.argv0.clone().unwrap_or_else(|| program.as_os_str().as_bytes().to_vec())];
    argv.extend(args.iter().cloned());
    let Resolved { path, file, backing, argv } = resolve_script(program, argv, &opts.sysroot)?;
    let envp = environ::initial();
    let execfn = path.as_os_str().as_bytes();
    let image = ImageFile { src: source(&file), backing };
    let Loaded { mem, space, cpu, auxv } = load(image, Linker::Lookup(&opts.sysroot), execfn, &argv, &envp, opts.cpu)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let exe = std::fs::canonicalize(&path).unwrap_or(path.clone());
    let symbols = Arc::new(crate::system::symbols::Symbols::of_elf(file.bytes(), PIE_BASE));
    Ok(Process {
        cpu,
        mem,
        space: Arc::new(Mutex::new(space)),
        signals: signals::SignalState::default(),
        group: Group::new(opts.clone(), symbols),
        leader: true,
        clear_tid: 0,
        strace: opts.strace,
        exit: None,
        reported: HashSet::new(),
        exe: exe.as_os_str().as_bytes().to_vec(),
        exec_prefix: opts.exec_prefix.clone(),
        insns_left: opts.max_insns,
        sysroot: opts.sysroot.clone(),
        auxv,
    })
}

/// System calls that fail with EINTR when a handler interrupts them, even
/// with SA_RESTART (see signal(7)).
const NEVER_RESTARTED: &[u64] = &[7, 23, 34, 35, 128, 130, 230, 232, 270, 271, 281, 441];

/// After a call failed with EINTR: restart it, unless a handler will run
/// that asks otherwise.
fn restart_interrupted(p: &mut Process, nr: u64) {
    signals::collect_host_signals(&mut p.signals);
    let handler = p.signals.next().and_then(|sig| p.signals.handler(sig));
    let restart = match handler {
        None => nr != 34 && nr != 130,
        Some(a) => a.flags & signals::SA_RESTART != 0 && !NEVER_RESTARTED.contains(&nr),
    };
    if restart {
        // Back to the SYSCALL instruction, with its number in RAX again.
        p.cpu.rip -= 2;
        p.cpu.gpr[0] = nr;
    }
}

/// Raises the signal for a fault. A fault whose signal is blocked, or
/// that nothing handles, ends the process (with a report on stderr).
fn raise_fault(p: &mut Process, engine: &Engine, f: Fault) {
    let mut info = fault::signal_for(p, &f);
    let sig = info.signo;
    let blocked = p.signals.mask & (1 << (sig - 1)) != 0;
    if blocked || p.signals.handler(sig).is_none() {
        // Under gdb the guest stops at the fault first; a signal gdb
        // discards runs the instruction again, one it changes is raised.
        let Some(decided) = signals::debugger_decides(p, sig) else { return };
        if decided != sig {
            info.signo = decided;
            p.signals.raise(info);
            return;
        }
        eprintln!("{}", crate::report::crash(&f, &p.cpu, &p.mem, engine));
        // A crash's profile is wanted most of all.
        if let Err(e) = p.group.write_profile(engine.profile()) {
            eprintln!("visa: {e}");
        }
        signals::log_signal(p, sig, |_| "default action, terminate".into());
        signals::die_of_signal(p, sig);
    }
    p.signals.raise(info);
}

/// Runs a program to its end as the command's process; returns its exit
/// status (what the run built is left for the host to take back at exit).
/// A guest killed by a signal kills visa with the same signal.
pub fn run(program: &Path, args: &[Vec<u8>], opts: &Options) -> Result<i32, String> {
    let mut p = start(program, args, opts)?;
    signals::take_host_signals(&mut p.signals);
    let mut engine = new_engine(&p.group);
    if opts.perf_map {
        engine.write_perf_map().map_err(|e| format!("cannot write the perf map: {e}"))?;
    }
    if let Some((port, wait)) = opts.gdb {
        let debugger = crate::system::gdb::Debugger::listen(port, wait, &p.mem)?;
        let _ = p.group.debugger.set(debugger);
    }
    // visa's own descriptors so far (the log, the perf map, gdb's
    // listener) are not the guest's to close.
    crate::system::host_fds::adopt_open();
    if let Some(why) = &engine.stats.jit_unavailable {
        eprintln!("visa: no JIT on this host ({why}); interpreting");
    }
    let Some(status) = run_thread(&mut p, &mut engine) else {
        unreachable!("the first thread waits for the process to end")
    };
    finish(&mut engine, &p.mem, &p.group)?;
    // The command ends with the guest: its translations and memory are
    // the host's to take back, far faster than dropping them one by one
    // (a tenth of a short run's time). Everything visa writes is written.
    std::mem::forget(engine);
    std::mem::forget(p);
    Ok(status)
}

/// A thread's engine (sharing the process's translations), logging and
/// profiling as the options say.
fn new_engine(group: &Group) -> Engine {
    let opts = &group.options;
    let mut engine = Engine::joining(&group.translations);
    if let Some(log) = &opts.log {
        engine.set_log(log.clone());
    }
    if opts.profile.is_some() {
        engine.enable_profile();
    }
    engine
}

/// Writes what the persistent cache lacks, the statistics the options ask
/// for and the profile (of every thread).
fn finish(engine: &mut Engine, mem: &GuestMemory, group: &Group) -> Result<(), String> {
    let opts = &group.options;
    engine.save_disk_cache(mem);
    group.write_profile(engine.profile())?;
    if let Some(path) = &opts.stats_json {
        let json = crate::report::stats_json(engine).to_string();
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if opts.stats {
        eprintln!("{}", crate::report::stats(engine));
    }
    Ok(())
}

/// Host stack of a guest thread's host thread (translation and compilation
/// run on it), as the first thread's.
const THREAD_STACK: usize = 8 << 20;

/// Runs a new guest thread `p` (clone with CLONE_THREAD, counted live by
/// `Process::new_thread`) on a new host thread with an engine of its own;
/// `setup` runs on it first, given its tid, before the tid is returned.
pub(crate) fn spawn_thread(
    mut p: Process,
    setup: impl FnOnce(&mut Process, i32) + Send + 'static,
) -> Result<i32, errno::Errno> {
    let group = p.group.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().stack_size(THREAD_STACK).spawn(move || {
        let mut engine = new_engine(&p.group);
        let tid = int_call!(libc::gettid());
        // A thread of the process before its tid is known: a signal sent to
        // it at once (pthread_kill after pthread_create) is its own.
        p.signals.started(tid, engine.interrupt_word());
        setup(&mut p, tid);
        let _ = tx.send(tid);
        if let Some(status) = run_thread(&mut p, &mut engine) {
            // This thread ends the process.
            if let Err(e) = finish(&mut engine, &p.mem, &p.group) {
                eprintln!("visa: {e}");
            }
            std::process::exit(status);
        }
    });
    if spawned.is_err() {
        group.thread_exit(0, false);
        return Err(errno::EAGAIN);
    }
    rx.recv().map_err(|_| errno::EAGAIN)
}

/// The process ends with `status`: no thread makes another system call.
fn end_process(p: &Process, status: i32) -> Option<i32> {
    p.group.ending.store(true, Ordering::SeqCst);
    if let Some(d) = p.group.debugger.get() {
        d.ended(status, None);
    }
    Some(status)
}

/// Parks a thread that has ended for good (the process's end ends it).
fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// Runs one guest thread until it ends the process (the process's status)
/// or ends alone (none). The first thread never ends alone: it waits for
/// the process to end, since its return from `run` would end it.
fn run_thread(p: &mut Process, engine: &mut Engine) -> Option<i32> {
    let opts = p.group.options.clone();
    let mut rt = X86Runtime::with_host_random(NoPorts, &crate::frontend::x86::X86Env::get().env)
        .with_tables(&crate::machine::segments::LINUX);
    p.mem.wake_on_code_writes(engine.interrupt_word());
    p.signals.started(int_call!(libc::gettid()), engine.interrupt_word());
    let limit = opts.max_insns.unwrap_or(u64::MAX);
    let debugger = p.group.debugger.get().cloned();
    let tid = int_call!(libc::gettid()) as usize;
    if let Some(d) = &debugger {
        d.attach(engine);
    }
    loop {
        // The limit counts every thread's instructions (the others' as of
        // their last return to the runtime).
        let ran = if opts.max_insns.is_some() { engine.process_stats().guest_insts } else { 0 };
        let left = limit.saturating_sub(ran);
        if left == 0 {
            eprintln!("visa: stopped after {ran} guest instructions (--max-insns)");
            return end_process(p, OUT_OF_TIME);
        }
        let allowed = debugger.as_ref().map_or(u64::MAX, |d| d.before_run(tid, &mut p.cpu));
        let stop = engine.run(&mut p.cpu, &mut p.mem, &mut rt, left.min(allowed));
        if debugger.as_ref().is_some_and(|d| d.after_run(tid, &stop)) {
            continue;
        }
        match stop {
            Stop::Exit(ExitReason::Syscall) => {
                if p.group.ending.load(Ordering::SeqCst) {
                    park_forever();
                }
                let nr = p.cpu.gpr[0];
                if let Some(log) = engine.log().filter(|l| l.wants(crate::engine::LogItem::Int, p.cpu.rip)) {
                    log.write(&format!("int: system call {} ({nr})", syscall::name(nr).unwrap_or("unknown")));
                }
                // A fork's child profiles afresh, and execve writes the
                // profile before the program is replaced: the process's
                // counts so far go to the group first.
                if syscall::PROCESS_CHANGES.contains(&nr)
                    && let Some(mine) = engine.take_profile()
                {
                    p.group.add_profile(&mine);
                }
                if opts.max_insns.is_some() {
                    p.insns_left = Some(limit.saturating_sub(engine.process_stats().guest_insts));
                }
                syscall::dispatch(p);
                match p.exit {
                    Some(Exit::Process(status)) => {
                        syscall::exit_robust_lists(p);
                        return end_process(p, status);
                    }
                    Some(Exit::Thread(status)) => {
                        syscall::exit_robust_list(p);
                        syscall::clear_child_tid(p);
                        if let Some(d) = &debugger {
                            d.thread_gone(tid);
                        }
                        if let Some(mine) = engine.profile() {
                            p.group.add_profile(mine);
                        }
                        match p.group.thread_exit(status, p.leader) {
                            Some(status) => return end_process(p, status),
                            None if p.leader => park_forever(),
                            None => return None,
                        }
                    }
                    None => {}
                }
                // rt_sigreturn's RAX is the interrupted context's, never its own result.
                if nr != syscall::RT_SIGRETURN && p.cpu.gpr[0] == (-(EINTR as i64)) as u64 {
                    restart_interrupted(p, nr);
                }
            }
            Stop::Exit(ExitReason::Breakpoint) => {
                let f = Fault { vector: 3, rip: p.cpu.rip - 1, addr: None };
                raise_fault(p, engine, f);
            }
            Stop::Exit(_) => {
                // HLT, INT n and the like are privileged: #GP at CPL 3.
                let f = Fault { vector: 13, rip: p.cpu.rip, addr: None };
                raise_fault(p, engine, f);
            }
            Stop::Fault(f) if vsyscall::emulate(p, &f) => {}
            Stop::Fault(f) => raise_fault(p, engine, f),
            // A host signal interrupts the engine within one block.
            Stop::Budget | Stop::Requested | Stop::Interrupted | Stop::Debug(_) => {}
        }
        let signalled = p.signals.pending() != 0 || signals::host_signal_waiting() || p.signals.saved_mask.is_some();
        if signalled && signals::deliver_pending(p).is_err() {
            // No room for the signal frame: the kernel kills with SIGSEGV.
            eprintln!("visa: no room on the guest stack for a signal frame");
            signals::die_of(SIGSEGV);
        }
    }
}
