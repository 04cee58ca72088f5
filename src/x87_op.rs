//! The x87 operation encoding: the contract between the x86 frontend, which
//! lifts each x87 instruction to one call of the runtime helper `x87(op,
//! addr, ip)` with an encoded `X87Op`, and the runtime (`machine::x87`),
//! which decodes and executes it. Both import this module, so the frontend
//! does not reach into the runtime for it.

/// What an x87 instruction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Push a memory operand (any format) or ST(i).
    Ld,
    /// Push a constant (`arg`: 1 L2T L2E PI LG2 LN2 Z).
    LdConst,
    /// Store ST0 to memory (any format, rounding by RC) or ST(i).
    St,
    /// FISTTP: store as an integer, truncating.
    Isttp,
    Xch,
    /// FCMOVcc (`arg`: B E BE U NB NE NBE NU).
    Cmov,
    Add,
    Mul,
    Sub,
    Subr,
    Div,
    Divr,
    /// Compare ST0 with ST(i) or memory into C3 C2 C0; unordered signals.
    Com,
    Ucom,
    /// Compare into ZF PF CF.
    Comi,
    Ucomi,
    Tst,
    Xam,
    Chs,
    Abs,
    Sqrt,
    Rndint,
    Scale,
    Prem,
    Prem1,
    Xtract,
    Sin,
    Cos,
    Sincos,
    Ptan,
    Patan,
    F2xm1,
    Yl2x,
    Yl2xp1,
    Free,
    Incstp,
    Decstp,
    Nop,
    Init,
    Clex,
    Wait,
    /// FNSTSW to AX (no memory operand) or m16.
    Stsw,
    Stcw,
    Ldcw,
    Stenv,
    Ldenv,
    Save,
    Rstor,
    Fxsave,
    Fxrstor,
}

const KINDS: &[Kind] = {
    use Kind::*;
    &[
        Ld, LdConst, St, Isttp, Xch, Cmov, Add, Mul, Sub, Subr, Div, Divr, Com, Ucom, Comi, Ucomi, Tst, Xam, Chs, Abs,
        Sqrt, Rndint, Scale, Prem, Prem1, Xtract, Sin, Cos, Sincos, Ptan, Patan, F2xm1, Yl2x, Yl2xp1, Free, Incstp,
        Decstp, Nop, Init, Clex, Wait, Stsw, Stcw, Ldcw, Stenv, Ldenv, Save, Rstor, Fxsave, Fxrstor,
    ]
};

/// A memory operand's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mem {
    None,
    F32,
    F64,
    F80,
    I16,
    I32,
    I64,
    Bcd,
    /// A control or status word.
    M16,
    /// FNSTENV/FLDENV images, 16- and 32-bit formats.
    Env16,
    Env32,
    /// FNSAVE/FRSTOR images.
    Save16,
    Save32,
    /// FXSAVE/FXRSTOR images, 32- and 64-bit formats.
    Fx32,
    Fx64,
}

const MEMS: &[Mem] = {
    use Mem::*;
    &[None, F32, F64, F80, I16, I32, I64, Bcd, M16, Env16, Env32, Save16, Save32, Fx32, Fx64]
};

impl Mem {
    pub fn size(self) -> usize {
        use Mem::*;
        match self {
            None => 0,
            I16 | M16 => 2,
            F32 | I32 => 4,
            F64 | I64 => 8,
            F80 | Bcd => 10,
            Env16 => 14,
            Env32 => 28,
            Save16 => 94,
            Save32 => 108,
            Fx32 | Fx64 => 512,
        }
    }
}

/// One x87 instruction as lifted code describes it to the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X87Op {
    pub kind: Kind,
    /// The ST(i) operand (other than ST0).
    pub i: u8,
    /// The destination is ST(i) and the source ST0.
    pub rev: bool,
    /// Registers popped afterwards.
    pub pops: u8,
    /// A waiting instruction: #MF first if an exception is pending.
    pub wait: bool,
    pub mem: Mem,
    /// Kind-specific: the constant of `LdConst`, the condition of `Cmov`,
    /// 1 for `St` as FSTP1 (no empty check).
    pub arg: u8,
    /// The x87 opcode (FOP): low 3 bits of the first opcode byte, ModR/M.
    pub fop: u16,
}

impl X87Op {
    pub fn new(kind: Kind) -> X87Op {
        X87Op { kind, i: 0, rev: false, pops: 0, wait: true, mem: Mem::None, arg: 0, fop: 0 }
    }

    pub fn encode(self) -> u64 {
        self.kind as u64
            | (self.i as u64 & 7) << 8
            | (self.rev as u64) << 11
            | (self.pops as u64 & 3) << 12
            | (self.wait as u64) << 14
            | (self.mem as u64 & 15) << 15
            | (self.arg as u64 & 7) << 19
            | (self.fop as u64 & 0x7ff) << 22
    }

    pub fn decode(v: u64) -> Option<X87Op> {
        Some(X87Op {
            kind: *KINDS.get((v & 0xff) as usize)?,
            i: (v >> 8) as u8 & 7,
            rev: v >> 11 & 1 == 1,
            pops: (v >> 12) as u8 & 3,
            wait: v >> 14 & 1 == 1,
            mem: *MEMS.get((v >> 15 & 15) as usize)?,
            arg: (v >> 19) as u8 & 7,
            fop: (v >> 22) as u16 & 0x7ff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        let mut op = X87Op::new(Kind::Fxrstor);
        op.i = 5;
        op.rev = true;
        op.pops = 2;
        op.mem = Mem::Fx64;
        op.arg = 6;
        op.fop = 0x7ff;
        assert_eq!(X87Op::decode(op.encode()), Some(op));
        for k in KINDS {
            assert_eq!(X87Op::decode(X87Op::new(*k).encode()).unwrap().kind, *k);
        }
    }

    #[test]
    fn invalid_encodings_do_not_decode() {
        assert_eq!(X87Op::decode(KINDS.len() as u64), None, "no such kind");
        assert_eq!(X87Op::decode((MEMS.len() as u64) << 15), None, "no such memory format");
    }
}
