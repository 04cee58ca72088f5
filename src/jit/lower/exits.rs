//! How lowered code leaves: direct and indirect exits (linked to the
//! compiled successor where known), the loop's back edge, traps with the
//! guest instruction that made them, and the budget refund.

use super::*;
use crate::jit::runtime::EXIT_REPLAY;

/// The shared tails of a function (see `Lower::tail`).
#[derive(Clone, Copy)]
pub(super) enum Tail {
    /// Records a trap (code, guest instruction, instructions completed,
    /// fault address and whether there is one), refunds the budget and
    /// returns `EXIT_TRAP`.
    Trap,
    /// Returns its parameter, the exit kind.
    Return,
    /// Refunds the whole block's budget and returns `EXIT_REPLAY` with the
    /// block's address, storing no state (see `access::replayable`).
    Replay,
}

impl Tail {
    pub(super) const COUNT: usize = 3;

    fn params(self) -> &'static [ir::Type] {
        match self {
            Tail::Trap => &[types::I32, types::I64, types::I32, types::I64, types::I32],
            Tail::Return => &[types::I32],
            Tail::Replay => &[],
        }
    }
}

/// Where the failed checks of one guest instruction go (`trap_if_shared`).
#[derive(Clone, Copy)]
pub(super) enum Fail {
    /// A cold block that reports the trap, or leaves for the interpreter,
    /// with the state exact.
    Trap(ir::Block),
    /// Giving up on the block (`Lower::replay_if`).
    Replay,
}

impl Lower<'_, '_> {
    /// The branch back to the block's start, having run `executed` of its
    /// instructions: when the budget pays for another whole round (and no
    /// interrupt is pending), the carried slots go round in registers and
    /// only the other live writes are stored (the carried ones too when the
    /// block may give up on a round, `replayable`, which then starts from
    /// the state record as a block does); else the block leaves with the
    /// state exact.
    pub(super) fn back_edge(&mut self, executed: u32) {
        let off = offset_of!(JitCtx, budget) as i32;
        // The budget holds what is left after paying for the whole round;
        // this round ran `executed`, so `budget + insts - executed` is left,
        // and another round leaves `budget - executed`.
        let budget = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, off);
        let again = self.b.ins().iadd_imm_s(budget, -(executed as i64));
        let short = self.b.ins().icmp_imm_s(condcodes::IntCC::SignedLessThan, again, 0);
        let spent = self.b.create_block();
        self.b.set_cold_block(spent);
        branch_if_spent(&mut self.b, short, self.interrupt, spent);
        let go = self.b.current_block().expect("a block to go on in");
        self.b.switch_to_block(spent);
        let left = self.b.ins().iadd_imm_s(budget, self.insts as i64 - executed as i64);
        self.b.ins().store(MemFlagsData::trusted(), left, self.ctx, off);
        let pc = self.iconst(types::I64, self.block.addr as i64);
        self.exit_jump(EXIT_JUMP, pc);
        self.b.switch_to_block(go);
        self.b.ins().store(MemFlagsData::trusted(), again, self.ctx, off);
        let args: Vec<ir::Value> = self.carried.clone().into_iter().map(|s| self.slot_value(s)).collect();
        let mut skip = self.dead_at_start.clone();
        if !self.replayable.contains(&true) {
            self.carried.iter().for_each(|s| skip[*s] = true);
        }
        self.store_pending_except(&skip);
        let args: Vec<ir::BlockArg> = args.into_iter().map(ir::BlockArg::Value).collect();
        self.b.ins().jump(self.body, &args);
    }

    /// Leaves for `target` having run `executed` of the block's instructions.
    pub(super) fn leave(&mut self, executed: u32, target: u64) {
        if self.loops && target == self.block.addr {
            return self.back_edge(executed);
        }
        self.refund(executed);
        self.exit_direct(target);
    }

    /// Returns `kind` to the caller, the pending state stored.
    pub(super) fn ret(&mut self, kind: u32) {
        self.store_pending();
        self.ret_stored(kind);
    }

    /// Returns `kind` to the caller, the pending state already stored.
    fn ret_stored(&mut self, kind: u32) {
        let k = self.iconst(types::I32, kind as i64);
        let tail = self.tail(Tail::Return);
        self.b.ins().jump(tail, &[ir::BlockArg::Value(k)]);
    }

    /// Continues in a new block when `cond` is 0; runs `cold` (which must end
    /// the function) when it is 1.
    pub(super) fn side(&mut self, cond: ir::Value, cold: impl FnOnce(&mut Self)) {
        let (cold_block, next) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(cold_block);
        self.b.ins().brif(cond, cold_block, &[], next, &[]);
        self.b.switch_to_block(cold_block);
        cold(self);
        self.b.switch_to_block(next);
    }

    /// Gives back the budget of the block's instructions that will not run
    /// when it leaves having run `executed` of them.
    pub(super) fn refund(&mut self, executed: u32) {
        let unused = self.insts.saturating_sub(executed);
        if unused > 0 {
            let off = offset_of!(JitCtx, budget) as i32;
            let b = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, off);
            let b = self.b.ins().iadd_imm_s(b, unused as i64);
            self.b.ins().store(MemFlagsData::trusted(), b, self.ctx, off);
        }
    }

    /// Guest instructions run when the current one completes.
    pub(super) fn through_current(&self) -> u32 {
        if self.started { self.completed + 1 } else { 0 }
    }

    /// Leaves for a known guest address: straight into its compiled block
    /// when the link cell holds one, else back to the dispatcher. The
    /// pending state is stored once, before the two ways part.
    pub(super) fn exit_direct(&mut self, target: u64) {
        let cell = self.links.cells.iter().position(|(t, _)| *t == target);
        let pc = self.iconst(types::I64, target as i64);
        let Some(cell) = cell else {
            return self.exit_jump(EXIT_JUMP, pc);
        };
        let cell_addr = self.symbol(Target::Cell(cell as u32));
        let next = self.b.ins().load(types::I64, MemFlagsData::new().with_notrap(), cell_addr, 0);
        self.store_pending();
        let (linked, unlinked) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(next, linked, &[], unlinked, &[]);
        self.b.switch_to_block(linked);
        let sig = self.sig_block;
        self.b.ins().return_call_indirect(sig, next, &[self.ctx]);
        self.b.switch_to_block(unlinked);
        self.ctx_store(types::I64, cell_addr, offset_of!(JitCtx, exit_link));
        self.ctx_store(types::I64, pc, offset_of!(JitCtx, exit_pc));
        self.ret_stored(EXIT_JUMP);
    }

    /// Leaves for a computed guest address: through the indirect-jump table
    /// when it knows the address, else back to the dispatcher (the pending
    /// state stored before the two ways part).
    pub(super) fn exit_indirect(&mut self, target: ir::Value) {
        let off = offset_of!(JitCtx, ind_table) as i32;
        let table = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, off);
        // `runtime::ind_slot`, scaled to the entry's size.
        let mixed = self.b.ins().imul_imm_u(target, runtime::ADDR_HASH as i64);
        let slot = self.b.ins().ushr_imm_u(mixed, 64 - runtime::IND_BITS as i64);
        let scaled = self.b.ins().ishl_imm_u(slot, std::mem::size_of::<IndEntry>().trailing_zeros() as i64);
        let entry = self.b.ins().iadd(table, scaled);
        let flags = MemFlagsData::new().with_notrap();
        let guest = self.b.ins().load(types::I64, flags, entry, offset_of!(IndEntry, guest) as i32);
        let code = self.b.ins().load(types::I64, flags, entry, offset_of!(IndEntry, code) as i32);
        // Any address can be a guest's, so an empty entry is told by its code.
        let same = self.b.ins().icmp(condcodes::IntCC::Equal, guest, target);
        let filled = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, code, 0);
        let hit = self.b.ins().band(same, filled);
        self.store_pending();
        let (linked, unlinked) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(hit, linked, &[], unlinked, &[]);
        self.b.switch_to_block(linked);
        let sig = self.sig_block;
        self.b.ins().return_call_indirect(sig, code, &[self.ctx]);
        self.b.switch_to_block(unlinked);
        self.ctx_store(types::I64, target, offset_of!(JitCtx, exit_pc));
        self.ret_stored(EXIT_INDIRECT);
    }

    /// Reports a trap at the current guest instruction and returns: the
    /// pending state is stored here, the rest is the shared trap tail's.
    /// `fault_addr`: the address of a faulting access; `None` with a
    /// dynamic code, a runtime function that trapped has set it itself.
    pub(super) fn trap_now(
        &mut self,
        code: Option<TrapCode>,
        dynamic_code: Option<ir::Value>,
        fault_addr: Option<ir::Value>,
    ) {
        let code = match dynamic_code {
            Some(c) => c,
            None => self.iconst(types::I32, code.expect("a trap code").code() as i64),
        };
        let (addr, has_addr) = match fault_addr {
            Some(a) => (a, self.iconst(types::I32, 1)),
            None if dynamic_code.is_some() => {
                let flags = MemFlagsData::trusted();
                let a = self.b.ins().load(types::I64, flags, self.ctx, offset_of!(JitCtx, trap_addr) as i32);
                let h = self.b.ins().load(types::I32, flags, self.ctx, offset_of!(JitCtx, has_trap_addr) as i32);
                (a, h)
            }
            None => (self.iconst(types::I64, 0), self.iconst(types::I32, 0)),
        };
        let guest = self.iconst(types::I64, self.guest as i64);
        let completed = self.iconst(types::I32, self.completed as i64);
        self.store_pending();
        let tail = self.tail(Tail::Trap);
        let args = [code, guest, completed, addr, has_addr].map(ir::BlockArg::Value);
        self.b.ins().jump(tail, &args);
    }

    /// One of the function's shared tails, created on first use (and
    /// filled by `fill_tails`): every path that leaves the same way ends
    /// in one copy of the code, so a block with many faulting accesses
    /// has one epilogue rather than one per access.
    fn tail(&mut self, which: Tail) -> ir::Block {
        if let Some(b) = self.tails[which as usize] {
            return b;
        }
        let b = self.b.create_block();
        self.b.set_cold_block(b);
        for ty in which.params() {
            self.b.append_block_param(b, *ty);
        }
        self.tails[which as usize] = Some(b);
        b
    }

    /// Fills the shared tails the function uses (when every other block is).
    pub(super) fn fill_tails(&mut self) {
        if let Some(b) = self.tails[Tail::Trap as usize] {
            self.b.switch_to_block(b);
            let p = self.b.block_params(b).to_vec();
            self.ctx_store(types::I32, p[0], offset_of!(JitCtx, trap_code));
            self.ctx_store(types::I64, p[1], offset_of!(JitCtx, trap_guest));
            self.ctx_store(types::I32, p[2], offset_of!(JitCtx, trap_completed));
            self.ctx_store(types::I64, p[3], offset_of!(JitCtx, trap_addr));
            self.ctx_store(types::I32, p[4], offset_of!(JitCtx, has_trap_addr));
            // Give back the instructions that will not run: all from the
            // trapping one on.
            let off = offset_of!(JitCtx, budget) as i32;
            let budget = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, off);
            let completed = self.b.ins().uextend(types::I64, p[2]);
            let unused = self.b.ins().isub(budget, completed);
            let left = self.b.ins().iadd_imm_s(unused, self.insts as i64);
            self.b.ins().store(MemFlagsData::trusted(), left, self.ctx, off);
            let kind = self.iconst(types::I32, EXIT_TRAP as i64);
            let exit = self.tail(Tail::Return);
            self.b.ins().jump(exit, &[ir::BlockArg::Value(kind)]);
        }
        if let Some(b) = self.tails[Tail::Replay as usize] {
            self.b.switch_to_block(b);
            self.refund(0);
            let pc = self.iconst(types::I64, self.block.addr as i64);
            self.ctx_store(types::I64, pc, offset_of!(JitCtx, exit_pc));
            let kind = self.iconst(types::I32, EXIT_REPLAY as i64);
            let exit = self.tail(Tail::Return);
            self.b.ins().jump(exit, &[ir::BlockArg::Value(kind)]);
        }
        if let Some(b) = self.tails[Tail::Return as usize] {
            self.b.switch_to_block(b);
            let kind = self.b.block_params(b)[0];
            self.b.ins().return_(&[kind]);
        }
    }

    pub(super) fn trap_if(&mut self, cond: ir::Value, code: TrapCode, fault_addr: Option<ir::Value>) {
        self.trap_if_shared(cond, code, fault_addr);
    }

    /// `trap_if`, returning where it fails (the cold block that traps, or
    /// giving the block up where `replayable` allows) for later checks of
    /// the same instruction to share (`fail_if`) while the state stays as
    /// it is.
    pub(super) fn trap_if_shared(&mut self, cond: ir::Value, code: TrapCode, fault_addr: Option<ir::Value>) -> Fail {
        self.fail_shared(cond, |l| l.trap_now(Some(code), None, fault_addr))
    }

    /// Leaves before the current guest instruction for the interpreter to
    /// run on from there when `cond` is 1 (or gives the block up where
    /// `replayable` allows), returning where later checks of the same
    /// instruction go (`fail_if`).
    pub(super) fn leave_if_shared(&mut self, cond: ir::Value) -> Fail {
        self.fail_shared(cond, |l| l.exit_to_interpreter())
    }

    /// A first failing check of the instruction: giving the block up where
    /// `replayable` allows, else a cold block that `fill` makes.
    fn fail_shared(&mut self, cond: ir::Value, fill: impl FnOnce(&mut Self)) -> Fail {
        if self.replayable[self.at] {
            self.replay_if(cond);
            return Fail::Replay;
        }
        let (cold, next) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(cold);
        self.b.ins().brif(cond, cold, &[], next, &[]);
        self.b.switch_to_block(cold);
        fill(self);
        self.b.switch_to_block(next);
        Fail::Trap(cold)
    }

    /// A later check of the instruction: fails as `fail` says.
    pub(super) fn fail_if(&mut self, cond: ir::Value, fail: Fail) {
        match fail {
            Fail::Trap(cold) => self.branch_if(cond, cold),
            Fail::Replay => self.replay_if(cond),
        }
    }

    /// Gives up on the block when `cond` is 1, for the interpreter to run it
    /// from its start (where `replayable` allows): a trap where the host
    /// catches it (`replay`), else a branch to the shared replay tail.
    pub(super) fn replay_if(&mut self, cond: ir::Value) {
        if replay::SUPPORTED {
            self.host_traps = true;
            self.b.ins().trapnz(cond, replay::TRAP);
        } else {
            let tail = self.tail(Tail::Replay);
            self.branch_if(cond, tail);
        }
    }

    /// Goes to `target` when `cond` is 1, else on in a new block.
    pub(super) fn branch_if(&mut self, cond: ir::Value, target: ir::Block) {
        let next = self.b.create_block();
        self.b.ins().brif(cond, target, &[], next, &[]);
        self.b.switch_to_block(next);
    }

    /// Gives up on the block for the interpreter to run it again from its
    /// start (`Outcome::Replay`) where that is allowed, else leaves before
    /// the current guest instruction for the interpreter to run it.
    pub(super) fn replay_or_exit_to_interpreter(&mut self) {
        if self.replayable[self.at] {
            let replay = self.tail(Tail::Replay);
            self.b.ins().jump(replay, &[]);
        } else {
            self.exit_to_interpreter();
        }
    }

    /// Leaves before the current guest instruction for the interpreter to
    /// run it (`Outcome::Interpret`), the state as a trap leaves it.
    pub(super) fn exit_to_interpreter(&mut self) {
        self.refund(self.completed);
        let pc = self.iconst(types::I64, self.guest as i64);
        self.exit_jump(EXIT_INTERPRET, pc);
    }

    pub(super) fn exit_jump(&mut self, kind: u32, pc: ir::Value) {
        self.ctx_store(types::I64, pc, offset_of!(JitCtx, exit_pc));
        self.ret(kind);
    }
}
