//! visa: a dynamic binary translator from x86-64 to a portable virtual ISA
//! (the V-ISA), run by an interpreter or compiled to host code with Cranelift.

pub mod abi;
#[cfg(feature = "harness")]
pub mod bench;
pub mod engine;
#[cfg(feature = "harness")]
pub mod filetest;
pub mod frontend;
pub mod interp;
pub mod jit;
pub mod machine;
#[cfg(all(feature = "harness", target_arch = "x86_64"))]
pub mod oracle;
pub mod pcache;
pub mod report;
pub mod system;
pub mod visa;
pub mod x87_op;
