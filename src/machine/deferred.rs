//! Deferred arithmetic flags: the encoding of `CpuState::cc_op` and the
//! flags it stands for. Lifted code that ends a block after a compare,
//! a logical operation or an addition keeps that operation's kind, width
//! and operands instead of computing its six flags; whoever reads the
//! flags next computes them (the next block's lifted code, or
//! `CpuState::settle_flags` on the Rust side). This module owns the Rust
//! computation; `frontend::x86::flags` emits the same one as V-ISA ops.

/// `cc_op`'s kind bits: the flags of `cc_a - cc_b` (a logical result `r`
/// is kept as `r - 0`, whose flags are the same).
pub const CC_SUB: u8 = 1;
/// The flags of `cc_a + cc_b`.
pub const CC_ADD: u8 = 2;
pub const CC_KIND_MASK: u8 = 3;
/// `cc_op`'s other bits: 64 minus the operation's width in bits (0, 32,
/// 48 or 56), the shift that puts its top bit at bit 63.
pub const CC_SHIFT_MASK: u8 = 0xf8;

/// The `cc_op` of an operation of `kind` on `bits`-bit operands.
pub const fn cc_op(kind: u8, bits: u32) -> u8 {
    kind | (64 - bits) as u8
}

/// CF PF AF ZF SF OF (`CpuState::flags` order) of the operation `op`
/// (nonzero) on the zero-extended operands `a` and `b`.
///
/// The operands are shifted so their top bit is bit 63: carry, overflow,
/// zero and sign of the 64-bit operation are then those of the narrow
/// one. PF and AF depend only on the low byte.
pub fn flags_of(op: u8, a: u64, b: u64) -> [u8; 6] {
    let shift = (op & CC_SHIFT_MASK) as u32;
    let (sa, sb) = (a << shift, b << shift);
    let add = op & CC_KIND_MASK == CC_ADD;
    let (res, wide, carry, overflow) = if add {
        let (r, c) = sa.overflowing_add(sb);
        (a.wrapping_add(b), r, c, (sa as i64).overflowing_add(sb as i64).1)
    } else {
        let (r, c) = sa.overflowing_sub(sb);
        (a.wrapping_sub(b), r, c, (sa as i64).overflowing_sub(sb as i64).1)
    };
    let parity = (res as u8).count_ones().is_multiple_of(2);
    let adjust = (a ^ b ^ res) >> 4 & 1 == 1;
    [carry, parity, adjust, wide == 0, (wide as i64) < 0, overflow].map(u8::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_operations_flag_as_the_hardware_does() {
        // cmp al, 1 with al = 0: borrow, sign, adjust, no overflow.
        assert_eq!(flags_of(cc_op(CC_SUB, 8), 0, 1), [1, 1, 1, 0, 1, 0]);
        // add eax, eax with eax = 0x8000_0000: carry, zero, overflow.
        assert_eq!(flags_of(cc_op(CC_ADD, 32), 0x8000_0000, 0x8000_0000), [1, 1, 0, 1, 0, 1]);
        // A logical result kept as r - 0: CF = OF = AF = 0.
        assert_eq!(flags_of(cc_op(CC_SUB, 16), 0x8001, 0), [0, 0, 0, 0, 1, 0]);
        // cmp rax, rbx, equal.
        assert_eq!(flags_of(cc_op(CC_SUB, 64), u64::MAX, u64::MAX), [0, 1, 0, 1, 0, 0]);
    }
}
