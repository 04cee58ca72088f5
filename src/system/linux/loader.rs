//! Loading a static x86-64 Linux executable: ET_EXEC at its addresses, or
//! a static PIE (ET_DYN without an interpreter) at a chosen base, each
//! PT_LOAD segment mapped with its permissions.

use object::Endianness;
use object::elf::{ET_DYN, ET_EXEC, FileHeader64, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};
use object::read::elf::{FileHeader, ProgramHeader};

use super::mm::AddressSpace;
use crate::machine::{GuestMemory, PAGE_SIZE, PERM_R, PERM_W, PERM_X};

/// Where a static PIE is placed.
pub const PIE_BASE: u64 = 0x5555_0000;

/// What the initial stack and the entry need from a loaded image.
#[derive(Clone, Copy, Debug)]
pub struct Image {
    pub entry: u64,
    /// Guest address of the program headers (for AT_PHDR).
    pub phdr: u64,
    pub phnum: u64,
    pub phent: u64,
    /// First byte after the highest segment: where the heap (brk) starts.
    pub end: u64,
}

fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}

fn page_up(a: u64) -> u64 {
    a.div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// Loads an executable into guest memory.
pub fn load(mem: &mut GuestMemory, space: &mut AddressSpace, file: &[u8]) -> Result<Image, String> {
    let header = FileHeader64::<Endianness>::parse(file).map_err(|_| "not an ELF64 file".to_string())?;
    let endian = header.endian().map_err(|e| format!("bad ELF header: {e}"))?;
    if header.e_machine(endian) != object::elf::EM_X86_64 {
        return Err(format!("ELF machine {} is not x86-64", header.e_machine(endian)));
    }
    let phdrs = header.program_headers(endian, file).map_err(|e| format!("bad program headers: {e}"))?;
    if phdrs.iter().any(|ph| ph.p_type(endian) == PT_INTERP) {
        return Err("a dynamically linked program: visa runs static executables (link with -static)".into());
    }
    let base = match header.e_type(endian) {
        ET_EXEC => 0,
        ET_DYN => PIE_BASE,
        t => return Err(format!("ELF type {t} is not an executable")),
    };
    let mut end = 0;
    let mut phdr = None;
    let mut first_load = None;
    for ph in phdrs {
        match ph.p_type(endian) {
            PT_PHDR => phdr = Some(base.wrapping_add(ph.p_vaddr(endian))),
            PT_LOAD => {
                let vaddr = base.checked_add(ph.p_vaddr(endian)).ok_or("a segment's address wraps around")?;
                let memsz = ph.p_memsz(endian);
                let data = ph.data(endian, file).map_err(|_| format!("segment at {vaddr:#x} lies outside the file"))?;
                let seg_end = vaddr.checked_add(memsz).filter(|e| *e <= mem.size()).ok_or_else(|| {
                    format!("segment at {vaddr:#x} ({memsz} bytes) lies outside the guest address space")
                })?;
                if data.len() as u64 > memsz {
                    return Err(format!("segment at {vaddr:#x} has more file bytes than memory bytes"));
                }
                let flags = ph.p_flags(endian).0;
                let perms = [(PF_R, PERM_R), (PF_W, PERM_W), (PF_X, PERM_X)]
                    .iter()
                    .filter(|(f, _)| flags & f.0 != 0)
                    .fold(0, |acc, (_, p)| acc | p);
                let (start, stop) = (page_down(vaddr), page_up(seg_end));
                // Writable first, so the bytes can go in whatever the final permissions.
                mem.protect(start, stop - start, PERM_R | PERM_W);
                mem.write_bytes(vaddr, data).map_err(|e| e.to_string())?;
                // The rest reads as zeros (bytes another segment left there
                // too); whole pages cost no host memory.
                mem.zero(vaddr + data.len() as u64, memsz - data.len() as u64).map_err(|e| e.to_string())?;
                mem.protect(start, stop - start, perms);
                space.record(start, stop - start, perms);
                end = end.max(seg_end);
                first_load.get_or_insert((vaddr, ph.p_offset(endian)));
            }
            _ => {}
        }
    }
    let (load_vaddr, load_offset) = first_load.ok_or("the executable has no loadable segment")?;
    // Without PT_PHDR, the headers are where the first segment maps the file's start.
    let phoff = header.e_phoff(endian);
    let phdr = phdr.unwrap_or(load_vaddr.wrapping_sub(load_offset).wrapping_add(phoff));
    Ok(Image {
        entry: base.wrapping_add(header.e_entry(endian)),
        phdr,
        phnum: header.e_phnum(endian) as u64,
        phent: header.e_phentsize(endian) as u64,
        end,
    })
}
