//! Every bare-metal guest in guests/bin runs on the board with the expected
//! output and exit status; the self-modifying and fault guests do what a
//! processor does. Each workload also ends in the final state (registers,
//! a checksum of RAM, instructions run) recorded in
//! `guests/expected/NAME.state`, which every host must reproduce bit for
//! bit; `VISA_BLESS=1` rewrites those files (on an x86-64 host).

mod common;

use common::Capture;
use std::path::PathBuf;

use visa::engine::{Compile, Engine, EngineKind, Fault};
use visa::machine::{CpuState, GuestMemory};
use visa::system::board::{self, Ending, Input, Uart};

const RAM: u64 = 128 << 20;

fn guests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests")
}

struct Run {
    ending: Ending,
    guest_insts: u64,
    output: String,
    cpu: CpuState,
    mem: GuestMemory,
}

/// The engines every guest runs under (the tiered one compiling on the
/// guest's thread, and on a compiler thread); all must agree.
const KINDS: [(EngineKind, Compile); 4] = [
    (EngineKind::Interp, Compile::Sync),
    (EngineKind::Jit, Compile::Sync),
    (EngineKind::Tiered { threshold: 3 }, Compile::Sync),
    (EngineKind::Tiered { threshold: 3 }, Compile::Background),
];

fn boot(name: &str) -> Run {
    let runs: Vec<Run> = KINDS.iter().map(|k| boot_with(name, *k)).collect();
    let first = &runs[0];
    for (kind, run) in KINDS.iter().zip(&runs).skip(1) {
        assert_eq!(run.output, first.output, "{name}: output under {kind:?}");
        assert_eq!(run.ending, first.ending, "{name}: ending under {kind:?}");
        assert_eq!(run.cpu, first.cpu, "{name}: final state under {kind:?}");
        assert_eq!(run.guest_insts, first.guest_insts, "{name}: instructions counted under {kind:?}");
    }
    runs.into_iter().next().unwrap()
}

fn boot_with(name: &str, (kind, compile): (EngineKind, Compile)) -> Run {
    let image = std::fs::read(guests().join(format!("bin/{name}.elf"))).expect("prebuilt guest image");
    let mut mem = GuestMemory::new(RAM).unwrap();
    let entry = board::load_elf(&mut mem, &image).unwrap();
    let mut cpu = board::entry_state(entry, RAM);
    let out = Capture::default();
    let mut board = board::new_board(Uart::new(Box::new(out.clone()), Input::None));
    let mut engine = Engine::with_compile(kind, compile);
    assert!(engine.stats.jit_unavailable.is_none(), "{:?}", engine.stats.jit_unavailable);
    let ending = board::run(&mut engine, &mut cpu, &mut mem, &mut board, 2_000_000_000);
    if kind != EngineKind::Interp {
        let stats = engine.process_stats();
        assert_eq!(stats.jit_failed, 0, "{name}: blocks the JIT could not compile under {kind:?}");
        // How much runs compiled with a compiler thread depends on timing.
        if compile == Compile::Sync {
            assert!(stats.jit_runs > 0, "{name}: nothing ran as host code under {kind:?}");
        }
    }
    let output = String::from_utf8(out.0.borrow().clone()).unwrap();
    Run { ending, guest_insts: engine.stats.guest_insts, output, cpu, mem }
}

/// A workload's output and status must equal those of its native run, and
/// its final state the one recorded for every host.
fn workload(name: &str) {
    let run = boot(name);
    let expected = std::fs::read_to_string(guests().join(format!("expected/{name}.out"))).unwrap();
    let status: i32 =
        std::fs::read_to_string(guests().join(format!("expected/{name}.status"))).unwrap().trim().parse().unwrap();
    assert_eq!(run.output, expected, "{name}: output");
    assert_eq!(run.ending.status(), status, "{name}: {:?}", run.ending);
    final_state(name, &run);
}

/// The final state as text: every register of `CpuState` (the x87
/// registers in physical order), a checksum of RAM and the instructions run.
fn state_text(run: &Run) -> String {
    let c = &run.cpu;
    let mut t = format!("instructions {}\n", run.guest_insts);
    for (name, v) in visa::machine::GPR_NAMES.iter().zip(c.gpr) {
        t += &format!("{name} {v:016x}\n");
    }
    t += &format!("rip {:016x}\nrflags {:016x}\nmxcsr {:08x}\n", c.rip, c.rflags(), c.mxcsr);
    for (i, x) in c.xmm.iter().enumerate() {
        t += &format!("xmm{i} {x:032x}\n");
    }
    t += &format!("fcw {:04x}\nfsw {:04x}\nftw {:02x}\nfop {:04x}\n", c.fcw, c.fsw, c.ftw, c.fop);
    t += &format!("fip {:016x}\nfdp {:016x}\n", c.fip, c.fdp);
    for (i, r) in c.st.iter().enumerate() {
        t += &format!("r{i} {r:020x}\n");
    }
    // FNV-1a over RAM, a mebibyte at a time.
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut chunk = vec![0u8; 1 << 20];
    for at in (0..run.mem.size()).step_by(chunk.len()) {
        run.mem.read_bytes(at, &mut chunk).unwrap();
        for b in &chunk {
            hash = (hash ^ *b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    t += &format!("ram {hash:016x}\n");
    t
}

/// Compares the final state with `guests/expected/NAME.state` (or writes
/// it, under `VISA_BLESS=1`).
fn final_state(name: &str, run: &Run) {
    let path = guests().join(format!("expected/{name}.state"));
    let got = state_text(run);
    if std::env::var_os("VISA_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (VISA_BLESS=1 writes it)", path.display()));
    let diff: Vec<String> = want
        .lines()
        .zip(got.lines())
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("  expected {w}\n  got      {g}"))
        .collect();
    assert!(diff.is_empty() && want.lines().count() == got.lines().count(), "{name}: final state\n{}", diff.join("\n"));
}

#[test]
fn hello() {
    workload("hello");
}

#[test]
fn sieve() {
    workload("sieve");
}

#[test]
fn sort() {
    workload("sort");
}

#[test]
fn sha256() {
    workload("sha256");
}

#[test]
fn crc32() {
    workload("crc32");
}

#[test]
fn recursive() {
    workload("recursive");
}

#[test]
fn bytecode() {
    workload("bytecode");
}

#[test]
fn nbody() {
    workload("nbody");
}

#[test]
fn compress() {
    workload("compress");
}

/// SSE to SSE4.2 with NaNs, infinities, denormals and every rounding mode.
#[test]
fn simd() {
    workload("simd");
}

/// x87 arithmetic under every rounding and precision control; the
/// transcendental results are in the final state.
#[test]
fn x87() {
    workload("x87");
}

#[test]
fn self_modifying_code() {
    let run = boot("smc");
    assert_eq!(
        run.output,
        "patched next instruction: 42\npatched loop: 505\ncopied function: 41\nrecopied function: 81\n"
    );
    assert_eq!(run.ending, Ending::Exited(1));
}

/// A fault the guest does not handle ends the run with state exactly at
/// the faulting instruction.
fn fault(name: &str, vector: u8, bytes: &[u8]) -> Run {
    let run = boot(name);
    let Ending::Crashed(Fault { vector: v, rip, .. }) = run.ending else { panic!("{name}: {:?}", run.ending) };
    assert_eq!(v, vector, "{name}");
    assert_eq!(run.cpu.rip, rip);
    let mut at = vec![0; bytes.len()];
    run.mem.read_bytes(rip, &mut at).unwrap();
    assert_eq!(at, bytes, "{name}: RIP {rip:#x} is not the faulting instruction");
    assert_eq!(run.ending.status(), 128 + vector as i32);
    run
}

#[test]
fn divide_error() {
    let run = fault("fault_de", 0, &[0x48, 0xf7]);
    assert_eq!(run.output, "dividing by zero\n");
    assert_eq!((run.cpu.gpr[0], run.cpu.gpr[2]), (7, 0), "RAX and RDX untouched by the faulting DIV");
}

#[test]
fn invalid_opcode() {
    let run = fault("fault_ud", 6, &[0x0f, 0x0b]);
    assert_eq!(run.output, "executing ud2\n");
}

/// The system registers a kernel sets up (guests/src/sysregs.c), under
/// every engine: what the manual and the board's entry state give, then
/// #GP for a CR4 write with a reserved bit, at the MOV.
#[test]
fn system_registers() {
    let run = fault("sysregs", 13, &[0x0f, 0x22]);
    let want = "cr0 0000000080050033\ncr4 0000000000040620\nfs base 000012345678abcd\n\
                cr2 00000000fffff00d\ncr3 0000000000007000\ncr8 0000000000000003\n\
                dr0 0000000000401000\ndr6 00000000ffff0ff0\ndr7 0000000000000403\n\
                gdtr 0017000000002000\nidtr 0fff000000003000\nefer 0000000000000501\n\
                xss 0000000000000000\ngs base msr 0000000000000000\nsetting cr4.la57\n";
    assert_eq!(run.output, want);
    assert_eq!(run.cpu.cr4, 0x5_0620, "CR4 as the last accepted write left it");
}

#[test]
fn access_beyond_ram() {
    let run = fault("fault_oob", 14, &[0x48, 0x8b]);
    let Ending::Crashed(f) = run.ending else { unreachable!() };
    assert_eq!(f.addr, Some(RAM));
}

#[test]
fn the_command_line_boots_the_default_guest() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(["boot", "--stats"])
        .arg(guests().join("bin/hello.elf"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello from a visa guest!\n");
    assert_eq!(out.status.code(), Some(1), "exit port value 0 gives status 1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("guest instructions"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_visa")).args(["boot", "Cargo.toml"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not an ELF64 image"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
