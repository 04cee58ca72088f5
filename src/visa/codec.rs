//! The compact binary encoding of blocks, for caching translations.
//!
//! Layout: magic `VISA`, version, the opcode table's fingerprint and the
//! Env fingerprint (u64 LE each), the block
//! address and instruction count (LEB128), then per instruction: opcode byte,
//! controlling-type byte (when the opcode has one), the immediate, and each
//! operand as the distance back from the instruction's first result. Result
//! types are not stored: they follow from the table and the Env. Guest
//! addresses in immediates are zigzag LEB128 offsets from the block address.

use std::fmt;

use super::block::{Block, Value};
use super::env::Env;
use super::imm::{
    AtomicOp, ExcOp, ExitReason, FloatCC, Helper, Imm, ImmKind, IntCC, MemFlags, Overflow, Round, Slot, TrapCode,
    Underflow,
};
use super::opcodes::{Opcode, Opd};
use super::sig;
use super::types::Type;

const MAGIC: &[u8; 4] = b"VISA";
const VERSION: u8 = 3;

/// Why bytes do not decode to a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub msg: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.msg)
    }
}

impl std::error::Error for DecodeError {}

fn put_uleb(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_sleb(out: &mut Vec<u8>, v: i64) {
    put_uleb(out, ((v << 1) ^ (v >> 63)) as u64 as u128);
}

/// Encodes a block. The block should verify against `env`.
pub fn encode(env: &Env, block: &Block) -> Vec<u8> {
    let mut out = Vec::with_capacity(21 + block.insts.len() * 4);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&Opcode::table_fingerprint().to_le_bytes());
    out.extend_from_slice(&env.fingerprint().to_le_bytes());
    encode_body(block, &mut out);
    out
}

/// Appends the block without the header (magic, version, fingerprints):
/// for a caller that records those once for many blocks.
pub fn encode_body(block: &Block, out: &mut Vec<u8>) {
    put_uleb(out, block.addr as u128);
    put_uleb(out, block.insts.len() as u128);
    let rel = |a: u64| a.wrapping_sub(block.addr) as i64;
    for inst in &block.insts {
        out.push(inst.op.code());
        if let Some(t) = inst.ty {
            out.push(t.code());
        }
        match inst.imm {
            Imm::None => {}
            Imm::Const(bits) => put_uleb(out, bits.get()),
            Imm::IntCC(cc) => out.push(cc as u8),
            Imm::FloatCC(cc) => out.push(cc as u8),
            Imm::Round(r) => out.push(r as u8),
            Imm::Fexc(op, r, u, o) => out.extend_from_slice(&[op as u8, r as u8, u as u8, o as u8]),
            Imm::Atomic(op) => out.push(op as u8),
            Imm::Mem(flags) => out.push(flags.aligned as u8),
            Imm::Slot(s) => put_uleb(out, s.0 as u128),
            Imm::Lane(l) => out.push(l),
            Imm::Shuffle(mask) => out.extend_from_slice(&mask),
            Imm::Helper(h) => put_uleb(out, h.0 as u128),
            Imm::Guest { addr, len } => {
                put_sleb(out, rel(addr));
                out.push(len);
            }
            Imm::Trap(code) => put_uleb(out, code.code() as u128),
            Imm::Target(t) => put_sleb(out, rel(t)),
            Imm::Branch(a, b) => {
                put_sleb(out, rel(a));
                put_sleb(out, rel(b));
            }
            Imm::Exit(reason, resume) => {
                out.push(reason as u8);
                put_sleb(out, rel(resume));
            }
        }
        for a in block.args(inst) {
            put_uleb(out, (inst.first_result - a.0) as u128);
        }
    }
}

struct Reader<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl Reader<'_> {
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, DecodeError> {
        Err(DecodeError { offset: self.pos, msg: msg.into() })
    }

    fn u64_le(&mut self) -> Result<u64, DecodeError> {
        let mut bytes = [0u8; 8];
        for b in bytes.iter_mut() {
            *b = self.byte()?;
        }
        Ok(u64::from_le_bytes(bytes))
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        match self.bytes.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => self.err("unexpected end of the encoding"),
        }
    }

    fn uleb(&mut self) -> Result<u128, DecodeError> {
        let mut v = 0u128;
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u128) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        self.err("LEB128 number longer than 128 bits")
    }

    fn uleb_in<T: TryFrom<u128>>(&mut self, what: &str) -> Result<T, DecodeError> {
        let v = self.uleb()?;
        T::try_from(v).or_else(|_| self.err(format!("{what} {v} out of range")))
    }

    fn sleb(&mut self) -> Result<i64, DecodeError> {
        let z: u64 = self.uleb_in("offset")?;
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    fn code<T>(&mut self, what: &str, from: impl Fn(u8) -> Option<T>) -> Result<T, DecodeError> {
        let b = self.byte()?;
        from(b).map_or_else(|| self.err(format!("bad {what} code {b}")), Ok)
    }
}

/// Decodes a block encoded against an Env with the same declarations.
pub fn decode(env: &Env, bytes: &[u8]) -> Result<Block, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    if bytes.get(..4) != Some(MAGIC) {
        return r.err("not a V-ISA block (bad magic)");
    }
    r.pos = 4;
    if r.byte()? != VERSION {
        return r.err("unsupported encoding version");
    }
    if r.u64_le()? != Opcode::table_fingerprint() {
        return r.err("encoded against a different opcode table");
    }
    if r.u64_le()? != env.fingerprint() {
        return r.err("encoded against different declarations");
    }
    body(env, r)
}

/// Decodes a block encoded by `encode_body`, against an Env with the same
/// declarations and the same opcode table (which the caller has checked).
pub fn decode_body(env: &Env, bytes: &[u8]) -> Result<Block, DecodeError> {
    body(env, Reader { bytes, pos: 0 })
}

fn body(env: &Env, mut r: Reader<'_>) -> Result<Block, DecodeError> {
    let bytes = r.bytes;
    let addr: u64 = r.uleb_in("block address")?;
    let count: usize = r.uleb_in("instruction count")?;
    let mut block = Block::new(addr);
    // Every instruction takes at least a byte; most have one result and two operands.
    let expected = count.min(bytes.len());
    block.insts.reserve(expected);
    block.types.reserve(expected);
    block.pool.reserve(expected * 2);
    let abs = |d: i64| addr.wrapping_add(d as u64);
    let mut args = Vec::new();
    let mut results = Vec::new();
    for _ in 0..count.min(bytes.len()) {
        let op = r.code("opcode", Opcode::from_code)?;
        let ty = if op.has_ctrl() { Some(r.code("type", Type::from_code)?) } else { None };
        if let Err(e) = sig::check_ctrl(op, ty) {
            return r.err(e);
        }
        let imm = match op.info().imm {
            ImmKind::None => Imm::None,
            ImmKind::Const => Imm::Const(r.uleb()?.into()),
            ImmKind::IntCC => Imm::IntCC(r.code("condition", IntCC::from_code)?),
            ImmKind::FloatCC => Imm::FloatCC(r.code("condition", FloatCC::from_code)?),
            ImmKind::Round => Imm::Round(r.code("rounding", Round::from_code)?),
            ImmKind::Fexc => Imm::Fexc(
                r.code("float operation", ExcOp::from_code)?,
                r.code("rounding", Round::from_code)?,
                r.code("underflow mode", Underflow::from_code)?,
                r.code("overflow mode", Overflow::from_code)?,
            ),
            ImmKind::Atomic => Imm::Atomic(r.code("atomic", AtomicOp::from_code)?),
            ImmKind::Mem => Imm::Mem(MemFlags { aligned: r.code("memory flag", |b| (b < 2).then_some(b == 1))? }),
            ImmKind::Slot => Imm::Slot(Slot(r.uleb_in("slot")?)),
            ImmKind::Lane => Imm::Lane(r.byte()?),
            ImmKind::Shuffle => {
                let mut mask = [0u8; 16];
                for m in mask.iter_mut() {
                    *m = r.byte()?;
                }
                Imm::Shuffle(mask)
            }
            ImmKind::Helper => Imm::Helper(Helper(r.uleb_in("helper")?)),
            ImmKind::Guest => Imm::Guest { addr: abs(r.sleb()?), len: r.byte()? },
            ImmKind::Trap => {
                let code: u16 = r.uleb_in("trap code")?;
                Imm::Trap(TrapCode::from_code(code).map_or_else(|| r.err(format!("bad trap code {code}")), Ok)?)
            }
            ImmKind::Target => Imm::Target(abs(r.sleb()?)),
            ImmKind::Branch => Imm::Branch(abs(r.sleb()?), abs(r.sleb()?)),
            ImmKind::Exit => Imm::Exit(r.code("exit reason", ExitReason::from_code)?, abs(r.sleb()?)),
        };
        let nargs = match imm {
            Imm::Helper(h) => match env.helper_decl(h) {
                Some(decl) => decl.args.len(),
                None => return r.err(format!("no helper #{}", h.0)),
            },
            _ => op.info().args.iter().filter(|o| **o != Opd::Helper).count(),
        };
        let first = block.types.len() as u32;
        args.clear();
        for _ in 0..nargs {
            let back: u32 = r.uleb_in("operand")?;
            if back == 0 || back > first {
                return r.err(format!("operand {back} values back from v{first}"));
            }
            args.push(Value(first - back));
        }
        results.clear();
        if let Err(e) = sig::result_types(op, ty, &imm, env, &mut results) {
            return r.err(e);
        }
        block.push(op, ty, imm, &args, &results);
    }
    if block.insts.len() != count {
        return r.err("fewer instructions than the count says");
    }
    if r.pos != bytes.len() {
        return r.err("trailing bytes after the block");
    }
    Ok(block)
}
