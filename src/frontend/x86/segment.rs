//! Segments in 64-bit mode: MOV to and from a segment register, PUSH and
//! POP of FS and GS, far JMP
//! and CALL through memory (m16:16, m16:32, m16:64), IRET in each operand
//! size, and the descriptor-table reads SMSW, SGDT and SIDT. Selectors are
//! checked by the `segment` runtime helper against the descriptor tables
//! the system presents (`machine::segments`); a far transfer stays at the
//! current privilege level (no table has code a transfer could change it
//! with), so the translation mode never changes under a block.

use iced_x86::{MemorySize, Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type};
use super::stack::{push, set_rflags};
use super::system::call;
use crate::machine::segments::Load;
use crate::visa::{Opcode, TrapCode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Smsw, smsw),
    (Mnemonic::Sgdt, |cx| store_table(cx, 0)),
    (Mnemonic::Sidt, |cx| store_table(cx, 1)),
    (Mnemonic::Iret, |cx| iret(cx, 2)),
    (Mnemonic::Iretd, |cx| iret(cx, 4)),
    (Mnemonic::Iretq, |cx| iret(cx, 8)),
];

const RSP: usize = 4;

/// RFLAGS bits IRET restores at CPL 3 (IOPL 0): CF PF AF ZF SF DF OF NT RF
/// AC ID; at CPL 0 also IF, IOPL, VIF and VIP. TF is kept, as POPF keeps
/// it: single-stepping is not modelled.
const IRET_USER_MASK: u64 = 0x0025_4cd5;
const IRET_KERNEL_MASK: u64 = IRET_USER_MASK | 0x0018_3200;

/// RFLAGS.NT: IRET in 64-bit mode raises #GP while it is set.
const NT: u32 = 14;

fn cpl(cx: &Ctx) -> u64 {
    if cx.mode.user { 3 } else { 0 }
}

fn seg_index(reg: Register) -> usize {
    reg as usize - Register::ES as usize
}

/// The selector a segment register gets for `load` (or the fault).
fn load_segment(cx: &mut Ctx, load: Load, selector: Value) -> Value {
    let kind = cx.iconst(Type::I8, load as u64);
    let cpl = cx.iconst(Type::I8, cpl(cx));
    call(cx, cx.x.segment, &[kind, selector, cpl])[0]
}

/// Writes a selector or CR0 to operand 0: a register gets it
/// zero-extended or truncated to its size (a selector fills 32-bit
/// registers as processors since the Pentium Pro do), memory 16 bits (the
/// value is an i16 then).
fn write_word(cx: &mut Ctx, v: Value) {
    match cx.insn.op_kind(0) {
        OpKind::Register => {
            let reg = cx.insn.op0_register();
            let v = cx.resize(int_type(reg.size()), v);
            cx.write_gpr(reg, v);
        }
        _ => {
            let addr = cx.address();
            cx.store(v, addr);
        }
    }
}

/// Loads `selector` into the segment register `sreg` (not CS), checked
/// as a data or stack segment. A load of FS or GS gives it its
/// descriptor's base, 0 for every descriptor, and 0 for a null selector
/// too, as Intel processors do (AMD's leave the base unchanged).
fn load_sreg(cx: &mut Ctx, sreg: Register, selector: Value) {
    let load = if sreg == Register::SS { Load::Stack } else { Load::Data };
    let selector = load_segment(cx, load, selector);
    cx.set(cx.x.seg[seg_index(sreg)], selector);
    let base = match sreg {
        Register::FS => Some(cx.x.fs_base),
        Register::GS => Some(cx.x.gs_base),
        _ => None,
    };
    if let Some(slot) = base {
        let zero = cx.iconst(Type::I64, 0);
        cx.set(slot, zero);
    }
}

/// MOV with a segment register (the MOV family hands these over); MOV to
/// CS is #UD.
pub fn mov(cx: &mut Ctx) -> Flow {
    let dst = (cx.insn.op_kind(0) == OpKind::Register).then(|| cx.insn.op0_register());
    match dst {
        Some(sreg) if sreg.is_segment_register() => {
            if sreg == Register::CS {
                return Flow::Undefined;
            }
            let v = cx.read_operand(1);
            let selector = cx.resize(Type::I16, v);
            load_sreg(cx, sreg, selector);
        }
        _ => {
            let v = cx.get(cx.x.seg[seg_index(cx.insn.op_register(1))]);
            write_word(cx, v);
        }
    }
    Flow::Next
}

/// The stack slot size of PUSH or POP of FS or GS: 8 bytes, or 2 with the
/// operand-size prefix.
fn stack_size(cx: &Ctx) -> usize {
    cx.insn.stack_pointer_increment().unsigned_abs() as usize
}

/// PUSH FS or GS (the only segment pushes 64-bit mode has): the selector
/// zero-extended to the operand size.
pub fn push_sreg(cx: &mut Ctx) -> Flow {
    let v = cx.get(cx.x.seg[seg_index(cx.insn.op0_register())]);
    let v = cx.resize(int_type(stack_size(cx)), v);
    push(cx, v);
    Flow::Next
}

/// POP FS or GS: the selector is the low 16 bits of the popped slot,
/// loaded as MOV loads it; RSP moves only once the load is accepted.
pub fn pop_sreg(cx: &mut Ctx) -> Flow {
    let size = stack_size(cx);
    let rsp = cx.read_gpr64(RSP);
    let v = cx.load(int_type(size), rsp);
    let selector = cx.resize(Type::I16, v);
    load_sreg(cx, cx.insn.op0_register(), selector);
    let new = cx.offset(rsp, size as i64);
    cx.write_gpr64(RSP, new);
    Flow::Next
}

/// SMSW: CR0 (the whole register into a 32- or 64-bit one). In user
/// mode it is Linux that answers (UMIP makes the instruction fault, and
/// the kernel emulates it): a 32-bit register gets its low half written
/// and keeps its high half.
fn smsw(cx: &mut Ctx) -> Flow {
    let cr0 = cx.get(cx.x.cr0);
    let v = if cx.is_memory(0) { cx.resize(Type::I16, cr0) } else { cr0 };
    if cx.mode.user && cx.insn.op_kind(0) == OpKind::Register && cx.insn.op0_register().size() == 4 {
        let full = cx.insn.op0_register().full_register();
        let old = cx.read_gpr(full);
        let high = cx.iconst(Type::I64, !0xffff_ffff);
        let high = cx.op(Opcode::And, &[old, high]);
        let low = cx.resize(Type::I32, v);
        let low = cx.resize(Type::I64, low);
        let merged = cx.op(Opcode::Or, &[high, low]);
        cx.write_gpr(full, merged);
    } else {
        write_word(cx, v);
    }
    Flow::Next
}

/// SGDT (0), SIDT (1): the 16-bit limit, then the 64-bit base.
fn store_table(cx: &mut Ctx, which: u64) -> Flow {
    let which = cx.iconst(Type::I8, which);
    let r = call(cx, cx.x.descriptor_table, &[which]);
    let addr = cx.address();
    cx.store(r[1], addr);
    let at = cx.offset(addr, 2);
    cx.store(r[0], at);
    Flow::Next
}

/// IRET of `size`-byte words: pops RIP, CS, RFLAGS, RSP and SS (in 64-bit
/// mode always all five), checks both selectors, then commits.
fn iret(cx: &mut Ctx, size: usize) -> Flow {
    let rest = cx.get(cx.x.rflags_rest);
    let nt = cx.bit(rest, NT);
    cx.b.trap_if(nt, TrapCode::User(13));
    let ty = int_type(size);
    let rsp = cx.read_gpr64(RSP);
    let words: Vec<Value> = (0..5)
        .map(|i| {
            let at = cx.offset(rsp, (i * size) as i64);
            cx.load(ty, at)
        })
        .collect();
    let cs = cx.resize(Type::I16, words[1]);
    let cs = load_segment(cx, Load::ReturnCode, cs);
    let ss = cx.resize(Type::I16, words[4]);
    let ss = load_segment(cx, Load::Stack, ss);
    let mask = if cx.mode.user { IRET_USER_MASK } else { IRET_KERNEL_MASK };
    let flags = cx.resize(Type::I64, words[2]);
    set_rflags(cx, flags, mask & (u64::MAX >> (64 - 8 * size)));
    cx.set(cx.x.seg[1], cs);
    cx.set(cx.x.seg[2], ss);
    let new_rsp = cx.resize(Type::I64, words[3]);
    cx.write_gpr64(RSP, new_rsp);
    let target = cx.resize(Type::I64, words[0]);
    cx.b.jump_ind(target);
    Flow::End
}

/// Far JMP or CALL through memory: the offset, then the selector. CALL
/// pushes CS (zero-extended) and the return address, each of the offset's
/// size.
pub fn far(cx: &mut Ctx, is_call: bool) -> Flow {
    let size = match cx.insn.memory_size() {
        MemorySize::SegPtr16 => 2,
        MemorySize::SegPtr32 => 4,
        _ => 8,
    };
    let ty = int_type(size);
    let addr = cx.address();
    let offset = cx.load(ty, addr);
    let at = cx.offset(addr, size as i64);
    let selector = cx.load(Type::I16, at);
    let cs = load_segment(cx, Load::FarCode, selector);
    if is_call {
        let old = cx.get(cx.x.seg[1]);
        let old = cx.resize(ty, old);
        push(cx, old);
        let ret = cx.iconst(ty, cx.next_ip());
        push(cx, ret);
    }
    cx.set(cx.x.seg[1], cs);
    let target = cx.resize(Type::I64, offset);
    cx.b.jump_ind(target);
    Flow::End
}
