//! Bit instructions: BT BTS BTR BTC (LOCK forms atomic), BSF BSR, LZCNT
//! TZCNT POPCNT, the BMI1/BMI2 forms ANDN BLSI BLSR BLSMSK BEXTR BZHI PDEP
//! PEXT SARX SHLX SHRX RORX MULX, and the ADX forms ADCX ADOX.
//!
//! Flags the manual leaves undefined are left unchanged, except where a
//! shared flag helper sets them anyway.

use iced_x86::{EncodingKind, Mnemonic, OpKind, Register};

use super::LiftFn;
use super::ctx::{Ctx, Flow};
use super::flags::{set_logic, set_szp};
use crate::machine::flag::{AF, CF, OF, PF, SF, ZF};
use crate::visa::{AtomicOp, Imm, IntCC, Opcode, Type, Value};

pub const TABLE: &[(Mnemonic, LiftFn)] = &[
    (Mnemonic::Bt, |cx| bit_test(cx, None)),
    (Mnemonic::Bts, |cx| bit_test(cx, Some(AtomicOp::Or))),
    (Mnemonic::Btr, |cx| bit_test(cx, Some(AtomicOp::And))),
    (Mnemonic::Btc, |cx| bit_test(cx, Some(AtomicOp::Xor))),
    (Mnemonic::Bsf, |cx| scan(cx, Opcode::Ctz)),
    (Mnemonic::Bsr, |cx| scan(cx, Opcode::Clz)),
    (Mnemonic::Tzcnt, |cx| count(cx, Opcode::Ctz)),
    (Mnemonic::Lzcnt, |cx| count(cx, Opcode::Clz)),
    (Mnemonic::Popcnt, |cx| count(cx, Opcode::Popcnt)),
    (Mnemonic::Andn, andn),
    (Mnemonic::Blsi, |cx| lowest_set(cx, Opcode::Ineg, Opcode::And)),
    (Mnemonic::Blsr, |cx| lowest_set(cx, Opcode::Isub, Opcode::And)),
    (Mnemonic::Blsmsk, |cx| lowest_set(cx, Opcode::Isub, Opcode::Xor)),
    (Mnemonic::Bextr, bextr),
    (Mnemonic::Bzhi, bzhi),
    (Mnemonic::Pdep, |cx| deposit_extract(cx, true)),
    (Mnemonic::Pext, |cx| deposit_extract(cx, false)),
    (Mnemonic::Sarx, |cx| shift_x(cx, Opcode::Ashr)),
    (Mnemonic::Shlx, |cx| shift_x(cx, Opcode::Shl)),
    (Mnemonic::Shrx, |cx| shift_x(cx, Opcode::Lshr)),
    (Mnemonic::Rorx, |cx| shift_x(cx, Opcode::Rotr)),
    (Mnemonic::Mulx, mulx),
    (Mnemonic::Adcx, |cx| add_carry(cx, CF)),
    (Mnemonic::Adox, |cx| add_carry(cx, OF)),
];

/// #UD: LOCK anywhere but on the memory destination of a lockable form, and
/// the XOP (TBM) form of BEXTR, which CPUID does not report.
fn undefined(cx: &Ctx, lockable: bool) -> bool {
    (cx.insn.has_lock_prefix() && !(lockable && cx.is_memory(0))) || cx.insn.encoding() == EncodingKind::XOP
}

/// The linear address of the operand-sized unit holding bit `offset` (a
/// signed register bit offset) of the memory operand: the effective address
/// plus `(offset >> 3)` rounded down to the operand size, in the address
/// size, then the segment base.
fn bit_address(cx: &mut Ctx, offset: Value, bytes: u32) -> Value {
    let insn = cx.insn;
    let seg = insn.memory_segment();
    let mut plain = insn;
    plain.set_segment_prefix(Register::None);
    cx.insn = plain;
    let ea = cx.address();
    cx.insn = insn;
    let wide = cx.sext(Type::I64, offset);
    let three = cx.iconst(Type::I64, 3);
    let byte = cx.op(Opcode::Ashr, &[wide, three]);
    let align = cx.iconst(Type::I64, !(bytes as u64 - 1));
    let delta = cx.op(Opcode::And, &[byte, align]);
    let mut addr = cx.op(Opcode::Iadd, &[ea, delta]);
    let narrow = [insn.memory_base(), insn.memory_index()].iter().any(|r| r.size() == 4);
    if narrow {
        let low = cx.resize(Type::I32, addr);
        addr = cx.resize(Type::I64, low);
    }
    let base = match seg {
        Register::FS => cx.x.fs_base,
        Register::GS => cx.x.gs_base,
        _ => return addr,
    };
    let base = cx.get(base);
    cx.op(Opcode::Iadd, &[base, addr])
}

/// BT, and BTS BTR BTC as the atomic operation that applies their mask
/// (`or` with it, `and` with its complement, `xor` with it).
fn bit_test(cx: &mut Ctx, write: Option<AtomicOp>) -> Flow {
    if undefined(cx, write.is_some()) {
        return Flow::Undefined;
    }
    let ty = cx.operand_type(0);
    // Shift counts are taken modulo the width: the offset needs no masking.
    let offset = cx.read_operand(1);
    let one = cx.iconst(ty, 1);
    let bit = cx.op(Opcode::Shl, &[one, offset]);
    let operand = match write {
        Some(AtomicOp::And) => cx.not(bit),
        _ => bit,
    };
    let addr = match cx.insn.op_kind(0) {
        OpKind::Memory if cx.insn.op_kind(1) == OpKind::Register => Some(bit_address(cx, offset, ty.bytes())),
        OpKind::Memory => Some(cx.address()),
        _ => None,
    };
    let old = match (write, addr) {
        (Some(op), Some(addr)) if cx.insn.has_lock_prefix() => {
            cx.b.ins(Opcode::AtomicRmw, Some(ty), Imm::Atomic(op), &[addr, operand])
        }
        (_, Some(addr)) => cx.load(ty, addr),
        (_, None) => cx.read_operand(0),
    };
    if let (Some(op), false) = (write, cx.insn.has_lock_prefix()) {
        let opcode = match op {
            AtomicOp::Or => Opcode::Or,
            AtomicOp::And => Opcode::And,
            _ => Opcode::Xor,
        };
        let new = cx.op(opcode, &[old, operand]);
        match addr {
            Some(addr) => cx.store(new, addr),
            None => cx.write_operand(0, new),
        }
    }
    let shifted = cx.op(Opcode::Lshr, &[old, offset]);
    let cf = cx.resize(Type::I1, shifted);
    cx.set_flag(CF, cf);
    Flow::Next
}

/// BSF (`ctz`) and BSR (`clz`): ZF=1 and the destination kept, all 64 bits
/// of it, when the source is 0.
fn scan(cx: &mut Ctx, op: Opcode) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let ty = cx.ty(src);
    let zero = cx.icmp_imm(IntCC::Eq, src, 0);
    let mut n = cx.op(op, &[src]);
    if op == Opcode::Clz {
        let last = cx.iconst(ty, ty.bits() as u64 - 1);
        n = cx.op(Opcode::Isub, &[last, n]);
    }
    // A kept 32-bit destination keeps its upper half too: write all 64 bits.
    let reg = cx.insn.op_register(0);
    let (reg, n) = match reg.size() {
        4 => (reg.full_register(), cx.resize(Type::I64, n)),
        _ => (reg, n),
    };
    let old = cx.read_gpr(reg);
    let v = cx.select(zero, old, n);
    cx.write_gpr(reg, v);
    cx.set_flag(ZF, zero);
    Flow::Next
}

/// LZCNT TZCNT (CF: source 0, ZF: result 0) and POPCNT (ZF: source 0,
/// the other five cleared).
fn count(cx: &mut Ctx, op: Opcode) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let r = cx.op(op, &[src]);
    cx.write_operand(0, r);
    let src_zero = cx.icmp_imm(IntCC::Eq, src, 0);
    if op == Opcode::Popcnt {
        for f in [CF, PF, AF, SF, OF] {
            cx.set_flag_const(f, false);
        }
        cx.set_flag(ZF, src_zero);
    } else {
        let r_zero = cx.icmp_imm(IntCC::Eq, r, 0);
        cx.set_flag(CF, src_zero);
        cx.set_flag(ZF, r_zero);
    }
    Flow::Next
}

fn andn(cx: &mut Ctx) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let a = cx.read_operand(1);
    let b = cx.read_operand(2);
    let na = cx.not(a);
    let r = cx.op(Opcode::And, &[na, b]);
    cx.write_operand(0, r);
    set_logic(cx, r);
    Flow::Next
}

/// BLSI (`-src & src`), BLSR (`(src - 1) & src`), BLSMSK (`(src - 1) ^ src`):
/// SF ZF of the result, OF=0, CF set when the source is nonzero for BLSI,
/// zero for the others.
fn lowest_set(cx: &mut Ctx, step: Opcode, combine: Opcode) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let ty = cx.ty(src);
    let t = if step == Opcode::Ineg {
        cx.op(Opcode::Ineg, &[src])
    } else {
        let one = cx.iconst(ty, 1);
        cx.op(Opcode::Isub, &[src, one])
    };
    let r = cx.op(combine, &[t, src]);
    cx.write_operand(0, r);
    let cc = if step == Opcode::Ineg { IntCC::Ne } else { IntCC::Eq };
    let carry = cx.icmp_imm(cc, src, 0);
    set_szp(cx, r);
    cx.set_flag(CF, carry);
    cx.set_flag_const(OF, false);
    Flow::Next
}

/// `v` when `n` (an operand-typed bit count) is below the width, else `other`.
fn below_width(cx: &mut Ctx, n: Value, v: Value, other: Value) -> Value {
    let ty = cx.ty(n);
    let inside = cx.icmp_imm(IntCC::Ult, n, ty.bits() as u64);
    cx.select(inside, v, other)
}

/// Bits `[start, start + len)` of the source, bits past the operand read as
/// 0: ZF of the result, CF=OF=0.
fn bextr(cx: &mut Ctx) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let ctl = cx.read_operand(2);
    let ty = cx.ty(src);
    let byte = cx.iconst(ty, 0xff);
    let start = cx.op(Opcode::And, &[ctl, byte]);
    let eight = cx.iconst(ty, 8);
    let len = cx.op(Opcode::Lshr, &[ctl, eight]);
    let len = cx.op(Opcode::And, &[len, byte]);
    let zero = cx.iconst(ty, 0);
    let shifted = cx.op(Opcode::Lshr, &[src, start]);
    let shifted = below_width(cx, start, shifted, zero);
    let ones = cx.iconst(ty, u64::MAX);
    let high = cx.op(Opcode::Shl, &[ones, len]);
    let keep = cx.not(high);
    let keep = below_width(cx, len, keep, ones);
    let r = cx.op(Opcode::And, &[shifted, keep]);
    cx.write_operand(0, r);
    let z = cx.icmp_imm(IntCC::Eq, r, 0);
    cx.set_flag(ZF, z);
    cx.set_flag_const(CF, false);
    cx.set_flag_const(OF, false);
    Flow::Next
}

/// The source with bits from index `n = op2[7:0]` up cleared: SF ZF of the
/// result, CF when `n` is past the last bit, OF=0.
fn bzhi(cx: &mut Ctx) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let idx = cx.read_operand(2);
    let ty = cx.ty(src);
    let byte = cx.iconst(ty, 0xff);
    let n = cx.op(Opcode::And, &[idx, byte]);
    let ones = cx.iconst(ty, u64::MAX);
    let high = cx.op(Opcode::Shl, &[ones, n]);
    let keep = cx.not(high);
    let cleared = cx.op(Opcode::And, &[src, keep]);
    let r = below_width(cx, n, cleared, src);
    cx.write_operand(0, r);
    let past = cx.icmp_imm(IntCC::Uge, n, ty.bits() as u64);
    set_szp(cx, r);
    cx.set_flag(CF, past);
    cx.set_flag_const(OF, false);
    Flow::Next
}

/// SARX SHLX SHRX (count in a register) and RORX (count immediate), the
/// count modulo the width; no flags.
fn shift_x(cx: &mut Ctx, op: Opcode) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(1);
    let n = cx.read_operand(2);
    let r = cx.op(op, &[src, n]);
    cx.write_operand(0, r);
    Flow::Next
}

/// EDX/RDX times the source: the low half to operand 1, then the high half
/// to operand 0 (which wins when both name one register); no flags.
fn mulx(cx: &mut Ctx) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let src = cx.read_operand(2);
    let rdx = cx.read_gpr64(2);
    let d = cx.resize(cx.ty(src), rdx);
    let r = cx.op_multi(Opcode::UmulWide, &[d, src]);
    cx.write_operand(1, r[0]);
    cx.write_operand(0, r[1]);
    Flow::Next
}

/// ADCX (carry in and out through CF) and ADOX (through OF); no other flag.
fn add_carry(cx: &mut Ctx, flag: usize) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let b = cx.read_operand(1);
    let a = cx.read_operand(0);
    let c = cx.flag(flag);
    let r = cx.op_multi(Opcode::IaddCarry, &[a, b, c]);
    cx.write_operand(0, r[0]);
    cx.set_flag(flag, r[1]);
    Flow::Next
}

/// PDEP and PEXT, after Hacker's Delight (7-4, 7-5): log2(width) rounds
/// move each mask bit right past the zeros below it, by 1, 2, 4... places;
/// PEXT applies the rounds to the source in order, PDEP undoes them in
/// reverse. About 140 operations at 64 bits; no flags.
fn deposit_extract(cx: &mut Ctx, deposit: bool) -> Flow {
    if undefined(cx, false) {
        return Flow::Undefined;
    }
    let x = cx.read_operand(1);
    let m0 = cx.read_operand(2);
    let ty = cx.ty(x);
    let rounds = ty.bits().trailing_zeros() as usize;
    let shifts: Vec<Value> = (0..rounds).map(|i| cx.iconst(ty, 1 << i)).collect();
    // mk marks the zeros of the mask, shifted to count those to each bit's right.
    let mut m = m0;
    let not_m = cx.not(m);
    let mut mk = cx.op(Opcode::Shl, &[not_m, shifts[0]]);
    let mut moves = Vec::with_capacity(rounds);
    for (i, &by) in shifts.iter().enumerate() {
        // mp: parity of the zeros to the right of each bit (a prefix xor).
        let mut mp = mk;
        for &k in &shifts {
            let s = cx.op(Opcode::Shl, &[mp, k]);
            mp = cx.op(Opcode::Xor, &[mp, s]);
        }
        let mv = cx.op(Opcode::And, &[mp, m]);
        moves.push(mv);
        if i + 1 < rounds {
            let stay = cx.op(Opcode::Xor, &[m, mv]);
            let moved = cx.op(Opcode::Lshr, &[mv, by]);
            m = cx.op(Opcode::Or, &[stay, moved]);
            let not_mp = cx.not(mp);
            mk = cx.op(Opcode::And, &[mk, not_mp]);
        }
    }
    let r = if deposit {
        let mut x = x;
        for (mv, &by) in moves.iter().zip(&shifts).rev() {
            let t = cx.op(Opcode::Shl, &[x, by]);
            let not_mv = cx.not(*mv);
            let stay = cx.op(Opcode::And, &[x, not_mv]);
            let moved = cx.op(Opcode::And, &[t, *mv]);
            x = cx.op(Opcode::Or, &[stay, moved]);
        }
        cx.op(Opcode::And, &[x, m0])
    } else {
        let mut x = cx.op(Opcode::And, &[x, m0]);
        for (mv, &by) in moves.iter().zip(&shifts) {
            let t = cx.op(Opcode::And, &[x, *mv]);
            let stay = cx.op(Opcode::Xor, &[x, t]);
            let moved = cx.op(Opcode::Lshr, &[t, by]);
            x = cx.op(Opcode::Or, &[stay, moved]);
        }
        x
    };
    cx.write_operand(0, r);
    Flow::Next
}
