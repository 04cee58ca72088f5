//! The x87 FPU (and FXSAVE/FXRSTOR) as the runtime executes it. Lifted code
//! calls one helper, `x87(op, addr, ip)`: `op` is an encoded `X87Op` (what
//! to do, with which operands), `addr` the memory operand's address, `ip`
//! the instruction's address (for FIP). The helper works on a copy of the
//! CPU state: it reads its memory operand first, computes, writes memory,
//! and only then commits the new state, so a fault leaves nothing changed.
//!
//! Exceptions are modelled with their masked responses (the x87 default):
//! the FSW flags are set and, when FCW leaves one unmasked, ES and B too; a
//! waiting instruction raises #MF (vector 16) while ES is set. Unmasked
//! exceptions are not otherwise modelled: the masked result is delivered.
//! FCS and FDS are not kept (stored as 0); FDP is the full address, segment
//! base included.

mod float;
mod image;
mod special;
mod transcend;

use rustc_apfloat::Round;

use crate::abi::{HelperCtx, HelperMemory};
use crate::machine::{CpuState, flag};
use crate::visa::TrapCode;
pub use crate::x87_op::{Kind, Mem, X87Op};
use float::{Class, Ieee, Op, Prec, class};

pub use float::INDEFINITE;

/// FSW bits.
pub const IE: u16 = 1;
pub const DE: u16 = 2;
pub const ZE: u16 = 4;
pub const OE: u16 = 8;
pub const UE: u16 = 0x10;
pub const PE: u16 = 0x20;
pub const SF: u16 = 0x40;
pub const ES: u16 = 0x80;
pub const C0: u16 = 0x100;
pub const C1: u16 = 0x200;
pub const C2: u16 = 0x400;
pub const C3: u16 = 0x4000;
pub const B: u16 = 0x8000;

/// #MF: a pending unmasked x87 exception.
const MF: TrapCode = TrapCode::User(16);
/// #GP.
const GP: TrapCode = TrapCode::User(13);

/// What the runtime needs to know of an operation kind.
impl Kind {
    /// Control instructions leave FIP, FDP and FOP alone.
    fn is_control(self) -> bool {
        use Kind::*;
        matches!(self, Init | Clex | Wait | Stsw | Stcw | Ldcw | Stenv | Ldenv | Save | Rstor | Fxsave | Fxrstor)
    }

    fn writes_memory(self) -> bool {
        use Kind::*;
        matches!(self, St | Isttp | Stsw | Stcw | Stenv | Save | Fxsave)
    }
}

/// The runtime helper: `(op, addr, ip) -> ()`.
pub fn helper(ctx: HelperCtx<'_>, args: &[u128], _results: &mut [u128]) -> Result<(), TrapCode> {
    // Lifted code passes valid encodings; anything else (a hand-written or
    // decoded block) is an invalid instruction, not a crash.
    let op = X87Op::decode(args[0] as u64).ok_or(TrapCode::User(6))?;
    let size = std::mem::size_of::<CpuState>();
    assert!(ctx.state.len() >= size, "x87 helper: state record too small");
    // SAFETY: the state record holds a CpuState (repr(C), integers only, so
    // any bytes are a valid value); read and written unaligned.
    let mut cpu = unsafe { std::ptr::read_unaligned(ctx.state.as_ptr() as *const CpuState) };
    execute(&mut cpu, ctx.mem, op, args[1] as u64, args[2] as u64)?;
    // SAFETY: as above.
    unsafe { std::ptr::write_unaligned(ctx.state.as_mut_ptr() as *mut CpuState, cpu) };
    Ok(())
}

/// Runs one instruction on `cpu`; on an error nothing has been written to
/// memory (and the caller drops `cpu`).
pub fn execute(cpu: &mut CpuState, mem: &mut dyn HelperMemory, op: X87Op, addr: u64, ip: u64) -> Result<(), TrapCode> {
    if op.wait && cpu.fsw & ES != 0 {
        return Err(MF);
    }
    if matches!(op.kind, Kind::Fxsave | Kind::Fxrstor) && addr & 15 != 0 {
        return Err(GP);
    }
    let size = op.mem.size();
    let mut buf = [0u8; 512];
    if size > 0 && !op.kind.writes_memory() {
        mem.read(addr, &mut buf[..size])?;
    }
    let mut f = Fpu { cpu, flags: 0, inexact_always: false };
    let stored = f.run(op, &mut buf)?;
    f.finish();
    if !op.kind.is_control() {
        f.cpu.fip = ip;
        f.cpu.fop = op.fop;
        if op.mem != Mem::None {
            f.cpu.fdp = addr;
        }
    }
    if let Some(n) = stored {
        mem.write(addr, &buf[..n])?;
    }
    Ok(())
}

/// The FXSAVE legacy region XSAVE writes (bytes 0-415, as FXSAVE in the
/// 64-bit format when `wide`, else the 32-bit one).
pub fn legacy_region(cpu: &mut CpuState, wide: bool, buf: &mut [u8]) {
    let mut op = X87Op::new(Kind::Fxsave);
    op.mem = if wide { Mem::Fx64 } else { Mem::Fx32 };
    image::store(cpu, op, buf);
}

/// Loads the x87 and SSE state from an FXSAVE image as FXRSTOR does (#GP
/// for reserved MXCSR bits).
pub fn load_legacy_region(cpu: &mut CpuState, wide: bool, buf: &[u8]) -> Result<(), TrapCode> {
    let mut op = X87Op::new(Kind::Fxrstor);
    op.mem = if wide { Mem::Fx64 } else { Mem::Fx32 };
    image::load(cpu, op, buf)
}

/// FCW's rounding direction.
fn rounding(fcw: u16) -> Round {
    match (fcw >> 10) & 3 {
        0 => Round::NearestTiesToEven,
        1 => Round::TowardNegative,
        2 => Round::TowardPositive,
        _ => Round::TowardZero,
    }
}

/// FCW's precision (the reserved setting 01 acts as 64 bits).
fn precision(fcw: u16) -> Prec {
    match (fcw >> 8) & 3 {
        0 => Prec::P24,
        2 => Prec::P53,
        _ => Prec::P64,
    }
}

/// The constants FLD1 ... FLDZ load, as 100-bit significands made
/// round-to-odd (and their exponents), rounded to 64 bits by RC.
const CONSTANTS: [(u128, i32); 7] = [
    (0x8000000000000000000000000, 0),  // 1
    (0xd49a784bcd1b8afe492bf6ff5, 1),  // log2(10)
    (0xb8aa3b295c17f0bbbe87fed07, 0),  // log2(e)
    (0xc90fdaa22168c234c4c6628b9, 1),  // pi
    (0x9a209a84fbcff7988f8959ac1, -2), // log10(2)
    (0xb17217f7d1cf79abc9e3b3981, -1), // ln(2)
    (0, 0),                            // 0
];

/// The x87 state being changed, and the exception flags raised so far.
struct Fpu<'a> {
    cpu: &'a mut CpuState,
    flags: u16,
    /// Transcendental results count as inexact (the arguments are not zero).
    inexact_always: bool,
}

/// A source operand: its value, and whether it was a denormal in its own
/// format.
#[derive(Clone, Copy)]
struct Operand {
    v: u128,
    denormal: bool,
}

impl Operand {
    fn reg(v: u128) -> Operand {
        Operand { v, denormal: class(v) == Class::Denormal }
    }
}

fn le(buf: &[u8], at: usize, n: usize) -> u64 {
    buf[at..at + n].iter().rev().fold(0, |acc, b| acc << 8 | *b as u64)
}

fn put_le(buf: &mut [u8], at: usize, n: usize, v: u64) {
    for (k, b) in buf[at..at + n].iter_mut().enumerate() {
        *b = (v >> (8 * k)) as u8;
    }
}

impl Fpu<'_> {
    // ---- stack ----

    fn top(&self) -> usize {
        self.cpu.x87_top()
    }

    fn set_top(&mut self, t: usize) {
        self.cpu.fsw = (self.cpu.fsw & !0x3800) | ((t & 7) as u16) << 11;
    }

    fn phys(&self, i: u8) -> usize {
        (self.top() + i as usize) & 7
    }

    fn empty(&self, i: u8) -> bool {
        self.cpu.ftw >> self.phys(i) & 1 == 0
    }

    fn get(&self, i: u8) -> u128 {
        self.cpu.st[self.phys(i)] & float::MASK80
    }

    fn put(&mut self, i: u8, v: u128) {
        let r = self.phys(i);
        self.cpu.st[r] = v & float::MASK80;
        self.cpu.ftw |= 1 << r;
    }

    fn push(&mut self, v: u128) {
        let t = (self.top() + 7) & 7;
        let v = if self.cpu.ftw >> t & 1 == 1 {
            self.flags |= IE | SF;
            self.set_c1(true);
            INDEFINITE
        } else {
            v
        };
        self.set_top(t);
        self.put(0, v);
    }

    fn pop(&mut self) {
        let r = self.phys(0);
        self.cpu.ftw &= !(1 << r);
        self.set_top(self.top() + 1);
    }

    /// Stack underflow: invalid, C1 = 0.
    fn underflow(&mut self) {
        self.flags |= IE | SF;
        self.set_c1(false);
    }

    fn set_c1(&mut self, on: bool) {
        self.cpu.fsw = (self.cpu.fsw & !C1) | if on { C1 } else { 0 };
    }

    /// Sets C3 C2 C0 (C1 cleared).
    fn set_cc(&mut self, c3: bool, c2: bool, c0: bool) {
        let bits = ((c3 as u16) * C3) | ((c2 as u16) * C2) | ((c0 as u16) * C0);
        self.cpu.fsw = (self.cpu.fsw & !(C0 | C1 | C2 | C3)) | bits;
    }

    /// Merges the raised flags into FSW, with ES and B for unmasked ones.
    fn finish(&mut self) {
        self.cpu.fsw |= self.flags;
        if self.flags & !self.cpu.fcw & 0x3f != 0 {
            self.cpu.fsw |= ES | B;
        }
    }

    fn rc(&self) -> Round {
        rounding(self.cpu.fcw)
    }

    fn pops(&mut self, n: u8) {
        for _ in 0..n {
            self.pop();
        }
    }

    // ---- operands ----

    /// A memory operand as an 80-bit value.
    fn load(&mut self, mem: Mem, buf: &[u8]) -> Operand {
        let (v, denormal) = match mem {
            Mem::F32 => float::from_ieee(le(buf, 0, 4), Ieee::Single),
            Mem::F64 => float::from_ieee(le(buf, 0, 8), Ieee::Double),
            Mem::F80 => return Operand::reg(u128::from_le_bytes(pad16(buf))),
            Mem::I16 => (float::from_int(le(buf, 0, 2) as i16 as i64), false),
            Mem::I32 => (float::from_int(le(buf, 0, 4) as i32 as i64), false),
            Mem::I64 => (float::from_int(le(buf, 0, 8) as i64), false),
            Mem::Bcd => (float::from_bcd(buf[..10].try_into().unwrap()), false),
            m => unreachable!("x87 load of {m:?}"),
        };
        Operand { v, denormal }
    }

    /// The source operand of a two-operand instruction: memory, or ST(i)
    /// (`None` when empty).
    fn source(&mut self, op: X87Op, buf: &[u8]) -> Option<Operand> {
        match op.mem {
            Mem::None if self.empty(op.i) => None,
            Mem::None => Some(Operand::reg(self.get(op.i))),
            m => Some(self.load(m, buf)),
        }
    }

    // ---- arithmetic ----

    /// `a op b` with the x87's special cases; sets C1.
    fn binary(&mut self, a: Operand, b: Operand, op: Op) -> u128 {
        let (x, y) = (a.v, b.v);
        let (cx, cy) = (class(x), class(y));
        self.set_c1(false);
        if cx == Class::Unsupported || cy == Class::Unsupported {
            self.flags |= IE;
            return INDEFINITE;
        }
        if float::is_nan(x) || float::is_nan(y) {
            self.flags |= float::invalid_operand(x) | float::invalid_operand(y);
            return float::propagate(x, y);
        }
        let (ix, iy) = (cx == Class::Infinity, cy == Class::Infinity);
        let (zx, zy) = (cx == Class::Zero, cy == Class::Zero);
        let differ = float::sign(x) != float::sign(y);
        let invalid = match op {
            Op::Add => ix && iy && differ,
            Op::Sub => ix && iy && !differ,
            Op::Mul => (zx && iy) || (ix && zy),
            Op::Div => (zx && zy) || (ix && iy),
        };
        if invalid {
            self.flags |= IE;
            return INDEFINITE;
        }
        if op == Op::Div && zy && !ix {
            self.flags |= ZE;
            return float::infinity(differ);
        }
        if a.denormal || b.denormal {
            self.flags |= DE;
        }
        let r = float::arith(x, y, op, precision(self.cpu.fcw), self.rc());
        self.flags |= r.flags;
        self.set_c1(r.up);
        r.value
    }

    fn arith(&mut self, op: X87Op, buf: &[u8]) {
        let dest = if op.rev { op.i } else { 0 };
        let src =
            if op.rev { Some(Operand::reg(self.get(0))).filter(|_| !self.empty(0)) } else { self.source(op, buf) };
        let result = match (src, self.empty(dest)) {
            (Some(s), false) => {
                let d = Operand::reg(self.get(dest));
                let (a, b, f) = match op.kind {
                    Kind::Add => (d, s, Op::Add),
                    Kind::Mul => (d, s, Op::Mul),
                    Kind::Sub => (d, s, Op::Sub),
                    Kind::Subr => (s, d, Op::Sub),
                    Kind::Div => (d, s, Op::Div),
                    _ => (s, d, Op::Div),
                };
                self.binary(a, b, f)
            }
            _ => {
                self.underflow();
                INDEFINITE
            }
        };
        self.put(dest, result);
        self.pops(op.pops);
    }

    /// Compares; `None` is unordered. Signals invalid for any NaN when
    /// `ordered`, else only for signalling ones.
    fn compare(&mut self, a: Operand, b: Operand, ordered: bool) -> Option<std::cmp::Ordering> {
        let (ca, cb) = (class(a.v), class(b.v));
        if ca == Class::Unsupported || cb == Class::Unsupported {
            self.flags |= IE;
            return None;
        }
        if float::is_nan(a.v) || float::is_nan(b.v) {
            self.flags |= if ordered { IE } else { float::invalid_operand(a.v) | float::invalid_operand(b.v) };
            return None;
        }
        if a.denormal || b.denormal {
            self.flags |= DE;
        }
        float::to_quad(a.v).partial_cmp(&float::to_quad(b.v))
    }

    fn com(&mut self, op: X87Op, buf: &[u8]) {
        use std::cmp::Ordering::*;
        let ordered = matches!(op.kind, Kind::Com | Kind::Comi | Kind::Tst);
        let src = if op.kind == Kind::Tst { Some(Operand::reg(0)) } else { self.source(op, buf) };
        let r = match src {
            Some(s) if !self.empty(0) => {
                let a = Operand::reg(self.get(0));
                self.compare(a, s, ordered)
            }
            _ => {
                self.underflow();
                None
            }
        };
        let (c3, c2, c0) = match r {
            Some(Greater) => (false, false, false),
            Some(Less) => (false, false, true),
            Some(Equal) => (true, false, false),
            None => (true, true, true),
        };
        if matches!(op.kind, Kind::Comi | Kind::Ucomi) {
            // All six are written: deferred ones are dropped, not settled.
            self.cpu.cc_op = 0;
            let f = &mut self.cpu.flags;
            (f[flag::ZF], f[flag::PF], f[flag::CF]) = (c3 as u8, c2 as u8, c0 as u8);
            (f[flag::OF], f[flag::SF], f[flag::AF]) = (0, 0, 0);
        } else {
            self.set_cc(c3, c2, c0);
        }
        self.pops(op.pops);
    }

    // ---- loads and stores ----

    /// True when a push would overflow the stack: then invalid, C1 = 1.
    fn overflows(&mut self) -> bool {
        let t = (self.top() + 7) & 7;
        let full = self.cpu.ftw >> t & 1 == 1;
        if full {
            self.flags |= IE | SF;
            self.set_c1(true);
        }
        full
    }

    /// Pushes without the overflow check.
    fn push_raw(&mut self, v: u128) {
        self.set_top(self.top() + 7);
        self.put(0, v);
    }

    fn ld(&mut self, op: X87Op, buf: &[u8]) {
        self.set_c1(false);
        let overflow = self.overflows();
        let v = match op.mem {
            Mem::None if self.empty(op.i) => {
                self.underflow();
                INDEFINITE
            }
            _ if overflow => INDEFINITE,
            Mem::None => self.get(op.i),
            m => {
                let s = self.load(m, buf);
                if matches!(m, Mem::F32 | Mem::F64) {
                    if class(s.v) == Class::SNan {
                        self.flags |= IE;
                    }
                    if s.denormal {
                        self.flags |= DE;
                    }
                    if float::is_nan(s.v) { float::quiet(s.v) } else { s.v }
                } else {
                    s.v
                }
            }
        };
        self.push_raw(v);
    }

    fn ld_const(&mut self, which: u8) {
        let (sig, exp) = CONSTANTS[which as usize];
        let r = float::round_ext(float::scaled(sig, exp - 99, false), Prec::P64, self.rc());
        self.set_c1(false);
        self.push(r.value);
    }

    /// Stores ST0 to memory in `buf`; returns the bytes written.
    fn st(&mut self, op: X87Op, buf: &mut [u8]) -> Option<usize> {
        if op.mem == Mem::None && op.arg == 1 {
            // FSTP1 (D9 D8+i): an empty ST0 is popped with no store and no fault.
            if !self.empty(0) {
                let v = self.get(0);
                self.put(op.i, v);
            }
            self.set_c1(false);
            self.pops(op.pops);
            return None;
        }
        if op.mem == Mem::None {
            let v = if self.empty(0) {
                self.underflow();
                INDEFINITE
            } else {
                self.set_c1(false);
                self.get(0)
            };
            self.put(op.i, v);
            self.pops(op.pops);
            return None;
        }
        let v = if self.empty(0) {
            self.underflow();
            None
        } else {
            self.set_c1(false);
            Some(self.get(0))
        };
        let rc = if op.kind == Kind::Isttp { Round::TowardZero } else { self.rc() };
        let n = op.mem.size();
        match op.mem {
            Mem::F80 => buf[..10].copy_from_slice(&v.unwrap_or(INDEFINITE).to_le_bytes()[..10]),
            Mem::F32 | Mem::F64 => {
                let fmt = if op.mem == Mem::F32 { Ieee::Single } else { Ieee::Double };
                let bits = self.store_ieee(v.unwrap_or(INDEFINITE), fmt, rc);
                put_le(buf, 0, n, bits);
            }
            Mem::I16 | Mem::I32 | Mem::I64 => {
                let bits = n as u32 * 8;
                let r = v.and_then(|v| float::to_int(v, bits, rc));
                let value = match r {
                    Some(r) => {
                        self.flags |= r.flags;
                        self.set_c1(r.up);
                        r.value as u64
                    }
                    None => {
                        self.flags |= IE;
                        1u64 << (bits - 1)
                    }
                };
                put_le(buf, 0, n, value);
            }
            Mem::Bcd => {
                let r = v
                    .and_then(|v| float::to_int(v, 64, rc))
                    .filter(|r| r.value.unsigned_abs() < 1_000_000_000_000_000_000);
                let bytes = match (r, v) {
                    (Some(r), Some(v)) => {
                        self.flags |= r.flags;
                        self.set_c1(r.up);
                        float::to_bcd(r.value.unsigned_abs(), float::sign(v))
                    }
                    _ => {
                        self.flags |= IE;
                        float::BCD_INDEFINITE
                    }
                };
                buf[..10].copy_from_slice(&bytes);
            }
            m => unreachable!("x87 store to {m:?}"),
        }
        self.pops(op.pops);
        Some(n)
    }

    /// ST0 converted to single or double.
    fn store_ieee(&mut self, v: u128, fmt: Ieee, rc: Round) -> u64 {
        match class(v) {
            Class::QNan | Class::SNan => {
                self.flags |= float::invalid_operand(v);
                float::nan_to_ieee(v, fmt)
            }
            Class::Unsupported => {
                self.flags |= IE;
                float::nan_to_ieee(INDEFINITE, fmt)
            }
            _ => {
                // (No DE for a denormal source on the host.)
                let r = float::to_ieee(v, fmt, rc);
                self.flags |= r.flags;
                self.set_c1(r.up);
                r.value
            }
        }
    }

    fn xch(&mut self, i: u8) {
        self.set_c1(false);
        for r in [0, i] {
            if self.empty(r) {
                self.underflow();
                self.put(r, INDEFINITE);
            }
        }
        let (a, b) = (self.get(0), self.get(i));
        self.put(0, b);
        self.put(i, a);
    }

    fn cmov(&mut self, op: X87Op) {
        let f = self.cpu.flag_values();
        let (cf, zf, pf) = (f[flag::CF] & 1 == 1, f[flag::ZF] & 1 == 1, f[flag::PF] & 1 == 1);
        let c = match op.arg & 3 {
            0 => cf,
            1 => zf,
            2 => cf || zf,
            _ => pf,
        } != (op.arg & 4 != 0);
        if self.empty(0) || self.empty(op.i) {
            self.underflow();
            self.put(0, INDEFINITE);
            return;
        }
        if c {
            let v = self.get(op.i);
            self.put(0, v);
        }
    }

    // ---- one-operand arithmetic on ST0 ----

    /// The common prologue of operations on ST0 (and ST1 when `two`):
    /// `None` after a stack underflow.
    fn operands(&mut self, two: bool) -> Option<(u128, u128)> {
        if self.empty(0) || (two && self.empty(1)) {
            self.underflow();
            return None;
        }
        self.set_c1(false);
        Some((self.get(0), if two { self.get(1) } else { 0 }))
    }

    /// NaN and unsupported operands of a one-operand operation: the result
    /// if the operand is one of them.
    fn special1(&mut self, v: u128) -> Option<u128> {
        match class(v) {
            Class::Unsupported => {
                self.flags |= IE;
                Some(INDEFINITE)
            }
            Class::QNan | Class::SNan => {
                self.flags |= float::invalid_operand(v);
                Some(float::quiet(v))
            }
            _ => None,
        }
    }

    /// DE for denormal operands (once no invalid case applies).
    fn denormals(&mut self, values: &[u128]) {
        if values.iter().any(|v| class(*v) == Class::Denormal) {
            self.flags |= DE;
        }
    }

    /// The same for two operands.
    fn special2(&mut self, a: u128, b: u128) -> Option<u128> {
        if class(a) == Class::Unsupported || class(b) == Class::Unsupported {
            self.flags |= IE;
            return Some(INDEFINITE);
        }
        if float::is_nan(a) || float::is_nan(b) {
            self.flags |= float::invalid_operand(a) | float::invalid_operand(b);
            return Some(float::propagate(a, b));
        }
        None
    }

    fn unary(&mut self, kind: Kind) {
        if matches!(kind, Kind::Sin | Kind::Cos) {
            self.cpu.fsw &= !C2;
        }
        let Some((v, _)) = self.operands(false) else {
            self.put(0, INDEFINITE);
            return;
        };
        let r = match kind {
            Kind::Chs => float::neg(v),
            Kind::Abs => float::abs(v),
            _ => match self.special1(v) {
                Some(r) => r,
                None => self.unary_value(kind, v),
            },
        };
        self.put(0, r);
    }

    fn unary_value(&mut self, kind: Kind, v: u128) -> u128 {
        let c = class(v);
        let neg = float::sign(v);
        match kind {
            Kind::Sqrt => match c {
                Class::Zero => v,
                _ if neg => {
                    self.flags |= IE;
                    INDEFINITE
                }
                Class::Infinity => v,
                _ => {
                    self.denormals(&[v]);
                    let r = float::sqrt(v, precision(self.cpu.fcw), self.rc());
                    self.flags |= r.flags;
                    self.set_c1(r.up);
                    r.value
                }
            },
            Kind::Rndint => match c {
                Class::Zero | Class::Infinity => v,
                _ => {
                    self.denormals(&[v]);
                    let r = float::round_integral(v, self.rc());
                    self.flags |= r.flags;
                    self.set_c1(r.up);
                    r.value
                }
            },
            _ => self.transcendental1(kind, v),
        }
    }

    fn tst_xam(&mut self, kind: Kind) {
        if kind == Kind::Tst {
            return self.com(X87Op::new(Kind::Tst), &[]);
        }
        let v = self.get(0);
        let (c3, c2, c0) = if self.empty(0) {
            (true, false, true)
        } else {
            match class(v) {
                Class::Unsupported => (false, false, false),
                Class::QNan | Class::SNan => (false, false, true),
                Class::Normal => (false, true, false),
                Class::Infinity => (false, true, true),
                Class::Zero => (true, false, false),
                Class::Denormal => (true, true, false),
            }
        };
        self.set_cc(c3, c2, c0);
        self.set_c1(float::sign(v));
    }

    fn run(&mut self, op: X87Op, buf: &mut [u8; 512]) -> Result<Option<usize>, TrapCode> {
        use Kind::*;
        let arg = if matches!(op.kind, Patan | Yl2x | Yl2xp1) { 1 } else { 0 };
        self.inexact_always = class(self.get(arg)) != Class::Zero;
        match op.kind {
            Ld => self.ld(op, buf),
            LdConst => self.ld_const(op.arg),
            St | Isttp => return Ok(self.st(op, buf)),
            Xch => self.xch(op.i),
            Cmov => self.cmov(op),
            Add | Mul | Sub | Subr | Div | Divr => self.arith(op, buf),
            Com | Ucom | Comi | Ucomi => self.com(op, buf),
            Tst | Xam => self.tst_xam(op.kind),
            Chs | Abs | Sqrt | Rndint | Sin | Cos | F2xm1 => self.unary(op.kind),
            Scale | Prem | Prem1 | Patan | Yl2x | Yl2xp1 => self.binary_st(op.kind),
            Xtract | Sincos | Ptan => self.pushing(op.kind),
            Free => {
                self.set_c1(false);
                let r = self.phys(op.i);
                self.cpu.ftw &= !(1 << r);
                self.pops(op.pops);
            }
            Incstp | Decstp => {
                let t = self.top() + if op.kind == Incstp { 1 } else { 7 };
                self.set_top(t);
                self.set_c1(false);
            }
            Nop | Wait => {}
            Init => {
                let c = &mut *self.cpu;
                (c.fcw, c.fsw, c.ftw, c.fip, c.fdp, c.fop) = (0x037f, 0, 0, 0, 0, 0);
            }
            Clex => self.cpu.fsw &= 0x7f00,
            Stsw | Stcw => {
                let v = if op.kind == Stsw { self.cpu.fsw } else { self.cpu.fcw };
                if op.mem == Mem::None {
                    self.cpu.gpr[0] = (self.cpu.gpr[0] & !0xffff) | v as u64;
                    return Ok(None);
                }
                put_le(buf, 0, 2, v as u64);
                return Ok(Some(2));
            }
            Ldcw => {
                self.cpu.fcw = image::control_word(le(buf, 0, 2) as u16);
                image::update_es(self.cpu);
            }
            Stenv | Save | Fxsave => return Ok(Some(image::store(self.cpu, op, buf))),
            Ldenv | Rstor | Fxrstor => image::load(self.cpu, op, buf)?,
        }
        Ok(None)
    }
}

fn pad16(buf: &[u8]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..10].copy_from_slice(&buf[..10]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::GuestMemory;

    #[test]
    fn constants_round_by_rc() {
        let mut cpu = CpuState::default();
        let mut mem = GuestMemory::new(4096).unwrap();
        let mut op = X87Op::new(Kind::LdConst);
        op.arg = 3;
        execute(&mut cpu, &mut mem, op, 0, 0).unwrap();
        assert_eq!(cpu.st(0), 0x4000_c90f_daa2_2168_c235);
        cpu.fcw |= 0x400;
        execute(&mut cpu, &mut mem, op, 0, 0).unwrap();
        assert_eq!(cpu.st(0), 0x4000_c90f_daa2_2168_c234);
    }
}
