//! `visa bench`: run the benchmark suite natively, under qemu-x86_64 and
//! under visa's engines, alternating runs, and report medians and ratios.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use visa::bench::report::{Hot, Results, WorkloadResult};
use visa::bench::{self, Mode, SUITE, Tools};

#[derive(Args)]
pub struct BenchArgs {
    /// Workloads to run (default: the whole suite; `--list` names them).
    workloads: Vec<String>,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    /// visa engines to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "interp,jit,tiered")]
    engines: Vec<super::boot::EngineKind>,
    /// Runs of each workload in each mode (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: u32,
    /// One repetition per process and one run per mode: checks results quickly.
    #[arg(long)]
    quick: bool,
    /// Do not run the workloads natively.
    #[arg(long)]
    no_native: bool,
    /// qemu-x86_64 to compare with (default: the one on PATH, if any).
    #[arg(long, value_name = "PATH")]
    qemu: Option<PathBuf>,
    /// Do not run qemu-x86_64.
    #[arg(long, conflicts_with = "qemu")]
    no_qemu: bool,
    /// The static benchmark program (default: guests/bench/bin/bench).
    #[arg(long, value_name = "PATH")]
    program: Option<PathBuf>,
    /// Write every measurement as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a chart of the times relative to native as SVG to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Show each workload's N hottest guest blocks under each engine, from
    /// one more run with a profile (not timed).
    #[arg(long, value_name = "N")]
    hot: Option<usize>,
    /// Run visa with this persistent translation cache, warmed first by one
    /// untimed run of each workload under each engine (default: none, every
    /// run starts cold).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

pub fn bench(args: BenchArgs) -> Result<i32, String> {
    if args.list {
        for w in SUITE {
            println!("{:<10} {}", w.name, w.about);
        }
        return Ok(0);
    }
    let workloads: Vec<_> = if args.workloads.is_empty() {
        SUITE.to_vec()
    } else {
        let known: Vec<&str> = SUITE.iter().map(|w| w.name).collect();
        args.workloads
            .iter()
            .map(|name| {
                SUITE
                    .iter()
                    .find(|w| w.name == name)
                    .copied()
                    .ok_or_else(|| format!("no workload named {name:?} (the suite: {})", known.join(", ")))
            })
            .collect::<Result<_, _>>()?
    };
    let program = args.program.clone().unwrap_or_else(bench::default_program);
    if !program.is_file() {
        return Err(format!("{}: the benchmark program is missing (build it with guests/build.sh)", program.display()));
    }
    let visa = std::env::current_exe().map_err(|e| format!("cannot find visa itself: {e}"))?;
    let tools = Tools { visa, program, cache: args.cache.clone() };

    let mut modes = Vec::new();
    if !args.no_native && bench::host_runs_x86_64() {
        modes.push(Mode::Native);
    }
    if let Some(q) = args.qemu.clone().or_else(bench::find_qemu).filter(|_| !args.no_qemu) {
        modes.push(Mode::Qemu(q));
    }
    for e in &args.engines {
        let name = match e {
            super::boot::EngineKind::Interp => "interp",
            super::boot::EngineKind::Jit => "jit",
            super::boot::EngineKind::Tiered => "tiered",
        };
        if !modes.contains(&Mode::Visa(name)) {
            modes.push(Mode::Visa(name));
        }
    }
    let reps = if args.quick { 1 } else { args.reps.max(1) };
    let mut results = Results {
        workloads: workloads
            .iter()
            .map(|w| WorkloadResult {
                workload: *w,
                repeat: if args.quick { 1 } else { w.repeat },
                samples: vec![Vec::new(); modes.len()],
                hot: Vec::new(),
            })
            .collect(),
        modes,
    };

    let total = reps as u64 * (results.workloads.len() * results.modes.len()) as u64;
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs, {elapsed} elapsed: {msg}").expect("a valid template"),
    );
    if tools.cache.is_some() {
        for w in &results.workloads {
            for mode in results.modes.iter().filter(|m| matches!(m, Mode::Visa(_))) {
                progress.set_message(format!("warming the cache: {} under {}", w.workload.name, mode.label()));
                bench::run_one(&tools, mode, w.workload.name, w.repeat)?;
            }
        }
    }
    // Alternate: every mode of every workload once per round, so slow drift
    // of the machine touches all modes alike.
    for rep in 0..reps {
        for w in results.workloads.iter_mut() {
            for (m, mode) in results.modes.iter().enumerate() {
                progress.set_message(format!("round {}/{reps}, {} under {}", rep + 1, w.workload.name, mode.label()));
                let sample = bench::run_one(&tools, mode, w.workload.name, w.repeat)?;
                w.samples[m].push(sample);
                progress.inc(1);
            }
        }
    }
    if let Some(n) = args.hot {
        let engines: Vec<&'static str> =
            results.modes.iter().filter_map(|m| if let Mode::Visa(e) = m { Some(*e) } else { None }).collect();
        for w in results.workloads.iter_mut() {
            for engine in &engines {
                progress.set_message(format!("profiling {} under {engine}", w.workload.name));
                let (run, blocks) = bench::hottest(&tools, engine, w.workload.name, w.repeat, n)?;
                w.hot.push(Hot { engine, blocks, run });
            }
        }
    }
    progress.finish_and_clear();

    print!("{}", results.table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&results.json()).expect("JSON values serialise");
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        bench::chart::write_svg(&results, path)?;
    }
    if !results.all_correct() {
        eprintln!("visa bench: some runs gave a wrong result (marked `!`)");
        return Ok(1);
    }
    Ok(0)
}
