//! Data movement: MOV MOVZX MOVSX MOVSXD XCHG CMOVcc SETcc BSWAP MOVBE LEA
//! MOVNTI, and the sign extensions CBW CWDE CDQE CWD CDQ CQO.

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type};
use super::flags::condition;
use crate::visa::{AtomicOp, Imm, IntCC, Opcode, Type};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Mov, mov),
    (Mnemonic::Movnti, mov),
    (Mnemonic::Movzx, |cx| extend(cx, false)),
    (Mnemonic::Movsx, |cx| extend(cx, true)),
    (Mnemonic::Movsxd, |cx| extend(cx, true)),
    (Mnemonic::Xchg, xchg),
    (Mnemonic::Cmovo, cmov),
    (Mnemonic::Cmovno, cmov),
    (Mnemonic::Cmovb, cmov),
    (Mnemonic::Cmovae, cmov),
    (Mnemonic::Cmove, cmov),
    (Mnemonic::Cmovne, cmov),
    (Mnemonic::Cmovbe, cmov),
    (Mnemonic::Cmova, cmov),
    (Mnemonic::Cmovs, cmov),
    (Mnemonic::Cmovns, cmov),
    (Mnemonic::Cmovp, cmov),
    (Mnemonic::Cmovnp, cmov),
    (Mnemonic::Cmovl, cmov),
    (Mnemonic::Cmovge, cmov),
    (Mnemonic::Cmovle, cmov),
    (Mnemonic::Cmovg, cmov),
    (Mnemonic::Seto, setcc),
    (Mnemonic::Setno, setcc),
    (Mnemonic::Setb, setcc),
    (Mnemonic::Setae, setcc),
    (Mnemonic::Sete, setcc),
    (Mnemonic::Setne, setcc),
    (Mnemonic::Setbe, setcc),
    (Mnemonic::Seta, setcc),
    (Mnemonic::Sets, setcc),
    (Mnemonic::Setns, setcc),
    (Mnemonic::Setp, setcc),
    (Mnemonic::Setnp, setcc),
    (Mnemonic::Setl, setcc),
    (Mnemonic::Setge, setcc),
    (Mnemonic::Setle, setcc),
    (Mnemonic::Setg, setcc),
    (Mnemonic::Bswap, bswap),
    (Mnemonic::Movbe, movbe),
    (Mnemonic::Lea, lea),
    (Mnemonic::Cbw, |cx| widen_accumulator(cx, Register::AL, Register::AX)),
    (Mnemonic::Cwde, |cx| widen_accumulator(cx, Register::AX, Register::EAX)),
    (Mnemonic::Cdqe, |cx| widen_accumulator(cx, Register::EAX, Register::RAX)),
    (Mnemonic::Cwd, |cx| sign_fill(cx, Register::AX, Register::DX)),
    (Mnemonic::Cdq, |cx| sign_fill(cx, Register::EAX, Register::EDX)),
    (Mnemonic::Cqo, |cx| sign_fill(cx, Register::RAX, Register::RDX)),
];

fn is_gpr(cx: &Ctx, i: u32) -> bool {
    cx.insn.op_kind(i) != OpKind::Register || cx.insn.op_register(i).is_gpr()
}

fn mov(cx: &mut Ctx) -> Flow {
    let names_segment = |i| cx.insn.op_kind(i) == OpKind::Register && cx.insn.op_register(i).is_segment_register();
    if names_segment(0) || names_segment(1) {
        return super::segment::mov(cx);
    }
    if super::sysreg::is_move(cx) {
        return super::sysreg::mov(cx);
    }
    if !is_gpr(cx, 0) || !is_gpr(cx, 1) {
        return Flow::Undefined;
    }
    let v = cx.read_operand(1);
    cx.write_operand(0, v);
    Flow::Next
}

fn extend(cx: &mut Ctx, signed: bool) -> Flow {
    let ty = cx.operand_type(0);
    let v = cx.read_operand(1);
    let v = if signed { cx.sext(ty, v) } else { cx.resize(ty, v) };
    cx.write_operand(0, v);
    Flow::Next
}

fn xchg(cx: &mut Ctx) -> Flow {
    let (mem, reg) = if cx.is_memory(0) { (0, 1) } else { (1, 0) };
    let r = cx.read_operand(reg);
    if cx.is_memory(mem) {
        // XCHG with memory is always atomic.
        let addr = cx.address();
        let ty = cx.ty(r);
        let old = cx.b.ins(Opcode::AtomicRmw, Some(ty), Imm::Atomic(AtomicOp::Xchg), &[addr, r]);
        cx.write_operand(reg, old);
    } else {
        if cx.insn.has_lock_prefix() {
            return Flow::Undefined;
        }
        let other = cx.read_operand(mem);
        cx.write_operand(mem, r);
        cx.write_operand(reg, other);
    }
    Flow::Next
}

fn cmov(cx: &mut Ctx) -> Flow {
    let src = cx.read_operand(1);
    let c = condition(cx, cx.insn.condition_code());
    let old = cx.read_operand(0);
    let v = cx.select(c, src, old);
    cx.write_operand(0, v);
    Flow::Next
}

fn setcc(cx: &mut Ctx) -> Flow {
    let c = condition(cx, cx.insn.condition_code());
    let v = cx.resize(Type::I8, c);
    cx.write_operand(0, v);
    Flow::Next
}

fn bswap(cx: &mut Ctx) -> Flow {
    let reg = cx.insn.op_register(0);
    if reg.size() == 2 {
        // The manual leaves BSWAP of a 16-bit register undefined; processors
        // clear it, and so does visa.
        let zero = cx.iconst(Type::I16, 0);
        cx.write_gpr(reg, zero);
        return Flow::Next;
    }
    let v = cx.read_gpr(reg);
    let r = cx.op(Opcode::Bswap, &[v]);
    cx.write_gpr(reg, r);
    Flow::Next
}

/// MOVBE: a load or store with the bytes reversed (a 16-bit register
/// keeps its upper bits).
fn movbe(cx: &mut Ctx) -> Flow {
    let v = cx.read_operand(1);
    let r = cx.op(Opcode::Bswap, &[v]);
    cx.write_operand(0, r);
    Flow::Next
}

fn lea(cx: &mut Ctx) -> Flow {
    if !cx.is_memory(1) {
        return Flow::Undefined;
    }
    // LEA computes the offset only: a segment override adds no base.
    let segment_free = {
        let mut insn = cx.insn;
        insn.set_segment_prefix(Register::None);
        insn
    };
    let saved = std::mem::replace(&mut cx.insn, segment_free);
    let addr = cx.address();
    cx.insn = saved;
    let ty = int_type(cx.insn.op_register(0).size());
    let v = cx.resize(ty, addr);
    cx.write_operand(0, v);
    Flow::Next
}

fn widen_accumulator(cx: &mut Ctx, from: Register, to: Register) -> Flow {
    let v = cx.read_gpr(from);
    let v = cx.sext(int_type(to.size()), v);
    cx.write_gpr(to, v);
    Flow::Next
}

fn sign_fill(cx: &mut Ctx, from: Register, to: Register) -> Flow {
    let v = cx.read_gpr(from);
    let neg = cx.icmp_imm(IntCC::Slt, v, 0);
    let fill = cx.sext(int_type(from.size()), neg);
    cx.write_gpr(to, fill);
    Flow::Next
}
