//! Guest memory accesses of a block grouped by base address: accesses at
//! constant offsets from one SSA value (a stack pointer, a structure
//! pointer) share one check of the span they cover, so that pushes, pops
//! and field accesses on the same pages need no check of their own when it
//! passes (each access is still checked on its own when it fails, so a
//! fault is reported at the access that makes it).

use crate::visa::{Block, Imm, Opcode, Value};

/// Fewest accesses that make a group: one span check costs about what two
/// accesses' own checks do.
const MIN_MEMBERS: usize = 3;

/// Widest span a group may cover: two pages at most, so the first and last
/// byte's pages are all there is to check.
const MAX_SPAN: i128 = crate::machine::PAGE_SIZE as i128;

/// How deep a chain of constant additions is followed to its base (a run
/// of pushes adds to the stack pointer once per push).
const MAX_CHAIN: usize = 16;

/// Accesses at `base + lo` to `base + hi` (exclusive), modulo 2^64; with
/// no base, at absolute addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    pub base: Option<Value>,
    pub lo: i128,
    pub hi: i128,
    /// Some access of the group stores.
    pub write: bool,
}

/// The groups of a block, and the group of each instruction (`None`: not a
/// load or store, or in a group too small or too wide to check as one).
pub fn groups(block: &Block) -> (Vec<Option<usize>>, Vec<Group>) {
    let mut def = vec![None; block.types.len()];
    for (i, inst) in block.insts.iter().enumerate() {
        for v in inst.results() {
            def[v.0 as usize] = Some(i);
        }
    }
    let constant = |v: Value| match def[v.0 as usize].map(|i| &block.insts[i]) {
        Some(inst) if inst.op == Opcode::Const => match inst.imm {
            Imm::Const(bits) => Some(bits as u64 as i64),
            _ => None,
        },
        _ => None,
    };
    // An address is a base plus constants (through a chain of additions),
    // a base alone, or a constant.
    let split = |addr: Value| -> (Option<Value>, i64) {
        let (mut base, mut offset) = (addr, 0i64);
        for _ in 0..MAX_CHAIN {
            if let Some(k) = constant(base) {
                return (None, offset.wrapping_add(k));
            }
            let Some(inst) = def[base.0 as usize].map(|i| &block.insts[i]) else { break };
            if inst.op != Opcode::Iadd {
                break;
            }
            let a = block.args(inst);
            match (constant(a[0]), constant(a[1])) {
                (_, Some(k)) => (base, offset) = (a[0], offset.wrapping_add(k)),
                (Some(k), None) => (base, offset) = (a[1], offset.wrapping_add(k)),
                (None, None) => break,
            }
        }
        (Some(base), offset)
    };
    let mut of_inst = vec![None; block.insts.len()];
    let mut groups: Vec<Group> = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    for (i, inst) in block.insts.iter().enumerate() {
        let (addr, size, write) = match inst.op {
            Opcode::Load => (block.args(inst)[0], inst.ty.map_or(0, |t| t.bytes()), false),
            Opcode::Store => {
                let a = block.args(inst);
                (a[1], block.value_type(a[0]).bytes(), true)
            }
            _ => continue,
        };
        let (base, k) = split(addr);
        let (lo, hi) = (k as i128, k as i128 + size as i128);
        let g = match groups.iter().position(|g| g.base == base) {
            Some(g) => {
                let group = &mut groups[g];
                group.lo = group.lo.min(lo);
                group.hi = group.hi.max(hi);
                group.write |= write;
                members[g] += 1;
                g
            }
            None => {
                groups.push(Group { base, lo, hi, write });
                members.push(1);
                groups.len() - 1
            }
        };
        of_inst[i] = Some(g);
    }
    for g in of_inst.iter_mut() {
        if let Some(n) = *g
            && (members[n] < MIN_MEMBERS || groups[n].hi - groups[n].lo > MAX_SPAN)
        {
            *g = None;
        }
    }
    (of_inst, groups)
}
