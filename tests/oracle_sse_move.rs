//! The differential oracle over the SSE and MMX data movement, logic and
//! shuffle family (`frontend::x86::sse_move`), XMM and MMX forms: random
//! registers (float edge values included, MMX ones from random x87
//! states), aligned and misaligned memory operands, immediates, run
//! natively and under visa, compared; and every lifted block verifies.
//! Host x86-64 only. `VISA_ORACLE_CASES=N` sets the cases per form
//! (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::{Code, Mnemonic};
use visa::oracle::assert_forms as run;

const MOVES: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Movaps, Movapd, Movdqa, Movntps, Movntpd, Movntdq, Movntq, Movups, Movupd, Movdqu, Lddqu, Movd, Movq, Movq2dq,
        Movdq2q, Movss, Movlps, Movlpd, Movhps, Movhpd, Movhlps, Movlhps, Movddup, Movsldup, Movshdup,
    ]
};

const LOGIC: &[Mnemonic] = {
    use Mnemonic::*;
    &[Pand, Andps, Andpd, Pandn, Andnps, Andnpd, Por, Orps, Orpd, Pxor, Xorps, Xorpd]
};

const SHUFFLES: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Shufps, Shufpd, Pshufd, Pshuflw, Pshufhw, Pshufw, Unpcklps, Unpckhps, Unpcklpd, Unpckhpd, Punpcklbw, Punpcklwd,
        Punpckldq, Punpcklqdq, Punpckhbw, Punpckhwd, Punpckhdq, Punpckhqdq, Packsswb, Packssdw, Packuswb,
    ]
};

const OTHERS: &[Mnemonic] = {
    use Mnemonic::*;
    &[Pmovmskb, Movmskps, Movmskpd, Pinsrw, Pextrw, Maskmovdqu, Maskmovq]
};

/// MOVSD's SSE forms (the mnemonic also names the string move).
fn movsd_forms() -> Vec<Code> {
    visa::oracle::cases::forms(&[Mnemonic::Movsd])
        .into_iter()
        .filter(|c| c.op_code().op_kinds().iter().any(|k| format!("{k:?}").starts_with("xmm")))
        .collect()
}

#[test]
fn moves() {
    run(MOVES);
    visa::oracle::assert_codes(&movsd_forms());
}

#[test]
fn logic() {
    run(LOGIC);
}

#[test]
fn shuffles_and_packs() {
    run(SHUFFLES);
}

#[test]
fn masks_inserts_and_masked_store() {
    run(OTHERS);
}

/// Every form is checked, none has a form the generator cannot encode, and
/// every block lifted from the cases passes the V-ISA verifier.
#[test]
fn lifted_blocks_verify() {
    let mut codes = visa::oracle::cases::forms(&[MOVES, LOGIC, SHUFFLES, OTHERS].concat());
    codes.extend(movsd_forms());
    visa::oracle::assert_lifted_blocks_verify(&codes);
}
