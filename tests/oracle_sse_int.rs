//! The differential oracle over the SSE2 integer arithmetic family (PADD*
//! PSUB* saturating or not, the multiplies, PAVG, PSADBW, PMIN/PMAX,
//! PCMPEQ/PCMPGT, the element and byte shifts): XMM forms with edge lane
//! values and shift counts, run natively and under visa, compared. Host
//! x86-64 only. `VISA_ORACLE_CASES=N` sets the cases per form (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic::*;
use visa::oracle::assert_forms as run;

#[test]
fn add_sub() {
    run(&[Paddb, Paddw, Paddd, Paddq, Psubb, Psubw, Psubd, Psubq]);
}

#[test]
fn saturating() {
    run(&[Paddsb, Paddsw, Paddusb, Paddusw, Psubsb, Psubsw, Psubusb, Psubusw]);
}

#[test]
fn multiply() {
    run(&[Pmullw, Pmulhw, Pmulhuw, Pmuludq, Pmaddwd]);
}

#[test]
fn average_sad_min_max() {
    run(&[Pavgb, Pavgw, Psadbw, Pminub, Pmaxub, Pminsw, Pmaxsw]);
}

#[test]
fn compare() {
    run(&[Pcmpeqb, Pcmpeqw, Pcmpeqd, Pcmpgtb, Pcmpgtw, Pcmpgtd]);
}

#[test]
fn shifts() {
    run(&[Psllw, Pslld, Psllq, Psrlw, Psrld, Psrlq, Psraw, Psrad, Pslldq, Psrldq]);
}

/// The MMX forms are not lifted (CPUID reports no MMX): they raise #UD.
#[test]
fn mmx_forms_undefined() {
    use visa::oracle::native::{CODE, Regs};
    use visa::oracle::{Case, Stop, Tier, run_visa};
    // paddb mm0,mm1; psllw mm2,3; psadbw mm0,[rax]; pmuludq mm1,mm2
    let forms: [&[u8]; 4] = [&[0x0f, 0xfc, 0xc1], &[0x0f, 0x71, 0xf2, 0x03], &[0x0f, 0xf6, 0x00], &[0x0f, 0xf4, 0xca]];
    for code in forms {
        let case = Case {
            code: code.to_vec(),
            regs: Regs::default(),
            data: Vec::new(),
            undefined_flags: 0,
            undefined_before: Vec::new(),
        };
        for tier in [Tier::Interp, Tier::Jit] {
            let (_, _, stop) = run_visa(&case, tier).expect("runs");
            assert_eq!(stop, Stop::Fault { vector: 6, rip: CODE }, "{code:02x?} under {tier:?}");
        }
    }
}
