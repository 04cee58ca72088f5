//! Background compilation: the tiered engine hands hot blocks (lifted
//! again, as V-ISA) to one compiler thread per process and goes on
//! interpreting them; the thread generates their host code holding no lock,
//! then places it in the code region and installs it under the locks, where
//! the next dispatch of the block finds it.
//!
//! It never installs code for a translation that is no longer in the cache
//! (the guest wrote or unmapped its code, or everything was flushed
//! meanwhile): such work is dropped. It reads no guest memory and runs no
//! guest code, and it keeps every host signal blocked, so signals reach the
//! guest's threads as before. The queue is bounded, holds a translation
//! once, and is served newest first (the blocks hot now before those hot a
//! while ago). A forked child starts with an empty queue and a thread of
//! its own when it next needs one.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::cache::Translation;
use super::shared::Shared;
use super::{Stats, lock};
use crate::jit::{JitError, Setup};
use crate::visa::{Block, Env};

/// Most blocks waiting to be compiled; a hot block finding the queue full
/// asks again on a later run.
pub const QUEUE_BOUND: usize = 128;

/// A block still waiting in the queue when it has run this many times its
/// threshold is taken back and compiled on the guest's thread: the compiler
/// thread is behind (or has no core to run on), and interpreting a hot
/// block longer costs more than compiling it.
pub const PATIENCE: u32 = 4;

/// A hot block to compile: its translation and its optimised V-ISA.
pub(super) struct Job {
    pub t: Arc<Translation>,
    pub block: Block,
    pub env: &'static Env,
    /// Guest memory has page permissions (the code checks them).
    pub protected: bool,
    pub host_perms: bool,
}

struct Queue {
    jobs: VecDeque<Job>,
    /// The translation the thread is compiling now.
    in_flight: Option<Arc<Translation>>,
    /// The process the thread runs in (after a fork, the parent's).
    worker: Option<u32>,
    /// The translation state is gone: the thread ends.
    closed: bool,
}

/// The queue of one process's compiler thread.
pub(super) struct Background {
    queue: Mutex<Queue>,
    /// Wakes the thread for work or to end.
    work: Condvar,
    /// Tells waiters the queue is empty and nothing is in flight.
    idle: Condvar,
}

/// A held queue lock (for a fork, and for flushes that drop every job).
pub(super) struct QueueHold<'a>(MutexGuard<'a, Queue>);

impl QueueHold<'_> {
    /// Forgets every job (their translations may be queued again).
    pub fn clear(&mut self) {
        for job in self.0.jobs.drain(..) {
            job.t.queued.store(false, Ordering::Relaxed);
        }
    }

    /// In a forked child: the jobs, and the one in flight, went with the
    /// parent's thread; a new thread starts when one is needed.
    pub fn child(mut self) {
        self.clear();
        if let Some(t) = self.0.in_flight.take() {
            t.queued.store(false, Ordering::Relaxed);
        }
        self.0.worker = None;
    }
}

impl Background {
    pub fn new() -> Arc<Background> {
        Arc::new(Background {
            queue: Mutex::new(Queue { jobs: VecDeque::new(), in_flight: None, worker: None, closed: false }),
            work: Condvar::new(),
            idle: Condvar::new(),
        })
    }

    pub fn hold(&self) -> QueueHold<'_> {
        QueueHold(lock(&self.queue))
    }

    /// Is there room for another job?
    pub fn has_room(&self) -> bool {
        lock(&self.queue).jobs.len() < QUEUE_BOUND
    }

    /// Queues `job` unless its translation is queued already or the queue
    /// is full, starting the thread if this process has none; gives the
    /// job back when no thread can be started (compile it here instead).
    pub fn push(self: &Arc<Background>, shared: &Arc<Shared>, job: Job) -> Result<(), Job> {
        let mut q = lock(&self.queue);
        if q.jobs.len() >= QUEUE_BOUND || job.t.queued.swap(true, Ordering::Relaxed) {
            return Ok(());
        }
        let me = std::process::id();
        if q.worker != Some(me) {
            if spawn(self.clone(), Arc::downgrade(shared)).is_err() {
                job.t.queued.store(false, Ordering::Relaxed);
                return Err(job);
            }
            q.worker = Some(me);
        }
        q.jobs.push_front(job);
        self.work.notify_one();
        Ok(())
    }

    /// Takes `t`'s job back out of the queue, if it is still waiting there.
    pub fn take(&self, t: &Arc<Translation>) -> Option<Job> {
        let mut q = lock(&self.queue);
        let at = q.jobs.iter().position(|job| Arc::ptr_eq(&job.t, t))?;
        let job = q.jobs.remove(at)?;
        job.t.queued.store(false, Ordering::Relaxed);
        Some(job)
    }

    /// Waits until every queued block has been dealt with.
    pub fn wait_idle(&self) {
        let mut q = lock(&self.queue);
        while q.worker == Some(std::process::id()) && (!q.jobs.is_empty() || q.in_flight.is_some()) {
            q = self.idle.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The translation state is gone: the thread ends (not waited for).
    pub fn close(&self) {
        let mut q = lock(&self.queue);
        q.closed = true;
        q.jobs.clear();
        self.work.notify_all();
        self.idle.notify_all();
    }

    /// The next job, waiting for one; none when the thread should end.
    fn next(&self, done: Option<Arc<Translation>>) -> Option<Job> {
        let mut q = lock(&self.queue);
        if let Some(t) = done {
            t.queued.store(false, Ordering::Relaxed);
        }
        q.in_flight = None;
        loop {
            if q.closed {
                return None;
            }
            if let Some(job) = q.jobs.pop_front() {
                q.in_flight = Some(job.t.clone());
                return Some(job);
            }
            self.idle.notify_all();
            q = self.work.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Starts the compiler thread, with every host signal blocked (it inherits
/// the mask it is started with, so no signal ever lands on it).
fn spawn(background: Arc<Background>, shared: Weak<Shared>) -> std::io::Result<()> {
    // SAFETY: plain signal-set operations on sets of ours.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let started =
        std::thread::Builder::new().name("visa-compiler".into()).spawn(move || work(&background, &shared)).map(drop);
    // SAFETY: restores this thread's mask, saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    started
}

/// The compiler thread: jobs until the translation state is gone.
fn work(background: &Background, shared: &Weak<Shared>) {
    let mut done = None;
    while let Some(job) = background.next(done.take()) {
        let Some(shared) = shared.upgrade() else { return };
        done = Some(job.t.clone());
        compile(&shared, job);
    }
}

/// The processor time the calling thread has used (the compiler thread's
/// share of a loaded machine, not the time it waited for a processor).
fn thread_cpu_time() -> Duration {
    // SAFETY: plain data the host fills.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a timespec of ours.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Compiles a job and installs its code, if its translation is still in
/// the cache by then.
fn compile(shared: &Shared, job: Job) {
    let Some(compiler) = shared.compiler.as_ref() else { return };
    let Job { t, block, env, protected, host_perms } = job;
    if !lock(&shared.cache).holds(&t) {
        shared.add_background(&Stats { jit_discarded: 1, ..Stats::default() });
        return;
    }
    let started = thread_cpu_time();
    let isa = lock(compiler).jit.isa();
    let cells = t.cells_for(&block);
    // Read now: a process that goes threaded later drops this code anyway.
    let setup = Setup { cells: &cells, protected, tso: shared.tso_fences(), host_perms };
    let generated = crate::jit::generate(&isa, env, &block, setup);
    let mut stats = Stats::default();
    if let Ok(code) = &generated {
        super::persist::store(shared, env, &block, &t, setup, code);
    }
    let mut compiler = lock(compiler);
    match generated.and_then(|g| compiler.jit.place(g)) {
        Ok(code) => {
            let cache = lock(&shared.cache);
            if cache.holds(&t) {
                stats.jit_compiled = 1;
                stats.jit_background = 1;
                stats.jit_code_bytes = code.code_size as u64;
                compiler.install(&shared.installed, &t, code);
            } else {
                stats.jit_discarded = 1;
            }
        }
        // The engine that next finds a hot block flushes the region.
        Err(JitError::Full) => {
            shared.flush_wanted.store(true, Ordering::Relaxed);
            stats.jit_discarded = 1;
        }
        Err(_) => {
            stats.jit_failed = 1;
            t.jit_failed.store(true, Ordering::Relaxed);
        }
    }
    stats.background_compile_time = thread_cpu_time().saturating_sub(started);
    // Under the compiler's lock, so a fork never finds it half written.
    shared.add_background(&stats);
}

#[cfg(test)]
mod tests {
    use iced_x86::code_asm::*;

    use super::super::{Compile, Engine, EngineKind, Shared, Stop, lock};
    use crate::machine::GuestMemory;
    use crate::system::board::{self, Input, Uart};
    use crate::visa::ExitReason;

    const MAIN: u64 = 0x1000;
    const F: u64 = 0x3000;

    /// Calls F (`mov eax, 1; ret`) a hundred times, rewrites its immediate
    /// to 2, calls it a hundred times more, summing in RBX; halts.
    fn guest() -> GuestMemory {
        let mut a = CodeAssembler::new(64).unwrap();
        let (mut first, mut second) = (a.create_label(), a.create_label());
        a.mov(ecx, 100).unwrap();
        a.set_label(&mut first).unwrap();
        a.call(F).unwrap();
        a.add(rbx, rax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(first).unwrap();
        a.mov(byte_ptr(F + 1), 2).unwrap();
        a.mov(ecx, 100).unwrap();
        a.set_label(&mut second).unwrap();
        a.call(F).unwrap();
        a.add(rbx, rax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(second).unwrap();
        a.hlt().unwrap();
        let mut mem = GuestMemory::new(1 << 20).unwrap();
        mem.write_bytes(MAIN, &a.assemble(MAIN).unwrap()).unwrap();
        mem.write_bytes(F, &[0xb8, 1, 0, 0, 0, 0xc3]).unwrap();
        mem
    }

    /// The guest rewrites F while F's hot block waits for the compiler
    /// thread (held back here by the compiler's lock, which it needs to
    /// place code): the stale compilation is dropped, never installed, and
    /// the block made from the new bytes is compiled instead.
    #[test]
    fn a_queued_block_whose_code_is_rewritten_is_never_installed() {
        // Three tens of runs make a block hot; it is never taken back from
        // the queue within the hundred runs (`PATIENCE`).
        let shared =
            Shared::new(EngineKind::Tiered { threshold: 30 }, super::super::DEFAULT_TB_SIZE, Compile::Background);
        let mut engine = Engine::joining(&shared);
        let mut mem = guest();
        let mut cpu = board::entry_state(MAIN, 1 << 20);
        let mut board = board::new_board(Uart::new(Box::new(std::io::sink()), Input::None));
        let held = lock(shared.compiler.as_ref().unwrap());
        let stop = engine.run(&mut cpu, &mut mem, &mut board, u64::MAX);
        assert_eq!(stop, Stop::Exit(ExitReason::Halt));
        assert_eq!(cpu.gpr[3], 300, "a hundred calls of each version of F");
        assert!(engine.stats.invalidations >= 1, "{:?}", engine.stats);
        drop(held);
        shared.wait_for_compiler();
        let stats = engine.process_stats();
        assert!(stats.jit_discarded >= 1, "{stats:?}");
        assert!(stats.jit_background >= 1, "{stats:?}");
        assert_eq!(stats.jit_runs, 0, "nothing ran as host code while the compiler was held back");
        // F's new block runs compiled now, and returns the new value.
        cpu.rip = F;
        cpu.gpr[4] -= 8;
        mem.write_bytes(cpu.gpr[4], &0u64.to_le_bytes()).unwrap();
        let stop = engine.run(&mut cpu, &mut mem, &mut board, 2);
        assert_eq!((stop, cpu.gpr[0], engine.stats.jit_runs), (Stop::Budget, 2, 1));
    }
}
