//! 64-bit DIV and IDIV divide RDX:RAX. The JIT divides natively when RDX
//! is the zero (DIV) or sign (IDIV) extension of RAX and the division
//! cannot trap, and otherwise through the reference semantics; these cases
//! sit on both sides of that test. Every engine must agree (see `common`)
//! with the 128-bit arithmetic here.

mod common;

use common::run_with;
use iced_x86::code_asm::*;
use visa::engine::Stop;
use visa::visa::ExitReason;

const MIN: u64 = i64::MIN as u64;
const M1: u64 = u64::MAX;

/// (RDX, RAX, divisor) for DIV and for IDIV.
const CASES: &[(u64, u64, u64)] = &[
    (0, 100, 7),
    (0, M1, 3),
    (0, MIN, M1),
    (1, 0, 2),
    (1, MIN + 5, M1 >> 1),
    (1, 5, 1 << 63),
    (M1, MIN, 2),
    (M1, M1 - 99, 7),
    (M1, 5, M1),
    (0, MIN + 1, M1),
    (0, 7, 0),
    (M1, MIN, M1),
    (5, 0, 3),
];

fn divide(signed: bool, hi: u64, lo: u64, d: u64) -> Option<(u64, u64)> {
    if signed {
        let n = ((hi as u128) << 64 | lo as u128) as i128;
        let d = d as i64 as i128;
        if d == 0 {
            return None;
        }
        let (q, r) = (n / d, n % d);
        (i64::MIN as i128..=i64::MAX as i128).contains(&q).then_some((q as u64, r as u64))
    } else {
        let n = (hi as u128) << 64 | lo as u128;
        let d = d as u128;
        if d == 0 {
            return None;
        }
        let (q, r) = (n / d, n % d);
        (q <= u64::MAX as u128).then_some((q as u64, r as u64))
    }
}

#[test]
fn wide_divisions_agree_with_128_bit_arithmetic() {
    for signed in [false, true] {
        for &(hi, lo, d) in CASES {
            let r = run_with(
                |a| {
                    if signed {
                        a.idiv(rcx)?
                    } else {
                        a.div(rcx)?
                    }
                    a.hlt()
                },
                |cpu| {
                    cpu.gpr[2] = hi;
                    cpu.gpr[0] = lo;
                    cpu.gpr[1] = d;
                },
            );
            let what = format!("{} {hi:#x}:{lo:#x} / {d:#x}", if signed { "IDIV" } else { "DIV" });
            match divide(signed, hi, lo, d) {
                Some((q, rem)) => {
                    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt), "{what}");
                    assert_eq!((r.cpu.gpr[0], r.cpu.gpr[2]), (q, rem), "{what}");
                }
                None => {
                    let Stop::Fault(f) = r.stop else { panic!("{what}: no #DE but {:?}", r.stop) };
                    assert_eq!(f.vector, 0, "{what}");
                }
            }
        }
    }
}
