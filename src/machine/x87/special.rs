//! The x87 operations beyond the basic arithmetic: FSCALE FPREM FPREM1
//! FXTRACT (exact), and the special cases, stack handling and rounding of
//! the transcendental ones (whose values come from `transcend`).

use rustc_apfloat::ieee::Quad;
use rustc_apfloat::{Float, FloatConvert};

use super::float::{self, Class, Prec, class};
use super::transcend;
use super::{C0, C1, C2, C3, DE, Fpu, IE, INDEFINITE, Kind, PE, UE, ZE};

/// Arguments at or beyond 2^63 are out of range for FSIN FCOS FSINCOS FPTAN.
fn out_of_range(v: u128) -> bool {
    float::exponent_field(v) >= 16383 + 63 && class(v) == Class::Normal
}

impl Fpu<'_> {
    /// Rounds a result to 64 bits; sets C1 and the flags.
    fn deliver(&mut self, r: Quad) -> u128 {
        self.deliver_wide(r.convert(&mut false).value)
    }

    /// Transcendental results of nonzero arguments are reported inexact
    /// unless zero or infinite (as the host does, even for exact ones such
    /// as F2XM1 of -1).
    fn deliver_wide(&mut self, r: float::Wide) -> u128 {
        let r = float::round_ext(r, Prec::P64, self.rc());
        self.flags |= r.flags;
        if self.inexact_always && class(r.value) != Class::Zero && class(r.value) != Class::Infinity {
            self.flags |= PE;
            if class(r.value) == Class::Denormal {
                self.flags |= UE;
            }
        }
        self.set_c1(r.up);
        r.value
    }

    /// FSIN FCOS F2XM1 on a number (not a NaN or unsupported).
    pub(super) fn transcendental1(&mut self, kind: Kind, v: u128) -> u128 {
        let c = class(v);
        match kind {
            Kind::Sin | Kind::Cos if c == Class::Infinity => {
                self.flags |= IE;
                INDEFINITE
            }
            Kind::Sin | Kind::Cos if out_of_range(v) => {
                self.cpu.fsw |= C2;
                v
            }
            Kind::Sin | Kind::Cos => {
                self.cpu.fsw &= !C2;
                self.denormals(&[v]);
                let (s, co) = transcend::sin_cos(float::to_quad(v));
                self.deliver(if kind == Kind::Sin { s } else { co })
            }
            _ => match c {
                Class::Infinity if float::sign(v) => float::neg(float::from_int(1)),
                Class::Infinity | Class::Zero => v,
                _ => {
                    self.denormals(&[v]);
                    self.deliver(transcend::exp2m1(float::to_quad(v)))
                }
            },
        }
    }

    /// FXTRACT FSINCOS FPTAN: replace ST0 and push a second result.
    pub(super) fn pushing(&mut self, kind: Kind) {
        if !self.empty(0) && self.overflows() {
            if kind != Kind::Xtract {
                self.cpu.fsw &= !C2;
            }
            self.put(0, INDEFINITE);
            self.push_raw(INDEFINITE);
            return;
        }
        let Some((v, _)) = self.operands(false) else {
            if kind != Kind::Xtract {
                self.cpu.fsw &= !C2;
            }
            self.put(0, INDEFINITE);
            self.push_raw(INDEFINITE);
            return;
        };
        if kind != Kind::Xtract && out_of_range(v) && !float::is_nan(v) {
            self.cpu.fsw |= C2;
            return;
        }
        if kind != Kind::Xtract {
            self.cpu.fsw &= !C2;
        }
        let (first, second) = match self.special1(v) {
            Some(r) => (r, r),
            None if class(v) == Class::Infinity && kind != Kind::Xtract => {
                self.flags |= IE;
                (INDEFINITE, INDEFINITE)
            }
            None => match kind {
                Kind::Xtract => {
                    self.denormals(&[v]);
                    self.xtract(v)
                }
                Kind::Sincos => {
                    self.denormals(&[v]);
                    let (s, c) = transcend::sin_cos(float::to_quad(v));
                    let s = self.deliver(s);
                    let up = self.cpu.fsw & C1 != 0;
                    let c = self.deliver(c);
                    if up {
                        self.cpu.fsw |= C1;
                    }
                    (s, c)
                }
                _ => {
                    self.denormals(&[v]);
                    let (s, c) = transcend::sin_cos(float::to_quad(v));
                    let t = if float::to_quad(v).is_zero() {
                        float::to_quad(v)
                    } else {
                        s.div_r(c, rustc_apfloat::Round::NearestTiesToEven).value
                    };
                    (self.deliver(t), float::from_int(1))
                }
            },
        };
        self.put(0, first);
        self.push_raw(second);
    }

    /// FXTRACT of a zero, denormal, normal or infinity: (exponent, significand).
    fn xtract(&mut self, v: u128) -> (u128, u128) {
        match class(v) {
            Class::Zero => {
                self.flags |= ZE;
                (float::infinity(true), v)
            }
            Class::Infinity => (float::infinity(false), v),
            _ => {
                let (m, e) = float::unpack(v);
                let sig = float::with_sign(0x3fff_u128 << 64 | m as u128, float::sign(v));
                (float::from_int(e as i64 + 63), sig)
            }
        }
    }

    /// FSCALE FPREM FPREM1 FPATAN FYL2X FYL2XP1: ST0 and ST1.
    pub(super) fn binary_st(&mut self, kind: Kind) {
        let pops = matches!(kind, Kind::Patan | Kind::Yl2x | Kind::Yl2xp1);
        let dest = if pops { 1 } else { 0 };
        let Some((x, y)) = self.operands(true) else {
            if matches!(kind, Kind::Prem | Kind::Prem1) {
                self.cpu.fsw &= !C2;
            }
            self.put(dest, INDEFINITE);
            if pops {
                self.pop();
            }
            return;
        };
        let r = match self.special2(x, y) {
            Some(r) => {
                if matches!(kind, Kind::Prem | Kind::Prem1) {
                    self.cpu.fsw &= !C2;
                }
                r
            }
            None => match kind {
                Kind::Scale => self.scale(x, y),
                Kind::Prem | Kind::Prem1 => self.prem(x, y, kind == Kind::Prem1),
                _ => self.log_atan(kind, x, y),
            },
        };
        self.put(dest, r);
        if pops {
            self.pop();
        }
    }

    /// ST0 * 2^trunc(ST1).
    fn scale(&mut self, x: u128, y: u128) -> u128 {
        let (cx, cy) = (class(x), class(y));
        if cy == Class::Infinity {
            self.denormals(&[x]);
            let invalid = if float::sign(y) { cx == Class::Infinity } else { cx == Class::Zero };
            if invalid {
                self.flags |= IE;
                return INDEFINITE;
            }
            return match cx {
                Class::Zero | Class::Infinity => x,
                _ if float::sign(y) => float::zero(float::sign(x)),
                _ => float::infinity(float::sign(x)),
            };
        }
        self.denormals(&[x, y]);
        if matches!(cx, Class::Zero | Class::Infinity) {
            return x;
        }
        let n = float::to_quad(y).round_to_integral(rustc_apfloat::Round::TowardZero).value;
        let n = if n.is_zero() { 0 } else { n.to_i128(32).value.clamp(-100_000, 100_000) as i32 };
        let r = float::round_ext(float::to_wide(x).scalbn(n), Prec::P64, self.rc());
        self.flags |= r.flags;
        self.set_c1(r.up);
        r.value
    }

    /// The partial remainder of ST0 by ST1, truncating (FPREM) or rounding
    /// to nearest (FPREM1); C0 C3 C1 get quotient bits 2 1 0, C2 is set
    /// when the reduction is incomplete.
    fn prem(&mut self, x: u128, y: u128, nearest: bool) -> u128 {
        let (cx, cy) = (class(x), class(y));
        self.cpu.fsw &= !(C1 | C2);
        if cx == Class::Infinity || cy == Class::Zero {
            self.flags |= IE;
            return INDEFINITE;
        }
        self.cpu.fsw &= !(C0 | C3);
        self.denormals(&[x, y]);
        if cx == Class::Zero || cy == Class::Infinity {
            return float::canonical(x);
        }
        let negative = float::sign(x);
        let ((ma, ea), (mb, eb)) = (float::unpack(x), float::unpack(y));
        let d = ea - eb;
        if d >= 64 {
            // Incomplete: reduce the exponent by n (32 to 63, as AMD documents).
            let n = 32 + d % 32;
            let r = ((ma as u128) << n) % mb as u128;
            self.cpu.fsw |= C2;
            return float::from_wide(float::scaled(r, ea - n, negative));
        }
        if d < -1 || (d == -1 && !nearest) {
            return float::canonical(x);
        }
        let (num, den, exp) =
            if d >= 0 { ((ma as u128) << d, mb as u128, eb) } else { (ma as u128, (mb as u128) << 1, ea) };
        let (mut q, mut r, mut negative) = (num / den, num % den, negative);
        if nearest && (2 * r > den || (2 * r == den && q & 1 == 1)) {
            q += 1;
            r = den - r;
            negative = !negative;
        }
        let bits = [(C0, 4), (C3, 2), (C1, 1)];
        for (c, b) in bits {
            if q & b != 0 {
                self.cpu.fsw |= c;
            }
        }
        if r == 0 {
            return float::zero(float::sign(x));
        }
        float::from_wide(float::scaled(r, exp, negative))
    }

    /// FPATAN FYL2X FYL2XP1 (x = ST0, y = ST1), numbers only.
    fn log_atan(&mut self, kind: Kind, x: u128, y: u128) -> u128 {
        let (qx, qy) = (float::to_quad(x), float::to_quad(y));
        if kind == Kind::Patan {
            self.denormals(&[x, y]);
            return self.deliver(transcend::atan2(qy, qx));
        }
        let l = match kind {
            Kind::Yl2x if float::sign(x) && !qx.is_zero() => None,
            Kind::Yl2x if qx.is_zero() => Some(-Quad::INFINITY),
            Kind::Yl2x if qx.is_infinite() => Some(Quad::INFINITY),
            Kind::Yl2x => Some(transcend::log2(qx)),
            _ if qx.is_infinite() && !qx.is_negative() => Some(qx),
            _ if qx < -Quad::from_u128(1).value || qx.is_infinite() => None,
            _ => Some(transcend::log2_1p(qx)),
        };
        let Some(l) = l else {
            self.flags |= IE;
            return INDEFINITE;
        };
        if l.is_infinite() && qy.is_zero() || l.is_zero() && qy.is_infinite() {
            self.flags |= IE;
            return INDEFINITE;
        }
        if qx.is_zero() && kind == Kind::Yl2x && !qy.is_infinite() {
            self.flags |= ZE;
        }
        if class(x) == Class::Denormal || class(y) == Class::Denormal {
            self.flags |= DE;
        }
        let (wy, wl): (float::Wide, float::Wide) = (qy.convert(&mut false).value, l.convert(&mut false).value);
        self.deliver_wide(wy.mul_r(wl, rustc_apfloat::Round::NearestTiesToEven).value)
    }
}
