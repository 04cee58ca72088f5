//! The differential oracle: a snippet of x86-64 code runs on the host CPU
//! and under visa from the same registers, flags and memory, and everything
//! the architecture defines must come out the same, faults included.
//! Host x86-64 only.

pub mod accuracy;
pub mod cases;
pub mod native;
pub mod sequences;
mod setup;
mod setup_atomic;
mod setup_avx;
mod setup_bits;
mod setup_crypto;
mod setup_f16c;
mod setup_fma;
mod setup_mmx;
mod setup_muldiv;
mod setup_shift;
mod setup_sse4;
mod setup_sse_float;
mod setup_sse_int;
mod setup_sse_move;
mod setup_string;
mod setup_system;
mod setup_x87;

pub use setup_crypto::FAMILY as CRYPTO_FAMILY;
pub use setup_system::FS_GS_STACK;
pub mod simd_sequences;
mod simd_values;
mod vendors;
pub use vendors::host_runs_as_visa;

use std::fmt::Write;

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use crate::engine::{Engine, EngineKind, Fault as EngineFault, Stop as EngineStop};
use crate::frontend::x86::{Mode, X86Env, lift_block};
use crate::machine::x86rt::{NoPorts, X86Runtime};
use crate::machine::{CpuState, GPR_NAMES, GuestMemory};
use crate::visa::{ExitReason, text};
use native::{CODE, DATA, DATA_SIZE, END, End, FxImage, Native, Regs};

/// RFLAGS bits the oracle compares: CF PF AF ZF SF OF DF.
pub const COMPARED_FLAGS: u64 = 0x0cd5;

/// One test: code placed at `native::CODE`, initial registers and data.
#[derive(Clone, Debug)]
pub struct Case {
    pub code: Vec<u8>,
    pub regs: Regs,
    pub data: Vec<u8>,
    /// Flags whose final value the architecture leaves undefined.
    pub undefined_flags: u64,
    /// For multi-instruction cases: the undefined flags before each
    /// instruction, by address, for a fault that stops the case there.
    pub undefined_before: Vec<(u64, u64)>,
}

/// Results a case does not compare exactly (derived from its instructions:
/// `setup_x87::leeway`).
#[derive(Clone, Debug, Default)]
pub struct Leeway {
    /// Data bytes `(address, length)` not compared: fields the host fills
    /// in its own way (FXSAVE's MXCSR_MASK).
    pub data: Vec<(u64, usize)>,
    /// ST registers may differ by this many units in the last place, and
    /// FSW's C1 (rounded up) may differ: x87 transcendental results, which
    /// visa does not compute bit-exactly.
    pub st_ulps: u64,
}

/// The execution tiers the oracle can check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Interp,
    /// Every block compiled to host code.
    Jit,
}

/// How a visa run ended, in the terms of a native run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Completed,
    /// An x86 exception vector at a guest RIP (for #BP, the RIP after it).
    Fault {
        vector: u64,
        rip: u64,
    },
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Completed => f.write_str("completed"),
            Stop::Fault { vector, rip } => write!(f, "exception {vector} at {rip:#x}"),
        }
    }
}

/// Disassembly of a snippet, one instruction a line.
pub fn disassemble(code: &[u8], addr: u64) -> String {
    let mut out = String::new();
    let mut fmt = IntelFormatter::new();
    for insn in Decoder::with_ip(64, code, addr, DecoderOptions::NONE) {
        let mut s = String::new();
        fmt.format(&insn, &mut s);
        let _ = writeln!(out, "  {:#x}: {s}", insn.ip());
    }
    out
}

/// The code page as both runs see it: the snippet, int3 filler, and an
/// `int3` at `END` that tells visa the snippet is done (natively, `END`
/// jumps back to the harness).
fn load_code(mem: &mut GuestMemory, code: &[u8]) -> Result<(), String> {
    mem.write_bytes(CODE, &[0xcc; native::CODE_SIZE as usize]).map_err(|e| e.to_string())?;
    mem.write_bytes(CODE, code).map_err(|e| e.to_string())?;
    mem.write_bytes(END, &[0xcc]).map_err(|e| e.to_string())
}

/// Runs a case under visa; returns the final state, the data and the stop.
pub fn run_visa(case: &Case, tier: Tier) -> Result<(CpuState, Vec<u8>, Stop), String> {
    let mut mem = GuestMemory::new(DATA + DATA_SIZE).map_err(|e| e.to_string())?;
    load_code(&mut mem, &case.code)?;
    mem.write_bytes(DATA, &case.data).map_err(|e| e.to_string())?;
    // Snippets run in user mode natively: so do they under visa, as Linux
    // starts a process (CS RPL 3, its selectors and control registers).
    let mut cpu = CpuState {
        gpr: case.regs.gpr,
        seg: crate::system::linux::USER_SELECTORS,
        cr4: crate::machine::CR4_FSGSBASE | CpuState::long_mode(0).cr4,
        ymmh: case.regs.ymmh,
        ..CpuState::long_mode(CODE)
    };
    cpu.seg[4..6].copy_from_slice(&case.regs.seg[4..6]);
    (cpu.fs_base, cpu.gs_base) = (case.regs.fs_base, case.regs.gs_base);
    cpu.fxrstor_image(&case.regs.fx.0);
    cpu.set_rflags(case.regs.rflags | 0x202);
    cpu.rip = CODE;
    let mut engine = Engine::with_kind(match tier {
        Tier::Interp => EngineKind::Interp,
        Tier::Jit => EngineKind::Jit,
    });
    let mut helpers = X86Runtime::new(NoPorts, &X86Env::get().env).with_tables(&crate::machine::segments::LINUX);
    let stop = match engine.run(&mut cpu, &mut mem, &mut helpers, 1_000_000) {
        EngineStop::Exit(ExitReason::Breakpoint) if cpu.rip == END + 1 => {
            cpu.rip = END;
            Stop::Completed
        }
        EngineStop::Exit(ExitReason::Breakpoint) => Stop::Fault { vector: 3, rip: cpu.rip },
        EngineStop::Fault(f) => Stop::Fault { vector: native_vector(&f), rip: f.rip },
        other => return Err(format!("unexpected stop {other:?} at {:#x}", cpu.rip)),
    };
    let mut data = vec![0u8; case.data.len()];
    mem.read_bytes(DATA, &mut data).map_err(|e| e.to_string())?;
    Ok((cpu, data, stop))
}

/// The vector a native run raises for a visa fault: outside guest memory at
/// a non-canonical address, natively an access is a #GP, not a #PF.
fn native_vector(f: &EngineFault) -> u64 {
    let canonical = |a: u64| ((a as i64) << 16 >> 16) as u64 == a;
    match f.addr {
        Some(a) if f.vector == 14 && !canonical(a) => 13,
        _ => f.vector as u64,
    }
}

fn native_stop(end: End) -> Stop {
    match end {
        End::Completed => Stop::Completed,
        End::Fault { vector, rip, .. } => Stop::Fault { vector, rip },
    }
}

/// Runs a case natively and under visa; returns how both ended, or
/// describes every difference.
pub fn check(case: &Case, tier: Tier) -> Result<Stop, String> {
    let (native_regs, native_data, native_end) = {
        let mut guard = Native::lock();
        guard.as_mut().expect("executor mapped").run(&case.code, &case.data, &case.regs)
    };
    let (cpu, data, stop) = run_visa(case, tier)?;
    let mut diffs = Vec::new();
    let want_stop = native_stop(native_end);
    if stop != want_stop {
        diffs.push(format!("stop: native {want_stop}, visa {stop}"));
    }
    let vendor = vendors::leeway(&case.code);
    for (i, (name, (n, v))) in GPR_NAMES.iter().zip(native_regs.gpr.iter().zip(&cpu.gpr)).enumerate() {
        if !vendors::gpr_agrees(vendor, i, *n, *v) {
            diffs.push(format!("{name}: native {n:#x}, visa {v:#x}"));
        }
    }
    diffs.extend(segment_differences(&native_regs, &cpu));
    let undefined = match want_stop {
        Stop::Fault { rip, .. } => {
            case.undefined_before.iter().find(|(at, _)| *at == rip).map_or(case.undefined_flags, |(_, m)| *m)
        }
        Stop::Completed => case.undefined_flags,
    };
    let mask = COMPARED_FLAGS & !undefined;
    let (nf, vf) = (native_regs.rflags & mask, cpu.rflags() & mask);
    if nf != vf {
        let names: Vec<_> = crate::machine::FLAGS
            .iter()
            .filter(|(_, bit)| (nf ^ vf) >> bit & 1 == 1)
            .map(|(n, bit)| format!("{n} native {} visa {}", nf >> bit & 1, vf >> bit & 1))
            .collect();
        diffs.push(format!("flags: {}", names.join(", ")));
    }
    let leeway = setup_x87::leeway(&case.code, &case.regs);
    let (mut native_fx, visa_fx) = (native_regs.fx, FxImage(cpu.fxsave_image()));
    if let Stop::Fault { rip, .. } = want_stop {
        vendors::mmx_store_fault(&case.code, rip, &mut native_fx, &visa_fx);
    }
    diffs.extend(fp_differences(&native_fx, &visa_fx, leeway.st_ulps, vendor));
    if native::host_has_avx() {
        for (i, (n, v)) in native_regs.ymmh.iter().zip(&cpu.ymmh).enumerate() {
            if !vendors::xmm_agrees(vendor, *n, *v) {
                diffs.push(format!("ymm{i} upper: native {n:#034x}, visa {v:#034x}"));
            }
        }
    }
    let (mut native_data, mut data) = (native_data, data);
    for &(at, len) in &leeway.data {
        let at = (at - DATA) as usize;
        native_data[at..at + len].fill(0);
        data[at..at + len].fill(0);
    }
    // Compared on faults too: what ran before the faulting instruction is
    // committed, and the faulting instruction commits nothing.
    if native_data != data {
        let at = native_data.iter().zip(&data).position(|(a, b)| a != b).unwrap_or(0);
        diffs.push(format!(
            "data at {:#x}: native {:02x?}, visa {:02x?}",
            DATA + at as u64,
            &native_data[at..(at + 8).min(data.len())],
            &data[at..(at + 8).min(data.len())]
        ));
    }
    if diffs.is_empty() {
        return Ok(want_stop);
    }
    let mut report = format!("mismatch:\n{}\ncode:\n{}", diffs.join("\n"), disassemble(&case.code, CODE));
    let regs: Vec<_> = (0..16).map(|i| format!("{}={:#x}", GPR_NAMES[i], case.regs.gpr[i])).collect();
    let _ = writeln!(report, "input: {} rflags={:#x}", regs.join(" "), case.regs.rflags);
    let fx = &case.regs.fx.0;
    if fx[..8] != FxImage::default().0[..8] {
        let st: Vec<_> =
            (0..8).map(|i| format!("{:#022x}", u128::from_le_bytes(pad16(&fx[32 + 16 * i..42 + 16 * i])))).collect();
        let _ = writeln!(
            report,
            "x87: fcw={:#06x} fsw={:#06x} ftw={:#04x} st={}",
            u16::from_le_bytes([fx[0], fx[1]]),
            u16::from_le_bytes([fx[2], fx[3]]),
            fx[4],
            st.join(" ")
        );
    }
    let mut mem = GuestMemory::new(END + 16).map_err(|e| e.to_string())?;
    load_code(&mut mem, &case.code)?;
    if let Ok(lifted) = lift_block(&mem, CODE, Mode { user: true, ..Mode::from_mxcsr(case.regs.fx.mxcsr()) }) {
        report += &text::print_block(&X86Env::get().env, &lifted.block);
    }
    Err(report)
}

/// Differences in the segment selectors, and in the FS and GS bases where
/// the host lets the harness read them. A return to CPL 3 through IRET
/// turns a null selector with a nonzero RPL in ES DS FS GS into 0, and the
/// native run takes one after a fault (the signal handler's return) and
/// after any interrupt that lands in it (a timer tick on a busy host): the
/// RPL of a null selector cannot be observed natively, so any null
/// selector matches any.
fn segment_differences(native: &Regs, cpu: &CpuState) -> Vec<String> {
    const NAMES: [&str; 6] = ["es", "cs", "ss", "ds", "fs", "gs"];
    let null = |i: usize, s: u16| i != 1 && i != 2 && s & !3 == 0;
    let mut diffs: Vec<String> = (0..6)
        .filter(|&i| native.seg[i] != cpu.seg[i] && !(null(i, native.seg[i]) && null(i, cpu.seg[i])))
        .map(|i| format!("{}: native {:#x}, visa {:#x}", NAMES[i], native.seg[i], cpu.seg[i]))
        .collect();
    if native::host_has_fsgsbase() {
        for (name, n, v) in [("fs base", native.fs_base, cpu.fs_base), ("gs base", native.gs_base, cpu.gs_base)] {
            if n != v {
                diffs.push(format!("{name}: native {n:#x}, visa {v:#x}"));
            }
        }
    }
    diffs
}

/// Differences in the x87 and SSE state. The x87 last-instruction pointers
/// (FOP, FIP, FDP) are not compared: processors differ on when they save them
/// (the host, an AMD, saves them only while an exception is pending). ST
/// registers may differ by `st_ulps` units in the last place, and then C1
/// too. MXCSR is compared whole, its exception flags included.
fn fp_differences(native: &FxImage, visa: &FxImage, st_ulps: u64, vendor: vendors::VendorLeeway) -> Vec<String> {
    let mut diffs = Vec::new();
    for i in 0..16 {
        if !vendors::xmm_agrees(vendor, native.xmm(i), visa.xmm(i)) {
            diffs.push(format!("xmm{i}: native {:#034x}, visa {:#034x}", native.xmm(i), visa.xmm(i)));
        }
    }
    let (nm, vm) = (native.mxcsr(), visa.mxcsr());
    if nm != vm {
        diffs.push(format!("mxcsr: native {nm:#x}, visa {vm:#x}"));
    }
    let fields: [(&str, std::ops::Range<usize>); 3] = [("fcw", 0..2), ("fsw", 2..4), ("ftw", 4..5)];
    let c1_mask = if st_ulps > 0 { !0x0200u16 } else { !0 };
    let masked = |img: &FxImage, r: &std::ops::Range<usize>| -> Vec<u8> {
        let mut b = img.0[r.clone()].to_vec();
        if r.start == 2 {
            b.iter_mut().zip(c1_mask.to_le_bytes()).for_each(|(x, m)| *x &= m);
        }
        b
    };
    for (name, r) in fields {
        if masked(native, &r) != masked(visa, &r) {
            diffs.push(format!("{name}: native {:02x?}, visa {:02x?}", &native.0[r.clone()], &visa.0[r]));
        }
    }
    for i in 0..8 {
        let r = 32 + 16 * i..42 + 16 * i;
        let value = |img: &FxImage| {
            let mut b = [0u8; 16];
            b[..10].copy_from_slice(&img.0[r.clone()]);
            u128::from_le_bytes(b)
        };
        if native.0[r.clone()] != visa.0[r.clone()] && ulps_apart(value(native), value(visa)) > st_ulps {
            diffs.push(format!("st{i}: native {:02x?}, visa {:02x?}", &native.0[r.clone()], &visa.0[r]));
        }
    }
    diffs
}

fn pad16(b: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..b.len()].copy_from_slice(b);
    out
}

/// How far apart two 80-bit values are in units in the last place (the
/// distance of their encodings when both have the same sign; any other
/// difference counts as infinitely far).
fn ulps_apart(a: u128, b: u128) -> u64 {
    if (a ^ b) >> 79 != 0 {
        return u64::MAX;
    }
    // Encodings of one sign order by magnitude (the integer bit aside).
    let key = |v: u128| ((v >> 64) & 0x7fff) << 63 | (v & ((1 << 63) - 1));
    let (ka, kb) = (key(a), key(b));
    u64::try_from(ka.abs_diff(kb)).unwrap_or(u64::MAX)
}

/// What a batch of oracle cases found.
#[derive(Debug, Default)]
pub struct Report {
    pub forms: usize,
    pub cases: usize,
    /// Forms the generator could not encode even once.
    pub unencodable: Vec<String>,
    /// One report per failing form (its first failure).
    pub failures: Vec<String>,
}

/// Runs `per_form` random cases for every form of the given mnemonics.
pub fn run_forms(mnemonics: &[iced_x86::Mnemonic], per_form: usize, seed: u64, tier: Tier) -> Report {
    run_codes(&cases::forms(mnemonics), per_form, seed, tier)
}

/// Runs `per_form` random cases for each of the given forms.
pub fn run_codes(codes: &[iced_x86::Code], per_form: usize, seed: u64, tier: Tier) -> Report {
    let mut report = Report::default();
    for &code in codes {
        report.forms += 1;
        let mut rng = cases::Rng::new(seed ^ (code as u64).wrapping_mul(0x1000_0000_01b3));
        let (mut made, mut tries) = (0, 0);
        while made < per_form && tries < per_form * 4 {
            tries += 1;
            let Some(case) = cases::case_for(code, &mut rng) else {
                continue;
            };
            made += 1;
            report.cases += 1;
            if let Err(e) = check(&case, tier) {
                report.failures.push(format!("{code:?}: {e}"));
                break;
            }
        }
        if made == 0 {
            report.unencodable.push(format!("{code:?}"));
        }
    }
    report
}

/// What a run of random sequences found.
#[derive(Debug, Default)]
pub struct SequenceReport {
    pub sequences: u64,
    /// Instructions in the sequences.
    pub instructions: u64,
    /// Instructions that ran to completion (a sequence stops at a fault,
    /// natively and under visa alike).
    pub completed: u64,
    /// Sequences that ended in a fault.
    pub faulted: u64,
    /// One report per failing sequence.
    pub failures: Vec<String>,
}

/// Checks `count` cases from `make`; stops after `max_failures` failures.
fn run_cases(
    count: usize,
    seed: u64,
    tier: Tier,
    max_failures: usize,
    mut make: impl FnMut(&mut cases::Rng) -> Option<Case>,
) -> SequenceReport {
    let mut rng = cases::Rng::new(seed);
    let mut report = SequenceReport::default();
    for _ in 0..count {
        let Some(case) = make(&mut rng) else { continue };
        let len = case.undefined_before.len() as u64;
        report.sequences += 1;
        report.instructions += len;
        match check(&case, tier) {
            Ok(Stop::Completed) => report.completed += len,
            Ok(Stop::Fault { rip, .. }) => {
                report.faulted += 1;
                report.completed += case.undefined_before.iter().position(|(at, _)| *at == rip).unwrap_or(0) as u64;
            }
            Err(e) => {
                report.failures.push(e);
                if report.failures.len() >= max_failures {
                    break;
                }
            }
        }
    }
    report
}

/// Runs `count` random general-purpose sequences of `len` instructions
/// (at most `max_failures` failures).
pub fn run_sequences(count: usize, len: usize, seed: u64, tier: Tier, max_failures: usize) -> SequenceReport {
    let forms = cases::forms(sequences::SEQUENCE_MNEMONICS);
    run_cases(count, seed, tier, max_failures, |rng| sequences::sequence_case(&forms, len, rng))
}

/// Runs `count` random SSE and x87 sequences of `len` instructions (at
/// most `max_failures` failures).
pub fn run_simd_sequences(count: usize, len: usize, seed: u64, tier: Tier, max_failures: usize) -> SequenceReport {
    let forms = simd_sequences::SimdForms::new();
    run_cases(count, seed, tier, max_failures, |rng| simd_sequences::simd_sequence_case(&forms, len, rng))
}

/// Runs `count` random sequences of `len` instructions mostly of AVX and
/// AVX2 forms (at most `max_failures` failures).
pub fn run_avx_sequences(count: usize, len: usize, seed: u64, tier: Tier, max_failures: usize) -> SequenceReport {
    let forms = simd_sequences::SimdForms::new();
    run_cases(count, seed, tier, max_failures, |rng| simd_sequences::avx_sequence_case(&forms, len, rng))
}

/// The long runs' settings: `VISA_ORACLE_LONG` instructions (else
/// `default`) on the tier `VISA_ORACLE_TIER` names (`jit`, else the
/// interpreter).
pub fn long_run(default: u64) -> (u64, Tier) {
    let total = std::env::var("VISA_ORACLE_LONG").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let tier = match std::env::var("VISA_ORACLE_TIER").as_deref() {
        Ok("jit") => Tier::Jit,
        _ => Tier::Interp,
    };
    (total, tier)
}

/// Random cases per form: `VISA_ORACLE_CASES`, default 200.
pub fn cases_per_form() -> usize {
    std::env::var("VISA_ORACLE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

/// Checks every form of the mnemonics under the interpreter and the JIT,
/// and panics with the first failures if any case differs from the host.
pub fn assert_forms(mnemonics: &[iced_x86::Mnemonic]) {
    assert_codes(&cases::forms(mnemonics));
}

/// `assert_forms` when the host has `feature`. Without it the forms cannot
/// be compared: that is said on standard error, past the test harness's
/// capture so it shows, and under CI (`CI` set) it fails, because the CI
/// host must check every form.
pub fn assert_forms_if(feature: &str, present: bool, mnemonics: &[iced_x86::Mnemonic]) {
    assert_codes_if(feature, present, &cases::forms(mnemonics));
}

/// `assert_codes` when the host has `feature` (see `assert_forms_if`).
pub fn assert_codes_if(feature: &str, present: bool, codes: &[iced_x86::Code]) {
    if present {
        return assert_codes(codes);
    }
    let note = format!("SKIPPED: the host lacks {feature}; {} forms not checked against it\n", codes.len());
    assert!(std::env::var_os("CI").is_none(), "{note}CI must run every oracle test");
    use std::io::Write;
    let _ = std::io::stderr().write_all(note.as_bytes());
}

/// Lifts 50 random cases of each form and runs the V-ISA verifier on each
/// block; panics at the first that does not verify, with its disassembly.
pub fn assert_lifted_blocks_verify(codes: &[iced_x86::Code]) {
    let mut mem = GuestMemory::new(CODE + 0x1000).expect("guest memory");
    for &code in codes {
        let mut rng = cases::Rng::new(code as u64);
        for _ in 0..50 {
            let Some(case) = cases::case_for(code, &mut rng) else { continue };
            mem.write_bytes(CODE, &case.code).expect("code fits");
            let lifted = lift_block(&mem, CODE, Mode::default()).expect("code in memory");
            if let Err(e) = crate::visa::verify(&X86Env::get().env, &lifted.block) {
                panic!("{code:?}: {e}\n{}", disassemble(&case.code, CODE));
            }
        }
    }
}

/// Checks the given forms under the interpreter and the JIT.
pub fn assert_codes(codes: &[iced_x86::Code]) {
    for tier in [Tier::Interp, Tier::Jit] {
        let report = run_codes(codes, cases_per_form(), 0x5eed, tier);
        assert!(report.forms > 0, "no forms in {codes:?}");
        assert!(report.unencodable.is_empty(), "forms with no encodable case: {:?}", report.unencodable);
        assert!(
            report.failures.is_empty(),
            "{tier:?}: {} of {} forms fail ({} cases): {}\n{}",
            report.failures.len(),
            report.forms,
            report.cases,
            report.failures.iter().filter_map(|f| f.split(':').next()).collect::<Vec<_>>().join(" "),
            report.failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n\n")
        );
    }
}
