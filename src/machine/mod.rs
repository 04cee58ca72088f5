//! The machine the engine drives: guest memory (and, with the board, the
//! CPU state and devices). Plain data and checked accessors; no translation.

mod memory;

pub use memory::{GuestMemory, MemFault};
