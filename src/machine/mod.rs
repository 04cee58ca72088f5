//! The machine the engine drives: guest memory (and, with the board, the
//! CPU state and devices). Plain data and checked accessors; no translation.

pub mod board;
mod cpu;
pub mod cpuid;
mod memory;
pub mod x86rt;
pub mod x87;

pub use cpu::{CpuState, FLAGS, GPR_NAMES, MXCSR_MASK, SPLIT_FLAGS_MASK, flag};

pub use memory::{
    GuestMemory, LINE_SIZE, MAX_MEMORY, MIN_MEMORY, MemFault, PAGE_SIZE, PERM_CODE, PERM_R, PERM_W, PERM_X,
};
