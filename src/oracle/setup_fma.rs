//! Oracle case setup for FMA3 (`frontend::x86::fma`): float lanes of the
//! form's width in both halves of every register operand and in the whole
//! memory operand, lane by lane as a triple of the factors and the addend
//! the operand order makes them. Factors are edge values (zeros of both
//! signs, infinities, NaNs with payloads, denormals, the extremes of the
//! normal range) or values with full significands, whose product is
//! inexact; the addend is often the negated rounded product, itself nudged
//! by an ulp, so that the fused result (the product's rounding error) and
//! a multiply-then-add differ, or cancel to a zero of either sign.

use iced_x86::{Code, CpuidFeature, OpKind, Register};

use super::cases::{Rng, float_value};
use super::setup::{Case, write_data};
use super::setup_sse_float::moderate;

/// True for the forms this setup owns.
pub(super) fn owns(code: Code) -> bool {
    code.cpuid_features() == [CpuidFeature::FMA]
}

/// The lane width (32 or 64) and the operands (0-based) that are the first
/// factor, the second factor and the addend, from the mnemonic's name.
fn shape(code: Code) -> (u32, [usize; 3]) {
    let name = format!("{:?}", code.mnemonic()).to_lowercase();
    let bits = if name.ends_with("ps") || name.ends_with("ss") { 32 } else { 64 };
    let order = if name.contains("132") {
        [0, 2, 1]
    } else if name.contains("213") {
        [1, 0, 2]
    } else {
        [1, 2, 0]
    };
    (bits, order)
}

/// A factor: an edge value, or a value with a full significand.
fn factor(rng: &mut Rng, bits: u32) -> u64 {
    match rng.below(3) {
        0 => float_value(rng, bits),
        1 => moderate(rng, bits),
        _ => full(rng, bits),
    }
}

/// A normal float with a random significand and an exponent near 1.
fn full(rng: &mut Rng, bits: u32) -> u64 {
    let (mant, bias) = if bits == 32 { (23, 127u64) } else { (52, 1023) };
    let exp = bias + rng.below(40) - 20;
    let sign = if rng.chance(50) { 1u64 << (bits - 1) } else { 0 };
    sign | exp << mant | (rng.next_u64() & ((1u64 << mant) - 1))
}

/// The addend for factors `a` and `b`: the negated or kept rounded
/// product, give or take an ulp, or an edge value, or a random one.
fn addend(rng: &mut Rng, bits: u32, a: u64, b: u64) -> u64 {
    let product = if bits == 32 {
        (f32::from_bits(a as u32) * f32::from_bits(b as u32)).to_bits() as u64
    } else {
        (f64::from_bits(a) * f64::from_bits(b)).to_bits()
    };
    match rng.below(6) {
        0..=2 => {
            let negated = if rng.chance(80) { product ^ 1 << (bits - 1) } else { product };
            let nudged = negated.wrapping_add(rng.below(3)).wrapping_sub(1);
            nudged & (u64::MAX >> (64 - bits))
        }
        3 | 4 => float_value(rng, bits),
        _ => factor(rng, bits),
    }
}

/// 128 bits of lanes, each from `lane`.
fn lanes(bits: u32, mut lane: impl FnMut() -> u64) -> u128 {
    (0..128 / bits).fold(0, |acc, i| acc | (lane() as u128) << (i * bits))
}

/// Sets an FMA case up; false for any other form.
pub fn adjust(Case { code, insn, regs, data, mem, rng }: Case) -> bool {
    if !owns(code) {
        return false;
    }
    let (bits, order) = shape(code);
    // Each half's value of each operand, lane by lane a (factor, factor,
    // addend).
    let half = |rng: &mut Rng| {
        let triples: Vec<[u64; 3]> = (0..128 / bits)
            .map(|_| {
                let (a, b) = (factor(rng, bits), factor(rng, bits));
                [a, b, addend(rng, bits, a, b)]
            })
            .collect();
        let mut operands = [0u128; 3];
        for (role, &operand) in order.iter().enumerate() {
            let mut it = triples.iter();
            operands[operand] = lanes(bits, || it.next().expect("a triple a lane")[role]);
        }
        operands
    };
    let (low, high) = (half(rng), half(rng));
    let values: [[u128; 2]; 3] = std::array::from_fn(|i| [low[i], high[i]]);
    for (i, halves) in values.iter().enumerate() {
        match insn.op_kind(i as u32) {
            OpKind::Register => {
                let reg = insn.op_register(i as u32);
                let n = if reg.is_ymm() { reg as usize - Register::YMM0 as usize } else { reg.number() };
                regs.fx.set_xmm(n, halves[0]);
                regs.ymmh[n] = halves[1];
            }
            _ => {
                let at = mem.expect("a memory operand");
                let mut bytes = halves[0].to_le_bytes().to_vec();
                bytes.extend_from_slice(&halves[1].to_le_bytes());
                write_data(data, at, &bytes[..insn.memory_size().size()]);
            }
        }
    }
    true
}
