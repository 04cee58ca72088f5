//! The cache directory's bound: when its entries take more than the bound,
//! the least recently used go (a hit sets its file's modification time)
//! until they take three quarters of it. Checking walks the directory, so
//! processes do it rarely: a process checks at its first store unless
//! another checked in the last minute (a stamp file says when), and again
//! after every sixteenth of the bound it stores. Between checks the
//! directory may grow past the bound by what processes store meanwhile.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Temporary files (being written, or left by a process that died) start so.
pub const TEMP_PREFIX: &str = ".tmp-";

/// The stamp file whose modification time is the last check's.
const STAMP: &str = "last-sweep";

/// How often processes check the bound at their first store.
const PERIOD: Duration = Duration::from_secs(60);

/// A temporary file older than this was left by a process that died.
const ABANDONED: Duration = Duration::from_secs(3600);

/// Is a check due (none in the last `PERIOD`)?
pub fn due(dir: &Path) -> bool {
    let last = std::fs::metadata(dir.join(STAMP)).and_then(|m| m.modified());
    last.map_or(true, |t| t.elapsed().map_or(true, |age| age >= PERIOD))
}

/// Removes the least recently used entries while they take more than
/// `limit`; removes abandoned temporary files. Errors (another process
/// removing the same file) only skip that file.
pub fn sweep(dir: &Path, limit: u64) {
    let _ = std::fs::write(dir.join(STAMP), b"");
    let now = SystemTime::now();
    let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    let Ok(subdirs) = std::fs::read_dir(dir) else { return };
    for sub in subdirs.flatten() {
        let Ok(files) = std::fs::read_dir(sub.path()) else { continue };
        for file in files.flatten() {
            let Ok(meta) = file.metadata() else { continue };
            let modified = meta.modified().unwrap_or(now);
            if file.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                if now.duration_since(modified).is_ok_and(|age| age > ABANDONED) {
                    let _ = std::fs::remove_file(file.path());
                }
                continue;
            }
            entries.push((modified, meta.len(), file.path()));
        }
    }
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    if total <= limit {
        return;
    }
    entries.sort_unstable_by_key(|e| e.0);
    for (_, len, path) in entries {
        if total <= limit / 4 * 3 {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}
