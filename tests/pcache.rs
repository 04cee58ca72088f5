//! The persistent translation cache (`--cache`): a run with a warm cache
//! prints, ends and counts guest instructions exactly as the run that
//! filled it, under the tiered and JIT engines, on board guests and Linux
//! programs; damaged files are ignored with a warning; processes that fill
//! one cache at once all succeed and leave it valid; the directory keeps
//! to its bound.

mod linux_run;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use linux_run::{Scratch, vt};

fn guests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/bin")
}

/// A `--stats` counter: the number after `name` on its line (summed over
/// every process that printed one).
fn counter(stderr: &str, name: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(name))
        .map(|rest| rest.split_whitespace().next().unwrap_or("0").parse::<u64>().unwrap_or(0))
        .sum()
}

/// The persistent cache's counters: hits, misses, stores, rejected.
fn persistent(stderr: &str) -> [u64; 4] {
    let mut total = [0; 4];
    for line in stderr.lines().filter_map(|l| l.trim_start().strip_prefix("persistent cache")) {
        let numbers: Vec<u64> = line.split(',').filter_map(|p| p.split_whitespace().next()?.parse().ok()).collect();
        assert_eq!(numbers.len(), 4, "{line}");
        for (t, n) in total.iter_mut().zip(numbers) {
            *t += n;
        }
    }
    total
}

/// `visa run` with `options`, the cache and `--stats`, of `command`.
fn run(options: &[&str], cache: &Path, command: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_visa"))
        .arg("run")
        .args(options)
        .arg("--cache")
        .arg(cache)
        .arg("--stats")
        .args(command)
        .output()
        .unwrap()
}

/// `visa boot` of a guest with `options`, the cache and `--stats`.
fn boot_with(image: &str, options: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_visa"))
        .arg("boot")
        .args(options)
        .args(["--stats", "--cache"])
        .arg(cache)
        .arg(guests().join(image))
        .output()
        .unwrap()
}

/// The guest under `engine`; the tiered engine compiles blocks after five
/// runs, on the guest's thread, so that even short runs compile some.
fn boot(image: &str, engine: &str, cache: &Path) -> Output {
    boot_with(image, &["--engine", engine, "--threshold", "5", "--sync-compile"], cache)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every cache file under `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if sub.path().is_dir() {
            out.extend(std::fs::read_dir(sub.path()).unwrap().flatten().map(|e| e.path()));
        }
    }
    out.sort();
    out
}

/// Cold then warm: same output, status and instruction count; the cold run
/// stores, the warm one hits and stores nothing it found.
fn cold_then_warm(what: &str, run: impl Fn(&Path) -> Output) {
    let scratch = Scratch::new(&format!("pcache-{}", what.replace(' ', "-")));
    let cache = scratch.fresh("cache");
    let cold = run(&cache);
    let warm = run(&cache);
    let (c, w) = (stderr(&cold), stderr(&warm));
    assert!(!c.contains("ignoring") && !w.contains("ignoring"), "{what}: warnings:\n{c}\n{w}");
    assert_eq!(cold.stdout, warm.stdout, "{what}: output differs");
    assert_eq!(cold.status.code(), warm.status.code(), "{what}: status differs");
    let insts = counter(&c, "guest instructions");
    assert!(insts > 0, "{what}: no instruction count:\n{c}");
    assert_eq!(insts, counter(&w, "guest instructions"), "{what}: instruction counts differ");
    // (A cold run may hit too: a block translated again after its
    // translation was dropped finds the code stored when it was compiled.)
    let [cold_hits, _, cold_stores, cold_rejected] = persistent(&c);
    let [warm_hits, _, _, warm_rejected] = persistent(&w);
    assert_eq!((cold_rejected, warm_rejected), (0, 0), "{what}:\n{c}\n{w}");
    assert!(cold_stores > 0, "{what}: the cold run stored nothing:\n{c}");
    let stored = entries(&cache).len() as u64;
    assert!(stored > 0 && stored <= cold_stores, "{what}: {stored} files for {cold_stores} stores");
    assert!(warm_hits > cold_hits, "{what}: the warm run found no more than the cold one:\n{c}\n{w}");
    assert!(
        counter(&w, "blocks compiled") < counter(&c, "blocks compiled"),
        "{what}: the warm run compiled as much:\n{c}\n{w}"
    );
}

#[test]
fn board_guests_run_the_same_from_a_warm_cache() {
    for image in ["sieve.elf", "sha256.elf", "nbody.elf", "smc.elf", "bytecode.elf"] {
        for engine in ["tiered", "jit"] {
            cold_then_warm(&format!("{image} {engine}"), |cache| boot(image, engine, cache));
        }
    }
    // Stored by the compiler thread.
    cold_then_warm("sha256.elf background", |cache| boot_with("sha256.elf", &["--threshold", "50"], cache));
}

#[test]
fn linux_programs_run_the_same_from_a_warm_cache() {
    let vt = vt();
    for subject in ["float", "mem", "smc"] {
        for engine in ["tiered", "jit"] {
            let options = ["--engine", engine, "--threshold", "5", "--sync-compile"];
            let command = [vt.to_str().unwrap(), subject];
            cold_then_warm(&format!("vt {subject} {engine}"), |cache| run(&options, cache, &command));
        }
    }
}

/// A busybox pipeline: the shell forks and execs visa for each applet,
/// which must pass the cache on.
#[test]
fn a_busybox_pipeline_runs_the_same_from_a_warm_cache() {
    if std::env::var_os("VISA_NO_BUSYBOX").is_some() {
        eprintln!("VISA_NO_BUSYBOX=1: the busybox pipeline does not run");
        return;
    }
    let script = "seq 1 300 | sort -r | head -n 20 | md5sum; echo abc | tr a-z A-Z";
    let options = ["--threshold", "5", "--sync-compile"];
    let command = ["/usr/bin/busybox", "sh", "-c", script];
    let scratch = Scratch::new("pcache-busybox");
    let cache = scratch.fresh("cache");
    let cold = run(&options, &cache, &command);
    let warm = run(&options, &cache, &command);
    assert_eq!(cold.status.code(), Some(0), "{}", stderr(&cold));
    assert_eq!(cold.stdout, warm.stdout);
    assert_eq!(warm.status.code(), Some(0));
    let native = Command::new("/usr/bin/busybox").args(["sh", "-c", script]).output().unwrap();
    assert_eq!(native.stdout, warm.stdout);
    // Every applet's process used the cache.
    let (c, w) = (persistent(&stderr(&cold)), persistent(&stderr(&warm)));
    assert!(c[2] > 0 && w[0] > 0, "cold {c:?}, warm {w:?}");
    assert!(stderr(&warm).lines().filter(|l| l.contains("persistent cache")).count() >= 5, "{}", stderr(&warm));
}

#[test]
fn damaged_files_are_ignored_with_a_warning() {
    let scratch = Scratch::new("pcache-damaged");
    let cache = scratch.fresh("cache");
    let run = |cache: &Path| boot("sha256.elf", "jit", cache);
    let cold = run(&cache);
    assert!(!stderr(&cold).contains("ignoring"));
    let files = entries(&cache);
    assert!(files.len() >= 6, "{} entries", files.len());
    // A flipped byte in the code, in a relocation record, in the header;
    // a file cut short, an empty one, one of another format version.
    let damage: [fn(&mut Vec<u8>); 6] = [
        |b| b[60] ^= 0x40,
        |b| {
            let n = b.len();
            b[n - 20] ^= 1
        },
        |b| b[20] ^= 0xff,
        |b| b.truncate(b.len() / 2),
        |b| b.clear(),
        |b| b[8] = 99,
    ];

    for (file, hurt) in files.iter().zip(damage) {
        let mut bytes = std::fs::read(file).unwrap();
        hurt(&mut bytes);
        std::fs::write(file, bytes).unwrap();
    }
    let warm = run(&cache);
    let w = stderr(&warm);
    assert_eq!(warm.stdout, cold.stdout);
    assert_eq!(warm.status.code(), cold.status.code());
    assert_eq!(counter(&w, "guest instructions"), counter(&stderr(&cold), "guest instructions"));
    let warnings: Vec<&str> = w.lines().filter(|l| l.starts_with("visa: ignoring cache file")).collect();
    assert_eq!(warnings.len(), 6, "{w}");
    for (reason, n) in [("corrupt", 5), ("stale", 1)] {
        assert_eq!(warnings.iter().filter(|l| l.contains(reason)).count(), n, "{w}");
    }
    let [hits, _, stores, rejected] = persistent(&w);
    assert_eq!(rejected, 6, "{w}");
    assert!(hits > 0 && stores >= 6, "{w}");
    // The damaged entries were stored again: a third run finds them all.
    let again = stderr(&run(&cache));
    assert!(!again.contains("ignoring"), "{again}");
    assert_eq!(persistent(&again)[3], 0);
}

#[test]
fn processes_filling_one_cache_together_all_succeed() {
    let scratch = Scratch::new("pcache-concurrent");
    let cache = scratch.fresh("cache");
    let image = guests().join("sha256.elf");
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_visa"))
            .args(["boot", "--engine", "jit", "--stats", "--cache"])
            .arg(&cache)
            .arg(&image)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..4).map(|_| start()).collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for out in &outs {
        assert_eq!(out.stdout, outs[0].stdout);
        assert_eq!(out.status.code(), outs[0].status.code());
        assert!(!stderr(out).contains("ignoring"), "{}", stderr(out));
    }
    // No temporary file is left, and every entry is whole: a later run
    // takes every block from the cache without a warning.
    let names: Vec<String> =
        entries(&cache).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp")), "{names:?}");
    let after = run_warm(&cache, &image);
    assert!(!after.contains("ignoring"), "{after}");
    assert_eq!(counter(&after, "blocks compiled"), 0, "{after}");
    assert_eq!(persistent(&after)[3], 0, "{after}");
}

fn run_warm(cache: &Path, image: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(["boot", "--engine", "jit", "--stats", "--cache"])
        .arg(cache)
        .arg(image)
        .output()
        .unwrap();
    stderr(&out)
}

#[test]
fn the_cache_keeps_to_its_bound() {
    let scratch = Scratch::new("pcache-bound");
    let cache = scratch.fresh("cache");
    let limit: u64 = 96 << 10;
    for image in ["sha256.elf", "nbody.elf", "bytecode.elf", "compress.elf"] {
        let out = Command::new(env!("CARGO_BIN_EXE_visa"))
            .args(["boot", "--engine", "jit", "--cache-size", &limit.to_string(), "--cache"])
            .arg(&cache)
            .arg(guests().join(image))
            .output()
            .unwrap();
        assert!(out.status.code().is_some(), "{image}: {}", stderr(&out));
    }
    let total: u64 = entries(&cache).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert!(total <= limit, "{total} bytes in the cache, bound {limit}");
    assert!(total > 0);
}

#[test]
fn no_cache_and_off_keep_nothing() {
    let scratch = Scratch::new("pcache-off");
    let cache = scratch.fresh("cache");
    let image = guests().join("sieve.elf");
    for extra in [&["--no-cache"][..], &[]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_visa"));
        cmd.args(["boot", "--engine", "jit", "--stats"]).args(extra).arg(&image);
        if extra.is_empty() {
            cmd.env("VISA_CACHE", "off");
        } else {
            cmd.env("VISA_CACHE", &cache);
        }
        let out = cmd.output().unwrap();
        assert!(stderr(&out).contains("persistent cache    off"), "{}", stderr(&out));
    }
    assert!(entries(&cache).is_empty());
}
