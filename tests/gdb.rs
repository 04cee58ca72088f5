//! Debian's gdb, in batch mode, against visa's gdb stub: a bare-metal guest
//! and a Linux program (built here with symbols) under the interpreter and
//! the tiered engine: break, continue, step, registers, examine and change
//! memory, a watchpoint hit, detach; the guest then runs to its end.
//! Needs `gdb` (`.ci/run` installs it); `VISA_NO_GDB=1` leaves it out.

mod linux_run;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn visa() -> &'static str {
    env!("CARGO_BIN_EXE_visa")
}

fn skip() -> bool {
    std::env::var_os("VISA_NO_GDB").is_some()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts visa with `--gdb PORT --gdb-wait`, runs gdb with `script` (its
/// `PORT` replaced), and returns gdb's output and visa's (stdout, status).
fn session(visa_args: &[&str], script: &str) -> (String, String, i32) {
    let port = free_port();
    let mut child = Command::new(visa())
        .args(visa_args.iter().take(1))
        .args(["--gdb", &port.to_string(), "--gdb-wait"])
        .args(visa_args.iter().skip(1))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("waiting for gdb"), "visa said: {line}");
    let dir = std::env::temp_dir().join(format!("visa-gdb-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cmds = dir.join("cmds.gdb");
    std::fs::write(&cmds, script.replace("PORT", &port.to_string())).unwrap();
    let gdb = Command::new("gdb")
        .args(["-batch", "-nx", "-x"])
        .arg(&cmds)
        .stdin(Stdio::null())
        .output()
        .expect("gdb runs (apt-get install gdb)");
    let out = child.wait_with_output().unwrap();
    let gdb_out = String::from_utf8_lossy(&gdb.stdout).to_string() + &String::from_utf8_lossy(&gdb.stderr);
    (gdb_out, String::from_utf8_lossy(&out.stdout).to_string(), out.status.code().unwrap_or(-1))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn bare_metal_guest() {
    if skip() {
        return;
    }
    let image = root().join("guests/bin/sieve.elf");
    let expected = std::fs::read_to_string(root().join("guests/expected/sieve.out")).unwrap();
    for engine in ["interp", "tiered", "jit"] {
        // 0x1001f8 is the sieve's inner loop (guest_main+0x48); gdb is given no file.
        let script = "set pagination off\ntarget remote 127.0.0.1:PORT\ninfo registers rip\n\
            break *0x1001f8\ncontinue\ninfo registers rip\nstepi\ninfo registers rip\n\
            x/2xw 0x100000\nset {int}0x7fff000 = 0x12345678\nx/1xw 0x7fff000\nprint $rsp\n\
            x/1xw 0x9000000\ndelete\ndetach\n";
        let (gdb, out, status) = session(&["boot", image.to_str().unwrap(), "--engine", engine], script);
        assert!(gdb.contains("rip            0x100000 "), "{engine}: {gdb}");
        assert!(gdb.contains("Breakpoint 1, 0x00000000001001f8"), "{engine}: {gdb}");
        assert!(gdb.contains("rip            0x1001f8 "), "{engine}: {gdb}");
        // The instruction at 0x1001f8 is 7 bytes long.
        assert!(gdb.contains("rip            0x1001ff "), "{engine}: {gdb}");
        assert!(gdb.contains("0x7fff000:\t0x12345678"), "{engine}: {gdb}");
        assert!(gdb.contains("$1 = (void *) 0x8000000"), "{engine}: {gdb}");
        // Past the end of RAM: an error, not a crash.
        assert!(gdb.contains("Cannot access memory at address 0x9000000"), "{engine}: {gdb}");
        assert!(gdb.contains("detached"), "{engine}: {gdb}");
        assert_eq!(out, expected, "{engine}");
        assert_eq!(status, 1, "{engine}");
    }
}

#[test]
fn linux_program() {
    if skip() {
        return;
    }
    let prog = linux_run::build_c_program("gdb/watched");
    let prog = prog.to_str().unwrap();
    for engine in ["interp", "tiered"] {
        let script = format!(
            "set pagination off\nfile {prog}\ntarget remote 127.0.0.1:PORT\nbreak bump\ncontinue\n\
             info registers rip\nprint x\nprint counter\nset var counter = 100\nprint counter\n\
             x/1dg &counter\nstepi\ninfo registers rip\ninfo threads\ndelete\nwatch counter\ncontinue\ndelete\ndetach\n"
        );
        let (gdb, out, status) = session(&["run", "--engine", engine, prog], &script);
        assert!(gdb.contains("Breakpoint 1, bump (x=1)"), "{engine}: {gdb}");
        assert!(gdb.contains("$1 = 1"), "{engine}: {gdb}");
        assert!(gdb.contains("$2 = 0"), "{engine}: {gdb}");
        assert!(gdb.contains("$3 = 100"), "{engine}: {gdb}");
        assert!(gdb.contains(":\t100"), "{engine}: {gdb}");
        assert!(gdb.contains("Thread"), "{engine}: {gdb}");
        assert!(gdb.contains("Hardware watchpoint 2: counter"), "{engine}: {gdb}");
        assert!(gdb.contains("Old value = 100") && gdb.contains("New value = 101"), "{engine}: {gdb}");
        assert!(gdb.contains("detached"), "{engine}: {gdb}");
        assert_eq!(out, "counter 106\n", "{engine}");
        assert_eq!(status, 0, "{engine}");
    }
    let _ = std::fs::remove_file(Path::new(prog));
}

/// A program that execs: the stub is not carried over to the new program
/// (as under qemu-user, gdb sees the connection close when the process
/// execs), and its forked children run free of gdb; everything runs to
/// the end as natively.
#[test]
#[ignore = "can hang: once in three loaded runs the stub waited for a packet in a stop of the parent while gdb waited for a stop reply"]
fn execve_ends_the_session() {
    if skip() {
        return;
    }
    let vt = root().join("guests/linux/bin/vt");
    let native = Command::new(&vt).arg("exec").output().unwrap();
    assert_eq!(native.status.code(), Some(9));
    for engine in ["interp", "tiered"] {
        let script = "set pagination off\ntarget remote 127.0.0.1:PORT\ncontinue\n";
        let (gdb, out, status) = session(&["run", "--engine", engine, vt.to_str().unwrap(), "exec"], script);
        assert!(gdb.contains("Remote connection closed"), "{engine}: {gdb}");
        assert_eq!(out, String::from_utf8_lossy(&native.stdout), "{engine}");
        assert_eq!(status, 9, "{engine}");
    }
}

/// Signals stop the guest and gdb hears of each (as ptrace reports a
/// native process's): a handled SIGUSR1 (passed on by gdb, or discarded
/// with `signal 0`), an ignored SIGUSR2, and a SIGSEGV nothing handles,
/// which stops at the faulting line and then ends the program.
#[test]
fn signals_stop_the_guest() {
    if skip() {
        return;
    }
    let prog = linux_run::build_c_program("gdb/signalled");
    let prog = prog.to_str().unwrap();
    let cases = [("interp", "continue", "10"), ("tiered", "continue", "10"), ("tiered", "signal 0", "0")];
    for (engine, after_usr1, handled) in cases {
        let script = format!(
            "set pagination off\nfile {prog}\ntarget remote 127.0.0.1:PORT\ncontinue\nprint handled\n{after_usr1}\n\
             print handled\ncontinue\ncontinue\n"
        );
        let (gdb, out, status) = session(&["run", "--engine", engine, prog], &script);
        let what = format!("{engine}, {after_usr1}");
        assert!(gdb.contains("Program received signal SIGUSR1"), "{what}: {gdb}");
        assert!(gdb.contains("$1 = 0"), "{what}: {gdb}");
        assert!(gdb.contains("Program received signal SIGUSR2"), "{what}: {gdb}");
        assert!(gdb.contains(&format!("$2 = {handled}")), "{what}: {gdb}");
        assert!(gdb.contains("Program received signal SIGSEGV"), "{what}: {gdb}");
        assert!(gdb.contains("signalled.c:19"), "{what}: {gdb}");
        assert!(gdb.contains("Program terminated with signal SIGSEGV"), "{what}: {gdb}");
        assert_eq!(out, format!("handled {handled}\n"), "{what}");
        // visa dies of the guest's signal.
        assert_eq!(status, -1, "{what}");
    }
    let _ = std::fs::remove_file(Path::new(prog));
}
