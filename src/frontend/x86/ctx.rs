//! The lifting context: one block under construction, the instruction being
//! lifted, and the operand and flag plumbing every family shares.
//!
//! Vector registers are XMM registers and the MMX registers, which alias
//! the x87 registers as on hardware: MMi is the significand (bits 0-63) of
//! the physical register Ri (not ST(i)). A family computes an MMX form as
//! its 128-bit form on values zero-extended from 64 bits and keeps the low
//! 64 bits of the result. An instruction that names an MMX register first
//! raises #MF while an x87 exception is pending, and once done sets TOP to
//! 0 and every tag to valid; writing MMi sets Ri's sign and exponent (bits
//! 64-79) to all ones. EMMS sets TOP to 0 and every tag to empty.

use iced_x86::{Instruction, MemorySize, OpKind, Register};

use super::LiftFn;
use super::env::X86Env;
use crate::machine::flag::DF;
use crate::visa::{Builder, ExitReason, Imm, IntCC, MemFlags, Opcode, Slot, TrapCode, Type, Value};

/// FSW's exception summary (an unmasked exception is pending) and TOP.
const FSW_ES: u64 = 0x80;
const FSW_TOP: u64 = 0x3800;

/// #MF: a pending x87 exception.
const MF: TrapCode = TrapCode::User(16);

/// What lifting one instruction did to the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Fall through to the next instruction.
    Next,
    /// The instruction ended the block (it emitted the terminator).
    End,
    /// The block goes on at this address (a followed branch).
    Follow(u64),
    /// The instruction raises #UD: nothing of it is kept.
    Undefined,
}

/// How the flags were last set, so a following condition can compare the
/// operands directly instead of recombining flag bits.
#[derive(Clone, Copy, Debug)]
pub enum FlagSource {
    /// Flags of `a - b`.
    Sub { a: Value, b: Value },
    /// Flags of a logical result: CF = OF = 0.
    Logic { res: Value },
}

/// Where the six arithmetic flags (CF PF AF ZF SF OF) stand while the
/// block is lifted. DF is always a plain slot.
#[derive(Clone, Copy, Debug)]
pub enum FlagState {
    /// As the block found them: in their slots, or deferred (`cc_op`
    /// nonzero) by the code that ran before.
    Entry,
    /// In their slots, and `cc_op` is 0: an instruction wrote some of
    /// them one by one.
    Slots,
    /// Deferred by this block: `cc_op`, `cc_a` and `cc_b` are written, the
    /// flag slots are not.
    Deferred(Deferred),
}

/// A deferred flag-setting operation, by the values lifting computed.
#[derive(Clone, Copy, Debug)]
pub struct Deferred {
    /// `machine::deferred::CC_SUB` or `CC_ADD`.
    pub kind: u8,
    pub a: Value,
    pub b: Value,
    pub res: Value,
    pub carry: Value,
    pub overflow: Value,
}

/// A point to rewind the block to (the slot cache is saved in
/// `Ctx::saved_cache`, reused from one instruction to the next).
struct Mark {
    insts: usize,
    pool: usize,
    types: usize,
    source: Option<FlagSource>,
    flags: FlagState,
    mmx: bool,
}

pub struct Ctx<'a> {
    pub b: Builder<'a>,
    pub x: &'static X86Env,
    pub insn: Instruction,
    /// The bytes of `insn` (up to its length).
    pub bytes: [u8; super::MAX_INSTRUCTION_BYTES],
    /// What the block is specialised for (the SSE rounding direction).
    pub mode: super::Mode,
    /// Current value of each slot written or read so far in the block.
    cache: Vec<Option<Value>>,
    /// `cache` as it was before the instruction being lifted.
    saved_cache: Vec<Option<Value>>,
    source: Option<FlagSource>,
    /// Where the arithmetic flags stand. Unless `Slots`, the cache holds a
    /// flag's value computed for a read, not what its slot holds.
    flags: FlagState,
    /// The x87 state is known to be the MMX one (TOP 0, every tag valid, no
    /// exception pending): an earlier instruction of the block made the
    /// transition and no helper has run since.
    mmx: bool,
    /// Conditional branches lifted as side exits so far.
    pub side_exits: usize,
    /// How many conditional branches may become side exits: raised past
    /// `MAX_SIDE_EXITS` for one whose fall-through soon branches back to
    /// the block's start (see `lift_block_within`).
    pub side_exit_limit: usize,
    /// The conditional branch that ends the block rather than become a
    /// side exit (`Frontend::lift_ending_at`).
    pub end_at: Option<u64>,
    /// The guest code lifted so far, as `[start, end)` ranges; the last is
    /// the one being lifted.
    pub ranges: Vec<(u64, u64)>,
    /// While a VEX form is lifted through its SSE form: what the stand-in
    /// registers stand for (see `vex`).
    pub vex: Option<VexFrame>,
    /// With an exception unmasked: the float exception flags the
    /// instruction being lifted has raised so far, recorded before its
    /// first write (`fpexc::record_gathered`).
    pub fexc_pending: Option<Value>,
}

/// The first stand-in register: a VEX form is lifted as its SSE form on
/// registers XMM16 and up (which VEX cannot name), each standing for one
/// 128-bit half of an operand.
pub const STAND_IN: Register = Register::XMM16;

/// How the SSE form of a VEX instruction sees its operands for one 128-bit
/// half: the value each stand-in register reads, what was written to
/// them, and the VEX memory rules.
#[derive(Clone, Debug, Default)]
pub struct VexFrame {
    /// By stand-in index: the value it reads until written.
    pub reads: [Option<Value>; 8],
    /// By stand-in index: the last value written.
    pub writes: [Option<Value>; 8],
    /// The stand-in BLENDV's implicit XMM0 reads (VEX names the selector).
    pub selector: Option<Register>,
    /// Memory operands need no alignment (all but the aligned moves).
    pub unaligned: bool,
    /// The VEX form is 256 bits wide: this is one of its two halves.
    pub wide: bool,
    /// A 16-byte store is the first half of a 32-byte one: the second half
    /// is checked for writing first, so a fault there writes nothing.
    pub probe_store: bool,
}

fn stand_in_index(reg: Register) -> Option<usize> {
    (reg.is_xmm() && reg >= STAND_IN).then(|| reg as usize - STAND_IN as usize)
}

/// The lane shape whose lanes have type `ty`.
pub fn lane_shape(ty: Type) -> Type {
    match ty {
        Type::I8 => Type::I8x16,
        Type::I16 => Type::I16x8,
        Type::I32 => Type::I32x4,
        Type::I64 => Type::I64x2,
        Type::F32 => Type::F32x4,
        Type::F64 => Type::F64x2,
        t => panic!("no lane shape of {t}"),
    }
}

/// The integer type of a size in bytes.
pub fn int_type(bytes: usize) -> Type {
    match bytes {
        1 => Type::I8,
        2 => Type::I16,
        4 => Type::I32,
        8 => Type::I64,
        16 => Type::I128,
        _ => panic!("no integer type of {bytes} bytes"),
    }
}

fn gpr_index(reg: Register) -> usize {
    reg.full_register() as usize - Register::RAX as usize
}

fn mm_index(reg: Register) -> usize {
    reg as usize - Register::MM0 as usize
}

fn is_high_byte(reg: Register) -> bool {
    matches!(reg, Register::AH | Register::CH | Register::DH | Register::BH)
}

impl<'a> Ctx<'a> {
    pub fn new(x: &'static X86Env, addr: u64, mode: super::Mode) -> Ctx<'a> {
        Ctx {
            // Room for a block of memory-operand code without growing.
            b: Builder::with_capacity(&x.env, addr, 16 * super::MAX_INSTRUCTIONS),
            x,
            insn: Instruction::default(),
            bytes: [0; super::MAX_INSTRUCTION_BYTES],
            mode,
            cache: vec![None; x.env.slots.len()],
            saved_cache: vec![None; x.env.slots.len()],
            source: None,
            flags: FlagState::Entry,
            mmx: false,
            side_exits: 0,
            side_exit_limit: super::MAX_SIDE_EXITS,
            end_at: None,
            ranges: vec![(addr, addr)],
            vex: None,
            fexc_pending: None,
        }
    }

    /// Does the block already hold the instruction at `addr`?
    pub fn holds(&self, addr: u64) -> bool {
        self.ranges.iter().any(|&(start, end)| (start..end).contains(&addr))
    }

    /// May lifting go on at `target` (code not yet in the block) instead
    /// of leaving for it?
    pub fn may_follow(&self, target: u64) -> bool {
        self.ranges.len() < super::MAX_RANGES && !self.holds(target)
    }

    /// The range being lifted now ends at `end`.
    pub fn lifted_to(&mut self, end: u64) {
        self.ranges.last_mut().expect("a range").1 = end;
    }

    /// Lifting goes on at `addr`, in a new range.
    pub fn start_range(&mut self, addr: u64) {
        self.ranges.push((addr, addr));
    }

    fn mark(&mut self) -> Mark {
        self.saved_cache.copy_from_slice(&self.cache);
        let block = self.b.block();
        Mark {
            insts: block.insts.len(),
            pool: block.pool.len(),
            types: block.types.len(),
            source: self.source,
            flags: self.flags,
            mmx: self.mmx,
        }
    }

    fn rewind(&mut self, mark: Mark) {
        self.b.truncate(mark.insts, mark.pool, mark.types);
        self.cache.copy_from_slice(&self.saved_cache);
        self.source = mark.source;
        self.flags = mark.flags;
        self.mmx = mark.mmx;
    }

    /// Forgets cached slot values (after a helper that may write state).
    pub fn forget_state(&mut self) {
        self.cache.iter_mut().for_each(|c| *c = None);
        self.source = None;
        self.flags = FlagState::Entry;
        self.mmx = false;
    }

    /// Lifts the instruction in `insn` with `lift`, rewinding what an
    /// undefined one emitted. One that names an MMX register is bracketed
    /// by the x87 side of MMX: the #MF check first, the transition to the
    /// MMX state last, so a fault in between changes nothing.
    pub fn lift_with(&mut self, lift: LiftFn) -> Flow {
        let mark = self.mark();
        let mmx = self.names_mmx();
        if mmx {
            self.check_x87_pending();
        }
        let flow = lift(self);
        match flow {
            Flow::Undefined => self.rewind(mark),
            Flow::Next if mmx => self.enter_mmx(),
            _ => {}
        }
        flow
    }

    pub fn ip(&self) -> u64 {
        self.insn.ip()
    }

    pub fn next_ip(&self) -> u64 {
        self.insn.next_ip()
    }

    // ---- values ----

    pub fn iconst(&mut self, ty: Type, v: u64) -> Value {
        self.b.iconst(ty, v)
    }

    pub fn ty(&self, v: Value) -> Type {
        self.b.type_of(v)
    }

    pub fn op(&mut self, op: Opcode, args: &[Value]) -> Value {
        self.b.op(op, args)
    }

    pub fn op_multi(&mut self, op: Opcode, args: &[Value]) -> Vec<Value> {
        let ty = self.ty(args[0]);
        self.b.ins_multi(op, Some(ty), Imm::None, args)
    }

    pub fn icmp(&mut self, cc: IntCC, a: Value, b: Value) -> Value {
        self.b.icmp(cc, a, b)
    }

    pub fn icmp_imm(&mut self, cc: IntCC, a: Value, imm: u64) -> Value {
        let k = self.iconst(self.ty(a), imm);
        self.icmp(cc, a, k)
    }

    pub fn select(&mut self, c: Value, a: Value, b: Value) -> Value {
        self.b.select(c, a, b)
    }

    /// Zero-extends or truncates to `ty`.
    pub fn resize(&mut self, ty: Type, v: Value) -> Value {
        self.b.zext_or_trunc(ty, v)
    }

    pub fn sext(&mut self, ty: Type, v: Value) -> Value {
        if self.ty(v) == ty { v } else { self.b.ins(Opcode::Sext, Some(ty), Imm::None, &[v]) }
    }

    pub fn not(&mut self, v: Value) -> Value {
        self.op(Opcode::Not, &[v])
    }

    /// The bit `bit` of `v` as an i1.
    pub fn bit(&mut self, v: Value, bit: u32) -> Value {
        let ty = self.ty(v);
        let shifted = if bit == 0 {
            v
        } else {
            let k = self.iconst(ty, bit as u64);
            self.op(Opcode::Lshr, &[v, k])
        };
        self.b.ins(Opcode::Trunc, Some(Type::I1), Imm::None, &[shifted])
    }

    // ---- state ----

    pub fn get(&mut self, slot: Slot) -> Value {
        if let Some(v) = self.cache[slot.0 as usize] {
            return v;
        }
        let v = self.b.get(slot);
        self.cache[slot.0 as usize] = Some(v);
        v
    }

    pub fn set(&mut self, slot: Slot, v: Value) {
        if slot != self.x.mxcsr {
            super::fpexc::record_gathered(self);
        }
        self.b.set(slot, v);
        self.cache[slot.0 as usize] = Some(v);
    }

    /// The current value of a flag; deferred ones are computed (all six
    /// at once: those nobody reads are dropped as dead code).
    pub fn flag(&mut self, f: usize) -> Value {
        let slot = self.x.flags[f];
        if f == DF || matches!(self.flags, FlagState::Slots) {
            return self.get(slot);
        }
        if let Some(v) = self.cache[slot.0 as usize] {
            return v;
        }
        let values = super::flags::current(self, self.flags);
        for (s, v) in self.x.flags.iter().zip(values) {
            self.cache[s.0 as usize] = Some(v);
        }
        values[f]
    }

    pub fn flag_state(&self) -> FlagState {
        self.flags
    }

    /// Writes one flag: the others are first put in their slots, if the
    /// block entered with them or deferred them (writes the instruction
    /// then overwrites are dropped as dead).
    pub fn set_flag(&mut self, f: usize, v: Value) {
        self.source = None;
        if f != DF && !matches!(self.flags, FlagState::Slots) {
            for i in (0..DF).filter(|i| *i != f) {
                let old = self.flag(i);
                self.set(self.x.flags[i], old);
            }
            let settled = self.iconst(Type::I8, 0);
            self.set(self.x.cc_op, settled);
            self.flags = FlagState::Slots;
        }
        self.set(self.x.flags[f], v);
    }

    /// Defers the six flags to whoever reads them: the operation's kind
    /// and operands are written instead (see `machine::deferred`).
    pub fn defer_flags(&mut self, d: Deferred) {
        self.source = None;
        let op = crate::machine::deferred::cc_op(d.kind, self.ty(d.a).bits());
        let op = self.iconst(Type::I8, op as u64);
        self.set(self.x.cc_op, op);
        let a = self.resize(Type::I64, d.a);
        self.set(self.x.cc_a, a);
        let b = self.resize(Type::I64, d.b);
        self.set(self.x.cc_b, b);
        for s in &self.x.flags[..DF] {
            self.cache[s.0 as usize] = None;
        }
        self.flags = FlagState::Deferred(d);
    }

    pub fn set_flag_const(&mut self, f: usize, on: bool) {
        let v = self.iconst(Type::I1, on as u64);
        self.set_flag(f, v);
    }

    pub fn flag_source(&self) -> Option<FlagSource> {
        self.source
    }

    pub fn set_flag_source(&mut self, source: FlagSource) {
        self.source = Some(source);
    }

    // ---- registers ----

    /// Reads a general-purpose register of any size (AH..BH included).
    pub fn read_gpr(&mut self, reg: Register) -> Value {
        let full = self.get(self.x.gpr[gpr_index(reg)]);
        if is_high_byte(reg) {
            let k = self.iconst(Type::I64, 8);
            let shifted = self.op(Opcode::Lshr, &[full, k]);
            return self.resize(Type::I8, shifted);
        }
        self.resize(int_type(reg.size()), full)
    }

    /// Writes a general-purpose register with x86's rules: 32-bit writes
    /// zero the upper half, 8- and 16-bit writes keep the other bits.
    pub fn write_gpr(&mut self, reg: Register, v: Value) {
        let new = self.merge_gpr(reg, v);
        self.set(self.x.gpr[gpr_index(reg)], new);
    }

    /// Writes a register as `write_gpr` does when `c` is 1; when `c` is 0
    /// the whole register is kept (a 32-bit write does not zero-extend).
    pub fn write_gpr_if(&mut self, reg: Register, c: Value, v: Value) {
        let slot = self.x.gpr[gpr_index(reg)];
        let old = self.get(slot);
        let new = self.merge_gpr(reg, v);
        let kept = self.select(c, new, old);
        self.set(slot, kept);
    }

    /// The full 64-bit register after writing `v` to `reg`.
    fn merge_gpr(&mut self, reg: Register, v: Value) -> Value {
        let slot = self.x.gpr[gpr_index(reg)];
        match reg.size() {
            8 => v,
            4 => self.resize(Type::I64, v),
            size => {
                let (shift, width) = if is_high_byte(reg) { (8, 8) } else { (0, size as u32 * 8) };
                let old = self.get(slot);
                let keep = self.iconst(Type::I64, !(((1u64 << width) - 1) << shift));
                let kept = self.op(Opcode::And, &[old, keep]);
                let mut part = self.resize(Type::I64, v);
                if shift != 0 {
                    let k = self.iconst(Type::I64, shift);
                    part = self.op(Opcode::Shl, &[part, k]);
                }
                self.op(Opcode::Or, &[kept, part])
            }
        }
    }

    pub fn read_gpr64(&mut self, index: usize) -> Value {
        self.get(self.x.gpr[index])
    }

    pub fn write_gpr64(&mut self, index: usize, v: Value) {
        self.set(self.x.gpr[index], v);
    }

    // ---- vector registers ----

    fn xmm_slot(&self, reg: Register) -> Slot {
        self.x.xmm[reg as usize - Register::XMM0 as usize]
    }

    /// A vector register as a v128: an XMM register, or an MMX register in
    /// the low 64 bits, zero above.
    pub fn read_vreg(&mut self, reg: Register) -> Value {
        if let Some(i) = stand_in_index(reg) {
            let f = self.vex.as_ref().expect("stand-in registers only while lifting a VEX form");
            return f.writes[i].or(f.reads[i]).expect("stand-in register with a value");
        }
        if reg.is_mm() {
            let v = self.read_mm(reg);
            return self.widen(v);
        }
        self.get(self.xmm_slot(reg))
    }

    /// Writes a vector register: an XMM register, or an MMX register from
    /// the low 64 bits of `v`.
    pub fn write_vreg(&mut self, reg: Register, v: Value) {
        if let Some(i) = stand_in_index(reg) {
            self.vex.as_mut().expect("stand-in registers only while lifting a VEX form").writes[i] = Some(v);
            return;
        }
        if reg.is_xmm() && self.vex.is_some() {
            // A VEX form's implicit XMM destination (PCMPESTRM's XMM0)
            // has its upper half zeroed too.
            let zero = self.vconst(0);
            self.set(self.x.ymmh[reg as usize - Register::XMM0 as usize], zero);
        }
        if reg.is_mm() {
            let low = self.b.ins(Opcode::Vextract, Some(Type::I64x2), Imm::Lane(0), &[v]);
            return self.write_mm(reg, low);
        }
        self.set(self.xmm_slot(reg), v);
    }

    /// An MMX register as an i64.
    fn read_mm(&mut self, reg: Register) -> Value {
        self.get(self.x.mm[mm_index(reg)])
    }

    /// Writes an MMX register (an i64): the significand of its x87
    /// register, whose sign and exponent become all ones.
    fn write_mm(&mut self, reg: Register, v: Value) {
        let i = mm_index(reg);
        self.set(self.x.mm[i], v);
        let ones = self.iconst(Type::I16, 0xffff);
        self.set(self.x.fpr_exp[i], ones);
    }

    /// Bytes of the instruction's vector registers: 8 when the first it
    /// names is an MMX register, else 16.
    pub fn vector_width(&self) -> usize {
        let first = (0..self.insn.op_count())
            .filter(|&i| self.insn.op_kind(i) == OpKind::Register)
            .map(|i| self.insn.op_register(i))
            .find(|r| r.is_mm() || r.is_xmm());
        match first {
            Some(r) if r.is_mm() => 8,
            _ => 16,
        }
    }

    /// An integer of up to 128 bits in the low bits of a v128, the rest zero.
    pub fn widen(&mut self, v: Value) -> Value {
        let wide = self.resize(Type::I128, v);
        self.b.ins(Opcode::Bitcast, Some(Type::V128), Imm::None, &[wide])
    }

    /// The operands of an operation over the concatenation `a:b` (`a` low)
    /// whose 128-bit form takes one register for each half (PACK, PHADD,
    /// PALIGNR): XMM values as they are; MMX values joined into one vector,
    /// with a zero vector as the other half, so the 128-bit operation's low
    /// 64 bits are the MMX result.
    pub fn joined(&mut self, a: Value, b: Value) -> (Value, Value) {
        if self.vector_width() == 16 {
            return (a, b);
        }
        let low_halves = std::array::from_fn(|i| if i < 8 { i as u8 } else { i as u8 + 8 });
        let both = self.b.ins(Opcode::Vshuffle, None, Imm::Shuffle(low_halves), &[a, b]);
        (both, self.vconst(0))
    }

    // ---- the x87 state MMX shares ----

    /// Does the instruction name an MMX register?
    pub(super) fn names_mmx(&self) -> bool {
        (0..self.insn.op_count()).any(|i| self.insn.op_kind(i) == OpKind::Register && self.insn.op_register(i).is_mm())
    }

    /// #MF while an unmasked x87 exception is pending (FSW.ES), as every
    /// MMX instruction checks first. Not again once the block has made the
    /// transition: only the x87 helper sets ES, and calling it forgets that.
    fn check_x87_pending(&mut self) {
        if self.mmx {
            return;
        }
        let fsw = self.get(self.x.fsw);
        let es = self.iconst(Type::I16, FSW_ES);
        let pending = self.op(Opcode::And, &[fsw, es]);
        let pending = self.icmp_imm(IntCC::Ne, pending, 0);
        self.b.trap_if(pending, MF);
    }

    /// The x87-to-MMX transition: TOP 0, every tag valid.
    pub(super) fn enter_mmx(&mut self) {
        if self.mmx {
            return;
        }
        self.set_x87_top_and_tags(0xff);
        self.mmx = true;
    }

    /// EMMS: TOP 0, every tag empty (#MF first while an exception is
    /// pending).
    pub fn empty_mmx(&mut self) {
        self.check_x87_pending();
        self.set_x87_top_and_tags(0);
        self.mmx = false;
    }

    fn set_x87_top_and_tags(&mut self, tags: u64) {
        let fsw = self.get(self.x.fsw);
        let keep = self.iconst(Type::I16, !FSW_TOP & 0xffff);
        let fsw = self.op(Opcode::And, &[fsw, keep]);
        self.set(self.x.fsw, fsw);
        let ftw = self.iconst(Type::I8, tags);
        self.set(self.x.ftw, ftw);
    }

    /// A v128 constant.
    pub fn vconst(&mut self, bits: u128) -> Value {
        self.b.ins(Opcode::Const, Some(Type::V128), Imm::Const(bits.into()), &[])
    }

    /// A lane-wise operation of a shape.
    pub fn vop(&mut self, op: Opcode, shape: Type, args: &[Value]) -> Value {
        self.b.ins(op, Some(shape), Imm::None, args)
    }

    /// `dst = f(dst, src)` on vector registers: `xmm, xmm/m128` (the m128
    /// aligned) or `mm, mm/m64`.
    pub fn vec_binary(&mut self, f: impl FnOnce(&mut Self, Value, Value) -> Value) -> Flow {
        let b = self.read_vector(1, true);
        let dst = self.insn.op0_register();
        let a = self.read_vreg(dst);
        let v = f(self, a, b);
        self.write_vreg(dst, v);
        Flow::Next
    }

    /// `dst = dst op src`, lane-wise in `shape`.
    pub fn vec_lanes(&mut self, op: Opcode, shape: Type) -> Flow {
        self.vec_binary(|cx, a, b| cx.vop(op, shape, &[a, b]))
    }

    /// Operand `i` as a whole vector: a vector register, or the memory
    /// operand's bytes (see `load_vector`).
    pub fn read_vector(&mut self, i: u32, aligned: bool) -> Value {
        match self.insn.op_kind(i) {
            OpKind::Register => self.read_vreg(self.insn.op_register(i)),
            _ => {
                let addr = self.address();
                let bytes = self.insn.memory_size().size();
                self.load_vector(addr, bytes, aligned)
            }
        }
    }

    /// `bytes` of memory as a v128: 16 bytes, which must be 16-byte aligned
    /// when `aligned` (else #GP), or fewer (the m64 and m32 of the MMX and
    /// some SSE forms, never aligned) in the low bits, zero above.
    pub fn load_vector(&mut self, addr: Value, bytes: usize, aligned: bool) -> Value {
        if bytes == 16 {
            let aligned = aligned && !self.vex.as_ref().is_some_and(|f| f.unaligned);
            return self.b.load(Type::V128, addr, MemFlags { aligned });
        }
        let v = self.load(int_type(bytes), addr);
        self.widen(v)
    }

    /// Stores a whole vector register (16 bytes, 16-byte aligned when
    /// `aligned`, with a VEX form's rules).
    pub fn store_vector(&mut self, v: Value, addr: Value, aligned: bool) {
        super::fpexc::record_gathered(self);
        let (unaligned, probe) = self.vex.as_ref().map_or((false, false), |f| (f.unaligned, f.probe_store));
        if probe {
            // Rewrite the second half with itself: it faults now if it
            // would fault later, before the first half is written.
            let high = self.offset(addr, 16);
            let old = self.b.load(Type::V128, high, MemFlags::default());
            self.b.store(old, high, MemFlags::default());
        }
        self.b.store(v, addr, MemFlags { aligned: aligned && !unaligned });
    }

    /// XMM0, the selector of BLENDVPS BLENDVPD PBLENDVB, or the register a
    /// VEX form names instead.
    pub fn read_selector(&mut self) -> Value {
        let reg = self.vex.as_ref().and_then(|f| f.selector).unwrap_or(Register::XMM0);
        self.read_vreg(reg)
    }

    /// Operand `i` as a scalar of `ty` (f32, f64, i32, i64): the low lane of
    /// an XMM register, the low bits of an MMX register (an integer `ty`)
    /// or a general one, or `ty`'s bytes of memory.
    pub fn read_scalar(&mut self, i: u32, ty: Type) -> Value {
        match self.insn.op_kind(i) {
            OpKind::Register if self.insn.op_register(i).is_xmm() => {
                let v = self.read_vreg(self.insn.op_register(i));
                let shape = lane_shape(ty);
                self.b.ins(Opcode::Vextract, Some(shape), Imm::Lane(0), &[v])
            }
            OpKind::Register if self.insn.op_register(i).is_mm() => {
                let v = self.read_mm(self.insn.op_register(i));
                self.resize(ty, v)
            }
            OpKind::Register => {
                let v = self.read_gpr(self.insn.op_register(i));
                if ty.is_float() { self.b.ins(Opcode::Bitcast, Some(ty), Imm::None, &[v]) } else { v }
            }
            _ => {
                let addr = self.address();
                self.load(ty, addr)
            }
        }
    }

    /// Replaces the low lane (of `v`'s type: f32, f64, i32, i64) of an XMM
    /// register, keeping the other lanes.
    pub fn write_low(&mut self, reg: Register, v: Value) {
        let old = self.read_vreg(reg);
        let shape = lane_shape(self.ty(v));
        let new = self.b.ins(Opcode::Vinsert, Some(shape), Imm::Lane(0), &[old, v]);
        self.write_vreg(reg, new);
    }

    // ---- memory ----

    /// The base of the memory operand's segment: FS and GS have one, the
    /// other segments have base 0 in 64-bit mode.
    pub fn segment_base(&mut self) -> Option<Value> {
        match self.insn.memory_segment() {
            Register::FS => Some(self.get(self.x.fs_base)),
            Register::GS => Some(self.get(self.x.gs_base)),
            _ => None,
        }
    }

    /// The effective address of the memory operand, segment base included.
    pub fn address(&mut self) -> Value {
        let insn = self.insn;
        let seg_base = self.segment_base();
        let base_reg = insn.memory_base();
        let index_reg = insn.memory_index();
        let narrow = base_reg.size() == 4 || index_reg.size() == 4 || (base_reg == Register::EIP);
        let mut addr = if insn.is_ip_rel_memory_operand() {
            self.iconst(Type::I64, insn.ip_rel_memory_address())
        } else {
            let mut acc = None;
            if base_reg != Register::None {
                acc = Some(self.read_gpr64(gpr_index(base_reg)));
            }
            if index_reg != Register::None {
                let mut idx = self.read_gpr64(gpr_index(index_reg));
                let scale = insn.memory_index_scale();
                if scale > 1 {
                    let k = self.iconst(Type::I64, scale.trailing_zeros() as u64);
                    idx = self.op(Opcode::Shl, &[idx, k]);
                }
                acc = Some(match acc {
                    Some(a) => self.op(Opcode::Iadd, &[a, idx]),
                    None => idx,
                });
            }
            let disp = insn.memory_displacement64();
            match acc {
                Some(a) if disp == 0 => a,
                Some(a) => {
                    let k = self.iconst(Type::I64, disp);
                    self.op(Opcode::Iadd, &[a, k])
                }
                None => self.iconst(Type::I64, disp),
            }
        };
        if narrow {
            let low = self.resize(Type::I32, addr);
            addr = self.resize(Type::I64, low);
        }
        match seg_base {
            Some(base) => self.op(Opcode::Iadd, &[base, addr]),
            None => addr,
        }
    }

    pub fn load(&mut self, ty: Type, addr: Value) -> Value {
        self.b.load(ty, addr, MemFlags::default())
    }

    pub fn store(&mut self, v: Value, addr: Value) {
        super::fpexc::record_gathered(self);
        self.b.store(v, addr, MemFlags::default());
    }

    /// Adds a constant to an address.
    pub fn offset(&mut self, addr: Value, delta: i64) -> Value {
        if delta == 0 {
            return addr;
        }
        let k = self.iconst(Type::I64, delta as u64);
        self.op(Opcode::Iadd, &[addr, k])
    }

    // ---- operands ----

    /// The integer type of operand `i` (immediates take the first operand's size).
    pub fn operand_type(&self, i: u32) -> Type {
        match self.insn.op_kind(i) {
            OpKind::Register => int_type(self.insn.op_register(i).size()),
            OpKind::Memory => int_type(mem_bytes(self.insn.memory_size())),
            _ => self.operand_type(0),
        }
    }

    /// Reads operand `i`; immediates are sign- or zero-extended as encoded,
    /// to the type of operand 0 when `i > 0`.
    pub fn read_operand(&mut self, i: u32) -> Value {
        match self.insn.op_kind(i) {
            OpKind::Register => self.read_gpr(self.insn.op_register(i)),
            OpKind::Memory => {
                let addr = self.address();
                let ty = self.operand_type(i);
                self.load(ty, addr)
            }
            _ => {
                let ty = if i == 0 { Type::I64 } else { self.operand_type(0) };
                let imm = self.insn.immediate(i);
                self.iconst(ty, imm)
            }
        }
    }

    /// Writes operand `i` (a register or memory).
    pub fn write_operand(&mut self, i: u32, v: Value) {
        match self.insn.op_kind(i) {
            OpKind::Register => self.write_gpr(self.insn.op_register(i), v),
            OpKind::Memory => {
                let addr = self.address();
                self.store(v, addr);
            }
            k => panic!("write to operand kind {k:?}"),
        }
    }

    pub fn is_memory(&self, i: u32) -> bool {
        self.insn.op_kind(i) == OpKind::Memory
    }

    // ---- block ends ----

    pub fn exit(&mut self, reason: ExitReason, resume: u64) -> Flow {
        self.b.exit(reason, resume);
        Flow::End
    }
}

/// Bytes of a memory operand of integer kind.
pub fn mem_bytes(size: MemorySize) -> usize {
    size.size()
}
