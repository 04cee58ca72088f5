//! What the engines of one process share: the translation cache, the JIT
//! with its code region, and the registry of engines that changes to them
//! wait for.
//!
//! Each engine looks translations up in its own front table (and compiled
//! code in its own indirect-jump table) without a lock; lookups, links and
//! invalidations take the cache's lock, compilation the compiler's, and
//! translating a missed block the translator's, so that a block is
//! translated once whichever threads miss it together. Locks are taken in
//! the order translator, compiler, cache, registry, the compiler thread's
//! counters, compile queue, the persistent cache's. The compiler thread (`background`) takes the
//! compiler's lock (and under it the cache's and its counters') only to
//! place and install code, and the queue's alone.
//!
//! Dropping translations (the guest wrote their code, or unmapped it) and
//! flushing the full code region are stop-the-world: the changer, holding
//! the cache's lock, advances the epoch, asks every other engine back
//! (its interrupt word), and waits until none is in compiled code before it
//! changes anything. An engine announces that it is in compiled code before
//! it enters and then checks that the epoch is still the one it looked its
//! block up in (else it looks again), and it clears its tables when it sees
//! a new epoch. So no thread ever runs the code of, or reads or writes the
//! link cells of, a translation that is gone, and single-threaded programs
//! pay nothing for it but an uncontended lock on a miss.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::ThreadId;

use super::background::{Background, QueueHold};
use super::cache::{Cache, Translation};
use super::{Compile, EngineKind, Stats, lock};
use crate::jit::{Jit, Trampoline};

/// The host compiler and where it announces code to `perf`.
pub(super) struct Compiler {
    pub jit: Jit,
    pub perf_map: Option<crate::system::host_fds::OwnFd>,
}

impl Compiler {
    /// Makes `code` the host code of `t` (which the caller found in the
    /// cache), counting it in `installed` first, so that an engine that
    /// sees the code sees the count.
    pub fn install(&mut self, installed: &AtomicU64, t: &Translation, code: crate::jit::Compiled) {
        if let Some(map) = self.perf_map.as_mut() {
            use std::io::Write;
            // perf's JIT symbol map: START SIZE NAME, in hex.
            let _ = writeln!(map, "{:x} {:x} guest_{:#x}", code.entry as usize, code.code_size, t.addr);
        }
        installed.fetch_add(1, Ordering::Release);
        let _ = t.jit.set(code);
    }
}

/// One engine as the others see it.
pub(super) struct Presence {
    /// Between announcing compiled code and leaving it.
    pub in_code: AtomicBool,
    /// Asks the engine back within one block.
    interrupt: &'static AtomicU32,
    /// The host thread it runs on (the one that survives a fork).
    thread: ThreadId,
    /// Its counters as of its last return from `Engine::run`.
    pub stats: Mutex<Stats>,
}

/// The default bound of translation memory (`--tb-size`): translations
/// and the code region together.
pub const DEFAULT_TB_SIZE: u64 = 256 << 20;

/// The smallest and largest `--tb-size`.
pub const TB_SIZE_RANGE: std::ops::RangeInclusive<u64> = (1 << 20)..=(16 << 30);

/// The translations, compiled code and engines of one process.
pub struct Shared {
    pub(super) kind: EngineKind,
    pub(super) cache: Mutex<Cache>,
    /// Held while a missed block is translated.
    pub(super) translator: Mutex<()>,
    /// Bytes the translations may take (`Cache::bytes`) before they are
    /// all dropped, and the most they have taken.
    pub(super) translation_limit: usize,
    pub(super) translation_peak: std::sync::atomic::AtomicUsize,
    /// None for the interpreter, or when the host gives no JIT.
    pub(super) compiler: Option<Mutex<Compiler>>,
    pub(super) trampoline: Option<Arc<OnceLock<Trampoline>>>,
    /// The compiler thread's queue (the tiered engine compiling in the
    /// background), its counters, and its request that an engine flush the
    /// full code region.
    pub(super) background: Option<Arc<Background>>,
    background_stats: Mutex<Stats>,
    pub(super) flush_wanted: AtomicBool,
    /// Advanced by every change that drops translations or code.
    pub(super) epoch: AtomicU64,
    /// Blocks compiled so far (an engine that sees more than when it last
    /// looked runs code another thread may have written).
    pub(super) installed: AtomicU64,
    /// The process has had more than one thread.
    threaded: AtomicBool,
    /// Compiled code fences guest accesses once threaded (a host that
    /// orders memory more weakly than x86).
    fences: bool,
    /// Compiled code may rely on the host's page protection for guest
    /// loads and stores (`Setup::host_perms`), until guest memory stops
    /// mirroring it.
    host_checks: AtomicBool,
    engines: Mutex<Vec<Arc<Presence>>>,
    /// Counters of the engines that have ended.
    ended: Mutex<Stats>,
    /// Why there is no JIT, when one was asked for.
    pub jit_unavailable: Option<String>,
    /// The persistent translation cache, when one is in use.
    pub(super) disk: std::sync::OnceLock<Arc<crate::pcache::DiskCache>>,
}

impl Shared {
    /// Translation state for engines of `kind` whose translations and
    /// compiled code take at most about `tb_size` bytes (`TB_SIZE_RANGE`):
    /// a quarter for the code region, the rest for translations.
    pub fn new(kind: EngineKind, tb_size: u64, compile: Compile) -> Arc<Shared> {
        let tb_size = tb_size.clamp(*TB_SIZE_RANGE.start(), *TB_SIZE_RANGE.end()) as usize;
        Shared::with_limits(kind, tb_size / 4, tb_size - tb_size / 4, compile)
    }

    /// Translation state with a code region of `code_size` bytes (if the
    /// engines compile) and `translation_limit` bytes of translations.
    /// `compile` matters to the tiered engine only (the JIT engine compiles
    /// a block before its first run).
    pub fn with_limits(kind: EngineKind, code_size: usize, translation_limit: usize, compile: Compile) -> Arc<Shared> {
        let (mut compiler, mut trampoline, mut jit_unavailable, mut fences) = (None, None, None, false);
        if kind != EngineKind::Interp {
            match Jit::new(code_size) {
                Ok(jit) => {
                    trampoline = Some(jit.trampoline());
                    fences = jit.needs_tso_fences();
                    compiler = Some(Mutex::new(Compiler { jit, perf_map: None }));
                }
                Err(e) => jit_unavailable = Some(e),
            }
        }
        let tiered = matches!(kind, EngineKind::Tiered { .. });
        let background = (tiered && compiler.is_some() && compile == Compile::Background).then(Background::new);
        Arc::new(Shared {
            kind,
            cache: Mutex::default(),
            translator: Mutex::default(),
            translation_limit,
            translation_peak: Default::default(),
            compiler,
            trampoline,
            background,
            background_stats: Mutex::default(),
            flush_wanted: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            installed: AtomicU64::new(0),
            threaded: AtomicBool::new(false),
            fences,
            host_checks: AtomicBool::new(false),
            engines: Mutex::default(),
            ended: Mutex::default(),
            jit_unavailable,
            disk: std::sync::OnceLock::new(),
        })
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// Bytes of translations now, at most so far, and the bound.
    pub fn translation_memory(&self) -> (usize, usize, usize) {
        let now = lock(&self.cache).bytes();
        (now, self.translation_peak.load(Ordering::Relaxed).max(now), self.translation_limit)
    }

    /// Must code compiled now fence guest accesses?
    pub(super) fn tso_fences(&self) -> bool {
        self.fences && self.threaded.load(Ordering::Relaxed)
    }

    /// A second thread is about to share guest memory. On a host that
    /// orders memory more weakly than x86, the code compiled so far (without
    /// fences) is dropped (the translations stay), so that every block runs
    /// with them from now on;
    /// single-threaded programs never pay for fences.
    pub fn going_threaded(&self) {
        if self.threaded.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.fences {
            self.drop_compiled();
        }
    }

    /// Code compiled from now on relies on the host's page protection for
    /// guest loads and stores (`jit::Setup::host_perms`).
    pub(super) fn use_host_checks(&self) {
        self.host_checks.store(true, Ordering::SeqCst);
    }

    /// Guest memory no longer mirrors page permissions on the host
    /// (`GuestMemory::stop_mirroring`): the compiled code that relied on
    /// it is dropped (the translations stay, to be compiled again).
    pub fn leave_checks_to_software(&self) {
        if self.host_checks.swap(false, Ordering::SeqCst) {
            self.drop_compiled();
        }
    }

    /// Drops every compiled block; the translations stay.
    fn drop_compiled(&self) {
        let Some(compiler) = self.compiler.as_ref() else { return };
        let mut compiler = lock(compiler);
        let mut cache = lock(&self.cache);
        self.stop_the_world(&cache, None);
        compiler.jit.flush();
        cache.drop_compiled();
        self.drop_queued();
    }

    /// Forgets the blocks waiting for the compiler thread (their
    /// translations were all just dropped).
    pub(super) fn drop_queued(&self) {
        if let Some(background) = &self.background {
            background.hold().clear();
        }
    }

    /// Does the tiered engine compile on the compiler thread?
    pub fn compiles_in_background(&self) -> bool {
        self.background.is_some()
    }

    /// Waits until the compiler thread has dealt with every block queued
    /// so far (at once without one).
    pub fn wait_for_compiler(&self) {
        if let Some(background) = &self.background {
            background.wait_idle();
        }
    }

    /// Adds the compiler thread's counters of one block.
    pub(super) fn add_background(&self, stats: &Stats) {
        *lock(&self.background_stats) += stats;
    }

    pub(super) fn join(&self, interrupt: &'static AtomicU32) -> Arc<Presence> {
        let presence = Arc::new(Presence {
            in_code: AtomicBool::new(false),
            interrupt,
            thread: std::thread::current().id(),
            stats: Mutex::default(),
        });
        lock(&self.engines).push(presence.clone());
        presence
    }

    /// An engine leaves for good: its counters join the process's.
    pub(super) fn leave(&self, presence: &Arc<Presence>, stats: &Stats) {
        lock(&self.engines).retain(|p| !Arc::ptr_eq(p, presence));
        *lock(&self.ended) += stats;
    }

    /// Counters of every engine of the process: those that ended, those
    /// running as of their last return, and `own` (the caller's, current)
    /// in place of `me`'s.
    pub(super) fn process_stats(&self, me: &Arc<Presence>, own: &Stats) -> Stats {
        let mut total = lock(&self.ended).clone();
        total += &*lock(&self.background_stats);
        for p in lock(&self.engines).iter() {
            if Arc::ptr_eq(p, me) {
                total += own;
            } else {
                total += &*lock(&p.stats);
            }
        }
        total
    }

    /// Stops the world for a change to the cache (whose lock the caller
    /// holds): advances the epoch, then asks every engine but `me` (the
    /// caller's, if it has one) back and waits until none is in compiled code.
    pub(super) fn stop_the_world(&self, _cache: &MutexGuard<'_, Cache>, me: Option<&Presence>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let others: Vec<Arc<Presence>> =
            lock(&self.engines).iter().filter(|p| !me.is_some_and(|me| std::ptr::eq(&***p, me))).cloned().collect();
        for p in &others {
            p.interrupt.store(1, Ordering::SeqCst);
        }
        for p in &others {
            while p.in_code.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
    }

    /// Holds every lock of the translation state across a host fork (so
    /// that no thread that is gone in the child holds one there). The
    /// compiler thread holds none of them while it generates code, so this
    /// waits at most for it to place and install one block.
    pub fn hold_for_fork(&self) -> ForkHold<'_> {
        ForkHold {
            _translator: lock(&self.translator),
            _compiler: self.compiler.as_ref().map(lock),
            _cache: lock(&self.cache),
            engines: lock(&self.engines),
            _counters: lock(&self.background_stats),
            queue: self.background.as_ref().map(|b| b.hold()),
            disk: self.disk.get().map(|d| d.hold_for_fork()),
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(background) = &self.background {
            background.close();
        }
    }
}

/// The translation state's locks, held across a fork.
pub struct ForkHold<'a> {
    _translator: MutexGuard<'a, ()>,
    _compiler: Option<MutexGuard<'a, Compiler>>,
    _cache: MutexGuard<'a, Cache>,
    engines: MutexGuard<'a, Vec<Arc<Presence>>>,
    _counters: MutexGuard<'a, Stats>,
    queue: Option<QueueHold<'a>>,
    disk: Option<crate::pcache::Held<'a>>,
}

impl ForkHold<'_> {
    /// In the child: only the calling thread's engine goes on, and the
    /// compiler thread is gone with what it was to compile.
    pub fn child(mut self) {
        let me = std::thread::current().id();
        self.engines.retain(|p| p.thread == me);
        if let Some(queue) = self.queue.take() {
            queue.child();
        }
        if let Some(disk) = self.disk.take() {
            disk.child();
        }
    }
}

/// A translation a compiled block may run: present in the cache in the
/// epoch it was looked up in.
pub(super) fn can_enter(shared: &Shared, presence: &Presence, seen: u64) -> bool {
    presence.in_code.store(true, Ordering::SeqCst);
    if shared.epoch.load(Ordering::SeqCst) == seen {
        return true;
    }
    presence.in_code.store(false, Ordering::SeqCst);
    false
}

/// Unused translations of the cache hold nothing the engine needs; the
/// running one is put back after a flush.
pub(super) fn keep_after_flush(cache: &mut Cache, running: &Arc<Translation>) {
    for cell in running.links.iter() {
        cell.store(0, Ordering::Relaxed);
    }
    lock(&running.incoming).clear();
    cache.put_back(running.clone());
}
