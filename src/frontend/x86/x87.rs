//! The x87 FPU: loads and stores, arithmetic, compares, transcendentals and control instructions, run in the runtime on 80-bit values; and FXSAVE/FXRSTOR.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
