//! The guest's initial environment: the one visa was started with, in the
//! order it was given, whatever emulates the host.

use std::os::unix::ffi::OsStrExt;

/// visa's environment as its execve gave it: the kernel's copy
/// (`/proc/self/environ`), entry for entry and in order. The process's own
/// list can differ from it: qemu-user 7.2, emulating a non-x86 host, hands
/// the programs it runs their environment reversed, while the kernel's copy
/// (qemu's own) keeps the order. Without /proc, the process's list.
pub fn initial() -> Vec<Vec<u8>> {
    match std::fs::read("/proc/self/environ") {
        Ok(bytes) if bytes.is_empty() => Vec::new(),
        // Each entry ends in a NUL (an empty entry is one too).
        Ok(bytes) => bytes.strip_suffix(b"\0").unwrap_or(&bytes).split(|&b| b == 0).map(<[u8]>::to_vec).collect(),
        Err(_) => std::env::vars_os().map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()).collect(),
    }
}
