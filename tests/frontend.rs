//! The engine is written against the `Frontend` trait: a frontend of a toy
//! guest instruction set plugs in without touching the engine. Its
//! "instructions" are bytes: 0x01 adds one to RAX, 0xF4 halts, anything
//! else is undefined; every byte is one guest instruction and one block.

use visa::engine::{Engine, EngineKind, Stop};
use visa::frontend::{CodeSource, Frontend, LiftError, Lifted};
use visa::machine::{CpuState, GuestMemory};
use visa::visa::{Env, ExitReason, TrapCode};

struct Toy {
    env: Env,
}

impl Frontend for Toy {
    fn env(&self) -> &Env {
        &self.env
    }

    fn mode(&self, _: &CpuState) -> u32 {
        0
    }

    fn lift(&self, code: &dyn CodeSource, addr: u64, _: u32, _: usize) -> Result<Lifted, LiftError> {
        let mut byte = [0u8; 1];
        if code.fetch(addr, &mut byte) == 0 {
            return Err(LiftError::Fetch(addr));
        }
        let next = addr + 1;
        let body = match byte[0] {
            0x01 => format!(
                "    v0 = get.i64 %rax\n    v1 = const.i64 1\n    v2 = iadd.i64 v0, v1\n    set.i64 %rax, v2\n    jump {next:#x}\n"
            ),
            0xf4 => format!("    exit halt, {next:#x}\n"),
            _ => format!("    v0 = const.i1 1\n    trap_if v0, user 6\n    jump {next:#x}\n"),
        };
        let text = format!("block {addr:#x} {{\n  guest {addr:#x}, 1\n{body}}}\n");
        let module = visa::visa::text::parse_with_env(&text, self.env.clone()).expect("toy block parses");
        Ok(Lifted { block: module.blocks.into_iter().next().expect("one block"), ranges: vec![(addr, 1)] })
    }

    fn max_instructions(&self) -> usize {
        1
    }

    fn exception_vector(&self, code: TrapCode) -> u8 {
        match code {
            TrapCode::User(v) => v,
            _ => 255,
        }
    }
}

#[test]
fn a_toy_frontend_runs_on_every_engine() {
    let toy: &'static Toy = Box::leak(Box::new(Toy { env: visa::frontend::x86::X86Env::get().env.clone() }));
    for kind in [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered { threshold: 2 }] {
        let mut mem = GuestMemory::new(1 << 16).unwrap();
        mem.write_bytes(0x1000, &[0x01, 0x01, 0x01, 0xf4]).unwrap();
        let mut cpu = CpuState::long_mode(0x1000);
        let mut engine = Engine::with_frontend(kind, toy);
        let mut rt = visa::abi::NoHelpers;
        let stop = engine.run(&mut cpu, &mut mem, &mut rt, 100);
        assert_eq!(stop, Stop::Exit(ExitReason::Halt), "{kind:?}");
        assert_eq!((cpu.gpr[0], cpu.rip, engine.stats.guest_insts), (3, 0x1004, 4), "{kind:?}");
        // An undefined byte: the toy's exception 6, at its address.
        mem.write_bytes(0x2000, &[0x01, 0x99]).unwrap();
        cpu.rip = 0x2000;
        match engine.run(&mut cpu, &mut mem, &mut rt, 100) {
            Stop::Fault(f) => assert_eq!((f.vector, f.rip, cpu.gpr[0]), (6, 0x2001, 4), "{kind:?}"),
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}
