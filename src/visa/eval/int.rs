//! Integer semantics.

use super::{mask, sext};
use crate::visa::imm::{Imm, IntCC, TrapCode};
use crate::visa::opcodes::Opcode;
use crate::visa::types::Type;

pub fn icmp(cc: IntCC, a: u128, b: u128, bits: u32) -> bool {
    let (sa, sb) = (sext(a, bits), sext(b, bits));
    match cc {
        IntCC::Eq => a == b,
        IntCC::Ne => a != b,
        IntCC::Slt => sa < sb,
        IntCC::Sle => sa <= sb,
        IntCC::Sgt => sa > sb,
        IntCC::Sge => sa >= sb,
        IntCC::Ult => a < b,
        IntCC::Ule => a <= b,
        IntCC::Ugt => a > b,
        IntCC::Uge => a >= b,
    }
}

fn sign(x: u128, bits: u32) -> bool {
    (x >> (bits - 1)) & 1 == 1
}

pub fn eval(
    op: Opcode,
    t: Type,
    imm: &Imm,
    args: &[u128],
    arg_types: &[Type],
    out: &mut [u128],
) -> Result<(), TrapCode> {
    use Opcode::*;
    let w = t.bits();
    let m = mask(w);
    let a = args.first().copied().unwrap_or(0);
    let b = args.get(1).copied().unwrap_or(0);
    let amount = || (b % w as u128) as u32;
    out[0] = match op {
        Iadd => a.wrapping_add(b) & m,
        Isub => a.wrapping_sub(b) & m,
        Imul => a.wrapping_mul(b) & m,
        Ineg => a.wrapping_neg() & m,
        IaddCarry => {
            let cin = args[2] & 1;
            let (s1, c1) = a.overflowing_add(b);
            let (s2, c2) = s1.overflowing_add(cin);
            let r = s2 & m;
            out[1] = if w == 128 { (c1 | c2) as u128 } else { (s2 >> w) & 1 };
            out[2] = (sign(a, w) == sign(b, w) && sign(r, w) != sign(a, w)) as u128;
            r
        }
        IsubBorrow => {
            let bin = args[2] & 1;
            let r = a.wrapping_sub(b).wrapping_sub(bin) & m;
            out[1] = (a < b || (bin == 1 && a == b)) as u128;
            out[2] = (sign(a, w) != sign(b, w) && sign(r, w) != sign(a, w)) as u128;
            r
        }
        UmulWide => {
            let p = a * b;
            out[1] = (p >> w) & m;
            p & m
        }
        SmulWide => {
            let p = (sext(a, w) * sext(b, w)) as u128;
            out[1] = (p >> w) & m;
            p & m
        }
        Udiv | Urem => {
            if b == 0 {
                return Err(TrapCode::DivByZero);
            }
            if op == Udiv { a / b } else { a % b }
        }
        Sdiv | Srem => {
            let (sa, sb) = (sext(a, w), sext(b, w));
            if sb == 0 {
                return Err(TrapCode::DivByZero);
            }
            if sb == -1 && sa == sext(1 << (w - 1), w) {
                return Err(TrapCode::DivOverflow);
            }
            (if op == Sdiv { sa / sb } else { sa % sb }) as u128 & m
        }
        UdivWide => {
            let d = args[2];
            if d == 0 {
                return Err(TrapCode::DivByZero);
            }
            let n = (a << w) | b;
            let q = n / d;
            if q > m {
                return Err(TrapCode::DivOverflow);
            }
            out[1] = n % d;
            q
        }
        SdivWide => {
            let d = sext(args[2], w);
            if d == 0 {
                return Err(TrapCode::DivByZero);
            }
            let n = sext((a << w) | b, 2 * w);
            let q = n.checked_div(d).ok_or(TrapCode::DivOverflow)?;
            if q != sext(q as u128 & m, w) {
                return Err(TrapCode::DivOverflow);
            }
            out[1] = (n % d) as u128 & m;
            q as u128 & m
        }
        And => a & b,
        Or => a | b,
        Xor => a ^ b,
        Not => !a & m,
        Shl => (a << amount()) & m,
        Lshr => a >> amount(),
        Ashr => (sext(a, w) >> amount()) as u128 & m,
        Rotl | Rotr => {
            let n = if op == Rotl { amount() } else { (w - amount()) % w };
            if n == 0 { a } else { ((a << n) | (a >> (w - n))) & m }
        }
        Icmp => {
            let Imm::IntCC(cc) = imm else { unreachable!("icmp without a condition") };
            icmp(*cc, a, b, w) as u128
        }
        Zext | Trunc => a & m,
        Sext => sext(a, arg_types[0].bits()) as u128 & m,
        Clz => (a.leading_zeros() - (128 - w)) as u128,
        Ctz => a.trailing_zeros().min(w) as u128,
        Popcnt => a.count_ones() as u128,
        Bswap => a.swap_bytes() >> (128 - w),
        Parity => (a as u8).count_ones().is_multiple_of(2) as u128,
        _ => unreachable!("`{}` is not an integer operation", op.name()),
    };
    Ok(())
}
