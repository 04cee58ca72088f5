//! Multiplication and division: MUL IMUL (one, two and three operands) DIV IDIV.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
