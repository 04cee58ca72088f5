//! MMX and the x87 state it aliases, under the differential oracle. The
//! semantics of each MMX form are checked with its family's XMM forms
//! (`oracle_sse_int`, `oracle_sse_move`, `oracle_sse4`, `oracle_sse_float`:
//! 200 random cases per form from random x87 states, under both tiers);
//! here: EMMS, that every MMX form is lifted, and short sequences that mix
//! MMX with x87 instructions, FXSAVE, FNSAVE and FNSTENV, so what one view
//! of the x87 registers writes the other reads (TOP reset, full or empty
//! tags, the all-ones exponent of an MMX write), from random x87 states
//! (any TOP, tags and values, now and then a pending exception: #MF), run
//! natively and under visa, compared. Host x86-64 only.
#![cfg(target_arch = "x86_64")]

use iced_x86::code_asm::*;
use iced_x86::{Code, OpCodeOperandKind as K};
use visa::frontend::x86::{Mode, lift_block};
use visa::machine::GuestMemory;
use visa::oracle::cases::{Rng, case_for, edge_vector, forms_where, value};
use visa::oracle::native::{CODE, DATA, END, Regs};
use visa::oracle::{Case, Stop, Tier, check};
use visa::visa::{ExitReason, Imm};

/// Every legacy form with an MMX register operand, and EMMS.
fn mmx_forms() -> Vec<Code> {
    forms_where(|c| {
        c == Code::Emms || c.op_code().op_kinds().iter().any(|k| matches!(k, K::mm_reg | K::mm_rm | K::mm_or_mem))
    })
}

#[test]
fn emms() {
    visa::oracle::assert_codes(&[Code::Emms]);
}

/// Nothing of MMX is left out: every form's random cases lift to blocks
/// that verify and do not raise #UD at the instruction. (3DNow!'s FEMMS,
/// not MMX, still does.)
#[test]
fn every_mmx_form_is_lifted() {
    let forms = mmx_forms();
    assert_eq!(forms.len(), 103, "{forms:?}");
    let undefined_here = |code: &[u8]| {
        let mut mem = GuestMemory::new(CODE + 0x1000).unwrap();
        mem.write_bytes(CODE, code).unwrap();
        let lifted = lift_block(&mem, CODE, Mode::default()).unwrap();
        lifted.block.insts.iter().any(|i| matches!(i.imm, Imm::Exit(ExitReason::Undefined, at) if at == CODE))
    };
    for &code in &forms {
        let mut rng = Rng::new(code as u64);
        let case = (0..20).find_map(|_| case_for(code, &mut rng)).expect("an encodable case");
        assert!(!undefined_here(&case.code), "{code:?} is not lifted");
    }
    assert!(undefined_here(&[0x0f, 0x0e]), "FEMMS is lifted");
    visa::oracle::assert_lifted_blocks_verify(&forms);
}

/// A random x87 state: FCW with every exception masked (or, with
/// `pending`, IM clear and an invalid operation flagged: #MF at the first
/// MMX or waiting x87 instruction), any TOP, flags and tags, registers with
/// random significands (lanes of edge values) and exponents (now and then
/// the all-ones one an MMX write leaves); random XMM and general
/// registers, R15 at the data, R14 at an unmapped address.
fn random_state(rng: &mut Rng, pending: bool) -> Regs {
    let mut regs = Regs::default();
    for (i, r) in regs.gpr.iter_mut().enumerate() {
        *r = match i {
            4 => DATA + 0x1800,
            14 => DATA + 0x20_0000,
            15 => DATA,
            _ => value(rng, 64),
        };
    }
    regs.rflags = 0x202;
    let fcw: u16 = if pending { 0x037e } else { 0x037f };
    let mut fsw = (rng.next_u64() as u16 & 0x477e) | (rng.below(8) as u16) << 11;
    if pending {
        fsw |= 0x8081;
    }
    let img = &mut regs.fx.0;
    img[0..2].copy_from_slice(&fcw.to_le_bytes());
    img[2..4].copy_from_slice(&fsw.to_le_bytes());
    img[4] = match rng.below(4) {
        0 => 0,
        1 => 0xff,
        _ => rng.next_u64() as u8,
    };
    for i in 0..8 {
        let bits = rng.pick(&[8, 16, 32, 64]);
        regs.fx.set_mm(i, edge_vector(rng, bits, None) as u64);
        let exponent = match rng.below(4) {
            0 => 0xffff,
            1 => 0x3fff + rng.below(64) as u16,
            _ => rng.next_u64() as u16,
        };
        regs.fx.set_exponent(i, exponent);
        regs.fx.set_xmm(i, (rng.next_u64() as u128) << 64 | rng.next_u64() as u128);
    }
    regs
}

/// Runs `body` then `jmp END` from `count` random states (every tenth
/// with an exception pending) under both tiers against the host; returns
/// how many runs ended in a fault.
fn run(count: usize, body: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>) -> usize {
    let mut a = CodeAssembler::new(64).unwrap();
    body(&mut a).unwrap();
    a.jmp(END).unwrap();
    let code = a.assemble(CODE).unwrap();
    let mut rng = Rng::new(code.iter().fold(0, |h, b| h * 31 + *b as u64));
    let mut faults = 0;
    for n in 0..count {
        let regs = random_state(&mut rng, n % 10 == 9);
        let mut data: Vec<u8> = (0..0x1000).map(|_| rng.next_u64() as u8).collect();
        for (i, v) in [1.5f64, -2.25, 3.0e10, 0.1].iter().enumerate() {
            data[0x80 + 8 * i..0x88 + 8 * i].copy_from_slice(&v.to_bits().to_le_bytes());
        }
        let case = Case { code: code.clone(), regs, data, undefined_flags: 0, undefined_before: Vec::new() };
        for tier in [Tier::Interp, Tier::Jit] {
            match check(&case, tier) {
                Ok(Stop::Completed) => {}
                Ok(Stop::Fault { .. }) => faults += 1,
                Err(e) => panic!("{tier:?}, state {n}: {e}"),
            }
        }
    }
    faults
}

const STATES: usize = 40;

#[test]
fn mmx_writes_seen_through_fxsave() {
    run(STATES, |a| {
        a.movq(mm3, rax)?;
        a.movd(mm5, ebx)?;
        a.paddb(mm0, qword_ptr(r15 + 8))?;
        a.fxsave64(ptr(r15 + 0x200))
    });
}

#[test]
fn mmx_reads_reset_top_and_fill_the_tags() {
    run(STATES, |a| {
        a.fincstp()?;
        a.movq2dq(xmm0, mm1)?;
        a.pextrw(ecx, mm6, 2)?;
        a.fnstsw(ax)?;
        a.movq(qword_ptr(r15 + 0x100), mm7)?;
        a.fnstenv(ptr(r15 + 0x200))
    });
}

#[test]
fn x87_after_mmx_overflows_the_full_stack() {
    run(STATES, |a| {
        a.pxor(mm2, mm2)?;
        a.fld(qword_ptr(r15 + 0x80))?;
        a.fnstsw(ax)?;
        a.movq(rdx, mm7)?;
        a.fnsave(ptr(r15 + 0x200))
    });
}

#[test]
fn x87_computes_on_mmx_written_registers() {
    run(STATES, |a| {
        a.movq(mm0, qword_ptr(r15 + 0x88))?;
        a.fchs()?;
        a.fst(qword_ptr(r15 + 0x100))?;
        a.fadd_2(st0, st1)?;
        a.fstp(tword_ptr(r15 + 0x110))?;
        a.fnstsw(ax)?;
        a.movd(esi, mm0)
    });
}

#[test]
fn emms_empties_the_tags_for_x87() {
    run(STATES, |a| {
        a.movq(mm4, rcx)?;
        a.emms()?;
        a.fld(qword_ptr(r15 + 0x80))?;
        a.fld(qword_ptr(r15 + 0x90))?;
        a.fmulp(st1, st0)?;
        a.fnstenv(ptr(r15 + 0x200))?;
        a.movq(rdi, mm7)
    });
}

#[test]
fn x87_values_read_as_mmx() {
    run(STATES, |a| {
        a.fld(qword_ptr(r15 + 0x98))?;
        a.fld1()?;
        a.movq(r8, mm6)?;
        a.movq(r9, mm7)?;
        a.movdq2q(mm1, xmm3)?;
        a.fxsave64(ptr(r15 + 0x200))
    });
}

/// Conversions with a memory source leave the x87 state alone; with an
/// MMX register they make the transition.
#[test]
fn conversions_touch_the_x87_state_only_through_mmx_registers() {
    run(STATES, |a| {
        a.cvtpi2ps(xmm1, qword_ptr(r15 + 0x20))?;
        a.cvtpi2pd(xmm2, qword_ptr(r15 + 0x28))?;
        a.fnstenv(ptr(r15 + 0x200))?;
        a.cvtpi2ps(xmm4, mm2)?;
        a.cvttps2pi(mm3, xmm4)?;
        a.fnstsw(ax)
    });
}

/// A loop of MMX instructions in one block (kept in one function by the
/// JIT, the MMX registers going round in host registers), then x87.
#[test]
fn mmx_loop_then_x87() {
    run(STATES, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 7u32)?;
        a.set_label(&mut top)?;
        a.paddw(mm0, mm1)?;
        a.psllq(mm1, 3)?;
        a.pmaddwd(mm2, mm0)?;
        a.pshufw(mm3, mm2, 0x1b)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.emms()?;
        a.fld1()?;
        a.fxsave64(ptr(r15 + 0x200))
    });
}

/// A faulting MMX instruction changes nothing of the x87 state; the one
/// before it made the transition.
#[test]
fn faults_leave_the_x87_state_as_it_was() {
    let faults = run(STATES, |a| {
        a.fld1()?;
        a.movq(qword_ptr(r14), mm1)
    });
    assert_eq!(faults, 2 * STATES, "every run faults");
    run(STATES, |a| {
        a.movq(mm1, rax)?;
        a.fld1()?;
        a.paddd(mm2, qword_ptr(r14))
    });
    // A pending exception comes first: #MF, not #PF.
    run(STATES, |a| a.paddd(mm2, qword_ptr(r14)));
}

/// With an unmasked exception pending, the first MMX instruction or EMMS
/// raises #MF (every tenth state of `run`).
#[test]
fn pending_exceptions_raise_mf() {
    for body in [
        (|a: &mut CodeAssembler| a.paddusb(mm1, mm2)) as fn(&mut CodeAssembler) -> Result<(), IcedError>,
        |a| a.emms(),
        |a| a.movq(qword_ptr(r15), mm0),
        |a| a.cvtpi2ps(xmm0, mm0),
    ] {
        let faults = run(STATES, |a| {
            a.mov(eax, 1u32)?;
            body(a)
        });
        assert_eq!(faults, 2 * (STATES / 10), "the pending states fault");
    }
}
