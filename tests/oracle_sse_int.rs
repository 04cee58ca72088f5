//! The differential oracle over the SSE2 integer arithmetic family (PADD*
//! PSUB* saturating or not, the multiplies, PAVG, PSADBW, PMIN/PMAX,
//! PCMPEQ/PCMPGT, the element and byte shifts): XMM and MMX forms with edge
//! lane values and shift counts (the MMX ones from random x87 states), run
//! natively and under visa, compared. Host x86-64 only. `VISA_ORACLE_CASES=N` sets the cases per form (default 200).
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
