//! Execution logs (`-d LIST`): what the engine writes as it translates,
//! compiles and runs, item by item, optionally limited to a range of guest
//! code. The log is shared by the engines of one process (guest threads),
//! so lines of different threads never interleave within a line. A system
//! that knows the guest's symbols gives the log a namer, and each block
//! address is then followed by `<function+offset>`.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// One kind of log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogItem {
    InAsm,
    Visa,
    Opt,
    Clif,
    OutAsm,
    Exec,
    Cpu,
    Int,
    Tier,
}

/// Every item: its name on the command line, and what it logs.
pub const LOG_ITEMS: &[(&str, LogItem, &str)] = &[
    ("in_asm", LogItem::InAsm, "guest code of each block translated"),
    ("visa", LogItem::Visa, "each block's V-ISA as lifted"),
    ("opt", LogItem::Opt, "each block's V-ISA optimised"),
    ("clif", LogItem::Clif, "the Cranelift IR of each block compiled"),
    ("out_asm", LogItem::OutAsm, "the host code of each block compiled"),
    ("exec", LogItem::Exec, "each block run, with its guest address"),
    ("cpu", LogItem::Cpu, "the registers at each block entry"),
    ("int", LogItem::Int, "faults, runtime exits, system calls and signals"),
    ("tier", LogItem::Tier, "compilation decisions (compiled, left interpreted, flushes)"),
];

impl LogItem {
    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// Parses `-d`'s comma-separated list of item names.
pub fn parse_items(list: &str) -> Result<Vec<LogItem>, String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|name| {
            LOG_ITEMS.iter().find(|(n, _, _)| *n == name).map(|(_, item, _)| *item).ok_or_else(|| {
                let names: Vec<&str> = LOG_ITEMS.iter().map(|(n, _, _)| *n).collect();
                format!("unknown log item `{name}` (the items are {})", names.join(", "))
            })
        })
        .collect()
}

/// Parses `--log-filter`: `ADDR` or `ADDR-ADDR` (inclusive), hex with 0x or decimal.
pub fn parse_filter(s: &str) -> Result<(u64, u64), String> {
    let number = |t: &str| {
        let t = t.trim();
        match t.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => t.parse(),
        }
        .map_err(|_| format!("`{t}` is not an address"))
    };
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(s)?, number(s)?),
    };
    if lo > hi {
        return Err(format!("`{s}`: the range ends before it starts"));
    }
    Ok((lo, hi))
}

/// Names guest code: `function+offset` for an address, if known.
pub type Namer = Arc<dyn Fn(u64) -> Option<String> + Send + Sync>;

/// An execution log: which items, for which guest code, written where.
#[derive(Clone)]
pub struct Log {
    items: u16,
    filter: Option<(u64, u64)>,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    namer: Option<Namer>,
}

impl Log {
    pub fn new(items: &[LogItem], filter: Option<(u64, u64)>, out: Box<dyn Write + Send>) -> Log {
        let items = items.iter().fold(0, |acc, i| acc | i.bit());
        Log { items, filter, out: Arc::new(Mutex::new(out)), namer: None }
    }

    /// The same log (same items and output), naming guest code with `namer`.
    pub fn naming(&self, namer: Namer) -> Log {
        Log { namer: Some(namer), ..self.clone() }
    }

    /// A guest address as log lines show it: `0x401000`, or
    /// `0x401000 <main+0x10>` when the namer knows it.
    pub fn at(&self, addr: u64) -> String {
        match self.namer.as_ref().and_then(|n| n(addr)) {
            Some(name) => format!("{addr:#x} <{name}>"),
            None => format!("{addr:#x}"),
        }
    }

    /// Whether any of `items` is logged.
    pub fn any(&self, items: &[LogItem]) -> bool {
        items.iter().any(|i| self.items & i.bit() != 0)
    }

    /// Whether `item` is logged for guest code at `addr`.
    pub fn wants(&self, item: LogItem, addr: u64) -> bool {
        self.items & item.bit() != 0 && self.filter.is_none_or(|(lo, hi)| (lo..=hi).contains(&addr))
    }

    /// Writes `text` (one or more lines) at once.
    pub fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("items", &self.items).field("filter", &self.filter).finish()
    }
}
