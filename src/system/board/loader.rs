//! Loading guest images: ELF64 executables at their physical addresses,
//! and raw files at given addresses.

use object::Endianness;
use object::elf::{FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};

use crate::machine::GuestMemory;

/// Copies an ELF64 x86-64 image's loadable segments into guest memory
/// (zero-filling each segment's tail lazily); returns the entry point.
pub fn load_elf(mem: &mut GuestMemory, image: &[u8]) -> Result<u64, String> {
    let header = FileHeader64::<Endianness>::parse(image).map_err(|e| format!("not an ELF64 image: {e}"))?;
    let endian = header.endian().map_err(|e| format!("bad ELF header: {e}"))?;
    if header.e_machine(endian) != object::elf::EM_X86_64 {
        return Err(format!("ELF machine {} is not x86-64", header.e_machine(endian)));
    }
    let segments = header.program_headers(endian, image).map_err(|e| format!("bad program headers: {e}"))?;
    let mut loaded = 0;
    for ph in segments.iter().filter(|ph| ph.p_type(endian) == PT_LOAD) {
        let addr = ph.p_paddr(endian);
        let memsz = ph.p_memsz(endian);
        let data = ph.data(endian, image).map_err(|_| format!("segment at {addr:#x} lies outside the file"))?;
        if data.len() as u64 > memsz {
            return Err(format!("segment at {addr:#x} has more file bytes than memory bytes"));
        }
        let end = addr.checked_add(memsz).filter(|end| *end <= mem.size());
        if end.is_none() {
            return Err(format!(
                "segment {addr:#x}..{:#x} does not fit in {} bytes of RAM",
                addr.wrapping_add(memsz),
                mem.size()
            ));
        }
        mem.write_bytes(addr, data).map_err(|e| e.to_string())?;
        // The zero tail costs no host memory (its whole pages are given back).
        mem.zero(addr + data.len() as u64, memsz - data.len() as u64).map_err(|e| e.to_string())?;
        loaded += 1;
    }
    if loaded == 0 {
        return Err("the ELF image has no loadable segment".into());
    }
    Ok(header.e_entry(endian))
}

/// Copies a raw file to `addr`.
pub fn load_raw(mem: &mut GuestMemory, addr: u64, data: &[u8]) -> Result<(), String> {
    mem.write_bytes(addr, data)
        .map_err(|_| format!("{} bytes at {addr:#x} do not fit in {} bytes of RAM", data.len(), mem.size()))
}
