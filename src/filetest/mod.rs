//! Filetests: files of V-ISA text with `; run:` lines that give initial
//! state and memory and the expected results, run through an execution tier.
//! Every block is also checked by the verifier and round-tripped through the
//! text and binary formats. The format is in visa-spec/filetests.md.

mod helpers;
mod runline;

use std::collections::BTreeSet;
use std::fmt;

use crate::abi::Outcome;
use crate::interp;
use crate::machine::GuestMemory;
use crate::visa::text::{self, Module};
use crate::visa::{Opcode, Type, codec, verify};

pub use helpers::TestHelpers;
pub use runline::{ExpectedOutcome, Place, RunLine};

/// An execution tier a filetest can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// The interpreter on the block as written.
    Interp,
    /// The interpreter on the block after the optimisation passes.
    Optimized,
    /// The optimised block compiled to host code.
    Jit,
}

/// One failed check, with the line it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

/// What a passing file exercised.
#[derive(Debug, Default)]
pub struct Report {
    pub runs: usize,
    pub checks: usize,
    /// Opcodes of blocks that at least one run line executed.
    pub opcodes: BTreeSet<Opcode>,
}

/// Bytes of guest memory a filetest runs with unless `; memory: N` says otherwise.
pub const DEFAULT_MEMORY: u64 = 64 * 1024;

/// Parses, verifies, round-trips and runs one filetest.
pub fn run_source(src: &str, tier: Tier) -> Result<Report, Vec<Failure>> {
    let fail = |line, msg: String| vec![Failure { line, msg }];
    let module = text::parse_module(src).map_err(|e| fail(e.line, e.msg))?;
    check_formats(src, &module)?;
    let (runs, memory) = runline::parse_directives(src, &module)?;
    if runs.is_empty() {
        return Err(fail(1, "the file has no `; run:` line".into()));
    }
    let mut report = Report::default();
    let mut failures = Vec::new();
    for run in &runs {
        match execute(&module, run, memory, tier) {
            Ok(checks) => {
                report.runs += 1;
                report.checks += checks;
                let block = module.blocks.iter().find(|b| b.addr == run.block).expect("run lines name existing blocks");
                report.opcodes.extend(block.insts.iter().map(|i| i.op));
            }
            Err(msg) => failures.push(Failure { line: run.line, msg }),
        }
    }
    if failures.is_empty() { Ok(report) } else { Err(failures) }
}

/// Verifies every block and checks both round trips.
fn check_formats(src: &str, module: &Module) -> Result<(), Vec<Failure>> {
    let line_of = |addr: u64| {
        let needle = format!("block {addr:#x}");
        src.lines().position(|l| l.trim_start().starts_with(&needle)).map_or(1, |i| i + 1)
    };
    let mut failures = Vec::new();
    for block in &module.blocks {
        let line = line_of(block.addr);
        let mut fail = |msg: String| failures.push(Failure { line, msg });
        if let Err(e) = verify(&module.env, block) {
            fail(format!("verifier: {e}"));
            continue;
        }
        let printed = text::print_block(&module.env, block);
        match text::parse_with_env(&printed, module.env.clone()) {
            Ok(m) if m.blocks.len() == 1 && m.blocks[0] == *block => {
                if text::print_block(&module.env, &m.blocks[0]) != printed {
                    fail("printing the reparsed block gives different text".into());
                }
            }
            Ok(_) => fail(format!("text round trip changed the block:\n{printed}")),
            Err(e) => fail(format!("printed text does not parse ({e}):\n{printed}")),
        }
        let bytes = codec::encode(&module.env, block);
        match codec::decode(&module.env, &bytes) {
            Ok(b) if b == *block => {}
            Ok(_) => fail("binary round trip changed the block".into()),
            Err(e) => fail(format!("binary encoding does not decode: {e}")),
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures) }
}

/// The bytes a slot of type `ty` takes in the state record.
fn state_bytes(ty: Type) -> u8 {
    ty.bytes() as u8
}

fn read_place(place: &Place, module: &Module, state: &[u8], mem: &GuestMemory) -> Result<u128, String> {
    Ok(match place {
        Place::Slot(slot) => {
            let decl = module.env.slot_decl(*slot).expect("parsed slot");
            crate::interp::read_state(state, decl.offset, state_bytes(decl.ty))
                & crate::visa::eval::mask(decl.ty.bits())
        }
        Place::Mem(addr, ty) => mem.read_le(*addr, ty.bytes()).map_err(|f| f.to_string())?,
    })
}

/// Runs one line; returns the number of checks made.
fn execute(module: &Module, run: &RunLine, memory: u64, tier: Tier) -> Result<usize, String> {
    let block = module.blocks.iter().find(|b| b.addr == run.block).expect("run lines name existing blocks");
    let mut state = vec![0u8; module.env.state_size() as usize];
    let mut mem = GuestMemory::new(memory).map_err(|e| format!("cannot reserve guest memory: {e}"))?;
    for (place, value) in &run.inputs {
        match place {
            Place::Slot(slot) => {
                let decl = module.env.slot_decl(*slot).expect("parsed slot");
                crate::interp::write_state(&mut state, decl.offset, state_bytes(decl.ty), *value);
            }
            Place::Mem(addr, ty) => mem.write_le(*addr, ty.bytes(), *value).map_err(|f| f.to_string())?,
        }
    }
    let mut helpers = TestHelpers::bind(&module.env)?;
    let optimized;
    let block = match tier {
        Tier::Interp => block,
        Tier::Optimized | Tier::Jit => {
            optimized = crate::visa::opt::optimize(&module.env, block);
            verify(&module.env, &optimized).map_err(|e| format!("the optimised block does not verify: {e}"))?;
            &optimized
        }
    };
    let outcome = if tier == Tier::Jit {
        crate::jit::run_once(&module.env, block, &mut state, &mut mem, &mut helpers)?
    } else {
        let compiled = interp::compile(&module.env, block, state.len()).map_err(|e| e.to_string())?;
        interp::run(&compiled, &mut state, &mut mem, &mut helpers, &mut interp::Scratch::new())
    };
    let mut checks = 0;
    if let Some(expected) = &run.outcome {
        checks += 1;
        if !expected.matches(&outcome) {
            return Err(format!("expected {expected}, got {}", describe(&outcome)));
        }
    }
    for (place, expected, ty) in &run.expect {
        checks += 1;
        let got = read_place(place, module, &state, &mem)?;
        if got != *expected {
            return Err(format!(
                "{} is {}, expected {} (after {})",
                place.describe(module),
                text::print_const(*ty, got),
                text::print_const(*ty, *expected),
                describe(&outcome)
            ));
        }
    }
    Ok(checks)
}

/// An outcome in run-line syntax.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Jump(t) => format!("jump {t:#x}"),
        Outcome::Indirect(t) => format!("indirect {t:#x}"),
        Outcome::Exit(reason, resume) => format!("exit {reason} {resume:#x}"),
        Outcome::Interpret(at) => format!("interpret {at:#x}"),
        Outcome::Replay(at) => format!("replay {at:#x}"),
        Outcome::Trap(trap) => {
            let mut s = format!("trap {}", trap.code);
            if let Some(a) = trap.fault_addr {
                s += &format!(" addr {a:#x}");
            }
            s + &format!(" at {:#x}", trap.guest)
        }
    }
}
