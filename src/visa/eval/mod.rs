//! The reference semantics of every V-ISA operation that touches neither
//! guest state nor memory, on values held as zero-extended bits in `u128`.
//!
//! This is the executable form of visa-spec: the interpreter runs rare
//! operations through it, constant folding uses it, and the fast paths of
//! both tiers are tested against it.

mod fexc;
mod float;
mod int;
mod vector;

use super::imm::{Imm, TrapCode};
use super::opcodes::Opcode;
use super::types::Type;

pub use fexc::{DE, IE, MASKED, OE, PE, Quick, Report, UE, ZE, ordinary_passes, to_half_flags};
pub use float::{default_nan, fused_negations, quiet};

/// The exception flag bits, in the order of x86's MXCSR and x87 status word.
pub mod flags {
    pub use super::fexc::{DE, IE, OE, PE, UE, ZE};
}

/// All ones in the low `bits` bits.
pub fn mask(bits: u32) -> u128 {
    if bits >= 128 { u128::MAX } else { (1u128 << bits) - 1 }
}

/// Sign-extends the low `bits` bits.
pub fn sext(x: u128, bits: u32) -> i128 {
    let shift = 128 - bits;
    ((x << shift) as i128) >> shift
}

/// The value an atomic operation of `size` bytes stores over `old`: a
/// read-modify-write (`Imm::Atomic`) combines it with `args[1]`; a
/// compare-exchange stores `args[2]` where `old` equals `args[1]`, and
/// `old` again elsewhere.
pub fn atomic_update(imm: &Imm, size: u32, args: &[u128], old: u128) -> u128 {
    use super::imm::AtomicOp;
    let m = mask(size * 8);
    match imm {
        Imm::Atomic(op) => match op {
            AtomicOp::Add => old.wrapping_add(args[1]) & m,
            AtomicOp::Sub => old.wrapping_sub(args[1]) & m,
            AtomicOp::And => old & args[1],
            AtomicOp::Or => old | args[1],
            AtomicOp::Xor => old ^ args[1],
            AtomicOp::Xchg => args[1],
        },
        _ if old == args[1] => args[2],
        _ => old,
    }
}

/// Can `eval` compute this opcode?
pub fn is_evaluable(op: Opcode) -> bool {
    use super::opcodes::Effects;
    let e = op.info().effects;
    !(e.has(Effects::READS_STATE)
        || e.has(Effects::WRITES_STATE)
        || e.has(Effects::READS_MEM)
        || e.has(Effects::WRITES_MEM)
        || e.has(Effects::TERMINATOR)
        || e.has(Effects::MARKER)
        || e.has(Effects::ORDERED))
}

/// Computes the results of one operation. `arg_types` are the operands'
/// types (needed by conversions). Panics on an opcode `is_evaluable` rejects.
pub fn eval(
    op: Opcode,
    ty: Option<Type>,
    imm: &Imm,
    args: &[u128],
    arg_types: &[Type],
    out: &mut [u128],
) -> Result<(), TrapCode> {
    use Opcode::*;
    let t = ty.unwrap_or(Type::I1);
    match op {
        Const => {
            let Imm::Const(bits) = imm else { unreachable!("const without a constant") };
            out[0] = bits.get();
        }
        TrapIf => {
            if args[0] & 1 == 1 {
                let Imm::Trap(code) = imm else { unreachable!("trap_if without a code") };
                return Err(*code);
            }
        }
        Select => out[0] = if args[0] & 1 == 1 { args[1] } else { args[2] },
        Bitcast => out[0] = args[0],
        Iadd | Isub | Imul | Ineg | IaddCarry | IsubBorrow | UmulWide | SmulWide | Udiv | Sdiv | Urem | Srem
        | UdivWide | SdivWide | And | Or | Xor | Not | Shl | Lshr | Ashr | Rotl | Rotr | Icmp | Zext | Sext | Trunc
        | Clz | Ctz | Popcnt | Bswap | Parity => int::eval(op, t, imm, args, arg_types, out)?,
        Fadd | Fsub | Fmul | Fdiv | Fsqrt | Fma | Fms | Fnma | Fnms | Fmin | Fmax | Fneg | Fabs | Fcmp | Fround
        | FcvtToSint | FcvtToUint | FcvtFromSint | FcvtFromUint | Fpromote | Fdemote => {
            float::eval(op, t, imm, args, arg_types, out)
        }
        Fexc1 | Fexc2 | Fexc3 => {
            let Imm::Fexc(kind, round, under, over) = imm else { unreachable!("fexc without its operation") };
            out[0] = fexc::eval(t, *kind, *round, (*under, *over), args, arg_types);
        }
        _ if op.name().starts_with('v') => vector::eval(op, t, imm, args, out),
        _ => panic!("`{}` touches state, memory or control and has no pure semantics", op.name()),
    }
    Ok(())
}
