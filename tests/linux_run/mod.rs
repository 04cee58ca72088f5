//! Running Linux programs natively and under `visa run` (each engine) and
//! comparing how they end: shared by the Linux user-mode tests.

#![allow(dead_code)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// visa's exit status when it cannot do what was asked.
pub const ERROR_STATUS: i32 = 125;

/// Longest any one run may take before the test fails (and kills it).
pub const RUN_LIMIT: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Interp,
    Jit,
    Tiered,
}

pub use Engine::{Interp, Jit, Tiered};

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Interp => "interp",
            Jit => "jit",
            Tiered => "tiered",
        }
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Exit(i32),
    Signal(i32),
}

pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub ending: Ending,
}

/// A command's environment: inherited, or exactly these variables.
pub type Env<'a> = Option<&'a [(&'a str, &'a str)]>;

/// A scratch directory of this test process, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("visa-linux-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A fresh empty directory inside (emptied if it exists).
    pub fn fresh(&self, name: &str) -> PathBuf {
        let dir = self.0.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command to its end (stdin empty), failing the test if it takes
/// longer than `RUN_LIMIT`.
pub fn execute(mut cmd: Command, env: Env, cwd: Option<&Path>) -> Run {
    if let Some(vars) = env {
        cmd.env_clear();
        cmd.envs(vars.iter().copied());
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(RUN_LIMIT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: signalling the child this function started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{shown} ran for more than {RUN_LIMIT:?}");
        }
    };
    let ending = match (out.status.code(), out.status.signal()) {
        (Some(code), _) => Ending::Exit(code),
        (None, Some(sig)) => Ending::Signal(sig),
        (None, None) => panic!("{shown}: neither exited nor was killed"),
    };
    Run { stdout: out.stdout, stderr: String::from_utf8_lossy(&out.stderr).into_owned(), ending }
}

pub fn native(program: &Path, args: &[&str], env: Env, cwd: Option<&Path>) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args);
    execute(cmd, env, cwd)
}

pub fn visa(engine: Engine, options: &[&str], program: &Path, args: &[&str], env: Env, cwd: Option<&Path>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_visa"));
    cmd.args(["run", "--engine", engine.name()]).args(options).arg(program).args(args);
    execute(cmd, env, cwd)
}

/// The first line where two outputs differ, with a little context.
pub fn first_difference(expected: &[u8], got: &[u8]) -> String {
    let (e, g) = (String::from_utf8_lossy(expected), String::from_utf8_lossy(got));
    let (el, gl): (Vec<&str>, Vec<&str>) = (e.lines().collect(), g.lines().collect());
    let at = el.iter().zip(&gl).position(|(a, b)| a != b).unwrap_or(el.len().min(gl.len()));
    let from = at.saturating_sub(2);
    let show =
        |lines: &[&str]| lines.iter().skip(from).take(at - from + 3).map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "first difference at line {} ({} lines natively, {} under visa)\n  native:\n{}  visa:\n{}",
        at + 1,
        el.len(),
        gl.len(),
        show(&el),
        show(&gl)
    )
}

/// Asserts that a run under visa printed and ended as the native one.
pub fn assert_same(what: &str, native: &Run, got: &Run) {
    assert!(!got.stderr.contains("panicked"), "{what}: visa panicked:\n{}", got.stderr);
    assert!(
        native.stdout == got.stdout,
        "{what}: standard output differs; {}\nvisa's stderr:\n{}",
        first_difference(&native.stdout, &got.stdout),
        got.stderr
    );
    assert_eq!(got.ending, native.ending, "{what}: ending differs; visa's stderr:\n{}", got.stderr);
}

pub fn text(run: &Run) -> String {
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// The static multi-call test program (see guests/linux/src).
pub fn vt() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/linux/bin/vt")
}

/// The dynamically linked test program (see guests/linux/dyn).
pub fn dynvt() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/linux/bin/vtdyn")
}

/// The processor test program (see guests/linux/isa).
pub fn vtisa() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/linux/bin/vtisa")
}

/// The x86-64-v3 test program (see guests/linux/v3).
pub fn vtv3() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/linux/bin/vtv3")
}

/// The threads test program (see guests/linux/threads).
pub fn vtthreads() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/linux/bin/vtthreads")
}

/// Builds `tests/NAME.c` (`gdb/watched`, say) static, with debugging
/// information, into a program of this test process (`cc` and a static C
/// library are needed: `.ci/run` installs them).
pub fn build_c_program(name: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("visa-{}-{}", name.replace('/', "-"), std::process::id()));
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(format!("{name}.c"));
    let built = Command::new("cc")
        .args(["-static", "-O0", "-g", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("cannot run cc (apt-get install gcc libc6-dev): {e}"));
    assert!(built.success(), "cannot build {} with cc -static", source.display());
    out
}
