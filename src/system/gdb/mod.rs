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

mod arch;
mod target;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub use gdbstub::common::Signal;
use gdbstub::common::Tid;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{GdbStub, MultiThreadStopReason};
use gdbstub::target::ext::breakpoints::WatchKind;

use crate::engine::{DebugEvent, DebugPoints, Engine, Stop};
use crate::machine::{CpuState, GuestMemory};
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
    /// gdb sent a byte (Ctrl-C) while the guest ran.
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
}

type Machine = GdbStubStateMachine<'static, GuestTarget, TcpStream>;

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
            dbg.connect(stream)?;
        } else {
            let d = dbg.clone();
            std::thread::spawn(move || {
                if let Ok((stream, _)) = listener.accept()
                    && d.connect(stream).is_ok()
                {
                    // The guest stops where it is for gdb (`connect` left the event).
                    crate::abi::interrupt();
                }
            });
        }
        Ok(dbg)
    }

    fn connect(self: &Arc<Self>, stream: TcpStream) -> Result<(), String> {
        let _ = stream.set_nodelay(true);
        let poll_fd = stream.try_clone().map_err(|e| e.to_string())?;
        for fd in [&stream, &poll_fd] {
            crate::system::host_fds::register(std::os::fd::AsRawFd::as_raw_fd(fd));
        }
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let machine = GdbStub::new(stream).run_state_machine(&mut s.target).map_err(|e| format!("gdb: {e}"))?;
        s.machine = Some(machine);
        drop(s);
        {
            let mut c = self.shared.control();
            c.connected = true;
            c.halted = true;
            c.actions = None;
            // The first thread to look reports the stop.
            c.pending.insert(0, Event::Attached);
        }
        let shared = self.shared.clone();
        std::thread::spawn(move || watch_for_ctrl_c(&shared, poll_fd));
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

    /// In a forked child: the child runs free of gdb, which goes on
    /// debugging the parent over the connection they share (as under
    /// qemu-user); nothing stops the child.
    pub fn forget_in_child(&self) {
        self.shared.points.clear();
        let mut c = self.shared.control();
        c.detached = true;
        c.halted = false;
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

    /// The guest ended: gdb is told (exit status, or the signal that ended it).
    pub fn ended(&self, status: i32, signal: Option<u8>) {
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
    fn stop(&self, tid: usize, event: Event, cpu: &mut CpuState) {
        {
            let mut c = self.shared.control();
            c.halted = true;
            c.actions = None;
        }
        self.shared.resumed.notify_all();
        crate::abi::interrupt();
        self.shared.threads().insert(tid, cpu.clone());
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let Session { machine, target } = &mut *s;
        let thread = Tid::new(tid.max(1)).expect("nonzero");
        let reason = match event {
            Event::Breakpoint => Some(MultiThreadStopReason::SwBreak(thread)),
            Event::Watch(addr) => Some(MultiThreadStopReason::Watch { tid: thread, kind: WatchKind::Write, addr }),
            Event::Stepped => Some(MultiThreadStopReason::DoneStep),
            Event::Signal(signal) => Some(MultiThreadStopReason::SignalWithThread { tid: thread, signal }),
            Event::CtrlC | Event::Attached => None,
        };
        let mut m = machine.take();
        // A fresh connection is already Idle: nothing to report.
        let mut reported = event == Event::Attached;
        let detached = loop {
            let Some(state) = m.take() else { break true };
            let next = match state {
                GdbStubStateMachine::Idle(mut g) => match g.borrow_conn().read() {
                    Ok(byte) => g.incoming_data(target, byte),
                    Err(_) => break true,
                },
                GdbStubStateMachine::Running(mut g) if !reported => {
                    reported = true;
                    match reason {
                        Some(r) => g.report_stop(target, r),
                        // Ctrl-C: the byte gdb sent moves the machine to its interrupt state.
                        None => match g.borrow_conn().read() {
                            Ok(byte) => g.incoming_data(target, byte),
                            Err(_) => break true,
                        },
                    }
                }
                GdbStubStateMachine::Running(g) => {
                    *machine = Some(GdbStubStateMachine::Running(g));
                    break false;
                }
                GdbStubStateMachine::CtrlCInterrupt(g) => {
                    let r = MultiThreadStopReason::SignalWithThread { tid: thread, signal: Signal::SIGINT };
                    g.interrupt_handled(target, Some(r))
                }
                GdbStubStateMachine::Disconnected(_) => break true,
            };
            match next {
                Ok(state) => m = Some(state),
                Err(_) => break true,
            }
        };
        let mut c = self.shared.control();
        if detached {
            self.shared.points.clear();
            c.detached = true;
        }
        c.halted = false;
        c.actions = Some(std::mem::take(&mut target.actions));
        c.resume_signals = std::mem::take(&mut target.signals);
        c.locked = target.locked;
        if let Some(saved) = self.shared.threads().get(&tid) {
            *cpu = saved.clone();
        }
        self.shared.resumed.notify_all();
    }
}

/// While the guest runs, watches gdb's connection for a byte (Ctrl-C) and
/// asks the engines back when one comes.
/// Is the next byte gdb sent an acknowledgement?
fn is_ack(stream: &TcpStream) -> bool {
    let mut byte = [0u8];
    matches!(stream.peek(&mut byte), Ok(1) if matches!(byte[0], b'+' | b'-'))
}

fn watch_for_ctrl_c(shared: &Shared, stream: TcpStream) {
    loop {
        {
            let mut c = shared.control();
            while c.halted && !c.detached {
                c = shared.resumed.wait(c).unwrap_or_else(|e| e.into_inner());
            }
            if c.detached {
                return;
            }
        }
        let mut fds = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, for the length given.
        let ready = unsafe { libc::poll(&mut fds, 1, 50) };
        if ready > 0 && is_ack(&stream) {
            // A late acknowledgement ('+' or '-') asks for nothing: taken
            // here, it is not mistaken for an interrupt.
            let _ = std::io::Read::read(&mut &stream, &mut [0u8]);
            continue;
        }
        if ready > 0 && !shared.control().halted {
            shared.ctrl_c.store(true, Ordering::SeqCst);
            crate::abi::interrupt();
            let mut c = shared.control();
            while !c.halted && !c.detached {
                c = shared.resumed.wait(c).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}
