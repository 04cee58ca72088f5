//! Running a few assembled instructions on the board under every engine
//! (interpreter, JIT, tiered with threshold 1, compiling on the guest's
//! thread and on a compiler thread), which must agree on the stop, the
//! serial output, the final state and the instructions run.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use iced_x86::code_asm::*;
use visa::engine::{Compile, Engine, EngineKind, Stop};
use visa::machine::{CpuState, GuestMemory, PERM_R, PERM_W, PERM_X};
use visa::system::board::{self, Ending, Input, Uart};

/// Where the code is loaded and starts.
pub const CODE: u64 = 0x1000;
/// Guest RAM, from address 0.
pub const RAM: u64 = 1 << 20;
/// Most guest instructions a run may take.
const BUDGET: u64 = 1_000_000;

/// Serial output, kept for the test to read.
#[derive(Clone, Default)]
pub struct Capture(pub Rc<RefCell<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Run {
    pub stop: Stop,
    pub cpu: CpuState,
    pub output: Vec<u8>,
    pub code_len: u64,
    /// Guest instructions run.
    pub insts: u64,
    /// The code has RDTSC or RDTSCP (whose results, in RAX, RDX, R8 and
    /// R9 by convention here, are not compared).
    pub reads_time: bool,
    /// The engine's counters.
    pub stats: visa::engine::Stats,
}

/// Runs the code under every engine; they must agree (RDTSC aside).
pub fn run_with(build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>, setup: impl Fn(&mut CpuState)) -> Run {
    run_in(build, setup, None::<fn(&mut GuestMemory)>, BUDGET)
}

/// Runs the code under every engine for at most `budget` guest
/// instructions; they must agree.
pub fn run_limited(build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>, budget: u64) -> Run {
    run_in(build, |_| {}, None::<fn(&mut GuestMemory)>, budget)
}

/// Runs the code in memory with page permissions (as user mode has them):
/// every page readable, writable and executable until `protect` says
/// otherwise.
pub fn run_protected(
    build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>,
    protect: impl Fn(&mut GuestMemory),
) -> Run {
    run_in(build, |_| {}, Some(protect), BUDGET)
}

fn run_in(
    build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>,
    setup: impl Fn(&mut CpuState),
    protect: Option<impl Fn(&mut GuestMemory)>,
    budget: u64,
) -> Run {
    let tiered = EngineKind::Tiered { threshold: 1 };
    let kinds = [
        (EngineKind::Interp, Compile::Sync),
        (EngineKind::Jit, Compile::Sync),
        (tiered, Compile::Sync),
        (tiered, Compile::Background),
    ];
    let runs: Vec<Run> = kinds.iter().map(|k| run_on(*k, &build, &setup, protect.as_ref(), budget)).collect();
    for (kind, r) in kinds.iter().zip(&runs).skip(1) {
        assert_eq!(r.stop, runs[0].stop, "stop under {kind:?}");
        assert_eq!(r.output, runs[0].output, "output under {kind:?}");
        assert_eq!(r.insts, runs[0].insts, "instructions run under {kind:?}");
        let (mut a, mut b) = (r.cpu.clone(), runs[0].cpu.clone());
        if r.reads_time {
            // Time moves on between runs.
            for cpu in [&mut a, &mut b] {
                cpu.gpr[0] = 0;
                cpu.gpr[2] = 0;
                cpu.gpr[8] = 0;
                cpu.gpr[9] = 0;
            }
        }
        assert_eq!(a, b, "state under {kind:?}");
    }
    runs.into_iter().next().unwrap()
}

fn run_on(
    (kind, compile): (EngineKind, Compile),
    build: &impl Fn(&mut CodeAssembler) -> Result<(), IcedError>,
    setup: &impl Fn(&mut CpuState),
    protect: Option<&impl Fn(&mut GuestMemory)>,
    budget: u64,
) -> Run {
    let mut a = CodeAssembler::new(64).unwrap();
    build(&mut a).unwrap();
    let code = a.assemble(CODE).unwrap();
    let mut mem = match protect {
        Some(protect) => {
            let mut mem = GuestMemory::with_protection(RAM).unwrap();
            mem.protect(0, RAM, PERM_R | PERM_W | PERM_X);
            protect(&mut mem);
            mem
        }
        None => GuestMemory::new(RAM).unwrap(),
    };
    mem.write_bytes(CODE, &code).unwrap();
    let mut cpu = board::entry_state(CODE, RAM);
    setup(&mut cpu);
    let out = Capture::default();
    let mut board = board::new_board(Uart::new(Box::new(out.clone()), Input::Bytes(b"z".iter().copied().collect())));
    let mut engine = Engine::with_compile(kind, compile);
    let stop = engine.run(&mut cpu, &mut mem, &mut board, budget);
    let output = out.0.borrow().clone();
    let reads_time = code.windows(2).any(|w| w == [0x0f, 0x31]) || code.windows(3).any(|w| w == [0x0f, 0x01, 0xf9]);
    let stats = engine.stats.clone();
    Run { stop, cpu, output, code_len: code.len() as u64, insts: stats.guest_insts, reads_time, stats }
}

/// Runs the code under one engine only (compiling on the guest's thread).
pub fn run_under(kind: EngineKind, build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>) -> Run {
    run_on((kind, Compile::Sync), &build, &|_: &mut CpuState| {}, None::<&fn(&mut GuestMemory)>, BUDGET)
}

pub fn run(build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>) -> Run {
    run_with(build, |_| {})
}

/// A guest image of `guests/bin` loaded into 128 MiB of RAM: the memory
/// and the entry point.
pub fn guest(name: &str) -> (GuestMemory, u64) {
    let path = format!("{}/guests/bin/{name}.elf", env!("CARGO_MANIFEST_DIR"));
    let mut mem = GuestMemory::new(128 << 20).unwrap();
    let entry = board::load_elf(&mut mem, &std::fs::read(path).unwrap()).unwrap();
    (mem, entry)
}

/// Runs a guest to its end under `engine`, checks that it printed what
/// `guests/expected` says, and returns how it ended.
pub fn run_guest(name: &str, engine: &mut Engine) -> Ending {
    let (mut mem, entry) = guest(name);
    let mut cpu = board::entry_state(entry, 128 << 20);
    let out = Capture::default();
    let mut board = board::new_board(Uart::new(Box::new(out.clone()), Input::None));
    let ending = board::run(engine, &mut cpu, &mut mem, &mut board, u64::MAX);
    let path = format!("{}/guests/expected/{name}.out", env!("CARGO_MANIFEST_DIR"));
    assert_eq!(String::from_utf8(out.0.borrow().clone()).unwrap(), std::fs::read_to_string(path).unwrap(), "{name}");
    ending
}
