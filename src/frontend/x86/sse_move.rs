//! SSE/SSE2 data movement, logic and shuffles: MOVAPS MOVUPS MOVDQA MOVDQU MOVQ MOVD MOVSS MOVSD (SSE form) MOVHPS/LPS/HPD/LPD MOVHLPS MOVLHPS, PAND/POR/PXOR/PANDN and the PS/PD logic forms, SHUFPS/SHUFPD, UNPCK*, PSHUFD/PSHUFLW/PSHUFHW, PUNPCK*, PACK*, PMOVMSKB, MOVMSKPS/PD, PINSRW/PEXTRW.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
