//! The x86-64 frontend: decodes guest bytes with iced-x86 and lifts each
//! instruction to V-ISA, one file per instruction family.
//!
//! A block runs from its address to the first indirect control transfer,
//! call, runtime exit, or `MAX_INSTRUCTIONS`, so that a hot path of several
//! basic blocks (a loop body, say) is one translation: the first
//! `MAX_SIDE_EXITS` conditional branches on the way become side exits
//! (`jump_if`) and the block goes on along their fall-through path, or,
//! for a backward branch (a loop's, taken but for the last time), along
//! the branch with the fall-through as the side exit (one or two more
//! branches may be side exits when a branch back to the block's start
//! follows closely: `closes_loop`); a direct `jmp` is followed. A block is then made of up to `MAX_RANGES` ranges of guest
//! code; reaching code it already holds ends it with a jump there (to its
//! own start: a loop the JIT keeps inside one function). An instruction
//! that is not lifted (or that raises #UD) ends the block with `exit
//! undefined` at its address, so the runtime raises #UD precisely; it is
//! never skipped.

mod alu;
mod atomic;
mod avx;
mod bits;
mod control;
mod crypto;
mod ctx;
mod disasm;
mod env;
mod f16c;
mod features;
mod flags;
mod fma;
mod fpexc;
mod mov;
mod muldiv;
mod segment;
mod shift;
mod sse4;
mod sse_float;
mod sse_int;
mod sse_move;
mod stack;
mod string;
mod sysreg;
mod system;
pub mod vex;
mod x87;
mod xsave;

use std::sync::OnceLock;

use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind};

pub use ctx::{Ctx, Flow};

pub use disasm::disassemble;
pub use env::X86Env;

use crate::machine::cpuid::Model;
use crate::visa::ExitReason;

/// Most guest instructions in one block.
pub const MAX_INSTRUCTIONS: usize = 64;

/// Most conditional branches a block goes through (as side exits).
pub const MAX_SIDE_EXITS: usize = 3;

/// Guest instructions looked at past a conditional branch for a branch
/// back to the block's start (see `closes_loop`).
const LOOP_LOOKAHEAD: usize = 4;

/// Most side exits a block may have when the branches past
/// `MAX_SIDE_EXITS` lead back to its start.
const MAX_LOOP_SIDE_EXITS: usize = MAX_SIDE_EXITS + 2;

/// Do the instructions in `bytes` (at `ip`) branch back to `start` within
/// `LOOP_LOOKAHEAD` instructions, before any other control transfer? Then
/// the conditional branch before them may be one more side exit: the block
/// goes on to that branch and becomes a loop the JIT keeps in one function
/// (a loop body of four or five basic blocks, as in the C library's string
/// searches), instead of two blocks that leave for each other every round.
fn closes_loop(bytes: &[u8], ip: u64, start: u64) -> bool {
    let mut decoder = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    for insn in decoder.iter().take(LOOP_LOOKAHEAD) {
        match insn.flow_control() {
            FlowControl::Next => {}
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch => {
                return (insn.is_jcc_short_or_near() || insn.is_jmp_short_or_near())
                    && insn.near_branch_target() == start;
            }
            _ => return false,
        }
    }
    false
}

/// Most ranges of guest code one block is made of (each followed branch
/// starts one).
pub const MAX_RANGES: usize = 4;

pub use super::{CodeSource, LiftError, Lifted};

/// Longest x86 instruction.
pub const MAX_INSTRUCTION_BYTES: usize = 15;

/// A function that lifts one instruction (in `cx.insn`).
pub type LiftFn = fn(&mut Ctx) -> Flow;

fn dispatch_table() -> &'static [Option<LiftFn>] {
    static TABLE: OnceLock<Vec<Option<LiftFn>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![None; Mnemonic::values().count()];
        for family in [
            alu::TABLE,
            atomic::TABLE,
            avx::TABLE,
            bits::TABLE,
            control::TABLE,
            crypto::TABLE,
            f16c::TABLE,
            fma::TABLE,
            mov::TABLE,
            muldiv::TABLE,
            segment::TABLE,
            shift::TABLE,
            sse4::TABLE,
            sse_float::TABLE,
            sse_int::TABLE,
            sse_move::TABLE,
            stack::TABLE,
            string::TABLE,
            system::TABLE,
            sysreg::TABLE,
            x87::TABLE,
            xsave::TABLE,
        ] {
            for (m, f) in family {
                assert!(table[*m as usize].is_none(), "{m:?} lifted twice");
                table[*m as usize] = Some(*f);
            }
        }
        table
    })
}

/// The mnemonics the frontend lifts.
pub fn lifted_mnemonics() -> impl Iterator<Item = Mnemonic> {
    dispatch_table()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_some())
        .map(|(i, _)| Mnemonic::values().nth(i).expect("mnemonic index"))
}

/// Instructions that raise #GP at CPL 3 (with IOPL 0, as user mode runs).
fn privileged(insn: &Instruction) -> bool {
    use Mnemonic::*;
    let system_register = (0..insn.op_count())
        .any(|i| insn.op_kind(i) == OpKind::Register && (insn.op_register(i).is_cr() || insn.op_register(i).is_dr()));
    system_register
        || matches!(
            insn.mnemonic(),
            Hlt | Cli
                | Sti
                | In
                | Out
                | Insb
                | Insw
                | Insd
                | Outsb
                | Outsw
                | Outsd
                | Xsetbv
                | Lgdt
                | Lidt
                | Xsaves
                | Xsaves64
                | Xrstors
                | Xrstors64
                | Rdmsr
                | Wrmsr
        )
}

/// The x86 exception a V-ISA trap raises.
pub fn exception_vector(code: crate::visa::TrapCode) -> u8 {
    use crate::visa::TrapCode;
    match code {
        TrapCode::DivByZero | TrapCode::DivOverflow => 0,
        TrapCode::MemFault => 14,
        TrapCode::Misaligned => 13,
        TrapCode::User(v) => v,
    }
}

/// What a translation is specialised for besides its address: the SSE
/// rounding direction (MXCSR.RC), so SSE float operations carry it as an
/// explicit V-ISA rounding mode, the privilege level (user code may not
/// halt, mask interrupts or do port I/O), CR4.FSGSBASE (RDFSBASE and
/// friends raise #UD without it), whether AVX is enabled (CR4.OSXSAVE and
/// XCR0; else VEX instructions raise #UD), and the processor model
/// presented (the instructions of a feature it hides raise #UD), and
/// MXCSR's exception masks, DAZ and FTZ, and the exception flags already
/// set (`fpexc`). Instructions that change MXCSR or XCR0 end their block,
/// so the next block is looked up in the new mode; a flag that becomes set
/// within a block leaves its translation valid (flags set stay set), and
/// the next lookup finds the translation made with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    pub rounding: crate::visa::Round,
    /// Running at CPL 3.
    pub user: bool,
    /// CR4.FSGSBASE is set.
    pub fsgsbase: bool,
    pub model: Model,
    /// AVX instructions may run.
    pub avx: bool,
    /// MXCSR's exception flag bits whose exception is unmasked.
    pub unmasked: u8,
    /// MXCSR.DAZ: denormal operands read as zeros.
    pub daz: bool,
    /// MXCSR.FTZ: denormal results written as zeros.
    pub ftz: bool,
    /// MXCSR's exception flags (bits 0-5) set when the block starts.
    pub sticky: u8,
}

impl Default for Mode {
    /// The state of a long-mode CPU at reset: round to nearest, CPL 0,
    /// CR4.FSGSBASE clear, `max`, AVX enabled.
    fn default() -> Mode {
        Mode {
            rounding: crate::visa::Round::Nearest,
            user: false,
            fsgsbase: false,
            model: Model::Max,
            avx: true,
            unmasked: 0,
            daz: false,
            ftz: false,
            sticky: 0,
        }
    }
}

impl Mode {
    /// The mode of a CPU state (CPL from CS's low bits).
    pub fn of(cpu: &crate::machine::CpuState) -> Mode {
        Mode {
            user: cpu.seg[1] & 3 == 3,
            fsgsbase: cpu.cr4 & crate::machine::CR4_FSGSBASE != 0,
            model: Model::from_code(cpu.cpu_model),
            avx: cpu.avx_enabled(),
            ..Mode::from_mxcsr(cpu.mxcsr)
        }
    }

    pub fn from_mxcsr(mxcsr: u32) -> Mode {
        use crate::visa::Round;
        let rounding = match (mxcsr >> 13) & 3 {
            0 => Round::Nearest,
            1 => Round::Down,
            2 => Round::Up,
            _ => Round::Zero,
        };
        Mode {
            rounding,
            unmasked: (!(mxcsr >> 7) & 0x3f) as u8,
            daz: mxcsr & 0x40 != 0,
            ftz: mxcsr & 0x8000 != 0,
            sticky: (mxcsr & 0x3f) as u8,
            ..Mode::default()
        }
    }

    /// The mode as the bits a translation cache keys on.
    pub fn bits(self) -> u32 {
        self.rounding as u32
            | (self.user as u32) << 2
            | (self.fsgsbase as u32) << 3
            | (self.model as u32) << 4
            | (self.avx as u32) << 6
            | (self.unmasked as u32) << 7
            | (self.daz as u32) << 13
            | (self.ftz as u32) << 14
            | (self.sticky as u32) << 15
    }

    pub fn from_bits(bits: u32) -> Mode {
        let rounding = crate::visa::Round::from_code((bits & 3) as u8).unwrap_or(crate::visa::Round::Nearest);
        Mode {
            rounding,
            user: bits & 4 != 0,
            fsgsbase: bits & 8 != 0,
            model: Model::from_code((bits >> 4 & 3) as u8),
            avx: bits & 0x40 != 0,
            unmasked: (bits >> 7 & 0x3f) as u8,
            daz: bits & 1 << 13 != 0,
            ftz: bits & 1 << 14 != 0,
            sticky: (bits >> 15 & 0x3f) as u8,
        }
    }
}

/// Lifts the block at `addr` for a mode.
pub fn lift_block(code: &dyn CodeSource, addr: u64, mode: Mode) -> Result<Lifted, LiftError> {
    lift_block_within(code, addr, mode, MAX_INSTRUCTIONS)
}

/// Lifts the block at `addr` for a mode, of at most `max` guest
/// instructions (1 to `MAX_INSTRUCTIONS`): the engine runs such a block to
/// stop exactly at the end of an instruction budget.
pub fn lift_block_within(code: &dyn CodeSource, addr: u64, mode: Mode, max: usize) -> Result<Lifted, LiftError> {
    lift_shaped(code, addr, mode, max, None)
}

/// Lifts the block at `addr` for a mode, of at most `max` guest
/// instructions, ending it at the conditional branch at `end_at` (if any)
/// rather than going on past it.
fn lift_shaped(
    code: &dyn CodeSource,
    addr: u64,
    mode: Mode,
    max: usize,
    end_at: Option<u64>,
) -> Result<Lifted, LiftError> {
    let max = max.clamp(1, MAX_INSTRUCTIONS);
    let x = X86Env::get();
    let mut buf = [0u8; MAX_INSTRUCTIONS * MAX_INSTRUCTION_BYTES];
    let mut base = addr;
    let mut avail = code.fetch(addr, &mut buf);
    let mut decoder = Decoder::with_ip(64, &buf[..avail], addr, DecoderOptions::NONE);
    let table = dispatch_table();
    let mut cx = Ctx::new(x, addr, mode);
    cx.end_at = end_at;
    let mut insn = Instruction::default();
    let mut count = 0;
    let mut ip = addr;
    loop {
        if count == max || (count > 0 && cx.holds(ip)) {
            cx.b.jump(ip);
            break;
        }
        decoder.decode_out(&mut insn);
        if decoder.last_error() == DecoderError::NoMoreBytes {
            if count == 0 {
                return Err(LiftError::Fetch(addr.wrapping_add(avail as u64)));
            }
            // The next instruction runs out of guest memory: let its own
            // block report the fault precisely.
            cx.b.jump(ip);
            break;
        }
        count += 1;
        let len = insn.len() as u8;
        cx.b.guest(ip, len.max(1));
        cx.insn = insn;
        let at = (ip - base) as usize;
        cx.bytes[..len as usize].copy_from_slice(&buf[at..at + len as usize]);
        if insn.is_jcc_short_or_near()
            && cx.side_exits == cx.side_exit_limit
            && cx.side_exit_limit < MAX_LOOP_SIDE_EXITS
            && closes_loop(&buf[at + len as usize..avail], insn.next_ip(), addr)
        {
            cx.side_exit_limit += 1;
        }
        let lift = table[features::runs_as(&insn, mode) as usize];
        let vex = vex::needs_avx(&insn);
        let flow = match (insn.is_invalid() || (vex && !mode.avx), lift) {
            (false, _) if !features::allowed(&insn, mode) => Flow::Undefined,
            (false, None) if vex => cx.lift_with(vex::lift),
            (false, Some(_)) if mode.user && privileged(&insn) => {
                // #GP: user code may not do this.
                let yes = cx.iconst(crate::visa::Type::I1, 1);
                cx.b.trap_if(yes, crate::visa::TrapCode::User(13));
                cx.b.jump(ip);
                Flow::End
            }
            (false, Some(lift)) => cx.lift_with(lift),
            _ => Flow::Undefined,
        };
        // Float exception flags still gathered (an instruction that writes
        // nothing after them) are recorded; an undefined instruction's and
        // a block end's are not (float instructions write before ending).
        match flow {
            Flow::Next | Flow::Follow(_) => fpexc::record_gathered(&mut cx),
            Flow::End | Flow::Undefined => cx.fexc_pending = None,
        }
        match flow {
            Flow::Next => {
                ip = insn.next_ip();
                cx.lifted_to(ip);
            }
            Flow::Follow(target) => {
                cx.lifted_to(insn.next_ip());
                cx.start_range(target);
                ip = target;
                base = target;
                avail = code.fetch(target, &mut buf);
                decoder = Decoder::with_ip(64, &buf[..avail], target, DecoderOptions::NONE);
            }
            Flow::End => {
                cx.lifted_to(insn.next_ip());
                break;
            }
            Flow::Undefined => {
                cx.b.exit(ExitReason::Undefined, ip);
                cx.lifted_to(ip + len.max(1) as u64);
                break;
            }
        }
    }
    let ranges = cx.ranges.iter().map(|&(start, end)| (start, end - start)).collect();
    Ok(Lifted { block: cx.b.finish(), ranges })
}

/// The x86-64 frontend, as the engine sees it.
pub struct X86;

impl super::Frontend for X86 {
    fn env(&self) -> &crate::visa::Env {
        &X86Env::get().env
    }

    fn mode(&self, cpu: &crate::machine::CpuState) -> u32 {
        Mode::of(cpu).bits()
    }

    fn mode_slots(&self) -> Option<&[crate::visa::Slot]> {
        // CS (for CPL) and MXCSR; CR4, XCR0 and the CPU model change only
        // through helpers.
        Some(&X86Env::get().mode_slots)
    }

    fn lift(&self, code: &dyn CodeSource, addr: u64, mode: u32, max: usize) -> Result<Lifted, LiftError> {
        lift_block_within(code, addr, Mode::from_bits(mode), max)
    }

    fn lift_ending_at(
        &self,
        code: &dyn CodeSource,
        addr: u64,
        mode: u32,
        max: usize,
        branch: u64,
    ) -> Result<Lifted, LiftError> {
        lift_shaped(code, addr, Mode::from_bits(mode), max, Some(branch))
    }

    fn max_instructions(&self) -> usize {
        MAX_INSTRUCTIONS
    }

    fn exception_vector(&self, code: crate::visa::TrapCode) -> u8 {
        exception_vector(code)
    }

    fn disassemble(&self, code: &dyn CodeSource, at: u64, len: u64) -> Vec<String> {
        disassemble(code, at, len)
    }
}
