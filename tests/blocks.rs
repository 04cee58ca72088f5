//! How the frontend forms blocks: direct jumps and backward conditional
//! branches are followed, so a loop of several basic blocks becomes one
//! block that loops on itself; what a block is made of is tracked range by
//! range for self-modifying code; and every engine runs such blocks alike.

mod common;

use common::{CODE, run, run_under};
use iced_x86::BlockEncoderOptions;
use iced_x86::code_asm::*;
use visa::engine::{EngineKind, Stop};
use visa::frontend::Frontend;
use visa::frontend::x86::{MAX_RANGES, Mode, X86, lift_block};
use visa::machine::GuestMemory;
use visa::visa::{ExitReason, Imm, Opcode, SideExit};

/// Filler between the parts of a loop, so that they lie on different
/// pages (and code-tracking lines).
const GAP: usize = 4096;

/// A loop whose test is at its bottom, entered by a jump to the test (the
/// shape compilers give `while` loops), with its body and test far apart:
/// EBP += 3 and EBX += EBP, 99 times (EDX counts from 100 down to 0,
/// tested first). Returns the labels of the body, the body's end, and the
/// test.
fn bottom_tested_loop(a: &mut CodeAssembler) -> Result<[CodeLabel; 3], IcedError> {
    let [mut top, mut end, mut test] = [a.create_label(), a.create_label(), a.create_label()];
    a.mov(edx, 100)?;
    a.xor(ebp, ebp)?;
    a.xor(ebx, ebx)?;
    a.jmp(test)?;
    a.db(&[0xcc; GAP])?;
    a.set_label(&mut top)?;
    a.add(ebp, 3)?;
    a.add(ebx, ebp)?;
    a.jmp(test)?;
    a.set_label(&mut end)?;
    a.db(&[0xcc; GAP])?;
    a.set_label(&mut test)?;
    a.dec(edx)?;
    a.jnz(top)?;
    Ok([top, end, test])
}

#[test]
fn a_loop_of_two_basic_blocks_is_one_block_looping_on_itself() {
    let mut a = CodeAssembler::new(64).unwrap();
    let [top, end, test] = bottom_tested_loop(&mut a).unwrap();
    let mut exit = a.create_label();
    a.set_label(&mut exit).unwrap();
    a.hlt().unwrap();
    let result = a.assemble_options(CODE, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS).unwrap();
    let at = |l: &CodeLabel| result.label_ip(l).unwrap();
    let mut mem = GuestMemory::new(1 << 20).unwrap();
    mem.write_bytes(CODE, &result.inner.code_buffer).unwrap();

    // The block at the test: DEC, JNZ taken (the fall-through a side exit),
    // then the body, whose jump goes back to the block's start.
    let lifted = lift_block(&mem, at(&test), Mode::default()).unwrap();
    assert_eq!(lifted.ranges, vec![(at(&test), at(&exit) - at(&test)), (at(&top), at(&end) - at(&top))]);
    let exits: Vec<(Opcode, Imm)> = lifted
        .block
        .insts
        .iter()
        .filter(|i| matches!(i.op, Opcode::Jump | Opcode::JumpIf | Opcode::Branch))
        .map(|i| (i.op, i.imm))
        .collect();
    assert_eq!(exits, vec![(Opcode::JumpIf, Imm::Target(at(&exit))), (Opcode::Jump, Imm::Target(at(&test)))]);

    // The block at the start follows its jump into the same loop.
    let first = lift_block(&mem, CODE, Mode::default()).unwrap();
    assert_eq!(first.ranges[1].0, at(&test));
    assert_eq!(first.ranges[2].0, at(&top));
}

#[test]
fn followed_loops_run_alike_under_every_engine() {
    let r = run(|a| {
        bottom_tested_loop(a)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[5], 99 * 3, "EBP");
    assert_eq!(r.cpu.gpr[3], 3 * 4950, "EBX: 3 + 6 + ... + 297");
    assert_eq!(r.cpu.gpr[2], 0);
    // 4 before the loop, the test 100 times, the body 99 times, HLT.
    assert_eq!(r.insts, 4 + 100 * 2 + 99 * 3 + 1);
}

#[test]
fn code_written_in_a_followed_range_is_translated_again() {
    let r = run(|a| {
        let mut again = a.create_label();
        a.mov(ecx, 2)?;
        a.set_label(&mut again)?;
        let [top, ..] = bottom_tested_loop(a)?;
        // ADD EBP, 3 (83 C5 03) becomes ADD EBP, 5.
        a.lea(rsi, ptr(top))?;
        a.mov(byte_ptr(rsi + 2), 5)?;
        a.dec(ecx)?;
        a.jnz(again)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[5], 99 * 5, "EBP after the patched pass");
    assert_eq!(r.cpu.gpr[3], 5 * 4950);
}

#[test]
fn a_block_follows_at_most_max_ranges_jumps() {
    let build = |a: &mut CodeAssembler| -> Result<(), IcedError> {
        let mut labels: Vec<CodeLabel> = (0..MAX_RANGES + 2).map(|_| a.create_label()).collect();
        for i in 0..labels.len() - 1 {
            a.inc(eax)?;
            a.jmp(labels[i + 1])?;
            a.set_label(&mut labels[i + 1])?;
        }
        a.hlt()
    };
    let mut a = CodeAssembler::new(64).unwrap();
    build(&mut a).unwrap();
    let code = a.assemble(CODE).unwrap();
    let mut mem = GuestMemory::new(1 << 16).unwrap();
    mem.write_bytes(CODE, &code).unwrap();
    let lifted = lift_block(&mem, CODE, Mode::default()).unwrap();
    assert_eq!(lifted.ranges.len(), MAX_RANGES);
    let r = run(build);
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[0], MAX_RANGES as u64 + 1);
}

#[test]
fn a_fault_at_the_start_of_a_loop_sees_the_flags_of_the_last_round() {
    // Fills bytes 3 apart up to the end of RAM: the store at the loop's
    // start faults in the round after the CMP that let it go on, whose
    // flags the fault must show.
    let r = run(|a| {
        let mut top = a.create_label();
        a.mov(edi, 0x8_0000)?;
        a.mov(esi, 3)?;
        a.mov(rbx, 0x1_0000_0000u64)?;
        a.set_label(&mut top)?;
        a.mov(byte_ptr(rdi), 1)?;
        a.add(rdi, rsi)?;
        a.cmp(rdi, rbx)?;
        a.jb(top)?;
        a.hlt()
    });
    let Stop::Fault(fault) = r.stop else { panic!("no fault: {:?}", r.stop) };
    assert_eq!(fault.vector, 14);
    assert!(r.cpu.gpr[7] >= common::RAM, "RDI {:#x}", r.cpu.gpr[7]);
    assert_eq!(r.cpu.rflags() & 1, 1, "CF of the CMP before");
}

#[test]
fn a_helper_call_inside_a_loop_sees_and_sets_the_state() {
    // CPUID (a helper) rewrites EAX, EBX, ECX and EDX every round; the
    // loop adds up what it gives and counts down in EDI.
    let r = run(|a| {
        let mut top = a.create_label();
        a.mov(edi, 10)?;
        a.xor(esi, esi)?;
        a.set_label(&mut top)?;
        a.mov(eax, 0)?;
        a.xor(ecx, ecx)?;
        a.cpuid()?;
        a.add(esi, ebx)?;
        a.add(ebp, ecx)?;
        a.dec(edi)?;
        a.jnz(top)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    let leaf0 = visa::machine::cpuid::cpuid(visa::machine::cpuid::Model::Max, 0, 0).map(u64::from);
    assert_eq!(r.cpu.gpr[6], (10 * leaf0[1]) & 0xffff_ffff, "ESI: 10 times EBX");
    assert_eq!(r.cpu.gpr[5], (10 * leaf0[2]) & 0xffff_ffff, "EBP: 10 times ECX");
}

#[test]
fn a_loop_reads_what_a_helper_wrote_to_the_state() {
    // FLD1 and FNSTSW (helpers) push and store the status word, whose TOP
    // field the round then adds up: 7, 6, 5, 4, 3 (the first two rounds in
    // the block at the start, which follows the loop branch once, the
    // others in the loop's own block).
    let r = run(|a| {
        let mut top = a.create_label();
        a.mov(ecx, 5)?;
        a.xor(ebx, ebx)?;
        a.set_label(&mut top)?;
        a.fld1()?;
        a.fnstsw(ax)?;
        a.movzx(edx, ax)?;
        a.add(ebx, edx)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[3], (7 + 6 + 5 + 4 + 3) << 11);
}

/// A loop of five basic blocks: four forward conditional branches out of
/// its body (to code that comes back), then DEC EDX and a JNZ back to the
/// top; 64 rounds. Returns the label of the top.
fn loop_with_four_branches_out(a: &mut CodeAssembler) -> Result<CodeLabel, IcedError> {
    let [mut top, mut out, mut a_out, mut a_back, mut b_out, mut b_back, mut c_out, mut c_back] =
        [(); 8].map(|_| a.create_label());
    a.mov(edx, 64)?;
    for r in [ebx, ecx, esi, edi, ebp] {
        a.xor(r, r)?;
    }
    a.set_label(&mut top)?;
    a.inc(ecx)?;
    a.cmp(ecx, 1000)?;
    a.je(out)?;
    a.test(ecx, 3)?;
    a.jz(a_out)?;
    a.add(ebx, 1)?;
    a.set_label(&mut a_back)?;
    a.test(ecx, 5)?;
    a.jz(b_out)?;
    a.add(ebp, 2)?;
    a.set_label(&mut b_back)?;
    a.test(ecx, 16)?;
    a.jnz(c_out)?;
    a.set_label(&mut c_back)?;
    a.dec(edx)?;
    a.jnz(top)?;
    a.set_label(&mut out)?;
    a.hlt()?;
    a.set_label(&mut a_out)?;
    a.add(esi, 1)?;
    a.jmp(a_back)?;
    a.set_label(&mut b_out)?;
    a.add(edi, 1)?;
    a.jmp(b_back)?;
    a.set_label(&mut c_out)?;
    a.add(ebx, 100)?;
    a.jmp(c_back)?;
    Ok(top)
}

#[test]
fn a_fourth_branch_out_of_a_loop_body_still_leaves_one_block_looping_on_itself() {
    let mut a = CodeAssembler::new(64).unwrap();
    let top = loop_with_four_branches_out(&mut a).unwrap();
    let result = a.assemble_options(CODE, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS).unwrap();
    let top = result.label_ip(&top).unwrap();
    let mut mem = GuestMemory::new(1 << 20).unwrap();
    mem.write_bytes(CODE, &result.inner.code_buffer).unwrap();

    // Past `MAX_SIDE_EXITS`, the fourth branch out is a side exit too, since
    // the loop's own branch follows within a few instructions; that branch
    // ends the block with a branch back to its start.
    let lifted = lift_block(&mem, top, Mode::default()).unwrap();
    let exits: Vec<Opcode> = lifted
        .block
        .insts
        .iter()
        .filter(|i| matches!(i.op, Opcode::Jump | Opcode::JumpIf | Opcode::Branch))
        .map(|i| i.op)
        .collect();
    assert_eq!(exits, [[Opcode::JumpIf; 4].as_slice(), &[Opcode::Branch]].concat());
    let last = lifted.block.insts.iter().rev().find(|i| i.op == Opcode::Branch).unwrap();
    assert!(last.direct_targets().any(|t| t == top), "the block branches back to its start");
    assert_eq!(lifted.ranges.len(), 1);
}

#[test]
fn a_loop_with_four_branches_out_runs_alike_under_every_engine() {
    let r = run(|a| {
        loop_with_four_branches_out(a)?;
        Ok(())
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    // Rounds 1 to 64 (ECX): a multiple of 4 goes out to ESI, the others add
    // 1 to EBX; ECX & 5 == 0 goes out to EDI, else EBP += 2; ECX & 16 adds
    // 100 to EBX.
    let rounds = 1..=64u64;
    let (quads, bit16) =
        (rounds.clone().filter(|c| c % 4 == 0).count() as u64, rounds.clone().filter(|c| c & 16 != 0).count() as u64);
    let not5 = rounds.clone().filter(|c| c & 5 == 0).count() as u64;
    assert_eq!(r.cpu.gpr[1], 64, "ECX");
    assert_eq!(r.cpu.gpr[6], quads, "ESI");
    assert_eq!(r.cpu.gpr[7], not5, "EDI");
    assert_eq!(r.cpu.gpr[3], (64 - quads) + 100 * bit16, "EBX");
    assert_eq!(r.cpu.gpr[5], 2 * (64 - not5), "EBP");
    assert_eq!(r.cpu.gpr[2], 0, "EDX");
}

/// A loop of 1,000 rounds whose first branch, a side exit of the block at
/// the loop's top, is taken in seven rounds of eight (ECX & 7 != 0: EDX +=
/// ECX) and skips the rest of the body (EBX += ECX, ESI += 1). Returns the
/// labels of the top and of the branch.
fn loop_mostly_skipping_its_body(a: &mut CodeAssembler) -> Result<[CodeLabel; 2], IcedError> {
    let [mut top, mut branch, mut skip] = [(); 3].map(|_| a.create_label());
    a.mov(ecx, 1000)?;
    for r in [ebx, edx, esi] {
        a.xor(r, r)?;
    }
    a.set_label(&mut top)?;
    a.test(ecx, 7)?;
    a.set_label(&mut branch)?;
    a.jnz(skip)?;
    a.add(ebx, ecx)?;
    a.inc(esi)?;
    a.set_label(&mut skip)?;
    a.add(edx, ecx)?;
    a.dec(ecx)?;
    a.jnz(top)?;
    a.hlt()?;
    Ok([top, branch])
}

#[test]
fn a_block_lifted_to_end_at_a_side_exit_leaves_both_ways_there() {
    let mut a = CodeAssembler::new(64).unwrap();
    let [top, branch] = loop_mostly_skipping_its_body(&mut a).unwrap();
    let result = a.assemble_options(CODE, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS).unwrap();
    let (top, branch) = (result.label_ip(&top).unwrap(), result.label_ip(&branch).unwrap());
    let mut mem = GuestMemory::new(1 << 20).unwrap();
    mem.write_bytes(CODE, &result.inner.code_buffer).unwrap();
    let exits = |block: &visa::visa::Block| -> Vec<(Opcode, Imm)> {
        let direct = block.insts.iter().filter(|i| matches!(i.op, Opcode::Jump | Opcode::JumpIf | Opcode::Branch));
        direct.map(|i| (i.op, i.imm)).collect()
    };
    // TEST, JNZ (2 bytes), ADD, INC (2 bytes each), ADD, DEC, JNZ back to
    // the top (a side exit to the block's own start), HLT.
    let (after, skip) = (branch + 2, branch + 2 + 2 + 2);
    let (back, hlt) = (skip + 4, skip + 6);
    let whole = lift_block(&mem, top, Mode::default()).unwrap();
    assert_eq!(
        whole.block.side_exits(),
        [
            SideExit { at: branch, target: skip, resume: Some(after) },
            SideExit { at: back, target: top, resume: Some(hlt) }
        ]
    );
    assert_eq!(exits(&whole.block), [(Opcode::JumpIf, Imm::Target(skip)), (Opcode::JumpIf, Imm::Target(top))]);

    let mode = Mode::default().bits();
    let ended = X86.lift_ending_at(&mem, top, mode, 64, branch).unwrap();
    assert_eq!(exits(&ended.block), [(Opcode::Branch, Imm::Branch(skip, after))]);
    assert_eq!(ended.block.guest_count(), 2);
    assert!(ended.block.side_exits().is_empty());
    assert_eq!(ended.ranges, [(top, after - top)]);
    // A branch the block does not reach as a side exit changes nothing.
    assert_eq!(X86.lift_ending_at(&mem, top, mode, 64, top).unwrap().block, whole.block);
}

#[test]
fn a_hot_block_whose_side_exit_is_mostly_taken_is_compiled_ending_there() {
    let r = run(|a| loop_mostly_skipping_its_body(a).map(|_| ()));
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    let rounds = 1..=1000u64;
    assert_eq!(r.cpu.gpr[2], rounds.clone().sum::<u64>(), "EDX");
    assert_eq!(r.cpu.gpr[3], rounds.clone().filter(|c| c % 8 == 0).sum::<u64>(), "EBX");
    assert_eq!(r.cpu.gpr[6], 125, "ESI");
    // Hot after 50 runs (the block at the top ran in every round so far):
    // compiled ending at its branch, and the rest as before.
    let tiered = run_under(EngineKind::Tiered { threshold: 50 }, |a| loop_mostly_skipping_its_body(a).map(|_| ()));
    assert!(tiered.stats.jit_shortened >= 1, "{:?}", tiered.stats);
    assert!(tiered.stats.jit_runs > 0);
    assert_eq!((tiered.stop, tiered.insts), (r.stop, r.insts));
    assert_eq!(tiered.cpu, r.cpu);
}

/// The engine computes the mode again only after a block that may change
/// it: one that sets CS or MXCSR (float arithmetic sets its flags), or
/// calls a helper.
#[test]
fn only_blocks_that_set_cs_or_mxcsr_or_call_a_helper_may_change_the_mode() {
    let lifted = |build: &dyn Fn(&mut CodeAssembler) -> Result<(), IcedError>| {
        let mut a = CodeAssembler::new(64).unwrap();
        build(&mut a).unwrap();
        a.hlt().unwrap();
        let code = a.assemble(CODE).unwrap();
        let mut mem = GuestMemory::new(1 << 20).unwrap();
        mem.write_bytes(CODE, &code).unwrap();
        let block = lift_block(&mem, CODE, Mode::default()).unwrap().block;
        visa::frontend::may_change_mode(&X86, &block)
    };
    assert!(!lifted(&|a| {
        a.add(rax, rbx)?;
        a.mov(qword_ptr(rsp), rax)?;
        a.movq(xmm0, rax)
    }));
    assert!(lifted(&|a| a.ldmxcsr(dword_ptr(rsp))));
    // MXCSR's exception flags are part of the mode.
    assert!(lifted(&|a| a.addsd(xmm0, xmm1)));
    assert!(lifted(&|a| a.cpuid()));
}
