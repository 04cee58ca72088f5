//! The execution engine: finds or makes the translation of the block at
//! RIP, runs it, follows its exit, and stops for what the runtime must
//! handle (system calls, HLT, faults, the instruction budget, a device's
//! stop request). It invalidates translations whose code pages the guest
//! writes, the running block included (and, where guest threads share the
//! memory, whatever another thread's engine wrote, before the next block).
//! It translates through a `Frontend` (the guest instruction set's lifter;
//! x86-64 unless another is given), so it names no guest instruction set.

mod cache;

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub use cache::{Cache, Key, Translation};

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
    pub jit_code_bytes: u64,
    pub jit_flushes: u64,
    pub compile_time: Duration,
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

/// Runs a block needs before the tiered engine compiles it.
pub const DEFAULT_THRESHOLD: u32 = 1000;

pub struct Engine {
    kind: EngineKind,
    /// The guest instruction set it translates.
    frontend: &'static dyn Frontend,
    cache: Cache,
    jit: Option<crate::jit::Jit>,
    /// Guest address to compiled block, probed inline by indirect jumps.
    ind_table: Vec<crate::jit::IndEntry>,
    /// The frontend mode the table's entries were made in.
    mode: u32,
    /// Guest memory has page permissions (compiled code checks them).
    protected: bool,
    scratch: interp::Scratch,
    pub stats: Stats,
    recent: [u64; RECENT_BLOCKS],
    recent_next: usize,
    /// Where compiled blocks are announced to `perf` (/tmp/perf-PID.map).
    perf_map: Option<std::fs::File>,
    /// What asks this engine back (a host signal, another guest thread).
    interrupt: crate::abi::Interrupt,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new()
    }
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
fn prepare(frontend: &dyn Frontend, mem: &mut GuestMemory, key: Key, max: usize) -> Result<Prepared, Fault> {
    let rip = key.addr;
    let lifted = frontend.lift(mem, rip, key.mode, max).map_err(|LiftError::Fetch(addr)| Fault {
        vector: 14,
        rip,
        addr: Some(addr),
    })?;
    let env = frontend.env();
    let block = crate::visa::opt::optimize(env, &lifted.block);
    let code = interp::compile(env, &block, std::mem::size_of::<CpuState>())
        .unwrap_or_else(|e| panic!("lifted block at {rip:#x} does not compile: {e}"));
    for &(at, len) in &lifted.ranges {
        mem.mark_code(at, len);
    }
    Ok(Prepared { ranges: lifted.ranges, block, code })
}

/// Zeroes every link cell that leads to `t`'s compiled code.
fn unlink_incoming(t: &Translation) {
    for cell in t.incoming.borrow_mut().drain(..) {
        // SAFETY: a cell stays in an incoming list only while its owner is
        // alive (`forget_links` takes it out when the owner goes).
        unsafe { (*cell).set(0) };
    }
}

impl Engine {
    /// An interpreting engine.
    pub fn new() -> Engine {
        Engine::with_kind(EngineKind::Interp)
    }

    /// An engine of the given kind. When no executable memory can be had the
    /// JIT is left out and everything is interpreted (`stats.jit_unavailable`).
    pub fn with_kind(kind: EngineKind) -> Engine {
        Engine::with_code_size(kind, crate::jit::DEFAULT_CODE_SIZE)
    }

    /// An engine for another guest instruction set than x86-64.
    pub fn with_frontend(kind: EngineKind, frontend: &'static dyn Frontend) -> Engine {
        Engine { frontend, ..Engine::with_kind(kind) }
    }

    /// An engine whose JIT has `code_size` bytes of code region.
    pub fn with_code_size(kind: EngineKind, code_size: usize) -> Engine {
        let mut stats = Stats::default();
        let jit = match kind {
            EngineKind::Interp => None,
            _ => match crate::jit::Jit::new(code_size) {
                Ok(j) => Some(j),
                Err(e) => {
                    stats.jit_unavailable = Some(e);
                    None
                }
            },
        };
        Engine {
            kind,
            frontend: &x86::X86,
            cache: Cache::new(),
            jit,
            ind_table: vec![crate::jit::IND_EMPTY; crate::jit::IND_ENTRIES],
            mode: 0,
            protected: false,
            scratch: interp::Scratch::new(),
            stats,
            recent: [0; RECENT_BLOCKS],
            recent_next: 0,
            perf_map: None,
            interrupt: crate::abi::Interrupt::claim(),
        }
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
        self.kind
    }

    /// The block's host code, if it has current code.
    fn compiled_entry(&self, t: &Translation) -> Option<*const u8> {
        let generation = self.jit.as_ref()?.generation();
        t.jit.borrow().as_ref().filter(|c| c.generation == generation).map(|c| c.entry)
    }

    /// Drops all compiled code (the code region is full): every translation
    /// goes, the running one keeps working unlinked.
    fn flush(&mut self, running: &Translation) {
        if let Some(jit) = self.jit.as_mut() {
            jit.flush();
        }
        self.cache = Cache::new();
        self.ind_table.fill(crate::jit::IND_EMPTY);
        // The cells these lists name died with their translations.
        running.incoming.borrow_mut().clear();
        running.links.iter().for_each(|c| c.set(0));
        self.stats.jit_flushes += 1;
    }

    /// The optimised V-ISA of a translation whose V-ISA was not kept,
    /// lifted again from guest memory; none if the code there is no longer
    /// what the translation was made from.
    fn relift(&self, mem: &GuestMemory, t: &Translation) -> Option<crate::visa::Block> {
        let lifted = self.frontend.lift(mem, t.addr, t.mode, self.frontend.max_instructions()).ok()?;
        if lifted.ranges != t.ranges || code_hash(mem, &lifted.ranges) != t.code_hash {
            return None;
        }
        Some(crate::visa::opt::optimize(self.frontend.env(), &lifted.block))
    }

    /// Compiles `t` to host code if the engine's policy says it is time.
    fn maybe_compile(&mut self, mem: &GuestMemory, t: &Translation) {
        let Some(jit) = self.jit.as_ref() else { return };
        let due = match self.kind {
            EngineKind::Jit => true,
            EngineKind::Tiered { threshold } => t.runs.get() >= threshold,
            EngineKind::Interp => false,
        };
        let fresh = t.jit.borrow().as_ref().is_some_and(|c| c.generation == jit.generation());
        if !due || fresh || t.jit_failed.get() {
            return;
        }
        let started = Instant::now();
        let env = self.frontend.env();
        let cells = t.link_addrs();
        let links = crate::jit::Setup { cells: &cells, protected: self.protected };
        let kept = t.block.borrow();
        let relifted;
        let block = match kept.as_ref() {
            Some(block) => block,
            None => match self.relift(mem, t) {
                Some(block) => {
                    relifted = block;
                    &relifted
                }
                None => {
                    self.stats.jit_failed += 1;
                    t.jit_failed.set(true);
                    return;
                }
            },
        };
        let mut result = self.jit.as_mut().expect("checked").compile(env, block, links);
        if matches!(result, Err(crate::jit::JitError::Full)) {
            self.flush(t);
            result = self.jit.as_mut().expect("checked").compile(env, block, links);
        }
        drop(kept);
        match result {
            Ok(code) => {
                // The V-ISA is not needed again: after a flush of the code
                // region, blocks are translated afresh.
                t.block.borrow_mut().take();
                self.stats.jit_compiled += 1;
                self.stats.jit_code_bytes += code.code_size as u64;
                if let Some(map) = self.perf_map.as_mut() {
                    // perf's JIT symbol map: START SIZE NAME, in hex.
                    let _ = writeln!(map, "{:x} {:x} guest_{:#x}", code.entry as usize, code.code_size, t.addr);
                }
                *t.jit.borrow_mut() = Some(code);
            }
            Err(_) => {
                self.stats.jit_failed += 1;
                t.jit_failed.set(true);
            }
        }
        self.stats.compile_time += started.elapsed();
    }

    /// Names each block compiled from now on in /tmp/perf-PID.map, where
    /// `perf report` finds symbols for JIT code.
    pub fn write_perf_map(&mut self) -> std::io::Result<()> {
        let path = format!("/tmp/perf-{}.map", std::process::id());
        self.perf_map = Some(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
        Ok(())
    }

    /// The last blocks the dispatcher ran (linked compiled blocks between
    /// them are not seen), oldest first.
    pub fn recent_blocks(&self) -> Vec<u64> {
        let n = (self.stats.blocks_run as usize).min(RECENT_BLOCKS);
        (0..n).map(|i| self.recent[(self.recent_next + RECENT_BLOCKS - n + i) % RECENT_BLOCKS]).collect()
    }

    fn translate(&mut self, mem: &mut GuestMemory, key: Key) -> Result<Rc<Translation>, Fault> {
        let started = Instant::now();
        let rip = key.addr;
        let Prepared { ranges, block, code } = prepare(self.frontend, mem, key, self.frontend.max_instructions())?;
        let mut targets = Vec::new();
        for a in block.insts.iter().flat_map(|i| i.direct_targets()) {
            if !targets.contains(&a) {
                targets.push(a);
            }
        }
        let links = targets.iter().map(|_| Cell::new(0)).collect();
        // Only the JIT engine compiles at once; the tiered engine lifts a
        // block again when it is hot, rather than keep every block's V-ISA.
        let keep = (self.jit.is_some() && self.kind == EngineKind::Jit).then_some(block);
        // What a later lift for the JIT is checked against.
        let code_hash = if self.jit.is_some() { code_hash(mem, &ranges) } else { 0 };
        let t = self.cache.insert(Translation {
            addr: rip,
            mode: key.mode,
            ranges,
            code_hash,
            guest_insts: code.guest_insts(),
            code,
            block: keep.into(),
            jit: None.into(),
            runs: 0.into(),
            jit_failed: false.into(),
            targets,
            links,
            incoming: Vec::new().into(),
        });
        self.stats.blocks_translated += 1;
        self.stats.translate_time += started.elapsed();
        Ok(t)
    }

    /// Takes a dropped block's own cells out of its successors' lists.
    fn forget_links(&self, t: &Translation) {
        for (target, cell) in t.targets.iter().zip(t.links.iter()) {
            if cell.get() != 0
                && let Some(next) = self.cache.peek(Key { addr: *target, mode: t.mode })
            {
                next.incoming.borrow_mut().retain(|c| !std::ptr::eq(*c, cell));
            }
        }
    }

    /// Drops translations of code the guest wrote, unlinks their compiled
    /// code, and re-marks the code that survives on the same pages.
    fn invalidate(&mut self, mem: &mut GuestMemory) {
        for line in mem.take_code_writes() {
            let start = line * LINE_SIZE;
            let page = start / PAGE_SIZE;
            let mut survivors = Vec::new();
            let dropped =
                self.cache.invalidate_range(start, start + LINE_SIZE, |addr, bytes| survivors.push((addr, bytes)));
            for t in &dropped {
                unlink_incoming(t);
                self.forget_links(t);
            }
            if !dropped.is_empty() {
                self.ind_table.fill(crate::jit::IND_EMPTY);
            }
            self.stats.invalidations += dropped.len() as u64;
            mem.unmark_page(page);
            for (addr, bytes) in survivors {
                mem.mark_code(addr, bytes);
            }
        }
    }

    /// After compiled code left for `next`: link the exit (or fill the
    /// indirect-jump table) if `next` has compiled code.
    fn link(&mut self, outcome: &Outcome, exit_link: usize, mode: u32) {
        let (next, indirect) = match outcome {
            Outcome::Jump(n) => (*n, false),
            Outcome::Indirect(n) => (*n, true),
            _ => return,
        };
        let Some(target) = self.cache.peek(Key { addr: next, mode }).cloned() else { return };
        let Some(entry) = self.compiled_entry(&target) else { return };
        if indirect {
            self.ind_table[crate::jit::ind_slot(next)] = crate::jit::IndEntry { guest: next, code: entry as u64 };
        } else if exit_link != 0 {
            let cell = exit_link as *const Cell<u64>;
            // SAFETY: the cell belongs to the block whose code just ran: it
            // is alive (dropped blocks are unlinked and never run again).
            unsafe { (*cell).set(entry as u64) };
            target.incoming.borrow_mut().push(cell);
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
        let code = prepare(self.frontend, mem, key, max as usize)?.code;
        self.stats.translate_time += started.elapsed();
        let outcome = interp::run(&code, cpu.as_bytes_mut(), mem, helpers, &mut self.scratch);
        self.stats.guest_insts += self.scratch.executed as u64;
        Ok(outcome)
    }

    /// Runs from `cpu.rip` until a stop, or until exactly `budget` guest
    /// instructions have run (a block that would run past the budget is
    /// translated again, cut short, for the last instructions).
    pub fn run(&mut self, cpu: &mut CpuState, mem: &mut GuestMemory, helpers: &mut dyn Helpers, budget: u64) -> Stop {
        let started = Instant::now();
        let limit = self.stats.guest_insts.saturating_add(budget);
        let stop = loop {
            if self.stats.guest_insts >= limit {
                break Stop::Budget;
            }
            if helpers.stop_requested() {
                break Stop::Requested;
            }
            if self.interrupt.take() {
                break Stop::Interrupted;
            }
            // Another thread sharing the memory may have written code.
            if mem.code_written() {
                self.invalidate(mem);
            }
            let rip = cpu.rip;
            self.protected = mem.has_protection();
            let mode = self.frontend.mode(cpu);
            if mode != self.mode {
                // Indirect-jump entries are for the old mode's blocks.
                self.ind_table.fill(crate::jit::IND_EMPTY);
                self.mode = mode;
            }
            let key = Key { addr: rip, mode };
            let t = match self.cache.get(key) {
                Some(t) => {
                    self.stats.cache_hits += 1;
                    t
                }
                None => match self.translate(mem, key) {
                    Ok(t) => t,
                    Err(f) => break Stop::Fault(f),
                },
            };
            self.recent[self.recent_next] = rip;
            self.recent_next = (self.recent_next + 1) % RECENT_BLOCKS;
            self.stats.blocks_run += 1;
            let remaining = limit - self.stats.guest_insts;
            let fits = t.guest_insts as u64 <= remaining;
            if fits {
                self.maybe_compile(mem, &t);
            }
            let outcome = if !fits {
                match self.run_within(cpu, mem, helpers, key, remaining) {
                    Ok(outcome) => outcome,
                    Err(f) => break Stop::Fault(f),
                }
            } else if let Some(entry) = self.compiled_entry(&t) {
                self.stats.jit_runs += 1;
                let allowance = remaining.min(i64::MAX as u64) as i64;
                let jit = self.jit.as_ref().expect("compiled code has a JIT");
                let code = t.jit.borrow();
                let code = code.as_ref().filter(|c| c.entry == entry).expect("current code");
                let env = crate::jit::RunEnv {
                    state: cpu.as_bytes_mut(),
                    mem,
                    helpers,
                    budget: allowance,
                    ind_table: self.ind_table.as_ptr(),
                    interrupt: self.interrupt.word(),
                };
                // SAFETY: the state record is the x86 Env's; the code and the
                // table hold only current-generation code.
                let (outcome, left, exit_link) = unsafe { jit.run(code, env) };
                self.stats.guest_insts += (allowance - left) as u64;
                if !mem.code_written() {
                    self.link(&outcome, exit_link, mode);
                }
                outcome
            } else {
                t.runs.set(t.runs.get().saturating_add(1));
                let outcome = interp::run(&t.code, cpu.as_bytes_mut(), mem, helpers, &mut self.scratch);
                self.stats.guest_insts += self.scratch.executed as u64;
                outcome
            };
            if mem.code_written() {
                self.invalidate(mem);
            }
            match outcome {
                Outcome::Jump(next) | Outcome::Indirect(next) => cpu.rip = next,
                Outcome::Exit(ExitReason::Undefined, at) => {
                    cpu.rip = at;
                    break Stop::Fault(Fault { vector: 6, rip: at, addr: None });
                }
                Outcome::Exit(ExitReason::Yield, resume) => cpu.rip = resume,
                Outcome::Exit(reason, resume) => {
                    cpu.rip = resume;
                    break Stop::Exit(reason);
                }
                Outcome::Trap(trap) => {
                    cpu.rip = trap.guest;
                    break Stop::Fault(Fault {
                        vector: self.frontend.exception_vector(trap.code),
                        rip: trap.guest,
                        addr: trap.fault_addr,
                    });
                }
            }
        };
        self.stats.run_time += started.elapsed();
        stop
    }
}
