//! Golden output of each `-d` item on small board guests: what the engine
//! logs must not change unnoticed. The logs hold no host addresses or
//! times, except the addresses of host routines compiled code calls, which
//! are masked (`0xHOST`). Regenerate a golden with `VISA_BLESS=1`.

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
