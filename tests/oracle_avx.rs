//! The differential oracle on the VEX forms of the SSE instructions (AVX,
//! AVX2): every form that has an SSE counterpart, 128- and 256-bit, under
//! the interpreter and the JIT, YMM upper halves compared.
#![cfg(target_arch = "x86_64")]

use iced_x86::{Code, CpuidFeature};
use visa::frontend::x86::vex;
use visa::oracle;

fn has(feature: &str) -> bool {
    match feature {
        "avx" => std::arch::is_x86_feature_detected!("avx"),
        _ => std::arch::is_x86_feature_detected!("avx2"),
    }
}

/// The VEX forms lifted through their SSE forms, of one CPUID feature.
fn sse_like(feature: CpuidFeature) -> Vec<Code> {
    oracle::cases::forms_where(|c| vex::lifted_through_sse(c) && c.cpuid_features() == [feature])
}

#[test]
fn avx_forms_of_sse_instructions() {
    let codes = sse_like(CpuidFeature::AVX);
    assert!(codes.len() > 200, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx") {
        oracle::assert_codes(&codes);
    }
}

#[test]
fn avx2_forms_of_sse_instructions() {
    let codes = sse_like(CpuidFeature::AVX2);
    assert!(codes.len() > 50, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx2") {
        oracle::assert_codes(&codes);
    }
}

/// The forms of one CPUID feature lifted on their own (`avx`).
fn own(feature: CpuidFeature) -> Vec<Code> {
    let lifted: Vec<_> = visa::frontend::x86::lifted_mnemonics().collect();
    oracle::cases::forms_where(|c| {
        !vex::lifted_through_sse(c) && c.cpuid_features() == [feature] && lifted.contains(&c.mnemonic())
    })
}

#[test]
fn avx_forms_of_their_own() {
    let codes = own(CpuidFeature::AVX);
    assert!(codes.len() > 30, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx") {
        oracle::assert_codes(&codes);
    }
}

#[test]
fn avx2_forms_of_their_own() {
    let codes = own(CpuidFeature::AVX2);
    assert!(codes.len() > 30, "{} forms", codes.len());
    oracle::assert_lifted_blocks_verify(&codes);
    if has("avx2") {
        oracle::assert_codes(&codes);
    }
}
