//! The fuzz targets' bodies: each takes arbitrary bytes and panics only on a
//! defect of visa (a crash, a verifier rejecting what the lifter made, tiers
//! that disagree). `fuzz_targets/` hands them to libFuzzer; `tests/fuzz.rs`
//! of the main crate runs each on a short seeded stream of inputs in
//! `cargo test`, so this file compiles in both places and uses only visa's
//! public API.

use visa::engine::{Engine, EngineKind, Stop};
use visa::frontend::x86::{Mode, X86Env, lift_block};
use visa::machine::x86rt::{NoPorts, X86Runtime};
use visa::machine::{CpuState, GuestMemory};
use visa::system::board::{self, Input, Uart};
use visa::visa::{codec, opt, verify};

/// Where random code goes, and the memory it runs in.
const CODE: u64 = 0x1000;
const RAM: u64 = 1 << 20;
/// Guest instructions a random program may run.
const BUDGET: u64 = 20_000;

/// Random bytes as x86 code: every block the lifter makes verifies, before
/// and after optimisation, and prepares for the interpreter.
pub fn lift(data: &[u8]) {
    let mut mem = GuestMemory::new(RAM).expect("memory");
    let code = &data[..data.len().min(4096)];
    mem.write_bytes(CODE, code).expect("code fits");
    let env = &X86Env::get().env;
    for user in [false, true] {
        let mode = Mode { user, ..Mode::default() };
        let Ok(lifted) = lift_block(&mem, CODE, mode) else { continue };
        if let Err(e) = verify(env, &lifted.block) {
            panic!("lifted block does not verify: {e}");
        }
        let optimized = opt::optimize(env, &lifted.block);
        if let Err(e) = verify(env, &optimized) {
            panic!("optimised block does not verify: {e}");
        }
        if let Err(e) = visa::interp::compile(env, &optimized, std::mem::size_of::<CpuState>()) {
            panic!("lifted block does not prepare: {e}");
        }
    }
}

/// Bytes as V-ISA text: parsing, verifying, both round trips and every run
/// line under every tier give results or located errors, never a crash.
pub fn visa_text(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    for tier in [visa::filetest::Tier::Interp, visa::filetest::Tier::Optimized, visa::filetest::Tier::Jit] {
        let _ = visa::filetest::run_source(&src, tier);
    }
}

/// Bytes as a binary V-ISA block of the x86 environment: decoding gives a
/// block or an error; a block that verifies runs alike under the
/// interpreter and the JIT (outcome, state and memory).
pub fn visa_binary(data: &[u8]) {
    let env = &X86Env::get().env;
    // The header of the current format, so most inputs reach the body.
    let mut bytes = b"VISA\x02".to_vec();
    bytes.extend_from_slice(&visa::visa::Opcode::table_fingerprint().to_le_bytes());
    bytes.extend_from_slice(&env.fingerprint().to_le_bytes());
    bytes.extend_from_slice(data);
    for input in [data, &bytes[..]] {
        let Ok(block) = codec::decode(env, input) else { continue };
        if verify(env, &block).is_err() {
            continue;
        }
        let runs: Vec<_> = [false, true].iter().map(|jit| run_decoded(&block, *jit)).collect();
        if let (Some(a), Some(b)) = (&runs[0], &runs[1]) {
            assert_eq!(a, b, "interpreter and JIT disagree on a decoded block");
        }
    }
}

/// Runs a verified block of the x86 environment from a fixed state; `None`
/// when the tier cannot run it (no JIT here, say).
fn run_decoded(block: &visa::visa::Block, jit: bool) -> Option<(String, CpuState, Vec<u8>)> {
    let env = &X86Env::get().env;
    let mut mem = GuestMemory::new(1 << 16).expect("memory");
    let mut cpu = board::entry_state(block.addr, 1 << 16);
    for (i, r) in cpu.gpr.iter_mut().enumerate() {
        *r = 0x100 * i as u64;
    }
    let mut helpers = X86Runtime::new(NoPorts, &X86Env::get().env);
    let outcome = if jit {
        visa::jit::run_once(env, block, cpu.as_bytes_mut(), &mut mem, &mut helpers).ok()?
    } else {
        let code = visa::interp::compile(env, block, std::mem::size_of::<CpuState>()).ok()?;
        visa::interp::run(&code, cpu.as_bytes_mut(), &mut mem, &mut helpers, &mut visa::interp::Scratch::new())
    };
    let mut bytes = vec![0u8; 1 << 16];
    mem.read_bytes(0, &mut bytes).expect("whole memory");
    Some((format!("{outcome:?}"), cpu, bytes))
}

/// What a board run ends with, for comparison between engines.
#[derive(Debug, PartialEq)]
struct BoardRun {
    stop: Stop,
    cpu: CpuState,
    insts: u64,
    output: Vec<u8>,
    memory: Vec<u8>,
}

/// Random bytes as a bare-metal guest's code, run under the interpreter,
/// the JIT and the tiered engine: the same stop, state, instruction count,
/// serial output and memory.
pub fn board_code(data: &[u8]) {
    let code = &data[..data.len().min(4096)];
    let kinds = [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered { threshold: 2 }];
    let runs: Vec<BoardRun> = kinds.iter().map(|k| run_board(*k, code)).collect();
    // Time moves on between runs: RDTSC(P) results are not compared.
    let reads_time = code.windows(2).any(|w| w == [0x0f, 0x31]) || code.windows(3).any(|w| w == [0x0f, 0x01, 0xf9]);
    for (kind, run) in kinds.iter().zip(&runs).skip(1) {
        if reads_time {
            assert_eq!((run.stop, run.insts), (runs[0].stop, runs[0].insts), "{kind:?} and the interpreter");
        } else {
            assert_eq!(*run, runs[0], "{kind:?} and the interpreter");
        }
    }
}

fn run_board(kind: EngineKind, code: &[u8]) -> BoardRun {
    let mut mem = GuestMemory::new(RAM).expect("memory");
    // INT3 after the code, so running off its end stops (zeros would be
    // endless `add [rax], al`, compiled block after block).
    mem.write_bytes(CODE, &[0xcc; 8192]).expect("filler fits");
    mem.write_bytes(CODE, code).expect("code fits");
    let mut cpu = board::entry_state(CODE, RAM);
    // Registers that point into RAM, so memory operands often hit it.
    for (i, r) in cpu.gpr.iter_mut().enumerate().filter(|(i, _)| *i != 4) {
        *r = 0x8000 + 0x100 * i as u64;
    }
    let out = SharedBuf::default();
    let mut board = board::new_board(Uart::new(Box::new(out.clone()), Input::None));
    let mut engine = Engine::with_kind(kind);
    let stop = engine.run(&mut cpu, &mut mem, &mut board, BUDGET);
    let mut memory = vec![0u8; RAM as usize];
    mem.read_bytes(0, &mut memory).expect("whole memory");
    let output = out.0.lock().expect("buffer").clone();
    BoardRun { stop, cpu, insts: engine.stats.guest_insts, output, memory }
}

/// Serial output kept for comparison.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes as an image for `visa boot`: the ELF loader gives an entry point
/// or an error, and the guest runs a short while without crashing visa.
pub fn elf_boot(data: &[u8]) {
    let mut mem = GuestMemory::new(16 << 20).expect("memory");
    let Ok(entry) = board::load_elf(&mut mem, data) else { return };
    let mut cpu = board::entry_state(entry, 16 << 20);
    let mut board = board::new_board(Uart::new(Box::new(std::io::sink()), Input::None));
    let mut engine = Engine::with_kind(EngineKind::Interp);
    board::run(&mut engine, &mut cpu, &mut mem, &mut board, 1000);
}

/// Bytes as a program for `visa run`: the user-mode ELF loader maps it
/// (and, as its dynamic linker, the bytes from its middle on) and builds
/// its stack, or says why not (it is not run: a random program's system
/// calls would reach the host).
pub fn elf_run(data: &[u8]) {
    let _ = visa::system::linux::load_image(data, &data[data.len() / 2..]);
}
