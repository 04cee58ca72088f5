//! Reports for people: a guest crash (the fault, the instruction with its
//! bytes, the registers, the last blocks run) and an engine's statistics.

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use crate::engine::{Engine, Fault};
use crate::machine::{CpuState, FLAGS, GPR_NAMES, GuestMemory};

/// The instruction at `rip`, disassembled, with its bytes.
pub fn disassemble_at(mem: &GuestMemory, rip: u64) -> String {
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

/// A crash report: the fault, the instruction, registers and recent blocks.
pub fn crash(fault: &Fault, cpu: &CpuState, mem: &GuestMemory, engine: &Engine) -> String {
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

/// The most resident memory the process has had.
fn peak_rss_kib() -> u64 {
    // SAFETY: rusage is plain data (zeroes are a valid value), and
    // getrusage fills the local one it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage.ru_maxrss as u64
    }
}

/// The persistent cache's counters (see `pcache`), or why there is none.
fn persistent_line(engine: &Engine, st: &crate::engine::Stats) -> String {
    if engine.shared().disk_cache().is_none() {
        return "off".into();
    }
    let stored = engine.shared().disk_cache().map_or(0, |d| d.stored());
    format!(
        "{} hits ({} with host code), {} misses, {stored} stores ({} compiled at the end), {} rejected",
        st.disk_hits, st.disk_code_hits, st.disk_misses, st.disk_compiled, st.disk_rejected
    )
}

/// The engine's counters and times, one per line.
pub fn stats(engine: &Engine) -> String {
    let st = &engine.process_stats();
    let (now, peak, limit) = engine.shared().translation_memory();
    let run = st.run_time.as_secs_f64();
    let exec = st.run_time.saturating_sub(st.translate_time + st.compile_time).as_secs_f64();
    let rows = [
        ("engine", format!("{:?}", engine.kind()).to_lowercase()),
        ("guest instructions", st.guest_insts.to_string()),
        ("blocks run", st.blocks_run.to_string()),
        ("  as host code", st.jit_runs.to_string()),
        ("float exits", st.float_exits.to_string()),
        ("  blocks demoted", st.float_demoted.to_string()),
        ("replays", st.replays.to_string()),
        ("blocks translated", st.blocks_translated.to_string()),
        ("blocks compiled", st.jit_compiled.to_string()),
        ("  in background", st.jit_background.to_string()),
        ("  ended at a branch", st.jit_shortened.to_string()),
        ("  left interpreted", st.jit_failed.to_string()),
        ("  discarded", st.jit_discarded.to_string()),
        ("host code bytes", st.jit_code_bytes.to_string()),
        ("code cache flushes", st.jit_flushes.to_string()),
        ("tb-size flushes", st.tb_flushes.to_string()),
        ("translation memory", format!("{} KiB of {} KiB", now >> 10, limit >> 10)),
        ("  at most", format!("{} KiB", peak >> 10)),
        ("peak RSS", format!("{} KiB", peak_rss_kib())),
        ("cache hits", st.cache_hits.to_string()),
        ("persistent cache", persistent_line(engine, st)),
        ("invalidations", st.invalidations.to_string()),
        ("translating", format!("{:.3} s", st.translate_time.as_secs_f64())),
        ("compiling", format!("{:.3} s", st.compile_time.as_secs_f64())),
        ("  compiler thread", format!("{:.3} s", st.background_compile_time.as_secs_f64())),
        ("executing", format!("{exec:.3} s")),
        ("guest MIPS", format!("{:.1}", if run > 0.0 { st.guest_insts as f64 / run / 1e6 } else { 0.0 })),
    ];
    let mut s = String::from("visa stats:");
    for (name, value) in rows {
        s += &format!("\n  {name:<20}{value}");
    }
    s
}

/// The engine's counters and times as JSON (times in seconds), for tools
/// such as `visa bench`.
pub fn stats_json(engine: &Engine) -> serde_json::Value {
    let st = &engine.process_stats();
    let (now, peak, limit) = engine.shared().translation_memory();
    serde_json::json!({
        "engine": format!("{:?}", engine.kind()).to_lowercase(),
        "guest_insts": st.guest_insts,
        "blocks_run": st.blocks_run,
        "jit_runs": st.jit_runs,
        "float_exits": st.float_exits,
        "float_demoted": st.float_demoted,
        "replays": st.replays,
        "blocks_translated": st.blocks_translated,
        "jit_compiled": st.jit_compiled,
        "jit_background": st.jit_background,
        "jit_shortened": st.jit_shortened,
        "jit_failed": st.jit_failed,
        "jit_discarded": st.jit_discarded,
        "jit_code_bytes": st.jit_code_bytes,
        "jit_flushes": st.jit_flushes,
        "tb_flushes": st.tb_flushes,
        "translation_bytes": now,
        "translation_bytes_peak": peak,
        "translation_bytes_limit": limit,
        "peak_rss_kib": peak_rss_kib(),
        "cache_hits": st.cache_hits,
        "disk_hits": st.disk_hits,
        "disk_misses": st.disk_misses,
        "disk_code_hits": st.disk_code_hits,
        "disk_compiled": st.disk_compiled,
        "disk_stores": engine.shared().disk_cache().map_or(0, |d| d.stored()),
        "disk_rejected": st.disk_rejected,
        "invalidations": st.invalidations,
        "translate_s": st.translate_time.as_secs_f64(),
        "compile_s": st.compile_time.as_secs_f64(),
        "background_compile_s": st.background_compile_time.as_secs_f64(),
        "run_s": st.run_time.as_secs_f64(),
    })
}

/// One block of a profile, as reports show it.
struct ProfileRow {
    addr: u64,
    runs: u64,
    guest_insts: u64,
    time_s: f64,
    /// Percent of all time in blocks.
    share: f64,
    tier: &'static str,
    symbol: Option<String>,
}

/// The blocks of a profile, hottest first, and the time in all of them.
fn profile_rows(profile: &crate::engine::Profile, symbol: &dyn Fn(u64) -> Option<String>) -> (Vec<ProfileRow>, f64) {
    let blocks = profile.hottest();
    let total: f64 = blocks.iter().map(|(_, b)| b.time.as_secs_f64()).sum();
    let rows = blocks
        .into_iter()
        .map(|(addr, b)| {
            let time_s = b.time.as_secs_f64();
            ProfileRow {
                addr,
                runs: b.runs,
                guest_insts: b.guest_insts,
                time_s,
                share: if total > 0.0 { 100.0 * time_s / total } else { 0.0 },
                tier: b.tier(),
                symbol: symbol(addr),
            }
        })
        .collect();
    (rows, total)
}

/// A per-block profile, hottest block first: runs, guest instructions,
/// time (the share of all block time), tier and guest symbol.
pub fn profile(profile: &crate::engine::Profile, symbol: &dyn Fn(u64) -> Option<String>) -> String {
    let (rows, total) = profile_rows(profile, symbol);
    let mut s = format!(
        "# visa profile: {} blocks, {:.3} s in blocks\n# {:>16} {:>12} {:>14} {:>10} {:>6}  {:<6} symbol\n",
        rows.len(),
        total,
        "block",
        "runs",
        "guest insts",
        "time us",
        "%",
        "tier"
    );
    for r in rows {
        s += &format!(
            "  {:>#16x} {:>12} {:>14} {:>10.0} {:>6.2}  {:<6} {}\n",
            r.addr,
            r.runs,
            r.guest_insts,
            r.time_s * 1e6,
            r.share,
            r.tier,
            r.symbol.unwrap_or_default()
        );
    }
    s
}

/// The same profile as JSON: `{"total_s", "blocks": [{"addr" (hex),
/// "symbol" (or null), "runs", "guest_insts", "time_s", "share" (percent),
/// "tier"}]}`, hottest first.
pub fn profile_json(profile: &crate::engine::Profile, symbol: &dyn Fn(u64) -> Option<String>) -> serde_json::Value {
    let (rows, total) = profile_rows(profile, symbol);
    let blocks: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "addr": format!("{:#x}", r.addr),
                "symbol": r.symbol,
                "runs": r.runs,
                "guest_insts": r.guest_insts,
                "time_s": r.time_s,
                "share": r.share,
                "tier": r.tier,
            })
        })
        .collect();
    serde_json::json!({ "total_s": total, "blocks": blocks })
}
