//! The GDB remote stub (`--gdb PORT`): gdb connects over TCP on the
//! loopback interface and sees the guest as a target of threads (one on
//! the board, each guest thread in user mode). The systems call it around
//! each run of their engine: `before_run` parks a thread while gdb holds
//! the guest and says how far it may run (one instruction when stepping),
//! `after_run` notes the stops that are gdb's (breakpoints, watchpoints,
//! finished steps, Ctrl-C). All-stop: when one thread stops, every other
//! is asked back (`abi::interrupt`) and parks before its next block (a
//! thread inside a blocking system call parks when it returns; gdb sees
//! its registers as they were when it entered the call).
//!
//! One thread reads everything gdb sends (`conn`); a byte that comes while
//! the guest runs asks it back, and the stop that follows takes what came
//! without waiting for more: the stub waits for gdb only once it has
//! reported a stop, when gdb owes it a request.

mod arch;
mod conn;
mod target;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub use gdbstub::common::Signal;
use gdbstub::common::Tid;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{GdbStub, MultiThreadStopReason};
use gdbstub::target::ext::breakpoints::WatchKind;

use crate::engine::{DebugEvent, DebugPoints, Engine, PointsHold, Stop};
use crate::machine::{CpuState, GuestMemory};
use crate::system::host_fds::OwnFd;
use conn::{Conn, Inbox, Next};
use target::GuestTarget;

/// What a thread does when the guest resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    Step,
}

/// Why a thread stopped for gdb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// gdb attached (the guest stops where it is).
    Attached,
    Breakpoint,
    Watch(u64),
    Stepped,
    CtrlC,
    /// A signal is about to be delivered to the thread.
    Signal(Signal),
}

/// What the stub shares with the guest threads.
pub struct Shared {
    points: Arc<DebugPoints>,
    /// Each thread's registers while the guest is stopped.
    threads: Mutex<BTreeMap<usize, CpuState>>,
    control: Mutex<Control>,
    resumed: Condvar,
    /// gdb sent a byte (Ctrl-C, or it closed the connection) while the
    /// guest ran.
    ctrl_c: AtomicBool,
}

impl Shared {
    fn threads(&self) -> MutexGuard<'_, BTreeMap<usize, CpuState>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct Control {
    /// gdb holds the guest: threads park before their next block.
    halted: bool,
    /// What each thread does on resuming; a thread without an action
    /// continues, or stays parked when `locked`. None while no resume has
    /// been asked for.
    actions: Option<BTreeMap<usize, Action>>,
    locked: bool,
    /// Events to report, per thread.
    pending: BTreeMap<usize, Event>,
    /// No gdb (it detached, or the connection broke): nothing stops.
    detached: bool,
    /// gdb is connected.
    connected: bool,
    /// The signals gdb resumed threads with, after a stop.
    resume_signals: BTreeMap<usize, Signal>,
    /// This process's descriptors of the connection (the stub's and its
    /// reader's).
    fds: Vec<Arc<OwnFd>>,
}

type Machine = GdbStubStateMachine<'static, GuestTarget, Conn>;

/// How a stop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Served {
    /// gdb resumed the guest.
    Resumed,
    /// Nothing to report after all (what came while the guest ran was not
    /// an interrupt): the guest goes on as it was resumed.
    Nothing,
    /// gdb detached, or the connection closed.
    Gone,
}

struct Session {
    machine: Option<Machine>,
    target: GuestTarget,
}

/// A gdb connection to the guest.
pub struct Debugger {
    shared: Arc<Shared>,
    session: Mutex<Session>,
}

impl Debugger {
    /// Listens on 127.0.0.1:`port`. With `wait`, blocks until gdb connects
    /// and stops the guest before its first instruction; without, gdb may
    /// connect at any time and the guest stops then.
    pub fn listen(port: u16, wait: bool, mem: &GuestMemory) -> Result<Arc<Debugger>, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .map_err(|e| format!("cannot listen for gdb on 127.0.0.1:{port}: {e}"))?;
        let shared = Arc::new(Shared {
            points: DebugPoints::new(),
            threads: Mutex::new(BTreeMap::new()),
            control: Mutex::new(Control::default()),
            resumed: Condvar::new(),
            ctrl_c: AtomicBool::new(false),
        });
        let target = GuestTarget {
            shared: shared.clone(),
            mem: mem.share(),
            actions: BTreeMap::new(),
            signals: BTreeMap::new(),
            locked: false,
        };
        let dbg = Arc::new(Debugger { shared, session: Mutex::new(Session { machine: None, target }) });
        eprintln!("visa: waiting for gdb on 127.0.0.1:{port}");
        if wait {
            let (stream, _) = listener.accept().map_err(|e| format!("gdb connection: {e}"))?;
            dbg.connect(stream.into())?;
        } else {
            // The guest runs meanwhile: the listener is visa's own.
            let fail = |e: std::io::Error| format!("cannot listen for gdb on 127.0.0.1:{port}: {e}");
            listener.set_nonblocking(true).map_err(fail)?;
            let listener = OwnFd::adopt(listener.into()).map_err(fail)?;
            let d = dbg.clone();
            std::thread::spawn(move || {
                if let Some(stream) = accept(&listener)
                    && d.connect(stream).is_ok()
                {
                    // The guest stops where it is for gdb (`connect` left the event).
                    crate::abi::interrupt();
                }
            });
        }
        Ok(dbg)
    }

    fn connect(self: &Arc<Self>, stream: OwnedFd) -> Result<(), String> {
        // visa's own, out of the guest's way (see `system::host_fds`).
        let stream = Arc::new(OwnFd::adopt(stream).map_err(|e| e.to_string())?);
        let reader = Arc::new(stream.try_clone().map_err(|e| e.to_string())?);
        let inbox = Arc::new(Inbox::default());
        let fds = vec![stream.clone(), reader.clone()];
        let conn = Conn::new(stream, inbox.clone());
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let machine = GdbStub::new(conn).run_state_machine(&mut s.target).map_err(|e| format!("gdb: {e}"))?;
        s.machine = Some(machine);
        drop(s);
        {
            let mut c = self.shared.control();
            c.connected = true;
            c.halted = true;
            c.actions = None;
            c.fds = fds;
            // The first thread to look reports the stop.
            c.pending.insert(0, Event::Attached);
        }
        let shared = self.shared.clone();
        std::thread::spawn(move || read_from_gdb(&shared, &inbox, &reader));
        Ok(())
    }

    /// The breakpoints and watchpoints an engine stops for.
    pub fn attach(&self, engine: &mut Engine) {
        engine.attach_debugger(self.shared.points.clone());
    }

    /// Before a thread runs its engine: reports what it has to report,
    /// parks while gdb holds the guest, and returns how many instructions
    /// it may run (1 when stepping).
    pub fn before_run(&self, tid: usize, cpu: &mut CpuState) -> u64 {
        let mut c = self.shared.control();
        loop {
            if c.detached {
                return u64::MAX;
            }
            let event = c.pending.remove(&tid).or_else(|| c.pending.remove(&0));
            if let Some(event) = event {
                drop(c);
                self.stop(tid, event, cpu);
                c = self.shared.control();
                continue;
            }
            let default = (!c.locked).then_some(Action::Continue);
            let action = c.actions.as_ref().and_then(|a| a.get(&tid).copied().or(default));
            match action {
                Some(a) if !c.halted && c.connected => return if a == Action::Step { 1 } else { u64::MAX },
                _ if !c.connected => return u64::MAX,
                _ => {
                    self.shared.threads().insert(tid, cpu.clone());
                    c = self.shared.resumed.wait(c).unwrap_or_else(|e| e.into_inner());
                    if let Some(saved) = self.shared.threads().get(&tid) {
                        *cpu = saved.clone();
                    }
                }
            }
        }
    }

    /// After a thread's engine stopped: notes what gdb must hear of; true
    /// when the stop was gdb's alone (the system ignores it).
    pub fn after_run(&self, tid: usize, stop: &Stop) -> bool {
        let mut c = self.shared.control();
        if c.detached || !c.connected {
            return false;
        }
        let stepping = c.actions.as_ref().and_then(|a| a.get(&tid)) == Some(&Action::Step);
        let (event, consumed) = match stop {
            Stop::Debug(DebugEvent::Breakpoint(_)) => (Some(Event::Breakpoint), true),
            Stop::Debug(DebugEvent::Watch(w)) => (Some(Event::Watch(w.addr)), true),
            Stop::Budget if stepping => (Some(Event::Stepped), true),
            // Asked back before the step ran (the stop that halted the guest
            // asks every engine back): run it again.
            Stop::Interrupted if stepping => (None, true),
            // The step ends once the system has handled what it ran into.
            _ if stepping => (Some(Event::Stepped), false),
            _ if self.shared.ctrl_c.swap(false, Ordering::SeqCst) => (Some(Event::CtrlC), false),
            _ => (None, false),
        };
        if let Some(e) = event {
            c.pending.insert(tid, e);
        }
        consumed
    }

    /// Whether gdb is connected and debugging this process.
    pub fn serving(&self) -> bool {
        let c = self.shared.control();
        c.connected && !c.detached
    }

    /// Holds the stub's state across a fork, so that the child does not
    /// find it locked by a thread it does not have.
    pub fn hold_for_fork(&self) -> ForkHold<'_> {
        ForkHold {
            control: self.shared.control(),
            threads: self.shared.threads(),
            points: self.shared.points.hold_for_fork(),
        }
    }

    /// Before a signal is delivered to thread `tid`: the guest stops and
    /// gdb hears of the signal (gdb's numbering), and the thread goes on
    /// when gdb resumes it. Returns the signal gdb resumed it with: the
    /// same one (gdb passes it), another, or none (gdb discards it).
    pub fn signal(&self, tid: usize, signal: Signal, cpu: &mut CpuState) -> Option<Signal> {
        if !self.serving() {
            return Some(signal);
        }
        self.stop(tid, Event::Signal(signal), cpu);
        self.shared.control().resume_signals.remove(&tid)
    }

    /// A thread has ended: gdb no longer lists it.
    pub fn thread_gone(&self, tid: usize) {
        self.shared.threads().remove(&tid);
    }

    /// The guest ended: gdb is told (exit status, or the signal that ended
    /// it), unless it no longer debugs this process (a forked child's end
    /// is not the end of the process gdb debugs).
    pub fn ended(&self, status: i32, signal: Option<u8>) {
        if !self.serving() {
            return;
        }
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let Session { machine, target } = &mut *s;
        if let Some(GdbStubStateMachine::Running(m)) = machine.take() {
            let reason = match signal {
                Some(sig) => MultiThreadStopReason::Terminated(Signal(sig)),
                None => MultiThreadStopReason::Exited(status as u8),
            };
            let _ = m.report_stop(target, reason);
        }
        self.shared.control().detached = true;
    }

    /// Serves gdb from a stop of thread `tid` until it resumes the guest.
    /// A Ctrl-C stop first takes what gdb sent while the guest ran: an
    /// interrupt is reported; anything else leaves the guest running as
    /// it was resumed.
    fn stop(&self, tid: usize, event: Event, cpu: &mut CpuState) {
        let before = {
            let mut c = self.shared.control();
            c.halted = true;
            // Whatever gdb sent is in the inbox, this stop's to take.
            self.shared.ctrl_c.store(false, Ordering::SeqCst);
            (c.actions.take(), std::mem::take(&mut c.resume_signals))
        };
        self.shared.resumed.notify_all();
        crate::abi::interrupt();
        self.shared.threads().insert(tid, cpu.clone());
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let Session { machine, target } = &mut *s;
        let thread = Tid::new(tid.max(1)).expect("nonzero");
        let mut report = match event {
            Event::Breakpoint => Some(MultiThreadStopReason::SwBreak(thread)),
            Event::Watch(addr) => Some(MultiThreadStopReason::Watch { tid: thread, kind: WatchKind::Write, addr }),
            Event::Stepped => Some(MultiThreadStopReason::DoneStep),
            Event::Signal(signal) => Some(MultiThreadStopReason::SignalWithThread { tid: thread, signal }),
            // A fresh connection is already Idle: nothing to report.
            Event::CtrlC | Event::Attached => None,
        };
        // gdb has heard of a stop and owes the stub requests.
        let mut stopped = false;
        let mut m = machine.take();
        let served = loop {
            let Some(state) = m.take() else { break Served::Gone };
            let next = match state {
                GdbStubStateMachine::Idle(mut g) => {
                    stopped = true;
                    match g.borrow_conn().inbox.take() {
                        Some(byte) => g.incoming_data(target, byte),
                        None => break Served::Gone,
                    }
                }
                GdbStubStateMachine::Running(g) if report.is_some() => {
                    g.report_stop(target, report.take().expect("a stop to report"))
                }
                GdbStubStateMachine::Running(mut g) if !stopped => match g.borrow_conn().inbox.try_take() {
                    Next::Byte(byte) => g.incoming_data(target, byte),
                    Next::Empty => {
                        *machine = Some(GdbStubStateMachine::Running(g));
                        break Served::Nothing;
                    }
                    Next::Closed => break Served::Gone,
                },
                GdbStubStateMachine::Running(g) => {
                    *machine = Some(GdbStubStateMachine::Running(g));
                    break Served::Resumed;
                }
                GdbStubStateMachine::CtrlCInterrupt(g) => {
                    let r = MultiThreadStopReason::SignalWithThread { tid: thread, signal: Signal::SIGINT };
                    g.interrupt_handled(target, Some(r))
                }
                GdbStubStateMachine::Disconnected(_) => break Served::Gone,
            };
            match next {
                Ok(state) => m = Some(state),
                Err(_) => break Served::Gone,
            }
        };
        let mut c = self.shared.control();
        match served {
            Served::Gone => {
                self.shared.points.clear();
                c.detached = true;
            }
            Served::Nothing => (c.actions, c.resume_signals) = before,
            Served::Resumed => {
                c.actions = Some(std::mem::take(&mut target.actions));
                c.resume_signals = std::mem::take(&mut target.signals);
                c.locked = target.locked;
            }
        }
        c.halted = false;
        if let Some(saved) = self.shared.threads().get(&tid) {
            *cpu = saved.clone();
        }
        self.shared.resumed.notify_all();
    }
}

/// The stub's state, held across a fork.
pub struct ForkHold<'a> {
    control: MutexGuard<'a, Control>,
    threads: MutexGuard<'a, BTreeMap<usize, CpuState>>,
    points: PointsHold<'a>,
}

impl ForkHold<'_> {
    /// In the child: it runs free of gdb, which goes on debugging the
    /// parent (as under qemu-user); nothing stops the child, and its
    /// descriptors of the connection let go of it, so that nothing the
    /// child does reaches gdb and the connection closes with the parent's
    /// (its exec ends the session even while a child lives on).
    pub fn child(mut self) {
        self.points.clear();
        self.threads.clear();
        let c = &mut *self.control;
        c.detached = true;
        c.halted = false;
        c.pending.clear();
        conn::let_go(&std::mem::take(&mut c.fds));
    }
}

/// The first connection to `listener` (non-blocking), once one comes;
/// none if the listener fails.
fn accept(listener: &OwnFd) -> Option<OwnedFd> {
    loop {
        conn::wait_readable(listener);
        // SAFETY: accept4 with no address to fill; the descriptor it makes
        // is ours.
        let fd = listener
            .with(|fd| unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) });
        if fd >= 0 {
            // SAFETY: a descriptor just made, owned by nobody else.
            return Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        }
        let e = std::io::Error::last_os_error();
        if !matches!(e.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock) {
            return None;
        }
    }
}

/// Takes every byte gdb sends into the stub's inbox until the connection
/// closes. A byte that comes while the guest runs (Ctrl-C), or the
/// connection's end, asks the guest back: the stop that follows takes it.
fn read_from_gdb(shared: &Shared, inbox: &Inbox, stream: &OwnFd) {
    use std::io::ErrorKind::{Interrupted, WouldBlock};
    let mut buf = [0u8; 4096];
    loop {
        conn::wait_readable(stream);
        let n = match (&*stream).read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), Interrupted | WouldBlock) => continue,
            Err(_) => 0,
        };
        {
            let c = shared.control();
            inbox.put(&buf[..n]);
            if !c.halted && !c.detached {
                shared.ctrl_c.store(true, Ordering::SeqCst);
                crate::abi::interrupt();
            }
        }
        if n == 0 {
            return;
        }
    }
}
