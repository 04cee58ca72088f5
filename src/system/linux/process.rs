//! A guest process as one of its threads sees it: the thread's CPU state,
//! its view of the process's memory, the shared address space, signal
//! state and thread group, and the checked accessors syscalls use to read
//! and write guest memory
//! (a bad guest pointer is EFAULT, never a host access; an empty buffer is
//! not checked, as the kernel accepts any pointer with a length of 0).

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Options;
use super::errno::{EFAULT, ENAMETOOLONG, Errno};
use super::mm::AddressSpace;
use super::signals::SignalState;
use super::sysroot::Sysroot;
use crate::machine::{CpuState, GuestMemory};
use crate::system::symbols::Symbols;

/// Longest path a syscall reads.
pub const PATH_MAX: usize = 4096;

/// Where x86-64 user addresses end (TASK_SIZE with 4-level paging): a
/// range reaching past it fails the kernel's `access_ok`.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// The most one read or write moves (the kernel's MAX_RW_COUNT).
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// Does a guest range pass the kernel's `access_ok` (inside user space)?
pub fn access_ok(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= TASK_SIZE)
}

/// A host address that fails the host kernel's `access_ok` for any length.
const HOST_BAD: usize = usize::MAX & !4095;

/// Which way a buffer passed to the host goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The host reads it (write, writev).
    In,
    /// The host fills it (read, readv, getrandom).
    Out,
}

/// A guest buffer as the host kernel is to see it in a system call passed
/// through, so that the host's result is the one Linux gives the guest:
/// the guest's accessible bytes, followed, where the guest buffer runs
/// into memory the guest may not access, by host memory that faults too.
/// A range that fails `access_ok` for the guest fails it for the host.
pub struct HostBuf {
    pub ptr: *mut u8,
    /// The length to pass (at most `MAX_RW_COUNT`, past which the kernel
    /// moves nothing anyway; an invalid range keeps its length).
    pub len: usize,
    /// Guest address and accessible length, when `ptr` is a stand-in.
    guest: u64,
    usable: usize,
    /// The stand-in mapping: address and length.
    scratch: Option<(*mut libc::c_void, usize)>,
    dir: Dir,
}

impl HostBuf {
    /// After the host call moved `n` bytes into the buffer: copies them to
    /// the guest if the buffer was a stand-in.
    pub fn finish(&self, p: &mut Process, n: usize) {
        if self.scratch.is_some() && self.dir == Dir::Out && n > 0 {
            let n = n.min(self.usable);
            // SAFETY: the stand-in's first `usable` bytes are readable.
            let bytes = unsafe { std::slice::from_raw_parts(self.ptr, n) };
            // The range was checked writable when the view was made.
            let _ = p.mem.write_bytes(self.guest, bytes);
        }
    }
}

impl Drop for HostBuf {
    fn drop(&mut self) {
        if let Some((map, len)) = self.scratch {
            // SAFETY: our own mapping, no longer used.
            unsafe { libc::munmap(map, len) };
        }
    }
}

/// How a system call ended the thread that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// exit: this thread ends, with this status.
    Thread(i32),
    /// exit_group (or the last thread's exit): the process ends.
    Process(i32),
}

/// What the threads of a process share besides memory, address space and
/// signals.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Group {
    /// How the process runs.
    pub options: Options,
    /// The translations and compiled code its threads' engines share.
    pub translations: Arc<crate::engine::Shared>,
    /// Threads that have not exited.
    live: AtomicUsize,
    /// The first thread's status once it has exited alone: the process's
    /// when the last thread exits (as Linux reports the leader's).
    leader_status: AtomicI32,
    /// Set when the process ends: no thread makes another system call.
    pub ending: AtomicBool,
    /// gdb's connection (`--gdb`), shared by the threads.
    pub debugger: std::sync::OnceLock<Arc<crate::system::gdb::Debugger>>,
    /// The profiles of threads that have ended.
    profiles: std::sync::Mutex<crate::engine::Profile>,
    /// Each thread's robust futex list (set_robust_list), by tid.
    robust_lists: Mutex<HashMap<i32, u64>>,
    /// The program's symbols, which its log and profile name code by.
    pub symbols: Arc<Symbols>,
    /// Where this process writes its profile (`--profile`; a forked
    /// child's is its own).
    profile_path: Mutex<Option<PathBuf>>,
}

impl Group {
    /// A process running `options`, whose program has `symbols`.
    pub fn new(mut options: Options, symbols: Arc<Symbols>) -> Arc<Group> {
        options.log = options.log.map(|log| symbols.name_in(log));
        let translations = crate::engine::Shared::new(options.engine, options.tb_size, options.compile);
        if let Some((dir, limit)) = &options.cache {
            translations.use_disk_cache(dir.clone(), *limit);
        }
        Arc::new(Group {
            symbols,
            profile_path: Mutex::new(options.profile.clone()),
            translations,
            options,
            live: AtomicUsize::new(1),
            leader_status: AtomicI32::new(0),
            ending: AtomicBool::new(false),
            debugger: std::sync::OnceLock::new(),
            profiles: Default::default(),
            robust_lists: Default::default(),
        })
    }

    /// The group of a vfork child: the same options and program, threads,
    /// translations and a profile of its own (the child calls
    /// `after_fork`, which names its profile file).
    pub fn for_vfork_child(&self) -> Arc<Group> {
        // The child borrows a suspended thread of the parent's: it starts no
        // host thread (it would be the parent's to clean up), so it
        // compiles on its own thread.
        let options = Options { compile: crate::engine::Compile::Sync, ..self.options.clone() };
        let group = Group::new(options, self.symbols.clone());
        *lock(&group.profile_path) = lock(&self.profile_path).clone();
        group
    }

    /// Adds an ended thread's profile to the process's.
    pub fn add_profile(&self, p: &crate::engine::Profile) {
        lock(&self.profiles).merge(p);
    }

    /// Writes the process's profile, if one is asked for: the threads'
    /// that have ended (or handed theirs over) and `running`'s.
    pub fn write_profile(&self, running: Option<&crate::engine::Profile>) -> Result<(), String> {
        let Some(path) = lock(&self.profile_path).clone() else { return Ok(()) };
        let mut all = lock(&self.profiles).clone();
        if let Some(mine) = running {
            all.merge(mine);
        }
        self.symbols.write_profile(&path, &all)
    }

    /// The profile file of a program this process execs (`FILE.PID`, FILE
    /// this process's): each program writes its own.
    pub fn exec_profile_path(&self) -> Option<PathBuf> {
        let path = lock(&self.profile_path).clone()?;
        let mut name = path.into_os_string();
        name.push(format!(".{}", std::process::id()));
        Some(name.into())
    }

    /// A thread's exit (not the process's): the process's status if it
    /// was the last thread.
    pub fn thread_exit(&self, status: i32, leader: bool) -> Option<i32> {
        if leader {
            self.leader_status.store(status, Ordering::SeqCst);
        }
        (self.live.fetch_sub(1, Ordering::SeqCst) == 1).then(|| self.leader_status.load(Ordering::SeqCst))
    }

    /// In a forked child: its one thread, which has no robust list (as a
    /// new task on Linux), and a profile of its own from now on (in
    /// `FILE.PID`).
    pub fn after_fork(&self) {
        self.live.store(1, Ordering::SeqCst);
        self.robust_lists().clear();
        let own = self.exec_profile_path();
        *lock(&self.profile_path) = own;
        *lock(&self.profiles) = crate::engine::Profile::default();
    }

    fn robust_lists(&self) -> MutexGuard<'_, HashMap<i32, u64>> {
        self.robust_lists.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// set_robust_list of the thread `tid`.
    pub fn set_robust_list(&self, tid: i32, head: u64) {
        self.robust_lists().insert(tid, head);
    }

    /// The robust list head of the thread `tid` (0: none).
    pub fn robust_list(&self, tid: i32) -> u64 {
        self.robust_lists().get(&tid).copied().unwrap_or(0)
    }

    /// The robust list of the thread `tid`, which is dying.
    pub fn take_robust_list(&self, tid: i32) -> Option<u64> {
        self.robust_lists().remove(&tid)
    }

    /// Every thread's robust list, the process dying.
    pub fn take_robust_lists(&self) -> Vec<(i32, u64)> {
        self.robust_lists().drain().collect()
    }
}

/// One guest thread: its registers and its view of the process's memory,
/// address space, signals and the rest.
pub struct Process {
    pub cpu: CpuState,
    pub mem: GuestMemory,
    /// The address space, shared by the process's threads.
    pub space: Arc<Mutex<AddressSpace>>,
    pub signals: SignalState,
    pub group: Arc<Group>,
    /// The process's first thread (whose status the process's is).
    pub leader: bool,
    /// set_tid_address or CLONE_CHILD_CLEARTID: where the thread's exit
    /// writes 0 and wakes a futex waiter (0: nowhere).
    pub clear_tid: u64,
    /// Log every syscall to standard error.
    pub strace: bool,
    /// Set when a system call ended the thread or the process.
    pub exit: Option<Exit>,
    /// Unknown syscall numbers already reported.
    pub reported: HashSet<u64>,
    /// The guest program's path (what /proc/self/exe names).
    pub exe: Vec<u8>,
    /// How to run a program that the guest execs: visa's own arguments
    /// before the program (`run --engine ...`).
    pub exec_prefix: Vec<CString>,
    /// With `--max-insns`: the guest instructions left, which a program the
    /// guest execs may still run.
    pub insns_left: Option<u64>,
    /// The guest's root directory.
    pub sysroot: Sysroot,
    /// The auxiliary vector the process started with (/proc/self/auxv).
    pub auxv: Vec<u8>,
}

impl Process {
    /// Another thread is about to run on this memory at the same time as
    /// this one: page permissions are checked in software only from now on
    /// (one thread could change them between another's check and access),
    /// and compiled code that left loads' and stores' checks to the host is
    /// dropped.
    pub fn sharing_memory(&self) {
        self.mem.stop_mirroring();
        self.group.translations.leave_checks_to_software();
    }

    /// A new thread of this process (clone with CLONE_THREAD) that starts
    /// from `cpu`; the caller counts it live before it runs.
    pub fn new_thread(&self, cpu: CpuState, clear_tid: u64) -> Process {
        self.group.live.fetch_add(1, Ordering::SeqCst);
        self.on_this_memory(cpu, clear_tid, self.signals.new_thread(), self.group.clone(), false)
    }

    /// The child of vfork (clone with CLONE_VM and CLONE_VFORK), a process
    /// of its own (`group`) that starts from `cpu` on this one's memory and
    /// address space, with a copy of its signal dispositions and mask.
    pub fn vfork_child(&self, cpu: CpuState, clear_tid: u64, group: Arc<Group>, share_actions: bool) -> Process {
        self.on_this_memory(cpu, clear_tid, self.signals.for_child(share_actions), group, true)
    }

    /// A task that starts from `cpu` on this one's memory and address
    /// space, with the rest of its state as this one's.
    fn on_this_memory(
        &self,
        cpu: CpuState,
        clear_tid: u64,
        signals: SignalState,
        group: Arc<Group>,
        leader: bool,
    ) -> Process {
        Process {
            cpu,
            mem: self.mem.share(),
            space: self.space.clone(),
            signals,
            group,
            leader,
            clear_tid,
            strace: self.strace,
            exit: None,
            reported: self.reported.clone(),
            exe: self.exe.clone(),
            exec_prefix: self.exec_prefix.clone(),
            insns_left: self.insns_left,
            sysroot: self.sysroot.clone(),
            auxv: self.auxv.clone(),
        }
    }

    /// The address space, locked.
    pub fn space(&self) -> MutexGuard<'_, AddressSpace> {
        self.space.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        if len == 0 {
            return Ok(buf);
        }
        self.mem.read_bytes(addr, &mut buf).map_err(|_| EFAULT)?;
        Ok(buf)
    }

    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.mem.write_bytes(addr, bytes).map_err(|_| EFAULT)
    }

    /// A guest output buffer, in place.
    pub fn buf_mut(&mut self, addr: u64, len: usize) -> Result<&mut [u8], Errno> {
        if len == 0 {
            return Ok(&mut []);
        }
        self.mem.bytes_mut(addr, len).map_err(|_| EFAULT)
    }

    /// How many bytes from `addr` (up to `len`) the guest may access with
    /// `need` (`PERM_R` or `PERM_W`): the kernel copies up to the first
    /// page that faults.
    pub fn accessible(&self, addr: u64, len: u64, need: u8) -> u64 {
        let mut ok = 0u64;
        while ok < len {
            if self.mem.perms_at(addr + ok) & need == 0 {
                break;
            }
            ok = ((((addr + ok) | 4095) + 1) - addr).min(len);
        }
        ok
    }

    /// The host's view of a guest buffer for a call passed through (see
    /// `HostBuf`).
    pub fn host_buf(&mut self, addr: u64, len: u64, dir: Dir) -> HostBuf {
        let mut view = HostBuf { ptr: std::ptr::null_mut(), len: 0, guest: addr, usable: 0, scratch: None, dir };
        if len == 0 {
            view.ptr = std::ptr::NonNull::dangling().as_ptr();
            return view;
        }
        if !access_ok(addr, len) {
            (view.ptr, view.len) = (HOST_BAD as *mut u8, len.min(isize::MAX as u64) as usize);
            return view;
        }
        let count = len.min(MAX_RW_COUNT);
        let need = if dir == Dir::In { crate::machine::PERM_R } else { crate::machine::PERM_W };
        let ok = self.accessible(addr, count, need);
        view.len = count as usize;
        if ok == count {
            // The whole buffer, in place.
            view.ptr = match dir {
                Dir::In => self.mem.bytes(addr, count as usize).map(|b| b.as_ptr() as *mut u8),
                Dir::Out => self.mem.bytes_mut(addr, count as usize).map(|b| b.as_mut_ptr()),
            }
            .unwrap_or(HOST_BAD as *mut u8);
            return view;
        }
        // A stand-in: `ok` accessible bytes ending at a host page boundary,
        // then inaccessible host pages for the rest.
        let page = crate::machine::host_page_size();
        let head = ok.div_ceil(page) * page;
        let size = (head + (count - ok).div_ceil(page) * page) as usize;
        // SAFETY: a fresh private mapping of our own.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            view.ptr = HOST_BAD as *mut u8;
            return view;
        }
        view.scratch = Some((map, size));
        view.usable = ok as usize;
        // SAFETY: `head` bytes at the start of our mapping become writable;
        // the stand-in starts `ok` bytes before their end.
        unsafe {
            if head > 0 {
                libc::mprotect(map, head as usize, libc::PROT_READ | libc::PROT_WRITE);
            }
            view.ptr = (map as *mut u8).add((head - ok) as usize);
            if dir == Dir::In
                && ok > 0
                && let Ok(b) = self.mem.bytes(addr, ok as usize)
            {
                std::ptr::copy_nonoverlapping(b.as_ptr(), view.ptr, ok as usize);
            }
        }
        view
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.read(addr, 8)?.try_into().expect("8 bytes")))
    }

    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Errno> {
        self.write(addr, &v.to_le_bytes())
    }

    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Errno> {
        self.write(addr, &v.to_le_bytes())
    }

    /// A NUL-terminated guest string (without the NUL).
    pub fn read_cstr(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            // Read up to the end of the page, so a string at the end of a
            // mapping does not fault on the bytes past it.
            let chunk = (4096 - (at % 4096)) as usize;
            let bytes = self.read(at, chunk)?;
            match bytes.iter().position(|b| *b == 0) {
                Some(n) => {
                    out.extend_from_slice(&bytes[..n]);
                    return Ok(out);
                }
                None => out.extend_from_slice(&bytes),
            }
            if out.len() > PATH_MAX * 32 {
                return Err(ENAMETOOLONG);
            }
            at += chunk as u64;
        }
    }

    /// A guest path as a host C string.
    pub fn read_path(&self, addr: u64) -> Result<CString, Errno> {
        let p = self.read_cstr(addr)?;
        if p.len() >= PATH_MAX {
            return Err(ENAMETOOLONG);
        }
        Ok(CString::new(p).expect("no NUL inside"))
    }

    /// A NULL-terminated array of guest strings (argv, envp).
    pub fn read_str_array(&self, addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        for i in 0.. {
            let p = self.read_u64(addr + 8 * i)?;
            if p == 0 {
                break;
            }
            out.push(self.read_cstr(p)?);
        }
        Ok(out)
    }
}
