//! Golden output of each `-d` item on small board guests: what the engine
//! logs must not change unnoticed. The logs hold no host addresses or
//! times, except the addresses of host routines compiled code calls, which
//! are masked (`0xHOST`). Regenerate a golden with `VISA_BLESS=1`. Also
//! `-d help`, the symbols logs and profiles name blocks by (board and
//! user mode), and the signals `-d int` logs (test programs built with
//! `cc` from `tests/gdb/`).

mod linux_run;

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `visa boot GUEST --engine ENGINE -d ITEM [--log-filter F]` and
/// compares the log with `tests/golden/NAME.log`.
fn check(guest: &str, engine: &str, item: &str, filter: Option<&str>, name: &str) {
    let log = std::env::temp_dir().join(format!("visa-golden-{}-{name}.log", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_visa"));
    cmd.args(["boot", root().join("guests/bin").join(guest).to_str().unwrap(), "--engine", engine, "-d", item]);
    cmd.arg("-D").arg(&log);
    if let Some(f) = filter {
        cmd.args(["--log-filter", f]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.code().is_some(), "{name}: {out:?}");
    let got = mask_host_addresses(&std::fs::read_to_string(&log).unwrap());
    let _ = std::fs::remove_file(&log);
    let golden = root().join("tests/golden").join(format!("{name}.log"));
    if std::env::var_os("VISA_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert!(!want.is_empty(), "{name}: empty golden");
    assert_eq!(got, want, "{name}: the log differs from {}", golden.display());
}

#[test]
fn translation_items() {
    for item in ["in_asm", "visa", "opt"] {
        check("hello.elf", "interp", item, None, &format!("hello_{item}"));
    }
}

#[test]
fn execution_items() {
    for item in ["exec", "cpu"] {
        check("hello.elf", "interp", item, None, &format!("hello_{item}"));
    }
    check("fault_ud.elf", "interp", "int", None, "fault_ud_int");
}

/// Host code and Cranelift IR are the x86-64 host's.
#[cfg(target_arch = "x86_64")]
#[test]
fn compilation_items() {
    for item in ["clif", "out_asm", "tier"] {
        check("hello.elf", "jit", item, Some("0x100000-0x100010"), &format!("hello_{item}"));
    }
}

/// Replaces hex numbers of 12 or more digits (host addresses; guest ones
/// here are short) with `0xHOST`.
fn mask_host_addresses(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("0x") {
        out += &rest[..i];
        let tail = &rest[i + 2..];
        let len = tail.find(|c: char| !(c.is_ascii_hexdigit() || c == '_')).unwrap_or(tail.len());
        let digits = tail[..len].chars().filter(|c| *c != '_').count();
        out += if digits >= 12 { "0xHOST" } else { &rest[i..i + 2 + len] };
        rest = &tail[len..];
    }
    out + rest
}

/// `-d help` lists every item with a line saying what it logs and ends
/// with status 0, under both commands (before `run` asks for a program);
/// an unknown item is a usage error (status 2) that names the valid ones.
#[test]
fn help_and_unknown_items() {
    for command in [&["boot", "-d", "help"][..], &["run", "-d", "help"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_visa")).args(command).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{command:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        for (name, _, what) in visa::engine::LOG_ITEMS {
            let line = text.lines().find(|l| l.split_whitespace().next() == Some(name));
            assert!(line.is_some_and(|l| l.contains(what)), "{command:?}: no line for {name}:\n{text}");
        }
        assert_eq!(text.lines().count(), visa::engine::LOG_ITEMS.len() + 1, "{text}");
    }
    let hello = root().join("guests/bin/hello.elf");
    let out = Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(["boot", hello.to_str().unwrap(), "-d", "exec,bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "the guest did not run: {out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown log item `bogus`"), "{err}");
    for (name, _, _) in visa::engine::LOG_ITEMS {
        assert!(err.contains(name), "{name} not named: {err}");
    }
}

/// Runs visa with `args` and returns the log `-D` wrote and the profile.
fn log_and_profile(args: &[&str], tag: &str) -> (String, String) {
    let dir = std::env::temp_dir();
    let log = dir.join(format!("visa-names-{}-{tag}.log", std::process::id()));
    let profile = dir.join(format!("visa-names-{}-{tag}.profile", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_visa"))
        .args(&args[..1])
        .args(["-d", "in_asm,exec", "-D", log.to_str().unwrap(), "--profile", profile.to_str().unwrap()])
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{tag}: {out:?}");
    let texts = (std::fs::read_to_string(&log).unwrap(), std::fs::read_to_string(&profile).unwrap());
    let _ = (std::fs::remove_file(&log), std::fs::remove_file(&profile));
    texts
}

/// The blocks of the profile (address, symbol column), hottest first.
fn profile_rows(profile: &str) -> Vec<(String, String)> {
    let rows = profile.lines().filter(|l| !l.starts_with('#'));
    rows.map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols[0].to_string(), cols.get(6).unwrap_or(&"").to_string())
    })
    .collect()
}

/// A bare-metal image with a symbol table: its profile and its logs name
/// blocks by function and offset, as `visa run`'s do.
#[test]
fn board_profile_and_logs_name_symbols() {
    let hello = root().join("guests/bin/hello.elf");
    for engine in ["interp", "jit"] {
        let (log, profile) = log_and_profile(&["boot", hello.to_str().unwrap(), "--engine", engine], engine);
        let rows = profile_rows(&profile);
        // Every block is in a function (or after the label _start).
        assert!(rows.iter().all(|(_, s)| !s.is_empty()), "{engine}: {profile}");
        assert!(rows.iter().any(|(a, s)| a == "0x100000" && s == "_start"), "{engine}: {profile}");
        assert!(rows.iter().any(|(_, s)| s.starts_with("rt_putc")), "{engine}: {profile}");
        assert!(log.contains("in_asm: block 0x1001b0 <guest_main>\n"), "{engine}: {log}");
        for (addr, symbol) in &rows {
            assert!(log.contains(&format!("exec: {addr} <{symbol}> ")), "{engine}: {addr} {symbol}");
        }
    }
}

/// A Linux program with symbols (built here, static): the same names in
/// the log and the profile. Needs `cc` and a static C library.
#[test]
fn user_mode_profile_and_logs_name_symbols() {
    let prog = linux_run::build_c_program("gdb/watched");
    let (log, profile) = log_and_profile(&["run", "--engine", "interp", prog.to_str().unwrap()], "run");
    let _ = std::fs::remove_file(&prog);
    let rows = profile_rows(&profile);
    assert!(rows.iter().any(|(_, s)| s == "bump"), "{profile}");
    assert!(rows.iter().any(|(_, s)| s == "main"), "{profile}");
    let bump = rows.iter().find(|(_, s)| s == "bump").unwrap();
    assert!(log.contains(&format!("in_asm: block {} <bump>\n", bump.0)), "{log}");
    // Three calls of bump.
    assert_eq!(log.matches(&format!("exec: {} <bump> ", bump.0)).count(), 3, "{log}");
}

/// `-d int` logs each signal the guest acts on: number, name, thread and
/// what becomes of it (a handler, by name; ignored; the default action).
#[test]
fn int_logs_signals() {
    let prog = linux_run::build_c_program("gdb/signalled");
    for engine in ["interp", "tiered"] {
        let log = std::env::temp_dir().join(format!("visa-signals-{}-{engine}.log", std::process::id()));
        let out = Command::new(env!("CARGO_BIN_EXE_visa"))
            .args(["run", "--engine", engine, "-d", "int", "-D", log.to_str().unwrap(), prog.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "handled 10\n", "{engine}");
        let text = std::fs::read_to_string(&log).unwrap();
        let _ = std::fs::remove_file(&log);
        let signals: Vec<&str> = text.lines().filter(|l| l.starts_with("int: signal")).collect();
        assert_eq!(signals.len(), 3, "{engine}: {text}");
        let thread = signals[0].split(" to thread ").nth(1).unwrap().split(':').next().unwrap();
        let want = [
            "int: signal 10 (SIGUSR1) to thread T: handler 0x",
            "int: signal 12 (SIGUSR2) to thread T: ignored",
            "int: signal 11 (SIGSEGV) to thread T: default action, terminate",
        ];
        for (got, want) in signals.iter().zip(want) {
            assert!(got.starts_with(&want.replace('T', thread)), "{engine}: {got}");
        }
        assert!(signals[0].ends_with(" <on_usr1>"), "{engine}: {}", signals[0]);
    }
    let _ = std::fs::remove_file(&prog);
}
