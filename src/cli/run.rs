//! `visa run`: run an x86-64 Linux program, static or dynamically linked
//! (as qemu-x86_64 does).

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::Args;

use super::boot::{EngineKind, parse_model, parse_number, parse_tb_size};

#[derive(Args)]
pub struct RunArgs {
    /// Execution engine.
    #[arg(long, value_enum, default_value = "tiered")]
    engine: EngineKind,
    /// Runs before the tiered engine compiles a block.
    #[arg(long, default_value_t = visa::engine::DEFAULT_THRESHOLD)]
    threshold: u32,
    /// Log every system call to standard error.
    #[arg(long)]
    strace: bool,
    /// The program's argv[0] (default: PROGRAM as given).
    #[arg(long, value_name = "NAME")]
    argv0: Option<OsString>,
    /// Stop after this many guest instructions (exit status 124).
    #[arg(long, value_parser = parse_number)]
    max_insns: Option<u64>,
    /// Memory for translations and compiled code (all dropped when full):
    /// bytes, or with a K, M or G suffix (1M to 16G).
    #[arg(long, default_value = "256M", value_parser = parse_tb_size)]
    tb_size: u64,
    /// Compile hot blocks on the guest's thread, not on a compiler thread
    /// (which tier runs each block is then reproducible; results are the
    /// same either way).
    #[arg(long)]
    sync_compile: bool,
    /// Print execution statistics to standard error at the end.
    #[arg(long)]
    stats: bool,
    /// Write execution statistics as JSON to this file at the end.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Name compiled blocks for `perf report` in /tmp/perf-PID.map.
    #[arg(long)]
    perf_map: bool,
    /// The guest's root directory: the dynamic linker and absolute paths
    /// the program opens are looked up under it first (default: `/` on
    /// an x86-64 host, else an installed x86-64 cross C library).
    #[arg(long, value_name = "DIR", env = visa::system::linux::SYSROOT_ENV)]
    sysroot: Option<PathBuf>,
    /// The processor model presented: x86-64-v1, x86-64-v2, x86-64-v3 or
    /// max (everything visa lifts). Instructions of a feature the model
    /// hides raise #UD (SIGILL).
    #[arg(long, value_name = "MODEL", default_value = "max", value_parser = parse_model)]
    cpu: visa::machine::cpuid::Model,
    #[command(flatten)]
    cache: super::cache::CacheArgs,
    #[command(flatten)]
    observe: super::observe::ObserveArgs,
    /// An x86-64 Linux executable (static or dynamic), or a `#!` script,
    /// and its arguments (everything after PROGRAM goes to it, even what
    /// looks like one of visa's options).
    #[arg(value_name = "PROGRAM [ARGS]", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<OsString>,
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in an option")
}

pub fn run(args: RunArgs) -> Result<i32, String> {
    // A program the guest execs runs under visa with the same options.
    let me = std::env::args_os().next().unwrap_or_else(|| "visa".into());
    let mut exec_prefix = vec![CString::new(me.as_bytes()).map_err(|_| "NUL in visa's own path")?, cstr("run")];
    let engine = format!("{:?}", args.engine).to_lowercase();
    exec_prefix.extend([cstr("--engine"), cstr(&engine), cstr("--threshold"), cstr(&args.threshold.to_string())]);
    exec_prefix.extend([cstr("--tb-size"), cstr(&args.tb_size.to_string())]);
    exec_prefix.extend([cstr("--cpu"), cstr(args.cpu.name())]);
    if args.strace {
        exec_prefix.push(cstr("--strace"));
    }
    if args.sync_compile {
        exec_prefix.push(cstr("--sync-compile"));
    }
    for arg in args.cache.exec_args() {
        exec_prefix.push(CString::new(arg.as_bytes()).map_err(|_| "NUL in the --cache path")?);
    }
    if args.stats {
        exec_prefix.push(cstr("--stats"));
    }
    if let Some(file) = &args.stats_json {
        exec_prefix.push(cstr("--stats-json"));
        exec_prefix.push(CString::new(file.as_os_str().as_bytes()).map_err(|_| "NUL in the --stats-json path")?);
    }
    if args.perf_map {
        exec_prefix.push(cstr("--perf-map"));
    }
    for arg in args.observe.exec_args()? {
        exec_prefix.push(CString::new(arg.as_bytes()).map_err(|_| "NUL in an option")?);
    }
    let sysroot = visa::system::linux::Sysroot::choose(args.sysroot.as_deref())?;
    if let Some(dir) = sysroot.dir() {
        exec_prefix.push(cstr("--sysroot"));
        exec_prefix.push(CString::new(dir.as_os_str().as_bytes()).map_err(|_| "NUL in the --sysroot path")?);
    }
    let opts = visa::system::linux::Options {
        engine: args.engine.with_threshold(args.threshold),
        strace: args.strace,
        argv0: args.argv0.map(|a| a.as_bytes().to_vec()),
        exec_prefix,
        max_insns: args.max_insns,
        tb_size: args.tb_size,
        compile: super::boot::compile_mode(args.sync_compile),
        stats: args.stats,
        stats_json: args.stats_json,
        perf_map: args.perf_map,
        sysroot,
        gdb: args.observe.gdb(),
        log: args.observe.log()?,
        profile: args.observe.profile()?,
        cpu: args.cpu,
        cache: args.cache.choice(),
    };
    let program = PathBuf::from(&args.command[0]);
    let guest_args: Vec<Vec<u8>> = args.command[1..].iter().map(|a| a.as_bytes().to_vec()).collect();
    visa::system::linux::run(&program, &guest_args, &opts)
}
