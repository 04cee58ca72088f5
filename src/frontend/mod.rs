//! Frontends: guest instruction sets lifted to V-ISA blocks. A frontend
//! knows its guest and the V-ISA; it knows no host and no runtime.

pub mod x86;

use crate::machine::CpuState;
use crate::visa::{Block, Env, Opcode, Slot, TrapCode};

/// Whether running `block` may change the mode `frontend` computes (see
/// `Frontend::mode_slots`).
pub fn may_change_mode(frontend: &dyn Frontend, block: &Block) -> bool {
    let Some(slots) = frontend.mode_slots() else { return true };
    block.insts.iter().any(|i| match (i.op, i.imm) {
        (Opcode::Set, crate::visa::Imm::Slot(s)) => slots.contains(&s),
        (Opcode::Call, _) => true,
        _ => false,
    })
}

/// A guest instruction set, as the engine translates it: the engine is
/// written against this trait, and the x86-64 frontend (`x86::X86`) is one.
pub trait Frontend: Sync {
    /// The state slots and helpers its blocks use.
    fn env(&self) -> &Env;
    /// The translation mode a CPU state is in: blocks are cached, and
    /// lifted, per mode.
    fn mode(&self, cpu: &CpuState) -> u32;
    /// The state slots `mode` reads, when it reads nothing else a block
    /// can change: a block that sets none of them and calls no helper
    /// leaves the mode as it found it, so the engine need not compute it
    /// again. By default none are known, and it computes it after every
    /// block.
    fn mode_slots(&self) -> Option<&[Slot]> {
        None
    }
    /// Decodes and lifts the block at `addr` in `mode`, of at most `max`
    /// guest instructions (at least one).
    fn lift(&self, code: &dyn CodeSource, addr: u64, mode: u32, max: usize) -> Result<Lifted, LiftError>;
    /// As `lift`, but the block ends at the conditional branch at guest
    /// address `branch` (both ways leave it) if the plain lift would go on
    /// past it as a side exit: the engine asks for this where the branch
    /// was seen taken most of the time. A frontend that cannot end a block
    /// there lifts it as `lift` does.
    fn lift_ending_at(
        &self,
        code: &dyn CodeSource,
        addr: u64,
        mode: u32,
        max: usize,
        branch: u64,
    ) -> Result<Lifted, LiftError> {
        let _ = branch;
        self.lift(code, addr, mode, max)
    }
    /// Most guest instructions in one block.
    fn max_instructions(&self) -> usize;
    /// The guest exception a V-ISA trap raises.
    fn exception_vector(&self, code: TrapCode) -> u8;
    /// The guest code of `[at, at + len)` as text, one line per
    /// instruction (for execution logs); by default its bytes in hex.
    fn disassemble(&self, code: &dyn CodeSource, at: u64, len: u64) -> Vec<String> {
        let mut bytes = vec![0u8; len as usize];
        let got = code.fetch(at, &mut bytes);
        let hex: Vec<String> = bytes[..got].iter().map(|b| format!("{b:02x}")).collect();
        vec![format!("{at:#x}: {}", hex.join(" "))]
    }
}

/// Where a frontend reads guest code from.
pub trait CodeSource {
    /// Copies up to `buf.len()` bytes at `addr`; returns how many exist.
    fn fetch(&self, addr: u64, buf: &mut [u8]) -> usize;
}

impl CodeSource for crate::machine::GuestMemory {
    fn fetch(&self, addr: u64, buf: &mut [u8]) -> usize {
        // Up to the end of memory, or of the executable pages (none at or
        // past the end of memory, whatever the address).
        let page = crate::machine::PAGE_SIZE;
        let limit = addr.saturating_add(buf.len() as u64).min(self.size());
        let mut end = addr;
        while end < limit && self.perms_at(end) & crate::machine::PERM_X != 0 {
            end = (end / page + 1) * page;
        }
        let avail = end.min(limit).saturating_sub(addr) as usize;
        if avail == 0 {
            return 0;
        }
        match self.read_bytes(addr, &mut buf[..avail]) {
            Ok(()) => avail,
            Err(_) => 0,
        }
    }
}

/// A lifted block and the guest bytes it was made from.
#[derive(Clone, Debug)]
pub struct Lifted {
    pub block: Block,
    /// The guest code it was made from (for code-page tracking): the
    /// ranges `(start, length)`, the first at the block address.
    pub ranges: Vec<(u64, u64)>,
}

/// Why no block could be made at an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiftError {
    /// The first instruction's bytes are not all in guest memory: the
    /// address of the first missing byte.
    Fetch(u64),
}
