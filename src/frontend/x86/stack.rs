//! The stack: PUSH POP PUSHF POPF ENTER LEAVE, and the push/pop the control
//! transfers share.

use iced_x86::{Code, Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type};
use crate::machine::{FLAGS, SPLIT_FLAGS_MASK};
use crate::visa::{Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Push, push_insn),
    (Mnemonic::Pop, pop_insn),
    (Mnemonic::Pushf, |cx| pushf(cx, Type::I16)),
    (Mnemonic::Pushfq, |cx| pushf(cx, Type::I64)),
    (Mnemonic::Popf, |cx| popf(cx, Type::I16)),
    (Mnemonic::Popfq, |cx| popf(cx, Type::I64)),
    (Mnemonic::Leave, leave),
    (Mnemonic::Enter, enter),
];

const RSP: usize = 4;
const RBP: usize = 5;

/// RFLAGS bits POPF may change: CF PF AF ZF SF DF OF NT AC ID. TF is
/// kept (the single-step trap is not modelled), and so are the system bits
/// except at CPL 0.
const POPF_MASK: u64 = 0x0024_4cd5;

/// The system bits POPF sets at CPL 0: IF and IOPL.
const POPF_SYSTEM: u64 = 0x3200;

/// Pushes `v` (its width decides the step): the store comes before RSP moves.
pub fn push(cx: &mut Ctx, v: Value) {
    let rsp = cx.read_gpr64(RSP);
    let new = cx.offset(rsp, -(cx.ty(v).bytes() as i64));
    cx.store(v, new);
    cx.write_gpr64(RSP, new);
}

/// Pops a value of `ty`, then releases `extra` more bytes (RET imm16).
pub fn pop(cx: &mut Ctx, ty: Type, extra: u64) -> Value {
    let rsp = cx.read_gpr64(RSP);
    let v = cx.load(ty, rsp);
    let new = cx.offset(rsp, (ty.bytes() as u64 + extra) as i64);
    cx.write_gpr64(RSP, new);
    v
}

fn is_segment(cx: &Ctx) -> bool {
    cx.insn.op_kind(0) == OpKind::Register && cx.insn.op_register(0).is_segment_register()
}

fn push_insn(cx: &mut Ctx) -> Flow {
    if is_segment(cx) {
        return super::segment::push_sreg(cx);
    }
    let ty = match cx.insn.op_kind(0) {
        OpKind::Register => int_type(cx.insn.op_register(0).size()),
        OpKind::Memory => cx.operand_type(0),
        _ => int_type(cx.insn.stack_pointer_increment().unsigned_abs() as usize),
    };
    let v = match cx.insn.op_kind(0) {
        OpKind::Register | OpKind::Memory => cx.read_operand(0),
        _ => cx.iconst(ty, cx.insn.immediate(0)),
    };
    push(cx, v);
    Flow::Next
}

fn pop_insn(cx: &mut Ctx) -> Flow {
    if is_segment(cx) {
        return super::segment::pop_sreg(cx);
    }
    let ty = cx.operand_type(0);
    if cx.is_memory(0) {
        // The destination address is computed with RSP already incremented,
        // but nothing is committed until the store succeeds.
        let rsp = cx.read_gpr64(RSP);
        let v = cx.load(ty, rsp);
        let new = cx.offset(rsp, ty.bytes() as i64);
        let addr = cx.address();
        let rsp_based = matches!(cx.insn.memory_base(), Register::RSP | Register::ESP);
        let addr = if rsp_based { cx.offset(addr, ty.bytes() as i64) } else { addr };
        cx.store(v, addr);
        cx.write_gpr64(RSP, new);
        return Flow::Next;
    }
    let v = pop(cx, ty, 0);
    cx.write_operand(0, v);
    Flow::Next
}

/// RFLAGS assembled from the split flags and the rest.
pub fn rflags(cx: &mut Ctx) -> Value {
    let mut acc = cx.get(cx.x.rflags_rest);
    for (i, (_, bit)) in FLAGS.iter().enumerate() {
        let f = cx.flag(i);
        let wide = cx.resize(Type::I64, f);
        let k = cx.iconst(Type::I64, *bit as u64);
        let shifted = cx.op(Opcode::Shl, &[wide, k]);
        acc = cx.op(Opcode::Or, &[acc, shifted]);
    }
    acc
}

/// Writes the RFLAGS bits in `mask` from `value`.
pub fn set_rflags(cx: &mut Ctx, value: Value, mask: u64) {
    for (i, (_, bit)) in FLAGS.iter().enumerate() {
        if mask & (1 << bit) != 0 {
            let f = cx.bit(value, *bit);
            cx.set_flag(i, f);
        }
    }
    let rest_mask = mask & !SPLIT_FLAGS_MASK;
    if rest_mask != 0 {
        let old = cx.get(cx.x.rflags_rest);
        let keep = cx.iconst(Type::I64, !rest_mask);
        let kept = cx.op(Opcode::And, &[old, keep]);
        let take = cx.iconst(Type::I64, rest_mask);
        let taken = cx.op(Opcode::And, &[value, take]);
        let new = cx.op(Opcode::Or, &[kept, taken]);
        cx.set(cx.x.rflags_rest, new);
    }
}

fn pushf(cx: &mut Ctx, ty: Type) -> Flow {
    let f = rflags(cx);
    // RF and VM read as 0 in the pushed image.
    let k = cx.iconst(Type::I64, !0x3_0000);
    let f = cx.op(Opcode::And, &[f, k]);
    let v = cx.resize(ty, f);
    push(cx, v);
    Flow::Next
}

fn popf(cx: &mut Ctx, ty: Type) -> Flow {
    let v = pop(cx, ty, 0);
    let v = cx.resize(Type::I64, v);
    // At CPL 0 POPF also sets IF and IOPL.
    let mask = if cx.mode.user { POPF_MASK } else { POPF_MASK | POPF_SYSTEM };
    let mask = if ty == Type::I16 { mask & 0xffff } else { mask };
    set_rflags(cx, v, mask);
    Flow::Next
}

fn leave(cx: &mut Ctx) -> Flow {
    let size: u64 = if cx.insn.code() == Code::Leavew { 2 } else { 8 };
    let rbp = cx.read_gpr64(RBP);
    let ty = int_type(size as usize);
    let v = cx.load(ty, rbp);
    let new = cx.offset(rbp, size as i64);
    cx.write_gpr64(RSP, new);
    cx.write_gpr(if ty == Type::I16 { Register::BP } else { Register::RBP }, v);
    Flow::Next
}

fn enter(cx: &mut Ctx) -> Flow {
    let (size, ty, bp) = match cx.insn.code() {
        Code::Enterw_imm16_imm8 => (2i64, Type::I16, Register::BP),
        _ => (8, Type::I64, Register::RBP),
    };
    let frame = cx.insn.immediate16() as i64;
    let level = (cx.insn.immediate8_2nd() & 31) as i64;
    let rsp = cx.read_gpr64(RSP);
    let rbp = cx.read_gpr64(RBP);
    let frame_ptr = cx.offset(rsp, -size);
    let old_bp = cx.resize(ty, rbp);
    cx.store(old_bp, frame_ptr);
    for i in 1..level {
        let from = cx.offset(rbp, -size * i);
        let v = cx.load(ty, from);
        let to = cx.offset(frame_ptr, -size * i);
        cx.store(v, to);
    }
    if level > 0 {
        let to = cx.offset(frame_ptr, -size * level);
        let v = cx.resize(ty, frame_ptr);
        cx.store(v, to);
    }
    let new_rsp = cx.offset(frame_ptr, -(size * level + frame));
    let v = cx.resize(ty, frame_ptr);
    cx.write_gpr(bp, v);
    cx.write_gpr64(RSP, new_rsp);
    Flow::Next
}
