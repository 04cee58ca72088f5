//! Bit instructions: BT BTS BTR BTC BSF BSR LZCNT TZCNT POPCNT and the BMI1/BMI2/ADX forms.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
