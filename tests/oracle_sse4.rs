//! The differential oracle over the SSSE3, SSE4.1 and SSE4.2 integer
//! family (`frontend::x86::sse4`), the SSSE3 instructions in their XMM and
//! MMX forms: random and edge operands, run natively and under visa,
//! compared. Extensions the host lacks are skipped with a
//! note on standard error (and fail under CI). Host x86-64 only. `VISA_ORACLE_CASES=N` sets the cases per form
//! (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::assert_forms_if as run_if;
use visa::oracle::cases::forms;

/// Every mnemonic of the family.
const FAMILY: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Pshufb,
        Palignr,
        Phaddw,
        Phaddd,
        Phaddsw,
        Phsubw,
        Phsubd,
        Phsubsw,
        Pmaddubsw,
        Pmulhrsw,
        Psignb,
        Psignw,
        Psignd,
        Pabsb,
        Pabsw,
        Pabsd,
        Pblendw,
        Pblendvb,
        Ptest,
        Pmovsxbw,
        Pmovsxbd,
        Pmovsxbq,
        Pmovsxwd,
        Pmovsxwq,
        Pmovsxdq,
        Pmovzxbw,
        Pmovzxbd,
        Pmovzxbq,
        Pmovzxwd,
        Pmovzxwq,
        Pmovzxdq,
        Pminsb,
        Pminsd,
        Pminuw,
        Pminud,
        Pmaxsb,
        Pmaxsd,
        Pmaxuw,
        Pmaxud,
        Pmulld,
        Pmuldq,
        Pcmpeqq,
        Pcmpgtq,
        Packusdw,
        Pextrb,
        Pextrd,
        Pextrq,
        Pinsrb,
        Pinsrd,
        Pinsrq,
        Mpsadbw,
        Phminposuw,
        Movntdqa,
        Pcmpestri,
        Pcmpestri64,
        Pcmpestrm,
        Pcmpestrm64,
        Pcmpistri,
        Pcmpistrm,
        Crc32,
    ]
};

#[test]
fn ssse3_shuffles() {
    use Mnemonic::*;
    run_if("ssse3", is_x86_feature_detected!("ssse3"), &[Pshufb, Palignr]);
}

#[test]
fn ssse3_horizontal() {
    use Mnemonic::*;
    run_if("ssse3", is_x86_feature_detected!("ssse3"), &[Phaddw, Phaddd, Phaddsw, Phsubw, Phsubd, Phsubsw]);
}

#[test]
fn ssse3_arithmetic() {
    use Mnemonic::*;
    let m = [Pmaddubsw, Pmulhrsw, Psignb, Psignw, Psignd, Pabsb, Pabsw, Pabsd];
    run_if("ssse3", is_x86_feature_detected!("ssse3"), &m);
}

#[test]
fn sse41_blend_test() {
    use Mnemonic::*;
    run_if("sse4.1", is_x86_feature_detected!("sse4.1"), &[Pblendw, Pblendvb, Ptest]);
}

#[test]
fn sse41_extend() {
    use Mnemonic::*;
    let m = [Pmovsxbw, Pmovsxbd, Pmovsxbq, Pmovsxwd, Pmovsxwq, Pmovsxdq];
    run_if("sse4.1", is_x86_feature_detected!("sse4.1"), &m);
    let m = [Pmovzxbw, Pmovzxbd, Pmovzxbq, Pmovzxwd, Pmovzxwq, Pmovzxdq];
    run_if("sse4.1", is_x86_feature_detected!("sse4.1"), &m);
}

#[test]
fn sse41_arithmetic() {
    use Mnemonic::*;
    let m = [Pminsb, Pminsd, Pminuw, Pminud, Pmaxsb, Pmaxsd, Pmaxuw, Pmaxud, Pmulld, Pmuldq, Pcmpeqq, Packusdw];
    run_if("sse4.1", is_x86_feature_detected!("sse4.1"), &m);
}

#[test]
fn sse41_lanes() {
    use Mnemonic::*;
    let m = [Pextrb, Pextrd, Pextrq, Pinsrb, Pinsrd, Pinsrq, Mpsadbw, Phminposuw, Movntdqa];
    run_if("sse4.1", is_x86_feature_detected!("sse4.1"), &m);
}

#[test]
fn sse42_compare_crc() {
    use Mnemonic::*;
    run_if("sse4.2", is_x86_feature_detected!("sse4.2"), &[Pcmpgtq, Crc32]);
}

#[test]
fn sse42_strings() {
    use Mnemonic::*;
    let m = [Pcmpestri, Pcmpestri64, Pcmpestrm, Pcmpestrm64, Pcmpistri, Pcmpistrm];
    run_if("sse4.2", is_x86_feature_detected!("sse4.2"), &m);
}

/// Every block lifted from the cases passes the V-ISA verifier.
#[test]
fn lifted_blocks_verify() {
    visa::oracle::assert_lifted_blocks_verify(&forms(FAMILY));
}
