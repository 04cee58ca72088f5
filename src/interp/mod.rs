//! The V-ISA interpreter, the first execution tier and the fallback.
//!
//! A verified block is pre-resolved once (`compile`) into a compact form;
//! `run` executes it against a state record and guest memory and returns
//! how control left it. It runs V-ISA only: it knows nothing of x86.

mod compile;
mod exec;
mod fuse;
mod ops;

pub use compile::{CompileError, compile};
pub use exec::{Scratch, read_state, run, write_state};
pub use ops::Compiled;
