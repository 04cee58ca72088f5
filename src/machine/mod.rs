//! The machine the engine drives: guest memory (and, with the board, the
//! CPU state and devices). Plain data and checked accessors; no translation.

mod cpu;
mod memory;

pub use cpu::{CpuState, FLAGS, GPR_NAMES, SPLIT_FLAGS_MASK, flag};

pub use memory::{GuestMemory, MemFault};
