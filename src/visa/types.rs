//! V-ISA types: the scalar and vector value types, and the lane shapes that
//! vector operations use to interpret a `v128`.

use std::fmt;

/// The type of an SSA value, or a lane shape used as the controlling type
/// of a vector operation.
///
/// A value always has one of the *value types* (`i1` .. `v128`). The lane
/// shapes (`i8x16` .. `f64x2`) are interpretations of a `v128`: they appear
/// only as the controlling type of vector operations, never as the type of a
/// value, so moving a vector between operations of different shapes needs no
/// conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Type {
    I1,
    I8,
    I16,
    I32,
    I64,
    I128,
    F32,
    F64,
    V128,
    I8x16,
    I16x8,
    I32x4,
    I64x2,
    F32x4,
    F64x2,
}

impl Type {
    /// Every type, in encoding order.
    pub const ALL: [Type; 15] = [
        Type::I1,
        Type::I8,
        Type::I16,
        Type::I32,
        Type::I64,
        Type::I128,
        Type::F32,
        Type::F64,
        Type::V128,
        Type::I8x16,
        Type::I16x8,
        Type::I32x4,
        Type::I64x2,
        Type::F32x4,
        Type::F64x2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Type::I1 => "i1",
            Type::I8 => "i8",
            Type::I16 => "i16",
            Type::I32 => "i32",
            Type::I64 => "i64",
            Type::I128 => "i128",
            Type::F32 => "f32",
            Type::F64 => "f64",
            Type::V128 => "v128",
            Type::I8x16 => "i8x16",
            Type::I16x8 => "i16x8",
            Type::I32x4 => "i32x4",
            Type::I64x2 => "i64x2",
            Type::F32x4 => "f32x4",
            Type::F64x2 => "f64x2",
        }
    }

    pub fn from_name(s: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The encoding of this type in the binary format.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Type> {
        Type::ALL.get(code as usize).copied()
    }

    /// Width in bits (a lane shape counts as its whole vector).
    pub fn bits(self) -> u32 {
        match self {
            Type::I1 => 1,
            Type::I8 => 8,
            Type::I16 => 16,
            Type::I32 | Type::F32 => 32,
            Type::I64 | Type::F64 => 64,
            _ => 128,
        }
    }

    /// Size in bytes in memory and in guest state (`i1` takes one byte).
    pub fn bytes(self) -> u32 {
        self.bits().div_ceil(8)
    }

    /// Integers `i8` .. `i128` (not `i1`).
    pub fn is_int(self) -> bool {
        matches!(self, Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::I128)
    }

    pub fn is_float(self) -> bool {
        matches!(self, Type::F32 | Type::F64)
    }

    pub fn is_shape(self) -> bool {
        self.lane().is_some()
    }

    /// The types a value may have.
    pub fn is_value_type(self) -> bool {
        !self.is_shape()
    }

    /// The lane type and count of a lane shape.
    pub fn lane(self) -> Option<(Type, u32)> {
        match self {
            Type::I8x16 => Some((Type::I8, 16)),
            Type::I16x8 => Some((Type::I16, 8)),
            Type::I32x4 => Some((Type::I32, 4)),
            Type::I64x2 => Some((Type::I64, 2)),
            Type::F32x4 => Some((Type::F32, 4)),
            Type::F64x2 => Some((Type::F64, 2)),
            _ => None,
        }
    }

    /// The type a value of this (controlling) type has: lane shapes are `v128`.
    pub fn value_type(self) -> Type {
        if self.is_shape() { Type::V128 } else { self }
    }

    /// Integer of twice the width (`i8` .. `i64`).
    pub fn double(self) -> Option<Type> {
        match self {
            Type::I8 => Some(Type::I16),
            Type::I16 => Some(Type::I32),
            Type::I32 => Some(Type::I64),
            Type::I64 => Some(Type::I128),
            _ => None,
        }
    }

    /// Mask of the value bits of an integer type up to 64 bits.
    pub fn mask(self) -> u64 {
        match self.bits() {
            64.. => u64::MAX,
            b => (1u64 << b) - 1,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for t in Type::ALL {
            assert_eq!(Type::from_name(t.name()), Some(t));
            assert_eq!(Type::from_code(t.code()), Some(t));
        }
        assert_eq!(Type::from_name("i7"), None);
        assert_eq!(Type::from_code(15), None);
    }

    #[test]
    fn shapes_are_v128_values() {
        for t in Type::ALL {
            if let Some((lane, n)) = t.lane() {
                assert_eq!(lane.bits() * n, 128);
                assert_eq!(t.value_type(), Type::V128);
            } else {
                assert_eq!(t.value_type(), t);
            }
        }
        assert_eq!(Type::I1.bytes(), 1);
        assert_eq!(Type::I32.mask(), 0xffff_ffff);
    }
}
