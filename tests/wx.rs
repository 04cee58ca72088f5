//! W^X for the JIT's code: no mapping of the process is ever writable and
//! executable at once (the code region is a memfd mapped twice, read-write
//! to write code and read-execute to run it), in the library and in a
//! running `visa`, and the region keeps working across flushes.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::run_guest;
use visa::engine::{Compile, Engine, EngineKind};
use visa::system::board::Ending;

/// The name the code region's memfd shows in /proc/PID/maps.
const CODE_FILE: &str = "/memfd:visa-code";

/// The permission field (`rwxp`) of each line of a maps file, with the line.
fn permissions(maps: &str) -> impl Iterator<Item = (&str, &str)> {
    maps.lines().map(|l| (l.split_whitespace().nth(1).unwrap_or(""), l))
}

/// Checks a maps file: nothing writable and executable, and the code
/// region's two views present (read-execute shared, read-write shared).
fn check_w_xor_x(maps: &str, whose: &str) {
    let wx: Vec<&str> = permissions(maps).filter(|(p, _)| p.contains('w') && p.contains('x')).map(|(_, l)| l).collect();
    assert!(wx.is_empty(), "{whose}: writable and executable mappings:\n{}", wx.join("\n"));
    let views = |perms: &str| permissions(maps).any(|(p, l)| p == perms && l.contains(CODE_FILE));
    assert!(views("r-xs"), "{whose}: no executable view of the code region:\n{maps}");
    assert!(views("rw-s"), "{whose}: no writable view of the code region:\n{maps}");
}

/// Finding 9: the code region and the trampoline page were mapped
/// read-write-execute for the whole run. While an engine that has compiled
/// and run code is alive (compiling on its own thread or on a compiler
/// thread), no mapping is both writable and executable.
#[test]
fn item9_no_mapping_is_writable_and_executable() {
    let mut engine = Engine::with_kind(EngineKind::Jit);
    assert_eq!(engine.stats.jit_unavailable, None);
    assert_eq!(run_guest("sort", &mut engine), Ending::Exited(1));
    assert!(engine.stats.jit_runs > 0 && engine.stats.jit_compiled > 0, "{:?}", engine.stats);
    check_w_xor_x(&std::fs::read_to_string("/proc/self/maps").unwrap(), "this process");
    // The compiler thread writes code through the same region.
    let mut engine = Engine::with_compile(EngineKind::Tiered { threshold: 2 }, Compile::Background);
    assert_eq!(run_guest("sort", &mut engine), Ending::Exited(1));
    engine.shared().wait_for_compiler();
    let stats = engine.process_stats();
    assert!(stats.jit_compiled > 0, "{stats:?}");
    check_w_xor_x(&std::fs::read_to_string("/proc/self/maps").unwrap(), "with a compiler thread");
}

/// The same of a running `visa run` process (compiling every block).
#[test]
fn item9_a_running_visa_has_no_writable_executable_mapping() {
    let busybox = Path::new("/usr/bin/busybox");
    if !busybox.exists() {
        eprintln!("{} is missing: no guest that sleeps, the test does not run", busybox.display());
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(["run", "--engine", "jit"])
        .arg(busybox)
        .args(["sleep", "2"])
        .spawn()
        .unwrap();
    let maps_path = format!("/proc/{}/maps", child.id());
    let started = Instant::now();
    // Wait for the region to be mapped and the guest to be asleep, with code
    // compiled and run.
    let maps = loop {
        assert!(child.try_wait().unwrap().is_none(), "visa ended before its maps were read");
        let maps = std::fs::read_to_string(&maps_path).unwrap();
        if maps.contains(CODE_FILE) && started.elapsed() > Duration::from_millis(500) {
            break maps;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no code region in {maps_path}:\n{maps}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = child.wait().unwrap();
    check_w_xor_x(&maps, "visa run");
    assert!(status.success(), "{status}");
}

/// A small region fills and is flushed again and again: blocks are written
/// over the addresses of flushed ones (and made coherent again), run, and
/// link, and the guests still print what they should.
#[test]
fn item9_the_code_region_works_after_flushes() {
    for kind in [EngineKind::Jit, EngineKind::Tiered { threshold: 2 }] {
        let mut flushes = 0;
        // Regions that fill a few times (much smaller ones thrash: a loop
        // whose blocks do not fit together is recompiled on every turn).
        for (guest, size) in [("sort", 12 << 10), ("crc32", 6 << 10)] {
            // One engine per guest: translations belong to one guest's memory.
            let mut engine = Engine::with_code_size(kind, size, Compile::Sync);
            assert_eq!(run_guest(guest, &mut engine), Ending::Exited(1), "{kind:?} {guest}");
            assert!(engine.stats.jit_runs > 0, "{kind:?} {guest}: {:?}", engine.stats);
            flushes += engine.stats.jit_flushes;
            check_w_xor_x(&std::fs::read_to_string("/proc/self/maps").unwrap(), "after flushes");
        }
        assert!(flushes >= 2, "{kind:?}: the regions should fill: {flushes} flushes");
    }
}
