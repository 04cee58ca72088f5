//! The differential oracle over the SSE data movement, logic and shuffle
//! family (`frontend::x86::sse_move`): random registers (float edge values
//! included), aligned and misaligned memory operands, immediates, run
//! natively and under visa, compared; and every lifted block verifies.
//! Host x86-64 only. `VISA_ORACLE_CASES=N` sets the cases per form
//! (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::{Code, Mnemonic};
use visa::oracle::assert_forms as run;

const MOVES: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Movaps, Movapd, Movdqa, Movntps, Movntpd, Movntdq, Movups, Movupd, Movdqu, Lddqu, Movd, Movq, Movss, Movlps,
        Movlpd, Movhps, Movhpd, Movhlps, Movlhps, Movddup, Movsldup, Movshdup,
    ]
};

const LOGIC: &[Mnemonic] = {
    use Mnemonic::*;
    &[Pand, Andps, Andpd, Pandn, Andnps, Andnpd, Por, Orps, Orpd, Pxor, Xorps, Xorpd]
};

const SHUFFLES: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Shufps, Shufpd, Pshufd, Pshuflw, Pshufhw, Unpcklps, Unpckhps, Unpcklpd, Unpckhpd, Punpcklbw, Punpcklwd,
        Punpckldq, Punpcklqdq, Punpckhbw, Punpckhwd, Punpckhdq, Punpckhqdq, Packsswb, Packssdw, Packuswb,
    ]
};

const OTHERS: &[Mnemonic] = {
    use Mnemonic::*;
    &[Pmovmskb, Movmskps, Movmskpd, Pinsrw, Pextrw, Maskmovdqu]
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

/// The MMX forms of the family's mnemonics are not lifted: #UD.
#[test]
fn mmx_forms_are_undefined() {
    use visa::frontend::x86::{Mode, lift_block};
    use visa::machine::GuestMemory;
    use visa::visa::{ExitReason, Imm};

    // pand mm0, mm1; movd mm0, eax; punpcklbw mm0, mm1; pmovmskb eax, mm0;
    // pinsrw mm0, eax, 1; pextrw eax, mm0, 1; movq mm0, mm1
    let cases: &[&[u8]] = &[
        &[0x0f, 0xdb, 0xc1],
        &[0x0f, 0x6e, 0xc0],
        &[0x0f, 0x60, 0xc1],
        &[0x0f, 0xd7, 0xc0],
        &[0x0f, 0xc4, 0xc0, 0x01],
        &[0x0f, 0xc5, 0xc0, 0x01],
        &[0x0f, 0x6f, 0xc1],
    ];
    let mut mem = GuestMemory::new(0x2000).unwrap();
    for bytes in cases {
        mem.write_bytes(0x1000, bytes).unwrap();
        let lifted = lift_block(&mem, 0x1000, Mode::default()).unwrap();
        let last = lifted.block.insts.last().expect("a terminator");
        assert!(matches!(last.imm, Imm::Exit(ExitReason::Undefined, 0x1000)), "{bytes:02x?} is lifted");
    }
}
