//! `visa boot`: run a bare-metal guest on the board.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use visa::engine::Engine;
use visa::machine::board::{self, Ending, Input, Uart};
use visa::machine::{CpuState, FLAGS, GPR_NAMES, GuestMemory};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The V-ISA interpreter only.
    Interp,
    /// Compile every block with Cranelift before running it.
    Jit,
    /// Interpret, and compile blocks once they are hot.
    Tiered,
}

#[derive(Args)]
pub struct BootArgs {
    /// An ELF64 image, loaded at its physical addresses (optional with --load).
    image: Option<PathBuf>,
    /// RAM size: bytes, or with a K, M or G suffix (up to 64G).
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
    /// Print execution statistics to standard error at the end.
    #[arg(long)]
    stats: bool,
    /// Write the architectural state at the end as JSON to this file.
    #[arg(long, value_name = "FILE")]
    final_state: Option<PathBuf>,
}

pub fn parse_number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a number"))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let upper = s.to_ascii_uppercase();
    let trimmed = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match trimmed.chars().last() {
        Some('K') => (&trimmed[..trimmed.len() - 1], 10),
        Some('M') => (&trimmed[..trimmed.len() - 1], 20),
        Some('G') => (&trimmed[..trimmed.len() - 1], 30),
        _ => (trimmed, 0),
    };
    let n = parse_number(digits).map_err(|_| format!("`{s}` is not a size (try 128M or 4G)"))?;
    let size = n.checked_shl(shift).filter(|v| v >> shift == n).ok_or(format!("`{s}` is too large"))?;
    if size == 0 || size > 64 << 30 {
        return Err(format!("RAM size {s} is outside 1 byte .. 64G"));
    }
    Ok(size)
}

pub fn parse_load(s: &str) -> Result<(PathBuf, u64), String> {
    let (file, addr) = s.rsplit_once('@').ok_or(format!("`{s}` is not FILE@ADDR"))?;
    Ok((PathBuf::from(file), parse_number(addr)?))
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
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
    if let Some(image) = &args.image {
        let bytes = read(image)?;
        entry = Some(board::load_elf(&mut mem, &bytes).map_err(|e| format!("{}: {e}", image.display()))?);
    }
    for (file, addr) in &args.loads {
        board::load_raw(&mut mem, *addr, &read(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let entry =
        args.entry.or(entry).ok_or("nothing to run: give an ELF image, or --load FILE@ADDR with --entry ADDR")?;
    let mut cpu = board::entry_state(entry, args.ram);
    let mut board = board::new_board(Uart::new(Box::new(std::io::stdout()), stdin_input()));
    let kind = match args.engine {
        EngineKind::Interp => visa::engine::EngineKind::Interp,
        EngineKind::Jit => visa::engine::EngineKind::Jit,
        EngineKind::Tiered => visa::engine::EngineKind::Tiered { threshold: args.threshold.max(1) },
    };
    let mut engine = Engine::with_kind(kind);
    if let Some(why) = &engine.stats.jit_unavailable {
        eprintln!("visa: no JIT on this host ({why}); interpreting");
    }
    let ending = board::run(&mut engine, &mut cpu, &mut mem, &mut board, args.max_insns.unwrap_or(u64::MAX));
    if let Ending::Crashed(fault) = &ending {
        eprintln!("{}", crash_report(fault, &cpu, &mem, &engine));
    }
    if let Ending::OutOfTime = ending {
        eprintln!("visa: stopped after {} guest instructions (--max-insns)", engine.stats.guest_insts);
    }
    if args.stats {
        eprintln!("{}", stats_report(&engine));
    }
    if let Some(path) = &args.final_state {
        std::fs::write(path, final_state(&cpu).to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ending.status())
}

fn disassemble_at(mem: &GuestMemory, rip: u64) -> String {
    let mut bytes = [0u8; 15];
    let n = (mem.size().saturating_sub(rip)).min(15) as usize;
    if n == 0 || mem.read_bytes(rip, &mut bytes[..n]).is_err() {
        return "(outside guest memory)".into();
    }
    let insn = Decoder::with_ip(64, &bytes[..n], rip, DecoderOptions::NONE).decode();
    let mut text = String::new();
    IntelFormatter::new().format(&insn, &mut text);
    let hex: Vec<String> = bytes[..insn.len().max(1).min(n)].iter().map(|b| format!("{b:02x}")).collect();
    format!("{text}    ({})", hex.join(" "))
}

fn crash_report(fault: &visa::engine::Fault, cpu: &CpuState, mem: &GuestMemory, engine: &Engine) -> String {
    let mut s = format!("visa: guest {} at {:#x}", fault.name(), fault.rip);
    if let Some(addr) = fault.addr {
        s += &format!(", address {addr:#x}");
    }
    s += &format!("\n  {:#x}: {}\nregisters:\n", fault.rip, disassemble_at(mem, fault.rip));
    for row in GPR_NAMES.iter().zip(cpu.gpr).collect::<Vec<_>>().chunks(4) {
        let line: Vec<String> = row.iter().map(|(n, v)| format!("{n:>4}={v:016x}")).collect();
        s += &format!("  {}\n", line.join(" "));
    }
    s += &format!("  rflags={:#x}", cpu.rflags());
    let set: Vec<_> =
        FLAGS.iter().filter(|(_, bit)| cpu.rflags() >> bit & 1 == 1).map(|(n, _)| n.to_uppercase()).collect();
    s += &format!(" [{}]\nlast blocks:", set.join(" "));
    for addr in engine.recent_blocks() {
        s += &format!(" {addr:#x}");
    }
    s
}

fn stats_report(engine: &Engine) -> String {
    let st = &engine.stats;
    let run = st.run_time.as_secs_f64();
    let exec = st.run_time.saturating_sub(st.translate_time + st.compile_time).as_secs_f64();
    let rows = [
        ("engine", format!("{:?}", engine.kind()).to_lowercase()),
        ("guest instructions", st.guest_insts.to_string()),
        ("blocks run", st.blocks_run.to_string()),
        ("  as host code", st.jit_runs.to_string()),
        ("blocks translated", st.blocks_translated.to_string()),
        ("blocks compiled", st.jit_compiled.to_string()),
        ("  left interpreted", st.jit_failed.to_string()),
        ("host code bytes", st.jit_code_bytes.to_string()),
        ("code cache flushes", st.jit_flushes.to_string()),
        ("cache hits", st.cache_hits.to_string()),
        ("invalidations", st.invalidations.to_string()),
        ("translating", format!("{:.3} s", st.translate_time.as_secs_f64())),
        ("compiling", format!("{:.3} s", st.compile_time.as_secs_f64())),
        ("executing", format!("{exec:.3} s")),
        ("guest MIPS", format!("{:.1}", if run > 0.0 { st.guest_insts as f64 / run / 1e6 } else { 0.0 })),
    ];
    let mut s = String::from("visa stats:");
    for (name, value) in rows {
        s += &format!("\n  {name:<20}{value}");
    }
    s
}

/// The architectural state as JSON: integers as hex strings.
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
    })
}
