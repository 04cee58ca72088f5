//! Deferred flags: a block whose last flag writer is a compare, an
//! addition or a logical operation leaves its kind and operands instead of
//! six flags; the flags are computed only where something observes them
//! (a later read, a fault, PUSHF, a signal frame), and every engine agrees.
//! The hardware comparison is in `oracle_deferred_flags`.

mod common;
mod linux_run;

use common::{CODE, RAM, run};
use iced_x86::code_asm::*;
use visa::engine::Stop;
use visa::frontend::x86::{Mode, X86Env, lift_block};
use visa::machine::GuestMemory;
use visa::visa::{Block, Imm, Opcode, Slot};

/// The optimised block at `CODE` of the code `build` assembles.
fn lifted(build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>) -> Block {
    let mut a = CodeAssembler::new(64).unwrap();
    build(&mut a).unwrap();
    let mut mem = GuestMemory::new(1 << 16).unwrap();
    mem.write_bytes(CODE, &a.assemble(CODE).unwrap()).unwrap();
    let block = lift_block(&mem, CODE, Mode::default()).unwrap().block;
    visa::visa::opt::optimize(&X86Env::get().env, &block)
}

/// How many `op`s of the slots `slots` the block has.
fn count(block: &Block, op: Opcode, slots: &[Slot]) -> usize {
    block.insts.iter().filter(|i| i.op == op && matches!(i.imm, Imm::Slot(s) if slots.contains(&s))).count()
}

fn arithmetic_flags() -> Vec<Slot> {
    X86Env::get().flags[..6].to_vec()
}

fn deferred_state() -> Vec<Slot> {
    let x = X86Env::get();
    vec![x.cc_op, x.cc_a, x.cc_b]
}

#[test]
fn a_block_ending_after_a_compare_writes_no_flag() {
    let block = lifted(|a| {
        a.cmp(rdi, rsi)?;
        a.setb(al)?;
        a.ret()
    });
    assert_eq!(count(&block, Opcode::Set, &arithmetic_flags()), 0, "{block:?}");
    assert_eq!(count(&block, Opcode::Set, &deferred_state()), 3);
    // SETB is computed from the operands: nothing of the entry state is read.
    assert_eq!(count(&block, Opcode::Get, &deferred_state()), 0);
}

#[test]
fn a_block_that_redefines_the_flags_first_reads_none() {
    let block = lifted(|a| {
        a.test(eax, eax)?;
        a.jne(0x2000)?;
        a.hlt()
    });
    assert_eq!(count(&block, Opcode::Get, &arithmetic_flags()), 0);
    assert_eq!(count(&block, Opcode::Get, &deferred_state()), 0);
}

#[test]
fn a_block_that_reads_the_flags_first_computes_them_from_what_it_found() {
    // JB at the block's start: CF as the last block left it (in its slot,
    // or deferred).
    let block = lifted(|a| {
        a.jb(0x2000)?;
        a.hlt()
    });
    assert_eq!(count(&block, Opcode::Get, &deferred_state()), 3);
    assert_eq!(count(&block, Opcode::Get, &[X86Env::get().flags[0]]), 1);
    // INC keeps CF: that one is put in its slot, the others are INC's.
    let block = lifted(|a| {
        a.inc(eax)?;
        a.hlt()
    });
    let x = X86Env::get();
    assert_eq!(count(&block, Opcode::Set, &arithmetic_flags()), 6);
    assert_eq!(count(&block, Opcode::Get, &arithmetic_flags()), 1, "CF only");
    assert_eq!(count(&block, Opcode::Set, &[x.cc_op]), 1, "the flags are in place");
}

/// A compare, then an indirect jump: the flags leave the block deferred.
fn compare_then_jump(a: &mut CodeAssembler, x: u64, y: u64) -> Result<CodeLabel, IcedError> {
    let mut next = a.create_label();
    a.mov(rdi, x)?;
    a.mov(rsi, y)?;
    a.cmp(rdi, rsi)?;
    a.lea(r11, ptr(next))?;
    a.jmp(r11)?;
    a.set_label(&mut next)?;
    Ok(next)
}

#[test]
fn pushf_in_the_next_block_sees_the_deferred_flags() {
    let r = run(|a| {
        compare_then_jump(a, 0, 1)?;
        a.pushfq()?;
        a.pop(rbx)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(visa::visa::ExitReason::Halt));
    // 0 - 1 on hardware: CF PF AF SF.
    assert_eq!(r.cpu.gpr[3] & 0x8d5, 0x095, "RBX {:#x}", r.cpu.gpr[3]);
}

#[test]
fn a_fault_in_the_next_block_sees_the_deferred_flags() {
    let r = run(|a| {
        compare_then_jump(a, 0x8000_0000_0000_0000, 1)?;
        a.mov(r8, RAM + 0x1000)?;
        a.mov(al, byte_ptr(r8))?;
        a.hlt()
    });
    let Stop::Fault(fault) = r.stop else { panic!("no fault: {:?}", r.stop) };
    assert_eq!(fault.vector, 14);
    // MIN - 1: no borrow, overflow, PF (low byte 0xff), AF.
    assert_eq!(r.cpu.rflags() & 0x8d5, 0x814);
    assert_eq!(r.cpu.cc_op, 0, "the state a system sees has its flags in place");
}

#[test]
fn a_signal_frame_holds_the_deferred_flags() {
    let prog = linux_run::build_c_program("flags/signal_frame");
    let native = linux_run::native(&prog, &[], None, None);
    assert_eq!(native.stdout.iter().filter(|b| **b == b'\n').count(), 7 * 16 * 16);
    for engine in [linux_run::Interp, linux_run::Jit, linux_run::Tiered] {
        let got = linux_run::visa(engine, &[], &prog, &[], None, None);
        linux_run::assert_same(&format!("signal frames under {}", engine.name()), &native, &got);
    }
}
