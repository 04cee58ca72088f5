//! The opcode table: the single source of truth for every V-ISA operation.
//!
//! Each row gives an opcode its text name, the types its controlling type may
//! take, its immediate kind, its operand and result types, its effects and a
//! one-line description. The `Opcode` enum, the text names used by the printer
//! and parser, the verifier's type rules, the binary codes and the list the
//! specification is checked against are all generated from this table.

use super::imm::ImmKind;
use super::types::Type;

/// A set of types, as a bit mask over `Type` codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeSet(u16);

impl TypeSet {
    pub const fn of(types: &[Type]) -> TypeSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < types.len() {
            bits |= 1 << types[i] as u8;
            i += 1;
        }
        TypeSet(bits)
    }

    pub const fn union(self, other: TypeSet) -> TypeSet {
        TypeSet(self.0 | other.0)
    }

    pub fn contains(self, t: Type) -> bool {
        self.0 & (1 << t as u8) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Type> {
        Type::ALL.into_iter().filter(move |t| self.contains(*t))
    }
}

use Type::*;

pub const NONE: TypeSet = TypeSet::of(&[]);
pub const INT: TypeSet = TypeSet::of(&[I8, I16, I32, I64, I128]);
pub const INT_TO_64: TypeSet = TypeSet::of(&[I8, I16, I32, I64]);
pub const INT_16_UP: TypeSet = TypeSet::of(&[I16, I32, I64, I128]);
pub const I32_I64: TypeSet = TypeSet::of(&[I32, I64]);
pub const BOOL: TypeSet = TypeSet::of(&[I1]);
pub const INT_BOOL: TypeSet = INT.union(BOOL);
pub const TRUNC_TO: TypeSet = INT_TO_64.union(BOOL);
pub const F32_ONLY: TypeSet = TypeSet::of(&[F32]);
pub const F64_ONLY: TypeSet = TypeSet::of(&[F64]);
pub const BITS: TypeSet = INT_BOOL.union(TypeSet::of(&[V128]));
pub const FLOAT: TypeSet = TypeSet::of(&[F32, F64]);
pub const VALUE: TypeSet = BITS.union(FLOAT);
pub const MEM: TypeSet = TypeSet::of(&[I8, I16, I32, I64, I128, F32, F64, V128]);
pub const INT_SHAPES: TypeSet = TypeSet::of(&[I8x16, I16x8, I32x4, I64x2]);
pub const FLOAT_SHAPES: TypeSet = TypeSet::of(&[F32x4, F64x2]);
pub const SHAPES: TypeSet = INT_SHAPES.union(FLOAT_SHAPES);
pub const SMALL_SHAPES: TypeSet = TypeSet::of(&[I8x16, I16x8]);
pub const MUL_SHAPES: TypeSet = TypeSet::of(&[I16x8, I32x4, I64x2]);
pub const MULHI_SHAPES: TypeSet = TypeSet::of(&[I16x8, I32x4]);
/// What the float exception flag operations take: the type of the
/// operation's operands (an integer for a conversion from one).
pub const EXC_OPERANDS: TypeSet = FLOAT.union(FLOAT_SHAPES).union(I32_I64);
pub const NARROW_SHAPES: TypeSet = TypeSet::of(&[I16x8, I32x4, I64x2]);

/// The type an operand or result must have, relative to the controlling type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opd {
    /// The value type of the controlling type (`v128` for a lane shape).
    Ctrl,
    /// Exactly this type.
    Fixed(Type),
    /// The lane type of the controlling lane shape.
    Lane,
    /// A type of the set, narrower than the controlling type.
    Narrower(TypeSet),
    /// A type of the set, wider than the controlling type.
    Wider(TypeSet),
    /// Any type of the set.
    Of(TypeSet),
    /// Any value type as wide as the controlling type.
    SameWidth,
    /// As the called helper declares.
    Helper,
}

const C: Opd = Opd::Ctrl;
const B: Opd = Opd::Fixed(I1);
const A: Opd = Opd::Fixed(I64);
const V: Opd = Opd::Fixed(V128);
const L: Opd = Opd::Lane;

/// What an operation does besides computing its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effects(u16);

impl Effects {
    pub const PURE: Effects = Effects(0);
    pub const READS_STATE: Effects = Effects(1);
    pub const WRITES_STATE: Effects = Effects(2);
    pub const READS_MEM: Effects = Effects(4);
    pub const WRITES_MEM: Effects = Effects(8);
    pub const TRAPS: Effects = Effects(16);
    pub const TERMINATOR: Effects = Effects(32);
    pub const MARKER: Effects = Effects(64);
    /// An ordering point for memory (fences, helper calls).
    pub const ORDERED: Effects = Effects(128);
    /// May leave the block before its end (a side exit).
    pub const SIDE_EXIT: Effects = Effects(256);

    pub const fn with(self, other: Effects) -> Effects {
        Effects(self.0 | other.0)
    }

    pub fn has(self, other: Effects) -> bool {
        self.0 & other.0 == other.0
    }

    /// The specification's letters for the effects (`–` for none): `Rs`
    /// `Ws` state, `Rm` `Wm` memory, `T` traps, `O` ordered, `M` marker,
    /// `S` side exit, `X` terminator.
    pub fn letters(self) -> String {
        const LETTERS: [(Effects, &str); 9] = [
            (Effects::READS_STATE, "Rs"),
            (Effects::WRITES_STATE, "Ws"),
            (Effects::READS_MEM, "Rm"),
            (Effects::WRITES_MEM, "Wm"),
            (Effects::TRAPS, "T"),
            (Effects::ORDERED, "O"),
            (Effects::MARKER, "M"),
            (Effects::SIDE_EXIT, "S"),
            (Effects::TERMINATOR, "X"),
        ];
        let set: Vec<&str> = LETTERS.iter().filter(|(e, _)| self.has(*e)).map(|(_, l)| *l).collect();
        if set.is_empty() { "–".to_string() } else { set.join(" ") }
    }

    /// True when every effect of `self` is one of `other`'s.
    pub fn within(self, other: Effects) -> bool {
        self.0 & !other.0 == 0
    }

    /// True when removing an unused instance changes nothing observable.
    pub fn is_pure(self) -> bool {
        self.0 == 0
    }
}

const PURE: Effects = Effects::PURE;
const TRAPS: Effects = Effects::TRAPS;
const LOAD: Effects = Effects::READS_MEM.with(TRAPS);
const STORE: Effects = Effects::WRITES_MEM.with(TRAPS);
const RMW: Effects = LOAD.with(STORE).with(Effects::ORDERED);
const GET: Effects = Effects::READS_STATE;
const SET: Effects = Effects::WRITES_STATE;
const CALL: Effects = GET.with(SET).with(RMW);
const FENCE: Effects = Effects::ORDERED;
const MARK: Effects = Effects::MARKER;
const TERM: Effects = Effects::TERMINATOR;
const SIDE: Effects = Effects::SIDE_EXIT;

/// Everything the table says of one opcode.
#[derive(Debug)]
pub struct OpInfo {
    pub name: &'static str,
    /// Allowed controlling types; empty when the opcode has none.
    pub ctrl: TypeSet,
    /// The name of that type set in the table (`INT`, `NONE`...).
    pub ctrl_name: &'static str,
    pub imm: ImmKind,
    pub args: &'static [Opd],
    pub results: &'static [Opd],
    pub effects: Effects,
    pub doc: &'static str,
}

macro_rules! opcodes {
    ($($variant:ident $name:literal $ctrl:ident $imm:ident [$($arg:expr),*] -> [$($res:expr),*] $eff:ident $doc:literal;)*) => {
        /// A V-ISA operation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Opcode { $($variant),* }

        impl Opcode {
            /// Every opcode, in binary-code order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$variant),*];
        }

        static TABLE: &[OpInfo] = &[$(OpInfo {
            name: $name,
            ctrl: $ctrl,
            ctrl_name: stringify!($ctrl),
            imm: ImmKind::$imm,
            args: &[$($arg),*],
            results: &[$($res),*],
            effects: $eff,
            doc: $doc,
        }),*];
    };
}

opcodes! {
    Const "const" VALUE Const [] -> [C] PURE "A constant, given by its bits (floats by their IEEE encoding).";

    Iadd "iadd" INT None [C, C] -> [C] PURE "Wrapping addition.";
    Isub "isub" INT None [C, C] -> [C] PURE "Wrapping subtraction.";
    Imul "imul" INT None [C, C] -> [C] PURE "Wrapping multiplication (low half of the product).";
    Ineg "ineg" INT None [C] -> [C] PURE "Wrapping negation.";
    IaddCarry "iadd_carry" INT None [C, C, B] -> [C, B, B] PURE "a + b + carry-in: the sum, the unsigned carry out and the signed overflow.";
    IsubBorrow "isub_borrow" INT None [C, C, B] -> [C, B, B] PURE "a - b - borrow-in: the difference, the unsigned borrow out and the signed overflow.";
    UmulWide "umul_wide" INT_TO_64 None [C, C] -> [C, C] PURE "Full unsigned product: low half, high half.";
    SmulWide "smul_wide" INT_TO_64 None [C, C] -> [C, C] PURE "Full signed product: low half, high half.";
    Udiv "udiv" INT None [C, C] -> [C] TRAPS "Unsigned quotient; traps div_by_zero.";
    Sdiv "sdiv" INT None [C, C] -> [C] TRAPS "Signed quotient rounded toward zero; traps div_by_zero, and div_overflow for MIN / -1.";
    Urem "urem" INT None [C, C] -> [C] TRAPS "Unsigned remainder; traps div_by_zero.";
    Srem "srem" INT None [C, C] -> [C] TRAPS "Signed remainder with the dividend's sign; traps div_by_zero, and div_overflow for MIN / -1.";
    UdivWide "udiv_wide" INT_TO_64 None [C, C, C] -> [C, C] TRAPS "Unsigned (hi:lo) / d: quotient and remainder; traps div_by_zero, or div_overflow when the quotient does not fit.";
    SdivWide "sdiv_wide" INT_TO_64 None [C, C, C] -> [C, C] TRAPS "Signed (hi:lo) / d: quotient and remainder; traps div_by_zero, or div_overflow when the quotient does not fit.";
    And "and" BITS None [C, C] -> [C] PURE "Bitwise and.";
    Or "or" BITS None [C, C] -> [C] PURE "Bitwise or.";
    Xor "xor" BITS None [C, C] -> [C] PURE "Bitwise exclusive or.";
    Not "not" BITS None [C] -> [C] PURE "Bitwise complement.";
    Shl "shl" INT None [C, C] -> [C] PURE "Shift left by b modulo the width.";
    Lshr "lshr" INT None [C, C] -> [C] PURE "Logical shift right by b modulo the width.";
    Ashr "ashr" INT None [C, C] -> [C] PURE "Arithmetic shift right by b modulo the width.";
    Rotl "rotl" INT None [C, C] -> [C] PURE "Rotate left by b modulo the width.";
    Rotr "rotr" INT None [C, C] -> [C] PURE "Rotate right by b modulo the width.";
    Icmp "icmp" INT_BOOL IntCC [C, C] -> [B] PURE "Integer comparison.";
    Select "select" VALUE None [B, C, C] -> [C] PURE "c ? a : b.";
    Zext "zext" INT None [Opd::Narrower(INT_BOOL)] -> [C] PURE "Zero extension from a narrower integer.";
    Sext "sext" INT None [Opd::Narrower(INT_BOOL)] -> [C] PURE "Sign extension from a narrower integer.";
    Trunc "trunc" TRUNC_TO None [Opd::Wider(INT)] -> [C] PURE "Keep the low bits of a wider integer.";
    Clz "clz" INT None [C] -> [C] PURE "Count leading zero bits (the width for zero).";
    Ctz "ctz" INT None [C] -> [C] PURE "Count trailing zero bits (the width for zero).";
    Popcnt "popcnt" INT None [C] -> [C] PURE "Count one bits.";
    Bswap "bswap" INT_16_UP None [C] -> [C] PURE "Reverse the byte order.";
    Parity "parity" INT None [C] -> [B] PURE "1 when the low 8 bits hold an even number of one bits.";

    Fadd "fadd" FLOAT Round [C, C] -> [C] PURE "Float addition, rounded as given.";
    Fsub "fsub" FLOAT Round [C, C] -> [C] PURE "Float subtraction, rounded as given.";
    Fmul "fmul" FLOAT Round [C, C] -> [C] PURE "Float multiplication, rounded as given.";
    Fdiv "fdiv" FLOAT Round [C, C] -> [C] PURE "Float division, rounded as given.";
    Fsqrt "fsqrt" FLOAT Round [C] -> [C] PURE "Float square root, rounded as given.";
    Fma "fma" FLOAT Round [C, C, C] -> [C] PURE "Fused a * b + c, rounded once as given.";
    Fms "fms" FLOAT Round [C, C, C] -> [C] PURE "Fused a * b - c, rounded once as given.";
    Fnma "fnma" FLOAT Round [C, C, C] -> [C] PURE "Fused -(a * b) + c, rounded once as given.";
    Fnms "fnms" FLOAT Round [C, C, C] -> [C] PURE "Fused -(a * b) - c, rounded once as given.";
    Fmin "fmin" FLOAT None [C, C] -> [C] PURE "IEEE 754-2019 minimum: NaN if either is NaN, -0 below +0.";
    Fmax "fmax" FLOAT None [C, C] -> [C] PURE "IEEE 754-2019 maximum: NaN if either is NaN, +0 above -0.";
    Fneg "fneg" FLOAT None [C] -> [C] PURE "Flip the sign bit.";
    Fabs "fabs" FLOAT None [C] -> [C] PURE "Clear the sign bit.";
    Fcmp "fcmp" FLOAT FloatCC [C, C] -> [B] PURE "Float comparison.";
    Fround "fround" FLOAT Round [C] -> [C] PURE "Round to an integral value in the given direction.";
    FcvtToSint "fcvt_to_sint" I32_I64 None [Opd::Of(FLOAT)] -> [C] PURE "Float to signed integer toward zero, saturating; NaN gives 0.";
    FcvtToUint "fcvt_to_uint" I32_I64 None [Opd::Of(FLOAT)] -> [C] PURE "Float to unsigned integer toward zero, saturating; NaN gives 0.";
    FcvtFromSint "fcvt_from_sint" FLOAT Round [Opd::Of(I32_I64)] -> [C] PURE "Signed integer to float, rounded as given.";
    FcvtFromUint "fcvt_from_uint" FLOAT Round [Opd::Of(I32_I64)] -> [C] PURE "Unsigned integer to float, rounded as given.";
    Fpromote "fpromote" F64_ONLY None [Opd::Narrower(FLOAT)] -> [C] PURE "Exact conversion to a wider float.";
    Fdemote "fdemote" F32_ONLY Round [Opd::Wider(FLOAT)] -> [C] PURE "Conversion to a narrower float, rounded as given.";
    Bitcast "bitcast" MEM None [Opd::SameWidth] -> [C] PURE "Reinterpret the bits as another type of the same width.";

    Vsplat "vsplat" SHAPES None [L] -> [C] PURE "Every lane set to a.";
    Vextract "vextract" SHAPES Lane [C] -> [L] PURE "One lane.";
    Vinsert "vinsert" SHAPES Lane [C, L] -> [C] PURE "Replace one lane.";
    Vadd "vadd" INT_SHAPES None [C, C] -> [C] PURE "Lane-wise wrapping addition.";
    Vsub "vsub" INT_SHAPES None [C, C] -> [C] PURE "Lane-wise wrapping subtraction.";
    Vmul "vmul" MUL_SHAPES None [C, C] -> [C] PURE "Lane-wise wrapping multiplication.";
    VaddSatS "vadd_sat_s" SMALL_SHAPES None [C, C] -> [C] PURE "Lane-wise signed saturating addition.";
    VaddSatU "vadd_sat_u" SMALL_SHAPES None [C, C] -> [C] PURE "Lane-wise unsigned saturating addition.";
    VsubSatS "vsub_sat_s" SMALL_SHAPES None [C, C] -> [C] PURE "Lane-wise signed saturating subtraction.";
    VsubSatU "vsub_sat_u" SMALL_SHAPES None [C, C] -> [C] PURE "Lane-wise unsigned saturating subtraction.";
    VminS "vmin_s" INT_SHAPES None [C, C] -> [C] PURE "Lane-wise signed minimum.";
    VminU "vmin_u" INT_SHAPES None [C, C] -> [C] PURE "Lane-wise unsigned minimum.";
    VmaxS "vmax_s" INT_SHAPES None [C, C] -> [C] PURE "Lane-wise signed maximum.";
    VmaxU "vmax_u" INT_SHAPES None [C, C] -> [C] PURE "Lane-wise unsigned maximum.";
    VmulhiS "vmulhi_s" MULHI_SHAPES None [C, C] -> [C] PURE "Lane-wise high half of the signed product.";
    VmulhiU "vmulhi_u" MULHI_SHAPES None [C, C] -> [C] PURE "Lane-wise high half of the unsigned product.";
    VavgU "vavg_u" SMALL_SHAPES None [C, C] -> [C] PURE "Lane-wise unsigned average rounded up: (a + b + 1) >> 1.";
    Vabs "vabs" INT_SHAPES None [C] -> [C] PURE "Lane-wise absolute value (MIN stays MIN).";
    Vcmp "vcmp" INT_SHAPES IntCC [C, C] -> [C] PURE "Lane-wise comparison: all ones where true, zero where false.";
    Vshl "vshl" MUL_SHAPES None [C, A] -> [C] PURE "Lane-wise shift left by b; b at least the lane width gives 0.";
    Vlshr "vlshr" MUL_SHAPES None [C, A] -> [C] PURE "Lane-wise logical shift right by b; b at least the lane width gives 0.";
    Vashr "vashr" MUL_SHAPES None [C, A] -> [C] PURE "Lane-wise arithmetic shift right by b; b at least the lane width fills with the sign.";
    Vshuffle "vshuffle" NONE Shuffle [V, V] -> [V] PURE "Byte i is byte mask[i] of the 32-byte concatenation a, b.";
    Vswizzle "vswizzle" NONE None [V, V] -> [V] PURE "Byte i is byte b[i] of a, or 0 when b[i] is 16 or more.";
    Vbitmask "vbitmask" SHAPES None [C] -> [Opd::Fixed(I32)] PURE "The top bit of each lane, lane 0 in bit 0.";
    VnarrowS "vnarrow_s" NARROW_SHAPES None [C, C] -> [C] PURE "Lanes of a then b, narrowed to half width with signed saturation.";
    VnarrowU "vnarrow_u" NARROW_SHAPES None [C, C] -> [C] PURE "Signed lanes of a then b, narrowed to half width with unsigned saturation.";
    Vfadd "vfadd" FLOAT_SHAPES Round [C, C] -> [C] PURE "Lane-wise float addition.";
    Vfsub "vfsub" FLOAT_SHAPES Round [C, C] -> [C] PURE "Lane-wise float subtraction.";
    Vfmul "vfmul" FLOAT_SHAPES Round [C, C] -> [C] PURE "Lane-wise float multiplication.";
    Vfdiv "vfdiv" FLOAT_SHAPES Round [C, C] -> [C] PURE "Lane-wise float division.";
    Vfsqrt "vfsqrt" FLOAT_SHAPES Round [C] -> [C] PURE "Lane-wise float square root.";
    Vfma "vfma" FLOAT_SHAPES Round [C, C, C] -> [C] PURE "Lane-wise fma.";
    Vfms "vfms" FLOAT_SHAPES Round [C, C, C] -> [C] PURE "Lane-wise fms.";
    Vfnma "vfnma" FLOAT_SHAPES Round [C, C, C] -> [C] PURE "Lane-wise fnma.";
    Vfnms "vfnms" FLOAT_SHAPES Round [C, C, C] -> [C] PURE "Lane-wise fnms.";
    Vfmin "vfmin" FLOAT_SHAPES None [C, C] -> [C] PURE "Lane-wise fmin.";
    Vfmax "vfmax" FLOAT_SHAPES None [C, C] -> [C] PURE "Lane-wise fmax.";
    Vfcmp "vfcmp" FLOAT_SHAPES FloatCC [C, C] -> [C] PURE "Lane-wise float comparison: all ones where true.";

    Load "load" MEM Mem [A] -> [C] LOAD "Load from a guest address; traps mem_fault or misaligned.";
    Store "store" MEM Mem [C, A] -> [] STORE "Store a to guest address b; traps mem_fault or misaligned.";
    AtomicRmw "atomic_rmw" INT Atomic [A, C] -> [C] RMW "Atomically apply the operation to memory at a with b; the old value.";
    AtomicCas "atomic_cas" INT None [A, C, C] -> [C] RMW "Atomically: if memory at a equals b, store c; the old value.";
    Fence "fence" NONE None [] -> [] FENCE "Order all earlier memory accesses before all later ones.";

    Get "get" VALUE Slot [] -> [C] GET "Read a guest state slot.";
    Set "set" VALUE Slot [C] -> [] SET "Write a guest state slot.";
    Call "call" NONE Helper [Opd::Helper] -> [Opd::Helper] CALL "Call a declared runtime helper.";

    Guest "guest" NONE Guest [] -> [] MARK "A guest instruction of the given address and length starts here.";
    TrapIf "trap_if" NONE Trap [B] -> [] TRAPS "Trap with the code when c is 1.";
    JumpIf "jump_if" NONE Target [B] -> [] SIDE "Leave the block for a guest address when c is 1; else go on.";

    Jump "jump" NONE Target [] -> [] TERM "Continue at a guest address.";
    Branch "branch" NONE Branch [B] -> [] TERM "Continue at the first address when c is 1, else at the second.";
    JumpInd "jump_ind" NONE None [A] -> [] TERM "Continue at a computed guest address.";
    Exit "exit" NONE Exit [] -> [] TERM "Stop for the runtime with a reason; execution resumes at the address.";

    Fexc1 "fexc1" EXC_OPERANDS Fexc [Opd::Fixed(I32), C, Opd::Of(VALUE)] -> [Opd::Fixed(I32)] TRAPS "Flags in, or the exception flags of a one-operand operation on a giving result r; may leave the block before its guest instruction.";
    Fexc2 "fexc2" EXC_OPERANDS Fexc [Opd::Fixed(I32), C, C, C] -> [Opd::Fixed(I32)] TRAPS "Flags in, or the exception flags of a two-operand operation on a, b giving result r; may leave the block before its guest instruction.";
    Fexc3 "fexc3" EXC_OPERANDS Fexc [Opd::Fixed(I32), C, C, C, C] -> [Opd::Fixed(I32)] TRAPS "Flags in, or the exception flags of a fused operation on a, b, c giving result r; may leave the block before its guest instruction.";
}

impl Opcode {
    /// A 64-bit fingerprint of the whole table (FNV-1a over each opcode's
    /// code, name, controlling types, immediate kind, operand and result
    /// kinds and effects): the binary format records it, so that a block
    /// encoded against another table is refused rather than misread.
    /// Worked out once per process (formatting every opcode's kinds takes
    /// tens of microseconds, and the persistent cache names every block it
    /// looks up by it).
    pub fn table_fingerprint() -> u64 {
        static FINGERPRINT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *FINGERPRINT.get_or_init(Opcode::compute_fingerprint)
    }

    fn compute_fingerprint() -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes {
                h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
            }
        };
        for op in Opcode::ALL {
            let info = op.info();
            feed(&[op.code()]);
            feed(info.name.as_bytes());
            feed(&info.ctrl.0.to_le_bytes());
            feed(&[info.imm as u8]);
            feed(format!("{:?}{:?}", info.args, info.results).as_bytes());
            feed(&info.effects.0.to_le_bytes());
        }
        h
    }
    pub fn info(self) -> &'static OpInfo {
        &TABLE[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn from_name(name: &str) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|op| op.name() == name)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Opcode> {
        Opcode::ALL.get(code as usize).copied()
    }

    pub fn is_terminator(self) -> bool {
        self.info().effects.has(Effects::TERMINATOR)
    }

    pub fn has_ctrl(self) -> bool {
        !self.info().ctrl.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert_eq!(TABLE.len(), Opcode::ALL.len());
        for (i, op) in Opcode::ALL.iter().enumerate() {
            assert_eq!(op.code() as usize, i);
            assert_eq!(Opcode::from_name(op.name()), Some(*op), "{}", op.name());
            assert!(!op.info().doc.is_empty());
            let needs_ctrl = op
                .info()
                .args
                .iter()
                .chain(op.info().results)
                .any(|o| !matches!(o, Opd::Fixed(_) | Opd::Helper | Opd::Of(_)));
            assert!(!needs_ctrl || op.has_ctrl(), "{} uses its controlling type but has none", op.name());
        }
    }
}
