//! Vector constants of blocks that use many: loaded from a table at each
//! guest instruction that uses them, rather than defined once for the
//! whole function.
//!
//! Cranelift merges equal constants function-wide, so a constant used
//! throughout a long block is one value live from its first use to its
//! last. A few stay in registers, which pays; many (a CRC32's sixteen
//! columns, say) outnumber the vector registers, so they are spilled and
//! reloaded anyway, and their long live ranges make register allocation
//! costly. Loads through a base value pinned at each guest instruction
//! (see `Lower::settle_pending` for the pinning) are merged within that
//! instruction only.

use super::*;

/// Most distinct vector constants a block may use and still define each
/// once: half the vector registers of the smallest register file among
/// the hosts (x86-64's sixteen).
const MAX_SHARED: usize = 8;

/// The localized vector constants of a block.
pub(super) struct Consts {
    /// By value: its index in `table` when the value is a localized constant.
    index: Vec<Option<usize>>,
    /// The constants, each as its lanes' bytes in order (lane 0's first,
    /// whatever the host's byte order); the code holds their address, so
    /// they must not move.
    pub table: Box<[[u8; 16]]>,
    /// The table's base as pinned for a guest instruction (by its count
    /// of instructions completed).
    base: Option<(u32, ir::Value)>,
}

impl Consts {
    /// The constants of `block`, localized when there are more than `MAX_SHARED`.
    pub(super) fn new(block: &Block) -> Consts {
        let mut index = vec![None; block.types.len()];
        let mut table: Vec<u128> = Vec::new();
        for inst in &block.insts {
            if let (Opcode::Const, Imm::Const(bits), Some(Type::V128)) = (inst.op, inst.imm, inst.ty) {
                let bits = bits.get();
                let at = table.iter().position(|b| *b == bits).unwrap_or_else(|| {
                    table.push(bits);
                    table.len() - 1
                });
                for v in inst.results() {
                    index[v.0 as usize] = Some(at);
                }
            }
        }
        if table.len() <= MAX_SHARED {
            index.fill(None);
            table.clear();
        }
        Consts { index, table: table.into_iter().map(u128::to_le_bytes).collect(), base: None }
    }
}

impl Lower<'_, '_> {
    /// The value of `v` where the current guest instruction uses it: a
    /// localized constant is loaded (once per instruction), anything else
    /// is the value lowered where it was defined.
    pub(super) fn operand(&mut self, v: Value) -> ir::Value {
        let Some(at) = self.consts.index[v.0 as usize] else { return self.val(v) };
        let epoch = self.completed;
        let base = match self.consts.base {
            Some((e, base)) if e == epoch => base,
            _ => {
                let table = self.symbol(Target::Consts);
                let base = self.pin(table);
                self.consts.base = Some((epoch, base));
                base
            }
        };
        let flags = MemFlagsData::trusted().with_readonly().with_can_move();
        self.b.ins().load(types::I8X16, flags, base, 16 * at as i32)
    }
}
