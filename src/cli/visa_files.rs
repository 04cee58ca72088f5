//! Commands over V-ISA text: `opcodes`, `check` and `test`.

use std::path::{Path, PathBuf};

use visa::filetest::{Tier, run_source};
use visa::visa::opcodes::{Opd, TypeSet};
use visa::visa::{Opcode, codec, text, verify};

fn types(set: TypeSet) -> String {
    set.iter().map(|t| t.name()).collect::<Vec<_>>().join(" ")
}

fn operand(o: &Opd) -> String {
    match o {
        Opd::Ctrl => "T".into(),
        Opd::Fixed(t) => t.name().into(),
        Opd::Lane => "lane(T)".into(),
        Opd::Narrower(_) => "narrower".into(),
        Opd::Wider(_) => "wider".into(),
        Opd::Of(s) => format!("{{{}}}", types(*s)),
        Opd::SameWidth => "width(T)".into(),
        Opd::Helper => "...".into(),
    }
}

pub fn opcodes() {
    for op in Opcode::ALL {
        let info = op.info();
        let list = |os: &[Opd]| os.iter().map(operand).collect::<Vec<_>>().join(", ");
        let ctrl = if info.ctrl.is_empty() { String::new() } else { format!(" T: {}", types(info.ctrl)) };
        println!("{:<15} ({}) -> ({}){ctrl}", info.name, list(info.args), list(info.results));
        println!("{:<15} {}", "", info.doc);
    }
    println!("{} opcodes", Opcode::ALL.len());
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn check(files: &[PathBuf], sizes: bool) -> Result<(), String> {
    for path in files {
        let src = read(path)?;
        let module = text::parse_module(&src).map_err(|e| format!("{}: {e}", path.display()))?;
        for block in &module.blocks {
            verify(&module.env, block).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        print!("{}", text::print_module(&module));
        if sizes {
            for block in &module.blocks {
                let bytes = codec::encode(&module.env, block).len();
                println!("; block {:#x}: {} instructions, {bytes} bytes encoded", block.addr, block.insts.len());
            }
        }
    }
    Ok(())
}

fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut found: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "visa"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// The tier `visa test` runs filetests on.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TestTier {
    /// The interpreter, on the blocks as written.
    Interp,
    /// The interpreter, on the optimised blocks.
    Optimized,
    /// Host code compiled from the optimised blocks.
    Jit,
}

/// Runs filetests; the status is 1 when any fails.
pub fn test(paths: &[PathBuf], tier: TestTier) -> Result<i32, String> {
    let tier = match tier {
        TestTier::Interp => Tier::Interp,
        TestTier::Optimized => Tier::Optimized,
        TestTier::Jit => Tier::Jit,
    };
    let files = collect(paths)?;
    let (mut passed, mut failed, mut runs) = (0, 0, 0);
    for path in &files {
        match run_source(&read(path)?, tier) {
            Ok(report) => {
                passed += 1;
                runs += report.runs;
                println!("ok    {} ({} runs, {} checks)", path.display(), report.runs, report.checks);
            }
            Err(failures) => {
                failed += 1;
                println!("FAIL  {}", path.display());
                for f in failures {
                    println!("      {}:{f}", path.display());
                }
            }
        }
    }
    println!("{passed} files passed, {failed} failed, {runs} runs");
    Ok(if failed == 0 { 0 } else { 1 })
}
