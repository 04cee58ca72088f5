//! Random SSE-to-SSE4.2, AVX, AVX2, MMX and x87 sequences, with
//! general-purpose instructions among them, under the oracle
//! (`oracle::simd_sequences`). The default runs are short and cover both
//! tiers; the long runs (`cargo test --release --test oracle_simd_sequences
//! -- --ignored`, one of them by name: `long_random_simd_sequences`,
//! `long_random_avx_sequences`) execute `VISA_ORACLE_LONG` instructions
//! (default 1 million) on the tier `VISA_ORACLE_TIER` names (`interp`, the
//! default, or `jit`).
#![cfg(target_arch = "x86_64")]

use std::time::Instant;

use iced_x86::Mnemonic;
use visa::oracle::simd_sequences::SimdForms;
use visa::oracle::{SequenceReport, Tier, long_run, run_avx_sequences, run_simd_sequences};

/// Runs the sequences under `tier`; panics with the failures.
fn run(count: usize, len: usize, seed: u64, tier: Tier) -> SequenceReport {
    checked(run_simd_sequences(count, len, seed, tier, 3), tier)
}

/// Runs the AVX sequences under `tier`; panics with the failures.
fn run_avx(count: usize, len: usize, seed: u64, tier: Tier) -> SequenceReport {
    checked(run_avx_sequences(count, len, seed, tier, 3), tier)
}

fn checked(report: SequenceReport, tier: Tier) -> SequenceReport {
    let failures = &report.failures;
    assert!(failures.is_empty(), "{tier:?}: {} failing sequences:\n{}", failures.len(), failures.join("\n\n"));
    report
}

#[test]
fn random_simd_sequences() {
    for (tier, avx) in [(Tier::Interp, false), (Tier::Jit, false), (Tier::Interp, true), (Tier::Jit, true)] {
        if avx && !std::arch::is_x86_feature_detected!("avx2") {
            assert!(std::env::var_os("CI").is_none(), "CI must run the AVX sequences");
            eprintln!("SKIPPED: the host lacks AVX2; no AVX sequences");
            continue;
        }
        let report = if avx { run_avx(1_000, 12, 0xa1d, tier) } else { run(1_000, 12, 0x51d, tier) };
        assert!(report.sequences >= 990, "{tier:?}: only {} sequences generated", report.sequences);
        assert!(
            report.completed * 4 >= report.instructions * 3,
            "{tier:?}: too many faults: {} of {} instructions completed",
            report.completed,
            report.instructions
        );
    }
}

/// The sequences draw from every family, without the forms the oracle
/// cannot compare exactly.
#[test]
fn forms_cover_the_families() {
    use Mnemonic::*;
    let forms = SimdForms::new();
    let mnemonics = forms.mnemonics();
    for m in [Movaps, Movd, Pshufb, Paddusb, Psrad, Cvttsd2si, Ldmxcsr, Pcmpestri, Fld, Fcomi, Fxrstor64, Sahf, Cmovb] {
        assert!(mnemonics.contains(&m), "{m:?} missing");
    }
    if std::arch::is_x86_feature_detected!("avx2") {
        for m in [Vpcmpeqb, Vpmovmskb, Vpminub, Vptest, Vpbroadcastb, Vzeroupper, Vperm2i128, Vpermd, Vaddps] {
            assert!(mnemonics.contains(&m), "{m:?} missing");
        }
        assert!(forms.avx.len() > 500, "{} AVX forms", forms.avx.len());
    }
    for m in [Rcpps, Rsqrtss, Vrcpps, Vrsqrtss, Vdpps, Fsin, Fpatan, F2xm1, Maskmovdqu, Maskmovq] {
        assert!(!mnemonics.contains(&m), "{m:?} drawn");
    }
    assert!(forms.sse.len() > 250 && forms.x87.len() > 140, "{} SSE, {} x87 forms", forms.sse.len(), forms.x87.len());
    // Every MMX form but MASKMOVQ (102 of 103), EMMS among them.
    let mmx: Vec<_> = forms.mmx.iter().map(|c| c.mnemonic()).collect();
    for m in [Emms, Movq, Movq2dq, Pshufw, Palignr, Punpckhbw, Cvtps2pi, Cvtpi2ps, Pmovmskb, Movntq] {
        assert!(mmx.contains(&m), "MMX {m:?} missing");
    }
    assert_eq!(forms.mmx.len(), 102, "{:?}", forms.mmx);
}

#[test]
#[ignore]
fn long_random_simd_sequences() {
    long(run, "SIMD");
}

#[test]
#[ignore]
fn long_random_avx_sequences() {
    long(run_avx, "AVX");
}

fn long(run: fn(usize, usize, u64, Tier) -> SequenceReport, what: &str) {
    let (total, tier) = long_run(1_000_000);
    let (len, batch) = (16, 2_000);
    let start = Instant::now();
    let mut all = SequenceReport::default();
    let mut seed = 1;
    while all.instructions < total {
        let report = run(batch, len, seed, tier);
        all.sequences += report.sequences;
        all.instructions += report.instructions;
        all.completed += report.completed;
        all.faulted += report.faulted;
        seed += 1;
        eprintln!(
            "oracle {what} long run ({tier:?}): {} / {total} instructions ({} completed, {} of {} sequences \
             faulted), {:.1} s, no mismatch",
            all.instructions,
            all.completed,
            all.faulted,
            all.sequences,
            start.elapsed().as_secs_f64()
        );
    }
}
