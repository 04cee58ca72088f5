//! Which guest memory accesses of a block need checks of their own.
//!
//! An access whose bytes an earlier access of the block reached (the store
//! of a read-modify-write, a second access to the same field) needs none.
//! The others are grouped by base address: accesses at constant offsets
//! from one SSA value (a stack pointer, a structure pointer) share one check
//! of the span they cover, so that pushes, pops and field accesses on the
//! same pages need no check of their own (when it fails, the block leaves
//! for the interpreter at the group's first access, which reports a fault
//! at the access that makes it).

use crate::visa::{Block, Effects, Imm, Opcode, Value};

/// Fewest accesses that make a group: one span check costs about what two
/// accesses' own checks do.
const MIN_MEMBERS: usize = 3;

/// Widest span a group may cover: two pages at most, so the first and last
/// byte's pages are all there is to check.
const MAX_SPAN: i128 = crate::machine::PAGE_SIZE as i128;

/// How deep a chain of constant additions is followed to its base (a run
/// of pushes adds to the stack pointer once per push).
const MAX_CHAIN: usize = 16;

/// The bytes a load or store (or a group of them) reaches: `base + lo` to
/// `base + hi` (exclusive), modulo 2^64; with no base, absolute addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub base: Option<Value>,
    pub lo: i128,
    pub hi: i128,
    /// It (some access of the group) stores.
    pub write: bool,
}

/// The access each instruction of `block` makes (`None`: not a load or store).
pub fn accesses(block: &Block) -> Vec<Option<Span>> {
    let mut def = vec![None; block.types.len()];
    for (i, inst) in block.insts.iter().enumerate() {
        for v in inst.results() {
            def[v.0 as usize] = Some(i);
        }
    }
    let constant = |v: Value| match def[v.0 as usize].map(|i| &block.insts[i]) {
        Some(inst) if inst.op == Opcode::Const => match inst.imm {
            Imm::Const(bits) => Some(bits.get() as u64 as i64),
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
    let access = |inst: &crate::visa::Inst| {
        let (addr, size, write) = match inst.op {
            Opcode::Load => (block.args(inst)[0], inst.ty.map_or(0, |t| t.bytes()), false),
            Opcode::Store => {
                let a = block.args(inst);
                (a[1], block.value_type(a[0]).bytes(), true)
            }
            _ => return None,
        };
        let (base, k) = split(addr);
        Some(Span { base, lo: k as i128, hi: k as i128 + size as i128, write })
    };
    block.insts.iter().map(access).collect()
}

/// The groups of a block's accesses, and the group of each instruction
/// (`None`: not a load or store, or in a group too small or too wide to
/// check as one).
pub fn groups(accesses: &[Option<Span>]) -> (Vec<Option<usize>>, Vec<Span>) {
    let mut of_inst = vec![None; accesses.len()];
    let mut groups: Vec<Span> = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    for (i, a) in accesses.iter().enumerate() {
        let Some(Span { base, lo, hi, write }) = *a else { continue };
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
                groups.push(Span { base, lo, hi, write });
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

/// Which accesses need no check of their own: an earlier access of the
/// block reached all of their bytes, and was a store when they store.
/// A block runs straight through (its branches leave it), so when an
/// access runs, every earlier one has run and passed its checks; memory's
/// bounds never shrink, and its permissions change only between blocks.
/// (A store that hit translated code recorded the write of those bytes.)
pub fn covered(accesses: &[Option<Span>]) -> Vec<bool> {
    let mut done: Vec<Span> = Vec::new();
    accesses
        .iter()
        .map(|a| {
            let Some(a) = *a else { return false };
            let hit = done.iter().any(|d| d.base == a.base && d.lo <= a.lo && a.hi <= d.hi && (d.write || !a.write));
            if !hit {
                done.push(a);
            }
            hit
        })
        .collect()
}

/// By instruction: whether compiled code may give up at it, leaving for
/// the interpreter to run the whole block from its start again
/// (`Outcome::Replay`), instead of leaving with the state exact at it.
/// The state record is as the block found it until the block leaves (its
/// writes are pending), and running the block again makes the same stores
/// with the same values, as long as no store so far may have overwritten
/// bytes an earlier load read (run again, the load would read the new
/// bytes) and nothing else so far changed what the block sees: a helper
/// call, an atomic operation or a fence ends the replayable part.
pub fn replayable(block: &Block, accesses: &[Option<Span>]) -> Vec<bool> {
    replayable_steps(block.insts.iter().map(|i| i.op).zip(accesses.iter().copied()))
}

/// `replayable` of a block's opcodes and their accesses.
fn replayable_steps(steps: impl Iterator<Item = (Opcode, Option<Span>)>) -> Vec<bool> {
    let harmless = Effects::TRAPS.with(Effects::TERMINATOR).with(Effects::SIDE_EXIT).with(Effects::MARKER);
    let mut loads: Vec<Span> = Vec::new();
    let mut clean = true;
    let mut out = Vec::new();
    for (op, access) in steps {
        out.push(clean);
        match (op, access) {
            (Opcode::Load, Some(load)) => loads.push(load),
            (Opcode::Store, Some(store)) => clean &= !loads.iter().any(|l| may_overlap(l, &store)),
            (Opcode::Get | Opcode::Set | Opcode::Guest, _) => {}
            (op, _) => clean &= op.info().effects.within(harmless),
        }
    }
    out
}

/// Whether two spans may share a byte: unless they have the same base
/// (or none) and disjoint offsets, not far enough from zero to wrap.
fn may_overlap(a: &Span, b: &Span) -> bool {
    const FAR: i128 = 1 << 48;
    let near = |s: &Span| s.lo.abs() < FAR && s.hi.abs() < FAR;
    a.base != b.base || !near(a) || !near(b) || (a.lo < b.hi && b.lo < a.hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Option<u32>, lo: i128, size: i128, write: bool) -> Option<Span> {
        Some(Span { base: base.map(Value), lo, hi: lo + size, write })
    }

    #[test]
    fn an_access_is_covered_only_by_an_earlier_one_reaching_its_bytes_as_strongly() {
        let accesses = [
            at(Some(1), 0, 4, false), // a load
            at(Some(1), 0, 4, true),  // its store (read-modify-write): needs the write check
            at(Some(1), 1, 2, false), // inside the stored bytes
            at(Some(1), 2, 4, true),  // reaches beyond them
            None,                     // not an access
            at(Some(2), 0, 4, false), // another base
            at(None, 0x1000, 8, true),
            at(None, 0x1000, 8, false),
            at(Some(1), 0, 6, true), // inside the two stores together, but neither alone
        ];
        let want = [false, false, true, false, false, false, false, true, false];
        assert_eq!(covered(&accesses), want);
    }

    #[test]
    fn a_block_may_be_run_again_until_a_store_may_change_what_it_loaded_or_a_call() {
        use Opcode::{Call, Get, Guest, Iadd, Load, Set, Store};
        let none = |op| (op, None);
        // Stores beside the loads, and over bytes no load read, keep it.
        let steps = [
            none(Guest),
            (Load, at(Some(1), 0, 8, false)),
            (Store, at(Some(1), 8, 8, true)),
            (Store, at(Some(1), -8, 8, true)),
            none(Iadd),
            none(Set),
            (Load, at(Some(2), 0, 4, false)),
            none(Get),
            // Over the first load's bytes: what comes after may not replay.
            (Store, at(Some(1), 4, 8, true)),
            (Load, at(Some(1), 16, 8, false)),
        ];
        let want = [true, true, true, true, true, true, true, true, true, false];
        assert_eq!(replayable_steps(steps.into_iter()), want);
        // Another base may be the same address: a store through it too.
        let steps = [(Load, at(Some(1), 0, 8, false)), (Store, at(Some(2), 64, 8, true)), none(Guest)];
        assert_eq!(replayable_steps(steps.into_iter()), [true, true, false]);
        // A helper call may change the state or memory.
        let steps = [none(Guest), none(Call), (Load, at(Some(1), 0, 8, false))];
        assert_eq!(replayable_steps(steps.into_iter()), [true, true, false]);
        // Offsets far from zero may wrap onto each other.
        let steps = [(Load, at(Some(1), 0, 8, false)), (Store, at(Some(1), 1 << 60, 8, true)), none(Guest)];
        assert_eq!(replayable_steps(steps.into_iter()), [true, true, false]);
    }
}
