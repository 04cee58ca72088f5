//! Shifts and rotates: SHL SAL SHR SAR ROL ROR RCL RCR SHLD SHRD.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
