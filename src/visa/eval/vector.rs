//! Vector semantics: a `v128` as lanes of the controlling shape, lane 0 in
//! the low bits.

use super::float::{fused, unary_or_binary};
use super::int::icmp;
use super::{mask, sext};
use crate::visa::imm::Imm;
use crate::visa::opcodes::Opcode;
use crate::visa::types::Type;

fn lane(v: u128, i: u32, bits: u32) -> u128 {
    (v >> (i * bits)) & mask(bits)
}

/// Builds a vector from a function of the lane index.
fn build(count: u32, bits: u32, f: impl Fn(u32) -> u128) -> u128 {
    (0..count).fold(0, |acc, i| acc | ((f(i) & mask(bits)) << (i * bits)))
}

fn saturate(x: i128, lo: i128, hi: i128) -> u128 {
    x.clamp(lo, hi) as u128
}

pub fn eval(op: Opcode, t: Type, imm: &Imm, args: &[u128], out: &mut [u128]) {
    use Opcode::*;
    let a = args.first().copied().unwrap_or(0);
    let b = args.get(1).copied().unwrap_or(0);
    if op == Vshuffle || op == Vswizzle {
        out[0] = build(16, 8, |i| {
            let byte = |v: u128, k: u32| lane(v, k, 8);
            match imm {
                Imm::Shuffle(m) if m[i as usize] < 16 => byte(a, m[i as usize] as u32),
                Imm::Shuffle(m) => byte(b, m[i as usize] as u32 - 16),
                _ => match lane(b, i, 8) {
                    k @ 0..16 => byte(a, k as u32),
                    _ => 0,
                },
            }
        });
        return;
    }
    let (lane_ty, n) = t.lane().expect("vector operation without a lane shape");
    let w = lane_ty.bits();
    let (smin, smax) = (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1);
    let umax = mask(w) as i128;
    let la = |i| lane(a, i, w);
    let lb = |i| lane(b, i, w);
    let sa = |i| sext(la(i), w);
    let sb = |i| sext(lb(i), w);
    let lane_float = |i: u32| {
        if w == 32 {
            unary_or_binary::<f32>(op, imm, la(i), lb(i))
        } else {
            unary_or_binary::<f64>(op, imm, la(i), lb(i))
        }
    };
    let lane_index = || match imm {
        Imm::Lane(l) => *l as u32,
        _ => unreachable!("lane operation without a lane"),
    };
    out[0] = match op {
        Vsplat => build(n, w, |_| a),
        Vextract => la(lane_index()),
        Vinsert => {
            let k = lane_index();
            build(n, w, |i| if i == k { b } else { la(i) })
        }
        Vadd => build(n, w, |i| la(i).wrapping_add(lb(i))),
        Vsub => build(n, w, |i| la(i).wrapping_sub(lb(i))),
        Vmul => build(n, w, |i| la(i).wrapping_mul(lb(i))),
        VaddSatS => build(n, w, |i| saturate(sa(i) + sb(i), smin, smax)),
        VaddSatU => build(n, w, |i| saturate(la(i) as i128 + lb(i) as i128, 0, umax)),
        VsubSatS => build(n, w, |i| saturate(sa(i) - sb(i), smin, smax)),
        VsubSatU => build(n, w, |i| saturate(la(i) as i128 - lb(i) as i128, 0, umax)),
        VminS => build(n, w, |i| sa(i).min(sb(i)) as u128),
        VminU => build(n, w, |i| la(i).min(lb(i))),
        VmaxS => build(n, w, |i| sa(i).max(sb(i)) as u128),
        VmaxU => build(n, w, |i| la(i).max(lb(i))),
        VmulhiS => build(n, w, |i| ((sa(i) * sb(i)) >> w) as u128),
        VmulhiU => build(n, w, |i| (la(i) * lb(i)) >> w),
        VavgU => build(n, w, |i| (la(i) + lb(i) + 1) >> 1),
        Vabs => build(n, w, |i| sa(i).unsigned_abs()),
        Vcmp => {
            let Imm::IntCC(cc) = imm else { unreachable!("vcmp without a condition") };
            build(n, w, |i| if icmp(*cc, la(i), lb(i), w) { mask(w) } else { 0 })
        }
        Vshl => build(n, w, |i| if b >= w as u128 { 0 } else { la(i) << b }),
        Vlshr => build(n, w, |i| if b >= w as u128 { 0 } else { la(i) >> b }),
        Vashr => build(n, w, |i| (sa(i) >> b.min(w as u128 - 1)) as u128),
        Vbitmask => (0..n).fold(0, |acc, i| acc | ((la(i) >> (w - 1)) << i)),
        VnarrowS | VnarrowU => {
            let half = w / 2;
            let (lo, hi) = if op == VnarrowS {
                (-(1i128 << (half - 1)), (1i128 << (half - 1)) - 1)
            } else {
                (0, mask(half) as i128)
            };
            build(2 * n, half, |i| {
                let v = if i < n { sa(i) } else { sb(i - n) };
                saturate(v, lo, hi)
            })
        }
        Vfcmp => build(n, w, |i| if lane_float(i) == 1 { mask(w) } else { 0 }),
        Vfadd | Vfsub | Vfmul | Vfdiv | Vfsqrt | Vfmin | Vfmax => build(n, w, lane_float),
        Vfma | Vfms | Vfnma | Vfnms => {
            let round = match imm {
                Imm::Round(r) => *r,
                _ => unreachable!("a fused operation without a rounding mode"),
            };
            let c = args[2];
            build(n, w, |i| {
                let lc = lane(c, i, w);
                if w == 32 {
                    fused::<f32>(op, round, la(i), lb(i), lc)
                } else {
                    fused::<f64>(op, round, la(i), lb(i), lc)
                }
            })
        }
        _ => unreachable!("`{}` is not a vector operation", op.name()),
    };
}
