//! The JIT checks a group of accesses at constant offsets from one base
//! (pushes, pops, fields) once, where memory has page permissions; when the
//! check fails, the block leaves for the interpreter at the group's first
//! access (or is run again from its start, where nothing it did so far can
//! change what it sees). These programs make it fail part-way, so the fault
//! must come at the right access with the earlier ones done, and make a
//! group's store hit translated code, both where the block may be run again
//! and where it may not. Every engine must agree (see `common`).

mod common;

use common::run_protected;
use iced_x86::IcedError;
use iced_x86::code_asm::*;
use visa::engine::Stop;
use visa::machine::{PAGE_SIZE, PERM_R};
use visa::visa::ExitReason;

/// A read-only page, with the stack just above it.
const READ_ONLY: u64 = 0x4_0000;

#[test]
fn pushes_into_a_read_only_page_fault_at_the_first_that_reaches_it() {
    let r = run_protected(
        |a| {
            a.mov(rsp, READ_ONLY + PAGE_SIZE + 16)?;
            a.mov(eax, 0x11)?;
            a.mov(ebx, 0x22)?;
            a.push(rax)?;
            a.push(rbx)?;
            a.push(rax)?;
            a.push(rbx)?;
            a.hlt()
        },
        |mem| mem.protect(READ_ONLY, PAGE_SIZE, PERM_R),
    );
    let Stop::Fault(fault) = r.stop else { panic!("no fault: {:?}", r.stop) };
    assert_eq!(fault.vector, 14);
    assert_eq!(fault.addr, Some(READ_ONLY + PAGE_SIZE - 8), "the third push's address");
    assert_eq!(r.cpu.gpr[4], READ_ONLY + PAGE_SIZE, "RSP after two pushes");
}

#[test]
fn accesses_across_two_writable_pages_run_as_one_group() {
    let r = run_protected(
        |a| {
            a.mov(esi, (READ_ONLY + 2 * PAGE_SIZE - 8) as u32)?;
            a.mov(qword_ptr(rsi), 1)?;
            a.mov(qword_ptr(rsi + 8), 2)?;
            a.mov(qword_ptr(rsi + 16), 3)?;
            a.mov(rax, qword_ptr(rsi))?;
            a.add(rax, qword_ptr(rsi + 8))?;
            a.add(rax, qword_ptr(rsi + 16))?;
            a.hlt()
        },
        |mem| mem.protect(READ_ONLY, PAGE_SIZE, PERM_R),
    );
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[0], 6);
}

/// Makes the rest of a block impossible to run again from its start: it
/// adds 1 to the qword at RDI (RDI must point to writable memory), a load
/// and a store of the same bytes; RAX holds the sum, which a second run
/// would make 2.
fn load_and_store_the_same_bytes(a: &mut CodeAssembler) -> Result<(), IcedError> {
    a.mov(rax, qword_ptr(rdi))?;
    a.add(rax, 1)?;
    a.mov(qword_ptr(rdi), rax)
}

/// A writable page for `load_and_store_the_same_bytes`.
const SCRATCH: u64 = READ_ONLY + 4 * PAGE_SIZE;

#[test]
fn pushes_after_a_store_that_forbids_running_again_fault_at_the_first_that_reaches_it() {
    let r = run_protected(
        |a| {
            a.mov(edi, SCRATCH as u32)?;
            a.mov(rsp, READ_ONLY + PAGE_SIZE + 16)?;
            load_and_store_the_same_bytes(a)?;
            a.mov(ebx, 0x22)?;
            a.push(rax)?;
            a.push(rbx)?;
            a.push(rax)?;
            a.push(rbx)?;
            a.hlt()
        },
        |mem| mem.protect(READ_ONLY, PAGE_SIZE, PERM_R),
    );
    let Stop::Fault(fault) = r.stop else { panic!("no fault: {:?}", r.stop) };
    assert_eq!((fault.vector, fault.addr), (14, Some(READ_ONLY + PAGE_SIZE - 8)), "the third push's");
    assert_eq!(r.cpu.gpr[4], READ_ONLY + PAGE_SIZE, "RSP after two pushes");
    assert_eq!(r.cpu.gpr[0], 1, "the qword at RDI incremented once");
}

#[test]
fn a_grouped_store_into_the_running_block_takes_effect() {
    // Three stores through RSI rewrite the immediate of the MOV after them
    // in the same block (B9 01 00 00 00), which must then load the new
    // value; with or without a store before them that forbids running the
    // block again.
    for forbid in [false, true] {
        let r = run_protected(
            |a| {
                let mut target = a.create_label();
                a.mov(edi, SCRATCH as u32)?;
                if forbid {
                    load_and_store_the_same_bytes(a)?;
                }
                a.lea(rsi, ptr(target))?;
                a.mov(ebx, 0x7f)?;
                a.mov(byte_ptr(rsi + 2), bh)?;
                a.mov(byte_ptr(rsi + 3), bh)?;
                a.mov(byte_ptr(rsi + 1), bl)?;
                a.set_label(&mut target)?;
                a.mov(ecx, 1)?;
                a.hlt()
            },
            |_| {},
        );
        assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
        assert_eq!(r.cpu.gpr[1], 0x7f, "the rewritten immediate (forbid {forbid})");
        assert_eq!(r.cpu.gpr[0], forbid as u64, "RAX (forbid {forbid})");
    }
}

#[test]
fn pushes_below_address_zero_fault_at_the_one_that_wraps() {
    let r = run_protected(
        |a| {
            a.mov(esp, 16)?;
            a.push(rax)?;
            a.push(rbx)?;
            a.push(rcx)?;
            a.hlt()
        },
        |_| {},
    );
    let Stop::Fault(fault) = r.stop else { panic!("no fault: {:?}", r.stop) };
    assert_eq!(fault.vector, 14);
    assert_eq!(fault.addr, Some(u64::MAX - 7), "the third push's address");
    assert_eq!(r.cpu.gpr[4], 0, "RSP after two pushes");
}

#[test]
fn accesses_past_the_end_of_memory_fault_at_the_first_beyond() {
    let r = run_protected(
        |a| {
            a.mov(esi, (common::RAM - 16) as u32)?;
            a.mov(qword_ptr(rsi), 1)?;
            a.mov(qword_ptr(rsi + 8), 2)?;
            a.mov(qword_ptr(rsi + 16), 3)?;
            a.hlt()
        },
        |_| {},
    );
    let Stop::Fault(fault) = r.stop else { panic!("no fault: {:?}", r.stop) };
    assert_eq!(fault.addr, Some(common::RAM));
}

#[test]
fn a_store_after_a_load_of_the_same_bytes_is_checked_for_writing() {
    // The load passes on the read-only page, the store of the same bytes
    // must still fault, both as a separate instruction and as the store of
    // a read-modify-write.
    for rmw in [false, true] {
        let r = run_protected(
            |a| {
                a.mov(esi, READ_ONLY as u32 + 8)?;
                a.mov(ebx, 5)?;
                if rmw {
                    a.add(dword_ptr(rsi), ebx)?;
                } else {
                    a.mov(eax, dword_ptr(rsi))?;
                    a.add(eax, ebx)?;
                    a.mov(dword_ptr(rsi), eax)?;
                }
                a.hlt()
            },
            |mem| mem.protect(READ_ONLY, PAGE_SIZE, PERM_R),
        );
        let Stop::Fault(fault) = r.stop else { panic!("no fault (rmw {rmw}): {:?}", r.stop) };
        assert_eq!((fault.vector, fault.addr), (14, Some(READ_ONLY + 8)), "rmw {rmw}");
        assert_eq!(r.cpu.gpr[0], if rmw { 0 } else { 5 }, "RAX (rmw {rmw})");
    }
}

#[test]
fn read_modify_writes_of_the_running_block_s_code_take_effect() {
    // Two additions to the immediate of the MOV after them, in one block:
    // the first store hits translated code, the second (covered by the
    // first's checks) must still land, and the MOV must load the sum.
    let r = common::run(|a| {
        let mut target = a.create_label();
        a.lea(rsi, ptr(target))?;
        a.mov(ebx, 0x10)?;
        a.add(byte_ptr(rsi + 1), bl)?;
        a.add(byte_ptr(rsi + 1), bl)?;
        a.set_label(&mut target)?;
        a.mov(ecx, 1)?;
        a.hlt()
    });
    assert_eq!(r.stop, Stop::Exit(ExitReason::Halt));
    assert_eq!(r.cpu.gpr[1], 0x21, "the rewritten immediate");
}
