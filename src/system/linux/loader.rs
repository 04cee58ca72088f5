//! Loading x86-64 Linux ELF images as the kernel's `load_elf_binary` does:
//! an ET_EXEC at its own addresses, an ET_DYN (a PIE, or the dynamic
//! linker itself) at a base the caller chooses, each PT_LOAD segment mapped
//! with its permissions. A program's PT_INTERP names the dynamic linker,
//! which the caller loads as a second image.

use object::Endianness;
use object::elf::{ET_DYN, ET_EXEC, FileHeader64, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};

use super::mm::{AddressSpace, Backing};
use crate::machine::{GuestMemory, PAGE_SIZE, PERM_R, PERM_W, PERM_X};

/// Where a PIE is placed.
pub const PIE_BASE: u64 = 0x5555_0000;

/// The longest PT_INTERP path taken.
const MAX_INTERP_PATH: usize = 4096;

/// An image's bytes and, when they are a file's, the open file, from
/// which its segments are mapped rather than copied.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub bytes: &'a [u8],
    pub fd: Option<i32>,
}

/// What the initial stack and the entry need from a loaded image.
#[derive(Clone, Debug)]
pub struct Image {
    pub entry: u64,
    /// Guest address of the program headers (for AT_PHDR).
    pub phdr: u64,
    pub phnum: u64,
    pub phent: u64,
    /// First byte after the highest segment: where the heap (brk) starts.
    pub end: u64,
    /// What the image's addresses were moved by (0 for an ET_EXEC).
    pub bias: u64,
    /// The dynamic linker it asks for (PT_INTERP), if any.
    pub interp: Option<Vec<u8>>,
}

fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}

fn page_up(a: u64) -> u64 {
    a.div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// The host's pages, at least the guest's: what a file mapping is made of.
fn host_page() -> u64 {
    crate::machine::host_page_size().max(PAGE_SIZE)
}

fn host_page_down(a: u64) -> u64 {
    a & !(host_page() - 1)
}

fn host_page_up(a: u64) -> u64 {
    a.div_ceil(host_page()).saturating_mul(host_page())
}

/// Maps the `len` file bytes at `offset` of a segment at `vaddr` from the
/// open file `fd` (read when the guest touches them, as the kernel maps
/// them), where the host can map them; false when they are to be copied
/// instead (the range then holds zeros).
fn map_segment(mem: &mut GuestMemory, fd: i32, vaddr: u64, offset: u64, len: u64) -> bool {
    if len == 0 || vaddr % host_page() != offset % host_page() {
        return false;
    }
    let (start, end, stop) = (host_page_down(vaddr), vaddr + len, host_page_up(vaddr + len));
    // Past the segment's bytes its last page reads as zeros, as copied
    // bytes would (the dynamic linker takes the rest of its last page as
    // zeroed memory to allocate from).
    mem.map_file(start, stop - start, fd, host_page_down(offset)).is_ok() && mem.zero(end, stop - end).is_ok()
}

/// A parsed ELF executable or shared object, checked to be x86-64.
pub struct Elf<'a> {
    file: &'a [u8],
    header: &'a FileHeader64<Endianness>,
    endian: Endianness,
    phdrs: &'a [ProgramHeader64<Endianness>],
}

impl<'a> Elf<'a> {
    pub fn parse(file: &'a [u8]) -> Result<Elf<'a>, String> {
        let header = FileHeader64::<Endianness>::parse(file).map_err(|_| "not an ELF64 file".to_string())?;
        let endian = header.endian().map_err(|e| format!("bad ELF header: {e}"))?;
        if header.e_machine(endian) != object::elf::EM_X86_64 {
            return Err(format!("ELF machine {} is not x86-64", header.e_machine(endian)));
        }
        let phdrs = header.program_headers(endian, file).map_err(|e| format!("bad program headers: {e}"))?;
        if !matches!(header.e_type(endian), ET_EXEC | ET_DYN) {
            return Err(format!("ELF type {} is not an executable", header.e_type(endian)));
        }
        Ok(Elf { file, header, endian, phdrs })
    }

    /// Is it position-independent (ET_DYN), to be placed at a chosen base?
    pub fn relocatable(&self) -> bool {
        self.header.e_type(self.endian) == ET_DYN
    }

    fn loads(&self) -> impl Iterator<Item = &'a ProgramHeader64<Endianness>> + '_ {
        self.phdrs.iter().filter(|ph| ph.p_type(self.endian) == PT_LOAD)
    }

    /// The page-aligned range of addresses its segments cover (before any
    /// bias), and the largest alignment they ask for.
    pub fn span(&self) -> Result<(u64, u64, u64), String> {
        let mut lo = u64::MAX;
        let mut hi = 0;
        let mut align = PAGE_SIZE;
        for ph in self.loads() {
            let vaddr = ph.p_vaddr(self.endian);
            let end = vaddr.checked_add(ph.p_memsz(self.endian)).ok_or("a segment's address wraps around")?;
            lo = lo.min(page_down(vaddr));
            hi = hi.max(page_up(end));
            let a = ph.p_align(self.endian);
            if a.is_power_of_two() {
                align = align.max(a);
            }
        }
        if lo > hi {
            return Err("the executable has no loadable segment".into());
        }
        Ok((lo, hi, align))
    }

    /// The dynamic linker it names (PT_INTERP), if any.
    pub fn interp(&self) -> Result<Option<Vec<u8>>, String> {
        let Some(ph) = self.phdrs.iter().find(|ph| ph.p_type(self.endian) == PT_INTERP) else {
            return Ok(None);
        };
        let data = ph.data(self.endian, self.file).map_err(|_| "PT_INTERP lies outside the file")?;
        let path = data.split(|b| *b == 0).next().unwrap_or_default();
        if path.is_empty() || path.len() > MAX_INTERP_PATH {
            return Err("PT_INTERP does not name a program".into());
        }
        Ok(Some(path.to_vec()))
    }

    /// Maps its segments into guest memory, moved by `bias` (from the open
    /// file `fd` where it can, else copied); `file` is what /proc/self/maps
    /// is to show them as (at offset 0).
    pub fn load(
        &self,
        mem: &mut GuestMemory,
        space: &mut AddressSpace,
        bias: u64,
        file: &Backing,
        fd: Option<i32>,
    ) -> Result<Image, String> {
        let endian = self.endian;
        let mut end = 0;
        let mut phdr = None;
        let mut first_load = None;
        for ph in self.phdrs {
            if ph.p_type(endian) == PT_PHDR {
                phdr = Some(bias.wrapping_add(ph.p_vaddr(endian)));
            }
        }
        // The host pages each segment covers: a segment is mapped from the
        // file only onto pages no other segment has bytes on.
        let spans: Vec<(u64, u64)> = self
            .loads()
            .map(|ph| {
                let v = bias.wrapping_add(ph.p_vaddr(endian));
                (host_page_down(v), host_page_up(v.saturating_add(ph.p_memsz(endian))))
            })
            .collect();
        for (i, ph) in self.loads().enumerate() {
            let vaddr = bias.checked_add(ph.p_vaddr(endian)).ok_or("a segment's address wraps around")?;
            let memsz = ph.p_memsz(endian);
            let data =
                ph.data(endian, self.file).map_err(|_| format!("segment at {vaddr:#x} lies outside the file"))?;
            let seg_end = vaddr
                .checked_add(memsz)
                .filter(|e| *e <= mem.size())
                .ok_or_else(|| format!("segment at {vaddr:#x} ({memsz} bytes) lies outside the guest address space"))?;
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
            let offset = ph.p_offset(endian);
            let alone = spans.iter().enumerate().all(|(j, &(lo, hi))| j == i || hi <= spans[i].0 || spans[i].1 <= lo);
            let mapped = alone && fd.is_some_and(|fd| map_segment(mem, fd, vaddr, offset, data.len() as u64));
            if !mapped {
                mem.write_bytes(vaddr, data).map_err(|e| e.to_string())?;
            }
            // The rest reads as zeros (bytes another segment left there
            // too); whole pages cost no host memory.
            mem.zero(vaddr + data.len() as u64, memsz - data.len() as u64).map_err(|e| e.to_string())?;
            mem.protect(start, stop - start, perms);
            // The pages that hold file bytes show as the file, the rest as anonymous.
            let file_end = page_up(vaddr + data.len() as u64).min(stop);
            space.record(start, stop - start, perms);
            if file_end > start {
                let backing = file.advanced(page_down(ph.p_offset(endian)));
                space.record_backed(start, file_end - start, perms, backing);
            }
            end = end.max(seg_end);
            first_load.get_or_insert((vaddr, ph.p_offset(endian)));
        }
        let (load_vaddr, load_offset) = first_load.ok_or("the executable has no loadable segment")?;
        // Without PT_PHDR, the headers are where the first segment maps the file's start.
        let phoff = self.header.e_phoff(endian);
        let phdr = phdr.unwrap_or(load_vaddr.wrapping_sub(load_offset).wrapping_add(phoff));
        Ok(Image {
            entry: bias.wrapping_add(self.header.e_entry(endian)),
            phdr,
            phnum: self.header.e_phnum(endian) as u64,
            phent: self.header.e_phentsize(endian) as u64,
            end,
            bias,
            interp: self.interp()?,
        })
    }
}

/// Loads an executable: an ET_EXEC where it says, a PIE at `PIE_BASE`.
pub fn load_program(
    mem: &mut GuestMemory,
    space: &mut AddressSpace,
    src: Source,
    backing: &Backing,
) -> Result<Image, String> {
    let elf = Elf::parse(src.bytes)?;
    let bias = if elf.relocatable() { PIE_BASE.wrapping_sub(elf.span()?.0) } else { 0 };
    elf.load(mem, space, bias, backing, src.fd)
}

/// Loads a dynamic linker where a fresh mapping of its size would go
/// (top-down below the stack, as the kernel places it), aligned as its
/// segments ask.
pub fn load_interp(
    mem: &mut GuestMemory,
    space: &mut AddressSpace,
    src: Source,
    backing: &Backing,
) -> Result<Image, String> {
    let elf = Elf::parse(src.bytes)?;
    if !elf.relocatable() {
        return Err("the dynamic linker is not position-independent (ET_DYN)".into());
    }
    if elf.interp()?.is_some() {
        return Err("the dynamic linker asks for a dynamic linker itself".into());
    }
    let (lo, hi, align) = elf.span()?;
    // Alignments past 1 GiB are taken as pages.
    let align = if align > 1 << 30 { PAGE_SIZE } else { align };
    let len = (hi - lo).checked_add(align - PAGE_SIZE).ok_or("the dynamic linker is too large")?;
    let at = space.find_free(len).ok_or("no room in the guest address space for the dynamic linker")?;
    let base = at.div_ceil(align) * align;
    elf.load(mem, space, base.wrapping_sub(lo), backing, src.fd)
}
