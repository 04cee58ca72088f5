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
        assert_eq!(got, cpuid::cpuid(cpuid::Model::Max, leaf, sub), "leaf {leaf:#x}");
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

#[test]
fn fsgsbase_instructions_need_cr4() {
    let code = |a: &mut CodeAssembler| {
        a.mov(rax, 0xffff_9234_5678_9abcu64)?;
        a.wrfsbase(rax)?;
        a.rdfsbase(ebx)?;
        a.mov(ecx, 0xffff_fff0u32)?;
        a.wrgsbase(ecx)?;
        a.rdgsbase(rdx)?;
        a.hlt()
    };
    let r = run(code);
    assert_eq!(r.stop, Stop::Fault(Fault { vector: 6, rip: CODE + 10, addr: None }), "#UD with CR4.FSGSBASE clear");
    let r = run_with(code, |cpu| cpu.cr4 |= visa::machine::CR4_FSGSBASE);
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!((r.cpu.fs_base, r.cpu.gpr[3]), (0xffff_9234_5678_9abc, 0x5678_9abc), "a 32-bit read truncates");
    assert_eq!((r.cpu.gs_base, r.cpu.gpr[2]), (0xffff_fff0, 0xffff_fff0), "a 32-bit write zero-extends");
    let r = run_with(
        |a| {
            a.mov(rax, 0x0000_8000_0000_0000u64)?;
            a.wrgsbase(rax)?;
            a.hlt()
        },
        |cpu| cpu.cr4 |= visa::machine::CR4_FSGSBASE,
    );
    assert_eq!(r.stop, Stop::Fault(Fault { vector: 13, rip: CODE + 10, addr: None }), "non-canonical base");
    assert_eq!(r.cpu.gs_base, 0);
}

#[test]
fn rdseed_sets_cf_and_varies() {
    let r = run(|a| {
        a.rdseed(rax)?;
        a.rdseed(ebx)?;
        a.rdseed(cx)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.flags[flag::CF], 1);
    assert_ne!(r.cpu.gpr[0], r.cpu.gpr[3]);
    assert_eq!((r.cpu.gpr[3] >> 32, r.cpu.gpr[1] >> 16), (0, 0), "narrow results");
}

/// Each model hides what its level lacks: those instructions raise #UD
/// (the first byte of each is at CODE), the rest run, and CPUID says the
/// same.
#[test]
fn cpu_models_hide_features() {
    use cpuid::Model;
    type Insn = fn(&mut CodeAssembler) -> Result<(), IcedError>;
    let cases: [(&str, Insn); 8] = [
        ("pni", |a| a.addsubpd(xmm0, xmm1)),
        ("popcnt", |a| a.popcnt(eax, ebx)),
        ("movbe", |a| a.movbe(eax, dword_ptr(rsp - 8))),
        ("bmi1", |a| a.andn(eax, ebx, ecx)),
        ("fma", |a| a.vfmadd231ps(ymm0, ymm1, ymm2)),
        ("f16c", |a| a.vcvtph2ps(ymm0, xmm1)),
        ("aes", |a| a.aesenc(xmm0, xmm1)),
        ("sha_ni", |a| a.sha256msg1(xmm0, xmm1)),
    ];
    for (name, model) in Model::NAMES {
        for (feature, insn) in cases {
            let r = run_with(
                |a| {
                    insn(a)?;
                    a.hlt()
                },
                |cpu| cpu.cpu_model = model as u8,
            );
            let want = if model.has(feature) {
                Stop::Exit(ExitReason::Halt)
            } else {
                Stop::Fault(Fault { vector: 6, rip: CODE, addr: None })
            };
            assert_eq!(r.stop, want, "{feature} under {name}");
        }
        let r = run_with(
            |a| {
                a.mov(eax, 1)?;
                a.cpuid()?;
                a.hlt()
            },
            |cpu| cpu.cpu_model = model as u8,
        );
        assert_eq!(
            [r.cpu.gpr[1], r.cpu.gpr[2]].map(|v| v as u32),
            [cpuid::cpuid(model, 1, 0)[2], cpuid::cpuid(model, 1, 0)[3]]
        );
        assert_eq!(r.cpu.gpr[1] >> 25 & 1, model.has("aes") as u64, "{name}: AES bit");
        assert_eq!(r.cpu.gpr[1] & 1, model.has("pni") as u64, "{name}: SSE3 bit");
        // Without LZCNT and BMI1 their encodings run as BSR and BSF.
        let r = run_with(
            |a| {
                a.mov(ebx, 0x10)?;
                a.lzcnt(eax, ebx)?;
                a.tzcnt(ecx, ebx)?;
                a.hlt()
            },
            |cpu| cpu.cpu_model = model as u8,
        );
        let want = if model.has("abm") { [27, 4] } else { [4, 4] };
        assert_eq!([r.cpu.gpr[0], r.cpu.gpr[1]], want, "{name}");
    }
}

/// POPF sets IF (and IOPL) at CPL 0, as the board runs.
#[test]
fn popf_sets_if_on_the_board() {
    let r = run(|a| {
        a.push(0x3203)?;
        a.popfq()?;
        a.hlt()
    });
    assert_eq!(r.cpu.rflags() & 0x3201, 0x3201, "IF, IOPL and CF from the image");
}

/// IRETQ back to the board's own code and stack segments; a return CS of
/// another privilege level, or 32-bit code, cannot be had: #GP.
#[test]
fn iretq_on_the_board() {
    let iret = |sel: u64| {
        move |a: &mut CodeAssembler| {
            let mut target = a.create_label();
            a.mov(rax, rsp)?;
            a.push(0x10)?;
            a.push(rax)?;
            a.push(0x283)?;
            a.push(sel as i32)?;
            a.lea(rcx, ptr(target))?;
            a.push(rcx)?;
            a.iretq()?;
            a.hlt()?;
            a.set_label(&mut target)?;
            a.mov(edx, 0x77)?;
            a.hlt()
        }
    };
    let r = run(iret(0x08));
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[2], 0x77, "at the popped RIP");
    assert_eq!(r.cpu.gpr[4], r.cpu.gpr[0], "the popped RSP");
    assert_eq!((r.cpu.rflags() & 0xfff, r.cpu.seg[1], r.cpu.seg[2]), (0x283, 0x08, 0x10));
    for sel in [0x0b, 0x10, 0x18] {
        let r = run(iret(sel));
        assert!(matches!(r.stop, Stop::Fault(Fault { vector: 13, .. })), "CS {sel:#x}: {:?}", r.stop);
    }
}

/// Segment register moves against the board's GDT (code 0x08, data 0x10):
/// loads that fit, #GP for others, FS and GS bases cleared by a load.
#[test]
fn segment_moves_on_the_board() {
    let r = run_with(
        |a| {
            a.xor(eax, eax)?;
            a.mov(ds, ax)?;
            a.mov(ss, ax)?;
            a.mov(ax, 0x08)?;
            a.mov(es, ax)?;
            a.mov(fs, ax)?;
            a.mov(rbx, 0xffff_ffff_ffff_ffffu64)?;
            a.mov(ebx, gs)?;
            a.mov(cx, cs)?;
            a.mov(ax, 0x18)?;
            a.mov(es, ax)?;
            a.hlt()
        },
        |cpu| cpu.fs_base = 0x1234,
    );
    assert!(matches!(r.stop, Stop::Fault(Fault { vector: 13, .. })), "{:?}", r.stop);
    assert_eq!(r.cpu.seg, [0x08, 0x08, 0, 0, 0x08, 0x10]);
    assert_eq!(r.cpu.fs_base, 0);
    assert_eq!((r.cpu.gpr[3], r.cpu.gpr[1] & 0xffff), (0x10, 0x08), "a 32-bit destination zero-extends");
}

/// SMSW reads the board's CR0; SGDT and SIDT store its (empty) tables.
#[test]
fn descriptor_tables_on_the_board() {
    let r = run(|a| {
        a.mov(rax, -1i64)?;
        a.smsw(rax)?;
        a.mov(rbx, -1i64)?;
        for at in [48, 40, 32, 24] {
            a.mov(qword_ptr(rsp - at), rbx)?;
        }
        a.sgdt(ptr(rsp - 48))?;
        a.mov(rcx, qword_ptr(rsp - 48))?;
        a.sidt(ptr(rsp - 32))?;
        a.mov(rdx, qword_ptr(rsp - 32))?;
        a.mov(rsi, qword_ptr(rsp - 24))?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[0], 0x8005_0033);
    assert_eq!((r.cpu.gpr[1], r.cpu.gpr[2]), (0, 0), "limits and bases 0");
    assert_eq!(r.cpu.gpr[6], 0xffff_ffff_ffff_0000, "ten bytes stored");
}

/// Far JMP and CALL through m16:64 to the board's code segment.
#[test]
fn far_transfers_on_the_board() {
    let r = run(|a| {
        let mut target = a.create_label();
        let mut after = a.create_label();
        a.lea(rax, ptr(target))?;
        a.mov(qword_ptr(rsp - 64), rax)?;
        a.mov(word_ptr(rsp - 56), 0x08)?;
        a.call(tword_ptr(rsp - 64))?;
        a.set_label(&mut after)?;
        a.hlt()?;
        a.set_label(&mut target)?;
        a.pop(rbx)?;
        a.pop(rcx)?;
        a.lea(rdx, ptr(after))?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!((r.cpu.gpr[1], r.cpu.gpr[3]), (0x08, r.cpu.gpr[2]), "CS and the return address pushed");
}

/// After LGDT, the board checks selectors against the GDT in guest memory:
/// a data segment and 64-bit code of that table load (their descriptors
/// marked accessed, as the processor marks them), one not present is #NP.
#[test]
fn selectors_come_from_the_gdt_lgdt_loaded() {
    const GDT: u32 = 0x8_0000;
    // Null, 64-bit code (0x08), writable data (0x10), the same not present
    // (0x18) and present again (0x20); none marked accessed.
    let data = 0x00cf_9200_0000_ffff;
    let table: [u64; 5] = [0, 0x00af_9a00_0000_ffff, data, data & !(1 << 47), data];
    for not_present in [false, true] {
        let r = run(|a| {
            let mut next = a.create_label();
            a.mov(ebx, GDT)?;
            for (i, d) in table.iter().enumerate() {
                a.mov(rax, *d)?;
                a.mov(qword_ptr(rbx + 8 * i as i32), rax)?;
            }
            a.mov(word_ptr(rsp - 16), 0x27u32)?;
            a.mov(qword_ptr(rsp - 14), rbx)?;
            a.lgdt(ptr(rsp - 16))?;
            a.mov(eax, 0x10)?;
            a.mov(ss, ax)?;
            a.mov(eax, 0x20)?;
            a.mov(ds, ax)?;
            a.lea(rax, ptr(next))?;
            a.mov(qword_ptr(rsp - 32), rax)?;
            a.mov(word_ptr(rsp - 24), 0x08)?;
            a.jmp(tword_ptr(rsp - 32))?;
            a.set_label(&mut next)?;
            a.mov(rdx, qword_ptr(rbx + 8))?;
            a.mov(rsi, qword_ptr(rbx + 16))?;
            a.mov(rdi, qword_ptr(rbx + 24))?;
            a.mov(r8, qword_ptr(rbx + 32))?;
            if not_present {
                a.mov(eax, 0x18)?;
                a.mov(es, ax)?;
            }
            a.hlt()
        });
        let marked = |d: u64| d | 1 << 40;
        let read: [u64; 4] = [2, 6, 7, 8].map(|g| r.cpu.gpr[g]);
        assert_eq!(read, [marked(table[1]), marked(table[2]), table[3], marked(table[4])], "accessed bits");
        assert_eq!((r.cpu.seg[1], r.cpu.seg[2], r.cpu.seg[3]), (0x08, 0x10, 0x20), "CS SS DS");
        if not_present {
            assert!(matches!(r.stop, Stop::Fault(Fault { vector: 11, .. })), "{:?}", r.stop);
            assert_eq!(r.cpu.seg[0], 0x10, "ES as the board set it");
        } else {
            assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
        }
    }
}

/// MOV to and from the control and debug registers at CPL 0: values kept
/// as the manual says (CR0.ET reads 1, DR6 and DR7 with their fixed bits,
/// DR4 and DR5 naming DR6 and DR7), and a write to CR4 takes effect at the
/// next instruction (WRFSBASE runs once CR4.FSGSBASE is set).
#[test]
fn control_and_debug_registers_on_the_board() {
    let r = run(|a| {
        a.mov(rax, cr0)?;
        a.mov(rbx, cr4)?;
        a.or(rbx, 1 << 16)?;
        a.mov(cr4, rbx)?;
        a.mov(rcx, 0x1234u64)?;
        a.wrfsbase(rcx)?;
        a.mov(rdx, cr4)?;
        a.mov(rcx, 0x8000_0001u64)?;
        a.mov(cr0, rcx)?;
        a.mov(rsi, cr0)?;
        a.mov(rcx, 0xdead_beef_f00du64)?;
        a.mov(cr2, rcx)?;
        a.mov(rcx, 0x12_3456_7018u64)?;
        a.mov(cr3, rcx)?;
        a.mov(ecx, 9)?;
        a.mov(cr8, rcx)?;
        a.mov(rdi, cr2)?;
        a.mov(r8, cr3)?;
        a.mov(r9, cr8)?;
        a.mov(rcx, -1i64)?;
        a.mov(dr1, rcx)?;
        a.mov(ecx, 0xffff_ffffu32)?;
        a.mov(dr5, rcx)?;
        a.mov(dr4, rcx)?;
        a.mov(r10, dr1)?;
        a.mov(r11, dr7)?;
        a.mov(r12, dr6)?;
        a.mov(r13, dr0)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[0], 0x8005_0033, "CR0 at entry");
    assert_eq!(r.cpu.fs_base, 0x1234, "WRFSBASE after CR4.FSGSBASE is set");
    assert_eq!(r.cpu.gpr[2], 0x5_0620, "CR4");
    assert_eq!(r.cpu.gpr[6], 0x8000_0011, "CR0 with ET");
    assert_eq!((r.cpu.gpr[7], r.cpu.gpr[8], r.cpu.gpr[9]), (0xdead_beef_f00d, 0x12_3456_7018, 9), "CR2 CR3 CR8");
    assert_eq!(r.cpu.gpr[10], u64::MAX, "DR1");
    assert_eq!((r.cpu.gpr[11], r.cpu.gpr[12]), (0xffff_27ff, 0xffff_eff0 | 0xf), "DR7 and DR6 through DR5 and DR4");
    assert_eq!(r.cpu.gpr[13], 0, "DR0 at entry");
}

/// What the manual makes #GP or #UD: reserved bits of CR0 CR3 CR4 CR8, DR6
/// and DR7, leaving long mode (CR0.PG or CR4.PAE clear), registers the
/// processor lacks; the faulting MOV changes nothing.
#[test]
fn control_register_faults_on_the_board() {
    type Case = (u64, fn(&mut CodeAssembler) -> Result<(), IcedError>, u8);
    let cases: [Case; 10] = [
        (1 << 32 | 0x8005_0033, |a| a.mov(cr0, rcx), 13),
        (0x0005_0033, |a| a.mov(cr0, rcx), 13),
        (0xa005_0033, |a| a.mov(cr0, rcx), 13),
        (1 << 40, |a| a.mov(cr3, rcx), 13),
        (0x4_0620 | 1 << 12, |a| a.mov(cr4, rcx), 13),
        (0x4_0600, |a| a.mov(cr4, rcx), 13),
        (0x10, |a| a.mov(cr8, rcx), 13),
        (1 << 32, |a| a.mov(dr7, rcx), 13),
        (0, |a| a.mov(rax, cr1), 6),
        (0, |a| a.mov(cr5, rcx), 6),
    ];
    for (i, (value, insn, vector)) in cases.into_iter().enumerate() {
        let r = run_with(
            |a| {
                insn(a)?;
                a.hlt()
            },
            |cpu| cpu.gpr[1] = value,
        );
        assert_eq!(r.stop, Stop::Fault(Fault { vector, rip: CODE, addr: None }), "case {i}");
        assert_eq!((r.cpu.cr0, r.cpu.cr4, r.cpu.cr3), (0x8005_0033, 0x4_0620, 0), "case {i}: nothing changed");
    }
}

/// LGDT and LIDT load GDTR and IDTR (ten bytes: limit, then base), which
/// SGDT and SIDT then store.
#[test]
fn lgdt_and_lidt_on_the_board() {
    let r = run(|a| {
        a.mov(word_ptr(rsp - 64), 0x27u32)?;
        a.mov(rax, 0x1_2345_6000u64)?;
        a.mov(qword_ptr(rsp - 62), rax)?;
        a.lgdt(ptr(rsp - 64))?;
        a.mov(word_ptr(rsp - 48), 0xfffu32)?;
        a.mov(rax, 0xffff_8000_0000_1000u64)?;
        a.mov(qword_ptr(rsp - 46), rax)?;
        a.lidt(ptr(rsp - 48))?;
        a.sgdt(ptr(rsp - 32))?;
        a.sidt(ptr(rsp - 16))?;
        a.movzx(ecx, word_ptr(rsp - 32))?;
        a.mov(rdx, qword_ptr(rsp - 30))?;
        a.movzx(esi, word_ptr(rsp - 16))?;
        a.mov(rdi, qword_ptr(rsp - 14))?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!((r.cpu.gpr[1], r.cpu.gpr[2]), (0x27, 0x1_2345_6000), "GDTR");
    assert_eq!((r.cpu.gpr[6], r.cpu.gpr[7]), (0xfff, 0xffff_8000_0000_1000), "IDTR");
    assert_eq!((r.cpu.gdtr_limit, r.cpu.idtr_base), (0x27, 0xffff_8000_0000_1000));
}
