//! Instructions the native oracle cannot run in a user process (privileged,
//! host-specific, or talking to devices), checked on the board against what
//! the manual and the board's documentation say.

mod common;

use common::{CODE, run, run_with};
use iced_x86::code_asm::*;
use visa::engine::{Fault, Stop};
use visa::machine::{cpuid, flag};
use visa::visa::ExitReason;

#[test]
fn cpuid_reports_the_table() {
    for (leaf, sub) in [(0u32, 0u32), (1, 0), (7, 0), (0x8000_0001, 0), (0x8000_0002, 0), (0x4000_0000, 0)] {
        let r = run(|a| {
            a.mov(eax, leaf)?;
            a.mov(ecx, sub)?;
            a.cpuid()?;
            a.hlt()
        });
        assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
        let got = [r.cpu.gpr[0], r.cpu.gpr[3], r.cpu.gpr[1], r.cpu.gpr[2]].map(|v| v as u32);
        assert_eq!(got, cpuid::cpuid(leaf, sub), "leaf {leaf:#x}");
        assert!(r.cpu.gpr[0] >> 32 == 0, "32-bit results zero-extend");
    }
}

#[test]
fn rdtsc_counts_up_in_edx_eax() {
    let r = run(|a| {
        a.rdtsc()?;
        a.mov(r8d, eax)?;
        a.mov(r9d, edx)?;
        a.rdtscp()?;
        a.hlt()
    });
    let first = r.cpu.gpr[9] << 32 | r.cpu.gpr[8];
    let second = r.cpu.gpr[2] << 32 | r.cpu.gpr[0];
    assert!(second >= first, "{first} then {second}");
    assert_eq!(r.cpu.gpr[1], 0, "RDTSCP's TSC_AUX");
}

#[test]
fn syscall_saves_rip_and_rflags_and_exits() {
    let r = run_with(
        |a| {
            a.stc()?;
            a.syscall()
        },
        |cpu| cpu.gpr[1] = 0x1234,
    );
    assert_eq!(r.stop, Stop::Exit(ExitReason::Syscall));
    assert_eq!(r.cpu.rip, CODE + r.code_len, "resumes after SYSCALL");
    assert_eq!(r.cpu.gpr[1], CODE + r.code_len, "RCX = the next RIP");
    assert_eq!(r.cpu.gpr[11], r.cpu.rflags(), "R11 = RFLAGS");
    assert_eq!(r.cpu.gpr[11] & 1, 1);
}

#[test]
fn hlt_stops_after_itself() {
    let r = run(|a| {
        a.nop()?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.rip, CODE + 2);
}

#[test]
fn port_io_reaches_the_uart_and_the_exit_port() {
    let r = run(|a| {
        a.mov(dx, 0x3f8u32)?;
        a.mov(al, b'h' as u32)?;
        a.out(dx, al)?;
        a.mov(al, b'i' as u32)?;
        a.out(dx, al)?;
        a.mov(dx, 0x3fdu32)?;
        a.in_(al, dx)?;
        a.mov(r8d, eax)?;
        a.mov(dx, 0x3f8u32)?;
        a.in_(al, dx)?;
        a.mov(r9d, eax)?;
        a.mov(dx, 0x80u32)?;
        a.in_(eax, dx)?;
        a.mov(r10, rax)?;
        a.mov(eax, 21u32)?;
        a.out(0xf4, eax)?;
        a.hlt()
    });
    assert_eq!(r.output, b"hi");
    assert_eq!(r.cpu.gpr[8] & 0xff, 0x61, "LSR: transmitter empty and idle, data ready");
    assert_eq!(r.cpu.gpr[9] & 0xff, b'z' as u64, "received byte");
    assert_eq!(r.cpu.gpr[10], 0xffff_ffff, "an unmapped port reads all ones");
    assert_eq!(r.stop, Stop::Requested, "the exit port stops the machine");
}

#[test]
fn cli_and_sti_change_only_if() {
    let r = run(|a| {
        a.sti()?;
        a.pushfq()?;
        a.pop(r8)?;
        a.cli()?;
        a.pushfq()?;
        a.pop(r9)?;
        a.hlt()
    });
    assert_eq!(r.cpu.gpr[8] & 0x200, 0x200);
    assert_eq!(r.cpu.gpr[9] & 0x200, 0);
    assert_eq!(r.cpu.gpr[8] ^ r.cpu.gpr[9], 0x200);
}

#[test]
fn fs_and_gs_overrides_add_their_bases() {
    let r = run_with(
        |a| {
            a.mov(qword_ptr(0x2008u64), rcx)?;
            a.mov(qword_ptr(0x3010u64), rdx)?;
            a.mov(rax, qword_ptr(8).fs())?;
            a.mov(rbx, qword_ptr(rsi + 8).gs())?;
            a.lea(rdi, qword_ptr(rsi + 8).gs())?;
            a.hlt()
        },
        |cpu| {
            cpu.fs_base = 0x2000;
            cpu.gs_base = 0x3000;
            cpu.gpr[1] = 0x1111;
            cpu.gpr[2] = 0x2222;
            cpu.gpr[6] = 8;
        },
    );
    assert_eq!(r.cpu.gpr[0], 0x1111);
    assert_eq!(r.cpu.gpr[3], 0x2222);
    assert_eq!(r.cpu.gpr[7], 16, "LEA ignores the segment base");
}

#[test]
fn instructions_not_lifted_raise_ud_at_their_address() {
    // With CR4.OSXSAVE clear, AVX and XGETBV are #UD; UD2 always is.
    for (i, build) in [
        (|a: &mut CodeAssembler| a.vmovaps(xmm0, xmm1)) as fn(&mut CodeAssembler) -> Result<(), IcedError>,
        |a| a.xgetbv(),
        |a| a.ud2(),
    ]
    .into_iter()
    .enumerate()
    {
        let r = run_with(
            |a| {
                a.mov(eax, 5u32)?;
                build(a)?;
                a.hlt()
            },
            |cpu| cpu.cr4 &= !visa::machine::CR4_OSXSAVE,
        );
        assert_eq!(r.stop, Stop::Fault(Fault { vector: 6, rip: CODE + 5, addr: None }), "case {i}");
        assert_eq!(r.cpu.gpr[0], 5, "the instruction before it completed");
        assert_eq!(r.cpu.flags[flag::CF], 0);
    }
}

#[test]
fn string_port_io_moves_bytes_through_the_uart() {
    let r = run_with(
        |a| {
            a.mov(qword_ptr(0x2000u64), rbx)?;
            a.mov(esi, 0x2000u32)?;
            a.mov(edi, 0x3000u32)?;
            a.mov(ecx, 5u32)?;
            a.mov(dx, 0x3f8u32)?;
            a.rep().outsb()?;
            a.insb()?;
            a.mov(al, byte_ptr(0x3000u64))?;
            a.hlt()
        },
        |cpu| cpu.gpr[3] = u64::from_le_bytes(*b"hello!!!"),
    );
    assert_eq!(r.output, b"hello");
    assert_eq!(r.cpu.gpr[1], 0, "RCX counted down");
    assert_eq!(r.cpu.gpr[6], 0x2005, "RSI advanced");
    assert_eq!(r.cpu.gpr[7], 0x3001, "RDI advanced");
    assert_eq!(r.cpu.gpr[0] & 0xff, b'z' as u64, "INSB stored the received byte");
}

#[test]
fn rdrand_sets_cf_and_gives_varying_values() {
    let r = run_with(
        |a| {
            a.rdrand(rax)?;
            a.setc(r8b)?;
            a.rdrand(ebx)?;
            a.hlt()
        },
        |_| {},
    );
    assert_eq!(r.cpu.gpr[8] & 0xff, 1, "CF set: a value was delivered");
    assert_ne!(r.cpu.gpr[0], r.cpu.gpr[3], "two draws differ");
    assert_eq!(r.cpu.gpr[3] >> 32, 0, "a 32-bit destination zero-extends");
}

#[test]
fn invalid_encodings_raise_ud() {
    // 0x06 (PUSH ES) and 0xD6 (SALC) do not exist in 64-bit mode.
    for bytes in [[0x06u8], [0xd6]] {
        let r = run_with(
            move |a| {
                a.mov(ecx, 1u32)?;
                a.db(&bytes)
            },
            |_| {},
        );
        assert_eq!(r.stop, Stop::Fault(Fault { vector: 6, rip: CODE + 5, addr: None }), "{bytes:02x?}");
        assert_eq!(r.cpu.gpr[1], 1);
    }
}
