//! Lowering one V-ISA block to one Cranelift function.
//!
//! The function takes the `JitCtx` pointer and returns how it left. V-ISA
//! values become Cranelift values (`i1` as an `i8` holding 0 or 1, `v128` as
//! `i8x16`); state slots are loads and stores at their offsets, so the state
//! is exact at every trap; guest memory accesses are bounds-checked inline.
//! Common operations become native Cranelift instructions; float results
//! that are NaN, and the rare operations, go to the reference semantics.

use std::mem::offset_of;

use cranelift_codegen::ir::{
    self, AbiParam, Endianness, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, condcodes, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;

use super::access;
use super::runtime::{self, EXIT_EXIT, EXIT_INDIRECT, EXIT_JUMP, EXIT_TRAP, EvalDesc, IND_ENTRIES, IndEntry, JitCtx};
use crate::visa::{Block, Env, FloatCC, Imm, Inst, IntCC, Opcode, Round, TrapCode, Type, Value};

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

/// Flags of a bitcast involving vectors (lane order is little-endian).
fn lanes_little() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
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
    /// Nonzero when a store since the last marker modified code.
    modified: Option<ir::Value>,
    /// Descriptors the compiled code points at; they live as long as it.
    /// Boxed: the code holds their addresses, which must not move.
    #[allow(clippy::vec_box)]
    pub descs: Vec<Box<EvalDesc>>,
    sig_eval: ir::SigRef,
    sig_call: ir::SigRef,
    sig_code_write: ir::SigRef,
    sig_block: ir::SigRef,
    /// Guest instructions in the block.
    insts: u32,
    /// The link cells of the block's direct exits: when nonzero, the
    /// compiled successor to jump to.
    links: Setup<'a>,
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
    /// Slot values known to equal the state in memory (carried slots the
    /// block only reads).
    known: Vec<Option<ir::Value>>,
    /// The instruction being lowered, the access group of each instruction,
    /// the groups, and for each group whose span was checked the result.
    at: usize,
    access_group: Vec<Option<usize>>,
    groups: Vec<access::Group>,
    group_ok: Vec<Option<ir::Value>>,
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
}

/// True when no two state slots share a byte (so a pending write to one
/// never hides a write to another).
fn slots_disjoint(env: &Env) -> bool {
    let mut spans: Vec<(u32, u32)> = env.slots.iter().map(|s| (s.offset, s.offset + s.ty.bytes())).collect();
    spans.sort_unstable();
    spans.windows(2).all(|w| w[0].1 <= w[1].0)
}

/// `cond`, or an interrupt pending (the word at `interrupt` nonzero).
fn or_interrupted(b: &mut FunctionBuilder, cond: ir::Value, interrupt: ir::Value) -> ir::Value {
    // Not a readonly field: a signal handler sets it while blocks run.
    let word = b.ins().load(types::I32, MemFlagsData::trusted(), interrupt, 0);
    let pending = b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, word, 0);
    b.ins().bor(cond, pending)
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
        let spent = or_interrupted(&mut b, short, interrupt);
        let (out, go) = (b.create_block(), b.create_block());
        b.set_cold_block(out);
        b.ins().brif(spent, out, &[], go, &[]);
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
        // Only with page permissions: there the span check replaces two
        // page lookups per access.
        let (access_group, groups) =
            if links.protected { access::groups(block) } else { (vec![None; block.insts.len()], Vec::new()) };
        let body = b.create_block();
        let mut initial = Vec::new();
        for s in &carried {
            let decl = &env.slots[*s];
            b.append_block_param(body, cl_type(decl.ty));
            initial.push(b.ins().load(cl_type(decl.ty), MemFlagsData::new().with_notrap(), state, decl.offset as i32));
        }
        let initial: Vec<ir::BlockArg> = initial.into_iter().map(ir::BlockArg::Value).collect();
        b.ins().jump(body, &initial);
        b.switch_to_block(body);
        let sig_eval = b.import_signature(runtime_sig(call_conv, 4, true));
        let sig_call = b.import_signature(runtime_sig(call_conv, 5, true));
        let sig_code_write = b.import_signature(runtime_sig(call_conv, 3, true));
        let sig_block = b.import_signature(block_signature(CallConv::Tail));
        let mut l = Lower {
            b,
            block,
            env,
            vals: vec![None; block.types.len()],
            ctx,
            state,
            mem_base,
            mem_size,
            code_lines,
            perms,
            interrupt,
            guest: block.addr,
            completed: 0,
            started: false,
            stored: false,
            modified: None,
            descs: Vec::new(),
            sig_eval,
            sig_call,
            sig_code_write,
            sig_block,
            insts,
            links,
            loops,
            body,
            carried,
            dead_at_start,
            pending,
            pending_order: Vec::new(),
            known: vec![None; env.slots.len()],
            at: 0,
            access_group,
            group_ok: vec![None; groups.len()],
            groups,
        };
        l.start_body(&writes);
        l
    }

    /// At the body's start the carried slots hold its parameters: pending
    /// (to be stored on the way out) for slots the block writes, known
    /// equal to the state for the others.
    fn start_body(&mut self, writes: &[bool]) {
        let params = self.b.block_params(self.body).to_vec();
        for (s, v) in self.carried.clone().into_iter().zip(params) {
            match self.pending.as_mut() {
                Some(pending) if writes[s] => {
                    pending[s] = Some(v);
                    self.pending_order.push(s);
                }
                _ => self.known[s] = Some(v),
            }
        }
    }

    /// The current value of a slot, loaded if the function has not got it.
    fn slot_value(&mut self, s: usize) -> ir::Value {
        if let Some(v) = self.pending.as_ref().and_then(|p| p[s]).or(self.known[s]) {
            return v;
        }
        // The state record need not be aligned (a filetest's is a byte buffer).
        let decl = &self.env.slots[s];
        self.b.ins().load(cl_type(decl.ty), MemFlagsData::new().with_notrap(), self.state, decl.offset as i32)
    }

    /// The branch back to the block's start, having run `executed` of its
    /// instructions: when the budget pays for another whole round (and no
    /// interrupt is pending), the carried slots go round in registers and
    /// only the other live writes are stored; else the block leaves with
    /// the state exact.
    fn back_edge(&mut self, executed: u32) {
        let off = offset_of!(JitCtx, budget) as i32;
        // The budget holds what is left after paying for the whole round;
        // this round ran `executed`, so `budget + insts - executed` is left,
        // and another round leaves `budget - executed`.
        let budget = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, off);
        let again = self.b.ins().iadd_imm_s(budget, -(executed as i64));
        let short = self.b.ins().icmp_imm_s(condcodes::IntCC::SignedLessThan, again, 0);
        let spent = or_interrupted(&mut self.b, short, self.interrupt);
        self.side(spent, |l| {
            let left = l.b.ins().iadd_imm_s(budget, l.insts as i64 - executed as i64);
            l.b.ins().store(MemFlagsData::trusted(), left, l.ctx, off);
            let pc = l.iconst(types::I64, l.block.addr as i64);
            l.exit_jump(EXIT_JUMP, pc);
        });
        self.b.ins().store(MemFlagsData::trusted(), again, self.ctx, off);
        let args: Vec<ir::Value> = self.carried.clone().into_iter().map(|s| self.slot_value(s)).collect();
        let mut skip = self.dead_at_start.clone();
        self.carried.iter().for_each(|s| skip[*s] = true);
        self.store_pending_except(&skip);
        let args: Vec<ir::BlockArg> = args.into_iter().map(ir::BlockArg::Value).collect();
        self.b.ins().jump(self.body, &args);
    }

    /// Leaves for `target` having run `executed` of the block's instructions.
    fn leave(&mut self, executed: u32, target: u64) {
        if self.loops && target == self.block.addr {
            return self.back_edge(executed);
        }
        self.refund(executed);
        self.exit_direct(target);
    }

    /// Stores every pending state write (on a path that leaves the block,
    /// or before a helper call); they stay pending for the path that goes on.
    fn store_pending(&mut self) {
        self.store_pending_except(&[]);
    }

    /// Stores the pending writes of the slots `skip` does not mark.
    fn store_pending_except(&mut self, skip: &[bool]) {
        let Some(pending) = &self.pending else { return };
        let writes: Vec<(usize, ir::Value)> = self
            .pending_order
            .iter()
            .filter(|s| !skip.get(**s).copied().unwrap_or(false))
            .filter_map(|s| pending[*s].map(|v| (*s, v)))
            .collect();
        for (s, v) in writes {
            let offset = self.env.slots[s].offset as i32;
            self.b.ins().store(MemFlagsData::new().with_notrap(), v, self.state, offset);
        }
    }

    #[allow(clippy::vec_box)]
    pub fn finish(mut self, config: cranelift_codegen::isa::TargetFrontendConfig) -> Vec<Box<EvalDesc>> {
        self.b.seal_all_blocks();
        self.b.finalize(config);
        self.descs
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

    fn ret(&mut self, kind: u32) {
        self.store_pending();
        let k = self.iconst(types::I32, kind as i64);
        self.b.ins().return_(&[k]);
    }

    /// Continues in a new block when `cond` is 0; runs `cold` (which must end
    /// the function) when it is 1.
    fn side(&mut self, cond: ir::Value, cold: impl FnOnce(&mut Self)) {
        let (cold_block, next) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(cold_block);
        self.b.ins().brif(cond, cold_block, &[], next, &[]);
        self.b.switch_to_block(cold_block);
        cold(self);
        self.b.switch_to_block(next);
    }

    /// Gives back the budget of the block's instructions that will not run
    /// when it leaves having run `executed` of them.
    fn refund(&mut self, executed: u32) {
        let unused = self.insts.saturating_sub(executed);
        if unused > 0 {
            let off = offset_of!(JitCtx, budget) as i32;
            let b = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, off);
            let b = self.b.ins().iadd_imm_s(b, unused as i64);
            self.b.ins().store(MemFlagsData::trusted(), b, self.ctx, off);
        }
    }

    /// Guest instructions run when the current one completes.
    fn through_current(&self) -> u32 {
        if self.started { self.completed + 1 } else { 0 }
    }

    /// Leaves for a known guest address: straight into its compiled block
    /// when the link cell holds one, else back to the dispatcher.
    fn exit_direct(&mut self, target: u64) {
        let cell = self.links.cells.iter().find(|(t, _)| *t == target).map_or(0, |(_, c)| *c);
        let pc = self.iconst(types::I64, target as i64);
        if cell == 0 {
            return self.exit_jump(EXIT_JUMP, pc);
        }
        let cell_addr = self.iconst(types::I64, cell as i64);
        let next = self.b.ins().load(types::I64, MemFlagsData::new().with_notrap(), cell_addr, 0);
        let (linked, unlinked) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(next, linked, &[], unlinked, &[]);
        self.b.switch_to_block(linked);
        self.store_pending();
        let sig = self.sig_block;
        self.b.ins().return_call_indirect(sig, next, &[self.ctx]);
        self.b.switch_to_block(unlinked);
        self.ctx_store(types::I64, cell_addr, offset_of!(JitCtx, exit_link));
        self.exit_jump(EXIT_JUMP, pc);
    }

    /// Leaves for a computed guest address: through the indirect-jump table
    /// when it knows the address, else back to the dispatcher.
    fn exit_indirect(&mut self, target: ir::Value) {
        let off = offset_of!(JitCtx, ind_table) as i32;
        let table = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, off);
        let hi = self.b.ins().ushr_imm_u(target, runtime::IND_HASH_SHIFT as i64);
        let mixed = self.b.ins().bxor(target, hi);
        let slot = self.b.ins().band_imm_u(mixed, IND_ENTRIES as i64 - 1);
        let scaled = self.b.ins().imul_imm_u(slot, std::mem::size_of::<IndEntry>() as i64);
        let entry = self.b.ins().iadd(table, scaled);
        let flags = MemFlagsData::new().with_notrap();
        let guest = self.b.ins().load(types::I64, flags, entry, offset_of!(IndEntry, guest) as i32);
        let code = self.b.ins().load(types::I64, flags, entry, offset_of!(IndEntry, code) as i32);
        // Any address can be a guest's, so an empty entry is told by its code.
        let same = self.b.ins().icmp(condcodes::IntCC::Equal, guest, target);
        let filled = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, code, 0);
        let hit = self.b.ins().band(same, filled);
        let (linked, unlinked) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(hit, linked, &[], unlinked, &[]);
        self.b.switch_to_block(linked);
        self.store_pending();
        let sig = self.sig_block;
        self.b.ins().return_call_indirect(sig, code, &[self.ctx]);
        self.b.switch_to_block(unlinked);
        self.exit_jump(EXIT_INDIRECT, target);
    }

    /// Reports a trap at the current guest instruction and returns.
    fn trap_now(&mut self, code: Option<TrapCode>, dynamic_code: Option<ir::Value>, fault_addr: Option<ir::Value>) {
        if let Some(code) = code {
            self.ctx_store_const(types::I32, code.code() as u64, offset_of!(JitCtx, trap_code));
        }
        if let Some(c) = dynamic_code {
            self.ctx_store(types::I32, c, offset_of!(JitCtx, trap_code));
        }
        self.ctx_store_const(types::I64, self.guest, offset_of!(JitCtx, trap_guest));
        self.ctx_store_const(types::I32, self.completed as u64, offset_of!(JitCtx, trap_completed));
        match fault_addr {
            Some(a) => {
                self.ctx_store(types::I64, a, offset_of!(JitCtx, trap_addr));
                self.ctx_store_const(types::I32, 1, offset_of!(JitCtx, has_trap_addr));
            }
            // A runtime function that trapped has set the address itself.
            None if dynamic_code.is_some() => {}
            None => self.ctx_store_const(types::I32, 0, offset_of!(JitCtx, has_trap_addr)),
        }
        self.refund(self.completed);
        self.ret(EXIT_TRAP);
    }

    fn trap_if(&mut self, cond: ir::Value, code: TrapCode, fault_addr: Option<ir::Value>) {
        self.side(cond, |l| l.trap_now(Some(code), None, fault_addr));
    }

    fn exit_jump(&mut self, kind: u32, pc: ir::Value) {
        self.ctx_store(types::I64, pc, offset_of!(JitCtx, exit_pc));
        self.ret(kind);
    }

    /// A value of any V-ISA type as the u128 bits the runtime works on.
    fn bits_of(&mut self, v: ir::Value) -> ir::Value {
        let ty = self.b.func.dfg.value_type(v);
        let int = match ty {
            types::F32 => self.b.ins().bitcast(types::I32, MemFlagsData::new(), v),
            types::F64 => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            t if t.is_vector() => return self.b.ins().bitcast(types::I128, lanes_little(), v),
            _ => v,
        };
        if self.b.func.dfg.value_type(int) == types::I128 { int } else { self.b.ins().uextend(types::I128, int) }
    }

    fn of_bits(&mut self, bits: ir::Value, t: Type) -> ir::Value {
        match t {
            Type::I128 => bits,
            Type::F32 => {
                let i = self.b.ins().ireduce(types::I32, bits);
                self.b.ins().bitcast(types::F32, MemFlagsData::new(), i)
            }
            Type::F64 => {
                let i = self.b.ins().ireduce(types::I64, bits);
                self.b.ins().bitcast(types::F64, MemFlagsData::new(), i)
            }
            t if t.bits() == 128 => self.b.ins().bitcast(types::I8X16, lanes_little(), bits),
            t => self.b.ins().ireduce(cl_type(t), bits),
        }
    }

    /// Calls a runtime function with a buffer of u128 operands and results;
    /// a nonzero status traps with code `status - 1`.
    fn runtime_call(
        &mut self,
        f: usize,
        sig: ir::SigRef,
        lead: &[ir::Value],
        args: &[ir::Value],
        results: &[Type],
        tail: &[ir::Value],
    ) -> Vec<ir::Value> {
        let n = (args.len() + results.len()).max(1) as u32;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16 * n, 4));
        for (i, a) in args.iter().enumerate() {
            let bits = self.bits_of(*a);
            self.b.ins().stack_store(types::I64, bits, slot, 16 * i as i32);
        }
        let args_ptr = self.b.ins().stack_addr(types::I64, slot, 0);
        let res_ptr = self.b.ins().stack_addr(types::I64, slot, 16 * args.len() as i32);
        let callee = self.iconst(types::I64, f as i64);
        let mut call_args = vec![self.ctx];
        call_args.extend_from_slice(lead);
        call_args.extend([args_ptr, res_ptr]);
        call_args.extend_from_slice(tail);
        let call = self.b.ins().call_indirect(sig, callee, &call_args);
        let st = self.b.inst_results(call)[0];
        let one = self.iconst(types::I32, 1);
        let code = self.b.ins().isub(st, one);
        self.side(st, |l| l.trap_now(None, Some(code), None));
        results
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let bits = self.b.ins().stack_load(types::I64, types::I128, slot, 16 * (args.len() + i) as i32);
                self.of_bits(bits, *t)
            })
            .collect()
    }

    /// The operation by the reference semantics.
    fn eval(&mut self, inst: &Inst, args: &[ir::Value]) -> Vec<ir::Value> {
        self.eval_with(inst, args, runtime::rt_eval as *const () as usize)
    }

    fn eval_with(&mut self, inst: &Inst, args: &[ir::Value], f: usize) -> Vec<ir::Value> {
        let block = self.block;
        let results: Vec<Type> = inst.results().map(|v| block.value_type(v)).collect();
        let desc = Box::new(EvalDesc {
            op: inst.op,
            ty: inst.ty,
            imm: inst.imm,
            arg_types: block.args(inst).iter().map(|a| block.value_type(*a)).collect(),
            results: results.len(),
        });
        let desc_ptr = self.iconst(types::I64, &*desc as *const EvalDesc as i64);
        self.descs.push(desc);
        let sig = self.sig_eval;
        self.runtime_call(f, sig, &[desc_ptr], args, &results, &[])
    }

    /// A float result, redone by the reference semantics when it is NaN (so
    /// NaN propagation is the V-ISA's on every host).
    fn float_checked(&mut self, inst: &Inst, args: &[ir::Value], r: ir::Value) -> ir::Value {
        let ty = self.b.func.dfg.value_type(r);
        let nan = if ty.is_vector() {
            let lanes = self.b.ins().fcmp(condcodes::FloatCC::Unordered, r, r);
            self.b.ins().vany_true(lanes)
        } else {
            self.b.ins().fcmp(condcodes::FloatCC::Unordered, r, r)
        };
        let (slow, join) = (self.b.create_block(), self.b.create_block());
        let out = self.b.append_block_param(join, ty);
        self.b.set_cold_block(slow);
        self.b.ins().brif(nan, slow, &[], join, &[ir::BlockArg::Value(r)]);
        self.b.switch_to_block(slow);
        let exact = self.eval(inst, args)[0];
        let exact = if ty.is_vector() && self.b.func.dfg.value_type(exact) != ty {
            self.b.ins().bitcast(ty, lanes_little(), exact)
        } else {
            exact
        };
        self.b.ins().jump(join, &[ir::BlockArg::Value(exact)]);
        self.b.switch_to_block(join);
        out
    }

    /// An arithmetic float result (add, sub, mul, div, sqrt: scalar or
    /// lane-wise) with x86's NaN rule applied inline when it is NaN: the
    /// first NaN operand made quiet, else the default NaN.
    fn float_arith(&mut self, args: &[ir::Value], r: ir::Value) -> ir::Value {
        let ty = self.b.func.dfg.value_type(r);
        let lane = ty.lane_type();
        let bits = lane.bits();
        let ity =
            if ty.is_vector() { lane.as_int().by(ty.lane_count()).expect("a vector type") } else { lane.as_int() };
        let nan_in = |b: &mut FunctionBuilder, v: ir::Value| b.ins().fcmp(condcodes::FloatCC::Unordered, v, v);
        let any = nan_in(&mut self.b, r);
        let any = if ty.is_vector() { self.b.ins().vany_true(any) } else { any };
        let (fix, join) = (self.b.create_block(), self.b.create_block());
        let out = self.b.append_block_param(join, ty);
        self.b.set_cold_block(fix);
        self.b.ins().brif(any, fix, &[], join, &[ir::BlockArg::Value(r)]);
        self.b.switch_to_block(fix);
        let flags = lanes_little();
        let as_int = |b: &mut FunctionBuilder, v: ir::Value| b.ins().bitcast(ity, flags, v);
        let constant = |b: &mut FunctionBuilder, v: u128| {
            let k = b.ins().iconst(lane.as_int(), v as i64);
            if ty.is_vector() { b.ins().splat(ity, k) } else { k }
        };
        // Picks `x` where `nan` (a lane mask, or a flag) is set, else `y`.
        let pick = |b: &mut FunctionBuilder, nan: ir::Value, x: ir::Value, y: ir::Value| {
            if ty.is_vector() {
                let mask = b.ins().bitcast(ity, flags, nan);
                b.ins().bitselect(mask, x, y)
            } else {
                b.ins().select(nan, x, y)
            }
        };
        let default = constant(&mut self.b, crate::visa::eval::default_nan(bits));
        let quiet_bit = constant(&mut self.b, crate::visa::eval::quiet(0, bits));
        let computed = as_int(&mut self.b, r);
        let r_nan = nan_in(&mut self.b, r);
        let mut fixed = pick(&mut self.b, r_nan, default, computed);
        // The last operand first, so that the first NaN operand wins.
        for &arg in args.iter().rev() {
            let nan = nan_in(&mut self.b, arg);
            let a = as_int(&mut self.b, arg);
            let quiet = self.b.ins().bor(a, quiet_bit);
            fixed = pick(&mut self.b, nan, quiet, fixed);
        }
        let fixed = self.b.ins().bitcast(ty, flags, fixed);
        self.b.ins().jump(join, &[ir::BlockArg::Value(fixed)]);
        self.b.switch_to_block(join);
        out
    }

    /// The bytes of a map with one byte per `1 << shift` guest bytes for the
    /// first and last byte of an access: (AND, OR) of the two (one load
    /// when the access is a single byte).
    fn map_bytes(&mut self, map: ir::Value, addr: ir::Value, size: u32, shift: u32) -> (ir::Value, ir::Value) {
        let flags = MemFlagsData::new().with_notrap();
        let first = self.b.ins().ushr_imm_u(addr, shift as i64);
        let p0 = self.b.ins().iadd(map, first);
        let f0 = self.b.ins().load(types::I8, flags, p0, 0);
        if size == 1 {
            return (f0, f0);
        }
        let last_byte = self.b.ins().iadd_imm_s(addr, size as i64 - 1);
        let last = self.b.ins().ushr_imm_u(last_byte, shift as i64);
        let p1 = self.b.ins().iadd(map, last);
        let f1 = self.b.ins().load(types::I8, flags, p1, 0);
        (self.b.ins().band(f0, f1), self.b.ins().bor(f0, f1))
    }

    /// Checks a guest access and returns its host address. With page
    /// permissions, a store to a page holding translated code takes the
    /// slow path that records code writes; without, the code-line map says.
    fn guest_address(&mut self, addr: ir::Value, size: u32, aligned: bool, write: bool) -> ir::Value {
        if aligned && size > 1 {
            let low = self.b.ins().band_imm_u(addr, (size - 1) as i64);
            self.trap_if(low, TrapCode::Misaligned, Some(addr));
        }
        let hit = match self.access_group[self.at] {
            Some(g) => {
                // When the group's span passed, no check; else this access's own.
                let ok = self.group_check(g);
                let (slow, join) = (self.b.create_block(), self.b.create_block());
                let hit = self.b.append_block_param(join, types::I32);
                let zero = self.iconst(types::I32, 0);
                self.b.set_cold_block(slow);
                self.b.ins().brif(ok, join, &[ir::BlockArg::Value(zero)], slow, &[]);
                self.b.switch_to_block(slow);
                let slow_hit = self.check_access(addr, size, write).unwrap_or(zero);
                self.b.ins().jump(join, &[ir::BlockArg::Value(slow_hit)]);
                self.b.switch_to_block(join);
                write.then_some(hit)
            }
            None => self.check_access(addr, size, write),
        };
        if let Some(hit) = hit {
            self.modified = Some(match self.modified {
                Some(m) => self.b.ins().bor(m, hit),
                None => hit,
            });
        }
        self.b.ins().iadd(self.mem_base, addr)
    }

    /// Whether every access of a group is in bounds, allowed, and (for a
    /// group that stores) on pages without translated code: checked at the
    /// group's first access, which dominates the others.
    fn group_check(&mut self, g: usize) -> ir::Value {
        if let Some(ok) = self.group_ok[g] {
            return ok;
        }
        let group = self.groups[g];
        let perms = self.perms.expect("groups only with page permissions");
        let base = match group.base {
            Some(v) => self.val(v),
            None => self.iconst(types::I64, 0),
        };
        // In bounds, without wrapping: the first byte at most `span` below
        // the end of memory (when memory is larger than the span).
        let span = (group.hi - group.lo - 1) as i64;
        let first = self.b.ins().iadd_imm_s(base, group.lo as i64);
        let limit = self.b.ins().iadd_imm_s(self.mem_size, -1 - span);
        let below = self.b.ins().icmp(condcodes::IntCC::UnsignedLessThanOrEqual, first, limit);
        let large = self.b.ins().icmp_imm_u(condcodes::IntCC::UnsignedGreaterThan, self.mem_size, span);
        let inside = self.b.ins().band(below, large);
        let (pages, join) = (self.b.create_block(), self.b.create_block());
        let ok = self.b.append_block_param(join, types::I8);
        let no = self.iconst(types::I8, 0);
        self.b.ins().brif(inside, pages, &[], join, &[ir::BlockArg::Value(no)]);
        self.b.switch_to_block(pages);
        // Both pages allow every access (and hold no translated code, for
        // a group that stores): no bit of `need` missing, no code bit.
        let last = self.b.ins().iadd_imm_s(first, span);
        let flags = MemFlagsData::new().with_notrap();
        let mut page = |at: ir::Value| {
            let index = self.b.ins().ushr_imm_u(at, crate::machine::PAGE_SHIFT as i64);
            let p = self.b.ins().iadd(perms, index);
            self.b.ins().load(types::I8, flags, p, 0)
        };
        let (p0, p1) = (page(first), page(last));
        let both = self.b.ins().band(p0, p1);
        let need = if group.write { crate::machine::PERM_R | crate::machine::PERM_W } else { crate::machine::PERM_R };
        let mut bad = self.b.ins().band_imm_u(both, need as i64);
        bad = self.b.ins().bxor_imm_u(bad, need as i64);
        if group.write {
            let either = self.b.ins().bor(p0, p1);
            let code = self.b.ins().band_imm_u(either, crate::machine::PERM_CODE as i64);
            bad = self.b.ins().bor(bad, code);
        }
        let good = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, bad, 0);
        self.b.ins().jump(join, &[ir::BlockArg::Value(good)]);
        self.b.switch_to_block(join);
        self.group_ok[g] = Some(ok);
        ok
    }

    /// Checks one access: traps unless it is in bounds and allowed, and for
    /// a store that may hit translated code, records the write; returns
    /// whether it did hit code (for a store).
    fn check_access(&mut self, addr: ir::Value, size: u32, write: bool) -> Option<ir::Value> {
        // Memory is never smaller than an access (`GuestMemory` refuses
        // sizes below `MIN_MEMORY`), so one compare bounds it.
        let limit = self.b.ins().iadd_imm_s(self.mem_size, -(size as i64));
        let beyond = self.b.ins().icmp(condcodes::IntCC::UnsignedGreaterThan, addr, limit);
        self.trap_if(beyond, TrapCode::MemFault, Some(addr));
        let code = if let Some(perms) = self.perms {
            // The first and last byte's pages must both allow the access.
            let need = if write { crate::machine::PERM_W } else { crate::machine::PERM_R };
            let (both, either) = self.map_bytes(perms, addr, size, crate::machine::PAGE_SHIFT);
            let allowed = self.b.ins().band_imm_u(both, need as i64);
            let denied = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, allowed, 0);
            self.trap_if(denied, TrapCode::MemFault, Some(addr));
            write.then(|| self.b.ins().band_imm_u(either, crate::machine::PERM_CODE as i64))
        } else if write {
            Some(self.map_bytes(self.code_lines, addr, size, crate::machine::LINE_SHIFT).1)
        } else {
            None
        };
        code.map(|code| self.code_write_check(code, addr, size))
    }

    /// For a store that may hit translated code (`maybe` nonzero): the
    /// runtime records the write; returns whether it did hit code (then
    /// the block leaves at the next instruction boundary).
    fn code_write_check(&mut self, maybe: ir::Value, addr: ir::Value, size: u32) -> ir::Value {
        let (slow, join) = (self.b.create_block(), self.b.create_block());
        let hit = self.b.append_block_param(join, types::I32);
        let zero = self.iconst(types::I32, 0);
        self.b.set_cold_block(slow);
        self.b.ins().brif(maybe, slow, &[], join, &[ir::BlockArg::Value(zero)]);
        self.b.switch_to_block(slow);
        let f = self.iconst(types::I64, runtime::rt_code_write as *const () as usize as i64);
        let size_v = self.iconst(types::I64, size as i64);
        let sig = self.sig_code_write;
        let call = self.b.ins().call_indirect(sig, f, &[self.ctx, addr, size_v]);
        let r = self.b.inst_results(call)[0];
        self.b.ins().jump(join, &[ir::BlockArg::Value(r)]);
        self.b.switch_to_block(join);
        hit
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

    /// A lane-wise float compare from the three predicates every host has
    /// for vectors (ordered eq, lt, le) and complements.
    fn lane_fcmp(&mut self, cc: FloatCC, x: ir::Value, y: ir::Value) -> ir::Value {
        use condcodes::FloatCC as C;
        let mut cmp = |c: C, a: ir::Value, b: ir::Value| self.b.ins().fcmp(c, a, b);
        let (base, negate) = match cc {
            FloatCC::Eq => (cmp(C::Equal, x, y), false),
            FloatCC::Ne => (cmp(C::Equal, x, y), true),
            FloatCC::Lt => (cmp(C::LessThan, x, y), false),
            FloatCC::Le => (cmp(C::LessThanOrEqual, x, y), false),
            FloatCC::Gt => (cmp(C::LessThan, y, x), false),
            FloatCC::Ge => (cmp(C::LessThanOrEqual, y, x), false),
            FloatCC::Ult => (cmp(C::LessThanOrEqual, y, x), true),
            FloatCC::Ule => (cmp(C::LessThan, y, x), true),
            FloatCC::Ugt => (cmp(C::LessThanOrEqual, x, y), true),
            FloatCC::Uge => (cmp(C::LessThan, x, y), true),
            FloatCC::Ord | FloatCC::Uno => {
                let (xx, yy) = (cmp(C::Equal, x, x), cmp(C::Equal, y, y));
                (self.b.ins().band(xx, yy), cc == FloatCC::Uno)
            }
            FloatCC::One | FloatCC::Ueq => {
                let (lt, gt) = (cmp(C::LessThan, x, y), cmp(C::LessThan, y, x));
                (self.b.ins().bor(lt, gt), cc == FloatCC::Ueq)
            }
        };
        if negate { self.b.ins().bnot(base) } else { base }
    }

    /// Lowers every instruction.
    pub fn lower(&mut self) -> Result<(), Unsupported> {
        let block = self.block;
        for (at, inst) in block.insts.iter().enumerate() {
            self.at = at;
            let args: Vec<ir::Value> = block.args(inst).iter().map(|a| self.val(*a)).collect();
            let results = self.inst(inst, &args)?;
            for (v, r) in inst.results().zip(results) {
                self.vals[v.0 as usize] = Some(r);
            }
        }
        Ok(())
    }

    fn inst(&mut self, inst: &Inst, a: &[ir::Value]) -> Result<Vec<ir::Value>, Unsupported> {
        use Opcode::*;
        let ty = inst.ty;
        let cty = ty.map(cl_type);
        let small = ty.is_some_and(|t| t.bits() <= 64 && !t.is_shape());
        let r = match (inst.op, inst.imm) {
            (Const, Imm::Const(bits)) => {
                let t = ty.expect("typed");
                let v = match t {
                    Type::F32 => self.b.ins().f32const(ir::immediates::Ieee32::with_bits(bits as u32)),
                    Type::F64 => self.b.ins().f64const(ir::immediates::Ieee64::with_bits(bits as u64)),
                    Type::I128 => {
                        let lo = self.iconst(types::I64, bits as u64 as i64);
                        let hi = self.iconst(types::I64, (bits >> 64) as u64 as i64);
                        self.b.ins().iconcat(lo, hi)
                    }
                    Type::V128 => {
                        let c = self.b.func.dfg.constants.insert(bits.to_le_bytes().to_vec().into());
                        self.b.ins().vconst(types::I8X16, c)
                    }
                    _ => self.iconst(cl_type(t), bits as u64 as i64),
                };
                vec![v]
            }
            (Iadd, _) => vec![self.b.ins().iadd(a[0], a[1])],
            (Isub, _) => vec![self.b.ins().isub(a[0], a[1])],
            (Imul, _) => vec![self.b.ins().imul(a[0], a[1])],
            (Ineg, _) => vec![self.b.ins().ineg(a[0])],
            (IaddCarry, _) => {
                let t = cty.unwrap();
                let cin = self.resize(a[2], t);
                let s1 = self.b.ins().iadd(a[0], a[1]);
                let sum = self.b.ins().iadd(s1, cin);
                // Carry out: the sum wrapped below a, or to a itself with a carry in.
                let below = self.b.ins().icmp(condcodes::IntCC::UnsignedLessThan, sum, a[0]);
                let equal = self.b.ins().icmp(condcodes::IntCC::Equal, sum, a[0]);
                let eq_carry = self.b.ins().band(equal, a[2]);
                let carry = self.b.ins().bor(below, eq_carry);
                let x1 = self.b.ins().bxor(a[0], sum);
                let x2 = self.b.ins().bxor(a[1], sum);
                let both = self.b.ins().band(x1, x2);
                let ovf = self.b.ins().icmp_imm_s(condcodes::IntCC::SignedLessThan, both, 0);
                vec![sum, carry, ovf]
            }
            (IsubBorrow, _) => {
                let t = cty.unwrap();
                let bin = self.resize(a[2], t);
                let d1 = self.b.ins().isub(a[0], a[1]);
                let diff = self.b.ins().isub(d1, bin);
                let lt = self.b.ins().icmp(condcodes::IntCC::UnsignedLessThan, a[0], a[1]);
                let eq = self.b.ins().icmp(condcodes::IntCC::Equal, a[0], a[1]);
                let eq_b = self.b.ins().band(eq, a[2]);
                let borrow = self.b.ins().bor(lt, eq_b);
                let x1 = self.b.ins().bxor(a[0], a[1]);
                let x2 = self.b.ins().bxor(a[0], diff);
                let both = self.b.ins().band(x1, x2);
                let ovf = self.b.ins().icmp_imm_s(condcodes::IntCC::SignedLessThan, both, 0);
                vec![diff, borrow, ovf]
            }
            (UmulWide | SmulWide, _) if ty == Some(Type::I64) => {
                let lo = self.b.ins().imul(a[0], a[1]);
                let hi =
                    if inst.op == UmulWide { self.b.ins().umulhi(a[0], a[1]) } else { self.b.ins().smulhi(a[0], a[1]) };
                vec![lo, hi]
            }
            (UmulWide | SmulWide, _) => {
                let t = cty.unwrap();
                let w = ty.unwrap().bits() as i64;
                let wide = ty.unwrap().double().map(cl_type).unwrap();
                let (x, y) = if inst.op == UmulWide {
                    (self.b.ins().uextend(wide, a[0]), self.b.ins().uextend(wide, a[1]))
                } else {
                    (self.b.ins().sextend(wide, a[0]), self.b.ins().sextend(wide, a[1]))
                };
                let p = self.b.ins().imul(x, y);
                let lo = self.b.ins().ireduce(t, p);
                let h = self.b.ins().ushr_imm_u(p, w);
                let hi = self.b.ins().ireduce(t, h);
                vec![lo, hi]
            }
            (Udiv | Urem | Sdiv | Srem, _) if small => {
                let zero = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[1], 0);
                self.trap_if(zero, TrapCode::DivByZero, None);
                if matches!(inst.op, Sdiv | Srem) {
                    let w = ty.unwrap().bits();
                    let min = self.iconst(cty.unwrap(), 1i64 << (w - 1));
                    let is_min = self.b.ins().icmp(condcodes::IntCC::Equal, a[0], min);
                    let minus1 = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[1], -1);
                    let ovf = self.b.ins().band(is_min, minus1);
                    self.trap_if(ovf, TrapCode::DivOverflow, None);
                }
                vec![match inst.op {
                    Udiv => self.b.ins().udiv(a[0], a[1]),
                    Urem => self.b.ins().urem(a[0], a[1]),
                    Sdiv => self.b.ins().sdiv(a[0], a[1]),
                    _ => self.b.ins().srem(a[0], a[1]),
                }]
            }
            (UdivWide | SdivWide, _) if ty == Some(Type::I64) => {
                // Natively when the dividend fits in 64 bits (RDX is the
                // zero or sign extension of RAX, as compilers set it up)
                // and the division cannot trap; else the reference.
                let signed = inst.op == SdivWide;
                let narrow = if signed {
                    let sign = self.b.ins().sshr_imm_u(a[1], 63);
                    self.b.ins().icmp(condcodes::IntCC::Equal, a[0], sign)
                } else {
                    self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[0], 0)
                };
                let nonzero = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, a[2], 0);
                let mut fast_ok = self.b.ins().band(narrow, nonzero);
                if signed {
                    let not_min = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, a[1], i64::MIN);
                    let not_m1 = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, a[2], -1);
                    let no_ovf = self.b.ins().bor(not_min, not_m1);
                    fast_ok = self.b.ins().band(fast_ok, no_ovf);
                }
                let (fast, slow, join) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
                let q = self.b.append_block_param(join, types::I64);
                let r = self.b.append_block_param(join, types::I64);
                self.b.set_cold_block(slow);
                self.b.ins().brif(fast_ok, fast, &[], slow, &[]);
                self.b.switch_to_block(fast);
                let (fq, fr) = if signed {
                    (self.b.ins().sdiv(a[1], a[2]), self.b.ins().srem(a[1], a[2]))
                } else {
                    (self.b.ins().udiv(a[1], a[2]), self.b.ins().urem(a[1], a[2]))
                };
                self.b.ins().jump(join, &[ir::BlockArg::Value(fq), ir::BlockArg::Value(fr)]);
                self.b.switch_to_block(slow);
                let exact = self.eval(inst, a);
                self.b.ins().jump(join, &[ir::BlockArg::Value(exact[0]), ir::BlockArg::Value(exact[1])]);
                self.b.switch_to_block(join);
                vec![q, r]
            }
            (UdivWide, _) if ty.is_some_and(|t| t.bits() < 64) => {
                // (hi:lo) fits in 64 bits: divide there.
                let w = ty.unwrap().bits() as i64;
                let t = cty.unwrap();
                let zero = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[2], 0);
                self.trap_if(zero, TrapCode::DivByZero, None);
                let hi = self.b.ins().uextend(types::I64, a[0]);
                let lo = self.b.ins().uextend(types::I64, a[1]);
                let d = self.b.ins().uextend(types::I64, a[2]);
                let hs = self.b.ins().ishl_imm_u(hi, w);
                let n = self.b.ins().bor(hs, lo);
                let q = self.b.ins().udiv(n, d);
                let r = self.b.ins().urem(n, d);
                let limit = self.iconst(types::I64, (1i64 << w) - 1);
                let ovf = self.b.ins().icmp(condcodes::IntCC::UnsignedGreaterThan, q, limit);
                self.trap_if(ovf, TrapCode::DivOverflow, None);
                vec![self.b.ins().ireduce(t, q), self.b.ins().ireduce(t, r)]
            }
            (SdivWide, _) if ty.is_some_and(|t| t.bits() < 64) => {
                let w = ty.unwrap().bits() as i64;
                let t = cty.unwrap();
                let zero = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[2], 0);
                self.trap_if(zero, TrapCode::DivByZero, None);
                // The 2w-bit dividend, sign-extended to 64 bits.
                let hi = self.b.ins().sextend(types::I64, a[0]);
                let lo = self.b.ins().uextend(types::I64, a[1]);
                let d = self.b.ins().sextend(types::I64, a[2]);
                let hs = self.b.ins().ishl_imm_u(hi, w);
                let n = self.b.ins().bor(hs, lo);
                // 2w = 64 for w = 32: MIN / -1 overflows in 64 bits too.
                if w == 32 {
                    let min = self.iconst(types::I64, i64::MIN);
                    let is_min = self.b.ins().icmp(condcodes::IntCC::Equal, n, min);
                    let minus1 = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, d, -1);
                    let ovf = self.b.ins().band(is_min, minus1);
                    self.trap_if(ovf, TrapCode::DivOverflow, None);
                }
                let q = self.b.ins().sdiv(n, d);
                let r = self.b.ins().srem(n, d);
                let lo_lim = self.iconst(types::I64, -(1i64 << (w - 1)));
                let hi_lim = self.iconst(types::I64, (1i64 << (w - 1)) - 1);
                let under = self.b.ins().icmp(condcodes::IntCC::SignedLessThan, q, lo_lim);
                let over = self.b.ins().icmp(condcodes::IntCC::SignedGreaterThan, q, hi_lim);
                let ovf = self.b.ins().bor(under, over);
                self.trap_if(ovf, TrapCode::DivOverflow, None);
                vec![self.b.ins().ireduce(t, q), self.b.ins().ireduce(t, r)]
            }
            (And, _) => vec![self.b.ins().band(a[0], a[1])],
            (Or, _) => vec![self.b.ins().bor(a[0], a[1])],
            (Xor, _) => vec![self.b.ins().bxor(a[0], a[1])],
            (Not, _) if ty == Some(Type::I1) => vec![self.b.ins().bxor_imm_u(a[0], 1)],
            (Not, _) => vec![self.b.ins().bnot(a[0])],
            (Shl, _) => vec![self.b.ins().ishl(a[0], a[1])],
            (Lshr, _) => vec![self.b.ins().ushr(a[0], a[1])],
            (Ashr, _) => vec![self.b.ins().sshr(a[0], a[1])],
            (Rotl, _) => vec![self.b.ins().rotl(a[0], a[1])],
            (Rotr, _) => vec![self.b.ins().rotr(a[0], a[1])],
            (Icmp, Imm::IntCC(cc))
                if ty == Some(Type::I1) && matches!(cc, IntCC::Slt | IntCC::Sle | IntCC::Sgt | IntCC::Sge) =>
            {
                // A set i1 is -1 when signed.
                let (x, y) = (self.b.ins().ineg(a[0]), self.b.ins().ineg(a[1]));
                vec![self.b.ins().icmp(int_cc(cc), x, y)]
            }
            (Icmp, Imm::IntCC(cc)) => vec![self.b.ins().icmp(int_cc(cc), a[0], a[1])],
            (Select, _) => vec![self.b.ins().select(a[0], a[1], a[2])],
            (Zext, _) => vec![self.resize(a[0], cty.unwrap())],
            (Sext, _) => {
                let from = self.block.value_type(self.block.args(inst)[0]);
                if from == Type::I1 {
                    let wide = self.resize(a[0], cty.unwrap());
                    vec![self.b.ins().ineg(wide)]
                } else {
                    vec![self.b.ins().sextend(cty.unwrap(), a[0])]
                }
            }
            (Trunc, _) if ty == Some(Type::I1) => {
                let low = self.resize(a[0], types::I8);
                vec![self.b.ins().band_imm_u(low, 1)]
            }
            (Trunc, _) => vec![self.b.ins().ireduce(cty.unwrap(), a[0])],
            (Clz, _) => vec![self.b.ins().clz(a[0])],
            (Ctz, _) => vec![self.b.ins().ctz(a[0])],
            (Popcnt, _) => vec![self.b.ins().popcnt(a[0])],
            (Bswap, _) => vec![self.b.ins().bswap(a[0])],
            (Parity, _) => {
                let low = self.resize(a[0], types::I8);
                let n = self.b.ins().popcnt(low);
                let odd = self.b.ins().band_imm_u(n, 1);
                vec![self.b.ins().bxor_imm_u(odd, 1)]
            }
            (Fadd | Fsub | Fmul | Fdiv, Imm::Round(Round::Nearest)) => {
                let r = match inst.op {
                    Fadd => self.b.ins().fadd(a[0], a[1]),
                    Fsub => self.b.ins().fsub(a[0], a[1]),
                    Fmul => self.b.ins().fmul(a[0], a[1]),
                    _ => self.b.ins().fdiv(a[0], a[1]),
                };
                vec![self.float_arith(a, r)]
            }
            (Fsqrt, Imm::Round(Round::Nearest)) => {
                let r = self.b.ins().sqrt(a[0]);
                vec![self.float_arith(a, r)]
            }
            (Fmin | Fmax, _) => {
                let r = if inst.op == Fmin { self.b.ins().fmin(a[0], a[1]) } else { self.b.ins().fmax(a[0], a[1]) };
                vec![self.float_checked(inst, a, r)]
            }
            (Fneg, _) => vec![self.b.ins().fneg(a[0])],
            (Fabs, _) => vec![self.b.ins().fabs(a[0])],
            (Fcmp, Imm::FloatCC(cc)) => vec![self.b.ins().fcmp(float_cc(cc), a[0], a[1])],
            (Fround, Imm::Round(mode)) => {
                let r = match mode {
                    Round::Nearest => self.b.ins().nearest(a[0]),
                    Round::Zero => self.b.ins().trunc(a[0]),
                    Round::Down => self.b.ins().floor(a[0]),
                    Round::Up => self.b.ins().ceil(a[0]),
                };
                vec![self.float_checked(inst, a, r)]
            }
            (FcvtToSint, _) => vec![self.b.ins().fcvt_to_sint_sat(cty.unwrap(), a[0])],
            (FcvtToUint, _) => vec![self.b.ins().fcvt_to_uint_sat(cty.unwrap(), a[0])],
            (FcvtFromSint, Imm::Round(Round::Nearest)) => vec![self.b.ins().fcvt_from_sint(cty.unwrap(), a[0])],
            (FcvtFromUint, Imm::Round(Round::Nearest)) => vec![self.b.ins().fcvt_from_uint(cty.unwrap(), a[0])],
            (Fpromote, _) => {
                let r = self.b.ins().fpromote(types::F64, a[0]);
                vec![self.float_checked(inst, a, r)]
            }
            (Fdemote, Imm::Round(Round::Nearest)) => {
                let r = self.b.ins().fdemote(types::F32, a[0]);
                vec![self.float_checked(inst, a, r)]
            }
            (Bitcast, _) => {
                let to = cty.unwrap();
                let from = self.b.func.dfg.value_type(a[0]);
                if from == to {
                    vec![a[0]]
                } else {
                    let flags = if to.is_vector() || from.is_vector() { lanes_little() } else { MemFlagsData::new() };
                    vec![self.b.ins().bitcast(to, flags, a[0])]
                }
            }
            (Vsplat, _) => {
                let v = self.b.ins().splat(cty.unwrap(), a[0]);
                vec![self.vec_out(v)]
            }
            (Vextract, Imm::Lane(l)) => {
                let v = self.vec_as(a[0], ty.unwrap());
                vec![self.b.ins().extractlane(v, l)]
            }
            (Vinsert, Imm::Lane(l)) => {
                let v = self.vec_as(a[0], ty.unwrap());
                let r = self.b.ins().insertlane(v, a[1], l);
                vec![self.vec_out(r)]
            }
            (
                Vadd | Vsub | Vmul | VaddSatS | VaddSatU | VsubSatS | VsubSatU | VminS | VminU | VmaxS | VmaxU | VavgU,
                _,
            ) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = match inst.op {
                    Vadd => self.b.ins().iadd(x, y),
                    Vsub => self.b.ins().isub(x, y),
                    Vmul => self.b.ins().imul(x, y),
                    VaddSatS => self.b.ins().sadd_sat(x, y),
                    VaddSatU => self.b.ins().uadd_sat(x, y),
                    VsubSatS => self.b.ins().ssub_sat(x, y),
                    VsubSatU => self.b.ins().usub_sat(x, y),
                    VminS => self.b.ins().smin(x, y),
                    VminU => self.b.ins().umin(x, y),
                    VmaxS => self.b.ins().smax(x, y),
                    VmaxU => self.b.ins().umax(x, y),
                    _ => self.b.ins().avg_round(x, y),
                };
                vec![self.vec_out(r)]
            }
            (Vabs, _) => {
                let x = self.vec_as(a[0], ty.unwrap());
                let r = self.b.ins().iabs(x);
                vec![self.vec_out(r)]
            }
            (Vcmp, Imm::IntCC(cc)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = self.b.ins().icmp(int_cc(cc), x, y);
                vec![self.vec_out(r)]
            }
            (Vshl | Vlshr | Vashr, _) => {
                let shape = ty.unwrap();
                let w = shape.lane().unwrap().0.bits() as i64;
                let x = self.vec_as(a[0], shape);
                let big = self.b.ins().icmp_imm_s(condcodes::IntCC::UnsignedGreaterThanOrEqual, a[1], w);
                let r = if inst.op == Vashr {
                    // A count of the lane width or more fills with the sign.
                    let max = self.iconst(types::I64, w - 1);
                    let n = self.b.ins().select(big, max, a[1]);
                    self.b.ins().sshr(x, n)
                } else {
                    let shifted = if inst.op == Vshl { self.b.ins().ishl(x, a[1]) } else { self.b.ins().ushr(x, a[1]) };
                    let zero = self.b.ins().bxor(x, x);
                    self.b.ins().select(big, zero, shifted)
                };
                vec![self.vec_out(r)]
            }
            (Vshuffle, Imm::Shuffle(mask)) => {
                let imm = self.b.func.dfg.immediates.push(mask.to_vec().into());
                vec![self.b.ins().shuffle(a[0], a[1], imm)]
            }
            (Vswizzle, _) => vec![self.b.ins().swizzle(a[0], a[1])],
            // PACKSS/PACKUS; 64-bit lanes by the reference semantics.
            (VnarrowS | VnarrowU, _) if matches!(ty, Some(Type::I16x8 | Type::I32x4)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = if inst.op == VnarrowS { self.b.ins().snarrow(x, y) } else { self.b.ins().unarrow(x, y) };
                vec![self.vec_out(r)]
            }
            (Vbitmask, _) => {
                // The sign bits, read through the integer shape of the lanes.
                let shape = match ty.unwrap() {
                    Type::F32x4 => Type::I32x4,
                    Type::F64x2 => Type::I64x2,
                    s => s,
                };
                let x = self.vec_as(a[0], shape);
                vec![self.b.ins().vhigh_bits(types::I32, x)]
            }
            (Vfadd | Vfsub | Vfmul | Vfdiv, Imm::Round(Round::Nearest)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = match inst.op {
                    Vfadd => self.b.ins().fadd(x, y),
                    Vfsub => self.b.ins().fsub(x, y),
                    Vfmul => self.b.ins().fmul(x, y),
                    _ => self.b.ins().fdiv(x, y),
                };
                let r = self.float_arith(&[x, y], r);
                vec![self.vec_out(r)]
            }
            (Vfsqrt, Imm::Round(Round::Nearest)) => {
                let x = self.vec_as(a[0], ty.unwrap());
                let r = self.b.ins().sqrt(x);
                let r = self.float_arith(&[x], r);
                vec![self.vec_out(r)]
            }
            (Vfcmp, Imm::FloatCC(cc)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = self.lane_fcmp(cc, x, y);
                vec![self.vec_out(r)]
            }
            (Load, Imm::Mem(f)) => {
                let t = ty.unwrap();
                let host = self.guest_address(a[0], t.bytes(), f.aligned, false);
                vec![self.b.ins().load(cl_type(t), little(), host, 0)]
            }
            (Store, Imm::Mem(f)) => {
                let t = self.block.value_type(self.block.args(inst)[0]);
                let host = self.guest_address(a[1], t.bytes(), f.aligned, true);
                self.b.ins().store(little(), a[0], host, 0);
                vec![]
            }
            (AtomicRmw | AtomicCas, _) => {
                let r = self.eval_with(inst, a, runtime::rt_atomic as *const () as usize);
                self.stored = true;
                r
            }
            (Fence, _) => {
                self.b.ins().fence();
                vec![]
            }
            (Get, Imm::Slot(s)) => vec![self.slot_value(s.0 as usize)],
            (Set, Imm::Slot(s)) => {
                if let Some(pending) = self.pending.as_mut() {
                    let s = s.0 as usize;
                    if pending[s].replace(a[0]).is_none() {
                        self.pending_order.push(s);
                    }
                    return Ok(vec![]);
                }
                let decl = &self.env.slots[s.0 as usize];
                self.b.ins().store(MemFlagsData::new().with_notrap(), a[0], self.state, decl.offset as i32);
                vec![]
            }
            (Call, Imm::Helper(h)) => {
                // The helper sees the state in memory, and may change it.
                self.store_pending();
                if let Some(pending) = self.pending.as_mut() {
                    pending.fill(None);
                    self.pending_order.clear();
                }
                self.known.fill(None);
                let decl = &self.env.helpers[h.0 as usize];
                let results = decl.results.clone();
                let idx = self.iconst(types::I64, h.0 as i64);
                let counts = self.iconst(types::I64, (a.len() | results.len() << 16) as i64);
                let sig = self.sig_call;
                let r = self.runtime_call(runtime::rt_call as *const () as usize, sig, &[idx], a, &results, &[counts]);
                self.stored = true;
                r
            }
            (Guest, Imm::Guest { addr, .. }) => {
                if let Some(m) = self.modified.take() {
                    // A store rewrote code from here on: leave.
                    self.side(m, |l| {
                        l.refund(l.through_current());
                        let pc = l.iconst(types::I64, addr as i64);
                        l.exit_jump(EXIT_JUMP, pc)
                    });
                }
                if self.stored {
                    // A store may have rewritten code from here on: leave.
                    let m = self.b.ins().load(
                        types::I32,
                        MemFlagsData::trusted(),
                        self.ctx,
                        offset_of!(JitCtx, code_modified) as i32,
                    );
                    self.side(m, |l| {
                        l.refund(l.through_current());
                        let pc = l.iconst(types::I64, addr as i64);
                        l.exit_jump(EXIT_JUMP, pc)
                    });
                    self.stored = false;
                }
                if self.started {
                    self.completed += 1;
                }
                self.started = true;
                self.guest = addr;
                vec![]
            }
            (TrapIf, Imm::Trap(code)) => {
                self.trap_if(a[0], code, None);
                vec![]
            }
            (JumpIf, Imm::Target(t)) => {
                self.side(a[0], |l| l.leave(l.through_current(), t));
                vec![]
            }
            (Jump, Imm::Target(t)) => {
                self.leave(self.through_current(), t);
                vec![]
            }
            (Branch, Imm::Branch(t, f)) => {
                let (taken, not_taken) = (self.b.create_block(), self.b.create_block());
                self.b.ins().brif(a[0], taken, &[], not_taken, &[]);
                self.b.switch_to_block(taken);
                self.leave(self.through_current(), t);
                self.b.switch_to_block(not_taken);
                self.leave(self.through_current(), f);
                vec![]
            }
            (JumpInd, _) => {
                self.exit_indirect(a[0]);
                vec![]
            }
            (Exit, Imm::Exit(reason, resume)) => {
                if reason == crate::visa::ExitReason::Undefined {
                    // The undefined instruction does not complete.
                    self.refund(self.completed);
                }
                self.ctx_store_const(types::I32, reason as u64, offset_of!(JitCtx, exit_reason));
                let pc = self.iconst(types::I64, resume as i64);
                self.exit_jump(EXIT_EXIT, pc);
                vec![]
            }
            // Everything else (wide integer division, directed rounding,
            // the rarer vector operations) by the reference semantics.
            (op, _) if crate::visa::eval::is_evaluable(op) => self.eval(inst, a),
            (op, _) => return Err(Unsupported(format!("`{}` has no lowering", op.name()))),
        };
        Ok(r)
    }
}
