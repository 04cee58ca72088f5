//! Compare-exchange and exchange-add: CMPXCHG CMPXCHG8B CMPXCHG16B XADD.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
