//! The x87 FPU: loads and stores, arithmetic, compares, transcendentals and
//! control instructions, and FXSAVE/FXRSTOR. Each is one call of the `x87`
//! runtime helper (`machine::x87`), which runs it on the 80-bit state: the
//! lifted code computes the memory operand's address and passes it with the
//! encoded operation and the instruction's address. FXRSTOR writes MXCSR, so
//! it ends the block. EMMS, which only empties the tags (and sets TOP to 0),
//! is lifted inline (see `Ctx::empty_mmx`).

use iced_x86::{MemorySize, Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::system::call;
use crate::visa::{ExitReason, Type};
use crate::x87_op::{Kind, Mem, X87Op};

pub const TABLE: &[(Mnemonic, LiftFn)] = {
    use Kind::*;
    use Mnemonic as M;
    &[
        (M::Fld, |cx| lift(cx, Ld, 0)),
        (M::Fild, |cx| lift(cx, Ld, 0)),
        (M::Fbld, |cx| lift(cx, Ld, 0)),
        (M::Fld1, |cx| constant(cx, 0)),
        (M::Fldl2t, |cx| constant(cx, 1)),
        (M::Fldl2e, |cx| constant(cx, 2)),
        (M::Fldpi, |cx| constant(cx, 3)),
        (M::Fldlg2, |cx| constant(cx, 4)),
        (M::Fldln2, |cx| constant(cx, 5)),
        (M::Fldz, |cx| constant(cx, 6)),
        (M::Fst, |cx| lift(cx, St, 0)),
        (M::Fstp, |cx| lift(cx, St, 1)),
        (M::Fstpnce, fstp1),
        (M::Fist, |cx| lift(cx, St, 0)),
        (M::Fistp, |cx| lift(cx, St, 1)),
        (M::Fbstp, |cx| lift(cx, St, 1)),
        (M::Fisttp, |cx| lift(cx, Isttp, 1)),
        (M::Fxch, |cx| lift(cx, Xch, 0)),
        (M::Fcmovb, |cx| cmov(cx, 0)),
        (M::Fcmove, |cx| cmov(cx, 1)),
        (M::Fcmovbe, |cx| cmov(cx, 2)),
        (M::Fcmovu, |cx| cmov(cx, 3)),
        (M::Fcmovnb, |cx| cmov(cx, 4)),
        (M::Fcmovne, |cx| cmov(cx, 5)),
        (M::Fcmovnbe, |cx| cmov(cx, 6)),
        (M::Fcmovnu, |cx| cmov(cx, 7)),
        (M::Fadd, |cx| lift(cx, Add, 0)),
        (M::Faddp, |cx| lift(cx, Add, 1)),
        (M::Fiadd, |cx| lift(cx, Add, 0)),
        (M::Fmul, |cx| lift(cx, Mul, 0)),
        (M::Fmulp, |cx| lift(cx, Mul, 1)),
        (M::Fimul, |cx| lift(cx, Mul, 0)),
        (M::Fsub, |cx| lift(cx, Sub, 0)),
        (M::Fsubp, |cx| lift(cx, Sub, 1)),
        (M::Fisub, |cx| lift(cx, Sub, 0)),
        (M::Fsubr, |cx| lift(cx, Subr, 0)),
        (M::Fsubrp, |cx| lift(cx, Subr, 1)),
        (M::Fisubr, |cx| lift(cx, Subr, 0)),
        (M::Fdiv, |cx| lift(cx, Div, 0)),
        (M::Fdivp, |cx| lift(cx, Div, 1)),
        (M::Fidiv, |cx| lift(cx, Div, 0)),
        (M::Fdivr, |cx| lift(cx, Divr, 0)),
        (M::Fdivrp, |cx| lift(cx, Divr, 1)),
        (M::Fidivr, |cx| lift(cx, Divr, 0)),
        (M::Fcom, |cx| lift(cx, Com, 0)),
        (M::Fcomp, |cx| lift(cx, Com, 1)),
        (M::Fcompp, |cx| lift(cx, Com, 2)),
        (M::Ficom, |cx| lift(cx, Com, 0)),
        (M::Ficomp, |cx| lift(cx, Com, 1)),
        (M::Fucom, |cx| lift(cx, Ucom, 0)),
        (M::Fucomp, |cx| lift(cx, Ucom, 1)),
        (M::Fucompp, |cx| lift(cx, Ucom, 2)),
        (M::Fcomi, |cx| lift(cx, Comi, 0)),
        (M::Fcomip, |cx| lift(cx, Comi, 1)),
        (M::Fucomi, |cx| lift(cx, Ucomi, 0)),
        (M::Fucomip, |cx| lift(cx, Ucomi, 1)),
        (M::Ftst, |cx| lift(cx, Tst, 0)),
        (M::Fxam, |cx| lift(cx, Xam, 0)),
        (M::Fchs, |cx| lift(cx, Chs, 0)),
        (M::Fabs, |cx| lift(cx, Abs, 0)),
        (M::Fsqrt, |cx| lift(cx, Sqrt, 0)),
        (M::Frndint, |cx| lift(cx, Rndint, 0)),
        (M::Fscale, |cx| lift(cx, Scale, 0)),
        (M::Fprem, |cx| lift(cx, Prem, 0)),
        (M::Fprem1, |cx| lift(cx, Prem1, 0)),
        (M::Fxtract, |cx| lift(cx, Xtract, 0)),
        (M::Fsin, |cx| lift(cx, Sin, 0)),
        (M::Fcos, |cx| lift(cx, Cos, 0)),
        (M::Fsincos, |cx| lift(cx, Sincos, 0)),
        (M::Fptan, |cx| lift(cx, Ptan, 0)),
        (M::Fpatan, |cx| lift(cx, Patan, 0)),
        (M::F2xm1, |cx| lift(cx, F2xm1, 0)),
        (M::Fyl2x, |cx| lift(cx, Yl2x, 0)),
        (M::Fyl2xp1, |cx| lift(cx, Yl2xp1, 0)),
        (M::Ffree, |cx| lift(cx, Free, 0)),
        (M::Ffreep, |cx| lift(cx, Free, 1)),
        (M::Fincstp, |cx| lift(cx, Incstp, 0)),
        (M::Fdecstp, |cx| lift(cx, Decstp, 0)),
        (M::Fnop, |cx| lift(cx, Nop, 0)),
        (M::Wait, |cx| lift(cx, Wait, 0)),
        (M::Fninit, |cx| no_wait(cx, Init)),
        (M::Finit, |cx| lift(cx, Init, 0)),
        (M::Fnclex, |cx| no_wait(cx, Clex)),
        (M::Fclex, |cx| lift(cx, Clex, 0)),
        (M::Fnstsw, |cx| no_wait(cx, Stsw)),
        (M::Fstsw, |cx| lift(cx, Stsw, 0)),
        (M::Fnstcw, |cx| no_wait(cx, Stcw)),
        (M::Fstcw, |cx| lift(cx, Stcw, 0)),
        (M::Fldcw, |cx| lift(cx, Ldcw, 0)),
        (M::Fnstenv, |cx| no_wait(cx, Stenv)),
        (M::Fstenv, |cx| lift(cx, Stenv, 0)),
        (M::Fldenv, |cx| lift(cx, Ldenv, 0)),
        (M::Fnsave, |cx| no_wait(cx, Save)),
        (M::Fsave, |cx| lift(cx, Save, 0)),
        (M::Frstor, |cx| lift(cx, Rstor, 0)),
        (M::Fxsave, |cx| no_wait(cx, Fxsave)),
        (M::Fxsave64, |cx| no_wait(cx, Fxsave)),
        (M::Fxrstor, |cx| no_wait(cx, Fxrstor)),
        (M::Fxrstor64, |cx| no_wait(cx, Fxrstor)),
        (M::Emms, |cx| {
            cx.empty_mmx();
            Flow::Next
        }),
        // 8087 and 287 controls: no-ops on later FPUs (the waiting forms wait).
        (M::Fneni, |_| Flow::Next),
        (M::Fndisi, |_| Flow::Next),
        (M::Fnsetpm, |_| Flow::Next),
        (M::Feni, |cx| lift(cx, Wait, 0)),
        (M::Fdisi, |cx| lift(cx, Wait, 0)),
        (M::Fsetpm, |cx| lift(cx, Wait, 0)),
    ]
};

fn constant(cx: &mut Ctx, which: u8) -> Flow {
    let mut op = X87Op::new(Kind::LdConst);
    op.arg = which;
    emit(cx, op)
}

/// FSTP1, the D9 D8+i alias of FSTP, which stores without checking tags.
fn fstp1(cx: &mut Ctx) -> Flow {
    let mut op = operands(cx, Kind::St, 1);
    op.arg = 1;
    emit(cx, op)
}

fn cmov(cx: &mut Ctx, cond: u8) -> Flow {
    let mut op = operands(cx, Kind::Cmov, 0);
    op.arg = cond;
    emit(cx, op)
}

fn lift(cx: &mut Ctx, kind: Kind, pops: u8) -> Flow {
    let op = operands(cx, kind, pops);
    emit(cx, op)
}

fn no_wait(cx: &mut Ctx, kind: Kind) -> Flow {
    let mut op = operands(cx, kind, 0);
    op.wait = false;
    emit(cx, op)
}

/// The operation with its ST(i) and memory operands.
fn operands(cx: &Ctx, kind: Kind, pops: u8) -> X87Op {
    let insn = &cx.insn;
    let mut op = X87Op::new(kind);
    op.pops = pops;
    if insn.op_count() == 0 && matches!(kind, Kind::Com | Kind::Ucom) {
        op.i = 1;
    }
    for i in 0..insn.op_count() {
        match insn.op_kind(i) {
            OpKind::Memory => op.mem = memory_format(insn.memory_size()),
            OpKind::Register => {
                let r = insn.op_register(i);
                if r.is_st() && r != Register::ST0 {
                    op.i = (r as u32 - Register::ST0 as u32) as u8;
                    op.rev = i == 0;
                }
            }
            _ => {}
        }
    }
    op
}

fn memory_format(size: MemorySize) -> Mem {
    match size {
        MemorySize::Float32 => Mem::F32,
        MemorySize::Float64 => Mem::F64,
        MemorySize::Float80 => Mem::F80,
        MemorySize::Int16 => Mem::I16,
        MemorySize::Int32 => Mem::I32,
        MemorySize::Int64 => Mem::I64,
        MemorySize::Bcd => Mem::Bcd,
        MemorySize::FpuEnv14 => Mem::Env16,
        MemorySize::FpuEnv28 => Mem::Env32,
        MemorySize::FpuState94 => Mem::Save16,
        MemorySize::FpuState108 => Mem::Save32,
        MemorySize::Fxsave_512Byte => Mem::Fx32,
        MemorySize::Fxsave64_512Byte => Mem::Fx64,
        _ => Mem::M16,
    }
}

/// FOP: the low 3 bits of the D8-DF opcode byte and the ModR/M byte.
fn fop(bytes: &[u8]) -> u16 {
    let mut it = bytes
        .iter()
        .skip_while(|b| matches!(b, 0x26 | 0x2e | 0x36 | 0x3e | 0x40..=0x4f | 0x64..=0x67 | 0x9b | 0xf0 | 0xf2 | 0xf3));
    match (it.next(), it.next()) {
        (Some(op @ 0xd8..=0xdf), Some(modrm)) => ((*op as u16 & 7) << 8) | *modrm as u16,
        _ => 0,
    }
}

fn emit(cx: &mut Ctx, mut op: X87Op) -> Flow {
    op.fop = fop(&cx.bytes[..cx.insn.len()]);
    let addr = if op.mem != Mem::None { cx.address() } else { cx.iconst(Type::I64, 0) };
    let code = cx.iconst(Type::I64, op.encode());
    let ip = cx.iconst(Type::I64, cx.ip());
    call(cx, cx.x.x87, &[code, addr, ip]);
    if op.kind == Kind::Fxrstor {
        return cx.exit(ExitReason::Yield, cx.next_ip());
    }
    Flow::Next
}
