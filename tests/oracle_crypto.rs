//! The differential oracle over the crypto extensions (AES-NI, PCLMULQDQ,
//! SHA) and MOVBE: random and edge operands, run natively and under visa
//! (interpreter and JIT), compared. Extensions the host lacks are skipped
//! with a note on standard error (and fail under CI). Host x86-64 only.
//! `VISA_ORACLE_CASES=N` sets the cases per form (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::CRYPTO_FAMILY;
use visa::oracle::assert_forms_if as run_if;
use visa::oracle::cases::forms;

#[test]
fn aes() {
    use Mnemonic::*;
    let m = [Aesenc, Aesenclast, Aesdec, Aesdeclast, Aesimc, Aeskeygenassist];
    run_if("aes", is_x86_feature_detected!("aes"), &m);
}

#[test]
fn pclmulqdq() {
    run_if("pclmulqdq", is_x86_feature_detected!("pclmulqdq"), &[Mnemonic::Pclmulqdq]);
}

#[test]
fn sha() {
    use Mnemonic::*;
    let m = [Sha1rnds4, Sha1nexte, Sha1msg1, Sha1msg2, Sha256rnds2, Sha256msg1, Sha256msg2];
    run_if("sha", is_x86_feature_detected!("sha"), &m);
}

#[test]
fn movbe() {
    run_if("movbe", std::arch::is_x86_feature_detected!("movbe"), &[Mnemonic::Movbe]);
}

/// Every form is generated (none filtered out for its operands), and every
/// block lifted from the cases passes the V-ISA verifier.
#[test]
fn lifted_blocks_verify() {
    let family: Vec<Mnemonic> = CRYPTO_FAMILY.iter().copied().chain([Mnemonic::Movbe]).collect();
    let codes = forms(&family);
    assert_eq!(codes.len(), 14 + 6, "{codes:?}");
    visa::oracle::assert_lifted_blocks_verify(&codes);
}
