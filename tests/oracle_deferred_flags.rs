//! Deferred flags under the oracle: a flag-setting instruction ends its
//! block (an indirect jump follows), and the next block observes the flags
//! it left: PUSHF, LAHF, ADC, a SETcc, INC (which keeps CF), a faulting
//! access, or nothing (the state at the end). Natively and under both
//! tiers, with the same registers, flags and memory.
#![cfg(target_arch = "x86_64")]

use iced_x86::code_asm::*;
use iced_x86::{Code, Instruction, Register};
use visa::oracle::cases::{DATA_LEN, Rng, STACK, value};
use visa::oracle::native::{CODE, END, Regs};
use visa::oracle::{Case, Stop, Tier, check};

/// The deferred writers, by operand size (8, 16, 32, 64 bits).
const WRITERS: &[[Code; 4]] = &[
    [Code::Cmp_rm8_r8, Code::Cmp_rm16_r16, Code::Cmp_rm32_r32, Code::Cmp_rm64_r64],
    [Code::Sub_rm8_r8, Code::Sub_rm16_r16, Code::Sub_rm32_r32, Code::Sub_rm64_r64],
    [Code::Add_rm8_r8, Code::Add_rm16_r16, Code::Add_rm32_r32, Code::Add_rm64_r64],
    [Code::Xadd_rm8_r8, Code::Xadd_rm16_r16, Code::Xadd_rm32_r32, Code::Xadd_rm64_r64],
    [Code::Neg_rm8, Code::Neg_rm16, Code::Neg_rm32, Code::Neg_rm64],
    [Code::And_rm8_r8, Code::And_rm16_r16, Code::And_rm32_r32, Code::And_rm64_r64],
    [Code::Or_rm8_r8, Code::Or_rm16_r16, Code::Or_rm32_r32, Code::Or_rm64_r64],
    [Code::Xor_rm8_r8, Code::Xor_rm16_r16, Code::Xor_rm32_r32, Code::Xor_rm64_r64],
    [Code::Test_rm8_r8, Code::Test_rm16_r16, Code::Test_rm32_r32, Code::Test_rm64_r64],
];

/// Writers from here on are logical: AF is undefined after them.
const FIRST_LOGICAL: usize = 5;

const OPERANDS: [[Register; 2]; 4] = [
    [Register::BL, Register::SIL],
    [Register::BX, Register::SI],
    [Register::EBX, Register::ESI],
    [Register::RBX, Register::RSI],
];

const SETCC: [Code; 16] = [
    Code::Seto_rm8,
    Code::Setno_rm8,
    Code::Setb_rm8,
    Code::Setae_rm8,
    Code::Sete_rm8,
    Code::Setne_rm8,
    Code::Setbe_rm8,
    Code::Seta_rm8,
    Code::Sets_rm8,
    Code::Setns_rm8,
    Code::Setp_rm8,
    Code::Setnp_rm8,
    Code::Setl_rm8,
    Code::Setge_rm8,
    Code::Setle_rm8,
    Code::Setg_rm8,
];

/// What the second block does with the flags.
#[derive(Clone, Copy, Debug)]
enum Reader {
    Nothing,
    Pushf,
    Lahf,
    Adc,
    Setcc(usize),
    Inc,
    Fault,
}

const READERS: [Reader; 7] =
    [Reader::Nothing, Reader::Pushf, Reader::Lahf, Reader::Adc, Reader::Setcc(0), Reader::Inc, Reader::Fault];

fn writer(w: usize, size: usize) -> Instruction {
    let [dst, src] = OPERANDS[size];
    let code = WRITERS[w][size];
    if w == 4 { Instruction::with1(code, dst) } else { Instruction::with2(code, dst, src) }.unwrap()
}

fn code(w: usize, size: usize, reader: Reader) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(64)?;
    let mut next = a.create_label();
    a.add_instruction(writer(w, size))?;
    a.lea(r11, ptr(next))?;
    a.jmp(r11)?;
    a.set_label(&mut next)?;
    match reader {
        Reader::Nothing => a.nop()?,
        Reader::Pushf => {
            a.pushfq()?;
            a.pop(rcx)?;
        }
        Reader::Lahf => a.lahf()?,
        Reader::Adc => a.adc(rdx, rdi)?,
        Reader::Setcc(cc) => a.add_instruction(Instruction::with1(SETCC[cc], Register::CL)?)?,
        Reader::Inc => a.inc(rdx)?,
        Reader::Fault => {
            a.mov(r8, 0x8000_0000_0000_0000u64)?;
            a.mov(al, byte_ptr(r8))?;
        }
    }
    a.jmp(END)?;
    a.assemble(CODE)
}

fn case(rng: &mut Rng, w: usize, size: usize, reader: Reader) -> Case {
    let mut regs = Regs::default();
    for (i, r) in regs.gpr.iter_mut().enumerate() {
        *r = if i == 4 { STACK } else { value(rng, 64) };
    }
    // Equal operands now and then (ZF, and CMP's common case).
    if rng.chance(20) {
        regs.gpr[6] = regs.gpr[3];
    }
    let flag_bits = [0u64, 2, 4, 6, 7, 11];
    regs.rflags = 0x202 | flag_bits.iter().fold(0, |acc, b| acc | if rng.chance(50) { 1 << b } else { 0 });
    let logical = w >= FIRST_LOGICAL;
    Case {
        code: code(w, size, reader).unwrap(),
        regs,
        data: (0..DATA_LEN).map(|_| rng.next_u64() as u8).collect(),
        undefined_flags: if logical { 0x10 } else { 0 },
        undefined_before: Vec::new(),
    }
}

/// Every writer at every size before every reader, `rounds` times with
/// random operands; returns the cases run and those that faulted.
fn run(tier: Tier, rounds: usize, seed: u64) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let (mut cases, mut faults) = (0, 0);
    for _ in 0..rounds {
        for (w, codes) in WRITERS.iter().enumerate() {
            for (size, code) in codes.iter().enumerate() {
                for reader in READERS {
                    let reader = match reader {
                        Reader::Setcc(_) => Reader::Setcc(rng.below(16) as usize),
                        // AF is undefined after a logical operation: not
                        // copied where it would be compared.
                        Reader::Pushf | Reader::Lahf if w >= FIRST_LOGICAL => continue,
                        r => r,
                    };
                    let c = case(&mut rng, w, size, reader);
                    match check(&c, tier) {
                        Ok(Stop::Fault { .. }) => faults += 1,
                        Ok(Stop::Completed) => {}
                        Err(e) => panic!("{tier:?}: {code:?} then {reader:?}:\n{e}"),
                    }
                    cases += 1;
                }
            }
        }
    }
    (cases, faults)
}

#[test]
fn flags_deferred_across_blocks_are_those_of_the_hardware() {
    for tier in [Tier::Interp, Tier::Jit] {
        let (cases, faults) = run(tier, 3, 0xdef);
        // 9 writers x 4 sizes x 7 readers, less PUSHF and LAHF after the 4
        // logical ones, 3 rounds; one reader in 7 faults.
        assert_eq!(cases, 3 * 4 * (9 * 7 - 4 * 2));
        assert_eq!(faults, 3 * 4 * 9);
    }
}
