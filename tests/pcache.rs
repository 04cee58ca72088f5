//! The persistent translation cache (`--cache`): a run with a warm cache
//! prints, ends and counts guest instructions exactly as the run that
//! filled it, under the interpreter, the tiered and the JIT engines, on
//! board guests and Linux programs; a block stored for other guest bytes
//! at the same address is not used; damaged files are ignored with a
//! warning; a directory that cannot be written is warned about once;
//! processes that fill one cache at once all succeed and leave it valid;
//! the directory keeps to its bound.

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

/// `visa boot` of a guest (none: `options` load one) with `options`, the
/// cache and `--stats`.
fn boot_with(image: &str, options: &[&str], cache: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_visa"));
    cmd.arg("boot").args(options).args(["--stats", "--cache"]).arg(cache);
    if !image.is_empty() {
        cmd.arg(guests().join(image));
    }
    cmd.output().unwrap()
}

/// The guest under `engine`; the tiered engine compiles blocks after five
/// runs, on the guest's thread, so that even short runs compile some.
fn boot(image: &str, engine: &str, cache: &Path) -> Output {
    boot_with(image, &["--engine", engine, "--threshold", "5", "--sync-compile"], cache)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every cache file (region) in `dir`: named by 32 hex digits.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_str().is_some_and(|n| n.len() == 32))
        .collect();
    out.sort();
    out
}

/// Cold then warm: same output, status and instruction count; the cold run
/// stores, the warm one hits and (if it compiles) compiles less.
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
    // Every block the cold run translated is found by the warm one (but
    // for code the guest rewrites: the cache holds one version an address).
    // The warm run starts new blocks only after its float exits: compiled
    // code that leaves for the interpreter before an instruction whose
    // exceptions its screen could not rule out resumes mid-block, where
    // the cold run, which ran more of that code interpreted, may not have.
    if counter(&c, "invalidations") == 0 {
        let misses = counter(&w, "blocks translated").saturating_sub(warm_hits);
        assert!(misses <= counter(&w, "float exits"), "{what}: {misses} blocks not found:\n{w}");
    }
    let compiled = counter(&c, "blocks compiled");
    assert!(
        compiled == 0 || counter(&w, "blocks compiled") < compiled,
        "{what}: the warm run compiled as much:\n{c}\n{w}"
    );
}

#[test]
fn board_guests_run_the_same_from_a_warm_cache() {
    for image in ["sieve.elf", "sha256.elf", "nbody.elf", "smc.elf", "bytecode.elf"] {
        for engine in ["interp", "tiered", "jit"] {
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
        for engine in ["interp", "tiered", "jit"] {
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

/// A way to damage a file's bytes.
type Damage = fn(&mut Vec<u8>);

#[test]
fn damaged_files_are_ignored_with_a_warning() {
    let scratch = Scratch::new("pcache-damaged");
    let run = |cache: &Path| boot("sha256.elf", "jit", cache);
    let pristine = scratch.fresh("pristine");
    let cold = run(&pristine);
    assert!(!stderr(&cold).contains("ignoring"));
    let files = entries(&pristine);
    assert!(!files.is_empty());
    let insts = counter(&stderr(&cold), "guest instructions");
    // A flipped byte in a block, near the end (a relocation record), in the
    // header; a file cut short, an empty one, one of another format version.
    let damage: [(&str, Damage); 6] = [
        ("corrupt", |b| b[60] ^= 0x40),
        ("corrupt", |b| {
            let n = b.len();
            b[n - 20] ^= 1
        }),
        ("corrupt", |b| b[20] ^= 0xff),
        ("corrupt", |b| b.truncate(b.len() / 2)),
        ("corrupt", |b| b.clear()),
        ("stale", |b| b[8] = 99),
    ];
    for (i, (reason, hurt)) in damage.iter().enumerate() {
        let cache = scratch.fresh(&format!("damaged-{i}"));
        for file in &files {
            let mut bytes = std::fs::read(file).unwrap();
            hurt(&mut bytes);
            std::fs::write(cache.join(file.file_name().unwrap()), bytes).unwrap();
        }
        let warm = run(&cache);
        let w = stderr(&warm);
        assert_eq!(warm.stdout, cold.stdout, "damage {i}");
        assert_eq!(warm.status.code(), cold.status.code(), "damage {i}");
        assert_eq!(counter(&w, "guest instructions"), insts, "damage {i}");
        let warnings: Vec<&str> = w.lines().filter(|l| l.starts_with("visa: ignoring cache file")).collect();
        assert_eq!(warnings.len(), files.len(), "damage {i}: {w}");
        assert!(warnings.iter().all(|l| l.contains(reason)), "damage {i}: {w}");
        let [hits, _, stores, rejected] = persistent(&w);
        assert_eq!((hits, rejected), (0, files.len() as u64), "damage {i}: {w}");
        assert!(stores > 0, "damage {i}: {w}");
        // The damaged files were written again: a third run finds every block.
        let again = stderr(&run(&cache));
        assert!(!again.contains("ignoring"), "damage {i}: {again}");
        let [hits, misses, _, rejected] = persistent(&again);
        assert!(hits > 0 && misses == 0 && rejected == 0, "damage {i}: {again}");
    }
}

/// Boots raw code loaded at 1 MiB with `--stats` and the cache.
fn boot_raw(scratch: &Scratch, code: &[u8], engine: &str, cache: &Path) -> Output {
    let file = scratch.0.join("code.bin");
    std::fs::write(&file, code).unwrap();
    let load = format!("{}@0x100000", file.display());
    boot_with(
        "",
        &["--engine", engine, "--threshold", "5", "--sync-compile", "--load", &load, "--entry", "0x100000"],
        cache,
    )
}

#[test]
fn a_block_stored_for_other_bytes_at_its_address_is_not_used() {
    let scratch = Scratch::new("pcache-stale");
    // mov al, 5; add al, N; out 0xf4, al: the board ends with status
    // (al << 1) | 1. The programs differ in one byte, inside the block.
    let program = |n: u8| [0xb0, 0x05, 0x04, n, 0xe6, 0xf4];
    for engine in ["interp", "tiered", "jit"] {
        let cache = scratch.fresh(&format!("cache-{engine}"));
        let mut found = Vec::new();
        for n in [1u8, 2, 2, 1, 3] {
            let out = boot_raw(&scratch, &program(n), engine, &cache);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(((5 + n as i32) << 1) | 1), "{engine}, add {n}: {err}");
            assert!(!err.contains("ignoring"), "{err}");
            found.push(persistent(&err)[0]);
        }
        // Only the run after one of the same program takes the stored block.
        assert_eq!(found, [0, 0, 1, 0, 0], "{engine}");
    }
}

#[test]
fn a_directory_that_cannot_be_written_is_warned_about_once() {
    let scratch = Scratch::new("pcache-unwritable");
    // A directory cannot be made under a file.
    let file = scratch.0.join("file");
    std::fs::write(&file, b"").unwrap();
    let cache = file.join("cache");
    let plain = boot_with("sha256.elf", &["--engine", "jit", "--no-cache"], &cache);
    for engine in ["interp", "tiered", "jit"] {
        let out = boot_with("sha256.elf", &["--engine", engine], &cache);
        let err = stderr(&out);
        assert_eq!(out.stdout, plain.stdout, "{engine}");
        assert_eq!(out.status.code(), plain.status.code(), "{engine}");
        let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("visa:")).collect();
        assert_eq!(warnings.len(), 1, "{engine}: {err}");
        assert!(warnings[0].contains("cannot write the translation cache"), "{err}");
        assert_eq!(persistent(&err)[2], 0, "{err}");
    }
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
    if std::env::var_os("VISA_NO_BUSYBOX").is_some() {
        eprintln!("VISA_NO_BUSYBOX=1: the cache's bound is not tested");
        return;
    }
    let scratch = Scratch::new("pcache-bound");
    let cache = scratch.fresh("cache");
    // Busybox's code spans many regions (the JIT engine stores host code
    // for every block: a few MiB an applet), so the bound leaves some.
    let limit: u64 = 1 << 20;
    for applet in [&["seq", "1", "50"][..], &["md5sum", "/bin/sh"], &["sort", "/etc/passwd"], &["ls", "/usr"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_visa"))
            .args(["run", "--engine", "jit", "--cache-size", &limit.to_string(), "--cache"])
            .arg(&cache)
            .arg("/usr/bin/busybox")
            .args(applet)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{applet:?}: {}", stderr(&out));
        let total: u64 = entries(&cache).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
        assert!(total <= limit, "after {applet:?}: {total} bytes in the cache, bound {limit}");
        assert!(total > 0, "after {applet:?}");
    }
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
