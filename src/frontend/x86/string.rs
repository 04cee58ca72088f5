//! String instructions: MOVS STOS LODS SCAS CMPS with REP/REPE/REPNE and DF, and XLAT.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
