//! The differential oracle over the string and atomic families: MOVS STOS
//! LODS SCAS CMPS (with REP/REPE/REPNE, DF, 32-bit addresses and segment
//! overrides), XLAT, CMPXCHG CMPXCHG8B CMPXCHG16B XADD. Host x86-64 only.
//! `VISA_ORACLE_CASES=N` sets the cases per form (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::assert_forms as run;

const STRINGS: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Movsb, Movsw, Movsd, Movsq, Stosb, Stosw, Stosd, Stosq, Lodsb, Lodsw, Lodsd, Lodsq, Scasb, Scasw, Scasd, Scasq,
        Cmpsb, Cmpsw, Cmpsd, Cmpsq, Xlatb,
    ]
};

const ATOMICS: &[Mnemonic] = {
    use Mnemonic::*;
    &[Cmpxchg, Cmpxchg8b, Cmpxchg16b, Xadd]
};

#[test]
fn strings() {
    // MOVSD and CMPSD also name SSE forms, tested with the SSE family.
    let string_forms: Vec<_> = visa::oracle::cases::forms(STRINGS)
        .into_iter()
        .filter(|c| !c.op_code().op_kinds().iter().any(|k| format!("{k:?}").starts_with("xmm")))
        .collect();
    visa::oracle::assert_codes(&string_forms);
}

#[test]
fn atomics() {
    run(ATOMICS);
}

/// Every block lifted from the oracle's cases passes the V-ISA verifier.
#[test]
fn lifted_blocks_verify() {
    visa::oracle::assert_lifted_blocks_verify(&visa::oracle::cases::forms(&[STRINGS, ATOMICS].concat()));
}

/// FS and GS overrides add their bases (the oracle cannot check them: the
/// host's FS base is its thread pointer), in 64- and 32-bit address forms.
#[test]
fn segment_bases() {
    use visa::abi::NoHelpers;
    use visa::engine::{Engine, Stop};
    use visa::machine::{CpuState, GuestMemory};
    use visa::visa::ExitReason;

    let mut mem = GuestMemory::new(0x10000).unwrap();
    let code = [
        0x64, 0xa4, // movsb es:[rdi], fs:[rsi]
        0x65, 0xac, // lodsb al, gs:[rsi]
        0x64, 0x67, 0xa4, // movsb es:[edi], fs:[esi]
        0x64, 0xd7, // xlat fs:[rbx]
        0xf4, // hlt
    ];
    mem.write_bytes(0x1000, &code).unwrap();
    mem.write_bytes(0x4010, &[0xab]).unwrap();
    mem.write_bytes(0x6011, &[0x0d]).unwrap();
    mem.write_bytes(0x4012, &[0x77]).unwrap();
    mem.write_bytes(0x402d, &[0x5a]).unwrap();
    let mut cpu = CpuState { fs_base: 0x4000, gs_base: 0x6000, rip: 0x1000, ..CpuState::default() };
    cpu.gpr[6] = 0x10; // rsi
    cpu.gpr[7] = 0x2000; // rdi
    cpu.gpr[3] = 0x20; // rbx
    let stop = Engine::new().run(&mut cpu, &mut mem, &mut NoHelpers, 100);
    assert_eq!(stop, Stop::Exit(ExitReason::Halt));
    let mut out = [0u8; 3];
    mem.read_bytes(0x2000, &mut out).unwrap();
    assert_eq!(out[..2], [0xab, 0x77]);
    assert_eq!((cpu.gpr[6], cpu.gpr[7], cpu.gpr[0] & 0xff), (0x13, 0x2002, 0x5a));
}
