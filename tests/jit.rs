//! The JIT beyond agreement with the interpreter (which the filetests,
//! the oracle and the guests check): its code region stays bounded, and
//! the blocks it compiles also compile for the other hosts Cranelift
//! supports, so portability does not rot unseen.

mod common;

use common::{Capture, guest, run_guest};
use cranelift_codegen::isa;
use visa::engine::{Compile, Engine, EngineKind};
use visa::frontend::x86::{Mode, X86Env, lift_block};
use visa::jit::{Setup, build_function, compile_function, flags};
use visa::system::board::{self, Ending, Input, Uart};
use visa::visa::opt::optimize;
use visa::visa::text::parse_module;

#[test]
fn a_full_code_region_is_flushed_and_execution_goes_on() {
    let mut engine = Engine::with_code_size(EngineKind::Jit, 32 << 10, Compile::Sync);
    assert_eq!(run_guest("sort", &mut engine), Ending::Exited(1));
    assert!(engine.stats.jit_flushes > 0, "a 32 KiB region should fill up");
    assert!(engine.stats.jit_runs > 0);
}

/// The tiered engine lifts hot blocks again to compile them (it keeps no
/// V-ISA for cold ones): every hot block of a guest compiles.
#[test]
fn the_tiered_engine_compiles_hot_blocks() {
    let mut engine = Engine::with_kind(EngineKind::Tiered { threshold: 50 });
    run_guest("sha256", &mut engine);
    assert!(engine.stats.jit_compiled > 10, "{:?}", engine.stats);
    assert_eq!(engine.stats.jit_failed, 0, "{:?}", engine.stats);
}

/// The entry trampoline is made with the first block placed, so that a
/// run that compiles nothing never runs Cranelift; a block placed can run.
#[test]
fn the_trampoline_comes_with_the_first_block() {
    let env = &X86Env::get().env;
    let (mem, entry) = guest("sha256");
    let block = optimize(env, &lift_block(&mem, entry, Mode::default()).unwrap().block);
    let mut jit = visa::jit::Jit::new(1 << 20).unwrap();
    assert!(jit.trampoline().get().is_none(), "no trampoline before any block");
    jit.compile(env, &block, Setup::default()).unwrap();
    assert!(jit.trampoline().get().is_some(), "a trampoline once a block is placed");
    let mut engine = Engine::with_kind(EngineKind::Tiered { threshold: 50 });
    run_guest("sha256", &mut engine);
    assert!(engine.stats.jit_runs > 0, "{:?}", engine.stats);
}

/// Budgets smaller than a block still make progress (the block runs whole,
/// as the interpreter runs it), and both tiers count the same instructions.
#[test]
fn tiny_budgets_make_progress_and_count_like_the_interpreter() {
    let mut counts = Vec::new();
    for kind in [EngineKind::Interp, EngineKind::Jit] {
        let (mut mem, entry) = guest("hello");
        let mut cpu = board::entry_state(entry, 128 << 20);
        let out = Capture::default();
        let mut board = board::new_board(Uart::new(Box::new(out.clone()), Input::None));
        let mut engine = Engine::with_kind(kind);
        let mut calls = 0u64;
        let stop = loop {
            calls += 1;
            assert!(calls < 10_000_000, "{kind:?}: no progress with a budget of 1");
            match engine.run(&mut cpu, &mut mem, &mut board, 1) {
                visa::engine::Stop::Budget => continue,
                other => break other,
            }
        };
        assert!(matches!(stop, visa::engine::Stop::Requested), "{kind:?}: {stop:?}");
        assert!(String::from_utf8(out.0.borrow().clone()).unwrap().starts_with("Hello"));
        counts.push(engine.stats.guest_insts);
    }
    assert_eq!(counts[0], counts[1], "instructions counted by the interpreter and the JIT");
}

/// Blocks of every guest, and every filetest block.
fn sample_blocks() -> Vec<(visa::visa::Env, visa::visa::Block)> {
    let mut blocks = Vec::new();
    let env = &X86Env::get().env;
    for name in ["sha256", "sort", "bytecode", "smc", "recursive"] {
        let (mem, entry) = guest(name);
        let mut todo = vec![entry];
        let mut seen = Vec::new();
        while let Some(addr) = todo.pop() {
            if seen.contains(&addr) || seen.len() >= 40 {
                continue;
            }
            seen.push(addr);
            let Ok(lifted) = lift_block(&mem, addr, Mode::default()) else { continue };
            todo.extend(lifted.block.terminator().into_iter().flat_map(|t| t.direct_targets()));
            blocks.push((env.clone(), optimize(env, &lifted.block)));
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/visa");
    for entry in std::fs::read_dir(dir).unwrap() {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let module = parse_module(&src).unwrap();
        for block in &module.blocks {
            blocks.push((module.env.clone(), optimize(&module.env, block)));
        }
    }
    blocks
}

#[test]
fn blocks_compile_for_every_host_cranelift_supports() {
    let blocks = sample_blocks();
    assert!(blocks.len() > 200, "{} blocks", blocks.len());
    // Baseline targets, except that 128-bit vectors need RISC-V's V extension
    // (with 128-bit registers at least) and s390x's vector enhancements 2.
    let targets: [(&str, &[&str]); 4] = [
        ("x86_64-unknown-linux-gnu", &[]),
        ("aarch64-unknown-linux-gnu", &[]),
        ("riscv64gc-unknown-linux-gnu", &["has_v", "has_zvl128b"]),
        ("s390x-unknown-linux-gnu", &["has_vxrs_ext2"]),
    ];
    for (triple, features) in targets {
        let mut builder = isa::lookup_by_name(triple).unwrap();
        for f in features {
            cranelift_codegen::settings::Configurable::enable(&mut builder, f).unwrap();
        }
        let isa = builder.finish(flags()).unwrap();
        // As compiled once guest threads share memory: with the fences
        // that keep x86's order where the host orders more weakly.
        let tso = visa::jit::needs_tso_fences(&*isa);
        assert_eq!(tso, triple.starts_with("aarch64") || triple.starts_with("riscv64"), "{triple}");
        let mut failures = Vec::new();
        let fences = |func: &cranelift_codegen::ir::Function| func.display().to_string().matches(" fence").count();
        let (mut with, mut without) = (0, 0);
        for (env, block) in &blocks {
            // Every direct exit linked (to made-up cells), so linking code is compiled too.
            let cells = visa::jit::placeholder_cells(block);
            // Single-threaded, loads that may give their block up leave
            // their permission checks to the host's page protection.
            let links = Setup { cells: &cells, protected: true, tso, host_perms: !tso };
            if tso {
                let unfenced =
                    build_function(env, block, &*isa, Setup { tso: false, host_perms: true, ..links }).unwrap().0;
                without += fences(&unfenced);
            }
            let result = build_function(env, block, &*isa, links).and_then(|(func, _descs)| {
                with += fences(&func);
                compile_function(&isa, func)
            });
            if let Err(e) = result {
                failures.push(format!("block {:#x}: {e}", block.addr));
            }
        }
        assert!(!tso || with > without + 100, "{triple}: {with} fences with TSO fences, {without} without");
        assert!(
            failures.is_empty(),
            "{triple}: {} of {} blocks fail:\n{}",
            failures.len(),
            blocks.len(),
            failures[..failures.len().min(5)].join("\n")
        );
    }
}

/// A thread compiles with Cranelift buffers it keeps from block to block
/// (`jit::generate`): each block's code is byte for byte what a fresh
/// context makes of it, whatever was compiled before, and a block that
/// fails to compile leaves nothing behind for the next.
#[test]
fn reused_compiler_buffers_make_the_code_fresh_ones_make() {
    let isa = cranelift_native::builder().unwrap().finish(flags()).unwrap();
    let blocks = sample_blocks();
    let mut compared = 0;
    for (env, block) in blocks.iter().chain(blocks.iter().rev()).take(400) {
        let cells = visa::jit::placeholder_cells(block);
        let links = Setup { cells: &cells, protected: true, ..Setup::default() };
        let fresh = build_function(env, block, &*isa, links).and_then(|(func, _)| compile_function(&isa, func));
        let reused = visa::jit::generate(&isa, env, block, links);
        match (fresh, reused) {
            (Ok(fresh), Ok(reused)) => {
                assert_eq!(fresh.bytes, reused.code.bytes, "block {:#x}", block.addr);
                assert_eq!(fresh.relocs.len(), reused.code.relocs.len(), "block {:#x}", block.addr);
                compared += 1;
            }
            (Err(_), Err(_)) => {}
            (fresh, reused) => panic!("block {:#x}: fresh {:?}, reused {:?}", block.addr, fresh.err(), reused.err()),
        }
    }
    assert!(compared > 300, "{compared} blocks compared");
}
