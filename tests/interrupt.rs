//! `abi::interrupt` brings a running engine back within one block, under
//! every engine, even in a loop that never leaves compiled code: how host
//! signals reach a Linux guest promptly. (A file of its own: `abi::interrupt`
//! asks every engine of the process back, so no other test may run beside it.)

use iced_x86::code_asm::*;
use visa::engine::{Engine, EngineKind, Stop};
use visa::machine::GuestMemory;
use visa::system::board::{self, Input, Uart};

#[test]
fn item8_an_interrupt_stops_an_endless_loop_under_every_engine() {
    for kind in [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered { threshold: 1 }] {
        let mut a = CodeAssembler::new(64).unwrap();
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.inc(rax).unwrap();
        a.jmp(top).unwrap();
        let code = a.assemble(0x1000).unwrap();
        let mut mem = GuestMemory::new(1 << 20).unwrap();
        mem.write_bytes(0x1000, &code).unwrap();
        let mut cpu = board::entry_state(0x1000, 1 << 20);
        let mut board = board::new_board(Uart::new(Box::new(std::io::sink()), Input::None));
        let mut engine = Engine::with_kind(kind);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let interrupter = std::thread::spawn(move || {
            // Until the engine has come back (an interrupt may land before
            // it starts, and is then taken at its first block).
            while rx.recv_timeout(std::time::Duration::from_millis(20)).is_err() {
                visa::abi::interrupt();
            }
        });
        let stop = engine.run(&mut cpu, &mut mem, &mut board, u64::MAX);
        tx.send(()).unwrap();
        interrupter.join().unwrap();
        assert_eq!(stop, Stop::Interrupted, "{kind:?}");
        assert_eq!(cpu.gpr[0] * 2, engine.stats.guest_insts, "{kind:?}: stopped at an instruction boundary");
        assert_eq!(cpu.rip, 0x1000, "{kind:?}: stopped at the loop's start");
        // Nothing pending is left behind: a budget ends it next time.
        engine.take_interrupt();
        assert_eq!(engine.run(&mut cpu, &mut mem, &mut board, 10), Stop::Budget, "{kind:?}");
    }
}
