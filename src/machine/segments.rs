//! The descriptor tables a system presents, and the protection checks of
//! loading a segment register in 64-bit mode: MOV to a segment register,
//! the code segment of a far JMP or CALL, and the CS and SS that IRET
//! pops. Only the checks: segment bases are 0 in 64-bit mode (FS and GS
//! keep theirs in `CpuState`). Linux's table is not in guest memory (SGDT
//! and SIDT report what Linux reports); the board's is its built-in flat
//! pair until LGDT loads GDTR, and from then on the table GDTR points at
//! in guest memory, whose descriptors are read (and marked accessed) as
//! the processor does.

use crate::abi::HelperMemory;
use crate::visa::TrapCode;

/// What a descriptor describes, as far as loading a segment register asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// S clear: a system descriptor (LDT, TSS, gates), which no segment
    /// register takes.
    pub system: bool,
    pub code: bool,
    /// Code: readable; data: writable.
    pub rw: bool,
    /// Code: conforming.
    pub conforming: bool,
    /// Code: L (64-bit code) and D.
    pub long: bool,
    pub default_32: bool,
    pub dpl: u8,
    pub present: bool,
}

impl Descriptor {
    const fn segment(code: bool, rw: bool, long: bool, dpl: u8) -> Descriptor {
        Descriptor { system: false, code, rw, conforming: false, long, default_32: code && !long, dpl, present: true }
    }

    /// 64-bit code (L set), readable.
    pub const fn code64(dpl: u8) -> Descriptor {
        Descriptor::segment(true, true, true, dpl)
    }

    /// 32-bit code (compatibility mode), readable.
    pub const fn code32(dpl: u8) -> Descriptor {
        Descriptor::segment(true, true, false, dpl)
    }

    /// Writable data.
    pub const fn data(dpl: u8) -> Descriptor {
        Descriptor::segment(false, true, false, dpl)
    }

    /// Read-only data.
    pub const fn read_only(dpl: u8) -> Descriptor {
        Descriptor::segment(false, false, false, dpl)
    }

    /// A descriptor's eight bytes as the processor reads them.
    pub fn from_bits(bits: u64) -> Descriptor {
        let bit = |n: u32| bits >> n & 1 != 0;
        Descriptor {
            system: !bit(44),
            code: bit(43),
            rw: bit(41),
            conforming: bit(43) && bit(42),
            long: bit(53),
            default_32: bit(43) && bit(54),
            dpl: (bits >> 45 & 3) as u8,
            present: bit(47),
        }
    }
}

/// A system's descriptor tables: the GDT's present entries `(index,
/// descriptor)` (the LDT is empty), and what SGDT and SIDT store `(base,
/// limit)` at CPL 3 (at CPL 0 they store what LGDT and LIDT loaded).
/// With `loaded_gdt_in_memory`, once GDTR is no longer 0 (base and limit),
/// descriptors come from the table it points at in guest memory instead
/// (`Tables::load_with`).
pub struct Tables {
    pub gdt: &'static [(u16, Descriptor)],
    pub gdtr: (u64, u16),
    pub idtr: (u64, u16),
    pub loaded_gdt_in_memory: bool,
}

/// Linux's GDT for 64-bit processes (user code 0x33, user data 0x2b,
/// 32-bit user code 0x23, the per-CPU node segment 0x7b and the kernel's
/// own), and the GDTR and IDTR values Linux gives user code that runs SGDT
/// and SIDT on a processor with UMIP.
pub const LINUX: Tables = Tables {
    gdt: &[
        (1, Descriptor::code32(0)),
        (2, Descriptor::code64(0)),
        (3, Descriptor::data(0)),
        (4, Descriptor::code32(3)),
        (5, Descriptor::data(3)),
        (6, Descriptor::code64(3)),
        (15, Descriptor::read_only(3)),
    ],
    gdtr: (0xffff_ffff_fffe_0000, 0),
    idtr: (0xffff_ffff_ffff_0000, 0),
    loaded_gdt_in_memory: false,
};

/// The board's flat segments (code 0x08, data 0x10, both DPL 0) until its
/// code loads a GDT of its own. Its code runs at CPL 0, where SGDT and
/// SIDT read GDTR and IDTR from the state (base 0, limit 0 until LGDT and
/// LIDT); exceptions are not delivered through an IDT (one ends the run).
pub const BOARD: Tables = Tables {
    gdt: &[(1, Descriptor::code64(0)), (2, Descriptor::data(0))],
    gdtr: (0, 0),
    idtr: (0, 0),
    loaded_gdt_in_memory: true,
};

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

const UD: TrapCode = TrapCode::User(6);
const NP: TrapCode = TrapCode::User(11);
const SS: TrapCode = TrapCode::User(12);
const GP: TrapCode = TrapCode::User(13);

impl Tables {
    /// The built-in table's descriptor for a selector.
    fn lookup(&self, selector: u16) -> Option<Descriptor> {
        self.gdt.iter().find(|d| d.0 == selector >> 3).map(|d| d.1)
    }

    /// The selector a segment register gets when `selector` is loaded for
    /// `load` at privilege `cpl`, checked against the built-in table.
    pub fn load(&self, load: Load, selector: u16, cpl: u8) -> Result<u16, TrapCode> {
        check(load, selector, cpl, |s| Ok(self.lookup(s)))
    }

    /// `load`, with the table GDTR `(base, limit)` points at in guest memory
    /// where the system has one there (`loaded_gdt_in_memory` and GDTR
    /// loaded): the descriptor's eight bytes are read from `mem`, and a load
    /// that passes sets its accessed bit (bit 0 of byte 5) if clear, as the
    /// processor does.
    pub fn load_with(
        &self,
        load: Load,
        selector: u16,
        cpl: u8,
        gdtr: (u64, u16),
        mem: &mut dyn HelperMemory,
    ) -> Result<u16, TrapCode> {
        if !self.loaded_gdt_in_memory || gdtr == (0, 0) {
            return self.load(load, selector, cpl);
        }
        let (base, limit) = gdtr;
        let at = base.wrapping_add(u64::from(selector & !7));
        let mut bytes = [0; 8];
        let loaded = check(load, selector, cpl, |s| {
            if u32::from(s | 7) > u32::from(limit) {
                return Ok(None);
            }
            mem.read(at, &mut bytes)?;
            Ok(Some(Descriptor::from_bits(u64::from_le_bytes(bytes))))
        })?;
        if selector & !3 != 0 && bytes[5] & 1 == 0 {
            mem.write(at.wrapping_add(5), &[bytes[5] | 1])?;
        }
        Ok(loaded)
    }
}

/// The manual's checks of a selector load in 64-bit mode, `lookup` giving
/// the GDT's descriptor for a non-null selector (`None`: past the table's
/// end or not there): #GP for a selector the rules refuse (and for a system
/// descriptor: gates are not followed), #NP (#SS for SS) for a segment not
/// present, #UD for a far transfer into 32-bit code (compatibility mode is
/// not modelled).
fn check(
    load: Load,
    selector: u16,
    cpl: u8,
    lookup: impl FnOnce(u16) -> Result<Option<Descriptor>, TrapCode>,
) -> Result<u16, TrapCode> {
    let rpl = (selector & 3) as u8;
    if selector & !3 == 0 {
        // A null selector: any data segment register, and SS below CPL 3.
        return match load {
            Load::Data => Ok(selector),
            Load::Stack if cpl < 3 && rpl == cpl => Ok(selector),
            _ => Err(GP),
        };
    }
    // The LDT is empty (LLDT is not lifted).
    let d = if selector & 4 != 0 { None } else { lookup(selector)? };
    let d = d.filter(|d| !d.system).ok_or(GP)?;
    let absent = if load == Load::Stack { SS } else { NP };
    let privileged = |ok: bool| {
        if !ok {
            Err(GP)
        } else if !d.present {
            Err(absent)
        } else {
            Ok(())
        }
    };
    // Code with both L and D set is refused before anything else is
    // looked at; code without L (compatibility mode) after everything.
    let long_and_32 = || if d.code && d.long && d.default_32 { Err(GP) } else { Ok(()) };
    let compatibility = || if d.long { Ok(()) } else { Err(UD) };
    match load {
        Load::Data => {
            let readable = !d.code || d.rw;
            privileged(readable && (d.conforming || rpl.max(cpl) <= d.dpl))?;
            Ok(selector)
        }
        Load::Stack => {
            privileged(!d.code && d.rw && rpl == cpl && d.dpl == cpl)?;
            Ok(selector)
        }
        Load::FarCode => {
            let allowed = if d.conforming { d.dpl <= cpl } else { rpl <= cpl && d.dpl == cpl };
            long_and_32()?;
            privileged(d.code && allowed)?;
            compatibility()?;
            Ok(selector & !3 | cpl as u16)
        }
        // Back to the same privilege only: no table has code of an outer
        // level a caller could return to.
        Load::ReturnCode => {
            let allowed = rpl == cpl && if d.conforming { d.dpl <= rpl } else { d.dpl == rpl };
            long_and_32()?;
            privileged(d.code && allowed)?;
            compatibility()?;
            Ok(selector)
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

    /// A GDT in guest memory, at `BASE`.
    struct Gdt(Vec<u8>);

    const BASE: u64 = 0x1000;

    impl HelperMemory for Gdt {
        fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), TrapCode> {
            let at = addr.checked_sub(BASE).ok_or(TrapCode::MemFault)? as usize;
            out.copy_from_slice(self.0.get(at..at + out.len()).ok_or(TrapCode::MemFault)?);
            Ok(())
        }
        fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), TrapCode> {
            let at = addr.checked_sub(BASE).ok_or(TrapCode::MemFault)? as usize;
            self.0.get_mut(at..at + data.len()).ok_or(TrapCode::MemFault)?.copy_from_slice(data);
            Ok(())
        }
    }

    /// Descriptors as an operating system writes them (base 0, limit
    /// 0xfffff, G set): what the board's code may put in its own GDT.
    const TABLE: [u64; 10] = [
        0,
        0x00af_9a00_0000_ffff, // 0x08: 64-bit code, DPL 0, not yet accessed
        0x00cf_9200_0000_ffff, // 0x10: writable data, DPL 0
        0x00cf_1200_0000_ffff, // 0x18: the same, not present
        0x00af_9e00_0000_ffff, // 0x20: conforming 64-bit code
        0x00cf_f200_0000_ffff, // 0x28: writable data, DPL 3
        0x00ef_9a00_0000_ffff, // 0x30: code with both L and D
        0x00af_9800_0000_ffff, // 0x38: execute-only 64-bit code
        0x0000_8900_0000_0067, // 0x40: an available 64-bit TSS (a system descriptor)
        0x00cf_9a00_0000_ffff, // 0x48: 32-bit code
    ];

    fn gdt() -> Gdt {
        Gdt(TABLE.iter().flat_map(|d| d.to_le_bytes()).collect())
    }

    #[test]
    fn the_board_reads_the_gdt_its_code_loaded() {
        let gdtr = (BASE, (TABLE.len() * 8 - 1) as u16);
        let mut mem = gdt();
        let mut load = |load, selector| BOARD.load_with(load, selector, 0, gdtr, &mut mem);
        assert_eq!(load(Load::FarCode, 0x08), Ok(0x08));
        assert_eq!(load(Load::FarCode, 0x0b), Err(GP), "RPL above CPL");
        assert_eq!(load(Load::Data, 0x10), Ok(0x10));
        assert_eq!(load(Load::Stack, 0x10), Ok(0x10));
        assert_eq!(load(Load::Data, 0x28), Ok(0x28), "data of an outer level");
        assert_eq!(load(Load::Stack, 0x28), Err(GP), "a stack of another level");
        assert_eq!(load(Load::Data, 0x18), Err(NP));
        assert_eq!(load(Load::Stack, 0x18), Err(SS));
        assert_eq!(load(Load::FarCode, 0x18), Err(GP), "data is not code");
        assert_eq!(load(Load::FarCode, 0x20), Ok(0x20), "conforming code of the same level");
        assert_eq!(load(Load::Data, 0x20), Ok(0x20), "readable conforming code");
        assert_eq!(load(Load::FarCode, 0x30), Err(GP), "L and D");
        assert_eq!(load(Load::Data, 0x38), Err(GP), "execute-only code");
        assert_eq!(load(Load::FarCode, 0x38), Ok(0x38));
        assert_eq!(load(Load::Data, 0x40), Err(GP), "a system descriptor");
        assert_eq!(load(Load::FarCode, 0x48), Err(UD), "compatibility mode");
        assert_eq!(load(Load::ReturnCode, 0x08), Ok(0x08));
        assert_eq!(load(Load::ReturnCode, 0x48), Err(UD));
        assert_eq!(load(Load::Data, 0x50), Err(GP), "past the limit");
        assert_eq!(load(Load::Data, 0x0c), Err(GP), "the LDT");
        assert_eq!(load(Load::Data, 0), Ok(0));
        // Each load that passed set its descriptor's accessed bit; the
        // refused ones (not present, past it, L and D, system) did not.
        let marked: Vec<usize> = (0..TABLE.len()).filter(|i| mem.0[i * 8 + 5] != gdt().0[i * 8 + 5]).collect();
        assert_eq!(marked, [1, 2, 4, 5, 7]);
        assert!(marked.iter().all(|i| mem.0[i * 8 + 5] == gdt().0[i * 8 + 5] | 1));
        // A GDT past the end of memory: the read's fault.
        let far = (BASE + 0x10_0000, 0xffff);
        assert_eq!(BOARD.load_with(Load::Data, 0x10, 0, far, &mut gdt()), Err(TrapCode::MemFault));
        // Before LGDT (GDTR 0), the built-in pair; Linux's never changes.
        assert_eq!(BOARD.load_with(Load::Data, 0x18, 0, (0, 0), &mut gdt()), Err(GP));
        assert_eq!(BOARD.load_with(Load::FarCode, 0x08, 0, (0, 0), &mut gdt()), Ok(0x08));
        assert_eq!(LINUX.load_with(Load::Data, 0x2b, 3, gdtr, &mut gdt()), Ok(0x2b));
    }

    #[test]
    fn descriptors_as_the_processor_reads_them() {
        assert_eq!(Descriptor::from_bits(TABLE[1]), Descriptor { present: true, ..Descriptor::code64(0) });
        assert_eq!(Descriptor::from_bits(TABLE[2] | 1 << 40), Descriptor::data(0));
        assert_eq!(Descriptor::from_bits(TABLE[9]), Descriptor::code32(0));
        let conforming = Descriptor::from_bits(TABLE[4]);
        assert!(conforming.code && conforming.conforming && conforming.rw && conforming.long);
        assert!(Descriptor::from_bits(TABLE[8]).system);
    }
}
