//! The absolute addresses compiled code uses, named rather than written in:
//! runtime functions, the descriptors and constant table a block points
//! at, its link cells, and Cranelift's library calls. The lowering refers
//! to each by a symbol, so Cranelift records a relocation for every place
//! the code holds one; linking writes the addresses of this process into a
//! copy of the code. The same machine code can so be linked again in
//! another process (the persistent cache), and every record is checked
//! against the code's bounds before anything is written.

use cranelift_codegen::ir::{LibCall, UserExternalName};

use super::JitError;
use super::runtime;

/// Something compiled code holds the address of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A runtime function (`Runtime`).
    Runtime(Runtime),
    /// The descriptor of the block's instruction at this index (an
    /// operation done by the reference semantics).
    Desc(u32),
    /// The block's table of vector constants.
    Consts,
    /// The link cell of the block's direct target at this index of
    /// `Setup::cells`.
    Cell(u32),
    /// A host routine Cranelift calls (`LIBCALLS` index).
    LibCall(u32),
}

/// The runtime functions compiled code calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    Eval,
    Call,
    Atomic,
}

impl Runtime {
    const ALL: [Runtime; 3] = [Runtime::Eval, Runtime::Call, Runtime::Atomic];

    fn address(self) -> u64 {
        match self {
            Runtime::Eval => runtime::rt_eval as *const () as u64,
            Runtime::Call => runtime::rt_call as *const () as u64,
            Runtime::Atomic => runtime::rt_atomic as *const () as u64,
        }
    }
}

/// The library calls visa links (the order is part of the cache format).
const LIBCALLS: [LibCall; 11] = [
    LibCall::X86Pshufb,
    LibCall::CeilF32,
    LibCall::CeilF64,
    LibCall::FloorF32,
    LibCall::FloorF64,
    LibCall::TruncF32,
    LibCall::TruncF64,
    LibCall::NearestF32,
    LibCall::NearestF64,
    LibCall::FmaF32,
    LibCall::FmaF64,
];

/// Cranelift user-name namespaces of the targets.
const NS_RUNTIME: u32 = 1;
const NS_DESC: u32 = 2;
const NS_CONSTS: u32 = 3;
const NS_CELL: u32 = 4;
const NS_LIBCALL: u32 = 5;

impl Target {
    /// The name the lowering gives it.
    pub fn name(self) -> UserExternalName {
        let (namespace, index) = self.encode();
        UserExternalName { namespace, index }
    }

    /// The target a (namespace, index) pair names, if any.
    pub fn decode(namespace: u32, index: u32) -> Option<Target> {
        Some(match namespace {
            NS_RUNTIME => Target::Runtime(*Runtime::ALL.get(index as usize)?),
            NS_DESC => Target::Desc(index),
            NS_CONSTS if index == 0 => Target::Consts,
            NS_CELL => Target::Cell(index),
            NS_LIBCALL if (index as usize) < LIBCALLS.len() => Target::LibCall(index),
            _ => return None,
        })
    }

    /// As a (namespace, index) pair (how the cache stores it).
    pub fn encode(self) -> (u32, u32) {
        match self {
            Target::Runtime(r) => (NS_RUNTIME, Runtime::ALL.iter().position(|x| *x == r).expect("listed") as u32),
            Target::Desc(i) => (NS_DESC, i),
            Target::Consts => (NS_CONSTS, 0),
            Target::Cell(i) => (NS_CELL, i),
            Target::LibCall(i) => (NS_LIBCALL, i),
        }
    }

    /// The target of one of Cranelift's library calls, if visa links it.
    pub fn of_libcall(call: LibCall) -> Option<Target> {
        LIBCALLS.iter().position(|c| *c == call).map(|i| Target::LibCall(i as u32))
    }
}

/// One place in the code that holds an absolute address: 8 bytes at
/// `offset`, host byte order, `target`'s address plus `addend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloc {
    pub offset: u32,
    pub target: Target,
    pub addend: i64,
}

/// Machine code and the absolute addresses it needs written in.
///
/// Apart from those addresses the code is position-independent: Cranelift
/// resolves its branches and constants PC-relative inside the buffer, and
/// any other relocation is refused. So it links the same whatever address
/// it will run at, and can be written through the code region's writable
/// view to run from its executable one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineCode {
    /// The code, with zeros where the addresses go.
    pub bytes: Vec<u8>,
    pub relocs: Vec<Reloc>,
}

impl MachineCode {
    /// The code with every address written in, as `resolve` gives them.
    /// Fails, writing nothing, when a record lies outside the code or
    /// overlaps another, or names a target `resolve` does not know.
    pub fn link(&self, resolve: impl Fn(Target) -> Option<u64>) -> Result<Vec<u8>, JitError> {
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(self.relocs.len());
        for r in &self.relocs {
            let at = r.offset as usize;
            if at.checked_add(8).is_none_or(|end| end > self.bytes.len()) {
                return Err(JitError::Relocations(format!("a record at {at} outside {} bytes", self.bytes.len())));
            }
            spans.push((at, at + 8));
        }
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[0].1 > w[1].0) {
            return Err(JitError::Relocations("overlapping records".into()));
        }
        let mut bytes = self.bytes.clone();
        for r in &self.relocs {
            let addr = resolve(r.target).ok_or_else(|| JitError::Relocations(format!("{:?}", r.target)))?;
            let at = r.offset as usize;
            bytes[at..at + 8].copy_from_slice(&addr.wrapping_add(r.addend as u64).to_ne_bytes());
        }
        Ok(bytes)
    }
}

/// The addresses every block may use: runtime functions and library calls.
pub fn common_address(target: Target) -> Option<u64> {
    match target {
        Target::Runtime(r) => Some(r.address()),
        Target::LibCall(i) => super::libcall_address(*LIBCALLS.get(i as usize)?),
        _ => None,
    }
}
