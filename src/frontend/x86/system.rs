//! System and miscellaneous instructions: NOP forms (the hint space 0F 18
//! to 0F 1F with any operand, PREFETCHIT0/1 and the
//! 0F 0D prefetch hints among them, and the hints that run as NOPs on a
//! processor without their feature: CLDEMOTE, RDSSP without shadow stacks,
//! ENDBR), PAUSE, fences, prefetches and cache-line flushes, flag
//! instructions (CLC STC CMC CLD STD LAHF SAHF CLI STI), CPUID RDTSC RDTSCP
//! RDRAND RDSEED (runtime helpers), the FS and GS base instructions, IN OUT
//! (helpers that end the block), and the runtime exits HLT SYSCALL INT3.

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::stack::{rflags, set_rflags};
use crate::machine::flag::{AF, CF, DF, PF, SF, ZF};
use crate::visa::{ExitReason, Imm, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Nop, nop),
    (Mnemonic::Pause, nop),
    (Mnemonic::Endbr64, nop),
    (Mnemonic::Endbr32, nop),
    (Mnemonic::Reservednop, nop),
    (Mnemonic::Cldemote, nop),
    (Mnemonic::Rdsspd, nop),
    (Mnemonic::Rdsspq, nop),
    (Mnemonic::Clflush, flush_line),
    (Mnemonic::Clflushopt, flush_line),
    (Mnemonic::Clwb, flush_line),
    (Mnemonic::Prefetchnta, nop),
    (Mnemonic::Prefetcht0, nop),
    (Mnemonic::Prefetcht1, nop),
    (Mnemonic::Prefetcht2, nop),
    (Mnemonic::Prefetchw, nop),
    (Mnemonic::Prefetch, nop),
    (Mnemonic::Prefetchwt1, nop),
    (Mnemonic::Prefetchit0, nop),
    (Mnemonic::Prefetchit1, nop),
    (Mnemonic::Mfence, fence),
    (Mnemonic::Lfence, fence),
    (Mnemonic::Sfence, fence),
    (Mnemonic::Clc, |cx| set_one(cx, CF, false)),
    (Mnemonic::Stc, |cx| set_one(cx, CF, true)),
    (Mnemonic::Cld, |cx| set_one(cx, DF, false)),
    (Mnemonic::Std, |cx| set_one(cx, DF, true)),
    (Mnemonic::Cmc, cmc),
    (Mnemonic::Lahf, lahf),
    (Mnemonic::Sahf, sahf),
    (Mnemonic::Cli, |cx| interrupt_flag(cx, false)),
    (Mnemonic::Sti, |cx| interrupt_flag(cx, true)),
    (Mnemonic::Cpuid, cpuid),
    (Mnemonic::Rdtsc, |cx| rdtsc(cx, false)),
    (Mnemonic::Rdtscp, |cx| rdtsc(cx, true)),
    (Mnemonic::Rdrand, rdrand),
    (Mnemonic::Rdseed, rdrand),
    (Mnemonic::Rdfsbase, |cx| read_base(cx, true)),
    (Mnemonic::Rdgsbase, |cx| read_base(cx, false)),
    (Mnemonic::Wrfsbase, |cx| write_base(cx, true)),
    (Mnemonic::Wrgsbase, |cx| write_base(cx, false)),
    (Mnemonic::In, port_in),
    (Mnemonic::Out, port_out),
    (Mnemonic::Hlt, |cx| cx.exit(ExitReason::Halt, cx.next_ip())),
    (Mnemonic::Int3, |cx| cx.exit(ExitReason::Breakpoint, cx.next_ip())),
    (Mnemonic::Syscall, syscall),
];

/// RFLAGS.IF.
const IF: u64 = 1 << 9;

fn nop(_: &mut Ctx) -> Flow {
    Flow::Next
}

fn fence(cx: &mut Ctx) -> Flow {
    cx.b.ins(Opcode::Fence, None, Imm::None, &[]);
    Flow::Next
}

/// CLFLUSH, CLFLUSHOPT, CLWB: nothing to write back (guest memory is
/// coherent), but the line's address must be one the program may read, or
/// the instruction faults as a load would.
fn flush_line(cx: &mut Ctx) -> Flow {
    let addr = cx.address();
    cx.load(Type::I8, addr);
    Flow::Next
}

fn base_slot(cx: &Ctx, fs: bool) -> crate::visa::Slot {
    if fs { cx.x.fs_base } else { cx.x.gs_base }
}

/// RDFSBASE, RDGSBASE: the base, truncated to a 32-bit register.
fn read_base(cx: &mut Ctx, fs: bool) -> Flow {
    let reg = cx.insn.op_register(0);
    let base = cx.get(base_slot(cx, fs));
    let v = cx.resize(super::ctx::int_type(reg.size()), base);
    cx.write_gpr(reg, v);
    Flow::Next
}

/// WRFSBASE, WRGSBASE: a 32-bit register is zero-extended; a 64-bit value
/// that is not canonical raises #GP.
fn write_base(cx: &mut Ctx, fs: bool) -> Flow {
    let reg = cx.insn.op_register(0);
    let v = cx.read_gpr(reg);
    let v = cx.resize(Type::I64, v);
    if reg.size() == 8 {
        let k = cx.iconst(Type::I64, 16);
        let up = cx.op(Opcode::Shl, &[v, k]);
        let canonical = cx.op(Opcode::Ashr, &[up, k]);
        let bad = cx.icmp(crate::visa::IntCC::Ne, canonical, v);
        cx.b.trap_if(bad, crate::visa::TrapCode::User(13));
    }
    cx.set(base_slot(cx, fs), v);
    Flow::Next
}

fn set_one(cx: &mut Ctx, f: usize, on: bool) -> Flow {
    cx.set_flag_const(f, on);
    Flow::Next
}

fn cmc(cx: &mut Ctx) -> Flow {
    let c = cx.flag(CF);
    let c = cx.not(c);
    cx.set_flag(CF, c);
    Flow::Next
}

fn lahf(cx: &mut Ctx) -> Flow {
    let f = rflags(cx);
    let low = cx.resize(Type::I8, f);
    cx.write_gpr(Register::AH, low);
    Flow::Next
}

fn sahf(cx: &mut Ctx) -> Flow {
    let ah = cx.read_gpr(Register::AH);
    let v = cx.resize(Type::I64, ah);
    let mask = [CF, PF, AF, ZF, SF].iter().fold(0u64, |m, f| m | 1 << crate::machine::FLAGS[*f].1);
    set_rflags(cx, v, mask);
    Flow::Next
}

fn interrupt_flag(cx: &mut Ctx, on: bool) -> Flow {
    let old = cx.get(cx.x.rflags_rest);
    let new = if on {
        let k = cx.iconst(Type::I64, IF);
        cx.op(Opcode::Or, &[old, k])
    } else {
        let k = cx.iconst(Type::I64, !IF);
        cx.op(Opcode::And, &[old, k])
    };
    cx.set(cx.x.rflags_rest, new);
    Flow::Next
}

/// Calls a helper; cached state is forgotten since it may write any of it.
pub(super) fn call(cx: &mut Ctx, helper: crate::visa::Helper, args: &[Value]) -> Vec<Value> {
    let results = cx.b.ins_multi(Opcode::Call, None, Imm::Helper(helper), args);
    cx.forget_state();
    results
}

fn cpuid(cx: &mut Ctx) -> Flow {
    let leaf = cx.read_gpr(Register::EAX);
    let sub = cx.read_gpr(Register::ECX);
    let model = cx.iconst(Type::I8, cx.mode.model as u64);
    let r = call(cx, cx.x.cpuid, &[leaf, sub, model]);
    for (reg, v) in [Register::EAX, Register::EBX, Register::ECX, Register::EDX].into_iter().zip(r) {
        cx.write_gpr(reg, v);
    }
    Flow::Next
}

fn rdtsc(cx: &mut Ctx, with_aux: bool) -> Flow {
    let r = call(cx, cx.x.rdtsc, &[]);
    let lo = cx.resize(Type::I32, r[0]);
    let k = cx.iconst(Type::I64, 32);
    let hi = cx.op(Opcode::Lshr, &[r[0], k]);
    let hi = cx.resize(Type::I32, hi);
    cx.write_gpr(Register::EAX, lo);
    cx.write_gpr(Register::EDX, hi);
    if with_aux {
        let aux = cx.iconst(Type::I32, 0);
        cx.write_gpr(Register::ECX, aux);
    }
    Flow::Next
}

fn rdrand(cx: &mut Ctx) -> Flow {
    let r = call(cx, cx.x.rdrand, &[]);
    let reg = cx.insn.op_register(0);
    let v = cx.resize(super::ctx::int_type(reg.size()), r[0]);
    cx.write_gpr(reg, v);
    for f in [crate::machine::flag::OF, SF, ZF, AF, PF] {
        cx.set_flag_const(f, false);
    }
    cx.set_flag_const(CF, true);
    Flow::Next
}

/// The port operand (DX or an immediate) as an i16.
fn port(cx: &mut Ctx, i: u32) -> Value {
    match cx.insn.op_kind(i) {
        OpKind::Register => cx.read_gpr(Register::DX),
        _ => cx.iconst(Type::I16, cx.insn.immediate(i) & 0xff),
    }
}

fn port_in(cx: &mut Ctx) -> Flow {
    let reg = cx.insn.op_register(0);
    let p = port(cx, 1);
    let size = cx.iconst(Type::I8, reg.size() as u64);
    let r = call(cx, cx.x.port_in, &[p, size]);
    let v = cx.resize(super::ctx::int_type(reg.size()), r[0]);
    cx.write_gpr(reg, v);
    cx.b.jump(cx.next_ip());
    Flow::End
}

fn port_out(cx: &mut Ctx) -> Flow {
    let reg = cx.insn.op_register(1);
    let p = port(cx, 0);
    let size = cx.iconst(Type::I8, reg.size() as u64);
    let v = cx.read_gpr(reg);
    let v = cx.resize(Type::I32, v);
    call(cx, cx.x.port_out, &[p, size, v]);
    // A device may stop the machine: give the runtime the next boundary.
    cx.b.jump(cx.next_ip());
    Flow::End
}

fn syscall(cx: &mut Ctx) -> Flow {
    let f = rflags(cx);
    let next = cx.iconst(Type::I64, cx.next_ip());
    cx.write_gpr(Register::RCX, next);
    cx.write_gpr(Register::R11, f);
    cx.exit(ExitReason::Syscall, cx.next_ip())
}
