//! The file of one cache entry: a block's machine code and its relocation
//! records, behind a header with a magic, the format version, the key it
//! was stored under and a checksum of everything else.
//!
//! ```text
//! 0   magic "VISAPCC\0"
//! 8   format version (u32)       12  number of link cells (u32)
//! 16  key (16 bytes)
//! 32  code length (u32)          36  relocation records (u32)
//! 40  checksum (u64) of bytes 0..40 and 48.. of the file
//! 48  the code, with zeros where addresses go
//! ..  per record: offset (u32), namespace (u32), index (u32), 0 (u32), addend (i64)
//! ```
//!
//! All numbers little-endian. Decoding trusts nothing: any length that does
//! not add up to the file's, a wrong checksum, or a record naming no known
//! target is an error; the relocation records' bounds are checked again
//! when the code is linked.

use super::hash::Hasher;
use crate::jit::{MachineCode, Relocation, Target};

const MAGIC: &[u8; 8] = b"VISAPCC\0";

/// Changed whenever the layout or the meaning of a field changes.
pub const VERSION: u32 = 1;

const HEADER: usize = 48;
const RECORD: usize = 24;

/// Largest code a block may have (anything longer is damage).
const MAX_CODE: usize = 16 << 20;

/// A stored block: its code and how many link cells it was compiled with.
pub struct Entry {
    pub code: MachineCode,
    pub cells: u32,
}

fn checksum(file: &[u8]) -> u64 {
    Hasher::default().bytes(&file[..40]).bytes(&file[HEADER..]).finish64()
}

pub fn encode(key: &[u8; 16], code: &MachineCode, cells: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + code.bytes.len() + RECORD * code.relocs.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&cells.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(code.bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&(code.relocs.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&code.bytes);
    for r in &code.relocs {
        let (namespace, index) = r.target.encode();
        out.extend_from_slice(&r.offset.to_le_bytes());
        out.extend_from_slice(&namespace.to_le_bytes());
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&r.addend.to_le_bytes());
    }
    let sum = checksum(&out);
    out[40..48].copy_from_slice(&sum.to_le_bytes());
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Why a file is not a usable entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not an entry, or cut short, or damaged.
    Corrupt(String),
    /// An entry of another format version.
    Stale(u32),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Corrupt(why) => write!(f, "corrupt ({why})"),
            Invalid::Stale(v) => write!(f, "stale (format {v}, this visa writes {VERSION})"),
        }
    }
}

/// The entry a file holds, if it is the whole, undamaged entry for `key`.
pub fn decode(key: &[u8; 16], file: &[u8]) -> Result<Entry, Invalid> {
    let corrupt = |why: &str| Err(Invalid::Corrupt(why.to_string()));
    if file.len() < HEADER || &file[..8] != MAGIC {
        return corrupt("no header");
    }
    let version = u32_at(file, 8);
    if version != VERSION {
        return Err(Invalid::Stale(version));
    }
    let (code_len, records) = (u32_at(file, 32) as usize, u32_at(file, 36) as usize);
    if code_len > MAX_CODE || HEADER + code_len + records.saturating_mul(RECORD) != file.len() {
        return corrupt("lengths do not add up");
    }
    if u64_at(file, 40) != checksum(file) {
        return corrupt("checksum mismatch");
    }
    if &file[16..32] != key {
        return corrupt("stored under another key");
    }
    let body = &file[HEADER + code_len..];
    let mut relocs = Vec::with_capacity(records);
    for rec in body.chunks_exact(RECORD) {
        let target = Target::decode(u32_at(rec, 4), u32_at(rec, 8));
        let Some(target) = target.filter(|_| u32_at(rec, 12) == 0) else {
            return corrupt("a relocation to nothing visa knows");
        };
        relocs.push(Relocation { offset: u32_at(rec, 0), target, addend: u64_at(rec, 16) as i64 });
    }
    let code = MachineCode { bytes: file[HEADER..HEADER + code_len].to_vec(), relocs };
    Ok(Entry { code, cells: u32_at(file, 12) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::Target;

    fn entry() -> Entry {
        let code = MachineCode {
            bytes: (0..64u8).collect(),
            relocs: vec![
                Relocation { offset: 8, target: Target::Cell(1), addend: 0 },
                Relocation { offset: 30, target: Target::Desc(7), addend: -4 },
            ],
        };
        Entry { code, cells: 2 }
    }

    #[test]
    fn an_entry_reads_back_as_written_and_nothing_else_does() {
        let key = [7u8; 16];
        let file = encode(&key, &entry().code, 2);
        let back = decode(&key, &file).unwrap();
        assert_eq!((back.code, back.cells), (entry().code, 2));
        assert!(matches!(decode(&[8u8; 16], &file), Err(Invalid::Corrupt(_))), "another key");
        for cut in [0, 10, HEADER, file.len() - 1] {
            assert!(matches!(decode(&key, &file[..cut]), Err(Invalid::Corrupt(_))), "cut at {cut}");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(matches!(decode(&key, &longer), Err(Invalid::Corrupt(_))));
        for at in 0..file.len() {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            assert!(decode(&key, &bad).is_err(), "a flipped bit at {at} went unseen");
        }
        let mut stale = file.clone();
        stale[8] = 0;
        assert_eq!(decode(&key, &stale).err(), Some(Invalid::Stale(0)));
    }

    #[test]
    fn records_outside_the_code_or_overlapping_are_refused() {
        let resolve = |_| Some(0x1122_3344_5566_7788);
        let mut code = entry().code;
        let linked = code.link(resolve).unwrap();
        assert_eq!(linked[8..16], 0x1122_3344_5566_7788u64.to_ne_bytes());
        code.relocs[1].offset = 57;
        assert!(code.link(resolve).is_err(), "past the end");
        code.relocs[1].offset = u32::MAX;
        assert!(code.link(resolve).is_err(), "far past the end");
        code.relocs[1].offset = 12;
        assert!(code.link(resolve).is_err(), "overlapping");
        code.relocs[1].offset = 16;
        assert!(code.link(resolve).is_ok());
        assert!(code.link(|_| None).is_err(), "an unknown target");
    }
}
