//! The XSAVE feature set: XGETBV, XSETBV, XSAVE, XSAVEOPT, XSAVEC, XRSTOR,
//! and the supervisor XSAVES and XRSTORS (#GP at CPL 3), and their 64-bit
//! forms, each one call of the runtime helper
//! `xsave(op, addr)` (`machine::xsave`), which raises #UD while CR4.OSXSAVE
//! is clear. XRSTOR, XRSTORS and XSETBV end their block: they change MXCSR or XCR0,
//! which the next block's mode depends on.

use iced_x86::Mnemonic;

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::system::call;
use crate::machine::xsave::{Kind, XOp};
use crate::visa::{ExitReason, Type};

pub const TABLE: &[(Mnemonic, LiftFn)] = {
    use Mnemonic::*;
    &[
        (Xgetbv, |cx| lift(cx, Kind::Xgetbv, false)),
        (Xsetbv, |cx| lift(cx, Kind::Xsetbv, false)),
        (Xsave, |cx| lift(cx, Kind::Xsave, false)),
        (Xsave64, |cx| lift(cx, Kind::Xsave, true)),
        (Xsaveopt, |cx| lift(cx, Kind::Xsaveopt, false)),
        (Xsaveopt64, |cx| lift(cx, Kind::Xsaveopt, true)),
        (Xsavec, |cx| lift(cx, Kind::Xsavec, false)),
        (Xsavec64, |cx| lift(cx, Kind::Xsavec, true)),
        (Xrstor, |cx| lift(cx, Kind::Xrstor, false)),
        (Xrstor64, |cx| lift(cx, Kind::Xrstor, true)),
        (Xsaves, |cx| lift(cx, Kind::Xsaves, false)),
        (Xsaves64, |cx| lift(cx, Kind::Xsaves, true)),
        (Xrstors, |cx| lift(cx, Kind::Xrstors, false)),
        (Xrstors64, |cx| lift(cx, Kind::Xrstors, true)),
    ]
};

fn lift(cx: &mut Ctx, kind: Kind, wide: bool) -> Flow {
    let addr = if cx.insn.op_count() > 0 && cx.is_memory(0) { cx.address() } else { cx.iconst(Type::I64, 0) };
    let op = cx.iconst(Type::I64, XOp { kind, wide }.encode());
    call(cx, cx.x.xsave, &[op, addr]);
    match kind {
        Kind::Xrstor | Kind::Xrstors | Kind::Xsetbv => cx.exit(ExitReason::Yield, cx.next_ip()),
        _ => Flow::Next,
    }
}
