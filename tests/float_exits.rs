//! A JIT screen of float exception flags that fails leaves compiled code
//! for the interpreter to run that instruction; a block that keeps failing
//! (exact zero results in a loop: outside the range a screen passes, though
//! they raise nothing) is interpreted from then on. Every engine ends in the
//! same state, flags included.

use iced_x86::code_asm::*;
use visa::engine::{Engine, EngineKind, Stop};
use visa::machine::{CpuState, GuestMemory};
use visa::system::board::{self, Input, Uart};

const DATA: u64 = 0x8000;
const ROUNDS: u32 = 3000;

/// Runs `rounds` of a loop that subtracts from 1.0 the double at `DATA +
/// 8` (with `denormal`, the smallest denormal, else 1.0) and adds 1.0 to
/// XMM2, MXCSR starting with inexact set.
fn run(kind: EngineKind, denormal: bool) -> (CpuState, u64, u64) {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut top = a.create_label();
    a.mov(ecx, ROUNDS).unwrap();
    a.set_label(&mut top).unwrap();
    a.movsd_2(xmm0, qword_ptr(DATA)).unwrap();
    a.subsd(xmm0, qword_ptr(DATA + 8)).unwrap();
    a.addsd(xmm2, qword_ptr(DATA)).unwrap();
    a.dec(ecx).unwrap();
    a.jnz(top).unwrap();
    let code = a.assemble(0x1000).unwrap();
    let mut mem = GuestMemory::new(1 << 20).unwrap();
    mem.write_bytes(0x1000, &code).unwrap();
    mem.write_bytes(DATA, &1f64.to_bits().to_le_bytes()).unwrap();
    let subtrahend = if denormal { 1 } else { 1f64.to_bits() };
    mem.write_bytes(DATA + 8, &subtrahend.to_le_bytes()).unwrap();
    let mut cpu = board::entry_state(0x1000, 1 << 20);
    cpu.mxcsr = 0x1fa0;
    let mut board = board::new_board(Uart::new(Box::new(std::io::sink()), Input::None));
    let mut engine = Engine::with_kind(kind);
    let insts = 1 + 5 * ROUNDS as u64;
    assert_eq!(engine.run(&mut cpu, &mut mem, &mut board, insts), Stop::Budget, "{kind:?}");
    (cpu, engine.stats.float_exits, engine.stats.float_demoted)
}

#[test]
fn failed_screens_leave_for_the_interpreter_and_a_block_failing_often_is_interpreted() {
    let (want, exits, _) = run(EngineKind::Interp, false);
    assert_eq!(exits, 0);
    assert_eq!(want.mxcsr, 0x1fa0, "nothing raised");
    assert_eq!(want.xmm[2] as u64, (ROUNDS as f64).to_bits());
    for kind in [EngineKind::Jit, EngineKind::Tiered { threshold: 1 }] {
        let (got, exits, demoted) = run(kind, false);
        assert_eq!((got.mxcsr, got.xmm, got.gpr, got.rip), (want.mxcsr, want.xmm, want.gpr, want.rip), "{kind:?}");
        assert!(exits >= 256, "{kind:?}: {exits} exits");
        assert!(demoted >= 1, "{kind:?}: the loop stays compiled");
        assert!(exits < 2 * 256 * 2, "{kind:?}: {exits} exits after demotion");
    }
}

/// A denormal operand fails the screen at most once: the interpreter sets the
/// denormal flag, the block is translated again for the flags now set, and
/// its screens no longer look at operands.
#[test]
fn a_flag_once_set_is_not_screened_for_again() {
    let (want, _, _) = run(EngineKind::Interp, true);
    assert_eq!(want.mxcsr, 0x1fa2, "denormal operand and inexact");
    for kind in [EngineKind::Jit, EngineKind::Tiered { threshold: 1 }] {
        let (got, exits, demoted) = run(kind, true);
        assert_eq!((got.mxcsr, got.xmm, got.gpr, got.rip), (want.mxcsr, want.xmm, want.gpr, want.rip), "{kind:?}");
        // Tiered runs the first round interpreted, which sets the flag.
        assert!(exits <= 1 && demoted == 0, "{kind:?}: {exits} exits, {demoted} demoted");
    }
}
