//! The persistent translation cache: blocks translated in one run kept in
//! files for later runs (LLVA's offline translation), so that a later run
//! takes a block's optimised V-ISA, and the host code of a block that was
//! hot, instead of lifting, optimising and compiling it again.
//!
//! Blocks are filed by where they start: one file per region of guest
//! addresses (`REGION_BITS`) and mode, named by a 128-bit hash of the
//! region, the mode (which holds the processor model), the fingerprint of
//! the frontend's Env and what every entry depends on: the format, visa's
//! own build (a hash of its sources, so that a changed lifter, optimiser,
//! lowering or runtime never meets old entries) and the V-ISA opcode table. So a block's file is known before
//! it is decoded. An entry holds the guest bytes the block was made from,
//! and is used only where guest memory holds the same bytes now; host code
//! carries a tag of the host ISA, Cranelift's flags and the code options
//! (page-permission checks, fences) it was compiled for.
//!
//! The directory is listed once per process, when a block is first looked
//! up; a region's file is read when a block in it is first looked up, and
//! validated before use (`format`): a corrupt, truncated or stale file is
//! ignored with a one-line warning. What a process translates or compiles
//! that the cache lacks is written when it ends (or execs, or has a
//! bounded amount waiting): each region's file is read again, merged with
//! the new blocks and renamed into place, under a lock that makes writers
//! take turns, so that concurrent processes see the old file or the new,
//! whole. A directory that cannot be made or written is warned about once;
//! the run goes on without storing. The directory is bounded (`evict`).

mod evict;
mod format;
mod hash;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cranelift_codegen::isa::TargetIsa;

pub use format::{Stored, StoredCode};
use hash::Hasher;

use crate::visa::Env;

/// The environment variable that gives the directory, or `off`.
pub const ENV: &str = "VISA_CACHE";

/// A hash of visa's sources and dependencies (see build.rs).
const BUILD_ID: &str = env!("VISA_BUILD_ID");

/// Blocks starting in the same 64 KiB of guest addresses share a file.
const REGION_BITS: u32 = 16;

/// Bytes of new entries a process keeps before it writes them out.
const PENDING_LIMIT: usize = 16 << 20;

/// The file writers hold locked while they merge.
const LOCK: &str = "lock";

/// What a lookup found.
pub enum Found {
    Hit(Stored),
    Miss,
    /// The region's file was there but unusable (a warning was printed).
    Rejected,
}

/// A region: the fingerprint of the Env blocks are lifted against, the
/// mode and the address bits above `REGION_BITS`.
type Region = (u64, u32, u64);

/// A region file, and where each of its blocks starts, by address.
#[derive(Default)]
struct Blocks {
    file: Vec<u8>,
    index: HashMap<u64, usize>,
}

/// What a process has read of the directory and has yet to write to it.
#[derive(Default)]
pub struct State {
    /// The names of the directory's files, listed at the first lookup.
    names: Option<HashSet<String>>,
    /// Regions looked at (empty: no usable file).
    regions: HashMap<Region, Arc<Blocks>>,
    /// Blocks translated here that no file had, by region and address.
    blocks: HashMap<Region, HashMap<u64, Stored>>,
    /// Host code compiled here, with the V-ISA it was compiled from.
    codes: HashMap<Region, HashMap<u64, (Vec<u8>, StoredCode)>>,
    /// About how many bytes `blocks` and `codes` hold.
    pending: usize,
    /// The fingerprints of the Envs seen, by address (Envs are static).
    envs: Vec<(usize, u64)>,
}

impl State {
    /// The region of `addr` in `mode`, for blocks lifted against `env`.
    fn region(&mut self, env: &Env, mode: u32, addr: u64) -> Region {
        let at = env as *const Env as usize;
        let fingerprint = match self.envs.iter().find(|(e, _)| *e == at) {
            Some((_, f)) => *f,
            None => {
                let f = env.fingerprint();
                self.envs.push((at, f));
                f
            }
        };
        (fingerprint, mode, addr >> REGION_BITS)
    }
}

/// One process's use of a cache directory.
pub struct DiskCache {
    dir: PathBuf,
    limit: u64,
    /// The hash of what every file name shares: format, build, opcode table.
    base: Hasher,
    /// The hash of the host ISA and Cranelift's flags (none: no JIT).
    host: Option<Hasher>,
    state: Mutex<State>,
    /// Held while this process writes (its threads take turns too).
    saving: Mutex<()>,
    /// Bytes stored since the bound was last checked; whether this
    /// process has checked it yet.
    since_sweep: AtomicU64,
    swept: AtomicBool,
    /// Blocks written (new ones, and host code added to stored ones).
    stored: AtomicU64,
    /// A failure to write was warned about.
    warned: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DiskCache {
    /// The cache in `dir` (made when first written), at most `limit` bytes,
    /// holding host code compiled for `isa` (with a JIT).
    pub fn new(dir: PathBuf, limit: u64, isa: Option<&dyn TargetIsa>) -> DiskCache {
        let mut base = Hasher::default();
        base.u64(format::VERSION as u64).field(BUILD_ID.as_bytes());
        base.u64(crate::visa::Opcode::table_fingerprint());
        let host = isa.map(|isa| {
            let mut h = Hasher::default();
            h.field(isa.triple().to_string().as_bytes()).field(isa.flags().to_string().as_bytes());
            for flag in isa.isa_flags() {
                h.field(flag.to_string().as_bytes());
            }
            h
        });
        DiskCache {
            dir,
            limit,
            base,
            host,
            state: Mutex::default(),
            saving: Mutex::default(),
            since_sweep: AtomicU64::new(0),
            swept: AtomicBool::new(false),
            stored: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// The default directory: `$XDG_CACHE_HOME/visa`, else `~/.cache/visa`.
    pub fn default_dir() -> Option<PathBuf> {
        let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute());
        let base = xdg.map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        Some(base.join("visa"))
    }

    /// The tag of host code compiled here with page-permission checks if
    /// `protected`, fences if `tso` and loads and stores the host checks
    /// if `host_perms`; none without a JIT.
    pub fn host_tag(&self, protected: bool, tso: bool, host_perms: bool) -> Option<u64> {
        let mut h = self.host.clone()?;
        Some(h.u64(protected as u64 | (tso as u64) << 1 | (host_perms as u64) << 2).finish64())
    }

    /// Blocks this process has written.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// The file name of a region: its key in hex.
    fn key(&self, (env, mode, region): Region) -> [u8; 16] {
        let mut h = self.base.clone();
        h.u64(env).u64(mode as u64).u64(region);
        h.finish128()
    }

    fn name(key: &[u8; 16]) -> String {
        key.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The block stored for `addr` in `mode`, lifted against `env`, if its
    /// region's file has one. (The caller checks that its guest bytes are
    /// still those in memory.)
    pub fn find(&self, env: &Env, mode: u32, addr: u64) -> Found {
        let mut state = lock(&self.state);
        let region = state.region(env, mode, addr);
        let mut found = Found::Miss;
        let blocks = match state.regions.get(&region) {
            Some(blocks) => blocks.clone(),
            None => {
                let (blocks, rejected) = self.load(&mut state, region);
                if rejected {
                    found = Found::Rejected;
                }
                let blocks = Arc::new(blocks);
                state.regions.insert(region, blocks.clone());
                blocks
            }
        };
        let Some(&at) = blocks.index.get(&addr) else { return found };
        match format::block_at(&blocks.file, at) {
            Ok(block) => Found::Hit(block),
            Err(why) => {
                warn(&self.dir.join(DiskCache::name(&self.key(region))), &why.to_string());
                Found::Rejected
            }
        }
    }

    /// Reads a region's file, if the directory had one when listed; true
    /// with it if the file was unusable.
    fn load(&self, state: &mut State, region: Region) -> (Blocks, bool) {
        let names = state.names.get_or_insert_with(|| list(&self.dir));
        let key = self.key(region);
        let name = DiskCache::name(&key);
        if !names.contains(&name) {
            return (Blocks::default(), false);
        }
        let path = self.dir.join(&name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // Removed since it was listed (by another process's sweep).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Blocks::default(), false),
            Err(e) => {
                warn(&path, &e.to_string());
                return (Blocks::default(), true);
            }
        };
        match format::index(&key, &bytes) {
            Ok(index) => {
                // The eviction order is by time of last use.
                if let Ok(file) = std::fs::File::options().append(true).open(&path) {
                    let _ = file.set_modified(std::time::SystemTime::now());
                }
                (Blocks { file: bytes, index }, false)
            }
            Err(why) => {
                warn(&path, &why.to_string());
                (Blocks::default(), true)
            }
        }
    }

    /// Keeps `block` (lifted against `env` in `mode`, which the cache
    /// lacked) to be written.
    pub fn note_block(&self, env: &Env, mode: u32, block: Stored) {
        let mut state = lock(&self.state);
        state.pending += block.size();
        let region = state.region(env, mode, block.addr);
        state.blocks.entry(region).or_default().insert(block.addr, block);
        self.save_if_full(state);
    }

    /// Keeps host `code` of the block at `addr` in `mode`, compiled from
    /// the V-ISA `visa` (`codec::encode_body`, against `env`), to be written.
    pub fn note_code(&self, env: &Env, mode: u32, addr: u64, visa: Vec<u8>, code: StoredCode) {
        let mut state = lock(&self.state);
        state.pending += visa.len() + code.code.bytes.len() + 24 * code.code.relocs.len();
        let region = state.region(env, mode, addr);
        state.codes.entry(region).or_default().insert(addr, (visa, code));
        self.save_if_full(state);
    }

    fn save_if_full(&self, state: MutexGuard<'_, State>) {
        if state.pending > PENDING_LIMIT {
            drop(state);
            self.save();
        }
    }

    /// Holds what the process has yet to write across a host fork (see
    /// `Held::child`).
    pub fn hold_for_fork(&self) -> Held<'_> {
        let saving = lock(&self.saving);
        Held { _saving: saving, state: lock(&self.state) }
    }

    /// Writes what this process translated or compiled that the cache
    /// lacks. A failure is warned about once; what was not written is
    /// dropped.
    pub fn save(&self) {
        let _turn = lock(&self.saving);
        let (mut blocks, mut codes) = {
            let mut state = lock(&self.state);
            state.pending = 0;
            (std::mem::take(&mut state.blocks), std::mem::take(&mut state.codes))
        };
        if blocks.is_empty() && codes.is_empty() {
            return;
        }
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            return self.warn_unwritable(&e);
        }
        // Writers take turns (a lock that cannot be had only loses merges).
        let lock_file = std::fs::File::options().create(true).append(true).open(self.dir.join(LOCK));
        let lock_file = match lock_file {
            Ok(file) => file,
            Err(e) => return self.warn_unwritable(&e),
        };
        // SAFETY: a descriptor of ours; the lock goes with it.
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock_file), libc::LOCK_EX) };
        let regions: HashSet<Region> = blocks.keys().chain(codes.keys()).copied().collect();
        let mut written = 0;
        for region in regions {
            let key = self.key(region);
            let path = self.dir.join(DiskCache::name(&key));
            let old = std::fs::read(&path).ok().and_then(|b| format::decode(&key, &b).ok()).unwrap_or_default();
            let mut merged: HashMap<u64, Stored> = old.into_iter().map(|b| (b.addr, b)).collect();
            let mut added = 0;
            for (addr, new) in blocks.remove(&region).unwrap_or_default() {
                match merged.get_mut(&addr) {
                    // Another process stored it meanwhile (with code, perhaps).
                    Some(old) if old.bytes == new.bytes && old.visa == new.visa => continue,
                    Some(old) => *old = new,
                    None => _ = merged.insert(addr, new),
                }
                added += 1;
            }
            for (addr, (visa, code)) in codes.remove(&region).unwrap_or_default() {
                if let Some(block) = merged.get_mut(&addr).filter(|b| b.visa == visa && b.code.as_ref() != Some(&code))
                {
                    block.code = Some(code);
                    added += 1;
                }
            }
            if added == 0 {
                continue;
            }
            let mut all: Vec<&Stored> = merged.values().collect();
            all.sort_unstable_by_key(|b| b.addr);
            let bytes = format::encode(&key, &all);
            if let Err(e) = write_atomically(&path, &bytes) {
                self.warn_unwritable(&e);
                break;
            }
            self.stored.fetch_add(added, Ordering::Relaxed);
            written += bytes.len() as u64;
        }
        if written > 0 {
            self.note_stored(written);
        }
    }

    fn warn_unwritable(&self, e: &std::io::Error) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("visa: cannot write the translation cache {}: {e}; going on without storing", self.dir.display());
        }
    }

    /// Keeps the directory within its bound: checked on a process's first
    /// store (when no process checked in the last minute) and after every
    /// sixteenth of the bound it stores.
    fn note_stored(&self, bytes: u64) {
        let since = self.since_sweep.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if since >= self.limit / 16 {
            self.since_sweep.store(0, Ordering::Relaxed);
            evict::sweep(&self.dir, self.limit);
        } else if !self.swept.load(Ordering::Relaxed) && evict::due(&self.dir) {
            evict::sweep(&self.dir, self.limit);
        }
        self.swept.store(true, Ordering::Relaxed);
    }
}

/// What a process has yet to write, held across a fork.
pub struct Held<'a> {
    _saving: MutexGuard<'a, ()>,
    state: MutexGuard<'a, State>,
}

impl Held<'_> {
    /// In the child: what the parent translated is the parent's to write.
    pub fn child(mut self) {
        self.state.blocks.clear();
        self.state.codes.clear();
        self.state.pending = 0;
    }
}

/// The names of the files in `dir` (none if it cannot be read: a cache not
/// made yet).
fn list(dir: &Path) -> HashSet<String> {
    let Ok(files) = std::fs::read_dir(dir) else { return HashSet::new() };
    files.flatten().filter_map(|f| f.file_name().into_string().ok()).collect()
}

/// One line on stderr about a cache file that is not used.
fn warn(path: &Path, why: &str) {
    eprintln!("visa: ignoring cache file {}: {why}", path.display());
}

/// Writes `bytes` to a temporary file beside `path` and renames it there.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().expect("entries are in a directory");
    let name = path.file_name().expect("entries have names").to_string_lossy();
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{}{name}.{}.{serial}", evict::TEMP_PREFIX, std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
