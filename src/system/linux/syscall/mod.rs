//! Linux syscalls for x86-64 guests: one table from syscall number to name,
//! argument kinds (for `--strace`) and handler; the handlers live in files
//! by subject. Host calls go through libc with guest structures converted
//! to the host's where layouts differ, and every guest pointer checked.

mod byteorder;
mod clone3;
mod close;
mod deadline;
mod events;
mod fs;
pub(crate) mod host;
mod memory;
pub(super) mod misc;
mod names;
mod net;
mod paths;
pub(super) mod procs;
mod robust;
mod sig;
mod signalfd;
mod xattr;

use std::sync::OnceLock;

use super::errno::{ENOSYS, Errno};

use super::process::Process;
pub use misc::clear_child_tid;
pub use robust::{exit_robust_list, exit_robust_lists};

/// How `--strace` shows an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Int,
    Hex,
    /// A guest pointer to a NUL-terminated string.
    Str,
}

/// A handler: the six argument registers in, the result (or errno) out.
pub type Handler = fn(&mut Process, [u64; 6]) -> Result<u64, Errno>;

/// One syscall: number, name, arguments, handler.
pub type Entry = (u64, &'static str, &'static [Arg], Handler);

pub const RT_SIGRETURN: u64 = 15;
/// clone, fork, vfork, execve and clone3: calls after which the process
/// may be another (a child, or a new program).
pub const PROCESS_CHANGES: [u64; 5] = [56, 57, 58, 59, 435];

fn table() -> &'static [Option<&'static Entry>] {
    static TABLE: OnceLock<Vec<Option<&'static Entry>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![None; 512];
        for family in [
            fs::TABLE,
            close::TABLE,
            paths::TABLE,
            memory::TABLE,
            misc::TABLE,
            procs::TABLE,
            sig::TABLE,
            xattr::TABLE,
            net::TABLE,
            events::TABLE,
            signalfd::TABLE,
            robust::TABLE,
        ] {
            for e in family {
                assert!(t[e.0 as usize].is_none(), "syscall {} defined twice", e.1);
                t[e.0 as usize] = Some(e);
            }
        }
        t
    })
}

/// The name of a syscall number, if visa implements it.
pub fn name(nr: u64) -> Option<&'static str> {
    table().get(nr as usize).copied().flatten().map(|e| e.1)
}

/// Names of every implemented syscall, by number.
pub fn implemented() -> impl Iterator<Item = (u64, &'static str)> {
    table().iter().flatten().map(|e| (e.0, e.1))
}

fn show_args(p: &Process, args: &[u64; 6], kinds: &[Arg]) -> String {
    kinds
        .iter()
        .zip(args)
        .map(|(k, v)| match k {
            Arg::Int => (*v as i64).to_string(),
            Arg::Hex => format!("{v:#x}"),
            Arg::Str => match p.read_cstr(*v) {
                Ok(s) => format!("{:?}", String::from_utf8_lossy(&s[..s.len().min(64)])),
                Err(_) => format!("{v:#x}"),
            },
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the syscall the guest stopped at (number in RAX, arguments in
/// RDI RSI RDX R10 R8 R9) and puts the result in RAX.
pub fn dispatch(p: &mut Process) {
    let nr = p.cpu.gpr[0];
    let g = &p.cpu.gpr;
    let args = [g[7], g[6], g[2], g[10], g[8], g[9]];
    let entry = table().get(nr as usize).copied().flatten();
    let before = p.strace.then(|| match entry {
        Some(e) => format!("{}({})", e.1, show_args(p, &args, e.2)),
        None => {
            let name = names::of(nr).map_or(format!("syscall_{nr}"), |n| n.to_string());
            format!("{name}({:#x}, {:#x}, {:#x}, ...)", args[0], args[1], args[2])
        }
    });
    let result = match entry {
        Some(e) => (e.3)(p, args),
        None => {
            if p.reported.insert(nr) {
                eprintln!("visa: unknown syscall {nr} ({}) returns ENOSYS", names::of(nr).unwrap_or("unnamed"));
            }
            Err(ENOSYS)
        }
    };
    if nr == RT_SIGRETURN && result.is_ok() {
        // The registers (RAX included) are the interrupted context's.
        if let Some(b) = before {
            eprintln!("[visa strace] {b} = (resumes at {:#x})", p.cpu.rip);
        }
        return;
    }
    let rax = match result {
        Ok(v) => v,
        Err(e) => (-(e as i64)) as u64,
    };
    if let Some(b) = before {
        let shown = if (rax as i64) < 0 && (rax as i64) > -4096 {
            format!("-1 {}", std::io::Error::from_raw_os_error(-(rax as i64) as i32))
        } else {
            format!("{rax:#x}")
        };
        eprintln!("[visa strace] {b} = {shown}");
    }
    p.cpu.gpr[0] = rax;
}

#[cfg(test)]
mod tests {
    #[test]
    fn implemented_calls_have_the_kernels_names() {
        for (nr, name) in super::implemented() {
            assert_eq!(super::names::of(nr), Some(name), "syscall {nr}");
        }
    }
}
