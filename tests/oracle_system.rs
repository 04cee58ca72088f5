//! The differential oracle over the system and hint instructions a user
//! process can run: the hint NOPs (0F 18 to 0F 1F with any operand, the
//! forms that run as NOPs without their feature), the cache-line flushes,
//! segment register moves, SMSW, SGDT and SIDT (which Linux emulates for
//! user code on processors with UMIP), IRET and far JMP and CALL through
//! memory, PUSH and POP of FS and GS, and the faults of control and debug
//! register moves, LGDT and LIDT, run natively and under visa (interpreter
//! and JIT), compared.
//! Host x86-64 only. `VISA_ORACLE_CASES=N` sets the cases per form
//! (default 200).
#![cfg(target_arch = "x86_64")]

use iced_x86::Mnemonic;
use visa::oracle::assert_forms_if as run_if;
use visa::oracle::cases::forms;

#[test]
fn hint_nops() {
    use Mnemonic::*;
    let codes = forms(&[
        Nop,
        Reservednop,
        Cldemote,
        Rdsspd,
        Rdsspq,
        Endbr32,
        Endbr64,
        Prefetchit0,
        Prefetchit1,
        Prefetch,
        Prefetchwt1,
    ]);
    visa::oracle::assert_codes(&codes);
}

#[test]
fn cache_line_flushes() {
    use Mnemonic::*;
    run_if("clflush", std::arch::is_x86_feature_detected!("sse2"), &[Clflush]);
    run_if("clflushopt", cpuinfo_has("clflushopt"), &[Clflushopt]);
    run_if("clwb", cpuinfo_has("clwb"), &[Clwb]);
}

/// Does the host's /proc/cpuinfo list the flag?
fn cpuinfo_has(flag: &str) -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines().filter(|l| l.starts_with("flags")).any(|l| l.split_whitespace().any(|w| w == flag))
}

/// MOV to and from ES CS SS DS FS GS (FS and GS are written only on a host
/// with FSGSBASE, where the harness gives the snippet its own).
#[test]
fn segment_moves() {
    let codes = forms(&[Mnemonic::Mov]);
    let codes: Vec<_> = codes.into_iter().filter(|c| format!("{c:?}").contains("Sreg")).collect();
    assert_eq!(codes.len(), 6, "{codes:?}");
    visa::oracle::assert_codes(&codes);
}

/// PUSH and POP of FS and GS (8 and 2 bytes), with selectors that load
/// and selectors that fault: the harness gives the snippet FS and GS of
/// its own, which needs a kernel that enables FSGSBASE.
#[test]
fn fs_gs_push_pop() {
    let fsgsbase = visa::oracle::native::host_has_fsgsbase();
    visa::oracle::assert_codes_if("fsgsbase", fsgsbase, &visa::oracle::FS_GS_STACK);
}

/// What user code gets for the CPL 0 register moves and table loads: MOV
/// to and from CR0-CR15 and DR0-DR15, LGDT and LIDT, RDMSR and WRMSR,
/// XSAVES and XRSTORS.
#[test]
fn system_registers_in_user_mode() {
    use iced_x86::Code::*;
    let codes = [Mov_r64_cr, Mov_cr_r64, Mov_r64_dr, Mov_dr_r64, Lgdt_m1664, Lidt_m1664, Rdmsr, Wrmsr];
    visa::oracle::assert_codes(&codes);
    let xsaves = [Xsaves_mem, Xsaves64_mem, Xrstors_mem, Xrstors64_mem];
    visa::oracle::assert_codes_if("xsaves", std::arch::is_x86_feature_detected!("xsaves"), &xsaves);
}

/// IRETD and IRETQ back to 64-bit user code, and far JMP and CALL through
/// m16:32 and m16:64 (m16:64 on an Intel host only: see
/// `oracle::vendors`), with selectors that load and selectors that fault.
#[test]
fn iret_and_far_branches() {
    use Mnemonic::*;
    use iced_x86::Code::{Call_m1632, Call_m1664, Jmp_m1632, Jmp_m1664};
    visa::oracle::assert_forms(&[Iretd, Iretq]);
    let far: Vec<_> = forms(&[Jmp, Call]).into_iter().filter(|c| format!("{c:?}").contains("_m16")).collect();
    let mut want = vec![Jmp_m1632, Jmp_m1664, Call_m1632, Call_m1664];
    want.retain(|c| visa::oracle::host_runs_as_visa(*c));
    assert_eq!(far.len(), want.len(), "{far:?}");
    assert!(want.iter().all(|c| far.contains(c)), "{far:?}");
    visa::oracle::assert_codes(&far);
}

/// SMSW, SGDT and SIDT, which Linux answers for user code when the
/// processor has UMIP (without it they would show the host's own tables).
#[test]
fn descriptor_table_reads() {
    use Mnemonic::*;
    run_if("umip", cpuinfo_has("umip"), &[Smsw, Sgdt, Sidt]);
}
