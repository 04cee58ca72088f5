//! Benchmarking translation against interpretation: the workload suite,
//! the ways of running a workload (natively, under qemu-x86_64, and under
//! each visa engine), and one measured run: wall time, CPU time, peak
//! memory, output and, for visa, the engine's statistics. `report` turns
//! samples into tables, JSON and a chart.

pub mod chart;
pub mod report;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One workload of the suite: a subcommand of the benchmark program.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub name: &'static str,
    /// What it exercises.
    pub about: &'static str,
    /// Repetitions inside one process in a full run (about 0.1 s natively).
    pub repeat: u32,
}

/// The suite, in the order reports list it.
pub const SUITE: &[Workload] = &[
    Workload { name: "sieve", about: "sieve of Eratosthenes (loads, stores, branches)", repeat: 10 },
    Workload { name: "sort", about: "quicksort through an indirect comparator", repeat: 2 },
    Workload { name: "sha256", about: "SHA-256 (rotates, 32-bit arithmetic)", repeat: 15 },
    Workload { name: "crc32", about: "table-driven CRC-32 of 4 MiB", repeat: 4 },
    Workload { name: "recursive", about: "recursion (calls and returns)", repeat: 20 },
    Workload { name: "bytecode", about: "a switch-dispatch bytecode interpreter", repeat: 8 },
    Workload { name: "nbody", about: "n-body simulation (SSE2 double precision)", repeat: 6 },
    Workload { name: "compress", about: "LZ77 compression and decompression", repeat: 2 },
    Workload { name: "strings", about: "the C library's vectorised string routines", repeat: 40 },
];

/// How a workload is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The program run directly (x86-64 hosts only).
    Native,
    /// Under qemu-x86_64 (path to it).
    Qemu(PathBuf),
    /// Under `visa run --engine NAME`.
    Visa(&'static str),
}

impl Mode {
    pub fn label(&self) -> &str {
        match self {
            Mode::Native => "native",
            Mode::Qemu(_) => "qemu",
            Mode::Visa(engine) => engine,
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct Sample {
    pub wall: Duration,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident set size, in KiB.
    pub max_rss_kb: u64,
    pub stdout: Vec<u8>,
    /// Exit status, or 128 + the signal that killed it.
    pub status: i32,
    /// visa's engine statistics (visa modes only).
    pub stats: Option<serde_json::Value>,
}

/// Where to find the programs a benchmark runs.
#[derive(Clone, Debug)]
pub struct Tools {
    /// The visa executable (normally this one).
    pub visa: PathBuf,
    /// The static benchmark program (guests/bench/bin/bench).
    pub program: PathBuf,
    /// The persistent translation cache visa runs with (none: every run
    /// starts cold).
    pub cache: Option<PathBuf>,
}

/// qemu-x86_64 on the search path, if there is one.
pub fn find_qemu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("qemu-x86_64")).find(|p| p.is_file())
}

/// Can the host run x86-64 programs itself?
pub fn host_runs_x86_64() -> bool {
    cfg!(all(target_arch = "x86_64", target_os = "linux"))
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// Runs `workload` repeated `repeat` times in `mode` and measures it.
pub fn run_one(tools: &Tools, mode: &Mode, workload: &str, repeat: u32) -> Result<Sample, String> {
    run_profiled(tools, mode, workload, repeat, None)
}

/// One of the hottest blocks of a workload (`visa bench --hot N`), from a
/// profile of `visa run` (see `report::profile_json`).
#[derive(Clone, Debug, PartialEq)]
pub struct HotBlock {
    /// Guest address, in hex.
    pub addr: String,
    /// `function+offset`, when the program has symbols.
    pub symbol: Option<String>,
    pub runs: u64,
    /// Percent of the time in blocks (the dispatcher's clock).
    pub share: f64,
    /// `interp`, `jit` or `mixed`.
    pub tier: String,
}

/// Runs `workload` repeated `repeat` times under visa's `engine` with a
/// profile (`--profile`, which gives up linked compiled code, so it is not
/// a timed run) and returns the run and its `n` hottest blocks.
pub fn hottest(
    tools: &Tools,
    engine: &'static str,
    workload: &str,
    repeat: u32,
    n: usize,
) -> Result<(Sample, Vec<HotBlock>), String> {
    let file = std::env::temp_dir().join(format!("visa-bench-{}-{workload}-{engine}.profile.json", std::process::id()));
    let sample = run_profiled(tools, &Mode::Visa(engine), workload, repeat, Some(&file))?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{workload} under {engine}: no profile ({e})"));
    let _ = std::fs::remove_file(&file);
    let json: serde_json::Value = serde_json::from_str(&text?).map_err(|e| format!("{workload}: bad profile: {e}"))?;
    let blocks = json["blocks"].as_array().map(Vec::as_slice).unwrap_or_default();
    let hot = blocks
        .iter()
        .take(n)
        .map(|b| HotBlock {
            addr: b["addr"].as_str().unwrap_or_default().to_string(),
            symbol: b["symbol"].as_str().map(str::to_string),
            runs: b["runs"].as_u64().unwrap_or_default(),
            share: b["share"].as_f64().unwrap_or_default(),
            tier: b["tier"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    Ok((sample, hot))
}

/// `run_one`, writing visa's per-block profile to `profile` when given.
fn run_profiled(
    tools: &Tools,
    mode: &Mode,
    workload: &str,
    repeat: u32,
    profile: Option<&Path>,
) -> Result<Sample, String> {
    let stats_file = std::env::temp_dir().join(format!("visa-bench-{}-{workload}.json", std::process::id()));
    let program = tools.program.as_os_str();
    let mut cmd = match mode {
        Mode::Native => Command::new(program),
        Mode::Qemu(qemu) => {
            let mut c = Command::new(qemu);
            c.arg(program);
            c
        }
        Mode::Visa(engine) => {
            let mut c = Command::new(&tools.visa);
            c.args(["run", "--engine", engine, "--stats-json"]).arg(&stats_file);
            match &tools.cache {
                Some(dir) => c.arg("--cache").arg(dir),
                None => c.arg("--no-cache"),
            };
            if let Some(file) = profile {
                c.arg("--profile").arg(file);
            }
            c.arg("--").arg(program);
            c
        }
    };
    cmd.arg(workload).arg(repeat.to_string()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", describe(&cmd)))?;
    let mut stdout = Vec::new();
    child.stdout.take().expect("piped").read_to_end(&mut stdout).map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: plain data the host fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, whose status std has not reaped.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if r < 0 {
        return Err(format!("waiting for {}: {}", describe(&cmd), std::io::Error::last_os_error()));
    }
    let status = if libc::WIFSIGNALED(status) { 128 + libc::WTERMSIG(status) } else { libc::WEXITSTATUS(status) };
    let stats = match mode {
        Mode::Visa(_) => {
            let text = std::fs::read_to_string(&stats_file).ok();
            let _ = std::fs::remove_file(&stats_file);
            text.and_then(|t| serde_json::from_str(&t).ok())
        }
        _ => None,
    };
    Ok(Sample {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        max_rss_kb: usage.ru_maxrss as u64,
        stdout,
        status,
        stats,
    })
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The benchmark program next to the sources, if visa runs from a checkout.
pub fn default_program() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("guests/bench/bin/bench");
    if here.is_file() { here } else { PathBuf::from("guests/bench/bin/bench") }
}
