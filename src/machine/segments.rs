//! The descriptor tables a system presents, and the protection checks of
//! loading a segment register in 64-bit mode: MOV to a segment register,
//! the code segment of a far JMP or CALL, and the CS and SS that IRET
//! pops. Only the checks: segment bases are 0 in 64-bit mode (FS and GS
//! keep theirs in `CpuState`). Neither table is in guest memory; SGDT and
//! SIDT report the registers each system describes.

use crate::visa::TrapCode;

/// What a descriptor describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit code (L set), readable.
    Code64,
    /// 32-bit code (compatibility mode), readable.
    Code32,
    /// Writable data.
    Data,
    /// Read-only data.
    ReadOnlyData,
}

/// A system's descriptor tables: the GDT's present entries `(index, kind,
/// DPL)` (the LDT is empty), and what SGDT and SIDT store `(base, limit)`
/// at CPL 3 (at CPL 0 they store what LGDT and LIDT loaded).
pub struct Tables {
    pub gdt: &'static [(u16, Kind, u8)],
    pub gdtr: (u64, u16),
    pub idtr: (u64, u16),
}

/// Linux's GDT for 64-bit processes (user code 0x33, user data 0x2b,
/// 32-bit user code 0x23, the per-CPU node segment 0x7b and the kernel's
/// own), and the GDTR and IDTR values Linux gives user code that runs SGDT
/// and SIDT on a processor with UMIP.
pub const LINUX: Tables = Tables {
    gdt: &[
        (1, Kind::Code32, 0),
        (2, Kind::Code64, 0),
        (3, Kind::Data, 0),
        (4, Kind::Code32, 3),
        (5, Kind::Data, 3),
        (6, Kind::Code64, 3),
        (15, Kind::ReadOnlyData, 3),
    ],
    gdtr: (0xffff_ffff_fffe_0000, 0),
    idtr: (0xffff_ffff_ffff_0000, 0),
};

/// The board's flat segments (code 0x08, data 0x10, both DPL 0). Its code
/// runs at CPL 0, where SGDT and SIDT read GDTR and IDTR from the state
/// (base 0, limit 0 until LGDT and LIDT): selectors are checked against
/// these two descriptors, not against a GDT in memory, and exceptions
/// are not delivered through an IDT (one ends the run).
pub const BOARD: Tables = Tables { gdt: &[(1, Kind::Code64, 0), (2, Kind::Data, 0)], gdtr: (0, 0), idtr: (0, 0) };

/// What a selector is being loaded for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Load {
    /// ES, DS, FS or GS by MOV.
    Data = 0,
    /// SS by MOV, or popped by IRET.
    Stack = 1,
    /// CS of a far JMP or CALL.
    FarCode = 2,
    /// CS popped by IRET.
    ReturnCode = 3,
}

impl Load {
    pub fn from_code(code: u8) -> Option<Load> {
        [Load::Data, Load::Stack, Load::FarCode, Load::ReturnCode].into_iter().find(|l| *l as u8 == code)
    }
}

const GP: TrapCode = TrapCode::User(13);
const UD: TrapCode = TrapCode::User(6);

impl Tables {
    fn lookup(&self, selector: u16) -> Option<(Kind, u8)> {
        if selector & 4 != 0 {
            return None;
        }
        self.gdt.iter().find(|d| d.0 == selector >> 3).map(|d| (d.1, d.2))
    }

    /// The selector a segment register gets when `selector` is loaded for
    /// `load` at privilege `cpl`, or the fault: #GP for a selector the
    /// rules refuse, #UD for a far transfer into 32-bit code
    /// (compatibility mode is not modelled).
    pub fn load(&self, load: Load, selector: u16, cpl: u8) -> Result<u16, TrapCode> {
        let rpl = (selector & 3) as u8;
        if selector & !3 == 0 {
            // A null selector: any data segment register, and SS below CPL 3.
            return match load {
                Load::Data => Ok(selector),
                Load::Stack if cpl < 3 && rpl == cpl => Ok(selector),
                _ => Err(GP),
            };
        }
        let (kind, dpl) = self.lookup(selector).ok_or(GP)?;
        let code = matches!(kind, Kind::Code64 | Kind::Code32);
        match load {
            Load::Data if rpl.max(cpl) <= dpl => Ok(selector),
            Load::Stack if kind == Kind::Data && rpl == cpl && dpl == cpl => Ok(selector),
            Load::FarCode if code && rpl <= cpl && dpl == cpl => match kind {
                Kind::Code64 => Ok(selector & !3 | cpl as u16),
                _ => Err(UD),
            },
            // Back to the same privilege only: no table has code of an
            // outer level a caller could return to.
            Load::ReturnCode if code && rpl == cpl && dpl == cpl => match kind {
                Kind::Code64 => Ok(selector),
                _ => Err(UD),
            },
            _ => Err(GP),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a Linux process sees (checked on a host: MOV to DS takes null
    /// selectors, 0x20-0x23, 0x28-0x2b, 0x30-0x33 and 0x78-0x7b, MOV to SS
    /// only 0x2b).
    #[test]
    fn linux_user_selectors() {
        let ok = |load, sel| LINUX.load(load, sel, 3).is_ok();
        let data: Vec<u16> = (0..0x100).filter(|&s| ok(Load::Data, s)).collect();
        let want: Vec<u16> = [0, 0x20, 0x28, 0x30, 0x78].iter().flat_map(|&b| b..b + 4).collect();
        assert_eq!(data, want);
        assert_eq!((0..0x100).filter(|&s| ok(Load::Stack, s)).collect::<Vec<u16>>(), [0x2b]);
        assert_eq!(LINUX.load(Load::FarCode, 0x30, 3), Ok(0x33));
        assert_eq!(LINUX.load(Load::FarCode, 0x23, 3), Err(UD));
        assert_eq!(LINUX.load(Load::ReturnCode, 0x30, 3), Err(GP));
        assert_eq!(LINUX.load(Load::FarCode, 0x10, 3), Err(GP));
    }

    #[test]
    fn board_selectors() {
        assert_eq!(BOARD.load(Load::Stack, 0, 0), Ok(0));
        assert_eq!(BOARD.load(Load::Stack, 0x10, 0), Ok(0x10));
        assert_eq!(BOARD.load(Load::ReturnCode, 0x08, 0), Ok(0x08));
        assert_eq!(BOARD.load(Load::ReturnCode, 0x0b, 0), Err(GP));
        assert_eq!(BOARD.load(Load::Data, 0x18, 0), Err(GP));
    }
}
