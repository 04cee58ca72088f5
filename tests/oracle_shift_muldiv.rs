//! The differential oracle over the shift, rotate, multiply and divide
//! families: random and edge operands and counts, run natively and under
//! visa, compared. Host x86-64 only. `VISA_ORACLE_CASES=N` sets the cases
//! per form (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::{Tier, run_forms};

fn per_form() -> usize {
    std::env::var("VISA_ORACLE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

fn run(mnemonics: &[Mnemonic]) {
    let report = run_forms(mnemonics, per_form(), 0x5eed, Tier::Interp);
    assert!(report.unencodable.is_empty(), "forms with no encodable case: {:?}", report.unencodable);
    assert!(report.forms > 0, "no forms for {mnemonics:?}");
    assert!(
        report.failures.is_empty(),
        "{} of {} forms fail ({} cases):\n{}",
        report.failures.len(),
        report.forms,
        report.cases,
        report.failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n\n")
    );
    eprintln!("{mnemonics:?}: {} forms, {} cases", report.forms, report.cases);
}

#[test]
fn shifts() {
    use Mnemonic::*;
    run(&[Shl, Sal, Shr, Sar]);
}

#[test]
fn rotates() {
    use Mnemonic::*;
    run(&[Rol, Ror, Rcl, Rcr]);
}

#[test]
fn double_shifts() {
    use Mnemonic::*;
    run(&[Shld, Shrd]);
}

#[test]
fn multiply() {
    use Mnemonic::*;
    run(&[Mul, Imul]);
}

#[test]
fn divide() {
    use Mnemonic::*;
    run(&[Div, Idiv]);
}
