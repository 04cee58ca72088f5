//! The differential oracle over the shift, rotate, multiply and divide
//! families: random and edge operands and counts, run natively and under
//! visa, compared. Host x86-64 only. `VISA_ORACLE_CASES=N` sets the cases
//! per form (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::assert_forms as run;

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
