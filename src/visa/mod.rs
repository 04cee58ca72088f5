//! The V-ISA: a typed, SSA, guest-neutral virtual instruction set.
//!
//! This module owns the opcode table, types, blocks and their builder, the
//! verifier, the text format and the binary encoding. It imports nothing of
//! the rest of visa: it knows no guest, no host and no runtime.

mod block;
mod builder;
pub mod codec;
mod env;
pub mod eval;
mod imm;
pub mod opcodes;
pub mod opt;
pub mod sig;
pub mod text;
mod types;
mod verify;

pub use block::{Block, Inst, SideExit, Value};
pub use builder::Builder;
pub use env::{Env, HelperDecl, MAX_STATE_BYTES, SlotDecl, slot_fits};
pub use imm::{
    AtomicOp, Bits, ExcOp, ExitReason, FloatCC, Helper, Imm, ImmKind, IntCC, MemFlags, Overflow, Round, Slot, TrapCode,
    Underflow,
};
pub use opcodes::{Effects, OpInfo, Opcode};
pub use types::Type;
pub use verify::{VerifyError, verify};
