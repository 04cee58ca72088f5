//! The JIT tier: V-ISA blocks compiled to host code with Cranelift.
//!
//! A compiled block is a host function taking the `JitCtx` and returning how
//! it left; the engine calls it where it would run the interpreter. Blocks
//! the lowering cannot handle, or that need relocations, stay interpreted.
//! Code lives in one bounded region; when it is full the engine flushes all
//! compiled blocks. It runs V-ISA only: it knows nothing of x86.

mod code_memory;
mod lower;
pub mod runtime;

use std::fmt;

use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{Function, UserFuncName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

pub use code_memory::CodeMemory;
pub use runtime::JitCtx;

use crate::abi::{Helpers, Outcome};
use crate::machine::GuestMemory;
use crate::visa::{Block, Env};
use runtime::EvalDesc;

/// Why a block was not compiled.
#[derive(Debug)]
pub enum JitError {
    /// The lowering does not handle something in the block.
    Unsupported(String),
    /// Cranelift rejected the function (a bug in the lowering).
    Codegen(String),
    /// The compiled code refers to symbols (libcalls) we do not link.
    Relocations,
    /// The code region is full: flush and retry.
    Full,
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Unsupported(m) => write!(f, "not lowered: {m}"),
            JitError::Codegen(m) => write!(f, "code generation failed: {m}"),
            JitError::Relocations => f.write_str("the code needs relocations"),
            JitError::Full => f.write_str("the code region is full"),
        }
    }
}

#[allow(clippy::vec_box)]
type Descs = Vec<Box<EvalDesc>>;

/// A compiled block: its entry point and what it points at.
pub struct Compiled {
    entry: extern "C" fn(*mut JitCtx) -> u32,
    pub code_size: usize,
    /// Descriptors the code refers to by address (boxed: they must not move).
    _descs: Descs,
    /// The code region generation it lives in (stale after a flush).
    pub generation: u64,
}

impl Compiled {
    /// Runs the block; returns its exit kind (see `runtime`).
    ///
    /// # Safety
    /// `ctx` must describe live state and memory of the sizes the block was
    /// compiled against, and the code region must not have been flushed.
    pub unsafe fn run(&self, ctx: &mut JitCtx) -> u32 {
        (self.entry)(ctx)
    }
}

/// Builds the Cranelift flags shared by the host and the cross-compiling checks.
pub fn flags() -> settings::Flags {
    let mut b = settings::builder();
    b.set("opt_level", "speed").expect("opt_level");
    b.set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }).expect("enable_verifier");
    settings::Flags::new(b)
}

/// Lowers a block into a Cranelift function for an ISA.
pub fn build_function(env: &Env, block: &Block, isa: &dyn TargetIsa) -> Result<(Function, Descs), JitError> {
    let call_conv = isa.default_call_conv();
    let mut func = Function::with_name_signature(UserFuncName::user(0, 0), lower::block_signature(call_conv));
    let mut fbc = FunctionBuilderContext::new();
    let builder = FunctionBuilder::new(&mut func, &mut fbc);
    let mut l = lower::Lower::new(builder, env, block, call_conv);
    l.lower().map_err(|e| JitError::Unsupported(e.0))?;
    let descs = l.finish(isa.frontend_config());
    Ok((func, descs))
}

/// Compiles a function for an ISA; returns the machine code.
pub fn compile_function(isa: &OwnedTargetIsa, func: Function) -> Result<Vec<u8>, JitError> {
    let mut ctx = Context::for_function(func);
    let code = ctx.compile(&**isa, &mut ControlPlane::default()).map_err(|e| JitError::Codegen(e.inner.to_string()))?;
    if !code.buffer.relocs().is_empty() {
        return Err(JitError::Relocations);
    }
    Ok(code.code_buffer().to_vec())
}

/// The host compiler and its code region.
pub struct Jit {
    isa: OwnedTargetIsa,
    memory: CodeMemory,
    generation: u64,
}

/// Bytes of code region a JIT starts with.
pub const DEFAULT_CODE_SIZE: usize = 64 << 20;

impl Jit {
    /// A compiler for the host; `None` when the host is not supported or no
    /// executable memory can be had (the interpreter then carries on alone).
    pub fn new(code_size: usize) -> Result<Jit, String> {
        let isa = cranelift_native::builder().map_err(|e| e.to_string())?.finish(flags()).map_err(|e| e.to_string())?;
        let memory = CodeMemory::new(code_size).map_err(|e| format!("no executable memory: {e}"))?;
        Ok(Jit { isa, memory, generation: 0 })
    }

    /// Compiles a verified block.
    pub fn compile(&mut self, env: &Env, block: &Block) -> Result<Compiled, JitError> {
        let (func, descs) = build_function(env, block, &*self.isa)?;
        let code = compile_function(&self.isa, func)?;
        let ptr = self.memory.add(&code).ok_or(JitError::Full)?;
        // SAFETY: the code was generated for this host with the block
        // signature `extern "C" fn(*mut JitCtx) -> u32` (the ISA's default
        // calling convention is the C one).
        let entry = unsafe { std::mem::transmute::<*const u8, extern "C" fn(*mut JitCtx) -> u32>(ptr) };
        Ok(Compiled { entry, code_size: code.len(), _descs: descs, generation: self.generation })
    }

    /// Forgets every compiled block; their `Compiled` values become stale.
    pub fn flush(&mut self) {
        self.memory.clear();
        self.generation += 1;
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Bytes of code in use and available.
    pub fn code_usage(&self) -> (usize, usize) {
        (self.memory.used(), self.memory.capacity())
    }
}

/// Runs a compiled block against a state record, guest memory and helpers.
///
/// # Safety
/// `state` must be the state record the block's Env describes (at least as
/// large as its slots reach), and `code` must not be stale (`generation`).
pub unsafe fn run(code: &Compiled, state: &mut [u8], mem: &mut GuestMemory, helpers: &mut dyn Helpers) -> Outcome {
    let mut helpers: &mut dyn Helpers = helpers;
    let mut ctx = JitCtx {
        state: state.as_mut_ptr(),
        mem_base: mem.host_base(),
        mem_size: mem.size(),
        code_lines: mem.code_lines_ptr(),
        mem: mem as *mut GuestMemory,
        helpers: &mut helpers as *mut &mut dyn Helpers as *mut std::ffi::c_void,
        code_modified: 0,
        exit_reason: 0,
        exit_pc: 0,
        trap_code: 0,
        trap_completed: 0,
        trap_guest: 0,
        trap_addr: 0,
        has_trap_addr: 0,
        _pad: 0,
    };
    // SAFETY: the caller vouches for the state and the code; the context
    // points at live memory and helpers for the duration of the call.
    let kind = unsafe { code.run(&mut ctx) };
    ctx.outcome(kind)
}
