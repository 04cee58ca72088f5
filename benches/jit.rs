//! Compilation and execution costs of the JIT, and the dispatcher's: how
//! fast Cranelift compiles guest blocks (and how that grows with a block's
//! length), how fast a compiled block runs,
//! what one dispatch (interpreted) or one linked transfer (compiled) costs,
//! and a translation-cache lookup.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iced_x86::code_asm::*;
use visa::abi::NoHelpers;
use visa::engine::{Cache, Engine, EngineKind, Key, Translation};
use visa::frontend::x86::{Mode, X86Env, lift_block, lift_block_within};
use visa::jit::{IND_EMPTY, IND_ENTRIES, Jit, RunEnv, Setup};
use visa::machine::{CpuState, GuestMemory};
use visa::system::board;
use visa::visa::{Block, Imm, opt::optimize_built};

/// The optimised blocks of the sha256 guest reachable from its entry.
fn sha256_blocks() -> Vec<Block> {
    let image = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/guests/bin/sha256.elf")).unwrap();
    let mut mem = GuestMemory::new(16 << 20).unwrap();
    let entry = board::load_elf(&mut mem, &image).unwrap();
    let env = &X86Env::get().env;
    let (mut todo, mut seen, mut blocks) = (vec![entry], Vec::new(), Vec::new());
    while let Some(a) = todo.pop() {
        if seen.contains(&a) || seen.len() > 200 {
            continue;
        }
        let Ok(l) = lift_block(&mem, a, Mode::default()) else { continue };
        seen.push(a);
        for i in &l.block.insts {
            match i.imm {
                Imm::Target(x) => todo.push(x),
                Imm::Branch(x, y) => todo.extend([x, y]),
                _ => {}
            }
        }
        let mut block = l.block;
        optimize_built(env, &mut block);
        blocks.push(block);
    }
    blocks
}

fn compile(c: &mut Criterion) {
    let env = &X86Env::get().env;
    let blocks = sha256_blocks();
    let insts: u64 = blocks.iter().map(|b| b.guest_count() as u64).sum();
    let mut jit = Jit::new(256 << 20).unwrap();
    let setup = Setup::default();
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.throughput(Throughput::Elements(insts));
    g.bench_function("sha256 blocks (guest instructions)", |b| {
        b.iter(|| {
            for block in &blocks {
                black_box(jit.compile(env, block, setup).unwrap());
            }
            jit.flush();
        })
    });
    g.throughput(Throughput::Elements(blocks.len() as u64));
    g.bench_function("sha256 blocks (blocks)", |b| {
        b.iter(|| {
            for block in &blocks {
                black_box(jit.compile(env, block, setup).unwrap());
            }
            jit.flush();
        })
    });
    g.finish();

    // The largest block, compiled, run once per iteration (it exits to the caller).
    let largest = blocks.iter().max_by_key(|b| b.guest_count()).unwrap();
    let code = jit.compile(env, largest, setup).unwrap();
    let mut mem = GuestMemory::new(16 << 20).unwrap();
    let mut cpu = CpuState { gpr: [0x10_0000; 16], ..CpuState::default() };
    let table = vec![IND_EMPTY; IND_ENTRIES];
    let interrupt = visa::abi::Interrupt::claim();
    let trampoline = *jit.trampoline().get().unwrap();
    let mut g = c.benchmark_group("execute");
    g.throughput(Throughput::Elements(largest.guest_count() as u64));
    g.bench_function("largest sha256 block compiled (guest instructions)", |b| {
        b.iter(|| {
            let env = RunEnv {
                state: cpu.as_bytes_mut(),
                mem: &mut mem,
                helpers: &mut NoHelpers,
                budget: 1 << 40,
                ind_table: table.as_ptr(),
                interrupt: interrupt.word(),
            };
            // SAFETY: the block was compiled for the x86 Env whose state record this is.
            black_box(unsafe { trampoline.run(code.entry, env) })
        })
    });
    g.finish();
}

/// Emits the `i`th instruction of a block of one form (each reads memory
/// through RDX at its own offset).
type Form = fn(&mut CodeAssembler, i: i32) -> Result<(), IcedError>;

/// ALU instructions with a memory operand: loads, read-modify-writes and
/// compares, so flags and stores are pending at every access.
fn alu_form(a: &mut CodeAssembler, i: i32) -> Result<(), IcedError> {
    let m = qword_ptr(rdx + 8 * i);
    match i % 6 {
        0 => a.add(rax, m),
        1 => a.adc(rbx, m),
        2 => a.sub(m, rcx),
        3 => a.xor(rsi, m),
        4 => a.and(m, rax),
        _ => a.cmp(rdi, m),
    }
}

/// SSE arithmetic with memory operands (aligned and unaligned loads, a store).
fn sse_form(a: &mut CodeAssembler, i: i32) -> Result<(), IcedError> {
    let m = xmmword_ptr(rdx + 16 * i);
    match i % 6 {
        0 => a.addps(xmm0, m),
        1 => a.mulpd(xmm1, m),
        2 => a.paddd(xmm2, m),
        3 => a.movdqu(xmm3, m),
        4 => a.pxor(xmm0, xmm3),
        _ => a.movdqu(m, xmm1),
    }
}

fn crc32_form(a: &mut CodeAssembler, _i: i32) -> Result<(), IcedError> {
    a.crc32(rax, qword_ptr(rdx))
}

/// A block of `n` instructions of a form, lifted and optimised as the
/// engine lifts it for user mode (`user`) or the board.
fn form_block(form: Form, n: usize, user: bool) -> Block {
    let mut a = CodeAssembler::new(64).unwrap();
    for i in 0..n {
        form(&mut a, i as i32).unwrap();
    }
    a.hlt().unwrap();
    let code = a.assemble(0x1000).unwrap();
    let mut mem = GuestMemory::new(1 << 20).unwrap();
    board::load_raw(&mut mem, 0x1000, &code).unwrap();
    let mode = Mode { user, ..Mode::default() };
    let lifted = lift_block_within(&mem, 0x1000, mode, n).unwrap();
    assert_eq!(lifted.block.guest_count(), n, "the block holds exactly the instructions asked for");
    let mut block = lifted.block;
    optimize_built(&X86Env::get().env, &mut block);
    block
}

/// Compile time against block length: it should grow linearly.
fn compile_by_length(c: &mut Criterion) {
    let env = &X86Env::get().env;
    let forms: [(&str, Form); 3] = [("alu mem", alu_form), ("sse mem", sse_form), ("crc32 mem", crc32_form)];
    let mut jit = Jit::new(256 << 20).unwrap();
    let mut g = c.benchmark_group("compile by length");
    g.sample_size(10);
    for (name, form) in forms {
        for protected in [true, false] {
            for n in [8, 16, 32, 64] {
                let block = form_block(form, n, protected);
                let cells = visa::jit::placeholder_cells(&block);
                let setup = Setup { cells: &cells, protected, ..Setup::default() };
                let id = format!("{name}, {}", if protected { "user" } else { "board" });
                g.throughput(Throughput::Elements(n as u64));
                g.bench_with_input(BenchmarkId::new(id, n), &block, |b, block| {
                    b.iter(|| {
                        black_box(jit.compile(env, block, setup).unwrap());
                        jit.flush();
                    })
                });
            }
        }
    }
    g.finish();
}

/// Two one-instruction blocks that jump to each other: every block run is
/// a dispatch (interpreter) or a linked transfer (JIT).
fn ping_pong(kind: EngineKind, rounds: u64) -> u64 {
    let mut mem = GuestMemory::new(1 << 20).unwrap();
    // 0x1000: jmp 0x1010; 0x1010: jmp 0x1000
    board::load_raw(&mut mem, 0x1000, &[0xeb, 0x0e]).unwrap();
    board::load_raw(&mut mem, 0x1010, &[0xeb, 0xee]).unwrap();
    let mut cpu = board::entry_state(0x1000, 1 << 20);
    let mut board = board::new_board(board::Uart::new(Box::new(std::io::sink()), board::Input::None));
    let mut engine = Engine::with_kind(kind);
    engine.run(&mut cpu, &mut mem, &mut board, rounds);
    engine.stats.guest_insts
}

fn dispatch(c: &mut Criterion) {
    const ROUNDS: u64 = 100_000;
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(ROUNDS));
    g.bench_function("interpreter: block runs through the dispatcher", |b| {
        b.iter(|| black_box(ping_pong(EngineKind::Interp, ROUNDS)))
    });
    g.bench_function("jit: linked block-to-block transfers", |b| {
        b.iter(|| black_box(ping_pong(EngineKind::Jit, ROUNDS)))
    });
    g.finish();

    let env = &X86Env::get().env;
    let mut mem = GuestMemory::new(1 << 20).unwrap();
    board::load_raw(&mut mem, 0x1000, &[0xeb, 0x0e]).unwrap();
    let lifted = lift_block(&mem, 0x1000, Mode::default()).unwrap();
    let code = visa::interp::compile(env, &lifted.block, std::mem::size_of::<CpuState>()).unwrap();
    let mut cache = Cache::default();
    let keys: Vec<Key> = (0..1000u64).map(|i| Key { addr: 0x40_0000 + 16 * i, mode: 0 }).collect();
    for k in &keys {
        cache.insert(Translation {
            addr: k.addr,
            mode: k.mode,
            ranges: vec![(k.addr, 2)],
            code_hash: 0,
            guest_insts: 1,
            changes_mode: false,
            bytes: 0,
            code: code.clone(),
            block: None.into(),
            jit: std::sync::OnceLock::new(),
            runs: 0.into(),
            jit_failed: false.into(),
            float_exits: Default::default(),
            queued: false.into(),
            targets: Vec::new(),
            links: Box::new([]),
            taken: Box::new([]),
            branches: Box::new([]),
            incoming: Vec::new().into(),
        });
    }
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("translation cache hits", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(cache.get(*k));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, compile, compile_by_length, dispatch);
criterion_main!(benches);
