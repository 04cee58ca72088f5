//! Which `set`s of 1-byte slots (flags, mostly) the operation computing
//! their value can do itself. Moving a state write earlier is exact when
//! nothing between could see the difference: only pure operations and
//! accesses to other bytes of the state may stand between the value's
//! definition and its `set` (no trap, exit, marker, call, or access to the
//! same byte).

use super::compile::{CompileError, slot_range};
use crate::visa::{Block, Env, Opcode, Type};

/// Instructions scanned between a definition and its `set`, at most.
const WINDOW: usize = 32;

#[derive(Default)]
pub(crate) struct Fusion {
    /// Per instruction: a `set` done by the instruction defining its value.
    pub folded: Vec<bool>,
    /// Per value: the offset of the 1-byte slot its definition stores to.
    pub set_of: Vec<Option<u16>>,
    /// Per value: the instruction defining it; and the `set` it moved into
    /// that instruction (working buffers, kept for the next block).
    def: Vec<u32>,
    set_at: Vec<u32>,
}

/// `v` holding `n` copies of `x`, in its own buffer.
pub(crate) fn refill<T: Clone>(mut v: Vec<T>, n: usize, x: T) -> Vec<T> {
    v.clear();
    v.resize(n, x);
    v
}

/// The results that the interpreter's fused operations can store: of
/// `icmp`, `parity`, `trunc` to `i1`, and the carry and overflow of
/// `iadd_carry` and `isub_borrow`, all on scalars.
fn storable(op: Opcode, ty: Option<Type>, result: u32) -> bool {
    let small = ty.is_some_and(|t| t.bits() <= 64 && !t.is_shape());
    small
        && match op {
            Opcode::Icmp | Opcode::Parity => result == 0,
            Opcode::Trunc => result == 0 && ty == Some(Type::I1),
            Opcode::IaddCarry | Opcode::IsubBorrow => result == 1 || result == 2,
            _ => false,
        }
}

/// The fusion of `block`'s `set`s, made in the buffers of `reuse`.
pub(crate) fn fuse_sets(env: &Env, block: &Block, state_size: usize, reuse: Fusion) -> Result<Fusion, CompileError> {
    let n = block.types.len();
    let mut def = refill(reuse.def, n, u32::MAX);
    for (i, inst) in block.insts.iter().enumerate() {
        for v in inst.results() {
            def[v.0 as usize] = i as u32;
        }
    }
    let mut fusion = Fusion {
        folded: refill(reuse.folded, block.insts.len(), false),
        set_of: refill(reuse.set_of, n, None),
        def: Vec::new(),
        set_at: Vec::new(),
    };
    let mut set_at = refill(reuse.set_at, n, u32::MAX);
    for (j, inst) in block.insts.iter().enumerate() {
        if inst.op != Opcode::Set {
            continue;
        }
        let (off, size) = slot_range(env, inst.imm, state_size)?;
        let Some(&v) = block.args(inst).first() else { continue };
        let i = def[v.0 as usize] as usize;
        if size != 1 || off > u16::MAX as u32 || i >= j || j - i > WINDOW || fusion.set_of[v.0 as usize].is_some() {
            continue;
        }
        let p = &block.insts[i];
        if !storable(p.op, p.ty, v.0 - p.first_result) {
            continue;
        }
        let quiet = block.insts[i + 1..j].iter().all(|q| match q.op {
            Opcode::Get | Opcode::Set => slot_range(env, q.imm, state_size).is_ok_and(|(o, s)| o + s <= off || o > off),
            op => op.info().effects.is_pure(),
        });
        if quiet {
            fusion.set_of[v.0 as usize] = Some(off as u16);
            fusion.folded[j] = true;
            set_at[v.0 as usize] = j as u32;
        }
    }
    // Carry and overflow are stored together or not at all.
    for inst in &block.insts {
        if matches!(inst.op, Opcode::IaddCarry | Opcode::IsubBorrow) {
            let (cf, of) = (inst.first_result as usize + 1, inst.first_result as usize + 2);
            if fusion.set_of[cf].is_some() != fusion.set_of[of].is_some() {
                for v in [cf, of] {
                    if fusion.set_of[v].take().is_some() {
                        fusion.folded[set_at[v] as usize] = false;
                    }
                }
            }
        }
    }
    fusion.def = def;
    fusion.set_at = set_at;
    Ok(fusion)
}
