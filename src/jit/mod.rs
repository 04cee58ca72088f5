//! The JIT tier: V-ISA blocks compiled to host code with Cranelift.
//!
//! A compiled block is a host function taking the `JitCtx` and returning how
//! it left; the engine calls it where it would run the interpreter. Blocks
//! the lowering cannot handle, or that need relocations visa does not link
//! (`reloc`), stay interpreted.
//! Code lives in one bounded region; when it is full the engine flushes all
//! compiled blocks. It runs V-ISA only: it knows nothing of x86.

mod access;
mod code_memory;
mod icache;
mod lower;
mod reloc;
pub mod replay;
pub mod runtime;

use std::fmt;
use std::sync::{Arc, OnceLock};

use cranelift_codegen::Context;
use cranelift_codegen::FinalizedRelocTarget;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{ExternalName, Function, LibCall, UserFuncName};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

pub use code_memory::{CodeMemory, ForkCopies, Mapping, prepare_fork};
pub use icache::sync_this_thread;
pub use lower::{Setup, needs_tso_fences};
pub use reloc::{MachineCode, Reloc as Relocation, Target};
pub use runtime::{IND_EMPTY, IND_ENTRIES, IndEntry, JitCtx, addr_slot, ind_slot};

use crate::abi::{Helpers, Outcome};
use crate::machine::GuestMemory;
use crate::visa::{Block, Env};
use code_memory::AddError;

/// Why a block was not compiled.
#[derive(Debug)]
pub enum JitError {
    /// The lowering does not handle something in the block.
    Unsupported(String),
    /// Cranelift rejected the function (a bug in the lowering).
    Codegen(String),
    /// The compiled code refers to a symbol we do not link.
    Relocations(String),
    /// The code region is full: flush and retry.
    Full,
    /// The host would not make the code executable (a protection change or
    /// the instruction-cache maintenance failed).
    Memory(String),
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Unsupported(m) => write!(f, "not lowered: {m}"),
            JitError::Codegen(m) => write!(f, "code generation failed: {m}"),
            JitError::Relocations(what) => write!(f, "the code needs a relocation visa does not link: {what}"),
            JitError::Full => f.write_str("the code region is full"),
            JitError::Memory(e) => write!(f, "the code cannot be made executable: {e}"),
        }
    }
}

type Descs = lower::Referenced;

/// A compiled block: its entry point and what it points at.
pub struct Compiled {
    /// Entry of the block's function (tail-call convention: call it through
    /// the trampoline).
    pub entry: *const u8,
    pub code_size: usize,
    /// The guest instructions of the block it was compiled from (which may
    /// end earlier than the interpreter's: `engine::shape`).
    pub guest_insts: u32,
    /// What the code refers to by address.
    _referenced: Descs,
}

// SAFETY: the entry points into code that is never written again until the
// code region is flushed (which the engines' registry makes wait until no
// thread runs it), and the descriptors are read-only: threads may share
// and send them.
unsafe impl Send for Compiled {}
// SAFETY: as for `Send`.
unsafe impl Sync for Compiled {}

/// Builds the Cranelift flags shared by the host and the cross-compiling checks.
pub fn flags() -> settings::Flags {
    let mut b = settings::builder();
    b.set("opt_level", "speed").expect("opt_level");
    // Cranelift's tail calls (block linking) need frame pointers.
    b.set("preserve_frame_pointers", "true").expect("preserve_frame_pointers");
    b.set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }).expect("enable_verifier");
    settings::Flags::new(b)
}

/// Lowers a block into a Cranelift function for an ISA.
pub fn build_function(
    env: &Env,
    block: &Block,
    isa: &dyn TargetIsa,
    links: Setup<'_>,
) -> Result<(Function, Descs), JitError> {
    let mut func = Function::new();
    let descs = lower_into(&mut func, &mut FunctionBuilderContext::new(), env, block, isa, links)?;
    Ok((func, descs))
}

/// Lowers a block into `func` (cleared), building with `fbc`.
fn lower_into(
    func: &mut Function,
    fbc: &mut FunctionBuilderContext,
    env: &Env,
    block: &Block,
    isa: &dyn TargetIsa,
    links: Setup<'_>,
) -> Result<Descs, JitError> {
    let call_conv = isa.default_call_conv();
    func.name = UserFuncName::user(0, 0);
    func.signature = lower::block_signature(CallConv::Tail);
    let builder = FunctionBuilder::new(func, fbc);
    let big_endian = isa.endianness() == cranelift_codegen::ir::Endianness::Big;
    let mut l = lower::Lower::new(builder, env, block, call_conv, links, big_endian);
    l.lower().map_err(|e| JitError::Unsupported(e.0))?;
    Ok(l.finish(isa.frontend_config()))
}

/// A made-up link cell address for each direct target of a block, as the
/// engine gives every direct exit a cell (for compiling a block outside an
/// engine: disassembly, tests).
pub fn placeholder_cells(block: &Block) -> Vec<(u64, usize)> {
    block.exit_targets().into_iter().enumerate().map(|(i, t)| (t, 0x1000 + 8 * i)).collect()
}

/// The Cranelift IR of a block, linked as the engine links it (for the
/// `clif` execution log), with guest memory checked as `protected` and
/// `host_perms` say (`Setup`).
pub fn clif_text(env: &Env, block: &Block, protected: bool, host_perms: bool) -> Result<String, JitError> {
    let isa = host_isa()?;
    let cells = placeholder_cells(block);
    let setup = Setup { cells: &cells, protected, host_perms, ..Setup::default() };
    let (func, _descs) = build_function(env, block, &*isa, setup)?;
    Ok(func.display().to_string())
}

fn host_isa() -> Result<OwnedTargetIsa, JitError> {
    cranelift_native::builder()
        .map_err(|e| JitError::Codegen(e.to_string()))?
        .finish(flags())
        .map_err(|e| JitError::Codegen(e.to_string()))
}

/// The host code Cranelift makes of a block, as its disassembly (for
/// `visa lift --host` and the `out_asm` execution log), with guest memory
/// checked as `protected` and `host_perms` say (`Setup`).
pub fn disassemble(env: &Env, block: &Block, protected: bool, host_perms: bool) -> Result<String, JitError> {
    let isa = host_isa()?;
    // Linked as the engine links it, so the code shown is the code that
    // runs: linked exits and loops.
    let cells = placeholder_cells(block);
    let setup = Setup { cells: &cells, protected, host_perms, ..Setup::default() };
    let (func, _descs) = build_function(env, block, &*isa, setup)?;
    let mut ctx = Context::for_function(func);
    ctx.set_disasm(true);
    let code = ctx.compile(&*isa, &mut ControlPlane::default()).map_err(|e| JitError::Codegen(e.inner.to_string()))?;
    Ok(code.vcode.clone().unwrap_or_default())
}

/// Host routines Cranelift may call for operations a target lacks (float
/// rounding without SSE4.1, a fused multiply-add without FMA, say).
fn libcall_address(call: LibCall) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::__m128i;
    extern "C" fn ceil_f32(x: f32) -> f32 {
        x.ceil()
    }
    extern "C" fn ceil_f64(x: f64) -> f64 {
        x.ceil()
    }
    extern "C" fn floor_f32(x: f32) -> f32 {
        x.floor()
    }
    extern "C" fn floor_f64(x: f64) -> f64 {
        x.floor()
    }
    extern "C" fn trunc_f32(x: f32) -> f32 {
        x.trunc()
    }
    extern "C" fn trunc_f64(x: f64) -> f64 {
        x.trunc()
    }
    // A correctly rounded fused multiply-add (the host's instruction or
    // the C library's exact `fma`), for hosts without the instruction.
    extern "C" fn fma_f32(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
    extern "C" fn fma_f64(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
    extern "C" fn nearest_f32(x: f32) -> f32 {
        x.round_ties_even()
    }
    extern "C" fn nearest_f64(x: f64) -> f64 {
        x.round_ties_even()
    }
    // Cranelift passes the vectors as the C ABI passes __m128i.
    #[cfg(target_arch = "x86_64")]
    #[allow(improper_ctypes_definitions)]
    extern "C" fn pshufb(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: __m128i and [u8; 16] have the same size and any bit pattern.
        let (a, b) =
            unsafe { (std::mem::transmute::<__m128i, [u8; 16]>(a), std::mem::transmute::<__m128i, [u8; 16]>(b)) };
        let r: [u8; 16] = std::array::from_fn(|i| if b[i] & 0x80 != 0 { 0 } else { a[(b[i] & 15) as usize] });
        // SAFETY: as above.
        unsafe { std::mem::transmute::<[u8; 16], __m128i>(r) }
    }
    Some(match call {
        #[cfg(target_arch = "x86_64")]
        LibCall::X86Pshufb => pshufb as *const () as u64,
        LibCall::CeilF32 => ceil_f32 as *const () as u64,
        LibCall::CeilF64 => ceil_f64 as *const () as u64,
        LibCall::FloorF32 => floor_f32 as *const () as u64,
        LibCall::FloorF64 => floor_f64 as *const () as u64,
        LibCall::TruncF32 => trunc_f32 as *const () as u64,
        LibCall::TruncF64 => trunc_f64 as *const () as u64,
        LibCall::NearestF32 => nearest_f32 as *const () as u64,
        LibCall::NearestF64 => nearest_f64 as *const () as u64,
        LibCall::FmaF32 => fma_f32 as *const () as u64,
        LibCall::FmaF64 => fma_f64 as *const () as u64,
        _ => return None,
    })
}

/// Compiles a function for an ISA; returns the machine code and the
/// absolute addresses to write into it (see `reloc`).
pub fn compile_function(isa: &OwnedTargetIsa, func: Function) -> Result<MachineCode, JitError> {
    compile_in(&mut Context::for_function(func), isa)
}

/// Compiles the function `ctx` holds (see `compile_function`).
fn compile_in(ctx: &mut Context, isa: &OwnedTargetIsa) -> Result<MachineCode, JitError> {
    // A Cranelift backend that panics on a pattern it lacks must not take the
    // process down: the block then stays interpreted.
    let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.compile(&**isa, &mut ControlPlane::default()).map(drop).map_err(|e| e.inner.to_string())
    }));
    match compiled {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(JitError::Codegen(e)),
        Err(panic) => {
            let what =
                panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            return Err(JitError::Codegen(format!("Cranelift failed: {}", what.unwrap_or_default())));
        }
    }
    let code = ctx.compiled_code().expect("compiled just now");
    let names = ctx.func.params.user_named_funcs();
    let mut relocs = Vec::new();
    for reloc in code.buffer.relocs() {
        let target = match (&reloc.target, reloc.kind) {
            (FinalizedRelocTarget::ExternalName(ExternalName::LibCall(call)), Reloc::Abs8) => {
                Target::of_libcall(*call).ok_or_else(|| JitError::Relocations(format!("{call:?}")))?
            }
            (FinalizedRelocTarget::ExternalName(ExternalName::User(name)), Reloc::Abs8) => {
                let name = &names[*name];
                Target::decode(name.namespace, name.index)
                    .ok_or_else(|| JitError::Relocations(format!("a name {}:{}", name.namespace, name.index)))?
            }
            (target, kind) => return Err(JitError::Relocations(format!("{kind:?} to {target:?}"))),
        };
        relocs.push(reloc::Reloc { offset: reloc.offset, target, addend: reloc.addend });
    }
    Ok(MachineCode { bytes: code.code_buffer().to_vec(), relocs })
}

/// A thread's Cranelift buffers, kept from one block to the next (a fresh
/// context and builder context per block made allocation and copying about
/// a sixth of compiling).
struct Workspace {
    ctx: Context,
    fbc: FunctionBuilderContext,
}

thread_local! {
    static WORKSPACE: std::cell::RefCell<Workspace> =
        std::cell::RefCell::new(Workspace { ctx: Context::new(), fbc: FunctionBuilderContext::new() });
}

/// A block's machine code with what it points at, ready to be linked and
/// placed in a code region. Generating it needs no region (a compiler
/// thread does it holding no lock); only `Jit::place` writes code memory.
pub struct Generated {
    /// The code as it links anywhere (what the persistent cache keeps).
    pub code: MachineCode,
    descs: Descs,
    /// The link cells of the block's direct targets (`Setup::cells`).
    cells: Vec<(u64, usize)>,
    guest_insts: u32,
}

/// Generates the machine code of a verified block whose direct exits use
/// the given link cells.
pub fn generate(isa: &OwnedTargetIsa, env: &Env, block: &Block, links: Setup<'_>) -> Result<Generated, JitError> {
    WORKSPACE.with_borrow_mut(|w| {
        w.ctx.clear();
        let descs = lower_into(&mut w.ctx.func, &mut w.fbc, env, block, &**isa, links)?;
        let guest_insts = block.guest_count() as u32;
        Ok(Generated { code: compile_in(&mut w.ctx, isa)?, descs, cells: links.cells.to_vec(), guest_insts })
    })
}

/// Code generated earlier for `block` (in this process or another, with
/// the same Setup but other link cells), made ready to link here once its
/// link cells are given (`Generated::with_cells`): the descriptors and
/// constants it names are made again from the block. Nothing of the code
/// is trusted: linking checks every record.
pub fn restore(block: &Block, code: MachineCode) -> Result<Generated, JitError> {
    let descs = code.relocs.iter().filter_map(|r| match r.target {
        Target::Desc(at) => Some(at),
        _ => None,
    });
    let descs = lower::Referenced::of(block, descs)
        .ok_or_else(|| JitError::Relocations("a descriptor of no instruction of the block".into()))?;
    Ok(Generated { code, descs, cells: Vec::new(), guest_insts: block.guest_count() as u32 })
}

impl Generated {
    /// The same code, to link with these cells (`Setup::cells`).
    pub fn with_cells(self, cells: &[(u64, usize)]) -> Generated {
        Generated { cells: cells.to_vec(), ..self }
    }

    /// The code with this process's addresses written in.
    fn linked(&self) -> Result<Vec<u8>, JitError> {
        self.code.link(|t| match t {
            Target::Cell(i) => self.cells.get(i as usize).map(|(_, cell)| *cell as u64),
            Target::Desc(_) | Target::Consts => self.descs.address(t),
            _ => reloc::common_address(t),
        })
    }
}

/// The host compiler and its code region.
pub struct Jit {
    isa: OwnedTargetIsa,
    memory: CodeMemory,
    /// The entry trampoline, made with the first block placed: making it
    /// runs all of Cranelift, whose code (3 MB of it resident) a process
    /// that compiles nothing then never touches.
    trampoline: Arc<OnceLock<Trampoline>>,
    trampoline_memory: Option<CodeMemory>,
    /// Known to the trap handler (`replay`) while the Jit lives.
    _registered: replay::Registered,
}

// SAFETY: the code regions are owned by the Jit alone (their pointers are
// not shared with anything that stays on another thread), so it may move
// to, and be locked from, another thread.
unsafe impl Send for Jit {}

/// `extern "C" fn(ctx, entry) -> u64`: calls a block (tail-call convention)
/// from Rust and returns its exit kind, zero-extended to 64 bits: the C
/// conventions differ on what fills the upper bits of a narrower result
/// (s390x's caller takes them as zero, riscv64's as the sign), and
/// Cranelift leaves them as they happen to be. It lives in its own small
/// region, so flushing blocks never removes it; it is valid while its
/// `Jit` lives.
#[derive(Clone, Copy)]
pub struct Trampoline(replay::Entry);

/// The trampoline: a C-convention function that calls a block.
fn trampoline(isa: &OwnedTargetIsa) -> Result<MachineCode, JitError> {
    use cranelift_codegen::ir::{AbiParam, InstBuilder, Signature, types};
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I64)]);
    sig.returns.push(AbiParam::new(types::I64));
    let mut func = Function::with_name_signature(UserFuncName::user(0, 1), sig);
    let mut fbc = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fbc);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let (ctx, target) = (b.block_params(entry)[0], b.block_params(entry)[1]);
    let block_sig = b.import_signature(lower::block_signature(CallConv::Tail));
    let call = b.ins().call_indirect(block_sig, target, &[ctx]);
    let kind = b.inst_results(call)[0];
    let kind = b.ins().uextend(types::I64, kind);
    b.ins().return_(&[kind]);
    b.seal_all_blocks();
    b.finalize(isa.frontend_config());
    compile_function(isa, func)
}

impl Jit {
    /// A compiler for the host; `None` when the host is not supported or no
    /// executable memory can be had (the interpreter then carries on alone).
    pub fn new(code_size: usize) -> Result<Jit, String> {
        let isa = cranelift_native::builder().map_err(|e| e.to_string())?.finish(flags()).map_err(|e| e.to_string())?;
        let memory = CodeMemory::new(code_size).map_err(|e| format!("no executable memory: {e}"))?;
        let (lo, hi) = memory.exec_range();
        let registered = replay::register(lo, hi).ok_or("too many code regions in the process")?;
        Ok(Jit { isa, memory, trampoline: Arc::default(), trampoline_memory: None, _registered: registered })
    }

    /// Makes the entry trampoline, once.
    fn make_trampoline(&mut self) -> Result<(), JitError> {
        if self.trampoline.get().is_some() {
            return Ok(());
        }
        let host = |e: AddError| JitError::Memory(format!("cannot install the entry trampoline: {e}"));
        let mut memory = CodeMemory::new(4096).map_err(|e| JitError::Memory(format!("no executable memory: {e}")))?;
        let code = trampoline(&self.isa)?.link(reloc::common_address)?;
        let ptr = memory.add(&code).map_err(host)?;
        // SAFETY: the trampoline was generated for this host with exactly
        // this C-convention signature.
        let entry = unsafe { std::mem::transmute::<*const u8, extern "C" fn(*mut JitCtx, *const u8) -> u64>(ptr) };
        self.trampoline_memory = Some(memory);
        let _ = self.trampoline.set(Trampoline(entry));
        Ok(())
    }

    /// Compiles a verified block whose direct exits use the given link cells.
    pub fn compile(&mut self, env: &Env, block: &Block, links: Setup<'_>) -> Result<Compiled, JitError> {
        let generated = generate(&self.isa, env, block, links)?;
        self.place(generated)
    }

    /// The host ISA it compiles for (to generate code away from the region).
    pub fn isa(&self) -> OwnedTargetIsa {
        self.isa.clone()
    }

    /// Copies generated code into the code region.
    pub fn place(&mut self, generated: Generated) -> Result<Compiled, JitError> {
        self.make_trampoline()?;
        let bytes = generated.linked()?;
        let descs = generated.descs;
        let entry = self.memory.add(&bytes).map_err(|e| match e {
            AddError::Full => JitError::Full,
            AddError::Host(e) => JitError::Memory(e.to_string()),
        })?;
        Ok(Compiled { entry, code_size: bytes.len(), guest_insts: generated.guest_insts, _referenced: descs })
    }

    /// Forgets every compiled block; their `Compiled` values become stale
    /// (the caller makes sure no thread runs them, or will).
    pub fn flush(&mut self) {
        self.memory.clear();
    }

    /// Must code for this host fence guest accesses when threads share memory?
    pub fn needs_tso_fences(&self) -> bool {
        needs_tso_fences(&*self.isa)
    }

    /// What calls compiled blocks (valid while the Jit lives), there once
    /// a block was placed.
    pub fn trampoline(&self) -> Arc<OnceLock<Trampoline>> {
        self.trampoline.clone()
    }

    /// Bytes of code in use and available.
    pub fn code_usage(&self) -> (usize, usize) {
        (self.memory.used(), self.memory.capacity())
    }
}

/// What a run of compiled code needs besides the block.
pub struct RunEnv<'a> {
    pub state: &'a mut [u8],
    pub mem: &'a mut GuestMemory,
    pub helpers: &'a mut dyn Helpers,
    /// Guest instructions the chain of linked blocks may run.
    pub budget: i64,
    pub ind_table: *const IndEntry,
    /// The running engine's interrupt word (`abi::Interrupt`).
    pub interrupt: &'a std::sync::atomic::AtomicU32,
}

/// Compiles `block` alone (no links) into a fresh code region and runs it
/// once from `state`, the Env's state record: how filetests and fuzzing run
/// single blocks. Errors: a state record smaller than the Env's slots, no
/// executable memory, or a block the JIT cannot compile.
pub fn run_once(
    env: &Env,
    block: &Block,
    state: &mut [u8],
    mem: &mut GuestMemory,
    helpers: &mut dyn Helpers,
) -> Result<Outcome, String> {
    if state.len() < env.state_size() as usize {
        return Err(format!("a {}-byte state record for {} bytes of slots", state.len(), env.state_size()));
    }
    let mut jit = Jit::new(1 << 20)?;
    let code = jit.compile(env, block, Setup::default()).map_err(|e| e.to_string())?;
    let table = vec![IND_EMPTY; IND_ENTRIES];
    let word = crate::abi::Interrupt::claim();
    let run = RunEnv { state, mem, helpers, budget: i64::MAX, ind_table: table.as_ptr(), interrupt: word.word() };
    // SAFETY: the state record covers every slot of the Env (checked
    // above), the code is fresh and the indirect table empty.
    let trampoline = *jit.trampoline().get().expect("a placed block has its trampoline");
    Ok(unsafe { trampoline.run(code.entry, run).0 })
}

impl Trampoline {
    /// Runs a compiled block (and whatever it links to) until control
    /// returns; gives the outcome, the budget left, and the link cell of an
    /// unlinked direct exit (0 for any other exit).
    ///
    /// # Safety
    /// The trampoline's Jit must be alive, `entry` the entry of one of its
    /// compiled blocks that has not been flushed, `env.state` the state
    /// record the block's Env describes, and `env.ind_table` must point at
    /// `IND_ENTRIES` entries whose code is not flushed either.
    pub unsafe fn run(self, entry: *const u8, env: RunEnv<'_>) -> (Outcome, i64, usize) {
        // Compiled stores rely on the host's protection of code pages.
        env.mem.settle_host_protection();
        let mut helpers: &mut dyn Helpers = env.helpers;
        let mut ctx = JitCtx {
            state: env.state.as_mut_ptr(),
            mem_base: env.mem.host_base(),
            mem_size: env.mem.size(),
            code_lines: env.mem.code_lines_ptr(),
            perms: env.mem.perms_ptr().unwrap_or(std::ptr::null()),
            mem: env.mem as *mut GuestMemory,
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
            budget: env.budget,
            stop: 0,
            _pad2: 0,
            banked: 0,
            ind_table: env.ind_table,
            interrupt: env.interrupt,
            exit_link: 0,
            replay_block: 0,
            entry_sp: 0,
        };
        // SAFETY: the caller's contract. The exit kinds are small: the
        // upper half is zero.
        let mut kind = unsafe { replay::enter(self.0, &mut ctx, entry) } as u32;
        if kind == runtime::EXIT_TRAPPED {
            // The block gives up: its budget back, and the interpreter runs it.
            ctx.budget += (ctx.replay_block >> replay::ADDR_BITS) as i64;
            ctx.exit_pc = ctx.replay_block & ((1 << replay::ADDR_BITS) - 1);
            kind = runtime::EXIT_REPLAY;
        }
        (ctx.outcome(kind), ctx.budget_left(), ctx.exit_link as usize)
    }
}
