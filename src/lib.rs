//! visa: a dynamic binary translator from x86-64 to a portable virtual ISA
//! (the V-ISA), run by an interpreter or compiled to host code with Cranelift.

pub mod abi;
pub mod bench;
pub mod engine;
pub mod filetest;
pub mod frontend;
pub mod interp;
pub mod jit;
pub mod machine;
#[cfg(target_arch = "x86_64")]
pub mod oracle;
pub mod report;
pub mod system;
pub mod visa;
pub mod x87_op;
