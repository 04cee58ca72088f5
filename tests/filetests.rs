//! Runs every filetest in tests/visa under each execution tier and checks
//! that together they execute every opcode.

use std::collections::BTreeSet;
use std::path::PathBuf;

use visa::filetest::{Tier, run_source};
use visa::visa::Opcode;

fn filetests() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/visa");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/visa exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "visa"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no filetests in {}", dir.display());
    files
}

fn run_all(tier: Tier) -> BTreeSet<Opcode> {
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    let mut runs = 0;
    for path in filetests() {
        let src = std::fs::read_to_string(&path).unwrap();
        match run_source(&src, tier) {
            Ok(report) => {
                runs += report.runs;
                covered.extend(report.opcodes);
            }
            Err(fails) => failures.extend(fails.into_iter().map(|f| format!("{}:{f}", path.display()))),
        }
    }
    assert!(failures.is_empty(), "{} filetest failures:\n{}", failures.len(), failures.join("\n"));
    assert!(runs > 0);
    covered
}

#[test]
fn filetests_pass_under_the_interpreter() {
    run_all(Tier::Interp);
}

#[test]
fn filetests_pass_after_optimisation() {
    run_all(Tier::Optimized);
}

#[test]
fn filetests_pass_under_the_jit() {
    run_all(Tier::Jit);
}

#[test]
fn filetests_execute_every_opcode() {
    let covered = run_all(Tier::Interp);
    let missing: Vec<_> = Opcode::ALL.iter().filter(|op| !covered.contains(op)).map(|op| op.name()).collect();
    assert!(missing.is_empty(), "opcodes no filetest executes: {}", missing.join(", "));
}
