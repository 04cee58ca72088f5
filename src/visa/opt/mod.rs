//! Optimisation passes over V-ISA blocks. Each pass is a plain function from
//! a verified block to an equivalent verified block; `optimize` runs them in
//! order. Equivalent means: the same outcome, the same state and memory at
//! the exit, and at every trap the same state as the unoptimised block.

mod dce;
mod dse;
mod fold;

pub use dce::dead_code;
pub use dse::dead_sets;
pub use fold::{Folder, fold_constants};

use super::{Block, Env, Inst, Value};

/// The pass pipeline: constants folded, dead state writes dropped, then
/// everything whose result nobody uses.
pub fn optimize(env: &Env, block: &Block) -> Block {
    let mut out = fold_constants(block);
    optimize_built(env, &mut out);
    out
}

/// The pipeline for a block whose constants are already folded, as the
/// builder builds them (every lifted block), done in place: dead state
/// writes dropped, then everything whose result nobody uses (both choose
/// what to keep, and the block is compacted once).
pub fn optimize_built(env: &Env, block: &mut Block) {
    let mut keep = dead_sets(env, block);
    dead_code(block, &mut keep);
    compact(block, &keep);
}

/// Drops the instructions `keep` does not select, in place, renumbering
/// values densely. Operands of kept instructions must be kept too.
fn compact(block: &mut Block, keep: &[bool]) {
    let mut map = vec![u32::MAX; block.types.len()];
    let (mut insts, mut pool, mut types) = (0, 0, 0);
    // Each part is written at or before where it is read from.
    for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        let inst = block.insts[i];
        let args_start = pool as u32;
        for k in inst.args_range() {
            let new = map[block.pool[k].0 as usize];
            debug_assert_ne!(new, u32::MAX, "operand of a kept instruction is kept");
            block.pool[pool] = Value(new);
            pool += 1;
        }
        let first_result = types as u32;
        for old in inst.results() {
            block.types[types] = block.value_type(old);
            map[old.0 as usize] = types as u32;
            types += 1;
        }
        block.insts[insts] = Inst { args_start, first_result, ..inst };
        insts += 1;
    }
    block.insts.truncate(insts);
    block.pool.truncate(pool);
    block.types.truncate(types);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visa::text::{parse_module, print_block};

    #[test]
    fn dead_writes_and_values_go_and_the_block_is_compacted_in_place() {
        let src = "slot %a: i64 @ 0\nslot %b: i64 @ 8\nslot %f: i8 @ 16\n
block 0x1000 {
  guest 0x1000, 4
    v0 = get.i64 %a
    v1 = const.i8 1
    set.i8 %f, v1
    v2 = const.i64 8
    v3 = iadd.i64 v0, v2
    v4 = isub.i64 v3, v2
    set.i8 %f, v1
    v5 = load.i64 v0
    set.i64 %b, v5
    v6 = const.i8 2
    set.i8 %f, v6
    v7 = get.i64 %b
    v8 = iadd.i64 v7, v3
    set.i64 %a, v8
    set.i64 %b, v0
    jump 0x1004
}
";
        let module = parse_module(src).unwrap();
        let mut block = module.blocks[0].clone();
        optimize_built(&module.env, &mut block);
        // The first write of %f is overwritten before anything could see
        // it; the second is seen by the load (which may trap); the write
        // of %b is read back; v4 is never used. Values are renumbered
        // densely.
        let want = "block 0x1000 {
  guest 0x1000, 4
    v0 = get.i64 %a
    v1 = const.i8 1
    v2 = const.i64 8
    v3 = iadd.i64 v0, v2
    set.i8 %f, v1
    v4 = load.i64 v0
    set.i64 %b, v4
    v5 = const.i8 2
    set.i8 %f, v5
    v6 = get.i64 %b
    v7 = iadd.i64 v6, v3
    set.i64 %a, v7
    set.i64 %b, v0
    jump 0x1004
}";
        assert_eq!(print_block(&module.env, &block).trim(), want);
        crate::visa::verify(&module.env, &block).unwrap();
        // The same again, with nothing left to drop.
        let again = block.clone();
        optimize_built(&module.env, &mut block);
        assert_eq!(block, again);
    }
}
