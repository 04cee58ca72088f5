//! SSE/SSE2/SSE3 and SSE4.1 float instructions: scalar and packed arithmetic, MIN/MAX, SQRT, compares (CMPxx predicates, COMIS/UCOMIS flags), conversions (CVT*, CVTT*), LDMXCSR/STMXCSR, ROUND*, DPPS/DPPD, BLEND*, HADD/HSUB/ADDSUB, INSERTPS/EXTRACTPS.

use iced_x86::Mnemonic;

use super::LiftFn;

pub const TABLE: &[(Mnemonic, LiftFn)] = &[];
