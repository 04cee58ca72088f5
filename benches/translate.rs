//! Translation and interpretation costs: lifting guest code to V-ISA,
//! optimising and pre-resolving blocks, and interpreting a block.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use visa::abi::NoHelpers;
use visa::frontend::x86::{Mode, X86Env, lift_block};
use visa::interp;
use visa::machine::{CpuState, GuestMemory};
use visa::system::board;
use visa::visa::opt::optimize;

/// The sha256 guest's code, as a realistic mix of integer instructions.
fn guest() -> (GuestMemory, u64) {
    let image = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/guests/bin/sha256.elf")).unwrap();
    let mut mem = GuestMemory::new(16 << 20).unwrap();
    let entry = board::load_elf(&mut mem, &image).unwrap();
    (mem, entry)
}

/// Addresses of the blocks reachable from the entry through direct exits.
fn block_addrs(mem: &GuestMemory, entry: u64) -> Vec<u64> {
    let mut todo = vec![entry];
    let mut seen = Vec::new();
    while let Some(a) = todo.pop() {
        if seen.contains(&a) || seen.len() > 200 {
            continue;
        }
        let Ok(l) = lift_block(mem, a, Mode::default()) else { continue };
        seen.push(a);
        if let Some(t) = l.block.terminator() {
            match t.imm {
                visa::visa::Imm::Target(x) => todo.push(x),
                visa::visa::Imm::Branch(x, y) => todo.extend([x, y]),
                _ => {}
            }
        }
    }
    seen
}

fn bench(c: &mut Criterion) {
    let (mem, entry) = guest();
    let addrs = block_addrs(&mem, entry);
    let insts: u64 =
        addrs.iter().map(|a| lift_block(&mem, *a, Mode::default()).unwrap().block.guest_count() as u64).sum();
    let env = &X86Env::get().env;

    let mut g = c.benchmark_group("translate");
    g.throughput(Throughput::Elements(insts));
    g.bench_function("lift (guest instructions)", |b| {
        b.iter(|| {
            for a in &addrs {
                black_box(lift_block(&mem, *a, Mode::default()).unwrap());
            }
        })
    });
    g.bench_function("lift+optimise+prepare (guest instructions)", |b| {
        b.iter(|| {
            for a in &addrs {
                let l = lift_block(&mem, *a, Mode::default()).unwrap();
                let block = optimize(env, &l.block);
                black_box(interp::compile(env, &block, std::mem::size_of::<CpuState>()).unwrap());
            }
        })
    });
    g.finish();

    let largest = addrs
        .iter()
        .map(|a| lift_block(&mem, *a, Mode::default()).unwrap())
        .max_by_key(|l| l.block.guest_count())
        .unwrap();
    let block = optimize(env, &largest.block);
    let code = interp::compile(env, &block, std::mem::size_of::<CpuState>()).unwrap();
    let mut g = c.benchmark_group("interpret");
    g.throughput(Throughput::Elements(largest.block.guest_count() as u64));
    let mut run_mem = GuestMemory::new(16 << 20).unwrap();
    let mut cpu = CpuState { gpr: [0x10_0000; 16], ..CpuState::default() };
    let mut scratch = interp::Scratch::new();
    g.bench_function("largest sha256 block (guest instructions)", |b| {
        b.iter(|| black_box(interp::run(&code, cpu.as_bytes_mut(), &mut run_mem, &mut NoHelpers, &mut scratch)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
