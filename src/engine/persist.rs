//! The engine's side of the persistent translation cache (`pcache`): a
//! block just translated takes the host code an earlier run stored for it
//! (so a block that was hot then runs compiled from its first run), and a
//! block compiled here is stored for later runs. An observed engine (an
//! execution log, a profile, a debugger) takes nothing from the cache, so
//! that what it reports stays reproducible; it still stores.

use std::path::PathBuf;
use std::sync::Arc;

use super::cache::Translation;
use super::shared::Shared;
use super::{Engine, Stats, lock};
use crate::jit::{Generated, JitError, Setup};
use crate::pcache::{DiskCache, Found};
use crate::visa::{Block, Env};

impl Shared {
    /// Keeps compiled code in `dir` across runs, at most `limit` bytes of
    /// it (nothing without a JIT; once per process).
    pub fn use_disk_cache(&self, dir: PathBuf, limit: u64) {
        let Some(compiler) = self.compiler.as_ref() else { return };
        let isa = lock(compiler).jit.isa();
        let _ = self.disk.set(Arc::new(DiskCache::new(dir, limit, &*isa)));
    }

    /// The persistent cache in use, if any.
    pub fn disk_cache(&self) -> Option<&DiskCache> {
        self.disk.get().map(|d| &**d)
    }
}

/// Stores the code generated for `t`'s block (`block`, compiled with
/// `setup`) in the persistent cache, if one is in use.
pub(super) fn store(
    shared: &Shared,
    env: &Env,
    block: &Block,
    t: &Translation,
    setup: Setup<'_>,
    code: &Generated,
    stats: &mut Stats,
) {
    let Some(disk) = shared.disk_cache() else { return };
    let key = disk.key(env, block, &t.targets, setup.protected, setup.tso);
    if disk.store(&key, &code.code, t.targets.len()) {
        stats.disk_stores += 1;
    }
}

impl Engine {
    /// Code stored for `block` (whose direct targets are `targets`) by an
    /// earlier run, ready to link once the block has its cells.
    pub(super) fn find_stored(&mut self, block: &Block, targets: &[u64]) -> Option<Generated> {
        let disk = self.shared.disk.get()?;
        if self.log.is_some() || self.profile.is_some() || self.debug.is_some() {
            return None;
        }
        let key = disk.key(self.frontend.env(), block, targets, self.protected, self.shared.tso_fences());
        match disk.load(&key, targets.len()) {
            Found::Hit(code) => match crate::jit::restore(block, code) {
                Ok(generated) => return Some(generated),
                Err(e) => reject(&mut self.stats, block.addr, &e),
            },
            Found::Miss => self.stats.disk_misses += 1,
            Found::Rejected => self.stats.disk_rejected += 1,
        }
        None
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
                self.stats.disk_hits += 1;
                self.stats.jit_code_bytes += code.code_size as u64;
                compiler.install(&self.shared.installed, t, code);
            }
            Err(JitError::Full) => self.stats.disk_misses += 1,
            Err(e) => reject(&mut self.stats, t.addr, &e),
        }
    }
}

/// Stored code that does not link (a record out of bounds, a target the
/// block does not have) is not used, with one line on stderr.
fn reject(stats: &mut Stats, addr: u64, e: &JitError) {
    eprintln!("visa: ignoring cached code of the block at {addr:#x}: {e}");
    stats.disk_rejected += 1;
}
