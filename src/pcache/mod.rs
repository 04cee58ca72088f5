//! The persistent translation cache: host code of compiled blocks kept in
//! files across runs, so that a later run installs it instead of compiling
//! (LLVA's offline translation).
//!
//! An entry is named by a 128-bit hash of everything the code depends on:
//! the block's optimised V-ISA in its binary encoding (its guest address and instructions, so the
//! guest bytes and every option that shaped the lifting: mode, processor
//! model, debugger cuts), the V-ISA opcode table and the Env's
//! declarations, the block's direct targets, whether accesses check page
//! permissions and fence for threads, the host ISA with Cranelift's flags,
//! and visa's own build (a hash of its sources, so that a changed lowering
//! or runtime never meets old code). One file per entry, under a directory
//! per first key byte; a file is read only when a block with its key is
//! translated, and validated before use (`format`): a corrupt, truncated or
//! stale file is ignored with a one-line warning.
//!
//! Writers never expose a partial file: an entry is written to a temporary
//! file and renamed into place, so concurrent processes see the old entry
//! or the new, whole. The directory is bounded (`evict`).

mod evict;
mod format;
mod hash;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cranelift_codegen::isa::TargetIsa;

use crate::jit::MachineCode;
use crate::visa::{Block, Env};

use format::{Entry, Invalid};
use hash::Hasher;

/// The environment variable that gives the directory, or `off`.
pub const ENV: &str = "VISA_CACHE";

/// A hash of visa's sources and dependencies (see build.rs).
const BUILD_ID: &str = env!("VISA_BUILD_ID");

/// The name of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key([u8; 16]);

impl Key {
    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a lookup found.
pub enum Found {
    Hit(MachineCode),
    Miss,
    /// A file was there but unusable (a warning was printed).
    Rejected,
}

/// One process's use of a cache directory.
pub struct DiskCache {
    dir: PathBuf,
    limit: u64,
    /// The hash of what every key shares: format, build, host ISA and flags.
    base: Hasher,
    /// Bytes this process stored since it last checked the bound.
    since_sweep: AtomicU64,
    /// Whether this process has checked the bound yet.
    swept: Mutex<bool>,
    /// The fingerprints of the Envs seen, by address.
    envs: Mutex<Vec<(usize, u64)>>,
}

impl DiskCache {
    /// The cache in `dir` (made when first written) for code compiled for
    /// `isa`, at most `limit` bytes.
    pub fn new(dir: PathBuf, limit: u64, isa: &dyn TargetIsa) -> DiskCache {
        let mut base = Hasher::default();
        base.u64(format::VERSION as u64).field(BUILD_ID.as_bytes());
        base.u64(crate::visa::Opcode::table_fingerprint());
        base.field(isa.triple().to_string().as_bytes()).field(isa.flags().to_string().as_bytes());
        for flag in isa.isa_flags() {
            base.field(flag.to_string().as_bytes());
        }
        DiskCache { dir, limit, base, since_sweep: AtomicU64::new(0), swept: Mutex::new(false), envs: Mutex::default() }
    }

    /// The default directory: `$XDG_CACHE_HOME/visa`, else `~/.cache/visa`.
    pub fn default_dir() -> Option<PathBuf> {
        let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute());
        let base = xdg.map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        Some(base.join("visa"))
    }

    /// The key of `block` compiled with link cells for `targets` (in that
    /// order), page-permission checks if `protected`, fences if `tso`.
    pub fn key(&self, env: &Env, block: &Block, targets: &[u64], protected: bool, tso: bool) -> Key {
        let mut h = self.base.clone();
        h.u64(self.env_fingerprint(env));
        let mut body = Vec::with_capacity(16 + block.insts.len() * 4);
        crate::visa::codec::encode_body(block, &mut body);
        h.field(&body);
        h.u64(targets.len() as u64);
        for t in targets {
            h.u64(*t);
        }
        h.u64(protected as u64 | (tso as u64) << 1);
        Key(h.finish128())
    }

    /// The Env's fingerprint, worked out once per Env (envs are static).
    fn env_fingerprint(&self, env: &Env) -> u64 {
        let mut known = self.envs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = env as *const Env as usize;
        if let Some((_, f)) = known.iter().find(|(e, _)| *e == at) {
            return *f;
        }
        let f = env.fingerprint();
        known.push((at, f));
        f
    }

    fn path(&self, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// The code stored for `key`, compiled with `cells` link cells.
    pub fn load(&self, key: &Key, cells: usize) -> Found {
        let path = self.path(key);
        let Ok(mut file) = std::fs::File::open(&path) else { return Found::Miss };
        let mut bytes = Vec::new();
        if let Err(e) = file.read_to_end(&mut bytes) {
            warn(&path, &e.to_string());
            return Found::Rejected;
        }
        match format::decode(&key.0, &bytes) {
            Ok(Entry { cells: stored, .. }) if stored as usize != cells => {
                warn(&path, &Invalid::Corrupt(format!("{stored} link cells for {cells}")).to_string());
                Found::Rejected
            }
            Ok(entry) => {
                // The eviction order is by time of last use.
                let _ = file.set_modified(std::time::SystemTime::now());
                Found::Hit(entry.code)
            }
            Err(why) => {
                warn(&path, &why.to_string());
                Found::Rejected
            }
        }
    }

    /// Stores `code` (compiled with `cells` link cells) under `key`;
    /// false if it could not be written (the run goes on without).
    pub fn store(&self, key: &Key, code: &MachineCode, cells: usize) -> bool {
        let bytes = format::encode(&key.0, code, cells as u32);
        let path = self.path(key);
        let written = write_atomically(&path, &bytes).is_ok();
        if written {
            self.note_stored(bytes.len() as u64);
        }
        written
    }

    /// Keeps the directory within its bound: checked on a process's first
    /// store (when no process checked in the last minute) and after every
    /// sixteenth of the bound it stores.
    fn note_stored(&self, bytes: u64) {
        let mut swept = self.swept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let since = self.since_sweep.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if since >= self.limit / 16 {
            self.since_sweep.store(0, Ordering::Relaxed);
            evict::sweep(&self.dir, self.limit);
        } else if !*swept && evict::due(&self.dir) {
            evict::sweep(&self.dir, self.limit);
        }
        *swept = true;
    }
}

/// One line on stderr about a cache file that is not used.
fn warn(path: &Path, why: &str) {
    eprintln!("visa: ignoring cache file {}: {why}", path.display());
}

/// Writes `bytes` to a temporary file beside `path` and renames it there.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().expect("entries are in a directory");
    std::fs::create_dir_all(dir)?;
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
