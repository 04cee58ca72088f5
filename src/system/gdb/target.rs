//! The guest as gdbstub's target: registers of each guest thread (as the
//! thread left them when the guest stopped), guest memory through a view
//! of its own, breakpoints and watchpoints in the engines' shared
//! `DebugPoints`, and the resume actions gdb asks for.

use std::collections::BTreeMap;
use std::sync::Arc;

use gdbstub::common::{Signal, Tid};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::{Target, TargetError, TargetResult};

use super::arch::{Regs, X86_64};
use super::{Action, Shared};
use crate::engine::Watch;
use crate::machine::GuestMemory;

/// Longest range one watchpoint may watch.
const MAX_WATCH: u64 = 4096;

pub struct GuestTarget {
    pub shared: Arc<Shared>,
    pub mem: GuestMemory,
    /// The actions of the resume gdb is asking for.
    pub actions: BTreeMap<usize, Action>,
    /// The signals it resumes threads with.
    pub signals: BTreeMap<usize, Signal>,
    /// Only the threads with an action run (gdb's scheduler locking);
    /// otherwise the others continue.
    pub locked: bool,
}

fn tid_key(tid: Tid) -> usize {
    tid.get()
}

impl GuestTarget {
    /// Notes a thread's resume action and the signal it resumes with.
    fn resume(&mut self, tid: Tid, action: Action, signal: Option<Signal>) {
        self.actions.insert(tid_key(tid), action);
        if let Some(signal) = signal {
            self.signals.insert(tid_key(tid), signal);
        }
    }
}

impl Target for GuestTarget {
    type Arch = X86_64;
    type Error = String;

    fn base_ops(&mut self) -> BaseOps<'_, X86_64, String> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for GuestTarget {
    fn read_registers(&mut self, regs: &mut Regs, tid: Tid) -> TargetResult<(), Self> {
        let threads = self.shared.threads();
        let cpu = threads.get(&tid_key(tid)).ok_or(TargetError::NonFatal)?;
        *regs = Regs::of(cpu);
        Ok(())
    }

    fn write_registers(&mut self, regs: &Regs, tid: Tid) -> TargetResult<(), Self> {
        let mut threads = self.shared.threads();
        let cpu = threads.get_mut(&tid_key(tid)).ok_or(TargetError::NonFatal)?;
        regs.apply(cpu);
        Ok(())
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], _tid: Tid) -> TargetResult<usize, Self> {
        // As much as is readable from the start; none is an error (EFAULT).
        let mut n = 0;
        while n < data.len() {
            let chunk = (data.len() - n).min(64);
            let at = start.wrapping_add(n as u64);
            if self.mem.read_bytes(at, &mut data[n..n + chunk]).is_ok() {
                n += chunk;
            } else if self.mem.read_bytes(at, &mut data[n..n + 1]).is_ok() {
                n += 1;
            } else {
                break;
            }
        }
        if n == 0 && !data.is_empty() { Err(TargetError::Errno(14)) } else { Ok(n) }
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], _tid: Tid) -> TargetResult<(), Self> {
        self.mem.write_bytes(start, data).map_err(|_| TargetError::Errno(14))
    }

    fn list_active_threads(&mut self, active: &mut dyn FnMut(Tid)) -> Result<(), String> {
        for tid in self.shared.threads().keys() {
            if let Some(t) = Tid::new(*tid) {
                active(t);
            }
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadResume for GuestTarget {
    fn resume(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), String> {
        self.actions.clear();
        self.signals.clear();
        self.locked = false;
        Ok(())
    }

    fn set_resume_action_continue(&mut self, tid: Tid, signal: Option<Signal>) -> Result<(), String> {
        self.resume(tid, Action::Continue, signal);
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSchedulerLocking for GuestTarget {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), String> {
        self.locked = true;
        Ok(())
    }
}

impl MultiThreadSingleStep for GuestTarget {
    fn set_resume_action_step(&mut self, tid: Tid, signal: Option<Signal>) -> Result<(), String> {
        self.resume(tid, Action::Step, signal);
        Ok(())
    }
}

impl Breakpoints for GuestTarget {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for GuestTarget {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.shared.points.add_breakpoint(addr);
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.shared.points.remove_breakpoint(addr))
    }
}

impl HwWatchpoint for GuestTarget {
    fn add_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> TargetResult<bool, Self> {
        // Only writes are seen (stores into marked memory end their block).
        if kind != WatchKind::Write || len == 0 || len > MAX_WATCH {
            return Ok(false);
        }
        Ok(self.shared.points.add_watch(Watch { addr, len }))
    }

    fn remove_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> TargetResult<bool, Self> {
        Ok(kind == WatchKind::Write && self.shared.points.remove_watch(Watch { addr, len }))
    }
}
