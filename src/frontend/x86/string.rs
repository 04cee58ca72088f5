//! String instructions: MOVS STOS LODS SCAS CMPS (byte to qword) and the
//! port forms INS OUTS, with REP/REPE/REPNE, DF and the 32-bit address size
//! (ESI/EDI/ECX, wrapping at 4 GiB), a segment override on the source, and
//! XLAT.
//!
//! Blocks are straight-line, so a REP form lifts one iteration and ends the
//! block: it branches back to itself while the count is not zero (and, for
//! SCAS and CMPS, while ZF is as REPE/REPNE want), so every iteration is a
//! precise instruction boundary. Entered with a zero count it does nothing:
//! a side exit (`jump_if`) leaves for the next instruction before any access.

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type};
use super::flags::set_sub;
use crate::machine::flag::DF;
use crate::visa::{IntCC, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Movsb, |cx| string(cx, Kind::Movs)),
    (Mnemonic::Movsw, |cx| string(cx, Kind::Movs)),
    (Mnemonic::Movsd, movsd),
    (Mnemonic::Movsq, |cx| string(cx, Kind::Movs)),
    (Mnemonic::Stosb, |cx| string(cx, Kind::Stos)),
    (Mnemonic::Stosw, |cx| string(cx, Kind::Stos)),
    (Mnemonic::Stosd, |cx| string(cx, Kind::Stos)),
    (Mnemonic::Stosq, |cx| string(cx, Kind::Stos)),
    (Mnemonic::Lodsb, |cx| string(cx, Kind::Lods)),
    (Mnemonic::Lodsw, |cx| string(cx, Kind::Lods)),
    (Mnemonic::Lodsd, |cx| string(cx, Kind::Lods)),
    (Mnemonic::Lodsq, |cx| string(cx, Kind::Lods)),
    (Mnemonic::Scasb, |cx| string(cx, Kind::Scas)),
    (Mnemonic::Scasw, |cx| string(cx, Kind::Scas)),
    (Mnemonic::Scasd, |cx| string(cx, Kind::Scas)),
    (Mnemonic::Scasq, |cx| string(cx, Kind::Scas)),
    (Mnemonic::Cmpsb, |cx| string(cx, Kind::Cmps)),
    (Mnemonic::Cmpsw, |cx| string(cx, Kind::Cmps)),
    (Mnemonic::Cmpsd, cmpsd),
    (Mnemonic::Cmpsq, |cx| string(cx, Kind::Cmps)),
    (Mnemonic::Insb, |cx| string(cx, Kind::Ins)),
    (Mnemonic::Insw, |cx| string(cx, Kind::Ins)),
    (Mnemonic::Insd, |cx| string(cx, Kind::Ins)),
    (Mnemonic::Outsb, |cx| string(cx, Kind::Outs)),
    (Mnemonic::Outsw, |cx| string(cx, Kind::Outs)),
    (Mnemonic::Outsd, |cx| string(cx, Kind::Outs)),
    (Mnemonic::Xlatb, xlat),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Movs,
    Stos,
    Lods,
    Scas,
    Cmps,
    /// Port DX to [ES:rDI].
    Ins,
    /// [seg:rSI] to port DX.
    Outs,
}

impl Kind {
    /// Reads the element at [seg:rSI].
    fn reads_source(self) -> bool {
        matches!(self, Kind::Movs | Kind::Lods | Kind::Cmps | Kind::Outs)
    }

    /// Uses the element at [ES:rDI].
    fn uses_destination(self) -> bool {
        !matches!(self, Kind::Lods | Kind::Outs)
    }

    /// Writes the element at [ES:rDI].
    fn stores(self) -> bool {
        matches!(self, Kind::Movs | Kind::Stos | Kind::Ins)
    }

    /// Talks to an I/O port, so the block ends after it.
    fn port_io(self) -> bool {
        matches!(self, Kind::Ins | Kind::Outs)
    }

    /// Sets the flags of a compare (and REPE/REPNE test ZF).
    fn compares(self) -> bool {
        matches!(self, Kind::Scas | Kind::Cmps)
    }
}

/// The accumulator of a width.
fn accumulator(ty: Type) -> Register {
    match ty {
        Type::I8 => Register::AL,
        Type::I16 => Register::AX,
        Type::I32 => Register::EAX,
        _ => Register::RAX,
    }
}

/// The guest address of a string operand register, with the source's segment base.
fn element_address(cx: &mut Ctx, offset: Value, segment: bool) -> Value {
    let addr = cx.resize(Type::I64, offset);
    match cx.segment_base() {
        Some(base) if segment => cx.op(Opcode::Iadd, &[base, addr]),
        _ => addr,
    }
}

fn string(cx: &mut Ctx, kind: Kind) -> Flow {
    let insn = cx.insn;
    let has = |kinds: [OpKind; 2]| (0..insn.op_count()).any(|i| kinds.contains(&insn.op_kind(i)));
    let is_narrow = has([OpKind::MemorySegESI, OpKind::MemoryESEDI]);
    // MOVSD and CMPSD also name SSE instructions, which are not lifted here.
    if !(is_narrow || has([OpKind::MemorySegRSI, OpKind::MemoryESRDI])) || insn.has_lock_prefix() {
        return Flow::Undefined;
    }
    let (si, di, count_reg) = if is_narrow {
        (Register::ESI, Register::EDI, Register::ECX)
    } else {
        (Register::RSI, Register::RDI, Register::RCX)
    };
    let ty = int_type(insn.memory_size().size());
    let acc_reg = accumulator(ty);
    // F2 on MOVS, STOS and LODS repeats as F3 does.
    let rep = insn.has_rep_prefix() || insn.has_repne_prefix();
    let count = rep.then(|| cx.read_gpr(count_reg));
    if let Some(n) = count {
        let done = cx.icmp_imm(IntCC::Eq, n, 0);
        cx.b.jump_if(done, cx.next_ip());
    }

    // Every access comes first: they are what may fault.
    let si_val = kind.reads_source().then(|| cx.read_gpr(si));
    let di_val = kind.uses_destination().then(|| cx.read_gpr(di));
    let src = si_val.map(|offset| {
        let addr = element_address(cx, offset, true);
        cx.load(ty, addr)
    });
    let dst_addr = di_val.map(|offset| element_address(cx, offset, false));
    // INS reads the destination first so a bad one faults before the port is read.
    let dst = match dst_addr {
        Some(addr) if kind.compares() || kind == Kind::Ins => Some(cx.load(ty, addr)),
        _ => None,
    };
    let port = kind.port_io().then(|| (cx.read_gpr(Register::DX), cx.iconst(Type::I8, ty.bytes() as u64)));
    let from_port = match (kind, port) {
        (Kind::Ins, Some((p, size_v))) => {
            let r = super::system::call(cx, cx.x.port_in, &[p, size_v]);
            Some(cx.resize(ty, r[0]))
        }
        (Kind::Outs, Some((p, size_v))) => {
            let v = cx.resize(Type::I32, src.expect("source"));
            super::system::call(cx, cx.x.port_out, &[p, size_v, v]);
            None
        }
        _ => None,
    };
    if let (true, Some(addr)) = (kind.stores(), dst_addr) {
        let v = match kind {
            Kind::Movs => src.expect("source"),
            Kind::Ins => from_port.expect("port value"),
            _ => cx.read_gpr(acc_reg),
        };
        cx.store(v, addr);
    }

    // Then the registers, then the flags.
    let size = ty.bytes() as u64;
    let step_ty = int_type(si.size());
    let (up, down) = (cx.iconst(step_ty, size), cx.iconst(step_ty, size.wrapping_neg()));
    let df = cx.flag(DF);
    let step = cx.select(df, down, up);
    for (reg, offset) in [(si, si_val), (di, di_val)] {
        if let Some(offset) = offset {
            let v = cx.op(Opcode::Iadd, &[offset, step]);
            cx.write_gpr(reg, v);
        }
    }
    if kind == Kind::Lods {
        cx.write_gpr(acc_reg, src.expect("source"));
    }
    let left = count.map(|n| {
        let one = cx.iconst(cx.ty(n), 1);
        let left = cx.op(Opcode::Isub, &[n, one]);
        cx.write_gpr(count_reg, left);
        left
    });
    let compared = kind.compares().then(|| {
        let (a, b) = match kind {
            Kind::Scas => (cx.read_gpr(acc_reg), dst.expect("destination")),
            _ => (src.expect("source"), dst.expect("destination")),
        };
        let no_borrow = cx.iconst(Type::I1, 0);
        let r = cx.op_multi(Opcode::IsubBorrow, &[a, b, no_borrow]);
        set_sub(cx, a, b, r[0], r[1], r[2]);
        (a, b)
    });

    let Some(left) = left else {
        if kind.port_io() {
            // A device may stop the machine: give the runtime the next boundary.
            cx.b.jump(cx.next_ip());
            return Flow::End;
        }
        return Flow::Next;
    };
    let mut again = cx.icmp_imm(IntCC::Ne, left, 0);
    if let Some((a, b)) = compared {
        let cc = if insn.has_repne_prefix() { IntCC::Ne } else { IntCC::Eq };
        let zf_ok = cx.icmp(cc, a, b);
        again = cx.op(Opcode::And, &[again, zf_ok]);
    }
    cx.b.branch(again, cx.ip(), cx.next_ip());
    Flow::End
}

/// MOVSD also names SSE2's scalar double move, which has an XMM register
/// operand: `sse_move` lifts that one.
fn movsd(cx: &mut Ctx) -> Flow {
    let insn = cx.insn;
    if (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Register) {
        return super::sse_move::movsd(cx);
    }
    string(cx, Kind::Movs)
}

/// CMPSD also names SSE2's scalar double compare, which has XMM register
/// operands: `sse_float` lifts that one.
fn cmpsd(cx: &mut Ctx) -> Flow {
    if cx.insn.op0_kind() == OpKind::Register {
        return super::sse_float::cmpsd(cx);
    }
    string(cx, Kind::Cmps)
}

/// XLAT: AL = [seg:rBX + AL], the sum wrapping at the address size.
fn xlat(cx: &mut Ctx) -> Flow {
    if cx.insn.has_lock_prefix() {
        return Flow::Undefined;
    }
    let base = cx.read_gpr(cx.insn.memory_base());
    let al = cx.read_gpr(Register::AL);
    let index = cx.resize(cx.ty(base), al);
    let offset = cx.op(Opcode::Iadd, &[base, index]);
    let addr = element_address(cx, offset, true);
    let v = cx.load(Type::I8, addr);
    cx.write_gpr(Register::AL, v);
    Flow::Next
}
