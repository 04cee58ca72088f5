//! Signals: the guest's dispositions (shared by a process's threads), each
//! thread's mask and pending set and the process's; delivery to
//! guest handlers on an x86-64 `rt_sigframe` (siginfo, ucontext, the
//! extended state as Linux writes it: an XSAVE area with the FP_XSTATE
//! magic words) and `rt_sigreturn`; default actions; and host signals (SIGINT,
//! SIGPIPE, SIGCHLD...) forwarded to the guest with the host's siginfo.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use super::errno::{EFAULT, EINVAL, ENOMEM, Errno};
use super::process::Process;
use super::signalfd::SignalFds;
use crate::machine::CpuState;

pub const NSIG: usize = 64;
pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGXCPU: i32 = 24;
pub const SIGXFSZ: i32 = 25;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;
pub const SIGWINCH: i32 = 28;
pub const SIGSYS: i32 = 31;

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// si_code values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const ILL_ILLOPN: i32 = 2;
pub const FPE_INTDIV: i32 = 1;
pub const FPE_FLTDIV: i32 = 3;
pub const FPE_FLTOVF: i32 = 4;
pub const FPE_FLTUND: i32 = 5;
pub const FPE_FLTRES: i32 = 6;
pub const FPE_FLTINV: i32 = 7;

const SS_ONSTACK: u32 = 1;
const SS_DISABLE: u32 = 2;

/// A guest `struct sigaction` (the kernel's layout).
#[derive(Clone, Copy, Debug, Default)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// What a signal carries to a handler.
#[derive(Clone, Copy, Debug, Default)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    /// si_addr for faults, or si_pid / si_uid for kill.
    pub addr: u64,
    pub pid: i32,
    pub uid: u32,
    /// si_value of a queued signal, or SIGCHLD's si_status.
    pub value: u64,
    /// For a processor fault: its vector and error code (the frame's
    /// `trapno` and `err`).
    pub trap: Option<(u64, u64)>,
}

impl SigInfo {
    /// The guest `siginfo_t` (128 bytes, little-endian).
    pub fn bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        if matches!(self.signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP) && self.code > 0 {
            b[16..24].copy_from_slice(&self.addr.to_le_bytes());
        } else {
            b[16..20].copy_from_slice(&self.pid.to_le_bytes());
            b[20..24].copy_from_slice(&self.uid.to_le_bytes());
            b[24..32].copy_from_slice(&self.value.to_le_bytes());
        }
        b
    }
}

/// Pending signals with what each carries: a thread's own, or the
/// process's (which any thread not blocking them takes).
pub struct Queue {
    set: AtomicU64,
    info: Mutex<[SigInfo; NSIG + 1]>,
}

impl Default for Queue {
    fn default() -> Queue {
        Queue { set: AtomicU64::new(0), info: Mutex::new([SigInfo::default(); NSIG + 1]) }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Queue {
    /// Queues a signal (a second one of the same number merges).
    fn raise(&self, info: SigInfo) {
        let mut infos = lock(&self.info);
        infos[info.signo as usize] = info;
        self.set.fetch_or(bit(info.signo), Ordering::SeqCst);
    }

    /// Takes `sig` if it is pending.
    fn take(&self, sig: i32) -> Option<SigInfo> {
        let infos = lock(&self.info);
        (self.set.fetch_and(!bit(sig), Ordering::SeqCst) & bit(sig) != 0).then(|| infos[sig as usize])
    }

    fn pending(&self) -> u64 {
        self.set.load(Ordering::SeqCst)
    }

    fn discard(&self, sigs: u64) {
        self.set.fetch_and(!sigs, Ordering::SeqCst);
    }
}

/// A guest thread as other threads reach it: its pending signals, and how
/// to wake it (its engine's interrupt word; its host thread, by tid).
pub struct ThreadSignals {
    queue: Queue,
    /// Set while the thread polls (see `wait_unless_signalled`).
    polling: AtomicBool,
    tid: AtomicI32,
    interrupt: OnceLock<&'static AtomicU32>,
}

impl ThreadSignals {
    fn new() -> Arc<ThreadSignals> {
        Arc::new(ThreadSignals {
            queue: Queue::default(),
            polling: AtomicBool::new(false),
            tid: AtomicI32::new(0),
            interrupt: OnceLock::new(),
        })
    }

    /// Brings the thread back to look at its signals: its engine within one
    /// block, a blocking host call with EINTR.
    fn wake(&self) {
        if let Some(word) = self.interrupt.get() {
            word.store(1, Ordering::SeqCst);
        }
        // SAFETY: tgkill takes integers only; WAKE_SIGNAL's handler does nothing.
        unsafe {
            libc::syscall(libc::SYS_tgkill, std::process::id() as i32, self.tid.load(Ordering::SeqCst), WAKE_SIGNAL)
        };
    }
}

/// What the threads of a process share: dispositions, the signals sent to
/// the process, and its threads by tid.
pub struct ProcessSignals {
    /// Shared with the processes made by clone with CLONE_SIGHAND.
    actions: Arc<Mutex<[SigAction; NSIG + 1]>>,
    queue: Queue,
    threads: Mutex<HashMap<i32, Arc<ThreadSignals>>>,
    /// Its signalfds, which follow what is pending.
    pub signalfds: SignalFds,
}

impl ProcessSignals {
    /// The signals pending for the process or any of its threads.
    /// What a signalfd's readiness follows: the signals pending for the
    /// process, and for each thread that is polling (poll, select, an
    /// epoll wait) its own, since Linux shows a signalfd ready to the
    /// polling thread for its own and the process's signals.
    fn pending_for_pollers(&self) -> u64 {
        lock(&self.threads)
            .values()
            .filter(|t| t.polling.load(Ordering::SeqCst))
            .fold(self.queue.pending(), |all, t| all | t.queue.pending())
    }
}

/// What fork holds so that no other thread holds it (see `SignalState::fork`).
pub struct ForkHold<'a> {
    _signalfds: MutexGuard<'a, Vec<super::signalfd::SignalFd>>,
    _actions: MutexGuard<'a, [SigAction; NSIG + 1]>,
    _info: MutexGuard<'a, [SigInfo; NSIG + 1]>,
    threads: MutexGuard<'a, HashMap<i32, Arc<ThreadSignals>>>,
}

/// One guest thread's signal state: its mask, alternate stack and pending
/// signals, over the process's shared dispositions.
pub struct SignalState {
    process: Arc<ProcessSignals>,
    thread: Arc<ThreadSignals>,
    pub mask: u64,
    /// sigaltstack: base, size, flags.
    pub altstack: (u64, u64, u32),
    /// The mask to restore after a handler that interrupts rt_sigsuspend.
    pub saved_mask: Option<u64>,
}

impl Default for SignalState {
    /// The signal state of a process's first thread (tid: its pid).
    fn default() -> SignalState {
        let process = Arc::new(ProcessSignals {
            actions: Arc::new(Mutex::new([SigAction::default(); NSIG + 1])),
            queue: Queue::default(),
            threads: Mutex::new(HashMap::new()),
            signalfds: SignalFds::default(),
        });
        let thread = ThreadSignals::new();
        let tid = std::process::id() as i32;
        thread.tid.store(tid, Ordering::SeqCst);
        lock(&process.threads).insert(tid, thread.clone());
        SignalState { process, thread, mask: 0, altstack: (0, 0, SS_DISABLE), saved_mask: None }
    }
}

impl Drop for SignalState {
    fn drop(&mut self) {
        let tid = self.thread.tid.load(Ordering::SeqCst);
        let mut threads = lock(&self.process.threads);
        if threads.get(&tid).is_some_and(|t| Arc::ptr_eq(t, &self.thread)) {
            threads.remove(&tid);
        }
    }
}

fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// Signals that cannot be caught, blocked or ignored.
pub const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// Signals that processor faults raise, delivered before the others.
const SYNCHRONOUS: u64 = (1 << (SIGSEGV - 1))
    | (1 << (SIGBUS - 1))
    | (1 << (SIGILL - 1))
    | (1 << (SIGTRAP - 1))
    | (1 << (SIGFPE - 1))
    | (1 << (SIGSYS - 1));

/// What the default action of a signal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Ignore,
    Stop,
    Terminate,
}

pub fn default_action(sig: i32) -> DefaultAction {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH | SIGCONT => DefaultAction::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

impl SignalState {
    /// The state of a new thread of this process (clone with CLONE_THREAD):
    /// the caller's mask, nothing pending, no alternate stack. It joins the
    /// process's threads once `started` names its tid.
    pub fn new_thread(&self) -> SignalState {
        SignalState {
            process: self.process.clone(),
            thread: ThreadSignals::new(),
            mask: self.mask,
            altstack: (0, 0, SS_DISABLE),
            saved_mask: None,
        }
    }

    /// The signal state of a child process that is not a fork of this one
    /// (vfork's): the dispositions shared (`share`: CLONE_SIGHAND) or
    /// copied, the mask copied, nothing pending, the same alternate stack;
    /// it joins its process's threads once `started`.
    pub fn for_child(&self, share: bool) -> SignalState {
        let actions = match share {
            true => self.process.actions.clone(),
            false => Arc::new(Mutex::new(*lock(&self.process.actions))),
        };
        let process = Arc::new(ProcessSignals {
            actions,
            queue: Queue::default(),
            threads: Mutex::new(HashMap::new()),
            signalfds: SignalFds::default(),
        });
        SignalState {
            process,
            thread: ThreadSignals::new(),
            mask: self.mask,
            altstack: self.altstack,
            saved_mask: None,
        }
    }

    /// clone3's CLONE_CLEAR_SIGHAND, in the child: every handler becomes
    /// SIG_DFL, ignored signals stay ignored, and no action keeps flags or
    /// a mask (Linux's flush_signal_handlers). Host signals need no change:
    /// visa still takes those it took.
    pub fn clear_handlers(&mut self) {
        for a in lock(&self.process.actions).iter_mut() {
            let handler = if a.handler == SIG_IGN { SIG_IGN } else { SIG_DFL };
            *a = SigAction { handler, ..SigAction::default() };
        }
    }

    /// No alternate stack (sigaltstack's SS_DISABLE).
    pub fn altstack_off(&mut self) {
        self.altstack = (0, 0, SS_DISABLE);
    }

    /// On the thread itself, once it runs: its tid and engine's interrupt word.
    pub fn started(&self, tid: i32, interrupt: &'static AtomicU32) {
        self.thread.tid.store(tid, Ordering::SeqCst);
        let _ = self.thread.interrupt.set(interrupt);
        lock(&self.process.threads).insert(tid, self.thread.clone());
    }

    /// This thread's id.
    pub fn tid(&self) -> i32 {
        self.thread.tid.load(Ordering::SeqCst)
    }

    /// Is `tid` a thread of this process?
    pub fn has_thread(&self, tid: i32) -> bool {
        lock(&self.process.threads).contains_key(&tid)
    }

    /// Queues a signal for this thread (a fault's, or one sent to it).
    pub fn raise(&mut self, info: SigInfo) {
        if (1..=NSIG as i32).contains(&info.signo) {
            self.thread.queue.raise(info);
            self.changed();
        }
    }

    /// Queues a signal for the process: the first thread not blocking it
    /// takes it; every other thread is woken to look (this one looks
    /// before it runs on).
    pub fn raise_process(&self, info: SigInfo) {
        if (1..=NSIG as i32).contains(&info.signo) {
            self.process.queue.raise(info);
            self.changed();
            let threads = lock(&self.process.threads);
            threads.values().filter(|t| !Arc::ptr_eq(t, &self.thread)).for_each(|t| t.wake());
        }
    }

    /// Queues a signal for the thread `tid` of this process and wakes it;
    /// false when there is no such thread.
    pub fn raise_thread(&self, tid: i32, info: SigInfo) -> bool {
        let Some(thread) = lock(&self.process.threads).get(&tid).cloned() else { return false };
        if (1..=NSIG as i32).contains(&info.signo) {
            thread.queue.raise(info);
            self.changed();
            if !Arc::ptr_eq(&thread, &self.thread) {
                thread.wake();
            }
        }
        true
    }

    /// The signals pending for this thread: its own and the process's.
    pub fn pending(&self) -> u64 {
        self.thread.queue.pending() | self.process.queue.pending()
    }

    /// Takes pending `sig` (the thread's own first) with what it carries;
    /// none if another thread took it first.
    fn take(&self, sig: i32) -> Option<SigInfo> {
        let info = self.thread.queue.take(sig).or_else(|| self.process.queue.take(sig));
        self.changed();
        info
    }

    /// Takes a pending signal of `mask` as signalfd reads do, whether the
    /// thread blocks it or not: the thread's own first, then the
    /// process's, in the order `next` delivers them.
    pub fn take_in(&self, mask: u64) -> Option<SigInfo> {
        for queue in [&self.thread.queue, &self.process.queue] {
            loop {
                let ready = queue.pending() & mask;
                if ready == 0 {
                    break;
                }
                let first = if ready & SYNCHRONOUS != 0 { ready & SYNCHRONOUS } else { ready };
                if let Some(info) = queue.take(first.trailing_zeros() as i32 + 1) {
                    self.changed();
                    return Some(info);
                }
            }
        }
        None
    }

    /// The process's signalfds.
    pub fn signalfds(&self) -> &SignalFds {
        &self.process.signalfds
    }

    /// After the pending sets changed: the signalfds follow.
    /// The thread starts or stops polling: its own pending signals count
    /// for its process's signalfds while it polls.
    fn polling(&self, on: bool) {
        self.thread.polling.store(on, Ordering::SeqCst);
        self.changed();
    }

    pub fn changed(&self) {
        self.process.signalfds.refresh(|| self.process.pending_for_pollers());
    }

    /// The disposition of `sig`.
    pub fn action(&self, sig: i32) -> SigAction {
        lock(&self.process.actions)[sig as usize]
    }

    /// The pending signal to deliver next, as the kernel picks it: a
    /// synchronous (fault) signal first, then the lowest number.
    pub fn next(&self) -> Option<i32> {
        let ready = self.pending() & !(self.mask & !UNBLOCKABLE);
        let first = if ready & SYNCHRONOUS != 0 { ready & SYNCHRONOUS } else { ready };
        (first != 0).then(|| first.trailing_zeros() as i32 + 1)
    }

    /// Does delivering `sig` do anything (run a handler, stop or end the process)?
    pub fn acts_on(&self, sig: i32) -> bool {
        match self.action(sig).handler {
            SIG_IGN => sig == SIGKILL,
            SIG_DFL => default_action(sig) != DefaultAction::Ignore,
            _ => true,
        }
    }

    /// The handler that delivering `sig` runs, if any.
    pub fn handler(&self, sig: i32) -> Option<SigAction> {
        let a = self.action(sig);
        (a.handler != SIG_DFL && a.handler != SIG_IGN).then_some(a)
    }

    /// Drops deliverable signals that would be ignored; true when one that
    /// acts is left.
    pub fn drop_ignored(&mut self) -> bool {
        while let Some(sig) = self.next() {
            if self.acts_on(sig) {
                return true;
            }
            self.take(sig);
        }
        false
    }

    /// rt_sigaction: the old action, after installing `new` if given.
    pub fn set_action(&mut self, sig: i32, new: Option<SigAction>) -> Result<SigAction, Errno> {
        if !(1..=NSIG as i32).contains(&sig) || (new.is_some() && (sig == SIGKILL || sig == SIGSTOP)) {
            return Err(EINVAL);
        }
        let ignores = new.is_some_and(|a| {
            a.handler == SIG_IGN || (a.handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore)
        });
        if ignores {
            // A host signal visa has caught is pending for the guest: it
            // goes with the others.
            collect_host_signals(self);
        }
        let mut actions = lock(&self.process.actions);
        let old = actions[sig as usize];
        if let Some(a) = new {
            actions[sig as usize] = a;
            if ignores {
                // Dropped wherever pending, in every thread.
                self.process.queue.discard(bit(sig));
                lock(&self.process.threads).values().for_each(|t| t.queue.discard(bit(sig)));
            }
            if host_forwarded(sig) {
                forward_host_signal(sig, a.handler != SIG_IGN);
            }
        }
        drop(actions);
        if ignores {
            self.changed();
        }
        Ok(old)
    }

    /// Holds the shared signal state while the host forks (so that no other
    /// thread holds it then); `after_fork` in the child.
    pub fn hold_for_fork(&self) -> ForkHold<'_> {
        ForkHold {
            _signalfds: self.process.signalfds.hold(),
            _actions: lock(&self.process.actions),
            _info: lock(&self.process.queue.info),
            threads: lock(&self.process.threads),
        }
    }

    /// In a forked child, where only this thread goes on (its tid now the
    /// child's pid): the only thread.
    pub fn after_fork(&self, mut held: ForkHold<'_>) {
        let tid = std::process::id() as i32;
        self.thread.tid.store(tid, Ordering::SeqCst);
        held.threads.clear();
        held.threads.insert(tid, self.thread.clone());
    }
}

/// The host signal that wakes a thread from a blocking host call for a
/// signal another thread sent it (its handler does nothing): a real-time
/// signal no guest signal is forwarded as.
const WAKE_SIGNAL: i32 = 64;

extern "C" fn on_wake_signal(_sig: i32) {}

// ---- host signals ----

/// Host signals the guest should see, as they arrive at one host process:
/// which are pending, and what the host's siginfo said at each one's last
/// arrival (si_code and si_pid, si_uid, and si_value or SIGCHLD's
/// si_status).
pub struct HostRecord {
    pending: AtomicU64,
    info: [[AtomicU64; 3]; NSIG + 1],
}

impl HostRecord {
    pub const fn new() -> HostRecord {
        HostRecord {
            pending: AtomicU64::new(0),
            info: [const { [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)] }; NSIG + 1],
        }
    }
}

/// The record of the process visa started as (and of its forks).
static MAIN_RECORD: HostRecord = HostRecord::new();

thread_local! {
    /// The record of a child that shares visa's memory without waiting
    /// parent (see `vfork`), on the one host thread it runs (null: the
    /// main record).
    static RECORD: std::cell::Cell<*const HostRecord> = const { std::cell::Cell::new(std::ptr::null()) };
}

fn record() -> &'static HostRecord {
    let r = RECORD.get();
    // SAFETY: a non-null record is the child's, set by `keep_record` on
    // the child's only thread and alive until that child has ended.
    if r.is_null() { &MAIN_RECORD } else { unsafe { &*r } }
}

/// In a child sharing visa's memory (its only thread, whose host signals
/// are blocked until now): host signals arriving at this host process are
/// recorded in `record`, which outlives the child, and no longer wait.
pub fn keep_record(record: &HostRecord) {
    RECORD.set(record as *const HostRecord);
    // SAFETY: changing this thread's host signal mask with a local sigset.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

fn host_forwarded(sig: i32) -> bool {
    matches!(
        sig,
        SIGHUP
            | SIGINT
            | SIGQUIT
            | SIGUSR1
            | SIGUSR2
            | SIGALRM
            | SIGTERM
            | SIGCHLD
            | SIGPIPE
            | SIGWINCH
            | SIGCONT
            | SIGXCPU
            | SIGXFSZ
            | SIGVTALRM
            | SIGPROF
    )
}

extern "C" fn on_host_signal(sig: i32, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    let record = record();
    if let Some(slot) = record.info.get(sig as usize)
        && !info.is_null()
    {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler;
        // its fields are read as the kernel laid them out for this signal.
        let (code, pid, uid, value) = unsafe {
            let i = &*info;
            let value = if sig == SIGCHLD { i.si_status() as u32 as u64 } else { i.si_ptr() as u64 };
            (i.si_code, i.si_pid(), i.si_uid(), value)
        };
        slot[0].store((code as u32 as u64) | ((pid as u32 as u64) << 32), Ordering::Relaxed);
        slot[1].store(uid as u64, Ordering::Relaxed);
        slot[2].store(value, Ordering::Relaxed);
    }
    record.pending.fetch_or(bit(sig), Ordering::SeqCst);
    // After the pending bit: the engine comes back within one block and
    // finds the signal.
    crate::abi::interrupt();
}

/// Catches a host signal for the guest (`catch`), or ignores it as the guest
/// asked. Handlers are installed without SA_RESTART, so a blocking host
/// call returns EINTR and the guest sees the signal promptly.
pub fn forward_host_signal(sig: i32, catch: bool) {
    // SAFETY: installing a plain handler that only touches an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = if catch { on_host_signal as *const () as usize } else { libc::SIG_IGN };
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// At process start: the guest inherits the signals the host process
/// ignores and its signal mask (as across execve), and visa catches the
/// other forwarded signals and unblocks everything on the host.
pub fn take_host_signals(state: &mut SignalState) {
    // SAFETY: querying and setting this process's signal state.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut mask);
        libc::sigprocmask(libc::SIG_SETMASK, &mask, &mut mask);
        for sig in 1..=NSIG as i32 {
            if libc::sigismember(&mask, sig) == 1 {
                state.mask |= bit(sig) & !UNBLOCKABLE;
            }
            if !host_forwarded(sig) {
                continue;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            if old.sa_sigaction == libc::SIG_IGN {
                lock(&state.process.actions)[sig as usize].handler = SIG_IGN;
            } else {
                forward_host_signal(sig, true);
            }
        }
        // Without SA_RESTART, so that it interrupts a blocking host call.
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_wake_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(WAKE_SIGNAL, &sa, std::ptr::null_mut());
    }
    if in_vfork_child() {
        // An execve that failed: the child goes on as before it.
        block_deferred_signals();
    }
}

/// Before execve: the host signal state the new program should inherit
/// (ignored signals stay ignored, others go back to the default action,
/// and the guest's mask becomes the host's).
pub fn prepare_exec(state: &SignalState) {
    // SAFETY: setting this process's signal state.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut mask);
        for sig in 1..=NSIG as i32 {
            if state.mask & bit(sig) != 0 {
                libc::sigaddset(&mut mask, sig);
            }
            if host_forwarded(sig) {
                let ignored = state.action(sig).handler == SIG_IGN;
                libc::signal(sig, if ignored { libc::SIG_IGN } else { libc::SIG_DFL });
            }
        }
        libc::sigprocmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut());
    }
}

/// Moves host signals that arrived into the guest's pending set (a vfork
/// child takes none: those that arrived are its parent's).
pub fn collect_host_signals(state: &mut SignalState) {
    if in_vfork_child() {
        return;
    }
    let record = record();
    let arrived = record.pending.swap(0, Ordering::SeqCst);
    for sig in 1..=NSIG as i32 {
        if arrived & bit(sig) != 0 {
            let [a, b, c] = record.info[sig as usize].each_ref().map(|w| w.load(Ordering::Relaxed));
            state.raise_process(SigInfo {
                signo: sig,
                code: a as u32 as i32,
                pid: (a >> 32) as u32 as i32,
                uid: b as u32,
                value: c,
                ..SigInfo::default()
            });
        }
    }
}

/// After a host call was interrupted: would the guest see it, that is, is
/// a signal waiting that runs a handler, stops or ends the process? The
/// kernel never interrupts a call for a signal that is ignored (dropped
/// here) or blocked (left pending), so for those the call goes on.
pub fn interrupts(state: &mut SignalState) -> bool {
    collect_host_signals(state);
    state.drop_ignored()
}

/// True when a host signal is waiting (cheap: for the run loop).
pub fn host_signal_waiting() -> bool {
    record().pending.load(Ordering::Relaxed) != 0 && !in_vfork_child()
}

thread_local! {
    /// Set while this host thread's storage is a vfork child's (see `vfork`).
    static VFORK_CHILD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn in_vfork_child() -> bool {
    VFORK_CHILD.get()
}

/// In a vfork child, first: host signals other than faults wait until it
/// execs, and the host signals recorded (the parent's) are not its own.
pub fn entered_vfork_child() {
    VFORK_CHILD.set(true);
    block_deferred_signals();
}

/// In the parent once the vfork child has exec'd or exited (it set the flag
/// in the storage it borrowed from this thread).
pub fn left_vfork_child() {
    VFORK_CHILD.set(false);
}

/// Blocks every host signal on this thread (a helper thread that runs no
/// guest code, so that none is delivered to it).
pub fn block_host_signals() {
    // SAFETY: changing this thread's host signal mask with a local sigset.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// Blocks every host signal but those of faults.
fn block_deferred_signals() {
    // SAFETY: changing this thread's host signal mask, with local sigsets.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for sig in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP] {
            libc::sigdelset(&mut set, sig);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Runs a blocking host call that can wait under a signal mask (ppoll,
/// pselect, epoll_pwait: `call` is given the mask to wait under) so that
/// a signal cannot slip in unseen between the check for pending signals
/// and the start of the wait: host signals are blocked across the check,
/// and the call unblocks them atomically as it starts waiting. When a
/// signal is already waiting, the call is not made: -1 with errno EINTR.
/// The thread polls meanwhile: signalfds are ready for its own signals.
pub fn wait_unless_signalled(state: &SignalState, call: impl FnOnce(*const libc::sigset_t) -> i64) -> i64 {
    state.polling(true);
    // SAFETY: the masks are local sigsets; the one blocked here is the
    // calling thread's own and is restored before returning.
    let r = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
        let r = if host_signal_waiting() || state.next().is_some() {
            *libc::__errno_location() = libc::EINTR;
            -1
        } else {
            call(&old)
        };
        let errno = *libc::__errno_location();
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        *libc::__errno_location() = errno;
        r
    };
    let errno = std::io::Error::last_os_error();
    state.polling(false);
    // SAFETY: restoring this thread's errno, which the call set.
    unsafe { *libc::__errno_location() = errno.raw_os_error().unwrap_or(0) };
    r
}

/// Sleeps until a forwarded host signal arrives, or another thread sends
/// this one a signal it does not block or one of `also` (whether blocked or
/// not), at once if one already has; or until `timeout` has passed.
pub fn wait_for_host_signal(state: &SignalState, also: u64, timeout: Option<libc::timespec>) {
    let tp = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: blocking signals around the check closes the race with their
    // arrival (and with WAKE_SIGNAL, sent after a signal is queued); ppoll
    // with no descriptors restores the mask while it waits, as sigsuspend
    // does, for at most `tp` (null or our timespec).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
        if !host_signal_waiting() && state.next().is_none() && state.pending() & also == 0 {
            libc::ppoll(std::ptr::null_mut(), 0, tp, &old);
        }
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// Ends the process as the signal's default action would: the host process
/// dies of the same signal, so its parent sees the same status.
pub fn die_of(sig: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: restoring the default action and raising it on ourselves.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    // A signal whose default does not kill (stopped and continued): exit as it would.
    std::process::exit(128 + sig);
}

// ---- delivery ----

/// Before the guest acts on `sig` (this thread's): under `--gdb` the guest
/// stops and gdb is told, as ptrace tells it of a native process's
/// signals; gdb may pass the signal (the default for most), change it, or
/// discard it (none).
pub fn debugger_decides(p: &mut Process, sig: i32) -> Option<i32> {
    let Some(d) = p.group.debugger.get().cloned() else { return Some(sig) };
    let tid = p.signals.tid() as usize;
    let resumed = d.signal(tid, super::signames::to_gdb(sig), &mut p.cpu)?;
    Some(super::signames::from_gdb(resumed).unwrap_or(sig))
}

/// Writes the `int` line of a signal this thread acts on: its number,
/// name, thread, and `what` becomes of it.
pub fn log_signal(p: &Process, sig: i32, what: impl FnOnce(&crate::engine::Log) -> String) {
    let log = p.group.options.log.as_ref();
    if let Some(log) = log.filter(|l| l.wants(crate::engine::LogItem::Int, p.cpu.rip)) {
        let name = super::signames::name(sig);
        log.write(&format!("int: signal {sig} ({name}) to thread {}: {}", p.signals.tid(), what(log)));
    }
}

/// Ends the process with `sig`'s default action (keeping what it
/// translated for later runs, as an exit does); gdb, if attached, hears
/// that the process was terminated by it.
pub fn die_of_signal(p: &Process, sig: i32) -> ! {
    if let Some(d) = p.group.debugger.get() {
        d.ended(128 + sig, Some(super::signames::to_gdb(sig).0));
    }
    p.group.translations.save_disk_cache();
    die_of(sig)
}

const UC_MCONTEXT: u64 = 40;
const UC_SIGMASK: u64 = 296;
const UC_SIZE: u64 = 304;
const FRAME_UC: u64 = 8;
const FRAME_INFO: u64 = FRAME_UC + UC_SIZE;
const FRAME_SIZE: u64 = FRAME_INFO + 128;
/// sigcontext's general registers, in the kernel's order (CpuState indices).
const MCONTEXT_GPRS: [usize; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 7, 6, 5, 3, 2, 0, 1, 4];
const RSP: usize = 4;

/// The extended state in a signal frame, as Linux lays it out: an XSAVE
/// area (standard format) whose FXSAVE region's software bytes (464-511)
/// say so (FP_XSTATE_MAGIC1, the sizes, the components), followed by
/// FP_XSTATE_MAGIC2; ucontext's flags have UC_FP_XSTATE.
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
const UC_FP_XSTATE: u64 = 1;
const SW_BYTES: usize = 464;

/// RFLAGS bits rt_sigreturn may restore (the user-changeable ones).
const USER_FLAGS: u64 = 0x0025_4dd5;

fn on_altstack(state: &SignalState, sp: u64) -> bool {
    let (base, size, _) = state.altstack;
    sp > base && sp <= base + size
}

/// Runs pending signals' dispositions: default actions end or stop the
/// process, ignored ones are dropped, and each handler gets a frame, as the
/// kernel does before returning to user mode: every deliverable signal at
/// once, each frame on top of the last, so the last handler set up runs
/// first. Returns when nothing deliverable is pending.
pub fn deliver_pending(p: &mut Process) -> Result<(), Errno> {
    collect_host_signals(&mut p.signals);
    while let Some(sig) = p.signals.next() {
        let Some(mut info) = p.signals.take(sig) else { continue };
        let Some(sig) = debugger_decides(p, sig) else {
            log_signal(p, sig, |_| "discarded by gdb".into());
            continue;
        };
        info.signo = sig;
        let action = p.signals.action(sig);
        match action.handler {
            SIG_IGN if sig != SIGKILL => log_signal(p, sig, |_| "ignored".into()),
            SIG_DFL => match default_action(sig) {
                DefaultAction::Ignore => log_signal(p, sig, |_| "default action, ignore".into()),
                DefaultAction::Stop => {
                    log_signal(p, sig, |_| "default action, stop".into());
                    // SAFETY: stopping ourselves, as the default action does.
                    unsafe { libc::raise(libc::SIGSTOP) };
                }
                DefaultAction::Terminate => {
                    log_signal(p, sig, |_| "default action, terminate".into());
                    die_of_signal(p, sig);
                }
            },
            handler => {
                log_signal(p, sig, |log| format!("handler {}", log.at(handler)));
                enter_handler(p, sig, info, action)?;
            }
        }
    }
    if let Some(mask) = p.signals.saved_mask.take() {
        p.signals.mask = mask;
    }
    Ok(())
}

/// Pushes an rt_sigframe and points the guest at the handler.
fn enter_handler(p: &mut Process, sig: i32, info: SigInfo, action: SigAction) -> Result<(), Errno> {
    let cpu = &p.cpu;
    let mut sp = cpu.gpr[RSP];
    let (base, size, flags) = p.signals.altstack;
    if action.flags & SA_ONSTACK != 0 && flags & SS_DISABLE == 0 && !on_altstack(&p.signals, sp) {
        sp = base + size;
    } else {
        sp -= 128; // the red zone
    }
    let xfeatures = cpu.xcr0;
    let mut xstate = crate::machine::xsave::save_image(cpu, xfeatures);
    let xstate_size = xstate.len() as u32;
    for (at, v) in [(0, FP_XSTATE_MAGIC1 as u64), (4, xstate_size as u64 + 4), (16, xstate_size as u64)] {
        xstate[SW_BYTES + at..SW_BYTES + at + 4].copy_from_slice(&(v as u32).to_le_bytes());
    }
    xstate[SW_BYTES + 8..SW_BYTES + 16].copy_from_slice(&xfeatures.to_le_bytes());
    xstate.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
    let fp = (sp - xstate.len() as u64) & !63;
    let frame = ((fp - FRAME_SIZE) & !15) - 8;
    let mut uc = vec![0u8; UC_SIZE as usize];
    uc[0..8].copy_from_slice(&UC_FP_XSTATE.to_le_bytes());
    uc[16..24].copy_from_slice(&base.to_le_bytes());
    let ss_flags = if on_altstack(&p.signals, cpu.gpr[RSP]) { SS_ONSTACK } else { flags };
    uc[24..28].copy_from_slice(&ss_flags.to_le_bytes());
    uc[32..40].copy_from_slice(&size.to_le_bytes());
    let m = UC_MCONTEXT as usize;
    for (i, reg) in MCONTEXT_GPRS.iter().enumerate() {
        uc[m + 8 * i..m + 8 * i + 8].copy_from_slice(&cpu.gpr[*reg].to_le_bytes());
    }
    uc[m + 128..m + 136].copy_from_slice(&cpu.rip.to_le_bytes());
    uc[m + 136..m + 144].copy_from_slice(&cpu.rflags().to_le_bytes());
    uc[m + 144..m + 146].copy_from_slice(&0x33u16.to_le_bytes());
    uc[m + 150..m + 152].copy_from_slice(&0x2bu16.to_le_bytes());
    let (trapno, err) = info.trap.unwrap_or_default();
    uc[m + 152..m + 160].copy_from_slice(&err.to_le_bytes());
    uc[m + 160..m + 168].copy_from_slice(&trapno.to_le_bytes());
    uc[m + 168..m + 176].copy_from_slice(&p.signals.mask.to_le_bytes());
    uc[m + 176..m + 184].copy_from_slice(&info.addr.to_le_bytes());
    uc[m + 184..m + 192].copy_from_slice(&fp.to_le_bytes());
    let restored_mask = p.signals.saved_mask.take().unwrap_or(p.signals.mask);
    uc[UC_SIGMASK as usize..UC_SIGMASK as usize + 8].copy_from_slice(&restored_mask.to_le_bytes());
    p.write(fp, &xstate).map_err(|_| ENOMEM)?;
    p.write_u64(frame, action.restorer)?;
    p.write(frame + FRAME_UC, &uc)?;
    p.write(frame + FRAME_INFO, &info.bytes())?;

    if action.flags & SA_NODEFER == 0 {
        p.signals.mask |= bit(sig);
    }
    p.signals.mask |= action.mask;
    if action.flags & SA_RESETHAND != 0 {
        lock(&p.signals.process.actions)[sig as usize] = SigAction::default();
    }
    // The handler starts with the initial x87, SSE and AVX state (MXCSR
    // 0x1f80: no flags, every exception masked), as Linux gives it; the
    // interrupted state comes back with rt_sigreturn.
    let mut init = vec![0u8; xstate_size as usize];
    init[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
    crate::machine::xsave::restore_image(&mut p.cpu, xfeatures, &init).map_err(|_| EFAULT)?;
    let cpu = &mut p.cpu;
    cpu.gpr[RSP] = frame;
    cpu.gpr[7] = sig as u64;
    cpu.gpr[6] = frame + FRAME_INFO;
    cpu.gpr[2] = frame + FRAME_UC;
    cpu.gpr[0] = 0;
    cpu.rip = action.handler;
    // The handler starts with DF clear, as the ABI wants.
    cpu.set_rflags(cpu.rflags() & !0x400);
    Ok(())
}

/// rt_sigreturn: restores what `enter_handler` saved.
pub fn sigreturn(p: &mut Process) -> Result<(), Errno> {
    let frame = p.cpu.gpr[RSP] - 8;
    let uc = p.read(frame + FRAME_UC, UC_SIZE as usize).map_err(|_| EFAULT)?;
    let m = UC_MCONTEXT as usize;
    let word = |at: usize| u64::from_le_bytes(uc[at..at + 8].try_into().unwrap());
    let fp = word(m + 184);
    let fx = if fp != 0 { Some(p.read(fp, 512)?) } else { None };
    // The extended state when the software bytes and the magic word after
    // the area say it is there; else the FXSAVE image alone (and the rest
    // of the state in its initial configuration, as Linux does).
    let dword = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let xstate = match &fx {
        Some(fx) if dword(fx, SW_BYTES) == FP_XSTATE_MAGIC1 => {
            let size = dword(fx, SW_BYTES + 16) as usize;
            let features = u64::from_le_bytes(fx[SW_BYTES + 8..SW_BYTES + 16].try_into().unwrap());
            let area = p.read(fp, size + 4)?;
            (dword(&area, size) == FP_XSTATE_MAGIC2 && size >= 576).then(|| (area[..size].to_vec(), features))
        }
        _ => None,
    };
    let cpu: &mut CpuState = &mut p.cpu;
    for (i, reg) in MCONTEXT_GPRS.iter().enumerate() {
        cpu.gpr[*reg] = word(m + 8 * i);
    }
    cpu.rip = word(m + 128);
    let flags = word(m + 136);
    cpu.set_rflags((cpu.rflags() & !USER_FLAGS) | (flags & USER_FLAGS));
    match (xstate, fx) {
        (Some((area, features)), _) => {
            let mut restored = cpu.clone();
            crate::machine::xsave::restore_image(&mut restored, cpu.xcr0 & features, &area).map_err(|_| EFAULT)?;
            *cpu = restored;
        }
        (None, Some(fx)) => {
            let img: [u8; 512] = fx.try_into().expect("512 bytes");
            cpu.fxrstor_image(&img);
            cpu.ymmh = [0; 16];
        }
        (None, None) => {}
    }
    p.signals.mask = word(UC_SIGMASK as usize) & !UNBLOCKABLE;
    Ok(())
}

/// sigaltstack.
pub fn set_altstack(p: &mut Process, new: u64, old: u64) -> Result<u64, Errno> {
    if old != 0 {
        let (base, size, flags) = p.signals.altstack;
        let flags = if on_altstack(&p.signals, p.cpu.gpr[RSP]) { SS_ONSTACK } else { flags };
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&base.to_le_bytes());
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&size.to_le_bytes());
        p.write(old, &b)?;
    }
    if new != 0 {
        let b = p.read(new, 24)?;
        let base = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let flags = u32::from_le_bytes(b[8..12].try_into().unwrap());
        let size = u64::from_le_bytes(b[16..24].try_into().unwrap());
        if flags & !SS_DISABLE != 0 {
            return Err(EINVAL);
        }
        p.signals.altstack = (base, size, flags);
    }
    Ok(0)
}
