//! Frontends: guest instruction sets lifted to V-ISA blocks. A frontend
//! knows its guest and the V-ISA; it knows no host and no runtime.

pub mod x86;
