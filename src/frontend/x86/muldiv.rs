//! Multiplication and division: MUL IMUL (one, two and three operands) DIV IDIV.
//!
//! The one-operand forms work on the accumulator pair: AX (as AL and AH) for
//! 8-bit operands, DX:AX, EDX:EAX or RDX:RAX otherwise. MUL and IMUL set
//! CF = OF when the high half of the full product is significant; SF ZF AF
//! PF are undefined and kept. DIV and IDIV trap (#DE) on a zero divisor or a
//! quotient that does not fit before anything is written; all their flags
//! are undefined and kept.

use iced_x86::{Mnemonic, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use crate::machine::flag::{CF, OF};
use crate::visa::{IntCC, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Mul, |cx| multiply(cx, false)),
    (Mnemonic::Imul, |cx| multiply(cx, true)),
    (Mnemonic::Div, |cx| divide(cx, false)),
    (Mnemonic::Idiv, |cx| divide(cx, true)),
];

/// The accumulator pair of an operand size: (low, high); AL:AH is AX.
fn pair(ty: Type) -> (Register, Register) {
    match ty {
        Type::I8 => (Register::AL, Register::AH),
        Type::I16 => (Register::AX, Register::DX),
        Type::I32 => (Register::EAX, Register::EDX),
        _ => (Register::RAX, Register::RDX),
    }
}

/// Writes the high:low result halves to the accumulator pair.
fn write_pair(cx: &mut Ctx, lo: Value, hi: Value) {
    let (lo_reg, hi_reg) = pair(cx.ty(lo));
    if cx.ty(lo) == Type::I8 {
        let lo = cx.resize(Type::I16, lo);
        let hi = cx.resize(Type::I16, hi);
        let k = cx.iconst(Type::I16, 8);
        let hi = cx.op(Opcode::Shl, &[hi, k]);
        let ax = cx.op(Opcode::Or, &[hi, lo]);
        cx.write_gpr(Register::AX, ax);
    } else {
        cx.write_gpr(lo_reg, lo);
        cx.write_gpr(hi_reg, hi);
    }
}

fn multiply(cx: &mut Ctx, signed: bool) -> Flow {
    if cx.insn.has_lock_prefix() {
        return Flow::Undefined;
    }
    let op = if signed { Opcode::SmulWide } else { Opcode::UmulWide };
    let count = cx.insn.op_count();
    // One operand: the accumulator times it. Two: operand 0 times operand 1.
    // Three: operand 1 times the immediate.
    let b = cx.read_operand(count - 1);
    let ty = cx.ty(b);
    let a = match count {
        1 => {
            let lo = pair(ty).0;
            cx.read_gpr(lo)
        }
        2 => cx.read_operand(0),
        _ => cx.read_operand(1),
    };
    let r = cx.op_multi(op, &[a, b]);
    let (lo, hi) = (r[0], r[1]);
    if count == 1 {
        write_pair(cx, lo, hi);
    } else {
        cx.write_operand(0, lo);
    }
    // The high half is significant unless it is the extension of the low.
    let ext = if signed {
        let k = cx.iconst(ty, ty.bits() as u64 - 1);
        cx.op(Opcode::Ashr, &[lo, k])
    } else {
        cx.iconst(ty, 0)
    };
    let significant = cx.icmp(IntCC::Ne, hi, ext);
    cx.set_flag(CF, significant);
    cx.set_flag(OF, significant);
    Flow::Next
}

fn divide(cx: &mut Ctx, signed: bool) -> Flow {
    if cx.insn.has_lock_prefix() {
        return Flow::Undefined;
    }
    let op = if signed { Opcode::SdivWide } else { Opcode::UdivWide };
    let d = cx.read_operand(0);
    let (lo_reg, hi_reg) = pair(cx.ty(d));
    let hi = cx.read_gpr(hi_reg);
    let lo = cx.read_gpr(lo_reg);
    let r = cx.op_multi(op, &[hi, lo, d]);
    write_pair(cx, r[0], r[1]);
    Flow::Next
}
