//! The bare-metal board: RAM, a 16550 UART at 0x3F8, an isa-debug-exit port
//! at 0xF4, CPUID and a time-stamp counter, with the conventions QEMU uses
//! so the same guest runs on both. It runs a guest from its documented
//! entry state until it halts, writes the exit port, or faults.

mod loader;
mod uart;

pub use loader::{load_elf, load_raw};
pub use uart::{Input, Uart};

use crate::engine::{Engine, Fault, Stop};
use crate::machine::x86rt::{NoPorts, Ports, X86Runtime};
use crate::machine::{CpuState, GuestMemory};
use crate::system::gdb::Debugger;
use crate::visa::ExitReason;

/// The isa-debug-exit port.
pub const EXIT_PORT: u16 = 0xf4;

/// The board's devices on the I/O port bus.
pub struct Devices {
    pub uart: Uart,
    exit_status: Option<i32>,
}

impl Ports for Devices {
    fn port_in(&mut self, port: u16, size: u32) -> u32 {
        match port {
            p if (uart::BASE..uart::BASE + uart::PORTS).contains(&p) => self.uart.read(p - uart::BASE) as u32,
            // Nothing answers: the bus reads all ones.
            _ => NoPorts.port_in(port, size),
        }
    }

    fn port_out(&mut self, port: u16, _size: u32, value: u32) {
        match port {
            p if (uart::BASE..uart::BASE + uart::PORTS).contains(&p) => self.uart.write(p - uart::BASE, value as u8),
            EXIT_PORT => self.exit_status = Some(((value as i32) << 1) | 1),
            _ => {}
        }
    }

    fn stop_requested(&self) -> bool {
        self.exit_status.is_some()
    }
}

/// The board: its devices behind the shared x86 helpers.
pub type Board = X86Runtime<Devices>;

/// A board with a UART.
pub fn new_board(uart: Uart) -> Board {
    X86Runtime::new(Devices { uart, exit_status: None }, &crate::frontend::x86::X86Env::get().env)
}

/// The entry state of a board guest (README.md documents it): 64-bit long
/// mode, flat segments, identity-mapped RAM, interrupts off, x87 and SSE
/// enabled, RSP at the top of RAM, RDI holding the RAM size.
pub fn entry_state(entry: u64, ram: u64) -> CpuState {
    let mut cpu = CpuState::long_mode(entry);
    cpu.gpr[4] = ram & !0xf;
    cpu.gpr[7] = ram;
    cpu.set_rflags(0x2);
    // Selectors of a flat GDT: code 0x08, data 0x10.
    cpu.seg = [0x10, 0x08, 0x10, 0x10, 0x10, 0x10];
    cpu
}

/// How a board run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// HLT with interrupts off.
    Halted,
    /// The guest wrote the exit port: status `(v << 1) | 1`.
    Exited(i32),
    /// An exception the guest cannot handle.
    Crashed(Fault),
    /// The instruction limit was reached.
    OutOfTime,
}

impl Ending {
    /// The process exit status for this ending.
    pub fn status(&self) -> i32 {
        match self {
            Ending::Halted => 0,
            Ending::Exited(s) => *s,
            Ending::Crashed(f) => 128 + f.vector as i32,
            Ending::OutOfTime => 124,
        }
    }

    /// The signal a debugger is told ended a crashed guest (as a process
    /// with the same fault would end).
    pub fn signal(&self) -> Option<u8> {
        match self {
            Ending::Crashed(f) => Some(match f.vector {
                0 => 8,
                3 => 5,
                6 => 4,
                _ => 11,
            }),
            _ => None,
        }
    }
}

/// Runs the guest until it ends, or until `limit` guest instructions.
pub fn run(engine: &mut Engine, cpu: &mut CpuState, mem: &mut GuestMemory, board: &mut Board, limit: u64) -> Ending {
    run_debugged(engine, cpu, mem, board, limit, None)
}

/// `run`, with gdb attached through `debugger` (the board's one thread is 1).
pub fn run_debugged(
    engine: &mut Engine,
    cpu: &mut CpuState,
    mem: &mut GuestMemory,
    board: &mut Board,
    limit: u64,
    debugger: Option<&Debugger>,
) -> Ending {
    if let Some(d) = debugger {
        d.attach(engine);
    }
    let ending = loop {
        let left = limit.saturating_sub(engine.stats.guest_insts);
        if left == 0 {
            break Ending::OutOfTime;
        }
        let allowed = debugger.map_or(u64::MAX, |d| d.before_run(1, cpu));
        let stop = engine.run(cpu, mem, board, left.min(allowed));
        if debugger.is_some_and(|d| d.after_run(1, &stop)) {
            continue;
        }
        match stop {
            Stop::Requested => break Ending::Exited(board.ports.exit_status.expect("stop requested by the exit port")),
            Stop::Exit(ExitReason::Halt) => {
                // Without interrupt sources, HLT ends the run either way.
                break Ending::Halted;
            }
            Stop::Exit(ExitReason::Breakpoint) => {
                break Ending::Crashed(Fault { vector: 3, rip: cpu.rip, addr: None });
            }
            Stop::Exit(_) => {
                break Ending::Crashed(Fault { vector: 6, rip: cpu.rip, addr: None });
            }
            Stop::Fault(f) => break Ending::Crashed(f),
            // Nothing on the board asks for interrupts; keep running.
            Stop::Budget | Stop::Interrupted | Stop::Debug(_) => {}
        }
    };
    board.ports.uart.flush();
    if let Some(d) = debugger {
        d.ended(ending.status(), ending.signal());
    }
    ending
}
