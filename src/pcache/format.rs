//! The file of one cache region: the blocks translated in one region of
//! guest addresses in one mode, behind a header with a magic, the format
//! version, the key it was stored under and a checksum of everything else.
//!
//! ```text
//! 0   magic "VISAPCR\0"
//! 8   format version (u32)       12  number of blocks (u32)
//! 16  key (16 bytes)
//! 32  body length (u64)          40  checksum (u64) of bytes 0..40 and 48..
//! 48  the blocks, each:
//!     address (u64), ranges (u32), per range: start (u64), length (u32);
//!     the guest bytes of the ranges, one after the other;
//!     V-ISA length (u32), the V-ISA (`codec::encode_body`);
//!     host code (u8: 0 none, 1 some), and with some:
//!       host tag (u64), link cells (u32), code length (u32), records (u32),
//!       the code with zeros where addresses go,
//!       per record: offset (u32), namespace (u32), index (u32), 0 (u32), addend (i64)
//! ```
//!
//! All numbers little-endian. Decoding trusts nothing: any length that does
//! not add up to the file's, a wrong checksum, or a record naming no known
//! target is an error. A file is checked whole and indexed when read; a
//! block is parsed when it is used, its V-ISA decoded and verified, and its
//! relocation records' bounds checked.

use std::collections::HashMap;

use super::hash::Hasher;
use crate::jit::{MachineCode, Relocation, Target};

const MAGIC: &[u8; 8] = b"VISAPCR\0";

/// Changed whenever the layout or the meaning of a field changes.
pub const VERSION: u32 = 2;

const HEADER: usize = 48;
const RECORD: usize = 24;

/// Largest code or V-ISA a block may have, and most guest bytes (anything
/// more is damage).
const MAX_CODE: usize = 16 << 20;
const MAX_GUEST: usize = 1 << 20;

/// One stored block: where its guest code was and what it was, its
/// optimised V-ISA, and host code compiled from that V-ISA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub addr: u64,
    pub ranges: Vec<(u64, u64)>,
    /// The guest bytes of `ranges`, one range after the other.
    pub bytes: Vec<u8>,
    pub visa: Vec<u8>,
    pub code: Option<StoredCode>,
}

/// Host code of a block, for the host, build and code options `tag` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCode {
    pub tag: u64,
    pub cells: u32,
    pub code: MachineCode,
}

impl Stored {
    /// Bytes it takes in a file (about).
    pub fn size(&self) -> usize {
        let code = self.code.as_ref().map_or(0, |c| 20 + c.code.bytes.len() + RECORD * c.code.relocs.len());
        21 + 12 * self.ranges.len() + self.bytes.len() + self.visa.len() + code
    }
}

fn checksum(file: &[u8]) -> u64 {
    Hasher::default().bytes(&file[..40]).bytes(&file[HEADER..]).finish64()
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The file of `blocks` stored under `key`.
pub fn encode(key: &[u8; 16], blocks: &[&Stored]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + blocks.iter().map(|b| b.size()).sum::<usize>());
    out.extend_from_slice(MAGIC);
    put32(&mut out, VERSION);
    put32(&mut out, blocks.len() as u32);
    out.extend_from_slice(key);
    out.extend_from_slice(&[0; 16]);
    for b in blocks {
        put64(&mut out, b.addr);
        put32(&mut out, b.ranges.len() as u32);
        for &(at, len) in &b.ranges {
            put64(&mut out, at);
            put32(&mut out, len as u32);
        }
        out.extend_from_slice(&b.bytes);
        put32(&mut out, b.visa.len() as u32);
        out.extend_from_slice(&b.visa);
        match &b.code {
            None => out.push(0),
            Some(c) => {
                out.push(1);
                put64(&mut out, c.tag);
                put32(&mut out, c.cells);
                put32(&mut out, c.code.bytes.len() as u32);
                put32(&mut out, c.code.relocs.len() as u32);
                out.extend_from_slice(&c.code.bytes);
                for r in &c.code.relocs {
                    let (namespace, index) = r.target.encode();
                    put32(&mut out, r.offset);
                    put32(&mut out, namespace);
                    put32(&mut out, index);
                    put32(&mut out, 0);
                    put64(&mut out, r.addend as u64);
                }
            }
        }
    }
    let body = (out.len() - HEADER) as u64;
    out[32..40].copy_from_slice(&body.to_le_bytes());
    let sum = checksum(&out);
    out[40..48].copy_from_slice(&sum.to_le_bytes());
    out
}

/// Why a file is not a usable region.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not a region file, or cut short, or damaged.
    Corrupt(String),
    /// A file of another format version.
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

/// Reads a file's fields, each read checked against its end.
struct Reader<'f> {
    file: &'f [u8],
    pos: usize,
}

impl<'f> Reader<'f> {
    fn take(&mut self, n: usize) -> Result<&'f [u8], Invalid> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.file.len());
        let end = end.ok_or_else(|| Invalid::Corrupt("lengths do not add up".into()))?;
        let at = std::mem::replace(&mut self.pos, end);
        Ok(&self.file[at..end])
    }

    fn u32(&mut self) -> Result<u32, Invalid> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, Invalid> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A length, refused past `max`.
    fn len(&mut self, max: usize) -> Result<usize, Invalid> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(Invalid::Corrupt(format!("a length of {n}")));
        }
        Ok(n)
    }

    fn code(&mut self) -> Result<StoredCode, Invalid> {
        let (tag, cells) = (self.u64()?, self.u32()?);
        let (len, records) = (self.len(MAX_CODE)?, self.len(MAX_CODE)?);
        let bytes = self.take(len)?.to_vec();
        let mut relocs = Vec::with_capacity(records.min(self.file.len() / RECORD));
        for _ in 0..records {
            let (offset, namespace, index, zero) = (self.u32()?, self.u32()?, self.u32()?, self.u32()?);
            let addend = self.u64()? as i64;
            let Some(target) = Target::decode(namespace, index).filter(|_| zero == 0) else {
                return Err(Invalid::Corrupt("a relocation to nothing visa knows".into()));
            };
            relocs.push(Relocation { offset, target, addend });
        }
        Ok(StoredCode { tag, cells, code: MachineCode { bytes, relocs } })
    }

    /// Steps over a block; its address.
    fn skip_block(&mut self) -> Result<u64, Invalid> {
        let addr = self.u64()?;
        let count = self.len(MAX_GUEST)?;
        let mut guest = 0usize;
        for _ in 0..count {
            self.u64()?;
            guest += self.len(MAX_GUEST)?;
        }
        if guest > MAX_GUEST {
            return Err(Invalid::Corrupt(format!("{guest} bytes of guest code")));
        }
        self.take(guest)?;
        let visa_len = self.len(MAX_CODE)?;
        self.take(visa_len)?;
        match self.take(1)?[0] {
            0 => {}
            1 => {
                self.take(12)?;
                let (len, records) = (self.len(MAX_CODE)?, self.len(MAX_CODE)?);
                self.take(len)?;
                self.take(records * RECORD)?;
            }
            _ => return Err(Invalid::Corrupt("a bad host-code flag".into())),
        }
        Ok(addr)
    }

    fn block(&mut self) -> Result<Stored, Invalid> {
        let addr = self.u64()?;
        let count = self.len(MAX_GUEST)?;
        let mut ranges = Vec::with_capacity(count.min(self.file.len() / 12));
        let mut guest = 0usize;
        for _ in 0..count {
            let (at, len) = (self.u64()?, self.len(MAX_GUEST)?);
            guest += len;
            ranges.push((at, len as u64));
        }
        if guest > MAX_GUEST {
            return Err(Invalid::Corrupt(format!("{guest} bytes of guest code")));
        }
        let bytes = self.take(guest)?.to_vec();
        let visa_len = self.len(MAX_CODE)?;
        let visa = self.take(visa_len)?.to_vec();
        let code = match self.take(1)?[0] {
            0 => None,
            1 => Some(self.code()?),
            _ => return Err(Invalid::Corrupt("a bad host-code flag".into())),
        };
        Ok(Stored { addr, ranges, bytes, visa, code })
    }
}

/// Where each block of a file starts, by address, if the file is the
/// whole, undamaged region for `key` (its blocks are read by `block_at`).
pub fn index(key: &[u8; 16], file: &[u8]) -> Result<HashMap<u64, usize>, Invalid> {
    let corrupt = |why: &str| Err(Invalid::Corrupt(why.to_string()));
    if file.len() < HEADER || &file[..8] != MAGIC {
        return corrupt("no header");
    }
    let mut r = Reader { file, pos: 8 };
    let version = r.u32()?;
    if version != VERSION {
        return Err(Invalid::Stale(version));
    }
    let count = r.u32()? as usize;
    r.pos = 32;
    if r.u64()? != (file.len() - HEADER) as u64 {
        return corrupt("lengths do not add up");
    }
    if r.u64()? != checksum(file) {
        return corrupt("checksum mismatch");
    }
    if &file[16..32] != key {
        return corrupt("stored under another key");
    }
    let mut index = HashMap::with_capacity(count.min(file.len() / 21));
    for _ in 0..count {
        let at = r.pos;
        let addr = r.skip_block()?;
        index.insert(addr, at);
    }
    if r.pos != file.len() {
        return corrupt("trailing bytes");
    }
    Ok(index)
}

/// The block at `at` of a file `index` accepted.
pub fn block_at(file: &[u8], at: usize) -> Result<Stored, Invalid> {
    Reader { file, pos: at }.block()
}

/// Every block of a file, if it is the whole, undamaged region for `key`.
pub fn decode(key: &[u8; 16], file: &[u8]) -> Result<Vec<Stored>, Invalid> {
    let mut starts: Vec<usize> = index(key, file)?.into_values().collect();
    starts.sort_unstable();
    starts.into_iter().map(|at| block_at(file, at)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks() -> Vec<Stored> {
        let code = MachineCode {
            bytes: (0..64u8).collect(),
            relocs: vec![
                Relocation { offset: 8, target: Target::Cell(1), addend: 0 },
                Relocation { offset: 30, target: Target::Desc(7), addend: -4 },
            ],
        };
        vec![
            Stored {
                addr: 0x401000,
                ranges: vec![(0x401000, 3), (0x402000, 2)],
                bytes: vec![0x90, 0x90, 0xeb, 0x31, 0xc0],
                visa: vec![1, 2, 3],
                code: Some(StoredCode { tag: 7, cells: 2, code }),
            },
            Stored { addr: 0x401010, ranges: vec![(0x401010, 1)], bytes: vec![0xc3], visa: vec![4], code: None },
        ]
    }

    #[test]
    fn a_region_reads_back_as_written_and_nothing_else_does() {
        let key = [7u8; 16];
        let all = blocks();
        let file = encode(&key, &all.iter().collect::<Vec<_>>());
        assert_eq!(decode(&key, &file).unwrap(), all);
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
        let mut code = blocks().remove(0).code.unwrap().code;
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
