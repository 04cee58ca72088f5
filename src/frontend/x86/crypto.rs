//! The crypto extensions: AES-NI (AESENC AESENCLAST AESDEC AESDECLAST
//! AESIMC AESKEYGENASSIST), PCLMULQDQ and SHA (SHA1RNDS4 SHA1NEXTE
//! SHA1MSG1 SHA1MSG2 SHA256RNDS2 SHA256MSG1 SHA256MSG2), each one call of
//! the pure `crypto` runtime helper (`machine::crypto`, portable code) on
//! the destination, the source, XMM0 and the immediate. No flags change. An
//! m128 source must be 16-byte aligned (else #GP), but for SHA, where
//! visa does as AMD's processors do and reads it wherever it is (Intel's
//! raise #GP: see `oracle::vendors`).

use iced_x86::{Mnemonic, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use crate::machine::crypto::CryptoOp;
use crate::visa::{Imm, Opcode, Type};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Aesenc, |cx| crypto(cx, CryptoOp::AesEnc)),
    (Mnemonic::Aesenclast, |cx| crypto(cx, CryptoOp::AesEncLast)),
    (Mnemonic::Aesdec, |cx| crypto(cx, CryptoOp::AesDec)),
    (Mnemonic::Aesdeclast, |cx| crypto(cx, CryptoOp::AesDecLast)),
    (Mnemonic::Aesimc, |cx| crypto(cx, CryptoOp::AesImc)),
    (Mnemonic::Aeskeygenassist, |cx| crypto(cx, CryptoOp::AesKeygenAssist)),
    (Mnemonic::Pclmulqdq, |cx| crypto(cx, CryptoOp::Pclmulqdq)),
    (Mnemonic::Sha1rnds4, |cx| crypto(cx, CryptoOp::Sha1Rnds4)),
    (Mnemonic::Sha1nexte, |cx| crypto(cx, CryptoOp::Sha1Nexte)),
    (Mnemonic::Sha1msg1, |cx| crypto(cx, CryptoOp::Sha1Msg1)),
    (Mnemonic::Sha1msg2, |cx| crypto(cx, CryptoOp::Sha1Msg2)),
    (Mnemonic::Sha256rnds2, |cx| crypto(cx, CryptoOp::Sha256Rnds2)),
    (Mnemonic::Sha256msg1, |cx| crypto(cx, CryptoOp::Sha256Msg1)),
    (Mnemonic::Sha256msg2, |cx| crypto(cx, CryptoOp::Sha256Msg2)),
];

/// `dst = crypto(op, dst, src, xmm0, imm8)` for the legacy-encoded forms
/// (the VEX ones are AVX).
fn crypto(cx: &mut Ctx, op: CryptoOp) -> Flow {
    let dst = cx.insn.op0_register();
    if !dst.is_xmm() || cx.insn.encoding() != iced_x86::EncodingKind::Legacy {
        return Flow::Undefined;
    }
    let b = cx.read_vector(1, !op.is_sha());
    let a = cx.read_vreg(dst);
    let c = cx.read_vreg(Register::XMM0);
    let imm = if cx.insn.op_count() > 2 && op != CryptoOp::Sha256Rnds2 { cx.insn.immediate8() } else { 0 };
    let op = cx.iconst(Type::I32, op as u64);
    let imm = cx.iconst(Type::I32, imm as u64);
    let r = cx.b.ins_multi(Opcode::Call, None, Imm::Helper(cx.x.crypto), &[op, a, b, c, imm]);
    cx.write_vreg(dst, r[0]);
    Flow::Next
}
