//! The differential oracle on F16C: VCVTPH2PS and VCVTPS2PH, 128 and 256
//! bits, register and memory operands, every rounding control of the
//! imm8 and MXCSR's, under the interpreter and the JIT.
#![cfg(target_arch = "x86_64")]

use iced_x86::CpuidFeature;
use visa::oracle;

#[test]
fn f16c_forms() {
    let codes = oracle::cases::forms_where(|c| c.cpuid_features() == [CpuidFeature::F16C]);
    assert_eq!(codes.len(), 4, "{codes:?}");
    oracle::assert_lifted_blocks_verify(&codes);
    oracle::assert_codes_if("f16c", std::arch::is_x86_feature_detected!("f16c"), &codes);
}
