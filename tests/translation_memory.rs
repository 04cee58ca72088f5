//! The bound on translation memory (`--tb-size`): a guest that runs
//! through fresh code all the time stays under it (every translation is
//! dropped when it is reached, and the guest computes the same), and a
//! guest that rewrites and reruns its own code never approaches it (the
//! rewritten translations are dropped as they go stale).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `mov eax, 0x100000`, then zeroed memory: `add [rax], al` (two bytes of
/// zeros) over and over, each instruction fresh code.
const SLIDE: &[u8] = &[0xb8, 0x00, 0x00, 0x10, 0x00];

/// Rewrites the immediate of `mov eax, imm32` at 0x2000 100,000 times
/// (with the loop counter's low byte), calls it, and sums what it returns
/// in RBX (see the listing in the test below).
const CHURN: &[u8] = &[
    0xbc, 0x00, 0x90, 0x00, 0x00, // mov esp, 0x9000
    0xb9, 0xa0, 0x86, 0x01, 0x00, // mov ecx, 100000
    0x31, 0xdb, // xor ebx, ebx
    0x88, 0x0d, 0xef, 0x0f, 0x00, 0x00, // again: mov [rel 0x2001], cl
    0xe8, 0xe9, 0x0f, 0x00, 0x00, // call 0x2000
    0x48, 0x01, 0xc3, // add rbx, rax
    0xff, 0xc9, // dec ecx
    0x75, 0xee, // jnz again
    0x48, 0x89, 0xd8, // mov rax, rbx
    0xf4, // hlt
];
/// At 0x2000: `mov eax, 0` (its immediate rewritten), `ret`.
const CHURNED: &[u8] = &[0xb8, 0x00, 0x00, 0x00, 0x00, 0xc3];

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("visa-tbsize-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `visa boot --stats` said, and the final state.
struct Boot {
    stats: String,
    state: serde_json::Value,
}

impl Boot {
    /// A `--stats` line's first number.
    fn stat(&self, name: &str) -> u64 {
        let line = self.stats.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| {
            panic!("no {name:?} in the statistics:\n{}", self.stats);
        });
        let value = line.trim_start()[name.len()..].trim_start();
        value.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    }
}

fn boot(dir: &Scratch, loads: &[(&Path, u64)], engine: &str, tb_size: &str, max_insns: u64) -> Boot {
    let state = dir.0.join(format!("state-{engine}-{tb_size}.json"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_visa"));
    cmd.args(["boot", "--ram", "4M", "--entry", "0x1000", "--engine", engine, "--tb-size", tb_size, "--stats"]);
    cmd.arg("--max-insns").arg(max_insns.to_string()).arg("--final-state").arg(&state);
    for (file, at) in loads {
        cmd.arg("--load").arg(format!("{}@{at:#x}", file.display()));
    }
    let out = cmd.output().unwrap();
    let stats = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stats.contains("panicked"), "{stats}");
    let state = serde_json::from_slice(&std::fs::read(&state).unwrap_or_else(|e| panic!("{e}: {stats}"))).unwrap();
    Boot { stats, state }
}

#[test]
fn fresh_code_all_the_time_stays_under_the_bound() {
    let dir = Scratch::new("slide");
    let slide = dir.file("slide.bin", SLIDE);
    for engine in ["interp", "tiered", "jit"] {
        let insts = if engine == "jit" { 10_000 } else { 150_000 };
        let bounded = boot(&dir, &[(&slide, 0x1000)], engine, "1M", insts);
        // Either bound drops everything: the translations' or (first,
        // under the JIT, whose code is larger) the code region's.
        let flushes = bounded.stat("tb-size flushes") + bounded.stat("code cache flushes");
        assert!(flushes >= 2, "{engine}: {}", bounded.stats);
        // The translations' peak is at most the bound (three quarters of
        // --tb-size) and the block that reached it.
        assert!(bounded.stat("at most") <= 768 + 64, "{engine}: {}", bounded.stats);
        assert!(bounded.stat("peak RSS") < 64 << 10, "{engine}: {}", bounded.stats);
        // Dropping every translation changes nothing the guest sees.
        let free = boot(&dir, &[(&slide, 0x1000)], engine, "256M", insts);
        assert_eq!(free.stat("tb-size flushes"), 0, "{engine}: {}", free.stats);
        assert_eq!(bounded.state, free.state, "{engine}: final states differ with and without flushes");
    }
}

#[test]
fn code_rewritten_a_hundred_thousand_times_takes_no_more_memory() {
    let dir = Scratch::new("churn");
    let (churn, churned) = (dir.file("churn.bin", CHURN), dir.file("churned.bin", CHURNED));
    let expected: u64 = (1..=100_000u64).map(|c| c & 0xff).sum();
    let mut states = Vec::new();
    for engine in ["interp", "tiered", "jit"] {
        let run = boot(&dir, &[(&churn, 0x1000), (&churned, 0x2000)], engine, "1M", 10_000_000);
        assert_eq!(run.state["gpr"]["rax"], format!("{expected:#x}"), "{engine}: {}", run.stats);
        assert!(run.stat("invalidations") >= 99_999, "{engine}: {}", run.stats);
        assert_eq!(run.stat("tb-size flushes"), 0, "{engine}: {}", run.stats);
        assert!(run.stat("at most") < 64, "{engine}: {}", run.stats);
        states.push(run.state);
    }
    assert!(states.windows(2).all(|w| w[0] == w[1]), "the engines' final states differ");
}
