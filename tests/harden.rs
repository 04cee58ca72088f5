//! Regression tests for what probing visa as a hostile user found: each
//! test is named after the finding it keeps fixed.

mod common;

use std::process::Command;

use common::run_limited;
use iced_x86::code_asm::*;
use visa::engine::Stop;
use visa::filetest::{Tier, run_source};
use visa::visa::text::parse_module;
use visa::visa::{MAX_STATE_BYTES, SlotDecl, Type, verify};

const TIERS: [Tier; 3] = [Tier::Interp, Tier::Optimized, Tier::Jit];

fn visa_cmd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_visa")).args(args).output().expect("visa runs")
}

/// A filetest in the smallest memory there is (16 bytes, the widest
/// access): a 16-byte access fits at 0 and faults anywhere else, under
/// every tier (the JIT's one-compare bounds check relies on memory never
/// being smaller than an access).
const SMALLEST_MEMORY: &str = "; memory: 16
slot %p: i64 @ 0
slot %r: v128 @ 16

block 0x1000 {
  guest 0x1000, 4
    v0 = get.i64 %p
    v1 = load.v128 v0
    set.v128 %r, v1
  guest 0x1004, 4
    store.v128 v1, v0
    jump 0x1008
}

; run: %p=0x0 [0x0]:v128=0x1 -> %r=0x1 [0x0]:v128=0x1 jump 0x1008
; run: %p=0x1 -> %r=0x0 trap mem_fault addr 0x1 at 0x1000
; run: %p=0xf -> %r=0x0 trap mem_fault addr 0xf at 0x1000
; run: %p=0x10 -> %r=0x0 trap mem_fault addr 0x10 at 0x1000
; run: %p=0xfffffffffffffff8 -> %r=0x0 trap mem_fault addr 0xfffffffffffffff8 at 0x1000
";

#[test]
fn item1_memory_smaller_than_an_access_is_refused_and_bounds_hold() {
    for tier in TIERS {
        let report = run_source(SMALLEST_MEMORY, tier).unwrap_or_else(|f| panic!("{tier:?}: {f:?}"));
        assert_eq!(report.runs, 5, "{tier:?}");
    }
    let fifteen = SMALLEST_MEMORY.replace("; memory: 16", "; memory: 15");
    let failures = run_source(&fifteen, Tier::Jit).expect_err("15 bytes of memory is refused");
    assert_eq!(failures[0].line, 1);
    assert!(failures[0].msg.contains("outside 16 bytes"), "{}", failures[0].msg);

    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/guests/bin/hello.elf");
    for ram in ["15", "1", "4095"] {
        let out = visa_cmd(&["boot", "--engine", "jit", "--ram", ram, hello]);
        assert_eq!(out.status.code(), Some(2), "--ram {ram}: clap refuses the value");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("outside 4K .. 64G"), "--ram {ram}: {err}");
    }
}

#[test]
fn item2_slot_offsets_beyond_the_state_limit_are_located_errors() {
    for (offset, ty) in [("4294967290", "i64"), ("4294967295", "i8"), ("1048573", "i32"), ("1048576", "i8")] {
        let src = format!("slot %a: i8 @ 0\nslot %x: {ty} @ {offset}\n\nblock 0x1000 {{\n    jump 0x1000\n}}\n");
        let err = parse_module(&src).expect_err("offset beyond the state record");
        assert_eq!(err.line, 2, "{offset}");
        assert!(err.msg.contains("beyond"), "{}", err.msg);
        // Every tier reports it as a located failure, never a crash.
        for tier in TIERS {
            let failures = run_source(&src, tier).expect_err("refused");
            assert_eq!(failures[0].line, 2, "{tier:?}");
        }
    }
    // The last slot that fits is accepted.
    let src = "slot %x: i64 @ 1048568\n\nblock 0x1000 {\n  guest 0x1000, 1\n    v0 = get.i64 %x\n    set.i64 %x, v0\n    jump 0x1001\n}\n\n; run: %x=0x5 -> %x=0x5 jump 0x1001\n";
    for tier in TIERS {
        run_source(src, tier).unwrap_or_else(|f| panic!("{tier:?}: {f:?}"));
    }
    // An Env built by hand with such a slot fails verification.
    let mut module = parse_module(src).unwrap();
    module.env.slots[0] = SlotDecl { name: "x".into(), ty: Type::I64, offset: u32::MAX - 3 };
    let err = verify(&module.env, &module.blocks[0]).expect_err("slot beyond the limit");
    assert!(err.msg.contains("limit"), "{err}");
    assert!(MAX_STATE_BYTES >= std::mem::size_of::<visa::machine::CpuState>() as u32);

    // `visa check` and `visa test` say where, and fail.
    let dir = std::env::temp_dir().join(format!("visa-item2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("far.visa");
    std::fs::write(&file, "slot %x: i64 @ 4294967290\n\nblock 0x1000 {\n    jump 0x1000\n}\n").unwrap();
    for args in [vec!["check"], vec!["test", "--tier", "jit"], vec!["test", "--tier", "interp"]] {
        let mut args = args.clone();
        args.push(file.to_str().unwrap());
        let out = visa_cmd(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
        assert!(matches!(out.status.code(), Some(1) | Some(125)), "{args:?}: {:?} {err}", out.status);
        assert!(err.contains("line 1") && err.contains("beyond"), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `l: inc rax; jmp l`: one block that loops on itself.
fn two_instruction_loop(a: &mut CodeAssembler) -> Result<(), IcedError> {
    let mut top = a.create_label();
    a.set_label(&mut top)?;
    a.inc(rax)?;
    a.jmp(top)
}

/// A loop with a side exit and a store: RCX counts, RAX sums it, RBX counts
/// multiples of 4, memory keeps the last RCX; then HLT.
fn loop_with_side_exit(a: &mut CodeAssembler) -> Result<(), IcedError> {
    let (mut top, mut skip) = (a.create_label(), a.create_label());
    a.xor(ecx, ecx)?;
    a.set_label(&mut top)?;
    a.add(rax, rcx)?;
    a.inc(rcx)?;
    a.mov(qword_ptr(0x8000), rcx)?;
    a.test(rcx, 3)?;
    a.jnz(skip)?;
    a.add(rbx, 1)?;
    a.set_label(&mut skip)?;
    a.cmp(rcx, 1000)?;
    a.jb(top)?;
    a.hlt()
}

#[test]
fn item3_budgets_end_exactly_and_alike_under_every_engine() {
    for budget in (1..=40).chain([99, 100, 101, 1000, 1001]) {
        // run_limited checks that the engines agree on the state and count.
        let r = run_limited(two_instruction_loop, budget);
        assert_eq!(r.stop, Stop::Budget, "budget {budget}");
        assert_eq!(r.insts, budget, "budget {budget}");
        assert_eq!(r.cpu.gpr[0], budget.div_ceil(2), "RAX after budget {budget}");
    }
    for budget in (1..=60).chain((61..7000).step_by(97)) {
        let r = run_limited(loop_with_side_exit, budget);
        assert_eq!(r.stop, Stop::Budget, "budget {budget}");
        assert_eq!(r.insts, budget, "budget {budget}");
    }
    let whole = run_limited(loop_with_side_exit, u64::MAX);
    assert_eq!(whole.stop, Stop::Exit(visa::visa::ExitReason::Halt));
    assert_eq!(whole.cpu.gpr[0], 999 * 1000 / 2);
    assert_eq!(whole.cpu.gpr[3], 250);
}

#[test]
fn item3_max_insns_is_exact_from_the_command_line() {
    let sieve = concat!(env!("CARGO_MANIFEST_DIR"), "/guests/bin/sieve.elf");
    let mut states = Vec::new();
    for engine in ["interp", "jit", "tiered"] {
        let dir = std::env::temp_dir().join(format!("visa-item3-{}-{engine}", std::process::id()));
        let file = dir.with_extension("json");
        let out = visa_cmd(&[
            "boot",
            "--engine",
            engine,
            "--max-insns",
            "100003",
            "--stats",
            "--final-state",
            file.to_str().unwrap(),
            sieve,
        ]);
        assert_eq!(out.status.code(), Some(124), "{engine}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("stopped after 100003 guest instructions"), "{engine}: {err}");
        states.push(std::fs::read_to_string(&file).unwrap());
        std::fs::remove_file(&file).unwrap();
    }
    assert_eq!(states[0], states[1], "interp and jit final states");
    assert_eq!(states[0], states[2], "interp and tiered final states");
}

/// RDRAND on the board repeats its sequence (runs are reproducible); in a
/// user-mode runtime it is the host's randomness, different every time.
#[test]
fn item10_rdrand_is_reproducible_on_the_board_and_random_in_user_mode() {
    use visa::machine::x86rt::{NoPorts, X86Runtime};
    let draw = |mut rt: X86Runtime<NoPorts>| {
        let mut a = CodeAssembler::new(64).unwrap();
        a.rdrand(rax).unwrap();
        a.rdrand(rbx).unwrap();
        a.int3().unwrap();
        let code = a.assemble(0x1000).unwrap();
        let mut mem = visa::machine::GuestMemory::new(1 << 16).unwrap();
        mem.write_bytes(0x1000, &code).unwrap();
        let mut cpu = visa::system::board::entry_state(0x1000, 1 << 16);
        let mut engine = visa::engine::Engine::new();
        engine.run(&mut cpu, &mut mem, &mut rt, 100);
        assert_ne!(cpu.gpr[0], cpu.gpr[3], "two draws differ");
        (cpu.gpr[0], cpu.gpr[3])
    };
    let env = &visa::frontend::x86::X86Env::get().env;
    assert_eq!(draw(X86Runtime::new(NoPorts, env)), draw(X86Runtime::new(NoPorts, env)), "reproducible");
    assert_ne!(
        draw(X86Runtime::with_host_random(NoPorts, env)),
        draw(X86Runtime::with_host_random(NoPorts, env)),
        "random"
    );
}

/// A block that calls the x87 helper with an encoding no lifted code makes
/// (a hand-written or decoded block) gets #UD, not a crash of visa.
#[test]
fn item2_invalid_x87_helper_operations_trap() {
    let env = visa::frontend::x86::X86Env::get().env.clone();
    let src = "block 0x1000 {\n  guest 0x1000, 2\n    v0 = const.i64 0xff\n    v1 = const.i64 0\n    call @x87(v0, v1, v1)\n    jump 0x1002\n}\n";
    let module = visa::visa::text::parse_with_env(src, env.clone()).unwrap();
    verify(&env, &module.blocks[0]).unwrap();
    let code = visa::interp::compile(&env, &module.blocks[0], std::mem::size_of::<visa::machine::CpuState>()).unwrap();
    let mut cpu = visa::system::board::entry_state(0x1000, 1 << 16);
    let mut mem = visa::machine::GuestMemory::new(1 << 16).unwrap();
    let mut rt = visa::machine::x86rt::X86Runtime::new(visa::machine::x86rt::NoPorts, &env);
    let outcome = visa::interp::run(&code, cpu.as_bytes_mut(), &mut mem, &mut rt, &mut visa::interp::Scratch::new());
    match outcome {
        visa::abi::Outcome::Trap(t) => assert_eq!(t.code, visa::visa::TrapCode::User(6)),
        other => panic!("expected #UD, got {other:?}"),
    }
}
