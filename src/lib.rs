//! visa: a dynamic binary translator from x86-64 to a portable virtual ISA
//! (the V-ISA), run by an interpreter or compiled to host code with Cranelift.

pub mod abi;
pub mod filetest;
pub mod interp;
pub mod machine;
pub mod visa;
