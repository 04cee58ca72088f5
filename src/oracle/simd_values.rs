//! Values SIMD sequences start from, drawn with the families' setup
//! helpers: vectors of float lanes of either width (edge values, moderate
//! values with fractions, values near the integer limits), of integer lanes
//! of every width (edge values, values near the saturation bounds, a small
//! alphabet with nulls), shift counts or random bits; pairs of vectors with
//! equal lanes and zeros of both signs; memory operands in the form's own
//! format (x87 formats, scalar floats and integers, typed lanes, state
//! images, whose control words mask every x87 exception: visa delivers the
//! masked response even to an unmasked one); and the MXCSR images a
//! sequence may load.

use iced_x86::{Instruction, MemorySize, Mnemonic};

use super::cases::{Rng, edge_vector, float_value, vector_value};
use super::{setup_sse_float, setup_sse_int, setup_sse_move, setup_sse4, setup_x87};

/// Lanes of `bits`-wide floats (32 or 64): edge values, moderate values,
/// values near the 32- and 64-bit integer limits.
fn float_lanes(rng: &mut Rng, bits: u32) -> u128 {
    let mask = u128::MAX >> (128 - bits);
    (0..128 / bits).fold(0, |acc, i| {
        let lane = match rng.below(4) {
            0 => setup_sse_float::moderate(rng, bits),
            1 => {
                let int_bits = rng.pick(&[32, 64]);
                setup_sse_float::near_limit(rng, bits, int_bits)
            }
            _ => float_value(rng, bits),
        };
        acc | (lane as u128 & mask) << (bits * i)
    })
}

/// A shift count in the low quadword (what the shifts by an XMM or m128
/// count read), random bits above it.
fn count_vector(rng: &mut Rng) -> u128 {
    setup_sse_int::shift_count(rng) as u128 | (rng.next_u64() as u128) << 64
}

/// A vector for an XMM register or a 128-bit memory operand.
pub(super) fn seed_vector(rng: &mut Rng) -> u128 {
    match rng.below(10) {
        0 | 1 => vector_value(rng),
        2 => float_lanes(rng, 32),
        3 => float_lanes(rng, 64),
        4 | 5 => {
            let bits = rng.pick(&[8, 16, 32, 64]);
            edge_vector(rng, bits, None)
        }
        6 => {
            let bits = rng.pick(&[16, 32]);
            setup_sse_move::bound_lanes(rng, bits)
        }
        7 => {
            let (bits, nulls) = (rng.pick(&[8, 16]), rng.chance(50));
            setup_sse4::alphabet_vector(rng, bits, nulls)
        }
        8 => count_vector(rng),
        _ => (rng.next_u64() as u128) << 64 | rng.next_u64() as u128,
    }
}

/// Two vectors mostly equal lane by lane: `a` (now and then with zeros of
/// the other sign than the second's) and one like it, so compares, MIN and
/// MAX see equal operands.
pub(super) fn pair(rng: &mut Rng, a: u128) -> (u128, u128) {
    match rng.below(3) {
        0 => setup_sse_float::equal_lanes(a, 32, rng),
        1 => setup_sse_float::equal_lanes(a, 64, rng),
        _ => {
            let bits = rng.pick(&[8, 16, 32, 64]);
            (a, edge_vector(rng, bits, Some(a)))
        }
    }
}

/// A vector with lanes of the memory operand's element type.
fn typed_vector(size: MemorySize, rng: &mut Rng) -> u128 {
    let elem = size.element_type();
    let bits = elem.size() as u32 * 8;
    match elem {
        MemorySize::Float32 | MemorySize::Float64 => float_lanes(rng, bits),
        _ if (8..=64).contains(&bits) && rng.chance(70) => edge_vector(rng, bits, None),
        _ => seed_vector(rng),
    }
}

/// An MXCSR image a sequence may load: any rounding direction and
/// exception flags, every exception masked, FTZ, DAZ and bit 17 (AMD's MM)
/// clear, as visa models neither unmasked SSE exceptions nor those bits;
/// now and then a reserved bit (#GP).
pub(super) fn mxcsr_image(rng: &mut Rng) -> u32 {
    let v = 0x1f80 | (rng.below(4) as u32) << 13 | (rng.next_u64() as u32 & 0x3f);
    if rng.chance(5) { v | 1 << rng.pick(&[16u32, 18, 20, 24, 31]) } else { v }
}

/// The initial bytes of `insn`'s memory operand.
pub(super) fn memory_image(insn: &Instruction, rng: &mut Rng) -> Vec<u8> {
    // A VEX form's memory holds what its SSE form's does.
    let m = crate::frontend::x86::vex::sse_form(insn.code()).map_or(insn.mnemonic(), |c| c.mnemonic());
    let size = insn.memory_size();
    if m == Mnemonic::Ldmxcsr {
        return mxcsr_image(rng).to_le_bytes().to_vec();
    }
    if setup_sse_int::is_shift(m) {
        return count_vector(rng).to_le_bytes().to_vec();
    }
    let mut image = setup_x87::memory_image(insn, rng);
    if matches!(m, Mnemonic::Fxrstor | Mnemonic::Fxrstor64) {
        image[24..28].copy_from_slice(&mxcsr_image(rng).to_le_bytes());
    }
    if matches!(m, Mnemonic::Fldcw | Mnemonic::Fldenv | Mnemonic::Frstor | Mnemonic::Fxrstor | Mnemonic::Fxrstor64) {
        // FCW, first in every image: x87 exceptions stay masked.
        image[0] |= 0x3f;
    }
    if image.is_empty() {
        image = typed_vector(size, rng).to_le_bytes()[..size.size().min(16)].to_vec();
        if size.size() == 32 {
            image.extend_from_slice(&typed_vector(size, rng).to_le_bytes());
        }
    }
    image
}
