//! `visa boot`: run a bare-metal guest on the board.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use visa::engine::Engine;
use visa::machine::cpuid::Model;
use visa::machine::{CpuState, GPR_NAMES, GuestMemory};
use visa::system::board::{self, Ending, Input, Uart};
use visa::system::gdb::Debugger;
use visa::system::symbols::Symbols;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The V-ISA interpreter only.
    Interp,
    /// Compile every block with Cranelift before running it.
    Jit,
    /// Interpret, and compile blocks once they are hot.
    Tiered,
}

impl EngineKind {
    /// The engine's kind, with the tiered engine's compile threshold.
    pub fn with_threshold(self, threshold: u32) -> visa::engine::EngineKind {
        match self {
            EngineKind::Interp => visa::engine::EngineKind::Interp,
            EngineKind::Jit => visa::engine::EngineKind::Jit,
            EngineKind::Tiered => visa::engine::EngineKind::Tiered { threshold: threshold.max(1) },
        }
    }
}

#[derive(Args)]
pub struct BootArgs {
    /// An ELF64 image, loaded at its physical addresses (optional with --load).
    image: Option<PathBuf>,
    /// RAM size: bytes, or with a K, M or G suffix (4K to 64G).
    #[arg(long, default_value = "128M", value_parser = parse_size)]
    ram: u64,
    /// Execution engine.
    #[arg(long, value_enum, default_value = "tiered")]
    engine: EngineKind,
    /// Runs before the tiered engine compiles a block.
    #[arg(long, default_value_t = visa::engine::DEFAULT_THRESHOLD)]
    threshold: u32,
    /// Load a raw file at a guest address: FILE@ADDR (repeatable).
    #[arg(long = "load", value_name = "FILE@ADDR", value_parser = parse_load)]
    loads: Vec<(PathBuf, u64)>,
    /// Entry point (required with --load and no image; overrides the image's).
    #[arg(long, value_parser = parse_number)]
    entry: Option<u64>,
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
    /// Write the architectural state at the end as JSON to this file.
    #[arg(long, value_name = "FILE")]
    final_state: Option<PathBuf>,
    #[command(flatten)]
    observe: super::observe::ObserveArgs,
    /// The processor model presented: x86-64-v1, x86-64-v2, x86-64-v3 or
    /// max (everything visa lifts). Instructions of a feature the model
    /// hides raise #UD.
    #[arg(long, value_name = "MODEL", default_value = "max", value_parser = parse_model)]
    cpu: Model,
    #[command(flatten)]
    cache: super::cache::CacheArgs,
}

/// Where the tiered engine compiles (`--sync-compile`).
pub fn compile_mode(sync: bool) -> visa::engine::Compile {
    if sync { visa::engine::Compile::Sync } else { visa::engine::Compile::Background }
}

/// A processor model by name (`--cpu`).
pub fn parse_model(s: &str) -> Result<Model, String> {
    Model::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Model::NAMES.iter().map(|(n, _)| *n).collect();
        format!("unknown model `{s}` (known: {})", names.join(", "))
    })
}

pub fn parse_number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a number"))
}

/// The board's RAM: at least a page, at most 64 GiB.
const MIN_RAM: u64 = visa::machine::PAGE_SIZE;
const MAX_RAM: u64 = 64 << 30;

fn parse_size(s: &str) -> Result<u64, String> {
    let size = size_with_suffix(s)?;
    if !(MIN_RAM..=MAX_RAM).contains(&size) {
        return Err(format!("RAM size {s} is outside 4K .. 64G"));
    }
    Ok(size)
}

/// `--tb-size`: within `TB_SIZE_RANGE`.
pub fn parse_tb_size(s: &str) -> Result<u64, String> {
    let size = size_with_suffix(s)?;
    if !visa::engine::TB_SIZE_RANGE.contains(&size) {
        return Err(format!("translation memory {s} is outside 1M .. 16G"));
    }
    Ok(size)
}

/// A number of bytes, with an optional K, M or G suffix (and B or iB).
pub fn size_with_suffix(s: &str) -> Result<u64, String> {
    let upper = s.to_ascii_uppercase();
    let trimmed = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match trimmed.chars().last() {
        Some('K') => (&trimmed[..trimmed.len() - 1], 10),
        Some('M') => (&trimmed[..trimmed.len() - 1], 20),
        Some('G') => (&trimmed[..trimmed.len() - 1], 30),
        _ => (trimmed, 0),
    };
    let n = parse_number(digits).map_err(|_| format!("`{s}` is not a size (try 128M or 4G)"))?;
    n.checked_shl(shift).filter(|v| v >> shift == n).ok_or(format!("`{s}` is too large"))
}

pub fn parse_load(s: &str) -> Result<(PathBuf, u64), String> {
    let (file, addr) = s.rsplit_once('@').ok_or(format!("`{s}` is not FILE@ADDR"))?;
    Ok((PathBuf::from(file), parse_number(addr)?))
}

fn stdin_input() -> Input {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for byte in std::io::stdin().lock().bytes() {
            match byte {
                Ok(b) if tx.send(b).is_ok() => {}
                _ => break,
            }
        }
    });
    Input::Channel(rx)
}

pub fn boot(args: BootArgs) -> Result<i32, String> {
    let mut mem = GuestMemory::new(args.ram).map_err(|e| format!("cannot reserve {} bytes of RAM: {e}", args.ram))?;
    let mut entry = None;
    let mut symbols = Symbols::default();
    if let Some(image) = &args.image {
        let bytes = visa::machine::read_image(image)?;
        entry = Some(board::load_elf(&mut mem, &bytes).map_err(|e| format!("{}: {e}", image.display()))?);
        // The board runs identity-mapped: code is where its symbols say.
        symbols = Symbols::of_elf(&bytes, 0);
    }
    let symbols = std::sync::Arc::new(symbols);
    for (file, addr) in &args.loads {
        board::load_raw(&mut mem, *addr, &visa::machine::read_image(file)?)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let entry =
        args.entry.or(entry).ok_or("nothing to run: give an ELF image, or --load FILE@ADDR with --entry ADDR")?;
    let mut cpu = board::entry_state(entry, args.ram);
    cpu.cpu_model = args.cpu as u8;
    let mut board = board::new_board(Uart::new(Box::new(std::io::stdout()), stdin_input()));
    let kind = args.engine.with_threshold(args.threshold);
    let mut engine = Engine::with_tb_size(kind, args.tb_size, compile_mode(args.sync_compile));
    if let Some((dir, limit)) = args.cache.choice() {
        engine.shared().use_disk_cache(dir, limit);
    }
    if let Some(why) = &engine.stats.jit_unavailable {
        eprintln!("visa: no JIT on this host ({why}); interpreting");
    }
    args.observe.apply(&mut engine, &symbols)?;
    let debugger = args.observe.gdb().map(|(port, wait)| Debugger::listen(port, wait, &mem)).transpose()?;
    let limit = args.max_insns.unwrap_or(u64::MAX);
    let ending = board::run_debugged(&mut engine, &mut cpu, &mut mem, &mut board, limit, debugger.as_deref());
    if let (Some(path), Some(profile)) = (args.observe.profile()?, engine.profile()) {
        symbols.write_profile(&path, profile)?;
    }
    if let Ending::Crashed(fault) = &ending {
        eprintln!("{}", visa::report::crash(fault, &cpu, &mem, &engine));
    }
    if let Ending::OutOfTime = ending {
        eprintln!("visa: stopped after {} guest instructions (--max-insns)", engine.stats.guest_insts);
    }
    if args.stats {
        eprintln!("{}", visa::report::stats(&engine));
    }
    if let Some(path) = &args.final_state {
        std::fs::write(path, final_state(&cpu).to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ending.status())
}

/// The architectural state as JSON: integers as hex strings (the x87
/// registers as ST(0)..ST(7), 80 bits each).
pub fn final_state(cpu: &CpuState) -> serde_json::Value {
    let hex = |v: u64| serde_json::Value::String(format!("{v:#x}"));
    let mut gpr = serde_json::Map::new();
    for (name, v) in GPR_NAMES.iter().zip(cpu.gpr) {
        gpr.insert(name.to_string(), hex(v));
    }
    serde_json::json!({
        "gpr": gpr,
        "rip": hex(cpu.rip),
        "rflags": hex(cpu.rflags()),
        "fs_base": hex(cpu.fs_base),
        "gs_base": hex(cpu.gs_base),
        "xmm": cpu.xmm.iter().map(|x| format!("{x:#034x}")).collect::<Vec<_>>(),
        "mxcsr": hex(cpu.mxcsr as u64),
        "fcw": hex(cpu.fcw as u64),
        "fsw": hex(cpu.fsw as u64),
        "ftw": hex(cpu.ftw as u64),
        "st": (0..8).map(|i| format!("{:#022x}", cpu.st(i))).collect::<Vec<_>>(),
    })
}
