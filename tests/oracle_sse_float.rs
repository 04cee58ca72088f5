//! The differential oracle over the SSE float family
//! (`frontend::x86::sse_float`): arithmetic, MIN/MAX, SQRT, compares,
//! conversions (those to and from MMX registers too), MXCSR, SSE3
//! horizontal and ADDSUB, SSE4.1 ROUND DPPS DPPD BLEND INSERTPS EXTRACTPS,
//! with float edge values in every rounding direction, run natively and
//! under visa, compared. Host x86-64 only.
//! `VISA_ORACLE_CASES=N` sets the cases per form (default 200).
//!
//! RCPPS RCPSS RSQRTPS RSQRTSS are approximations whose bits differ between
//! vendors (visa computes them exactly): they are not compared on general
//! inputs, only on the special values the manuals define exactly.
#![cfg(target_arch = "x86_64")]

use iced_x86::code_asm::*;
use iced_x86::{Code, Mnemonic};
use visa::oracle::native::{CODE, DATA, END, Regs};
use visa::oracle::{Case, Tier, assert_forms as run, check};

/// Runs `code` from `regs` over `data` natively and under both tiers,
/// panicking with `what` (the case) on a mismatch.
fn check_both(code: &[u8], regs: Regs, data: Vec<u8>, what: std::fmt::Arguments) {
    let case = Case { code: code.to_vec(), regs, data, undefined_flags: 0, undefined_before: Vec::new() };
    for tier in [Tier::Interp, Tier::Jit] {
        if let Err(e) = check(&case, tier) {
            panic!("{tier:?}, {what}: {e}");
        }
    }
}

#[test]
fn arithmetic() {
    use Mnemonic::*;
    run(&[
        Addps, Addpd, Addss, Addsd, Subps, Subpd, Subss, Subsd, Mulps, Mulpd, Mulss, Mulsd, Divps, Divpd, Divss, Divsd,
        Sqrtps, Sqrtpd, Sqrtss, Sqrtsd,
    ]);
}

#[test]
fn min_max() {
    use Mnemonic::*;
    run(&[Minps, Minpd, Minss, Minsd, Maxps, Maxpd, Maxss, Maxsd]);
}

#[test]
fn compares() {
    use Mnemonic::*;
    run(&[Cmpps, Cmppd, Cmpss, Comiss, Ucomiss, Comisd, Ucomisd]);
    // CMPSD also names the string compare, tested with the string family.
    visa::oracle::assert_codes(&[Code::Cmpsd_xmm_xmmm64_imm8]);
}

#[test]
fn conversions() {
    use Mnemonic::*;
    run(&[
        Cvtsi2ss, Cvtsi2sd, Cvtss2si, Cvtsd2si, Cvttss2si, Cvttsd2si, Cvtss2sd, Cvtsd2ss, Cvtps2pd, Cvtpd2ps, Cvtdq2ps,
        Cvtps2dq, Cvttps2dq, Cvtdq2pd, Cvtpd2dq, Cvttpd2dq,
    ]);
}

/// The conversions to and from MMX registers (CVTPI2PS keeps the upper
/// half of its XMM destination; with a memory source neither CVTPI2PS nor
/// CVTPI2PD touches the x87 state).
#[test]
fn mmx_conversions() {
    use Mnemonic::*;
    run(&[Cvtpi2ps, Cvtpi2pd, Cvtps2pi, Cvttps2pi, Cvtpd2pi, Cvttpd2pi]);
}

#[test]
fn mxcsr() {
    run(&[Mnemonic::Ldmxcsr, Mnemonic::Stmxcsr]);
}

#[test]
fn sse3() {
    use Mnemonic::*;
    run(&[Haddps, Haddpd, Hsubps, Hsubpd, Addsubps, Addsubpd]);
}

#[test]
fn sse41() {
    use Mnemonic::*;
    run(&[Roundps, Roundpd, Roundss, Roundsd, Dpps, Dppd, Blendps, Blendpd, Blendvps, Blendvpd, Insertps, Extractps]);
}

/// Only special inputs (see `oracle::setup_sse_float`): zeros, infinities,
/// NaNs, denormals, negatives (RSQRT) and reciprocals tiny however they
/// are approximated.
#[test]
fn reciprocal_special_values() {
    use Mnemonic::*;
    run(&[Rcpps, Rcpss, Rsqrtps, Rsqrtss]);
}

/// LDMXCSR ends its block: the arithmetic after it, in the same snippet,
/// rounds in the new direction (from every old one). (No STMXCSR after the
/// arithmetic: it would store the exception flags, which are not modelled.)
#[test]
fn ldmxcsr_switches_rounding() {
    let code = {
        let mut a = CodeAssembler::new(64).unwrap();
        a.ldmxcsr(dword_ptr(rdi)).unwrap();
        a.divps(xmm0, xmm1).unwrap();
        a.cvtsd2si(rax, xmm2).unwrap();
        a.sqrtsd(xmm3, xmm3).unwrap();
        a.jmp(END).unwrap();
        a.assemble(CODE).unwrap()
    };
    for old in 0..4u32 {
        for new in 0..4u32 {
            let mut regs = Regs::default();
            regs.gpr[7] = DATA;
            regs.rflags = 0x202;
            regs.fx.set_mxcsr(0x1f80 | old << 13);
            let third = |x: f32| (0..4).fold(0u128, |acc, i| acc | ((x + i as f32).to_bits() as u128) << (32 * i));
            regs.fx.set_xmm(0, third(1.0));
            regs.fx.set_xmm(1, third(3.0) ^ 0x8000_0000);
            regs.fx.set_xmm(2, (-2.5f64).to_bits() as u128);
            regs.fx.set_xmm(3, 2f64.to_bits() as u128);
            let mut data = vec![0u8; 0x100];
            data[..4].copy_from_slice(&(0x1f80 | new << 13).to_le_bytes());
            check_both(&code, regs, data, format_args!("MXCSR.RC {old} to {new}"));
        }
    }
}

/// FTZ flushes a result that is tiny after rounding with an unbounded
/// exponent, which takes in products, quotients, fused multiply-adds and
/// narrowings that the format rounds up to the smallest normal (x86 detects
/// tininess after rounding): operands around the smallest normals, in every
/// rounding direction, with DAZ off and on.
#[test]
fn ftz_flushes_results_rounded_up_to_the_smallest_normal() {
    let code = {
        let mut a = CodeAssembler::new(64).unwrap();
        a.mulpd(xmm0, xmm1).unwrap();
        a.mulss(xmm2, xmm3).unwrap();
        a.divpd(xmm4, xmm5).unwrap();
        a.cvtsd2ss(xmm6, xmm7).unwrap();
        a.vfmadd231pd(xmm8, xmm9, xmm10).unwrap();
        a.mulps(xmm11, xmm12).unwrap();
        a.dpps(xmm13, xmm14, 0xf1).unwrap();
        a.jmp(END).unwrap();
        a.assemble(CODE).unwrap()
    };
    let pair = |lo: f64, hi: f64| lo.to_bits() as u128 | (hi.to_bits() as u128) << 64;
    let quad = |v: [f32; 4]| (0..4).fold(0u128, |acc, i| acc | (v[i].to_bits() as u128) << (32 * i));
    let (dmin, fmin) = (f64::MIN_POSITIVE, f32::MIN_POSITIVE);
    for k in 0..8 {
        let kf = k as f64;
        // Just below 1 (and just above), by steps of half an ulp or less.
        let below = 1.0 - kf * 2f64.powi(-53);
        let above = 1.0 + kf * 2f64.powi(-52);
        let below32 = 1.0 - k as f32 * 2f32.powi(-24);
        for mode in 0..8u32 {
            let (rc, daz) = (mode & 3, mode >> 2);
            let mut regs = Regs { rflags: 0x202, ..Default::default() };
            regs.fx.set_mxcsr(0x9f80 | rc << 13 | daz << 6);
            regs.fx.set_xmm(0, pair(below, -below));
            regs.fx.set_xmm(1, pair(dmin, dmin * above));
            regs.fx.set_xmm(2, quad([below32, 3.0, 0.0, 0.0]));
            regs.fx.set_xmm(3, quad([-fmin, 5.0, 0.0, 0.0]));
            regs.fx.set_xmm(4, pair(dmin, -dmin * below));
            regs.fx.set_xmm(5, pair(above, 1.0 + 2f64.powi(-52)));
            regs.fx.set_xmm(7, pair(fmin as f64 * (1.0 - kf * 2f64.powi(-27)), 0.0));
            regs.fx.set_xmm(8, pair(-(k as f64) * 2f64.powi(-1074), kf * 2f64.powi(-1074)));
            regs.fx.set_xmm(9, pair(below, below));
            regs.fx.set_xmm(10, pair(dmin, -dmin));
            regs.fx.set_xmm(11, quad([below32, -below32, 1.0 - 2f32.powi(-24), fmin]));
            regs.fx.set_xmm(12, quad([fmin, fmin, -fmin, 1.0 - k as f32 * 2f32.powi(-24)]));
            regs.fx.set_xmm(13, quad([below32, 0.0, 0.0, 0.0]));
            regs.fx.set_xmm(14, quad([fmin, 0.0, 0.0, 0.0]));
            check_both(&code, regs, vec![0u8; 0x100], format_args!("k {k}, MXCSR.RC {rc}, DAZ {daz}"));
        }
    }
}

/// An unmasked overflow or underflow (#XM) reports inexact only when the
/// result rounded with an unbounded exponent is inexact, not when only its
/// delivery (to infinity or the largest finite value, or as a denormal)
/// would have lost bits: products, sums, quotients, fused multiply-adds
/// and narrowings that overflow or are tiny, exactly or not, with overflow,
/// underflow or both unmasked, in every rounding direction, FTZ off and on.
#[test]
fn unmasked_overflow_and_underflow_report_inexact_as_the_processor_does() {
    type Emit = fn(&mut CodeAssembler);
    let forms: [(&str, Emit); 8] = [
        ("mulsd", |a| a.mulsd(xmm0, xmm1).unwrap()),
        ("mulpd", |a| a.mulpd(xmm0, xmm1).unwrap()),
        ("addsd", |a| a.addsd(xmm0, xmm1).unwrap()),
        ("divsd", |a| a.divsd(xmm0, xmm1).unwrap()),
        ("mulss", |a| a.mulss(xmm2, xmm3).unwrap()),
        ("cvtsd2ss", |a| a.cvtsd2ss(xmm2, xmm0).unwrap()),
        ("vfmadd231sd", |a| a.vfmadd231sd(xmm0, xmm1, xmm4).unwrap()),
        ("vcvtps2ph", |a| a.vcvtps2ph(xmm5, xmm2, 4).unwrap()),
    ];
    let p2 = |e: i32| 2f64.powi(e);
    let ulp = p2(-52);
    // (xmm0, xmm1) for the f64 forms, each giving: an exact overflow, an
    // inexact one, an exact tiny result that is inexact as a denormal, an
    // exact denormal, and an inexact tiny one.
    let pairs: [(f64, f64); 5] = [
        (p2(1023), 2.0),
        ((1.0 + ulp) * p2(1023), 3.0),
        ((1.0 + ulp) * p2(-1000), p2(-30)),
        (p2(-1000), p2(-30)),
        ((1.0 + ulp) * p2(-1000), 1.0 / 3.0),
    ];
    let f32_of = |x: f64| x as f32;
    let quad = |v: [f32; 4]| (0..4).fold(0u128, |acc, i| acc | (v[i].to_bits() as u128) << (32 * i));
    let mut cases = 0;
    let host_has = |name: &str| match name {
        "vfmadd231sd" => std::arch::is_x86_feature_detected!("fma"),
        "vcvtps2ph" => std::arch::is_x86_feature_detected!("f16c"),
        _ => true,
    };
    let forms: Vec<_> = forms.into_iter().filter(|(name, _)| host_has(name)).collect();
    let run = forms.len();
    for (name, emit) in forms {
        let code = {
            let mut a = CodeAssembler::new(64).unwrap();
            emit(&mut a);
            a.jmp(END).unwrap();
            a.assemble(CODE).unwrap()
        };
        for (i, &(x, y)) in pairs.iter().enumerate() {
            for unmasked in [0x0400u32, 0x0800, 0x0c00] {
                for mode in 0..8u32 {
                    let (rc, ftz) = (mode & 3, mode >> 2);
                    let mut regs = Regs { rflags: 0x202, ..Default::default() };
                    regs.fx.set_mxcsr((0x1f80 & !unmasked) | rc << 13 | ftz << 15);
                    regs.fx.set_xmm(0, x.to_bits() as u128 | (y.to_bits() as u128) << 64);
                    regs.fx.set_xmm(1, y.to_bits() as u128 | (x.to_bits() as u128) << 64);
                    // binary32 (and, through VCVTPS2PH, binary16) operands
                    // at the same distances from their formats' limits.
                    let scale = |v: f64, e: i32| f32_of(v * p2(e));
                    let (xs, ys) = if i < 2 { (scale(x, -896), y as f32) } else { (scale(x, 874), scale(y, 0)) };
                    regs.fx.set_xmm(2, quad([xs, ys, scale(x, -1008), scale(x, 986)]));
                    regs.fx.set_xmm(3, quad([ys, xs, 1.0, 1.0]));
                    regs.fx.set_xmm(4, (-(x * p2(-60))).to_bits() as u128);
                    let what = format_args!("{name}, operands {i}, unmasked {unmasked:#x}, RC {rc}, FTZ {ftz}");
                    check_both(&code, regs, vec![0u8; 0x100], what);
                    cases += 1;
                }
            }
        }
    }
    assert!(run >= 6, "{run} forms the host runs");
    assert_eq!(cases, run * 5 * 3 * 8);
}

/// A 256-bit VDPPS checks each step's exceptions over both halves: an
/// unmasked one stops it after the step that raised it in either half.
/// Here the multiplies raise inexact in the high half (unmasked) and the
/// low half's adds would overflow: the processor stops before the adds,
/// so overflow is never set; with inexact masked, both are.
#[test]
fn vdpps_256_stops_after_the_step_that_raises_an_unmasked_exception() {
    if !std::arch::is_x86_feature_detected!("avx") {
        return;
    }
    let code = {
        let mut a = CodeAssembler::new(64).unwrap();
        a.vdpps(ymm0, ymm1, ymm2, 0xf1).unwrap();
        a.jmp(END).unwrap();
        a.assemble(CODE).unwrap()
    };
    let quad = |v: [f32; 4]| (0..4).fold(0u128, |acc, i| acc | (v[i].to_bits() as u128) << (32 * i));
    let third = 1.0f32 / 3.0;
    for (unmasked, step) in [(0x1000u32, "multiplies"), (0x0400, "adds"), (0, "none")] {
        for order in 0..2 {
            let mut regs = Regs { rflags: 0x202, ..Default::default() };
            regs.fx.set_mxcsr(0x1f80 & !unmasked);
            let (big, small) = (quad([f32::MAX, f32::MAX, 0.0, 0.0]), quad([third, 1.0, 0.0, 0.0]));
            let (ones, threes) = (quad([1.0, 1.0, 0.0, 0.0]), quad([3.0, 1.0, 0.0, 0.0]));
            // The overflowing half low or high, the inexact one the other.
            let (lo, hi) = if order == 0 { ((big, ones), (small, threes)) } else { ((small, threes), (big, ones)) };
            regs.fx.set_xmm(1, lo.0);
            regs.ymmh[1] = hi.0;
            regs.fx.set_xmm(2, lo.1);
            regs.ymmh[2] = hi.1;
            check_both(&code, regs, vec![0u8; 0x100], format_args!("unmasked {unmasked:#x} ({step}), order {order}"));
        }
    }
}
