//! Translation and interpretation costs: lifting guest code to V-ISA,
//! optimising and pre-resolving blocks (of the sha256 guest, and of
//! memory-operand code: loads, stores and read-modify-writes through
//! base + index * scale + displacement), and interpreting a block.
//! Translation is timed in the thread's CPU time, so that other work on
//! the machine does not count.

use std::hint::black_box;
use std::time::Duration;

use iced_x86::code_asm::*;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use visa::abi::NoHelpers;
use visa::frontend::x86::{Mode, X86Env, lift_block};
use visa::interp;
use visa::machine::{CpuState, GuestMemory};
use visa::system::board;
use visa::visa::Builder;
use visa::visa::opt::optimize_built;

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

/// Where the memory-operand blocks are.
const MEM_CODE: u64 = 0x10_0000;

/// Blocks of memory-operand code: 63 instructions of loads, stores,
/// read-modify-writes, compares and address arithmetic, then a return,
/// each block with its own registers and displacements.
fn memory_blocks(blocks: u64) -> (GuestMemory, Vec<u64>) {
    let mut mem = GuestMemory::new(16 << 20).unwrap();
    let mut addrs = Vec::new();
    let mut at = MEM_CODE;
    let gprs = [rax, rbx, rcx, rdx, rsi, rdi, r8, r9, r10, r11];
    let gprs32 = [eax, ebx, ecx, edx, esi, edi, r8d, r9d, r10d, r11d];
    for b in 0..blocks as usize {
        let mut a = CodeAssembler::new(64).unwrap();
        for i in 0..63usize {
            let (base, index) = (gprs[(b + i) % 10], gprs[(b + i + 3) % 10]);
            let (dst, dst32) = (gprs[(b + 2 * i + 1) % 10], gprs32[(b + 2 * i + 1) % 10]);
            let disp = (i * 8 + b) as i32;
            match i % 9 {
                0 => a.mov(dst, qword_ptr(base + index * 8 + disp)),
                1 => a.add(qword_ptr(base + disp), dst),
                2 => a.mov(dword_ptr(base + index * 4 + disp), dst32),
                3 => a.cmp(dword_ptr(base + disp), 5),
                4 => a.lea(dst, qword_ptr(base + index * 2 + disp)),
                5 => a.sub(dst32, dword_ptr(base + disp)),
                6 => a.movzx(dst32, byte_ptr(base + index + disp)),
                7 => a.and(qword_ptr(rsp + disp), dst),
                _ => a.xor(dst, qword_ptr(rsp + index * 8 + disp)),
            }
            .unwrap();
        }
        a.ret().unwrap();
        let bytes = a.assemble(at).unwrap();
        mem.write_bytes(at, &bytes).unwrap();
        addrs.push(at);
        at += bytes.len() as u64;
    }
    (mem, addrs)
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills `ts`, ours.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The thread CPU time of `iters` runs of `f`.
fn cpu_time(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = thread_cpu();
    for _ in 0..iters {
        f();
    }
    thread_cpu() - start
}

/// Lifts, optimises and prepares each block at `addrs`, giving the lifted
/// block's buffers back to the builder as the engine does.
fn translate_all(mem: &GuestMemory, addrs: &[u64]) {
    let env = &X86Env::get().env;
    for a in addrs {
        let mut block = lift_block(mem, *a, Mode::default()).unwrap().block;
        optimize_built(env, &mut block);
        black_box(interp::compile(env, &block, std::mem::size_of::<CpuState>()).unwrap());
        Builder::recycle(block);
    }
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
        b.iter_custom(|n| {
            cpu_time(n, || {
                for a in &addrs {
                    black_box(lift_block(&mem, *a, Mode::default()).unwrap());
                }
            })
        })
    });
    g.bench_function("lift+optimise+prepare (guest instructions)", |b| {
        b.iter_custom(|n| cpu_time(n, || translate_all(&mem, &addrs)))
    });
    g.finish();

    let (mem_code, mem_addrs) = memory_blocks(16);
    let mut g = c.benchmark_group("translate memory operands");
    g.throughput(Throughput::Elements(mem_addrs.len() as u64 * 64));
    g.bench_function("lift (guest instructions)", |b| {
        b.iter_custom(|n| {
            cpu_time(n, || {
                for a in &mem_addrs {
                    black_box(lift_block(&mem_code, *a, Mode::default()).unwrap());
                }
            })
        })
    });
    g.bench_function("lift+optimise+prepare (guest instructions)", |b| {
        b.iter_custom(|n| cpu_time(n, || translate_all(&mem_code, &mem_addrs)))
    });
    g.finish();

    let largest = addrs
        .iter()
        .map(|a| lift_block(&mem, *a, Mode::default()).unwrap())
        .max_by_key(|l| l.block.guest_count())
        .unwrap();
    let mut block = largest.block.clone();
    optimize_built(env, &mut block);
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
