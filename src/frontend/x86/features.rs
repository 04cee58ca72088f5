//! Which CPUID feature each instruction needs, so a processor model that
//! hides a feature (`--cpu`) makes its instructions raise #UD as a
//! processor without it does. The features are CPUID's names
//! (`machine::cpuid`); an instruction of the baseline needs none a model
//! can hide. LZCNT and TZCNT, whose encodings are prefixed BSR and BSF,
//! run as those when hidden.

use iced_x86::{CpuidFeature, Instruction, Mnemonic};

use super::Mode;

/// iced-x86's feature of an instruction, and the CPUID feature that
/// reports it.
const NAMES: &[(CpuidFeature, &str)] = &[
    (CpuidFeature::SSE3, "pni"),
    (CpuidFeature::SSSE3, "ssse3"),
    (CpuidFeature::SSE4_1, "sse4_1"),
    (CpuidFeature::SSE4_2, "sse4_2"),
    (CpuidFeature::CMPXCHG16B, "cx16"),
    (CpuidFeature::POPCNT, "popcnt"),
    (CpuidFeature::PCLMULQDQ, "pclmulqdq"),
    (CpuidFeature::MOVBE, "movbe"),
    (CpuidFeature::AES, "aes"),
    (CpuidFeature::RDRAND, "rdrand"),
    (CpuidFeature::RDSEED, "rdseed"),
    (CpuidFeature::FSGSBASE, "fsgsbase"),
    (CpuidFeature::BMI1, "bmi1"),
    (CpuidFeature::BMI2, "bmi2"),
    (CpuidFeature::ADX, "adx"),
    (CpuidFeature::LZCNT, "abm"),
    (CpuidFeature::CLFSH, "clflush"),
    (CpuidFeature::CLFLUSHOPT, "clflushopt"),
    (CpuidFeature::CLWB, "clwb"),
    (CpuidFeature::SHA, "sha_ni"),
    (CpuidFeature::XSAVE, "xsave"),
    (CpuidFeature::XSAVES, "xsaves"),
    (CpuidFeature::AVX, "avx"),
    (CpuidFeature::AVX2, "avx2"),
    (CpuidFeature::FMA, "fma"),
    (CpuidFeature::F16C, "f16c"),
    (CpuidFeature::RDTSCP, "rdtscp"),
];

/// The instruction a processor runs for `insn`: without LZCNT (`abm`) or
/// BMI1, the F3 prefix of LZCNT and TZCNT is ignored and they run as BSR
/// and BSF, as on older processors.
pub fn runs_as(insn: &Instruction, mode: Mode) -> Mnemonic {
    match insn.mnemonic() {
        Mnemonic::Lzcnt if !mode.model.has("abm") => Mnemonic::Bsr,
        Mnemonic::Tzcnt if !mode.model.has("bmi1") => Mnemonic::Bsf,
        m => m,
    }
}

/// May the instruction run in this mode (as `runs_as` says)? Not when the model hides one of
/// its features (LAHF and SAHF in 64-bit mode need `lahf_lm`), nor the
/// FSGSBASE instructions while CR4.FSGSBASE is clear.
pub fn allowed(insn: &Instruction, mode: Mode) -> bool {
    let model = mode.model;
    if runs_as(insn, mode) != insn.mnemonic() {
        return true;
    }
    if matches!(insn.mnemonic(), Mnemonic::Lahf | Mnemonic::Sahf) && !model.has("lahf_lm") {
        return false;
    }
    insn.cpuid_features().iter().all(|f| match NAMES.iter().find(|(k, _)| k == f) {
        Some((CpuidFeature::FSGSBASE, name)) => mode.fsgsbase && model.has(name),
        Some((_, name)) => model.has(name),
        None => true,
    })
}
