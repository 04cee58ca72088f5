//! The `; run:` and `; memory:` lines of a filetest.
//!
//! `; run: [@BLOCK] INPUT... -> EXPECTATION...` runs the named block, or
//! the last block before the line, where an input or a value
//! expectation is `%slot=VALUE` or `[ADDR]:TYPE=VALUE`, and the outcome
//! expectation is `jump ADDR`, `indirect ADDR`, `exit REASON ADDR` or
//! `trap CODE [addr ADDR] [at GUEST]`.

use std::fmt;

use super::Failure;
use crate::abi::Outcome;
use crate::visa::text::{Module, parse_const, parse_int};
use crate::visa::{ExitReason, Slot, TrapCode, Type};

/// Where a run line reads or writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Slot(Slot),
    Mem(u64, Type),
}

impl Place {
    pub fn describe(&self, module: &Module) -> String {
        match self {
            Place::Slot(s) => format!("%{}", module.env.slot_decl(*s).map_or("?", |d| d.name.as_str())),
            Place::Mem(a, t) => format!("[{a:#x}]:{t}"),
        }
    }
}

/// How the block is expected to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedOutcome {
    Jump(u64),
    Indirect(u64),
    Exit(ExitReason, u64),
    Trap { code: TrapCode, addr: Option<u64>, at: Option<u64> },
}

impl ExpectedOutcome {
    pub fn matches(&self, got: &Outcome) -> bool {
        match (self, got) {
            (ExpectedOutcome::Jump(a), Outcome::Jump(b)) | (ExpectedOutcome::Indirect(a), Outcome::Indirect(b)) => {
                a == b
            }
            (ExpectedOutcome::Exit(r, a), Outcome::Exit(s, b)) => r == s && a == b,
            (ExpectedOutcome::Trap { code, addr, at }, Outcome::Trap(t)) => {
                *code == t.code && addr.is_none_or(|a| Some(a) == t.fault_addr) && at.is_none_or(|g| g == t.guest)
            }
            _ => false,
        }
    }
}

impl fmt::Display for ExpectedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedOutcome::Jump(t) => write!(f, "jump {t:#x}"),
            ExpectedOutcome::Indirect(t) => write!(f, "indirect {t:#x}"),
            ExpectedOutcome::Exit(r, t) => write!(f, "exit {r} {t:#x}"),
            ExpectedOutcome::Trap { code, addr, at } => {
                write!(f, "trap {code}")?;
                if let Some(a) = addr {
                    write!(f, " addr {a:#x}")?;
                }
                if let Some(g) = at {
                    write!(f, " at {g:#x}")?;
                }
                Ok(())
            }
        }
    }
}

/// One `; run:` line.
#[derive(Clone, Debug)]
pub struct RunLine {
    pub line: usize,
    pub block: u64,
    pub inputs: Vec<(Place, u128)>,
    pub expect: Vec<(Place, u128, Type)>,
    pub outcome: Option<ExpectedOutcome>,
}

fn addr(text: Option<&str>, what: &str) -> Result<u64, String> {
    let text = text.ok_or_else(|| format!("expected {what}"))?;
    parse_int(text).and_then(|v| u64::try_from(v).ok()).ok_or_else(|| format!("`{text}` is not {what}"))
}

/// Parses `%slot=V` or `[ADDR]:TYPE=V` into a place, its value and type.
fn assignment(module: &Module, item: &str) -> Result<(Place, u128, Type), String> {
    let (lhs, value) = item.split_once('=').ok_or_else(|| format!("`{item}` is not `place=value`"))?;
    let (place, ty) = if let Some(name) = lhs.strip_prefix('%') {
        let slot = module.env.slot_by_name(name).ok_or_else(|| format!("undeclared slot %{name}"))?;
        (Place::Slot(slot), module.env.slot_decl(slot).expect("found").ty)
    } else if let Some(rest) = lhs.strip_prefix('[') {
        let (a, ty) = rest.split_once("]:").ok_or_else(|| format!("`{lhs}` is not `[ADDR]:TYPE`"))?;
        let ty = Type::from_name(ty)
            .filter(|t| t.is_value_type() && *t != Type::I1)
            .ok_or_else(|| format!("`{ty}` is not a memory type"))?;
        (Place::Mem(addr(Some(a), "an address")?, ty), ty)
    } else {
        return Err(format!("`{lhs}` is neither `%slot` nor `[ADDR]:TYPE`"));
    };
    Ok((place, parse_const(ty, value)?, ty))
}

fn outcome<'a, I: Iterator<Item = &'a str>>(
    words: &mut std::iter::Peekable<I>,
    first: &str,
) -> Result<ExpectedOutcome, String> {
    Ok(match first {
        "jump" => ExpectedOutcome::Jump(addr(words.next(), "a jump target")?),
        "indirect" => ExpectedOutcome::Indirect(addr(words.next(), "a jump target")?),
        "exit" => {
            let r = words.next().ok_or("expected an exit reason")?;
            let reason = ExitReason::from_name(r).ok_or_else(|| format!("unknown exit reason `{r}`"))?;
            ExpectedOutcome::Exit(reason, addr(words.next(), "a resume address")?)
        }
        "trap" => {
            let c = words.next().ok_or("expected a trap code")?;
            let code = match TrapCode::FIXED.iter().find(|(_, n)| *n == c) {
                Some((code, _)) => *code,
                None if c == "user" => {
                    let n = addr(words.next(), "a user trap code")?;
                    TrapCode::User(u8::try_from(n).map_err(|_| "user trap codes are 0..255".to_string())?)
                }
                None => return Err(format!("unknown trap code `{c}`")),
            };
            let (mut addr_opt, mut at) = (None, None);
            while let Some(&key) = words.peek() {
                match key {
                    "addr" => addr_opt = Some(addr(words.nth(1), "a fault address")?),
                    "at" => at = Some(addr(words.nth(1), "a guest address")?),
                    _ => break,
                }
            }
            ExpectedOutcome::Trap { code, addr: addr_opt, at }
        }
        w => return Err(format!("`{w}` is not an expectation")),
    })
}

/// `preceding` is the block written last before the line, if any.
fn run_line(module: &Module, line: usize, body: &str, preceding: Option<u64>) -> Result<RunLine, String> {
    let (lhs, rhs) = body.split_once("->").ok_or("a run line needs `->` before its expectations")?;
    let mut words = lhs.split_whitespace().peekable();
    let block = match words.peek() {
        Some(w) if w.starts_with('@') => {
            let a = addr(words.next().map(|w| &w[1..]), "a block address")?;
            if !module.blocks.iter().any(|b| b.addr == a) {
                return Err(format!("no block at {a:#x}"));
            }
            a
        }
        _ => preceding.ok_or("no block precedes the run line: name one with `@ADDR`")?,
    };
    let inputs = words.map(|w| assignment(module, w).map(|(p, v, _)| (p, v))).collect::<Result<_, _>>()?;
    let mut run = RunLine { line, block, inputs, expect: Vec::new(), outcome: None };
    let mut words = rhs.split_whitespace().peekable();
    while let Some(w) = words.next() {
        if w.contains('=') {
            run.expect.push(assignment(module, w)?);
        } else if run.outcome.is_some() {
            return Err(format!("a second outcome at `{w}`"));
        } else {
            run.outcome = Some(outcome(&mut words, w)?);
        }
    }
    if run.expect.is_empty() && run.outcome.is_none() {
        return Err("a run line must expect something".into());
    }
    Ok(run)
}

/// Reads the run lines and the memory size of a filetest.
pub fn parse_directives(src: &str, module: &Module) -> Result<(Vec<RunLine>, u64), Vec<Failure>> {
    let mut runs = Vec::new();
    let mut memory = super::DEFAULT_MEMORY;
    let mut failures = Vec::new();
    let mut blocks_seen = 0usize;
    for (i, line) in src.lines().enumerate() {
        if line.trim_start().starts_with("block ") {
            blocks_seen += 1;
        }
        let Some(comment) = line.trim_start().strip_prefix(';') else {
            continue;
        };
        let comment = comment.trim_start();
        if let Some(body) = comment.strip_prefix("run:") {
            let preceding = blocks_seen.checked_sub(1).and_then(|b| module.blocks.get(b)).map(|b| b.addr);
            match run_line(module, i + 1, body, preceding) {
                Ok(r) => runs.push(r),
                Err(msg) => failures.push(Failure { line: i + 1, msg }),
            }
        } else if let Some(size) = comment.strip_prefix("memory:") {
            let range = crate::machine::MIN_MEMORY..=crate::machine::MAX_MEMORY;
            match parse_int(size.trim()).and_then(|v| u64::try_from(v).ok()) {
                Some(v) if range.contains(&v) => memory = v,
                Some(_) => failures.push(Failure {
                    line: i + 1,
                    msg: format!("memory size {} is outside {} bytes .. 1 TiB", size.trim(), range.start()),
                }),
                None => failures.push(Failure { line: i + 1, msg: format!("`{}` is not a memory size", size.trim()) }),
            }
        }
    }
    if failures.is_empty() { Ok((runs, memory)) } else { Err(failures) }
}
