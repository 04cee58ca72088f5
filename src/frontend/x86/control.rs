//! Control transfers: JMP Jcc CALL RET LOOP LOOPE LOOPNE JRCXZ/JECXZ (far
//! JMP and CALL through memory are the segment family's).

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::flags::condition;
use super::stack::{pop, push};
use crate::machine::flag::ZF;
use crate::visa::{IntCC, Opcode, Type};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Jmp, jmp),
    (Mnemonic::Jo, jcc),
    (Mnemonic::Jno, jcc),
    (Mnemonic::Jb, jcc),
    (Mnemonic::Jae, jcc),
    (Mnemonic::Je, jcc),
    (Mnemonic::Jne, jcc),
    (Mnemonic::Jbe, jcc),
    (Mnemonic::Ja, jcc),
    (Mnemonic::Js, jcc),
    (Mnemonic::Jns, jcc),
    (Mnemonic::Jp, jcc),
    (Mnemonic::Jnp, jcc),
    (Mnemonic::Jl, jcc),
    (Mnemonic::Jge, jcc),
    (Mnemonic::Jle, jcc),
    (Mnemonic::Jg, jcc),
    (Mnemonic::Call, call),
    (Mnemonic::Ret, ret),
    (Mnemonic::Loop, |cx| loop_(cx, None)),
    (Mnemonic::Loope, |cx| loop_(cx, Some(true))),
    (Mnemonic::Loopne, |cx| loop_(cx, Some(false))),
    (Mnemonic::Jrcxz, jrcxz),
    (Mnemonic::Jecxz, jrcxz),
];

fn is_near(cx: &Ctx) -> bool {
    matches!(cx.insn.op_kind(0), OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64)
}

fn is_far(cx: &Ctx) -> bool {
    matches!(cx.insn.op_kind(0), OpKind::FarBranch16 | OpKind::FarBranch32)
        || cx.insn.is_jmp_far_indirect()
        || cx.insn.is_call_far_indirect()
}

/// A far JMP or CALL: through memory (the segment family lifts it); the
/// direct forms do not exist in 64-bit mode.
fn far(cx: &mut Ctx, is_call: bool) -> Flow {
    if cx.is_memory(0) { super::segment::far(cx, is_call) } else { Flow::Undefined }
}

fn jmp(cx: &mut Ctx) -> Flow {
    if is_far(cx) {
        return far(cx, false);
    }
    if is_near(cx) {
        let target = cx.insn.near_branch_target();
        if cx.may_follow(target) {
            return Flow::Follow(target);
        }
        cx.b.jump(target);
    } else {
        let target = cx.read_operand(0);
        let target = cx.resize(Type::I64, target);
        cx.b.jump_ind(target);
    }
    Flow::End
}

/// A conditional branch: a side exit when the block may grow (and the
/// engine did not ask for the block to end here), so that one path
/// continues in the same block, else the block's end. The path that
/// continues is the fall-through, or for a backward branch to code not yet
/// in the block (a loop's, taken on every iteration but the last) the
/// branch.
fn jcc(cx: &mut Ctx) -> Flow {
    let (target, next) = (cx.insn.near_branch_target(), cx.next_ip());
    if cx.side_exits < cx.side_exit_limit && cx.end_at != Some(cx.ip()) {
        cx.side_exits += 1;
        if target < cx.ip() && cx.may_follow(target) {
            let mut negated = cx.insn;
            negated.negate_condition_code();
            let c = condition(cx, negated.condition_code());
            cx.b.jump_if(c, next);
            return Flow::Follow(target);
        }
        let c = condition(cx, cx.insn.condition_code());
        cx.b.jump_if(c, target);
        return Flow::Next;
    }
    let c = condition(cx, cx.insn.condition_code());
    cx.b.branch(c, target, next);
    Flow::End
}

fn call(cx: &mut Ctx) -> Flow {
    if is_far(cx) {
        return far(cx, true);
    }
    let ret = cx.iconst(Type::I64, cx.next_ip());
    if is_near(cx) {
        push(cx, ret);
        cx.b.jump(cx.insn.near_branch_target());
    } else {
        // The target is read before the return address is pushed.
        let target = cx.read_operand(0);
        let target = cx.resize(Type::I64, target);
        push(cx, ret);
        cx.b.jump_ind(target);
    }
    Flow::End
}

fn ret(cx: &mut Ctx) -> Flow {
    let target = pop(cx, Type::I64, cx.insn.op_count() as u64 * cx.insn.immediate16() as u64);
    cx.b.jump_ind(target);
    Flow::End
}

/// The count register of LOOP and JRCXZ: RCX, or ECX with a 32-bit address size.
fn count_register(cx: &Ctx) -> Register {
    use iced_x86::Code::*;
    if matches!(cx.insn.code(), Loop_rel8_64_ECX | Loope_rel8_64_ECX | Loopne_rel8_64_ECX | Jecxz_rel8_64) {
        Register::ECX
    } else {
        Register::RCX
    }
}

fn loop_(cx: &mut Ctx, zf_wanted: Option<bool>) -> Flow {
    let reg = count_register(cx);
    let count = cx.read_gpr(reg);
    let ty = cx.ty(count);
    let one = cx.iconst(ty, 1);
    let count = cx.op(Opcode::Isub, &[count, one]);
    cx.write_gpr(reg, count);
    let mut c = cx.icmp_imm(IntCC::Ne, count, 0);
    if let Some(want) = zf_wanted {
        let zf = cx.flag(ZF);
        let zf = if want { zf } else { cx.not(zf) };
        c = cx.op(Opcode::And, &[c, zf]);
    }
    cx.b.branch(c, cx.insn.near_branch_target(), cx.next_ip());
    Flow::End
}

fn jrcxz(cx: &mut Ctx) -> Flow {
    let count = cx.read_gpr(count_register(cx));
    let c = cx.icmp_imm(IntCC::Eq, count, 0);
    cx.b.branch(c, cx.insn.near_branch_target(), cx.next_ip());
    Flow::End
}
