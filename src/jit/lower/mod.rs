//! Lowering one V-ISA block to one Cranelift function.
//!
//! The function takes the `JitCtx` pointer and returns how it left. V-ISA
//! values become Cranelift values (`i1` as an `i8` holding 0 or 1, `v128` as
//! `i8x16`); state slots are loads and stores at their offsets, so the state
//! is exact at every trap; guest memory accesses are bounds-checked inline.
//! Common operations become native Cranelift instructions; float results
//! that are NaN, and the rare operations, go to the reference semantics.
//!
//! This file holds the lowering's state and entry points; its parts live
//! by concern in `state` (slot values and sunk stores), `exits` (leaving,
//! traps, the loop's back edge), `memory` (guest access checks), `calls`
//! (the runtime and float NaN rules) and `insts` (each V-ISA instruction).

use std::mem::offset_of;

use cranelift_codegen::ir::{
    self, AbiParam, Endianness, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, condcodes, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;

use super::reloc::{Runtime, Target};
use super::runtime::{
    self, EXIT_EXIT, EXIT_INDIRECT, EXIT_INTERPRET, EXIT_JUMP, EXIT_TRAP, EvalDesc, IndEntry, JitCtx,
};
use super::{access, replay};
use crate::visa::{Block, Env, FloatCC, Imm, Inst, IntCC, Opcode, Round, TrapCode, Type, Value};

mod calls;
mod consts;
mod exits;
mod fexc;
mod insts;
mod memory;
mod state;

/// The Cranelift type of a V-ISA type (lane shapes give their vector type).
pub fn cl_type(t: Type) -> ir::Type {
    match t {
        Type::I1 | Type::I8 => types::I8,
        Type::I16 => types::I16,
        Type::I32 => types::I32,
        Type::I64 => types::I64,
        Type::I128 => types::I128,
        Type::F32 => types::F32,
        Type::F64 => types::F64,
        Type::V128 | Type::I8x16 => types::I8X16,
        Type::I16x8 => types::I16X8,
        Type::I32x4 => types::I32X4,
        Type::I64x2 => types::I64X2,
        Type::F32x4 => types::F32X4,
        Type::F64x2 => types::F64X2,
    }
}

/// Flags of a guest memory access (bounds are checked before it).
fn little() -> MemFlagsData {
    MemFlagsData::new().with_notrap().with_endianness(Endianness::Little)
}

/// Flags of a guest load the host's page protection checks (`Setup::host_perms`).
fn little_faulting() -> MemFlagsData {
    MemFlagsData::new().with_trap_code(Some(replay::TRAP)).with_endianness(Endianness::Little)
}

/// Flags of a bitcast involving vectors (lane order is little-endian).
fn lanes_little() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// Loads a slot of type `ty` from the state record, which holds each slot
/// as a host value of its width: a vector as the host's u128 of its bits,
/// lane 0 in the low bits. On a little-endian host that is the vector's
/// own layout; on a big-endian one the u128 is loaded whole and its lanes
/// taken in little-endian order, as blocks (tail-call convention) number
/// them.
/// `flags`: the state record's (`Regions::state_flags`).
fn load_slot(
    b: &mut FunctionBuilder,
    big_endian: bool,
    flags: MemFlagsData,
    ty: ir::Type,
    state: ir::Value,
    offset: i32,
) -> ir::Value {
    if big_endian && ty.is_vector() {
        let bits = b.ins().load(types::I128, flags, state, offset);
        return b.ins().bitcast(ty, lanes_little(), bits);
    }
    b.ins().load(ty, flags, state, offset)
}

/// Stores `v` into a slot of the state record (see `load_slot`).
fn store_slot(
    b: &mut FunctionBuilder,
    big_endian: bool,
    flags: MemFlagsData,
    v: ir::Value,
    state: ir::Value,
    offset: i32,
) {
    let v = if big_endian && b.func.dfg.value_type(v).is_vector() {
        b.ins().bitcast(types::I128, lanes_little(), v)
    } else {
        v
    };
    b.ins().store(flags, v, state, offset);
}

/// Alias regions of the memory compiled code reaches most: guest memory
/// and the state record, disjoint from each other and from everything else
/// (the context, the maps, link cells), so that Cranelift may keep values
/// of the one across stores to the other, and see a store of a value just
/// loaded from the same place as no store.
#[derive(Clone, Copy)]
struct Regions {
    guest: ir::AliasRegion,
    state_flags: MemFlagsData,
}

impl Regions {
    fn new(b: &mut FunctionBuilder) -> Regions {
        let mut region = |user_id, description: &'static str| {
            b.func.dfg.alias_regions.insert(ir::AliasRegionData { user_id, description: description.into() })
        };
        let guest = region(0, "guest memory");
        let state = region(1, "state record");
        Regions { guest, state_flags: MemFlagsData::new().with_notrap().with_alias_region(Some(state)) }
    }
}

fn int_cc(cc: IntCC) -> condcodes::IntCC {
    use condcodes::IntCC as C;
    match cc {
        IntCC::Eq => C::Equal,
        IntCC::Ne => C::NotEqual,
        IntCC::Slt => C::SignedLessThan,
        IntCC::Sle => C::SignedLessThanOrEqual,
        IntCC::Sgt => C::SignedGreaterThan,
        IntCC::Sge => C::SignedGreaterThanOrEqual,
        IntCC::Ult => C::UnsignedLessThan,
        IntCC::Ule => C::UnsignedLessThanOrEqual,
        IntCC::Ugt => C::UnsignedGreaterThan,
        IntCC::Uge => C::UnsignedGreaterThanOrEqual,
    }
}

fn float_cc(cc: FloatCC) -> condcodes::FloatCC {
    use condcodes::FloatCC as C;
    match cc {
        FloatCC::Eq => C::Equal,
        FloatCC::Ne => C::NotEqual,
        FloatCC::Lt => C::LessThan,
        FloatCC::Le => C::LessThanOrEqual,
        FloatCC::Gt => C::GreaterThan,
        FloatCC::Ge => C::GreaterThanOrEqual,
        FloatCC::Ord => C::Ordered,
        FloatCC::Uno => C::Unordered,
        FloatCC::One => C::OrderedNotEqual,
        FloatCC::Ueq => C::UnorderedOrEqual,
        FloatCC::Ult => C::UnorderedOrLessThan,
        FloatCC::Ule => C::UnorderedOrLessThanOrEqual,
        FloatCC::Ugt => C::UnorderedOrGreaterThan,
        FloatCC::Uge => C::UnorderedOrGreaterThanOrEqual,
    }
}

/// Why a block cannot be compiled (it then stays interpreted).
#[derive(Debug)]
pub struct Unsupported(pub String);

pub(super) struct Lower<'a, 'f> {
    b: FunctionBuilder<'f>,
    block: &'a Block,
    env: &'a Env,
    vals: Vec<Option<ir::Value>>,
    ctx: ir::Value,
    state: ir::Value,
    mem_base: ir::Value,
    regions: Regions,
    mem_size: ir::Value,
    code_lines: ir::Value,
    /// The page-permission map, when memory has one.
    perms: Option<ir::Value>,
    /// Address of the engine's interrupt word (`abi::Interrupt`).
    interrupt: ir::Value,
    /// The current guest instruction and how many came before it.
    guest: u64,
    completed: u32,
    started: bool,
    /// A helper or atomic operation since the last marker may have modified code.
    stored: bool,
    /// Descriptors the compiled code points at; they live as long as it.
    /// Boxed: the code holds their addresses, which must not move.
    #[allow(clippy::vec_box)]
    pub descs: Vec<(u32, Box<EvalDesc>)>,
    /// The symbols the code refers to, each declared once.
    symbols: Vec<(Target, ir::GlobalValue)>,
    /// The runtime functions the code calls, each imported once.
    functions: Vec<(Target, ir::FuncRef)>,
    sig_eval: ir::SigRef,
    sig_call: ir::SigRef,
    sig_block: ir::SigRef,
    /// Guest instructions in the block.
    insts: u32,
    /// The link cells of the block's direct exits: when nonzero, the
    /// compiled successor to jump to.
    links: Setup<'a>,
    /// The target is big-endian (see `load_slot`).
    big_endian: bool,
    /// The block branches back to its own start, which is then the head of
    /// a loop inside this function: `body`, whose parameters carry the
    /// values of the `carried` slots around the loop in registers.
    loops: bool,
    body: ir::Block,
    carried: Vec<usize>,
    /// Slots the block writes before anything can observe them (no exit,
    /// trap or helper call comes first): the branch back need not store them.
    dead_at_start: Vec<bool>,
    /// Guest state written but not yet stored, by slot: stores are sunk to
    /// the paths that leave the block (and to helper calls), so a slot the
    /// block writes twice, or a flag the next instruction redefines, costs
    /// no store on the path that stays. `None` when slots overlap (then
    /// every set stores at once).
    pending: Option<Vec<Option<ir::Value>>>,
    /// Slots in `pending`, in the order first written.
    pending_order: Vec<usize>,
    /// By slot: its pending value is one that other instructions of the
    /// block read (see `side`).
    pending_read: Vec<bool>,
    /// By V-ISA value: some instruction other than a `set` reads it.
    read: Vec<bool>,
    /// Slot values known to equal the state in memory (carried slots the
    /// block only reads).
    known: Vec<Option<ir::Value>>,
    /// The instruction being lowered, whether each instruction's access is
    /// covered by an earlier one, the access group of each instruction,
    /// the groups, and whether each group's span was checked yet.
    at: usize,
    access_covered: Vec<bool>,
    /// By instruction: a failed check there may give up on the block for
    /// the interpreter to run it again (`access::replayable`).
    replayable: Vec<bool>,
    /// The store of the block's identity for the trap handler, and whether
    /// any check traps on the host (else the store goes).
    replay_store: Option<ir::Inst>,
    host_traps: bool,
    access_group: Vec<Option<usize>>,
    groups: Vec<access::Span>,
    /// From this instruction on, a slot's last write in the block is
    /// stored where it is made (`state::eager_from`); by instruction, a
    /// `set` that is its slot's last.
    eager_from: usize,
    last_set: Vec<bool>,
    group_checked: Vec<bool>,
    /// The shared tails used so far, by `exits::Tail`.
    tails: [Option<ir::Block>; exits::Tail::COUNT],
    consts: consts::Consts,
    /// What float exception tests have proven so far (`fexc`).
    proven: fexc::Proven,
}

/// What compiled code points at, which must live (unmoved) as long as it:
/// descriptors of operations done by the reference semantics (by the index
/// of their instruction), and the table of localized vector constants.
#[allow(clippy::vec_box)]
pub struct Referenced {
    pub descs: Vec<(u32, Box<EvalDesc>)>,
    pub consts: Box<[[u8; 16]]>,
}

impl Referenced {
    /// What code compiled from `block` points at, made again for code that
    /// was compiled elsewhere: the descriptors of the instructions `descs`
    /// lists (none if an index is out of the block), and the block's
    /// constant table.
    pub fn of(block: &Block, descs: impl Iterator<Item = u32>) -> Option<Referenced> {
        let mut made: Vec<(u32, Box<EvalDesc>)> = Vec::new();
        for at in descs {
            let inst = block.insts.get(at as usize)?;
            if !made.iter().any(|(i, _)| *i == at) {
                made.push((at, Box::new(calls::eval_desc(block, inst))));
            }
        }
        Some(Referenced { descs: made, consts: consts::Consts::new(block).table })
    }

    /// The address of a target the block owns.
    pub fn address(&self, target: Target) -> Option<u64> {
        match target {
            Target::Desc(at) => self.descs.iter().find(|(i, _)| *i == at).map(|(_, d)| &**d as *const EvalDesc as u64),
            Target::Consts if !self.consts.is_empty() => Some(self.consts.as_ptr() as u64),
            _ => None,
        }
    }
}

/// The state slots of a block that loops on itself.
struct LoopSlots {
    /// The slots it reads, to carry around the loop in registers. Slots it
    /// only writes (flags, mostly) are stored on the way round instead, so
    /// the exits need not store them before the block has written them.
    carried: Vec<usize>,
    /// The slots it writes anywhere.
    writes: Vec<bool>,
    /// The slots it writes before anything can observe the state (so they
    /// are dead when the loop comes back).
    dead: Vec<bool>,
}

fn loop_slots(env: &Env, block: &Block) -> LoopSlots {
    let n = env.slots.len();
    let (mut read, mut written) = (vec![false; n], vec![false; n]);
    for inst in &block.insts {
        match (inst.op, inst.imm) {
            (Opcode::Get, Imm::Slot(s)) if !written[s.0 as usize] => read[s.0 as usize] = true,
            (Opcode::Set, Imm::Slot(s)) if !read[s.0 as usize] => written[s.0 as usize] = true,
            (Opcode::Get | Opcode::Set | Opcode::Guest, _) => {}
            (op, _) if op.info().effects.is_pure() => {}
            _ => break,
        }
    }
    let dead = written;
    let (mut reads, mut writes) = (vec![false; n], vec![false; n]);
    for inst in &block.insts {
        match (inst.op, inst.imm) {
            (Opcode::Get, Imm::Slot(s)) => reads[s.0 as usize] = true,
            (Opcode::Set, Imm::Slot(s)) => writes[s.0 as usize] = true,
            _ => {}
        }
    }
    LoopSlots { carried: (0..n).filter(|s| reads[*s] && !dead[*s]).collect(), writes, dead }
}

/// By value: whether an instruction other than a `set` reads it.
fn read_values(block: &Block) -> Vec<bool> {
    let mut read = vec![false; block.types.len()];
    for inst in block.insts.iter().filter(|i| i.op != Opcode::Set) {
        for a in block.args(inst) {
            read[a.0 as usize] = true;
        }
    }
    read
}

/// How a block is compiled: the cells that link its direct exits, and
/// whether guest memory has page permissions to check.
#[derive(Clone, Copy, Debug, Default)]
pub struct Setup<'a> {
    /// Each direct target (side exits included) and the host address of
    /// its link cell; a target not listed exits to the dispatcher.
    pub cells: &'a [(u64, usize)],
    /// Guest memory has per-page permissions (user mode): every access
    /// checks them.
    pub protected: bool,
    /// Other threads share guest memory and the host orders memory more
    /// weakly than x86 (see `needs_tso_fences`): a fence follows every
    /// guest load and precedes every guest store, which keeps x86's order
    /// (no load or store passes an earlier load, no store an earlier store).
    pub tso: bool,
    /// The host protection of guest pages mirrors their permissions and
    /// code marks (`GuestMemory::mirrors`) and no other thread shares guest
    /// memory: a load or store that may give its block up
    /// (`access::replayable`) checks only its bounds, and the host's fault,
    /// if it comes, gives the block up.
    pub host_perms: bool,
}

/// Does code for this host architecture need fences to keep x86's memory
/// order among threads? x86-64 and s390x order accesses at least as x86
/// does; aarch64, riscv64 and the others do not.
pub fn needs_tso_fences(isa: &dyn cranelift_codegen::isa::TargetIsa) -> bool {
    !matches!(isa.name(), "x64" | "s390x")
}

/// True when no two state slots share a byte (so a pending write to one
/// never hides a write to another).
fn slots_disjoint(env: &Env) -> bool {
    let mut spans: Vec<(u32, u32)> = env.slots.iter().map(|s| (s.offset, s.offset + s.ty.bytes())).collect();
    spans.sort_unstable();
    spans.windows(2).all(|w| w[0].1 <= w[1].0)
}

/// Branches to `out` when `cond` is 1 or an interrupt is pending (the
/// word at `interrupt` nonzero), else goes on in a new block: two tests
/// and branches, cheaper than one branch on the two combined.
fn branch_if_spent(b: &mut FunctionBuilder, cond: ir::Value, interrupt: ir::Value, out: ir::Block) {
    let (check, go) = (b.create_block(), b.create_block());
    b.ins().brif(cond, out, &[], check, &[]);
    b.switch_to_block(check);
    // Not a readonly field: a signal handler sets it while blocks run.
    let word = b.ins().load(types::I32, MemFlagsData::trusted(), interrupt, 0);
    b.ins().brif(word, out, &[], go, &[]);
    b.switch_to_block(go);
}

/// The signature of a compiled block: context pointer in, exit kind out.
pub fn block_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

fn runtime_sig(call_conv: CallConv, params: usize, ret: bool) -> Signature {
    let mut sig = Signature::new(call_conv);
    for _ in 0..params {
        sig.params.push(AbiParam::new(types::I64));
    }
    if ret {
        sig.returns.push(AbiParam::new(types::I32));
    }
    sig
}

impl<'a, 'f> Lower<'a, 'f> {
    /// `call_conv` is the runtime functions' (the host's C convention);
    /// blocks themselves use the tail-call convention, so linked blocks jump
    /// to each other without growing the stack.
    pub fn new(
        mut b: FunctionBuilder<'f>,
        env: &'a Env,
        block: &'a Block,
        call_conv: CallConv,
        links: Setup<'a>,
        big_endian: bool,
    ) -> Lower<'a, 'f> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let ctx = b.block_params(entry)[0];
        let insts = block.guest_count() as u32;
        // Fields that stay the same while a block runs: loads Cranelift may
        // move to their uses, or drop when unused.
        let fixed = MemFlagsData::trusted().with_readonly().with_can_move();
        let field = |b: &mut FunctionBuilder, off: usize| b.ins().load(types::I64, fixed, ctx, off as i32);
        let state = field(&mut b, offset_of!(JitCtx, state));
        let mem_base = field(&mut b, offset_of!(JitCtx, mem_base));
        let mem_size = field(&mut b, offset_of!(JitCtx, mem_size));
        let code_lines = field(&mut b, offset_of!(JitCtx, code_lines));
        let perms = links.protected.then(|| field(&mut b, offset_of!(JitCtx, perms)));
        let interrupt = field(&mut b, offset_of!(JitCtx, interrupt));
        // Pay for the block's instructions up front; if the budget cannot
        // pay for all of them (the dispatcher then runs a shorter
        // translation, so budgets end exactly), the runtime asked for a stop
        // (which zeroes it), or an interrupt is pending, leave before doing
        // anything.
        let budget = b.ins().load(types::I64, MemFlagsData::trusted(), ctx, offset_of!(JitCtx, budget) as i32);
        let left = b.ins().iadd_imm_s(budget, -(insts as i64));
        let short = b.ins().icmp_imm_s(condcodes::IntCC::SignedLessThan, left, 0);
        let out = b.create_block();
        b.set_cold_block(out);
        branch_if_spent(&mut b, short, interrupt, out);
        let go = b.current_block().expect("a block to go on in");
        b.switch_to_block(out);
        let pc = b.ins().iconst(types::I64, block.addr as i64);
        b.ins().store(MemFlagsData::trusted(), pc, ctx, offset_of!(JitCtx, exit_pc) as i32);
        let kind = b.ins().iconst(types::I32, EXIT_JUMP as i64);
        b.ins().return_(&[kind]);
        b.switch_to_block(go);
        b.ins().store(MemFlagsData::trusted(), left, ctx, offset_of!(JitCtx, budget) as i32);
        // The body, where a branch back to the block's start comes, with
        // the carried slots' values from the state as it starts.
        let pending = slots_disjoint(env).then(|| vec![None; env.slots.len()]);
        let loops = block.insts.iter().flat_map(|i| i.direct_targets()).any(|t| t == block.addr)
            && links.cells.iter().any(|(t, _)| *t == block.addr);
        let LoopSlots { carried, writes, dead: dead_at_start } = if loops && pending.is_some() {
            loop_slots(env, block)
        } else {
            let none = vec![false; env.slots.len()];
            LoopSlots { carried: Vec::new(), writes: none.clone(), dead: none }
        };
        let accesses = access::accesses(block);
        let access_covered = access::covered(&accesses);
        // Giving up for the interpreter to run the block again needs the
        // state as the block (or the loop's round) found it: writes
        // pending, and in a loop every write stored at the branch back
        // (`back_edge`), so that each round starts from the state record.
        let identified = block.addr >> replay::ADDR_BITS == 0 && insts >> (64 - replay::ADDR_BITS) == 0;
        let replayable = if links.protected && pending.is_some() && identified {
            access::replayable(block, &accesses)
        } else {
            vec![false; block.insts.len()]
        };
        // For the trap handler: the block to give up on (`replay`); taken
        // out again if no check traps on the host after all (`finish`).
        let replay_store = (replay::SUPPORTED && replayable.contains(&true)).then(|| {
            let id = (insts as u64) << replay::ADDR_BITS | block.addr;
            let id = b.ins().iconst(types::I64, id as i64);
            b.ins().store(MemFlagsData::trusted(), id, ctx, offset_of!(JitCtx, replay_block) as i32)
        });
        // Only with page permissions: there the span check replaces two
        // page lookups per access.
        let (access_group, groups) =
            if links.protected { access::groups(&accesses) } else { (vec![None; block.insts.len()], Vec::new()) };
        let eager_from = state::eager_from(block, &access_covered, &access_group, &replayable);
        let regions = Regions::new(&mut b);
        let body = b.create_block();
        let mut initial = Vec::new();
        for s in &carried {
            let decl = &env.slots[*s];
            b.append_block_param(body, cl_type(decl.ty));
            initial.push(load_slot(
                &mut b,
                big_endian,
                regions.state_flags,
                cl_type(decl.ty),
                state,
                decl.offset as i32,
            ));
        }
        let initial: Vec<ir::BlockArg> = initial.into_iter().map(ir::BlockArg::Value).collect();
        b.ins().jump(body, &initial);
        b.switch_to_block(body);
        let sig_eval = b.import_signature(runtime_sig(call_conv, 4, true));
        let sig_call = b.import_signature(runtime_sig(call_conv, 5, true));
        let sig_block = b.import_signature(block_signature(CallConv::Tail));
        let proven = fexc::Proven::new(block);
        let mut l = Lower {
            b,
            block,
            env,
            vals: vec![None; block.types.len()],
            ctx,
            state,
            mem_base,
            regions,
            mem_size,
            code_lines,
            perms,
            interrupt,
            guest: block.addr,
            completed: 0,
            started: false,
            stored: false,
            descs: Vec::new(),
            symbols: Vec::new(),
            functions: Vec::new(),
            sig_eval,
            sig_call,
            sig_block,
            insts,
            links,
            big_endian,
            loops,
            body,
            carried,
            dead_at_start,
            pending,
            pending_order: Vec::new(),
            pending_read: vec![false; env.slots.len()],
            read: read_values(block),
            known: vec![None; env.slots.len()],
            at: 0,
            access_covered,
            replayable,
            replay_store,
            host_traps: false,
            eager_from,
            last_set: state::last_sets(block),
            access_group,
            group_checked: vec![false; groups.len()],
            groups,
            tails: [None; exits::Tail::COUNT],
            consts: consts::Consts::new(block),
            proven,
        };
        l.start_body(&writes);
        l
    }

    pub fn finish(mut self, config: cranelift_codegen::isa::TargetFrontendConfig) -> Referenced {
        if let Some(store) = self.replay_store.filter(|_| !self.host_traps) {
            self.b.func.layout.remove_inst(store);
        }
        self.fill_tails();
        self.b.seal_all_blocks();
        self.b.finalize(config);
        Referenced { descs: self.descs, consts: self.consts.table }
    }

    fn val(&self, v: Value) -> ir::Value {
        self.vals[v.0 as usize].expect("operands are defined before use")
    }

    fn iconst(&mut self, ty: ir::Type, v: i64) -> ir::Value {
        self.b.ins().iconst(ty, v)
    }

    fn ctx_store(&mut self, ty: ir::Type, v: ir::Value, off: usize) {
        let v = if self.b.func.dfg.value_type(v) == ty { v } else { self.b.ins().ireduce(ty, v) };
        self.b.ins().store(MemFlagsData::trusted(), v, self.ctx, off as i32);
    }

    fn ctx_store_const(&mut self, ty: ir::Type, v: u64, off: usize) {
        let k = self.iconst(ty, v as i64);
        self.b.ins().store(MemFlagsData::trusted(), k, self.ctx, off as i32);
    }

    /// Zero-extends or truncates an integer to `ty` (or leaves it).
    fn resize(&mut self, v: ir::Value, ty: ir::Type) -> ir::Value {
        let from = self.b.func.dfg.value_type(v);
        match from.bits().cmp(&ty.bits()) {
            std::cmp::Ordering::Less => self.b.ins().uextend(ty, v),
            std::cmp::Ordering::Greater => self.b.ins().ireduce(ty, v),
            std::cmp::Ordering::Equal => v,
        }
    }

    fn vec_as(&mut self, v: ir::Value, shape: Type) -> ir::Value {
        let ty = cl_type(shape);
        if self.b.func.dfg.value_type(v) == ty { v } else { self.b.ins().bitcast(ty, lanes_little(), v) }
    }

    fn vec_out(&mut self, v: ir::Value) -> ir::Value {
        if self.b.func.dfg.value_type(v) == types::I8X16 {
            v
        } else {
            self.b.ins().bitcast(types::I8X16, lanes_little(), v)
        }
    }

    /// Lowers every instruction.
    pub fn lower(&mut self) -> Result<(), Unsupported> {
        let block = self.block;
        for (at, inst) in block.insts.iter().enumerate() {
            self.at = at;
            if at == self.eager_from {
                self.store_pending_now();
            }
            // On the path that stays, before anything can branch off it.
            self.settle_pending();
            let args: Vec<ir::Value> = block.args(inst).iter().map(|a| self.operand(*a)).collect();
            let results = self.inst(inst, &args)?;
            for (v, r) in inst.results().zip(results) {
                self.vals[v.0 as usize] = Some(r);
            }
            self.note_proven(inst);
        }
        Ok(())
    }
}
