//! Background compilation: the tiered engine compiles hot blocks on a
//! compiler thread, and nothing the guest sees changes — not its output,
//! not its final state, not the instructions counted — whether blocks are
//! compiled there or on the guest's thread. (The agreement tests of every
//! engine run it too: `common::run_with` and `tests/board.rs` on the
//! board, the Linux tests under `visa run`, whose default it is.)

mod common;
mod linux_run;

use common::{Capture, guest};
use visa::engine::{Compile, Engine, EngineKind, Stop};
use visa::machine::CpuState;
use visa::system::board::{self, Input, Uart};

/// How a board guest ended, what it printed, and what the engine counted.
struct Ran {
    stop: Stop,
    cpu: CpuState,
    output: Vec<u8>,
    insts: u64,
    stats: visa::engine::Stats,
}

/// Runs a board guest to its end in slices of `slice` guest instructions;
/// with `wait`, waits for the compiler thread after each slice.
fn run_sliced(name: &str, compile: Compile, slice: u64, wait: bool) -> Ran {
    let (mut mem, entry) = guest(name);
    let mut cpu = board::entry_state(entry, 128 << 20);
    let out = Capture::default();
    let mut board = board::new_board(Uart::new(Box::new(out.clone()), Input::None));
    let mut engine = Engine::with_compile(EngineKind::Tiered { threshold: 1000 }, compile);
    let stop = loop {
        match engine.run(&mut cpu, &mut mem, &mut board, slice) {
            Stop::Budget => {
                if wait {
                    engine.shared().wait_for_compiler();
                }
            }
            other => break other,
        }
    };
    let output = out.0.borrow().clone();
    Ran { stop, cpu, output, insts: engine.stats.guest_insts, stats: engine.process_stats() }
}

/// Hot blocks are compiled on the compiler thread and then run as host
/// code, with the results of compiling them on the guest's thread. Waiting
/// for the thread after every slice of fewer instructions than a queued
/// block needs to be taken back (`PATIENCE` times the threshold of runs)
/// makes the thread compile every one of them.
#[test]
fn hot_blocks_compile_on_the_compiler_thread_with_the_same_results() {
    for name in ["sha256", "sort", "bytecode"] {
        let sync = run_sliced(name, Compile::Sync, 2_000, false);
        let background = run_sliced(name, Compile::Background, 2_000, true);
        assert_eq!(background.stop, sync.stop, "{name}");
        assert_eq!(background.output, sync.output, "{name}: output");
        assert_eq!(background.cpu, sync.cpu, "{name}: final state");
        assert_eq!(background.insts, sync.insts, "{name}: instructions counted");
        let (b, s) = (&background.stats, &sync.stats);
        assert!(b.jit_background > 0 && b.jit_background == b.jit_compiled, "{name}: {b:?}");
        assert!(b.jit_runs > 0, "{name}: {b:?}");
        assert_eq!(b.jit_failed, 0, "{name}: {b:?}");
        assert_eq!((s.jit_background, s.jit_discarded), (0, 0), "{name}: {s:?}");
    }
}

/// Without waiting, the guest never waits for the thread either, and the
/// results are the same (only which tier ran a block depends on timing).
#[test]
fn the_guest_runs_on_while_blocks_compile() {
    for name in ["sha256", "nbody", "crc32"] {
        let sync = run_sliced(name, Compile::Sync, u64::MAX, false);
        let background = run_sliced(name, Compile::Background, u64::MAX, false);
        assert_eq!(background.stop, sync.stop, "{name}");
        assert_eq!(background.output, sync.output, "{name}: output");
        assert_eq!(background.cpu, sync.cpu, "{name}: final state");
        assert_eq!(background.insts, sync.insts, "{name}: instructions counted");
    }
}

/// Forks while blocks wait for the compiler thread or are compiled by it:
/// the child goes on with a compiler thread of its own, and parent and
/// child get the native results (`tests/background/forks.c`). Needs `cc`
/// and a static C library.
#[test]
fn forks_while_blocks_compile() {
    let prog = linux_run::build_c_program("background/forks");
    let native = linux_run::native(&prog, &[], None, None);
    assert!(linux_run::text(&native).contains("children that agree: 30 of 30"), "{}", linux_run::text(&native));
    for options in [&["--threshold", "10"][..], &[], &["--threshold", "10", "--sync-compile"]] {
        let got = linux_run::visa(linux_run::Tiered, options, &prog, &[], None, None);
        linux_run::assert_same(&format!("forks under tiered {options:?}"), &native, &got);
    }
    let _ = std::fs::remove_file(&prog);
}
