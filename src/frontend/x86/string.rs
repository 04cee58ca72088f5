//! String instructions: MOVS STOS LODS SCAS CMPS (byte to qword) with
//! REP/REPE/REPNE, DF and the 32-bit address size (ESI/EDI/ECX, wrapping at
//! 4 GiB), a segment override on the source, and XLAT.
//!
//! Blocks are straight-line, so a REP form lifts one iteration and ends the
//! block: it branches back to itself while the count is not zero (and, for
//! SCAS and CMPS, while ZF is as REPE/REPNE want), so every iteration is a
//! precise instruction boundary. A REP form entered with a zero count must do
//! nothing, but nothing in a block is conditional: its accesses then go to
//! guest address 0 (always inside guest memory), a store writes back what it
//! read there, and every register and flag write keeps the old value.

use iced_x86::{Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow, int_type};
use super::flags::set_sub;
use crate::machine::flag::{DF, OF};
use crate::visa::{IntCC, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Movsb, |cx| string(cx, Kind::Movs)),
    (Mnemonic::Movsw, |cx| string(cx, Kind::Movs)),
    (Mnemonic::Movsd, |cx| string(cx, Kind::Movs)),
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
    (Mnemonic::Cmpsd, |cx| string(cx, Kind::Cmps)),
    (Mnemonic::Cmpsq, |cx| string(cx, Kind::Cmps)),
    (Mnemonic::Xlatb, xlat),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Movs,
    Stos,
    Lods,
    Scas,
    Cmps,
}

impl Kind {
    /// Reads the element at [seg:rSI].
    fn reads_source(self) -> bool {
        matches!(self, Kind::Movs | Kind::Lods | Kind::Cmps)
    }

    /// Uses the element at [ES:rDI].
    fn uses_destination(self) -> bool {
        self != Kind::Lods
    }

    /// Writes the element at [ES:rDI].
    fn stores(self) -> bool {
        matches!(self, Kind::Movs | Kind::Stos)
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

/// A value that is `v` when `active` (or unconditionally) and `otherwise` else.
fn guard(cx: &mut Ctx, active: Option<Value>, v: Value, otherwise: Value) -> Value {
    match active {
        Some(c) => cx.select(c, v, otherwise),
        None => v,
    }
}

/// Writes a register, only when `active` if given.
fn write_reg(cx: &mut Ctx, active: Option<Value>, reg: Register, v: Value) {
    match active {
        Some(c) => cx.write_gpr_if(reg, c, v),
        None => cx.write_gpr(reg, v),
    }
}

/// The guest address of a string operand register, with the source's segment base.
fn element_address(cx: &mut Ctx, offset: Value, segment: bool, active: Option<Value>) -> Value {
    let mut addr = cx.resize(Type::I64, offset);
    if segment && let Some(base) = cx.segment_base() {
        addr = cx.op(Opcode::Iadd, &[base, addr]);
    }
    match active {
        Some(c) => {
            let zero = cx.iconst(Type::I64, 0);
            cx.select(c, addr, zero)
        }
        None => addr,
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
    let active = count.map(|n| cx.icmp_imm(IntCC::Ne, n, 0));

    // Every access comes first: they are what may fault.
    let si_val = kind.reads_source().then(|| cx.read_gpr(si));
    let di_val = kind.uses_destination().then(|| cx.read_gpr(di));
    let src = si_val.map(|offset| {
        let addr = element_address(cx, offset, true, active);
        cx.load(ty, addr)
    });
    let dst_addr = di_val.map(|offset| element_address(cx, offset, false, active));
    let dst = match dst_addr {
        Some(addr) if kind.compares() || active.is_some() => Some(cx.load(ty, addr)),
        _ => None,
    };
    if let (true, Some(addr)) = (kind.stores(), dst_addr) {
        let v = match kind {
            Kind::Movs => src.expect("source"),
            _ => cx.read_gpr(acc_reg),
        };
        let v = match dst {
            Some(old) => guard(cx, active, v, old),
            None => v,
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
            write_reg(cx, active, reg, v);
        }
    }
    if kind == Kind::Lods {
        write_reg(cx, active, acc_reg, src.expect("source"));
    }
    let left = count.map(|n| {
        let one = cx.iconst(cx.ty(n), 1);
        let left = cx.op(Opcode::Isub, &[n, one]);
        write_reg(cx, active, count_reg, left);
        left
    });
    let compared = kind.compares().then(|| {
        let (a, b) = match kind {
            Kind::Scas => (cx.read_gpr(acc_reg), dst.expect("destination")),
            _ => (src.expect("source"), dst.expect("destination")),
        };
        let old: Vec<Value> = (0..=OF).map(|f| cx.flag(f)).collect();
        let no_borrow = cx.iconst(Type::I1, 0);
        let r = cx.op_multi(Opcode::IsubBorrow, &[a, b, no_borrow]);
        set_sub(cx, a, b, r[0], r[1], r[2]);
        if let Some(c) = active {
            for (f, old) in old.into_iter().enumerate() {
                let new = cx.flag(f);
                let v = cx.select(c, new, old);
                cx.set_flag(f, v);
            }
        }
        (a, b)
    });

    let (Some(active), Some(left)) = (active, left) else {
        return Flow::Next;
    };
    let mut again = cx.icmp_imm(IntCC::Ne, left, 0);
    again = cx.op(Opcode::And, &[again, active]);
    if let Some((a, b)) = compared {
        let cc = if insn.has_repne_prefix() { IntCC::Ne } else { IntCC::Eq };
        let zf_ok = cx.icmp(cc, a, b);
        again = cx.op(Opcode::And, &[again, zf_ok]);
    }
    cx.b.branch(again, cx.ip(), cx.next_ip());
    Flow::End
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
    let addr = element_address(cx, offset, true, None);
    let v = cx.load(Type::I8, addr);
    cx.write_gpr(Register::AL, v);
    Flow::Next
}
