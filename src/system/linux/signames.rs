//! Linux x86-64 signal numbers: their names (for logs) and the numbers the
//! GDB remote protocol gives them (its own, target-independent ones).

use crate::system::gdb::Signal;

/// Linux number, name, GDB's number, for the standard signals.
const STANDARD: [(i32, &str, Signal); 31] = [
    (1, "SIGHUP", Signal::SIGHUP),
    (2, "SIGINT", Signal::SIGINT),
    (3, "SIGQUIT", Signal::SIGQUIT),
    (4, "SIGILL", Signal::SIGILL),
    (5, "SIGTRAP", Signal::SIGTRAP),
    (6, "SIGABRT", Signal::SIGABRT),
    (7, "SIGBUS", Signal::SIGBUS),
    (8, "SIGFPE", Signal::SIGFPE),
    (9, "SIGKILL", Signal::SIGKILL),
    (10, "SIGUSR1", Signal::SIGUSR1),
    (11, "SIGSEGV", Signal::SIGSEGV),
    (12, "SIGUSR2", Signal::SIGUSR2),
    (13, "SIGPIPE", Signal::SIGPIPE),
    (14, "SIGALRM", Signal::SIGALRM),
    (15, "SIGTERM", Signal::SIGTERM),
    // GDB has no SIGSTKFLT: its "unknown signal".
    (16, "SIGSTKFLT", Signal(143)),
    (17, "SIGCHLD", Signal::SIGCHLD),
    (18, "SIGCONT", Signal::SIGCONT),
    (19, "SIGSTOP", Signal::SIGSTOP),
    (20, "SIGTSTP", Signal::SIGTSTP),
    (21, "SIGTTIN", Signal::SIGTTIN),
    (22, "SIGTTOU", Signal::SIGTTOU),
    (23, "SIGURG", Signal::SIGURG),
    (24, "SIGXCPU", Signal::SIGXCPU),
    (25, "SIGXFSZ", Signal::SIGXFSZ),
    (26, "SIGVTALRM", Signal::SIGVTALRM),
    (27, "SIGPROF", Signal::SIGPROF),
    (28, "SIGWINCH", Signal::SIGWINCH),
    (29, "SIGIO", Signal::SIGIO),
    (30, "SIGPWR", Signal::SIGPWR),
    (31, "SIGSYS", Signal::SIGSYS),
];

/// A signal's name: `SIGUSR1`, or `SIG34` for a real-time signal.
pub fn name(sig: i32) -> String {
    match STANDARD.iter().find(|(n, ..)| *n == sig) {
        Some((_, name, _)) => name.to_string(),
        None => format!("SIG{sig}"),
    }
}

/// GDB's number for a Linux signal. Real-time signals: GDB numbers 33 and
/// 34 to 63 in a run of their own (45, 46...), 32 and 64 apart.
pub fn to_gdb(sig: i32) -> Signal {
    match sig {
        32 => Signal::SIG32,
        33..=63 => Signal(Signal::SIG33.0 + (sig - 33) as u8),
        64 => Signal::SIG64,
        _ => STANDARD.iter().find(|(n, ..)| *n == sig).map_or(Signal(143), |(_, _, g)| *g),
    }
}

/// The Linux signal of a GDB number (none for one Linux does not have).
pub fn from_gdb(signal: Signal) -> Option<i32> {
    (1..=64).find(|sig| to_gdb(*sig) == signal && to_gdb(*sig) != Signal(143))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for sig in 1..=64 {
            if sig != 16 {
                assert_eq!(from_gdb(to_gdb(sig)), Some(sig), "{sig}");
            }
        }
        assert_eq!(to_gdb(10), Signal::SIGUSR1);
        assert_eq!(to_gdb(34), Signal::SIG34);
        assert_eq!(to_gdb(63), Signal::SIG63);
        assert_eq!(name(17), "SIGCHLD");
        assert_eq!(name(40), "SIG40");
    }
}
