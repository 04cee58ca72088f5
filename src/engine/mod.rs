//! The execution engine: finds or makes the translation of the block at
//! RIP, runs it, follows its exit, and stops for what the runtime must
//! handle (system calls, HLT, faults, the instruction budget, a device's
//! stop request). It invalidates translations whose code pages the guest
//! writes, the running block included (and, where guest threads share the
//! memory, whatever another thread's engine wrote, before the next block).
//! The engines of one process's threads share their translations and
//! compiled code (`shared` says how that stays safe while they run).
//! It translates through a `Frontend` (the guest instruction set's lifter;
//! x86-64 unless another is given), so it names no guest instruction set.
//! What it shows of itself (execution logs, profiles, debugger stops) is
//! chosen once per `run`: with none asked for, the dispatcher loop has none
//! of those hooks compiled in.

mod background;
mod cache;
mod debug;
mod log;
mod persist;
mod profile;
mod shape;
mod shared;
mod tables;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

pub use background::QUEUE_BOUND;
pub use cache::{Cache, Key, Translation};
pub use debug::{DebugEvent, DebugPoints, PointsHold, Watch};
pub use log::{LOG_ITEMS, Log, LogItem, Namer, parse_filter, parse_items};
pub use profile::{BlockProfile, Profile};
use shared::Presence;
pub use shared::{DEFAULT_TB_SIZE, ForkHold, Shared, TB_SIZE_RANGE};
use tables::{Front, IndTable};

use debug::DebugState;

use crate::abi::{Helpers, Outcome};
use crate::frontend::{Frontend, LiftError, x86};
use crate::interp;
use crate::machine::{CpuState, GuestMemory, LINE_SIZE, PAGE_SIZE};
use crate::visa::ExitReason;

/// A guest exception, with RIP at the instruction that raised it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// x86 exception vector: 0 #DE, 6 #UD, 13 #GP, 14 #PF.
    pub vector: u8,
    pub rip: u64,
    /// The memory address at fault, for #PF and alignment faults.
    pub addr: Option<u64>,
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self.vector {
            0 => "#DE divide error",
            3 => "#BP breakpoint",
            6 => "#UD invalid opcode",
            13 => "#GP general protection",
            14 => "#PF page fault",
            _ => "exception",
        }
    }
}

/// Why `run` returned. `CpuState::rip` says where the guest stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A runtime exit (SYSCALL, HLT, INT3...); RIP is where execution resumes.
    Exit(ExitReason),
    Fault(Fault),
    /// The instruction budget is spent, exactly.
    Budget,
    /// A helper asked the machine to stop.
    Requested,
    /// `abi::interrupt` asked the engine back (a host signal arrived).
    Interrupted,
    /// A debugger's breakpoint or watchpoint (`attach_debugger`).
    Debug(DebugEvent),
}

/// Counters of one engine.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub guest_insts: u64,
    pub blocks_run: u64,
    pub blocks_translated: u64,
    pub cache_hits: u64,
    pub invalidations: u64,
    pub translate_time: Duration,
    pub run_time: Duration,
    /// Blocks compiled to host code, blocks the JIT could not compile, and
    /// blocks run as host code.
    pub jit_compiled: u64,
    pub jit_failed: u64,
    pub jit_runs: u64,
    /// Exits of compiled code for the interpreter to run a float operation
    /// (`Outcome::Interpret`), and blocks interpreted from then on for
    /// taking them too often.
    pub float_exits: u64,
    pub float_demoted: u64,
    /// Blocks compiled code gave up on for the interpreter to run from
    /// their start (`Outcome::Replay`: a check failed).
    pub replays: u64,
    /// Hot blocks compiled ending at a side exit the interpreter saw
    /// taken most of the time (`shape`).
    pub jit_shortened: u64,
    pub jit_code_bytes: u64,
    pub jit_flushes: u64,
    /// Times every translation was dropped for taking more than `--tb-size`.
    pub tb_flushes: u64,
    /// Time compiling on the guest's thread (with background compilation,
    /// lifting hot blocks again for the compiler thread).
    pub compile_time: Duration,
    /// Blocks the compiler thread compiled (counted in `jit_compiled`
    /// too), compilations dropped because their block was invalidated or
    /// the code region filled meanwhile, and the thread's time.
    pub jit_background: u64,
    pub jit_discarded: u64,
    pub background_compile_time: Duration,
    /// The persistent cache: blocks it gave at translation, those of them
    /// whose host code it gave too, blocks it did not have (or had for
    /// other guest bytes), and files or blocks found unusable (each with a
    /// warning). What it stored is `DiskCache::stored`.
    pub disk_hits: u64,
    pub disk_code_hits: u64,
    /// Warm blocks compiled for the cache as the process ended.
    pub disk_compiled: u64,
    pub disk_misses: u64,
    pub disk_rejected: u64,
    /// Why there is no JIT, when one was asked for.
    pub jit_unavailable: Option<String>,
}

/// How many recent block addresses a crash report shows.
pub const RECENT_BLOCKS: usize = 16;

/// Which tiers run guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// The interpreter only.
    Interp,
    /// Every block compiled before its first run.
    Jit,
    /// Blocks interpreted until they have run `threshold` times, then compiled.
    Tiered { threshold: u32 },
}

/// A block whose compiled code leaves for the interpreter this many times
/// within `FLOAT_EXIT_WINDOW` guest instructions is interpreted from then
/// on (denormal-heavy code, say).
const FLOAT_EXIT_LIMIT: u32 = 256;
const FLOAT_EXIT_WINDOW: u64 = 1 << 24;

/// Runs a block needs before the tiered engine compiles it.
pub const DEFAULT_THRESHOLD: u32 = 1000;

/// Where the tiered engine compiles hot blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compile {
    /// On the thread that runs the guest, before the block's next run:
    /// which tier runs each block is then reproducible (`--sync-compile`).
    Sync,
    /// On a compiler thread, while the guest goes on interpreting the block;
    /// the results are the same, only the tier that runs a block depends on
    /// timing.
    Background,
}

pub struct Engine {
    /// The translation state this engine shares with its process's others.
    shared: Arc<Shared>,
    /// How the others see it.
    presence: Arc<Presence>,
    /// The shared state's epoch this engine's tables are of.
    seen: u64,
    /// The shared state's count of compiled blocks when this thread last
    /// synchronised its instruction stream.
    installed: u64,
    /// The guest instruction set it translates.
    frontend: &'static dyn Frontend,
    front: Front,
    /// Guest address to compiled block, probed inline by indirect jumps.
    ind_table: IndTable,
    /// The frontend mode the table's entries were made in.
    mode: u32,
    /// Guest memory has page permissions (compiled code checks them).
    protected: bool,
    /// Code compiled now may leave loads' and stores' permission checks to
    /// the host (`jit::Setup::host_perms`).
    host_perms: bool,
    scratch: interp::Scratch,
    pub stats: Stats,
    recent: [u64; RECENT_BLOCKS],
    recent_next: usize,
    /// What asks this engine back (a host signal, another guest thread).
    interrupt: crate::abi::Interrupt,
    /// The execution log, when one is asked for.
    log: Option<Log>,
    /// Per-block counts, when a profile is asked for.
    profile: Option<Profile>,
    /// A debugger's breakpoints and watchpoints.
    debug: Option<DebugState>,
    /// The exit the last compiled code left by, linked once its target
    /// is looked up (whatever table that lookup hits).
    unlinked: Option<Unlinked>,
}

/// An exit of compiled code to a block it is not linked to.
#[derive(Clone, Copy)]
struct Unlinked {
    /// The target.
    next: Key,
    /// Through the indirect-jump table, else through `cell`.
    indirect: bool,
    /// The exit's link cell (0: none).
    cell: usize,
    /// The epoch the exit's block ran in.
    epoch: u64,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shared.leave(&self.presence, &self.stats);
    }
}

impl std::ops::AddAssign<&Stats> for Stats {
    fn add_assign(&mut self, o: &Stats) {
        self.guest_insts += o.guest_insts;
        self.blocks_run += o.blocks_run;
        self.blocks_translated += o.blocks_translated;
        self.cache_hits += o.cache_hits;
        self.invalidations += o.invalidations;
        self.translate_time += o.translate_time;
        self.run_time += o.run_time;
        self.jit_compiled += o.jit_compiled;
        self.jit_failed += o.jit_failed;
        self.jit_runs += o.jit_runs;
        self.float_exits += o.float_exits;
        self.float_demoted += o.float_demoted;
        self.replays += o.replays;
        self.jit_shortened += o.jit_shortened;
        self.jit_code_bytes += o.jit_code_bytes;
        self.jit_flushes += o.jit_flushes;
        self.tb_flushes += o.tb_flushes;
        self.compile_time += o.compile_time;
        self.jit_background += o.jit_background;
        self.jit_discarded += o.jit_discarded;
        self.background_compile_time += o.background_compile_time;
        self.disk_hits += o.disk_hits;
        self.disk_misses += o.disk_misses;
        self.disk_code_hits += o.disk_code_hits;
        self.disk_compiled += o.disk_compiled;
        self.disk_rejected += o.disk_rejected;
        if self.jit_unavailable.is_none() {
            self.jit_unavailable.clone_from(&o.jit_unavailable);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A hash of the guest code in `ranges` (unreadable bytes count as absent).
fn code_hash(mem: &GuestMemory, ranges: &[(u64, u64)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for &(at, len) in ranges {
        let mut bytes = vec![0u8; len as usize];
        mem.read_bytes(at, &mut bytes).is_ok().hash(&mut h);
        bytes.hash(&mut h);
    }
    h.finish()
}

/// A block made ready to run: its guest code ranges, optimised V-ISA and
/// code prepared for the interpreter.
struct Prepared {
    ranges: Vec<(u64, u64)>,
    block: crate::visa::Block,
    code: interp::Compiled,
}

/// Lifts the block at `key` (at most `max` guest instructions), optimises
/// it and prepares it for the interpreter; marks its code, so that stores
/// into it are seen.
fn prepare(
    frontend: &dyn Frontend,
    mem: &mut GuestMemory,
    key: Key,
    max: usize,
    debug: Option<&DebugState>,
    log: Option<&Log>,
) -> Result<Prepared, Fault> {
    let rip = key.addr;
    let lifted = lift(frontend, mem, key, max, debug).map_err(|LiftError::Fetch(addr)| Fault {
        vector: 14,
        rip,
        addr: Some(addr),
    })?;
    let env = frontend.env();
    let logged = log.filter(|l| l.any(&[LogItem::InAsm, LogItem::Visa, LogItem::Opt]));
    // Optimised in place: the lifted V-ISA is copied only to be logged.
    let before = logged.map(|_| lifted.block.clone());
    let crate::frontend::Lifted { mut block, ranges } = lifted;
    crate::visa::opt::optimize_built(env, &mut block);
    if let (Some(log), Some(before)) = (logged, before) {
        log_translation(frontend, mem, log, &ranges, &before, &block);
    }
    let code = interp::compile(env, &block, std::mem::size_of::<CpuState>())
        .unwrap_or_else(|e| panic!("lifted block at {rip:#x} does not compile: {e}"));
    for &(at, len) in &ranges {
        mem.mark_code(at, len);
    }
    Ok(Prepared { ranges, block, code })
}

/// A block to keep, in buffers of its own size; the lifted block's
/// buffers go back to the builder.
fn kept(block: crate::visa::Block) -> crate::visa::Block {
    let own = block.clone();
    crate::visa::Builder::recycle(block);
    own
}

/// Lifts the block at `key`, ending it before any debugger breakpoint past
/// its start.
fn lift(
    frontend: &dyn Frontend,
    mem: &GuestMemory,
    key: Key,
    max: usize,
    debug: Option<&DebugState>,
) -> Result<crate::frontend::Lifted, LiftError> {
    let lifted = frontend.lift(mem, key.addr, key.mode, max)?;
    match debug.and_then(|d| d.cut(&lifted.block)) {
        Some(before) => frontend.lift(mem, key.addr, key.mode, before),
        None => Ok(lifted),
    }
}

/// Writes a translation's `in_asm`, `visa` and `opt` lines.
fn log_translation(
    frontend: &dyn Frontend,
    mem: &GuestMemory,
    log: &Log,
    ranges: &[(u64, u64)],
    lifted: &crate::visa::Block,
    optimized: &crate::visa::Block,
) {
    let addr = lifted.addr;
    let mut text = String::new();
    if log.wants(LogItem::InAsm, addr) {
        text += &format!("in_asm: block {}\n", log.at(addr));
        for &(at, len) in ranges {
            for line in frontend.disassemble(mem, at, len) {
                text += &format!("  {line}\n");
            }
        }
    }
    let env = frontend.env();
    if log.wants(LogItem::Visa, addr) {
        text += &format!("visa: block {}\n{}\n", log.at(addr), crate::visa::text::print_block(env, lifted));
    }
    if log.wants(LogItem::Opt, addr) {
        text += &format!("opt: block {}\n{}\n", log.at(addr), crate::visa::text::print_block(env, optimized));
    }
    if !text.is_empty() {
        log.write(&text);
    }
}

impl Engine {
    /// An interpreting engine.
    pub fn new() -> Engine {
        Engine::with_kind(EngineKind::Interp)
    }

    /// An engine of the given kind (the tiered one compiling on the guest's
    /// thread). When no executable memory can be had the JIT is left out
    /// and everything is interpreted (`stats.jit_unavailable`).
    pub fn with_kind(kind: EngineKind) -> Engine {
        Engine::with_tb_size(kind, DEFAULT_TB_SIZE, Compile::Sync)
    }

    /// An engine of the given kind that compiles where `compile` says.
    pub fn with_compile(kind: EngineKind, compile: Compile) -> Engine {
        Engine::with_tb_size(kind, DEFAULT_TB_SIZE, compile)
    }

    /// An engine for another guest instruction set than x86-64.
    pub fn with_frontend(kind: EngineKind, frontend: &'static dyn Frontend) -> Engine {
        let mut engine = Engine::with_kind(kind);
        engine.frontend = frontend;
        engine
    }

    /// An engine whose JIT has `code_size` bytes of code region.
    pub fn with_code_size(kind: EngineKind, code_size: usize, compile: Compile) -> Engine {
        let translations = (DEFAULT_TB_SIZE - DEFAULT_TB_SIZE / 4) as usize;
        Engine::joining(&Shared::with_limits(kind, code_size, translations, compile))
    }

    /// An engine whose translations and compiled code take at most about
    /// `tb_size` bytes (see `Shared::new`).
    pub fn with_tb_size(kind: EngineKind, tb_size: u64, compile: Compile) -> Engine {
        Engine::joining(&Shared::new(kind, tb_size, compile))
    }

    /// An engine (for another thread of the same process) that shares the
    /// translations and compiled code of `shared`.
    pub fn joining(shared: &Arc<Shared>) -> Engine {
        let interrupt = crate::abi::Interrupt::claim();
        let presence = shared.join(interrupt.word());
        let stats = Stats { jit_unavailable: shared.jit_unavailable.clone(), ..Stats::default() };
        Engine {
            shared: shared.clone(),
            presence,
            seen: shared.epoch.load(Ordering::SeqCst),
            installed: 0,
            frontend: &x86::X86,
            front: Front::new(),
            ind_table: IndTable::new(),
            mode: 0,
            protected: false,
            host_perms: false,
            scratch: interp::Scratch::new(),
            stats,
            recent: [0; RECENT_BLOCKS],
            recent_next: 0,
            interrupt,
            log: None,
            profile: None,
            debug: None,
            unlinked: None,
        }
    }

    /// The translation state, for engines of other threads to join.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The counters of every engine of the process (each other thread's as
    /// of its last return from `run`), this one's included.
    pub fn process_stats(&self) -> Stats {
        self.shared.process_stats(&self.presence, &self.stats)
    }

    /// The engine's interrupt word: storing nonzero asks it back within one
    /// block (`Stop::Interrupted`).
    pub fn interrupt_word(&self) -> &'static std::sync::atomic::AtomicU32 {
        self.interrupt.word()
    }

    /// Takes a pending interrupt request: true once per request.
    pub fn take_interrupt(&self) -> bool {
        self.interrupt.take()
    }

    pub fn kind(&self) -> EngineKind {
        self.shared.kind
    }

    /// Brings the engine's tables up to the shared state's epoch.
    fn catch_up(&mut self) {
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        if epoch != self.seen {
            self.front.clear();
            self.ind_table.clear();
            self.seen = epoch;
        }
    }

    /// Drops every translation and all compiled code (the code region is
    /// full, or the translations take more memory than their bound), with
    /// the world stopped: all goes but `running`, which stays (uncompiled
    /// and unlinked).
    fn flush(&mut self, compiler: Option<&mut shared::Compiler>, running: &Arc<Translation>) {
        let mut cache = lock(&self.shared.cache);
        self.shared.stop_the_world(&cache, Some(&self.presence));
        if let Some(compiler) = compiler {
            compiler.jit.flush();
        }
        let peak = &self.shared.translation_peak;
        peak.fetch_max(cache.bytes(), Ordering::Relaxed);
        *cache = Cache::default();
        shared::keep_after_flush(&mut cache, running);
        self.shared.drop_queued();
        drop(cache);
        self.catch_up();
    }

    /// Drops everything when the translations take more memory than their
    /// bound (`--tb-size`), as the code region's filling up does.
    fn bound_translations(&mut self, running: &Arc<Translation>) {
        let shared = self.shared.clone();
        if lock(&shared.cache).bytes() <= shared.translation_limit {
            return;
        }
        if let Some(log) = self.log.as_ref().filter(|l| l.any(&[LogItem::Tier])) {
            log.write("tier: translations over --tb-size: every translation dropped");
        }
        match shared.compiler.as_ref() {
            Some(compiler) => self.flush(Some(&mut lock(compiler)), running),
            None => self.flush(None, running),
        }
        self.stats.tb_flushes += 1;
    }

    /// The optimised V-ISA of a translation whose V-ISA was not kept,
    /// lifted again from guest memory (ending at the conditional branch at
    /// `end_at`, if given: `shape`); none if the code there is no longer
    /// what the translation was made from.
    fn relift(&self, mem: &GuestMemory, t: &Translation, end_at: Option<u64>) -> Option<crate::visa::Block> {
        let key = Key { addr: t.addr, mode: t.mode };
        let max = self.frontend.max_instructions();
        let lifted = match end_at {
            None => lift(self.frontend, mem, key, max, self.debug.as_ref()).ok()?,
            Some(branch) => self.frontend.lift_ending_at(mem, key.addr, key.mode, max, branch).ok()?,
        };
        // The same code, or (ended earlier) a part of it.
        let same = match end_at {
            None => lifted.ranges == t.ranges,
            Some(_) => {
                lifted.ranges.len() <= t.ranges.len()
                    && lifted.ranges.iter().zip(&t.ranges).all(|(l, r)| l.0 == r.0 && l.1 <= r.1)
            }
        };
        if !same || code_hash(mem, &t.ranges) != t.code_hash {
            return None;
        }
        let mut block = lifted.block;
        crate::visa::opt::optimize_built(self.frontend.env(), &mut block);
        Some(kept(block))
    }

    /// Compiles `t` to host code, or queues it for the compiler thread, if
    /// the engine's policy says it is time.
    fn maybe_compile(&mut self, mem: &GuestMemory, t: &Arc<Translation>) {
        let runs = t.runs.load(Ordering::Relaxed);
        let due = match self.shared.kind {
            EngineKind::Jit => true,
            EngineKind::Tiered { threshold } => runs >= threshold,
            EngineKind::Interp => false,
        };
        if !due || t.jit.get().is_some() || t.jit_failed.load(Ordering::Relaxed) {
            return;
        }
        let shared = self.shared.clone();
        let Some(compiler) = shared.compiler.as_ref() else { return };
        if shared.flush_wanted.swap(false, Ordering::Relaxed) {
            self.flush_full(&mut lock(compiler), t);
        }
        // What an observed engine reports of tiers stays reproducible.
        let observed = self.log.is_some() || self.profile.is_some() || self.debug.is_some();
        let mut block = None;
        if let Some(background) = shared.background.as_ref().filter(|_| !observed) {
            block = self.hand_over(background, mem, t, runs);
            if block.is_none() {
                return;
            }
        }
        let mut compiler = lock(compiler);
        // Another thread may have compiled it meanwhile, or dropped it.
        if t.jit.get().is_some() || shared.epoch.load(Ordering::SeqCst) != self.seen {
            return;
        }
        let started = Instant::now();
        if let Some(block) = block.or_else(|| self.block_of(mem, t)) {
            self.compile_now(&mut compiler, t, block);
        }
        self.stats.compile_time += started.elapsed();
    }

    /// Queues hot `t` (run `runs` times) for the compiler thread. Gives back
    /// its V-ISA when this thread is to compile it after all: it has waited
    /// in the queue too long (`PATIENCE`), or no compiler thread could be
    /// started.
    fn hand_over(
        &mut self,
        background: &Arc<background::Background>,
        mem: &GuestMemory,
        t: &Arc<Translation>,
        runs: u32,
    ) -> Option<crate::visa::Block> {
        if t.queued.load(Ordering::Relaxed) {
            let EngineKind::Tiered { threshold } = self.shared.kind else { return None };
            if runs != threshold.saturating_mul(background::PATIENCE) {
                return None;
            }
            return background.take(t).map(|job| job.block);
        }
        if !background.has_room() {
            return None;
        }
        let started = Instant::now();
        let block = self.block_of(mem, t)?;
        let job = background::Job {
            t: t.clone(),
            block,
            env: self.frontend.env(),
            protected: self.protected,
            host_perms: self.host_perms,
        };
        let refused = background.push(&self.shared, job);
        self.stats.compile_time += started.elapsed();
        refused.err().map(|job| job.block)
    }

    /// The V-ISA to compile `t` from: kept, or lifted again; none (and `t`
    /// stays interpreted) if its code is no longer what it was made from.
    fn block_of(&mut self, mem: &GuestMemory, t: &Translation) -> Option<crate::visa::Block> {
        let kept = lock(&t.block).take();
        // A debugger's breakpoints cut blocks as they are.
        let block = match t.end_branch().filter(|_| self.debug.is_none()) {
            Some(at) => {
                self.stats.jit_shortened += 1;
                self.relift(mem, t, Some(at))
            }
            None => kept.or_else(|| self.relift(mem, t, None)),
        };
        if block.is_none() {
            self.stats.jit_failed += 1;
            t.jit_failed.store(true, Ordering::Relaxed);
        }
        block
    }

    /// Drops all compiled code because the code region is full (`t`, about
    /// to be compiled, stays).
    fn flush_full(&mut self, compiler: &mut shared::Compiler, t: &Arc<Translation>) {
        if let Some(log) = self.log.as_ref().filter(|l| l.any(&[LogItem::Tier])) {
            log.write("tier: code region full: every compiled block dropped");
        }
        self.flush(Some(compiler), t);
        self.stats.jit_flushes += 1;
    }

    /// Compiles `t` from `block` on this thread and installs the code.
    fn compile_now(&mut self, compiler: &mut shared::Compiler, t: &Arc<Translation>, block: crate::visa::Block) {
        let env = self.frontend.env();
        let cells = t.cells_for(&block);
        let links = crate::jit::Setup {
            cells: &cells,
            protected: self.protected,
            tso: self.shared.tso_fences(),
            host_perms: self.host_perms,
        };
        let generated = crate::jit::generate(&compiler.jit.isa(), env, &block, links);
        if let Ok(code) = &generated {
            persist::store(&self.shared, env, &block, t, links, code);
        }
        let mut result = generated.and_then(|code| compiler.jit.place(code));
        if matches!(result, Err(crate::jit::JitError::Full)) {
            self.flush_full(compiler, t);
            result = compiler.jit.compile(env, &block, links);
        }
        match result {
            Ok(code) => {
                self.stats.jit_compiled += 1;
                self.stats.jit_code_bytes += code.code_size as u64;
                if let Some(log) = &self.log {
                    let mut why = match self.shared.kind {
                        EngineKind::Tiered { .. } => {
                            format!("after {} interpreted runs", t.runs.load(Ordering::Relaxed))
                        }
                        _ => "before its first run".into(),
                    };
                    if let Some(at) = t.ended_at(&block) {
                        why += &format!(", ending at the branch at {}", log.at(at));
                    }
                    // The clif and out_asm logs show the block that was compiled.
                    self.log_compiled(log, Some(&block), t.addr, &why, code.code_size);
                }
                compiler.install(&self.shared.installed, t, code);
            }
            Err(e) => {
                if let Some(log) = self.log.as_ref().filter(|l| l.wants(LogItem::Tier, t.addr)) {
                    log.write(&format!("tier: block {} left interpreted ({e})", log.at(t.addr)));
                }
                self.stats.jit_failed += 1;
                t.jit_failed.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Writes a compiled block's `tier`, `clif` and `out_asm` lines.
    fn log_compiled(&self, log: &Log, block: Option<&crate::visa::Block>, addr: u64, why: &str, size: usize) {
        let mut text = String::new();
        if log.wants(LogItem::Tier, addr) {
            text += &format!("tier: block {} compiled {why} ({size} bytes of host code)\n", log.at(addr));
        }
        let env = self.frontend.env();
        if let Some(block) = block {
            if log.wants(LogItem::Clif, addr) {
                let clif = crate::jit::clif_text(env, block, self.protected, self.host_perms)
                    .unwrap_or_else(|e| e.to_string());
                text += &format!("clif: block {}\n{clif}\n", log.at(addr));
            }
            if log.wants(LogItem::OutAsm, addr) {
                let code = crate::jit::disassemble(env, block, self.protected, self.host_perms)
                    .unwrap_or_else(|e| e.to_string());
                text += &format!("out_asm: block {}\n{code}\n", log.at(addr));
            }
        }
        if !text.is_empty() {
            log.write(&text);
        }
    }

    /// Logs what `-d` asks for from now on.
    pub fn set_log(&mut self, log: Log) {
        self.log = Some(log);
    }

    /// The execution log, if any (systems add their `int` lines).
    pub fn log(&self) -> Option<&Log> {
        self.log.as_ref()
    }

    /// Counts every block run from now on (`profile`).
    pub fn enable_profile(&mut self) {
        self.profile.get_or_insert_with(Profile::default);
    }

    /// The blocks run since `enable_profile`.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// The blocks run since `enable_profile` or the last `take_profile`;
    /// counting starts again from nothing.
    pub fn take_profile(&mut self) -> Option<Profile> {
        self.profile.as_mut().map(std::mem::take)
    }

    /// Stops for the breakpoints and watchpoints in `points` from now on.
    pub fn attach_debugger(&mut self, points: Arc<DebugPoints>) {
        self.debug = Some(DebugState::new(points));
    }

    /// Applies breakpoint and watchpoint changes: translations holding a
    /// breakpoint that came or went are dropped (and made again around
    /// it), watched memory is marked.
    fn sync_debug(&mut self, mem: &mut GuestMemory) {
        let Some(changes) = self.debug.as_mut().and_then(|d| d.sync(mem)) else { return };
        if !changes.moved.is_empty() {
            let shared = self.shared.clone();
            let mut cache = lock(&shared.cache);
            shared.stop_the_world(&cache, Some(&self.presence));
            for addr in changes.moved {
                self.stats.invalidations += cache.invalidate_range(addr, addr + 1, |_, _| {}) as u64;
            }
        }
        self.catch_up();
        self.ind_table.clear();
        for w in changes.watches {
            mem.mark_code(w.addr, w.len);
        }
    }

    /// Whether anything watches each block run (so `run` takes the
    /// observed loop).
    fn observed(&self) -> bool {
        self.profile.is_some()
            || self.debug.is_some()
            || self.log.as_ref().is_some_and(|l| l.any(&[LogItem::Exec, LogItem::Cpu, LogItem::Int]))
    }

    /// Names each block compiled from now on in /tmp/perf-PID.map, where
    /// `perf report` finds symbols for JIT code.
    pub fn write_perf_map(&mut self) -> std::io::Result<()> {
        let Some(compiler) = self.shared.compiler.as_ref() else { return Ok(()) };
        let path = format!("/tmp/perf-{}.map", std::process::id());
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        lock(compiler).perf_map = Some(crate::system::host_fds::OwnFd::adopt(file.into())?);
        Ok(())
    }

    /// The last blocks the dispatcher ran (linked compiled blocks between
    /// them are not seen), oldest first.
    pub fn recent_blocks(&self) -> Vec<u64> {
        let n = (self.stats.blocks_run as usize).min(RECENT_BLOCKS);
        (0..n).map(|i| self.recent[(self.recent_next + RECENT_BLOCKS - n + i) % RECENT_BLOCKS]).collect()
    }

    /// The translation at `key`: taken out of the engine's front table
    /// (the dispatcher puts it back there after running it), or from the
    /// shared cache, or made now.
    fn lookup(&mut self, mem: &mut GuestMemory, key: Key) -> Result<Arc<Translation>, Fault> {
        if let Some(t) = self.front.take(key) {
            self.stats.cache_hits += 1;
            return Ok(t);
        }
        if let Some(t) = lock(&self.shared.cache).get(key).cloned() {
            self.stats.cache_hits += 1;
            return Ok(t);
        }
        let shared = self.shared.clone();
        let translating = lock(&shared.translator);
        // Another thread may have translated it while this one waited.
        if let Some(t) = lock(&shared.cache).get(key).cloned() {
            self.stats.cache_hits += 1;
            return Ok(t);
        }
        let t = self.translate(mem, key)?;
        drop(translating);
        self.bound_translations(&t);
        Ok(t)
    }

    fn translate(&mut self, mem: &mut GuestMemory, key: Key) -> Result<Arc<Translation>, Fault> {
        let started = Instant::now();
        let rip = key.addr;
        let max = self.frontend.max_instructions();
        // What an earlier run translated, if the persistent cache has it.
        let (Prepared { ranges, block, code }, stored) = match self.take_stored(mem, key) {
            Some(taken) => taken,
            None => {
                let prepared = prepare(self.frontend, mem, key, max, self.debug.as_ref(), self.log.as_ref())?;
                self.keep_translated(mem, key, &prepared);
                (prepared, None)
            }
        };
        let (targets, branches) = shape::exits_of(&block);
        let changes_mode = crate::frontend::may_change_mode(self.frontend, &block);
        let links = targets.iter().map(|_| AtomicU64::new(0)).collect();
        let jit = self.shared.compiler.is_some();
        // Only the JIT engine compiles at once; the tiered engine lifts a
        // block again when it is hot, rather than keep every block's V-ISA.
        let keep = if jit && stored.is_none() && self.shared.kind == EngineKind::Jit {
            Some(kept(block))
        } else {
            crate::visa::Builder::recycle(block);
            None
        };
        // What a later lift for the JIT is checked against.
        let code_hash = if jit { code_hash(mem, &ranges) } else { 0 };
        let bytes = cache::footprint(&code, keep.as_ref(), ranges.len(), targets.len(), branches.len());
        let t = lock(&self.shared.cache).insert(Translation {
            bytes,
            addr: rip,
            mode: key.mode,
            ranges,
            code_hash,
            guest_insts: code.guest_insts(),
            changes_mode,
            code,
            block: keep.into(),
            jit: OnceLock::new(),
            runs: 0.into(),
            jit_failed: false.into(),
            float_exits: Default::default(),
            queued: false.into(),
            taken: shape::counters(&targets),
            targets,
            links,
            branches: branches.into(),
            incoming: Vec::new().into(),
        });
        if let Some(stored) = stored {
            self.install_stored(&t, stored);
        }
        self.stats.blocks_translated += 1;
        self.stats.translate_time += started.elapsed();
        Ok(t)
    }

    /// Drops translations of code the guest wrote (with the world stopped),
    /// unlinks their compiled code, and re-marks the code that survives on
    /// the same pages.
    fn invalidate(&mut self, mem: &mut GuestMemory) {
        let lines = mem.take_code_writes();
        let shared = self.shared.clone();
        let mut cache = lock(&shared.cache);
        let mut stopped = false;
        for line in lines {
            let start = line * LINE_SIZE;
            let page = start / PAGE_SIZE;
            let mut survivors = Vec::new();
            if !stopped && cache.overlaps_any(start, start + LINE_SIZE) {
                shared.stop_the_world(&cache, Some(&self.presence));
                stopped = true;
            }
            let dropped = cache.invalidate_range(start, start + LINE_SIZE, |addr, bytes| survivors.push((addr, bytes)));
            self.stats.invalidations += dropped as u64;
            mem.unmark_page(page);
            for (addr, bytes) in survivors {
                mem.mark_code(addr, bytes);
            }
        }
        drop(cache);
        self.catch_up();
        if let Some(d) = &self.debug {
            for w in d.watches() {
                mem.mark_code(w.addr, w.len);
            }
        }
    }

    /// Compiled code left through `exit` and its target `next` has been
    /// looked up: link the exit's cell to `next`'s code (or fill the
    /// indirect-jump table) if `next` has compiled code.
    fn link(&mut self, exit: Unlinked, next: &Translation) {
        let Some(entry) = next.entry() else { return };
        // The exit's block may have been dropped since it ran: its cell is
        // written only while the cache is still in the epoch it ran in.
        if exit.epoch != self.seen || next.key() != exit.next {
            return;
        }
        if exit.indirect {
            self.ind_table.fill(exit.next.addr, entry);
        } else if exit.cell != 0 {
            let cache = lock(&self.shared.cache);
            if self.shared.epoch.load(Ordering::SeqCst) == exit.epoch {
                cache.link(exit.cell, exit.next);
            }
        }
    }

    /// Counts an exit of `t`'s compiled code for the interpreter (or a
    /// replay of `t` by it); when they come too often, `t` is interpreted
    /// from now on (its code unlinked).
    fn interpreter_exit(&mut self, t: &Translation) {
        let now = self.stats.guest_insts;
        let f = &t.float_exits;
        let since = f.since.load(Ordering::Relaxed);
        let exits = if f.count.load(Ordering::Relaxed) == 0 || now.wrapping_sub(since) > FLOAT_EXIT_WINDOW {
            f.since.store(now, Ordering::Relaxed);
            f.count.store(1, Ordering::Relaxed);
            1
        } else {
            f.count.fetch_add(1, Ordering::Relaxed) + 1
        };
        if exits == FLOAT_EXIT_LIMIT && !f.demoted.swap(true, Ordering::Relaxed) {
            self.stats.float_demoted += 1;
            let _cache = lock(&self.shared.cache);
            t.unlink_incoming();
            self.ind_table.clear();
        }
    }

    /// Runs a one-off translation of at most `max` guest instructions at
    /// `key` under the interpreter (the next block would run past the end
    /// of the budget); it is not cached.
    fn run_within(
        &mut self,
        cpu: &mut CpuState,
        mem: &mut GuestMemory,
        helpers: &mut dyn Helpers,
        key: Key,
        max: u64,
    ) -> Result<Outcome, Fault> {
        let started = Instant::now();
        let Prepared { block, code, .. } = prepare(self.frontend, mem, key, max as usize, self.debug.as_ref(), None)?;
        crate::visa::Builder::recycle(block);
        self.stats.translate_time += started.elapsed();
        let outcome = interp::run(&code, cpu.as_bytes_mut(), mem, helpers, &mut self.scratch);
        self.stats.guest_insts += self.scratch.executed as u64;
        Ok(outcome)
    }

    /// Runs `t`'s compiled code (announced to the other engines); none if
    /// translations were dropped since it was looked up (look again).
    fn run_compiled(
        &mut self,
        t: &Translation,
        cpu: &mut CpuState,
        mem: &mut GuestMemory,
        helpers: &mut dyn Helpers,
        remaining: u64,
    ) -> Option<(Outcome, usize)> {
        let entry = t.entry()?;
        if !shared::can_enter(&self.shared, &self.presence, self.seen) {
            return None;
        }
        let installed = self.shared.installed.load(Ordering::Acquire);
        if installed != self.installed {
            // Code compiled since may have been written by another thread.
            crate::jit::sync_this_thread();
            self.installed = installed;
        }
        self.stats.jit_runs += 1;
        let allowance = remaining.min(i64::MAX as u64) as i64;
        let env = crate::jit::RunEnv {
            state: cpu.as_bytes_mut(),
            mem,
            helpers,
            budget: allowance,
            ind_table: self.ind_table.as_ptr(),
            interrupt: self.interrupt.word(),
        };
        let trampoline = self.shared.trampoline.as_ref().and_then(|t| t.get().copied());
        let trampoline = trampoline.expect("compiled code has a JIT, and it made its trampoline");
        // SAFETY: the state record is the x86 Env's; the code and the
        // indirect table's are of translations in the cache in this epoch,
        // which no other engine drops while this one is in code.
        let (outcome, left, exit_link) = unsafe { trampoline.run(entry, env) };
        self.presence.in_code.store(false, Ordering::SeqCst);
        self.stats.guest_insts += (allowance - left) as u64;
        Some((outcome, exit_link))
    }

    /// Runs from `cpu.rip` until a stop, or until exactly `budget` guest
    /// instructions have run (a block that would run past the budget is
    /// translated again, cut short, for the last instructions).
    pub fn run(&mut self, cpu: &mut CpuState, mem: &mut GuestMemory, helpers: &mut dyn Helpers, budget: u64) -> Stop {
        let started = Instant::now();
        let stop = if self.observed() {
            self.sync_debug(mem);
            self.dispatch::<true>(cpu, mem, helpers, budget)
        } else {
            self.dispatch::<false>(cpu, mem, helpers, budget)
        };
        // Whatever looks at the state next (a system, a debugger, a test)
        // finds the flags in place.
        cpu.settle_flags();
        self.stats.run_time += started.elapsed();
        *lock(&self.presence.stats) = self.stats.clone();
        if let Some(log) = self.log.as_ref().filter(|l| l.wants(LogItem::Int, cpu.rip)) {
            log_stop(log, &stop, cpu);
        }
        stop
    }

    /// The dispatcher loop. `OBSERVED` adds the per-block hooks (exec and
    /// cpu logs, the profile, breakpoints and watchpoints) and makes every
    /// block come back to it (compiled code is given the budget of one
    /// block, so it neither loops nor follows links).
    fn dispatch<const OBSERVED: bool>(
        &mut self,
        cpu: &mut CpuState,
        mem: &mut GuestMemory,
        helpers: &mut dyn Helpers,
        budget: u64,
    ) -> Stop {
        let limit = self.stats.guest_insts.saturating_add(budget);
        // Compiled code left for the interpreter to run the instruction at
        // `cpu.rip` alone.
        let mut alone = false;
        // Compiled code gave up on the block at `cpu.rip`, for the
        // interpreter to run (`Outcome::Replay`).
        let mut replay = false;
        // The mode is `self.mode` still: the last block ran under the
        // interpreter and cannot change it (`Translation::changes_mode`);
        // after any other block it is computed again.
        let mut mode_known = false;
        loop {
            if self.stats.guest_insts >= limit {
                return Stop::Budget;
            }
            if helpers.stop_requested() {
                return Stop::Requested;
            }
            if self.interrupt.take() {
                return Stop::Interrupted;
            }
            // Another thread sharing the memory may have written code.
            if mem.code_written() {
                self.invalidate(mem);
            }
            self.catch_up();
            let rip = cpu.rip;
            if OBSERVED && self.debug.as_ref().is_some_and(|d| d.is_breakpoint(rip)) {
                return Stop::Debug(DebugEvent::Breakpoint(rip));
            }
            self.protected = mem.has_protection();
            let host_perms = mem.mirrors();
            if host_perms != self.host_perms {
                match host_perms {
                    true => self.shared.use_host_checks(),
                    false => self.shared.leave_checks_to_software(),
                }
                self.host_perms = host_perms;
            }
            if !std::mem::take(&mut mode_known) {
                let mode = self.frontend.mode(cpu);
                if mode != self.mode {
                    // Indirect-jump entries are for the old mode's blocks.
                    self.ind_table.clear();
                    self.mode = mode;
                }
            }
            let mode = self.mode;
            let key = Key { addr: rip, mode };
            let t = match self.lookup(mem, key) {
                Ok(t) => t,
                Err(f) => return Stop::Fault(f),
            };
            if let Some(exit) = self.unlinked.take() {
                self.link(exit, &t);
            }
            // The epoch the translation is current in (the front table
            // takes it back only if nothing was dropped meanwhile).
            let seen = self.seen;
            self.recent[self.recent_next] = rip;
            self.recent_next = (self.recent_next + 1) % RECENT_BLOCKS;
            self.stats.blocks_run += 1;
            let remaining = limit - self.stats.guest_insts;
            let fits = !alone && t.guest_insts as u64 <= remaining;
            if fits {
                self.maybe_compile(mem, &t);
            }
            // What the hooks note of the block (nothing when unobserved).
            let block_started = OBSERVED.then(Instant::now);
            let insts_before = if OBSERVED { self.stats.guest_insts } else { 0 };
            let replaying = std::mem::take(&mut replay);
            let compiled = OBSERVED && fits && !replaying && t.entry().is_some();
            if OBSERVED && let Some(log) = &self.log {
                log_block(log, cpu, &t, compiled);
            }
            // The link cell of compiled code's exit (`None` when it did not run).
            let (outcome, exit_link) = if !fits {
                let max = if std::mem::take(&mut alone) { 1 } else { remaining };
                match self.run_within(cpu, mem, helpers, key, max) {
                    Ok(outcome) => (outcome, None),
                    Err(f) => return Stop::Fault(f),
                }
            } else if t.entry().is_some() && !replaying {
                // One block: the compiled one, which may end earlier (`shape`).
                let one = t.jit.get().map_or(t.guest_insts, |c| c.guest_insts);
                let allowance = if OBSERVED { one as u64 } else { remaining };
                let Some((outcome, exit_link)) = self.run_compiled(&t, cpu, mem, helpers, allowance) else {
                    // Translations were dropped: look the block up again.
                    self.stats.blocks_run -= 1;
                    continue;
                };
                (outcome, Some(exit_link))
            } else {
                if replaying {
                    self.stats.replays += 1;
                    self.interpreter_exit(&t);
                } else {
                    t.runs.store(t.runs.load(Ordering::Relaxed).saturating_add(1), Ordering::Relaxed);
                }
                let outcome = interp::run(&t.code, cpu.as_bytes_mut(), mem, helpers, &mut self.scratch);
                self.stats.guest_insts += self.scratch.executed as u64;
                if let (false, Outcome::Jump(next)) = (replaying, &outcome) {
                    t.count_exit(*next);
                }
                mode_known = !t.changes_mode;
                (outcome, None)
            };
            if let Outcome::Interpret(_) = outcome {
                self.stats.float_exits += 1;
                self.interpreter_exit(&t);
            }
            if self.seen == seen {
                self.front.put(t);
            }
            if let (Some(cell), Outcome::Jump(next) | Outcome::Indirect(next)) = (exit_link, &outcome)
                && !mem.code_written()
            {
                let indirect = matches!(outcome, Outcome::Indirect(_));
                self.unlinked = Some(Unlinked { next: Key { addr: *next, mode }, indirect, cell, epoch: seen });
            }
            if OBSERVED && let (Some(p), Some(at)) = (self.profile.as_mut(), block_started) {
                p.record(rip, compiled, self.stats.guest_insts - insts_before, at.elapsed());
            }
            let mut watched = None;
            if mem.code_written() {
                if OBSERVED {
                    watched = self.debug.as_mut().and_then(|d| d.watch_hit(mem));
                }
                self.invalidate(mem);
            }
            match outcome {
                Outcome::Jump(next) | Outcome::Indirect(next) => cpu.rip = next,
                Outcome::Exit(ExitReason::Undefined, at) => {
                    cpu.rip = at;
                    return Stop::Fault(Fault { vector: 6, rip: at, addr: None });
                }
                Outcome::Exit(ExitReason::Yield, resume) => cpu.rip = resume,
                Outcome::Exit(reason, resume) => {
                    cpu.rip = resume;
                    return Stop::Exit(reason);
                }
                Outcome::Interpret(at) => {
                    cpu.rip = at;
                    alone = true;
                }
                Outcome::Replay(at) => {
                    cpu.rip = at;
                    replay = true;
                }
                Outcome::Trap(trap) => {
                    cpu.rip = trap.guest;
                    return Stop::Fault(Fault {
                        vector: self.frontend.exception_vector(trap.code),
                        rip: trap.guest,
                        addr: trap.fault_addr,
                    });
                }
            }
            if let Some(w) = watched {
                return Stop::Debug(DebugEvent::Watch(w));
            }
        }
    }
}

/// Writes a block's `exec` and `cpu` lines.
fn log_block(log: &Log, cpu: &CpuState, t: &Translation, compiled: bool) {
    let addr = t.addr;
    let mut text = String::new();
    if log.wants(LogItem::Exec, addr) {
        let tier = if compiled { "jit" } else { "interp" };
        text += &format!("exec: {} {} insts {tier}\n", log.at(addr), t.guest_insts);
    }
    if log.wants(LogItem::Cpu, addr) {
        text += &format!("cpu: {}\n{}\n", log.at(addr), cpu_lines(cpu));
    }
    if !text.is_empty() {
        log.write(&text);
    }
}

/// The registers, four to a line, and RFLAGS.
pub fn cpu_lines(cpu: &CpuState) -> String {
    let mut s = String::new();
    for (i, row) in crate::machine::GPR_NAMES.iter().zip(cpu.gpr).collect::<Vec<_>>().chunks(4).enumerate() {
        let line: Vec<String> = row.iter().map(|(n, v)| format!("{n:>4}={v:016x}")).collect();
        s += &format!("{}  {}", if i > 0 { "\n" } else { "" }, line.join(" "));
    }
    s + &format!("\n   rip={:016x} rflags={:08x}", cpu.rip, cpu.rflags())
}

/// Writes the `int` line of a stop.
fn log_stop(log: &Log, stop: &Stop, cpu: &CpuState) {
    let line = match stop {
        Stop::Fault(f) => match f.addr {
            Some(a) => format!("int: {} at {}, address {a:#x}", f.name(), log.at(f.rip)),
            None => format!("int: {} at {}", f.name(), log.at(f.rip)),
        },
        Stop::Exit(reason) => format!("int: {reason:?} exit, resuming at {}", log.at(cpu.rip)),
        Stop::Debug(event) => format!("int: debugger {event:?} at {}", log.at(cpu.rip)),
        Stop::Budget | Stop::Requested | Stop::Interrupted => return,
    };
    log.write(&line);
}
