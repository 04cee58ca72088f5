//! Debian's gdb, in batch mode, against visa's gdb stub: a bare-metal guest
//! and a Linux program (built here with symbols) under the interpreter and
//! the tiered engine: break, continue, step, registers, examine and change
//! memory, a watchpoint hit, detach; the guest then runs to its end.
//! Needs `gdb` (`.ci/run` installs it); `VISA_NO_GDB=1` leaves it out.
//! A session that runs past `SESSION_LIMIT` fails, with what both sides
//! said, rather than hanging.

mod linux_run;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one gdb session may take, however loaded the machine (one
/// takes a few seconds).
const SESSION_LIMIT: Duration = Duration::from_secs(180);

fn visa() -> &'static str {
    env!("CARGO_BIN_EXE_visa")
}

fn skip() -> bool {
    std::env::var_os("VISA_NO_GDB").is_some()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child whose output is read as it comes (so that neither pipe fills),
/// its standard error line by line.
struct Watched {
    child: Child,
    out: Output,
    err: Output,
    err_lines: Receiver<String>,
}

/// What a reader has read of a stream so far, and whether it reached the end.
struct Output {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Output {
    /// Reads `stream` as it comes, each whole line also sent to `lines`.
    fn read(mut stream: impl Read + Send + 'static, lines: Sender<String>) -> Output {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let all = bytes.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut line = Vec::new();
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                all.lock().unwrap().extend_from_slice(&buf[..n]);
                for &b in &buf[..n] {
                    if b == b'\n' {
                        let _ = lines.send(String::from_utf8_lossy(&line).into_owned());
                        line.clear();
                    } else {
                        line.push(b);
                    }
                }
            }
        });
        Output { bytes, reader }
    }

    /// What was read once the stream ended, or by `deadline` (another
    /// process may hold it open).
    fn until(self, deadline: Instant) -> String {
        while !self.reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned();
        if self.reader.is_finished() { text } else { text + "(still held open by another process)\n" }
    }
}

impl Watched {
    fn start(cmd: &mut Command) -> Watched {
        let shown = format!("{cmd:?}");
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| {
            panic!("cannot start {shown}: {e}");
        });
        let out = Output::read(child.stdout.take().unwrap(), channel().0);
        let (tx, err_lines) = channel();
        let err = Output::read(child.stderr.take().unwrap(), tx);
        Watched { child, out, err, err_lines }
    }

    /// The child's status once it ends, if that is before `deadline`.
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where each of the child's threads waits (its name, state and
    /// kernel wait channel).
    fn threads(&self) -> String {
        let tasks = format!("/proc/{}/task", self.child.id());
        let mut all = String::new();
        for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            let read = |f: &str| std::fs::read_to_string(task.path().join(f)).unwrap_or_default();
            let state = read("status").lines().find(|l| l.starts_with("State:")).unwrap_or_default().to_string();
            all += &format!("{:?} {} {state} wchan {}\n", task.file_name(), read("comm").trim(), read("wchan"));
        }
        all
    }

    /// Kills the child (if it still runs), closes its standard input (if
    /// it was given a pipe: its own children may wait for that) and returns
    /// its stdout and stderr once every process that holds them ended, or
    /// what came of them by `deadline`.
    fn end(mut self, deadline: Instant) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.child.stdin.take());
        (self.out.until(deadline), self.err.until(deadline))
    }
}

/// The last `n` lines of a file, or why there are none.
fn tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}

/// Starts visa with `--gdb PORT --gdb-wait`, runs gdb with `script` (its
/// `PORT` replaced), and returns gdb's output, visa's (stdout, status) and
/// the packets gdb exchanged with the stub. visa's standard input is a pipe
/// that closes once visa has ended.
/// Past `SESSION_LIMIT` both are killed and the test fails with their
/// output, the packets gdb exchanged and where visa's threads waited.
fn session(visa_args: &[&str], script: &str) -> (String, String, i32, String) {
    let deadline = Instant::now() + SESSION_LIMIT;
    let port = free_port();
    let mut visa = Watched::start(
        Command::new(visa())
            .args(visa_args.iter().take(1))
            .args(["--gdb", &port.to_string(), "--gdb-wait"])
            .args(visa_args.iter().skip(1))
            .stdin(Stdio::piped()),
    );
    let line = visa.err_lines.recv_timeout(SESSION_LIMIT).unwrap_or_default();
    assert!(line.contains("waiting for gdb"), "visa said: {line}");
    let dir = std::env::temp_dir().join(format!("visa-gdb-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cmds = dir.join("cmds.gdb");
    let packets = dir.join("packets.log");
    let script = format!("set remotelogfile {}\n{}", packets.display(), script.replace("PORT", &port.to_string()));
    std::fs::write(&cmds, script).unwrap();
    let mut gdb = Watched::start(Command::new("gdb").args(["-batch", "-nx", "-x"]).arg(&cmds).stdin(Stdio::null()));
    let gdb_ended = gdb.wait_until(deadline).is_some();
    let status = if gdb_ended { visa.wait_until(deadline) } else { None };
    let Some(status) = status else {
        let threads = visa.threads();
        let grace = Instant::now() + Duration::from_secs(5);
        let (gdb_out, gdb_err) = gdb.end(grace);
        let (visa_out, visa_err) = visa.end(grace);
        panic!(
            "a gdb session ran past {SESSION_LIMIT:?} ({}); both were killed.\n\
             gdb said:\n{gdb_out}{gdb_err}\ngdb's last packets:\n{}\n\
             visa's threads:\n{threads}visa's stdout:\n{visa_out}\nvisa's stderr:\n{visa_err}",
            if gdb_ended { "visa went on after gdb ended" } else { "gdb did not end" },
            tail(&packets, 60)
        );
    };
    let (gdb_out, gdb_err) = gdb.end(deadline);
    let (visa_out, _) = visa.end(deadline);
    let exchanged = std::fs::read_to_string(&packets).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    (gdb_out + &gdb_err, visa_out, status.code().unwrap_or(-1), exchanged)
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
        let (gdb, out, status, _) = session(&["boot", image.to_str().unwrap(), "--engine", engine], script);
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
        let (gdb, out, status, _) = session(&["run", "--engine", engine, prog], &script);
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
/// the end as natively. Each child's SIGCHLD stops the parent for gdb,
/// which passes it on silently.
#[test]
fn execve_ends_the_session() {
    if skip() {
        return;
    }
    let vt = root().join("guests/linux/bin/vt");
    let native = Command::new(&vt).arg("exec").output().unwrap();
    assert_eq!(native.status.code(), Some(9));
    for engine in ["interp", "tiered"] {
        let script = "set pagination off\ntarget remote 127.0.0.1:PORT\ncontinue\n";
        let (gdb, out, status, packets) = session(&["run", "--engine", engine, vt.to_str().unwrap(), "exec"], script);
        assert!(gdb.contains("Remote connection closed"), "{engine}: {gdb}");
        // Three children, three SIGCHLD stops (gdb's signal 20), each passed on.
        assert_eq!(packets.matches("$T14thread").count(), 3, "{engine}: {packets}");
        assert_eq!(packets.matches("w $vCont;C14:").count(), 3, "{engine}: {packets}");
        assert_eq!(out, String::from_utf8_lossy(&native.stdout), "{engine}");
        assert_eq!(status, 9, "{engine}");
    }
}

/// gdb debugs the parent alone: a forked child's exit is not reported as
/// the program's, and the parent's execve ends the session while a child
/// that holds (a copy of) the connection lives on: the child waits for
/// visa's standard input to close, which happens only after gdb has ended.
#[test]
fn forked_children_are_not_debugged() {
    if skip() {
        return;
    }
    let prog = linux_run::build_c_program("gdb/forked");
    let prog = prog.to_str().unwrap();
    for engine in ["interp", "tiered"] {
        let script = "set pagination off\ntarget remote 127.0.0.1:PORT\ncontinue\n";
        let (gdb, out, status, packets) = session(&["run", "--engine", engine, prog], script);
        assert!(gdb.contains("Remote connection closed"), "{engine}: {gdb}");
        assert!(!gdb.contains("exited"), "{engine}: {gdb}");
        // The first child's SIGCHLD stopped the parent.
        assert_eq!(packets.matches("$T14thread").count(), 1, "{engine}: {packets}");
        assert!(!packets.contains("$W"), "{engine}: {packets}");
        assert_eq!(out, "child exited 3\nexec'd\n", "{engine}");
        assert_eq!(status, 0, "{engine}");
    }
    let _ = std::fs::remove_file(Path::new(prog));
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
        let (gdb, out, status, _) = session(&["run", "--engine", engine, prog], &script);
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
