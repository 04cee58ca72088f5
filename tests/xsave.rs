//! The XSAVE feature set on the board, under every engine: XCR0 through
//! XGETBV and XSETBV (AVX #UD once XCR0 drops it), CPUID leaf 0xD, and
//! XSAVE, XSAVEC and XRSTOR of the x87, SSE and AVX state in the standard
//! and compacted formats, against the layout the manual gives.

mod common;

use common::{CODE, run, run_with};
use iced_x86::code_asm::*;
use visa::engine::{Fault, Stop};
use visa::machine::cpuid;
use visa::visa::ExitReason;

const AREA: u64 = 0x4000;

#[test]
fn xgetbv_reads_xcr0_and_xsetbv_disables_avx() {
    let r = run(|a| {
        a.xor(ecx, ecx)?;
        a.xgetbv()?;
        a.mov(r8, rax)?;
        a.mov(r9, rdx)?;
        a.mov(eax, 3u32)?;
        a.xor(edx, edx)?;
        a.xsetbv()?;
        a.vmovaps(xmm0, xmm1)?;
        a.hlt()
    });
    assert_eq!((r.cpu.gpr[8], r.cpu.gpr[9]), (7, 0), "x87, SSE and AVX enabled at entry");
    assert_eq!(r.cpu.xcr0, 3);
    let ud_at = CODE + r.code_len - 5;
    assert_eq!(r.stop, Stop::Fault(Fault { vector: 6, rip: ud_at, addr: None }), "AVX off: #UD");
}

#[test]
fn xsetbv_refuses_bad_values() {
    // x87 off, AVX without SSE, an unsupported component, ECX not 0: #GP.
    for (eax_v, ecx_v) in [(6u32, 0u32), (5, 0), (0xf, 0), (7, 1)] {
        let r = run(|a| {
            a.mov(eax, eax_v)?;
            a.xor(edx, edx)?;
            a.mov(ecx, ecx_v)?;
            a.xsetbv()?;
            a.hlt()
        });
        assert!(matches!(r.stop, Stop::Fault(Fault { vector: 13, .. })), "{eax_v:#x} {ecx_v}: {:?}", r.stop);
        assert_eq!(r.cpu.xcr0, 7);
    }
}

#[test]
fn cpuid_leaf_0xd_describes_the_layout() {
    let r = run(|a| {
        a.mov(eax, 0xdu32)?;
        a.xor(ecx, ecx)?;
        a.cpuid()?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[0], 7, "x87 SSE AVX");
    assert_eq!(r.cpu.gpr[3], 832, "the size for XCR0's components");
    assert_eq!(cpuid::cpuid(cpuid::Model::Max, 0xd, 2)[..2], [256, 576], "the AVX component: size, offset");
}

/// Sets YMM2 to a known value, saves with `save` (EDX:EAX = `mask`),
/// clears every register, restores, and returns the run.
fn round_trip(save: fn(&mut CodeAssembler) -> Result<(), IcedError>, mask: u32) -> common::Run {
    run_with(
        move |a| {
            a.mov(rax, 0x1111_2222_3333_4444u64)?;
            a.movq(xmm2, rax)?;
            a.vinsertf128(ymm2, ymm2, xmm2, 1)?;
            a.mov(rax, 0x5555u64)?;
            a.movq(xmm9, rax)?;
            a.mov(eax, mask)?;
            a.xor(edx, edx)?;
            a.mov(rbx, AREA)?;
            save(a)?;
            a.vzeroall()?;
            a.mov(eax, mask)?;
            a.xrstor64(ptr(rbx))?;
            a.hlt()
        },
        |_| {},
    )
}

#[test]
fn xsave_and_xrstor_carry_the_ymm_state() {
    for (save, name) in [
        ((|a: &mut CodeAssembler| a.xsave64(ptr(rbx))) as fn(&mut CodeAssembler) -> Result<(), IcedError>, "xsave"),
        (|a| a.xsavec64(ptr(rbx)), "xsavec"),
        (|a| a.xsaveopt64(ptr(rbx)), "xsaveopt"),
    ] {
        let r = round_trip(save, 7);
        assert_eq!(r.stop, Stop::Exit(ExitReason::Halt), "{name}");
        assert_eq!(r.cpu.xmm[2], 0x1111_2222_3333_4444, "{name}");
        assert_eq!(r.cpu.ymmh[2], 0x1111_2222_3333_4444, "{name}");
        assert_eq!(r.cpu.xmm[9], 0x5555, "{name}");
        assert_eq!(r.cpu.ymmh[9], 0, "{name}");
    }
}

#[test]
fn xrstor_without_avx_in_the_mask_leaves_the_upper_halves() {
    let r = round_trip(|a| a.xsave64(ptr(rbx)), 3);
    assert_eq!(r.cpu.xmm[2], 0x1111_2222_3333_4444);
    assert_eq!(r.cpu.ymmh[2], 0, "VZEROALL's zeros stay");
}

#[test]
fn xsave_writes_the_standard_layout() {
    let r = run(|a| {
        a.mov(rax, 0x7777u64)?;
        a.movq(xmm1, rax)?;
        a.vinsertf128(ymm1, ymm1, xmm1, 1)?;
        a.mov(rbx, AREA)?;
        a.mov(eax, 7u32)?;
        a.xor(edx, edx)?;
        a.xsave64(ptr(rbx))?;
        a.mov(r8, qword_ptr(rbx + 512))?;
        a.mov(r9, qword_ptr(rbx + 576 + 16))?;
        a.mov(r10, qword_ptr(rbx + 160 + 16))?;
        a.xsavec64(ptr(rbx + 0x400))?;
        a.mov(r11, qword_ptr(rbx + 0x400 + 520))?;
        a.mov(r12, qword_ptr(rbx + 0x400 + 512))?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[8], 6, "XSTATE_BV: SSE and AVX in use, x87 in its initial state");
    assert_eq!(r.cpu.gpr[9], 0x7777, "YMM1's upper half at 576 + 16");
    assert_eq!(r.cpu.gpr[10], 0x7777, "XMM1 at 160 + 16");
    assert_eq!(r.cpu.gpr[11], 0x8000_0000_0000_0007, "XCOMP_BV: compacted, the requested components");
    assert_eq!(r.cpu.gpr[12], 6);
}

#[test]
fn xsave_and_xrstor_fault_on_misalignment_and_bad_headers() {
    let misaligned = run(|a| {
        a.mov(rbx, AREA + 16)?;
        a.xsave64(ptr(rbx))?;
        a.hlt()
    });
    assert!(matches!(misaligned.stop, Stop::Fault(Fault { vector: 13, .. })));
    let bad_header = run(|a| {
        a.mov(rbx, AREA)?;
        a.mov(eax, 7u32)?;
        a.xor(edx, edx)?;
        a.mov(ecx, 8u32)?;
        a.mov(qword_ptr(rbx + 512), rcx)?;
        a.xrstor64(ptr(rbx))?;
        a.hlt()
    });
    assert!(matches!(bad_header.stop, Stop::Fault(Fault { vector: 13, .. })), "{:?}", bad_header.stop);
}

/// XSAVES and XRSTORS (the supervisor forms, at the board's CPL 0): the
/// compacted format over XCR0 | IA32_XSS (which RDMSR reads as 0 and WRMSR
/// refuses to give a supervisor component), XRSTORS refusing the standard
/// format, and CPUID leaf 0xD subleaf 1 reporting them in `max` only, where
/// the instructions are #UD.
#[test]
fn xsaves_and_xrstors_on_the_board() {
    let r = run(|a| {
        a.mov(rax, 0x1111_2222_3333_4444u64)?;
        a.movq(xmm2, rax)?;
        a.vinsertf128(ymm2, ymm2, xmm2, 1)?;
        a.mov(rbx, AREA)?;
        a.mov(eax, 7u32)?;
        a.xor(edx, edx)?;
        a.xsaves64(ptr(rbx))?;
        a.mov(r8, qword_ptr(rbx + 520))?;
        a.mov(r9, qword_ptr(rbx + 512))?;
        a.vzeroall()?;
        a.mov(eax, 7u32)?;
        a.xrstors64(ptr(rbx))?;
        a.mov(ecx, 0xda0u32)?;
        a.rdmsr()?;
        a.mov(r10, rax)?;
        a.mov(eax, 0xdu32)?;
        a.mov(ecx, 1u32)?;
        a.cpuid()?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[8], 0x8000_0000_0000_0007, "XCOMP_BV");
    assert_eq!(r.cpu.gpr[9], 6, "XSTATE_BV");
    assert_eq!((r.cpu.xmm[2], r.cpu.ymmh[2]), (0x1111_2222_3333_4444, 0x1111_2222_3333_4444), "restored");
    assert_eq!(r.cpu.gpr[10], 0, "IA32_XSS");
    assert_eq!(r.cpu.gpr[0] & 0xf, 0b1011, "XSAVEOPT XSAVEC XSAVES");
    assert_eq!(r.cpu.gpr[3], 832, "compacted size for XCR0 | IA32_XSS");
    assert_eq!((r.cpu.gpr[1], r.cpu.gpr[2]), (0, 0), "no IA32_XSS bit supported");

    let standard = run(|a| {
        a.mov(rbx, AREA)?;
        a.mov(eax, 7u32)?;
        a.xor(edx, edx)?;
        a.xsave64(ptr(rbx))?;
        a.xrstors64(ptr(rbx))?;
        a.hlt()
    });
    assert_eq!(standard.stop, Stop::Fault(Fault { vector: 13, rip: CODE + 21, addr: None }), "standard format");
    let xss = run(|a| {
        a.mov(ecx, 0xda0u32)?;
        a.mov(eax, 1u32 << 8)?;
        a.xor(edx, edx)?;
        a.wrmsr()?;
        a.hlt()
    });
    assert_eq!(xss.stop, Stop::Fault(Fault { vector: 13, rip: CODE + 12, addr: None }), "IA32_XSS bit 8");
    let v3 = run_with(
        |a| {
            a.mov(rbx, AREA)?;
            a.xsaves64(ptr(rbx))?;
            a.hlt()
        },
        |cpu| cpu.cpu_model = cpuid::Model::V3 as u8,
    );
    assert_eq!(v3.stop, Stop::Fault(Fault { vector: 6, rip: CODE + 10, addr: None }), "x86-64-v3 has no XSAVES");
    assert_eq!(cpuid::cpuid(cpuid::Model::V3, 0xd, 1)[0], 0b11);
}
