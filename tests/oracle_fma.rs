//! The differential oracle on FMA3: every form (VFMADD VFMSUB VFNMADD
//! VFNMSUB VFMADDSUB VFMSUBADD, 132 213 231, PS PD SS SD, 128 and 256 bits,
//! register and memory operands) under the interpreter and the JIT, from
//! random MXCSR rounding modes, YMM upper halves compared.
#![cfg(target_arch = "x86_64")]

use iced_x86::CpuidFeature;
use visa::oracle;

#[test]
fn fma_forms() {
    let codes = oracle::cases::forms_where(|c| c.cpuid_features() == [CpuidFeature::FMA]);
    assert_eq!(codes.len(), 96, "{codes:?}");
    oracle::assert_lifted_blocks_verify(&codes);
    oracle::assert_codes_if("fma", std::arch::is_x86_feature_detected!("fma"), &codes);
}
