//! The system registers code at CPL 0 changes: MOV to and from CR0 CR2 CR3
//! CR4 CR8 and DR0-DR7, RDMSR and WRMSR (each one call of the `sysreg`
//! helper, `machine::control`, which checks reserved bits), and LGDT and
//! LIDT. At CPL 3 all of them are
//! #GP before they are lifted (`privileged`). A write ends its block: CR4
//! and CR0 decide the mode the next translation is made for.

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::system::call;
use crate::machine::control::{DEBUG, MSR, WRITE};
use crate::visa::{ExitReason, Slot, Type};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Lgdt, |cx| load_table(cx, true)),
    (Mnemonic::Lidt, |cx| load_table(cx, false)),
    (Mnemonic::Rdmsr, |cx| msr(cx, false)),
    (Mnemonic::Wrmsr, |cx| msr(cx, true)),
];

/// Does operand `i` name a control or debug register?
fn system_register(cx: &Ctx, i: u32) -> Option<Register> {
    let reg = (cx.insn.op_kind(i) == OpKind::Register).then(|| cx.insn.op_register(i))?;
    (reg.is_cr() || reg.is_dr()).then_some(reg)
}

/// Is this a MOV to or from a control or debug register?
pub fn is_move(cx: &Ctx) -> bool {
    system_register(cx, 0).is_some() || system_register(cx, 1).is_some()
}

/// MOV to or from CRn or DRn (the MOV family hands these over): always
/// the full 64-bit register in 64-bit mode; the arithmetic flags, which
/// the manual leaves undefined, are kept.
pub fn mov(cx: &mut Ctx) -> Flow {
    if cx.insn.has_lock_prefix() {
        return Flow::Undefined;
    }
    let (reg, write) = match system_register(cx, 0) {
        Some(reg) => (reg, true),
        None => (system_register(cx, 1).expect("a system register operand"), false),
    };
    let op = if reg.is_cr() { reg as u32 - Register::CR0 as u32 } else { (reg as u32 - Register::DR0 as u32) | DEBUG };
    let gpr = cx.insn.op_register(if write { 1 } else { 0 }).full_register();
    if write {
        let v = cx.read_gpr(gpr);
        let op = cx.iconst(Type::I32, (op | WRITE) as u64);
        call(cx, cx.x.sysreg, &[op, v]);
        return cx.exit(ExitReason::Yield, cx.next_ip());
    }
    let op = cx.iconst(Type::I32, op as u64);
    let zero = cx.iconst(Type::I64, 0);
    let r = call(cx, cx.x.sysreg, &[op, zero]);
    cx.write_gpr(gpr, r[0]);
    Flow::Next
}

/// RDMSR or WRMSR: the helper reads ECX and EDX:EAX and writes EDX:EAX
/// (and for WRMSR the MSR's state) itself; WRMSR ends the block.
fn msr(cx: &mut Ctx, write: bool) -> Flow {
    let op = cx.iconst(Type::I32, (MSR | if write { WRITE } else { 0 }) as u64);
    let zero = cx.iconst(Type::I64, 0);
    call(cx, cx.x.sysreg, &[op, zero]);
    if write { cx.exit(ExitReason::Yield, cx.next_ip()) } else { Flow::Next }
}

/// LGDT or LIDT: the 16-bit limit, then the 64-bit base (the operand size
/// is 64 bits in 64-bit mode whatever the prefixes).
fn load_table(cx: &mut Ctx, gdt: bool) -> Flow {
    let (base_slot, limit_slot): (Slot, Slot) =
        if gdt { (cx.x.gdtr_base, cx.x.gdtr_limit) } else { (cx.x.idtr_base, cx.x.idtr_limit) };
    let addr = cx.address();
    let limit = cx.load(Type::I16, addr);
    let at = cx.offset(addr, 2);
    let base = cx.load(Type::I64, at);
    cx.set(limit_slot, limit);
    cx.set(base_slot, base);
    Flow::Next
}
