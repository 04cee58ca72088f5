//! Immediate operands of V-ISA instructions: condition codes, rounding modes,
//! memory flags, trap codes, exit reasons and the `Imm` value that carries one.

use std::fmt;

/// Declares a fieldless enum whose variants have text names, with lookups both ways.
macro_rules! named_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        $vis enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn from_name(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == s)
            }

            pub fn from_code(code: u8) -> Option<Self> {
                Self::ALL.get(code as usize).copied()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum! {
    /// Integer comparison predicates.
    pub enum IntCC {
        Eq = "eq", Ne = "ne",
        Slt = "slt", Sle = "sle", Sgt = "sgt", Sge = "sge",
        Ult = "ult", Ule = "ule", Ugt = "ugt", Uge = "uge",
    }
}

named_enum! {
    /// Float comparison predicates. `o`-less names are ordered (false on NaN)
    /// except `ne`, which is true on NaN; `u`-prefixed ones are true on NaN.
    pub enum FloatCC {
        Eq = "eq", Ne = "ne", Lt = "lt", Le = "le", Gt = "gt", Ge = "ge",
        Ord = "ord", Uno = "uno", One = "one", Ueq = "ueq",
        Ult = "ult", Ule = "ule", Ugt = "ugt", Uge = "uge",
    }
}

named_enum! {
    /// IEEE 754 rounding directions.
    pub enum Round {
        Nearest = "rne", Zero = "rtz", Down = "rdn", Up = "rup",
    }
}

named_enum! {
    /// The operation whose exception flags `fexc1` `fexc2` `fexc3` compute
    /// (visa-spec/semantics.md, "Float exception flags").
    pub enum ExcOp {
        Add = "add", Sub = "sub", Mul = "mul", Div = "div", Sqrt = "sqrt",
        Fma = "fma", Fms = "fms", Fnma = "fnma", Fnms = "fnms",
        MinMax = "minmax", CmpQuiet = "cmpq", CmpSignal = "cmps",
        ToInt = "toint", FromInt = "fromint", Convert = "cvt",
        RoundInt = "rint", RoundQuiet = "rintq",
    }
}

impl ExcOp {
    /// The operands the operation takes (the flag operations add the
    /// incoming flags before them and the result after them).
    pub fn arity(self) -> usize {
        use ExcOp::*;
        match self {
            Sqrt | ToInt | FromInt | Convert | RoundInt | RoundQuiet => 1,
            Fma | Fms | Fnma | Fnms => 3,
            _ => 2,
        }
    }

    /// The MXCSR flags (bits 0-5: IE DE ZE OE UE PE) the operation can
    /// raise on some operands, or a superset of them.
    pub fn raisable(self) -> u8 {
        use super::eval::flags::{DE, IE, OE, PE, UE, ZE};
        use ExcOp::*;
        let bits = match self {
            Div => IE | DE | ZE | OE | UE | PE,
            Add | Sub | Mul | Fma | Fms | Fnma | Fnms | Convert => IE | DE | OE | UE | PE,
            Sqrt | ToInt | RoundInt | RoundQuiet => IE | DE | PE,
            MinMax | CmpQuiet | CmpSignal => IE | DE,
            FromInt => PE,
        };
        bits as u8
    }
}

named_enum! {
    /// How underflow is reported: `masked` when the result is tiny and
    /// inexact, `tiny` when it is tiny (an unmasked underflow), `ftz` as
    /// `masked` but a tiny result is flushed to zero, so inexact too.
    pub enum Underflow {
        Masked = "masked", Tiny = "tiny", Ftz = "ftz",
    }
}

named_enum! {
    /// How overflow is reported: `masked` when the rounded result is beyond
    /// the largest finite value, with inexact; `huge` (an unmasked overflow)
    /// the same, but inexact only when the result rounded with an unbounded
    /// exponent is (as `tiny` reports a tiny result's).
    pub enum Overflow {
        Masked = "masked", Huge = "huge",
    }
}

named_enum! {
    /// Atomic read-modify-write operations.
    pub enum AtomicOp {
        Add = "add", Sub = "sub", And = "and", Or = "or", Xor = "xor", Xchg = "xchg",
    }
}

named_enum! {
    /// Why a block stopped with a runtime exit.
    pub enum ExitReason {
        Syscall = "syscall",
        Halt = "halt",
        Breakpoint = "breakpoint",
        Undefined = "undefined",
        Yield = "yield",
        Interrupt = "interrupt",
    }
}

/// What a trapping operation reports. `User` codes are defined by a frontend
/// (an x86 exception vector, say) and raised by `trap_if`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapCode {
    DivByZero,
    DivOverflow,
    MemFault,
    Misaligned,
    User(u8),
}

impl TrapCode {
    pub const FIXED: [(TrapCode, &'static str); 4] = [
        (TrapCode::DivByZero, "div_by_zero"),
        (TrapCode::DivOverflow, "div_overflow"),
        (TrapCode::MemFault, "mem_fault"),
        (TrapCode::Misaligned, "misaligned"),
    ];

    /// Binary encoding: the fixed codes are 0..4, user code `n` is `256 + n`.
    pub fn code(self) -> u16 {
        match self {
            TrapCode::User(n) => 256 + n as u16,
            fixed => TrapCode::FIXED.iter().position(|(c, _)| *c == fixed).unwrap() as u16,
        }
    }

    pub fn from_code(code: u16) -> Option<TrapCode> {
        match code {
            256..=511 => Some(TrapCode::User((code - 256) as u8)),
            _ => TrapCode::FIXED.get(code as usize).map(|(c, _)| *c),
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapCode::User(n) => write!(f, "user {n}"),
            fixed => {
                let name = TrapCode::FIXED.iter().find(|(c, _)| c == fixed).unwrap().1;
                f.write_str(name)
            }
        }
    }
}

/// Flags of a memory access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemFlags {
    /// The address must be a multiple of the access size, or the access traps
    /// with `misaligned`. Without it any address is allowed.
    pub aligned: bool,
}

/// Index of a state slot in the block's `Env`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot(pub u16);

/// Index of a helper in the block's `Env`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Helper(pub u16);

/// The kind of immediate an opcode takes (from the opcode table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImmKind {
    None,
    Const,
    IntCC,
    FloatCC,
    Round,
    Slot,
    Mem,
    Atomic,
    Lane,
    Shuffle,
    Helper,
    Guest,
    Trap,
    Target,
    Branch,
    Exit,
    Fexc,
}

/// The bits of a constant, stored at 8-byte alignment so that an `Imm`
/// (and with it every `Inst`) takes 24 bytes rather than 32.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, packed(8))]
pub struct Bits(u128);

impl Bits {
    pub fn get(self) -> u128 {
        self.0
    }
}

impl From<u128> for Bits {
    fn from(bits: u128) -> Bits {
        Bits(bits)
    }
}

impl std::fmt::Debug for Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.get())
    }
}

/// An instruction's immediate operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Imm {
    None,
    /// Bits of a constant, zero-extended (floats as their IEEE bits).
    Const(Bits),
    IntCC(IntCC),
    FloatCC(FloatCC),
    Round(Round),
    Slot(Slot),
    Mem(MemFlags),
    Atomic(AtomicOp),
    Lane(u8),
    /// Byte indices 0..32 into the concatenation of two vectors.
    Shuffle([u8; 16]),
    Helper(Helper),
    /// A guest instruction starts here: its address and length in bytes.
    Guest {
        addr: u64,
        len: u8,
    },
    Trap(TrapCode),
    Target(u64),
    /// Targets of a conditional branch: taken, not taken.
    Branch(u64, u64),
    /// Reason and the guest address at which execution continues.
    Exit(ExitReason, u64),
    /// What a float exception flag operation computes the flags of.
    Fexc(ExcOp, Round, Underflow, Overflow),
}

impl Imm {
    pub fn kind(&self) -> ImmKind {
        match self {
            Imm::None => ImmKind::None,
            Imm::Const(_) => ImmKind::Const,
            Imm::IntCC(_) => ImmKind::IntCC,
            Imm::FloatCC(_) => ImmKind::FloatCC,
            Imm::Round(_) => ImmKind::Round,
            Imm::Slot(_) => ImmKind::Slot,
            Imm::Mem(_) => ImmKind::Mem,
            Imm::Atomic(_) => ImmKind::Atomic,
            Imm::Lane(_) => ImmKind::Lane,
            Imm::Shuffle(_) => ImmKind::Shuffle,
            Imm::Helper(_) => ImmKind::Helper,
            Imm::Guest { .. } => ImmKind::Guest,
            Imm::Trap(_) => ImmKind::Trap,
            Imm::Target(_) => ImmKind::Target,
            Imm::Branch(..) => ImmKind::Branch,
            Imm::Exit(..) => ImmKind::Exit,
            Imm::Fexc(..) => ImmKind::Fexc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip() {
        for c in [
            TrapCode::DivByZero,
            TrapCode::DivOverflow,
            TrapCode::MemFault,
            TrapCode::Misaligned,
            TrapCode::User(0),
            TrapCode::User(255),
        ] {
            assert_eq!(TrapCode::from_code(c.code()), Some(c));
        }
        assert_eq!(TrapCode::from_code(4), None);
        assert_eq!(TrapCode::from_code(512), None);
    }

    #[test]
    fn named_enums_round_trip() {
        for cc in IntCC::ALL {
            assert_eq!(IntCC::from_name(cc.name()), Some(*cc));
            assert_eq!(IntCC::from_code(*cc as u8), Some(*cc));
        }
        assert_eq!(FloatCC::from_name("uge"), Some(FloatCC::Uge));
        assert_eq!(Round::from_name("rtz"), Some(Round::Zero));
    }
}
