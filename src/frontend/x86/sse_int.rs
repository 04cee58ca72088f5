//! SSE2 integer arithmetic on XMM registers: PADD* PSUB* (wrapping and saturating), PMULLW PMULHW PMULHUW PMULUDQ PMADDWD, PAVGB/W, PSADBW, PMINUB/PMAXUB/PMINSW/PMAXSW, PCMPEQ*/PCMPGT*, PSLL/PSRL/PSRA and PSLLDQ/PSRLDQ.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
