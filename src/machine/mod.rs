//! The machine the engine drives: the CPU state, guest memory, CPUID, and
//! the x86 runtime helpers (x87, string compares, port I/O through a bus a
//! system supplies). Data and checked accessors; no translation, and no run
//! loop: the systems (`system/`) own those.

pub mod control;
mod cpu;
pub mod cpuid;
pub mod crypto;
pub mod deferred;
pub mod f16c;
mod memory;
pub mod segments;
pub mod vector_mem;
pub mod x86rt;
pub mod x87;
pub mod xsave;

pub use cpu::{
    CR4_FSGSBASE, CR4_OSXSAVE, CpuState, DR6_INIT, DR7_INIT, FLAGS, GPR_NAMES, MXCSR_MASK, SPLIT_FLAGS_MASK,
    XCR0_SUPPORTED, flag,
};

pub use memory::{
    GuestMemory, LINE_SHIFT, LINE_SIZE, MAX_MEMORY, MIN_MEMORY, MemFault, PAGE_SHIFT, PAGE_SIZE, PERM_CODE, PERM_R,
    PERM_W, PERM_X, host_mirrors_permissions, host_page_size,
};

/// The largest image file `visa boot` and `visa run` load (1 GiB).
pub const MAX_IMAGE_SIZE: u64 = 1 << 30;

/// Opens an image file (an executable, a script, a raw file to load):
/// only regular files, of at most `MAX_IMAGE_SIZE` bytes, so that a device
/// such as /dev/zero or a huge file is an error rather than read until
/// memory runs out. Gives the file and what it was checked by.
fn open_image(path: &std::path::Path) -> Result<(std::fs::File, std::fs::Metadata), String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{shown}: {}", std::io::Error::from_raw_os_error(libc::EISDIR)));
    }
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.len() > MAX_IMAGE_SIZE {
        return Err(too_big(path));
    }
    Ok((file, meta))
}

fn too_big(path: &std::path::Path) -> String {
    format!("{}: larger than the {} MiB visa loads", path.display(), MAX_IMAGE_SIZE >> 20)
}

/// Reads an opened image file (`path` names it in errors).
fn read_opened(file: &std::fs::File, meta: &std::fs::Metadata, path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // A file that grows while being read stops at the limit too.
    file.take(MAX_IMAGE_SIZE + 1).read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_IMAGE_SIZE {
        return Err(too_big(path));
    }
    Ok(bytes)
}

/// Reads an image file (see `open_image`).
pub fn read_image(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let (file, meta) = open_image(path)?;
    read_opened(&file, &meta, path)
}

/// An image file mapped for reading (its pages are read as they are
/// touched, nothing is copied), with the file kept open; read instead
/// where the file cannot be mapped. Like a file the guest maps, a file
/// truncated while mapped kills visa with SIGBUS.
pub struct MappedImage {
    bytes: ImageBytes,
    pub file: std::fs::File,
    /// The file's metadata when it was opened.
    pub meta: std::fs::Metadata,
}

enum ImageBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl MappedImage {
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            ImageBytes::Mapped(map) => map,
            ImageBytes::Read(bytes) => bytes,
        }
    }
}

/// Maps an image file (see `open_image`), or reads it where it cannot.
pub fn map_image(path: &std::path::Path) -> Result<MappedImage, String> {
    let (file, meta) = open_image(path)?;
    // SAFETY: a private read-only mapping of a regular file; its bytes are
    // only read as data (see `MappedImage` on truncation).
    let bytes = match unsafe { memmap2::Mmap::map(&file) } {
        Ok(map) if map.len() as u64 <= MAX_IMAGE_SIZE => ImageBytes::Mapped(map),
        Ok(_) => return Err(too_big(path)),
        Err(_) => ImageBytes::Read(read_opened(&file, &meta, path)?),
    };
    Ok(MappedImage { bytes, file, meta })
}
