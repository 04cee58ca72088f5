//! Oracle case setup for the forms of `frontend::x86::x87`.

use iced_x86::{Code, Instruction};

use super::cases::Rng;
use super::native::Regs;

/// Adjusts a case of this family; returns false for forms it does not own.
pub fn adjust(
    _code: Code,
    _insn: &mut Instruction,
    _regs: &mut Regs,
    _data: &mut [u8],
    _mem: Option<u64>,
    _rng: &mut Rng,
) -> bool {
    false
}
