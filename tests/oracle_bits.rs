//! The differential oracle over the bit-manipulation family (BT BTS BTR BTC
//! BSF BSR LZCNT TZCNT POPCNT, BMI1, BMI2, ADX): random and edge operands,
//! run natively and under visa, compared. Extensions the host lacks are
//! skipped with a note on standard error (and fail under CI). Host x86-64
//! only. `VISA_ORACLE_CASES=N` sets the cases per form (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::assert_forms as run;
use visa::oracle::assert_forms_if as run_if;

#[test]
fn bit_test() {
    use Mnemonic::*;
    run(&[Bt, Bts, Btr, Btc]);
}

#[test]
fn bit_scan() {
    use Mnemonic::*;
    run(&[Bsf, Bsr]);
}

#[test]
fn counts() {
    run_if("popcnt", is_x86_feature_detected!("popcnt"), &[Mnemonic::Popcnt]);
    run_if("lzcnt", is_x86_feature_detected!("lzcnt"), &[Mnemonic::Lzcnt]);
    run_if("bmi1", is_x86_feature_detected!("bmi1"), &[Mnemonic::Tzcnt]);
}

#[test]
fn bmi1() {
    use Mnemonic::*;
    run_if("bmi1", is_x86_feature_detected!("bmi1"), &[Andn, Blsi, Blsr, Blsmsk, Bextr]);
}

#[test]
fn bmi2() {
    use Mnemonic::*;
    run_if("bmi2", is_x86_feature_detected!("bmi2"), &[Bzhi, Pdep, Pext, Sarx, Shlx, Shrx, Rorx, Mulx]);
}

#[test]
fn adx() {
    use Mnemonic::*;
    run_if("adx", is_x86_feature_detected!("adx"), &[Adcx, Adox]);
}
