//! The engine's side of the persistent translation cache (`pcache`): a
//! block about to be translated is first looked for there, by its guest
//! address, and taken when guest memory holds the bytes it was made from
//! (its V-ISA decoded and verified, and its host code, if an earlier run
//! compiled it for this host and these options, installed at once); a
//! block translated or compiled here that the cache lacked is kept to be
//! written when the process ends. An engine with a debugger (which cuts
//! blocks at breakpoints) neither takes nor keeps blocks; one with an
//! execution log or a profile takes none, so that what it reports stays
//! reproducible.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::cache::{Key, Translation};
use super::shared::Shared;
use super::{Engine, EngineKind, Prepared, Stats, lock};
use crate::frontend::CodeSource;
use crate::jit::{Generated, JitError, Setup};
use crate::machine::{CpuState, GuestMemory};
use crate::pcache::{DiskCache, Found, Stored, StoredCode};
use crate::visa::{Block, Env};

impl Shared {
    /// Keeps translations in `dir` across runs, at most `limit` bytes of
    /// them (once per process).
    pub fn use_disk_cache(&self, dir: PathBuf, limit: u64) {
        let isa = self.compiler.as_ref().map(|c| lock(c).jit.isa());
        let _ = self.disk.set(Arc::new(DiskCache::new(dir, limit, isa.as_deref())));
    }

    /// The persistent cache in use, if any.
    pub fn disk_cache(&self) -> Option<&DiskCache> {
        self.disk.get().map(|d| &**d)
    }

    /// Writes what the process translated and compiled that the persistent
    /// cache lacks (at its end, or before it execs another program).
    pub fn save_disk_cache(&self) {
        if let Some(disk) = self.disk_cache() {
            disk.save();
        }
    }
}

/// A tiered engine's blocks that ran at least this share of its threshold
/// without being compiled are compiled for the cache when the process
/// ends (`Engine::save_disk_cache`), hottest first ...
const WARM_SHARE: u32 = 4;

/// ... for at most this share of the time the engine ran, and a second.
const SAVE_SHARE: u32 = 8;
const SAVE_MOST: Duration = Duration::from_secs(1);

/// Keeps the host code generated for `t`'s block (`block`, compiled with
/// `setup`) for the persistent cache, if one is in use.
pub(super) fn store(shared: &Shared, env: &Env, block: &Block, t: &Translation, setup: Setup<'_>, code: &Generated) {
    let Some(disk) = shared.disk_cache() else { return };
    let Some(tag) = disk.host_tag(setup.protected, setup.tso, setup.host_perms) else { return };
    // A compiled form ended at a side exit (`shape`) is not the block the
    // cache keeps (its V-ISA would not match): the cache keeps none.
    if t.ended_at(block).is_some() {
        return;
    }
    let mut visa = Vec::with_capacity(16 + block.insts.len() * 4);
    crate::visa::codec::encode_body(block, &mut visa);
    let code = StoredCode { tag, cells: setup.cells.len() as u32, code: code.code.clone() };
    disk.note_code(env, t.mode, t.addr, visa, code);
}

/// The guest bytes of `ranges`, one range after the other (none if any is
/// not all there).
fn guest_bytes(mem: &GuestMemory, ranges: &[(u64, u64)]) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; ranges.iter().map(|r| r.1 as usize).sum()];
    let mut at = 0;
    for &(start, len) in ranges {
        let part = &mut bytes[at..at + len as usize];
        if mem.fetch(start, part) != part.len() {
            return None;
        }
        at += len as usize;
    }
    Some(bytes)
}

/// Does guest memory hold `bytes` at `ranges`?
fn holds(mem: &GuestMemory, ranges: &[(u64, u64)], bytes: &[u8]) -> bool {
    let mut at = 0;
    let mut buf = [0u8; 64];
    for &(start, len) in ranges {
        let mut done = 0;
        while done < len as usize {
            let n = (len as usize - done).min(buf.len());
            let Some(want) = bytes.get(at..at + n) else { return false };
            if mem.fetch(start + done as u64, &mut buf[..n]) != n || buf[..n] != *want {
                return false;
            }
            done += n;
            at += n;
        }
    }
    at == bytes.len()
}

impl Engine {
    /// Before the process ends (its memory `mem` still there): compiles
    /// for the persistent cache the blocks that were warm but not hot
    /// (`WARM_SHARE`), within a bounded time, so that a later run runs them
    /// compiled; then writes what the process kept for the cache.
    pub fn save_disk_cache(&mut self, mem: &GuestMemory) {
        self.compile_for_disk(mem);
        self.shared.save_disk_cache();
    }

    fn compile_for_disk(&mut self, mem: &GuestMemory) {
        let EngineKind::Tiered { threshold } = self.shared.kind else { return };
        let (Some(compiler), true) = (self.shared.compiler.as_ref(), self.disk_use().1) else { return };
        let least = (threshold / WARM_SHARE).max(1);
        let cache = lock(&self.shared.cache);
        let mut warm: Vec<Arc<Translation>> = cache
            .translations()
            .filter(|t| t.jit.get().is_none() && !t.jit_failed.load(Ordering::Relaxed))
            .filter(|t| t.runs.load(Ordering::Relaxed) >= least)
            .cloned()
            .collect();
        drop(cache);
        warm.sort_unstable_by_key(|t| std::cmp::Reverse(t.runs.load(Ordering::Relaxed)));
        let budget = (self.stats.run_time / SAVE_SHARE).min(SAVE_MOST);
        let started = Instant::now();
        let isa = lock(compiler).jit.isa();
        let env = self.frontend.env();
        for t in warm {
            if started.elapsed() >= budget {
                break;
            }
            let Some(block) = self.relift(mem, &t, None) else { continue };
            let cells = t.cells_for(&block);
            let setup = Setup {
                cells: &cells,
                protected: self.protected,
                tso: self.shared.tso_fences(),
                host_perms: self.host_perms,
            };
            if let Ok(code) = crate::jit::generate(&isa, env, &block, setup) {
                store(&self.shared, env, &block, &t, setup, &code);
                self.stats.disk_compiled += 1;
            }
        }
        self.stats.compile_time += started.elapsed();
    }

    /// Does this engine use the persistent cache's blocks (`take`), or keep
    /// its own for it (`keep`)?
    fn disk_use(&self) -> (bool, bool) {
        let keep = self.shared.disk.get().is_some() && self.debug.is_none();
        (keep && self.log.is_none() && self.profile.is_none(), keep)
    }

    /// The block at `key` as an earlier run translated it, made ready to
    /// run, with the host code it stored for it (ready to link once the
    /// block has its cells); none if the cache has no block there for the
    /// guest bytes there now.
    pub(super) fn take_stored(&mut self, mem: &mut GuestMemory, key: Key) -> Option<(Prepared, Option<Generated>)> {
        if !self.disk_use().0 {
            return None;
        }
        let disk = self.shared.disk.get()?.clone();
        let env = self.frontend.env();
        let stored = match disk.find(env, key.mode, key.addr) {
            Found::Hit(stored) => stored,
            Found::Miss => {
                self.stats.disk_misses += 1;
                return None;
            }
            Found::Rejected => {
                self.stats.disk_rejected += 1;
                return None;
            }
        };
        if stored.ranges.first().map(|r| r.0) != Some(key.addr) || !holds(mem, &stored.ranges, &stored.bytes) {
            // Other code at the same address (rewritten, or another program).
            self.stats.disk_misses += 1;
            return None;
        }
        let block = match decode(env, &stored) {
            Ok(block) => block,
            Err(why) => {
                eprintln!("visa: ignoring the cached block at {:#x}: {why}", key.addr);
                self.stats.disk_rejected += 1;
                return None;
            }
        };
        for &(at, len) in &stored.ranges {
            mem.mark_code(at, len);
        }
        let tag = disk.host_tag(self.protected, self.shared.tso_fences(), self.host_perms);
        let code = stored.code.as_ref().filter(|c| Some(c.tag) == tag).and_then(|c| {
            crate::jit::restore(&block, c.code.clone()).map_err(|e| reject(&mut self.stats, key.addr, &e)).ok()
        });
        self.stats.disk_hits += 1;
        let compiled = crate::interp::compile(env, &block, std::mem::size_of::<CpuState>()).ok()?;
        Some((Prepared { ranges: stored.ranges.clone(), block, code: compiled }, code))
    }

    /// Keeps a block just translated (the cache did not have it) for the
    /// persistent cache.
    pub(super) fn keep_translated(&self, mem: &GuestMemory, key: Key, prepared: &Prepared) {
        if !self.disk_use().1 {
            return;
        }
        let Some(disk) = self.shared.disk.get() else { return };
        let Some(bytes) = guest_bytes(mem, &prepared.ranges) else { return };
        let mut visa = Vec::with_capacity(16 + prepared.block.insts.len() * 4);
        crate::visa::codec::encode_body(&prepared.block, &mut visa);
        disk.note_block(
            self.frontend.env(),
            key.mode,
            Stored { addr: key.addr, ranges: prepared.ranges.clone(), bytes, visa, code: None },
        );
    }

    /// Installs stored code as `t`'s host code (just translated, so its
    /// cells are unlinked). A full code region leaves `t` to be compiled
    /// as any block is, after a flush.
    pub(super) fn install_stored(&mut self, t: &Arc<Translation>, stored: Generated) {
        let Some(compiler) = self.shared.compiler.as_ref() else { return };
        let generated = stored.with_cells(&t.link_addrs());
        let mut compiler = lock(compiler);
        let cache = lock(&self.shared.cache);
        if !cache.holds(t) || t.jit.get().is_some() {
            return;
        }
        match compiler.jit.place(generated) {
            Ok(code) => {
                self.stats.disk_code_hits += 1;
                self.stats.jit_code_bytes += code.code_size as u64;
                compiler.install(&self.shared.installed, t, code);
            }
            Err(JitError::Full) => {}
            Err(e) => reject(&mut self.stats, t.addr, &e),
        }
    }
}

/// A stored block's V-ISA, decoded and verified.
fn decode(env: &Env, stored: &Stored) -> Result<Block, String> {
    let block = crate::visa::codec::decode_body(env, &stored.visa).map_err(|e| e.to_string())?;
    if block.addr != stored.addr {
        return Err(format!("its V-ISA is of the block at {:#x}", block.addr));
    }
    crate::visa::verify(env, &block).map_err(|e| e.to_string())?;
    Ok(block)
}

/// Stored code that does not link (a record out of bounds, a target the
/// block does not have) is not used, with one line on stderr.
fn reject(stats: &mut Stats, addr: u64, e: &JitError) {
    eprintln!("visa: ignoring cached code of the block at {addr:#x}: {e}");
    stats.disk_rejected += 1;
}
