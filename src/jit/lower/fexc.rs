//! The float exception flag operations (`fexc1` `fexc2` `fexc3`): a quick
//! test inline that passes only where the exact flags are the incoming
//! ones, and the reference semantics (a call, on a cold path) when it
//! fails.
//!
//! Arithmetic whose flags in are a constant holding inexact (`screened`:
//! the x86 lifter makes them so in a block that starts with MXCSR's
//! inexact flag set) is only screened, against what the block has proven:
//! a value whose lanes an earlier test found not denormal (an operand
//! checked, or a result in the normal range) needs no check again, so in
//! straight float code a screen is the result's exponent range and one
//! branch, which also finds a NaN result (the operation's own NaN check
//! goes). A failed screen calls nothing: the code leaves before the guest
//! instruction, and the engine runs that instruction in the interpreter.

use super::*;
use crate::visa::eval::{DE, PE, Quick};

/// What the lowering knows of the values it has tested (see the module
/// doc): by V-ISA value, the lanes known not denormal (bits 0-3 its f32
/// lanes, bits 4-5 its f64 lanes; a scalar is lane 0), and the vector lane
/// a scalar was extracted from.
pub(super) struct Proven {
    lanes: Vec<u8>,
    extracted: Vec<Option<(Value, u8)>>,
    /// By instruction: the flags in of a screened test (see `screened`).
    screened: Vec<Option<u32>>,
    /// By V-ISA value: the operation's NaN check is the test's.
    unchecked: Vec<bool>,
}

impl Proven {
    pub(super) fn new(block: &Block) -> Proven {
        let values = block.types.len();
        let screened = screened(block);
        let fused = fused_results(block, &screened);
        let mut unchecked = vec![false; values];
        for x in fused.iter().flatten() {
            unchecked[x.0 as usize] = true;
        }
        Proven { lanes: vec![0; values], extracted: vec![None; values], screened, unchecked }
    }
}

/// For each screened arithmetic test, the float operation (rounded to
/// nearest, which is lowered inline) whose result it checks, when nothing
/// but the test reads that result's lanes before it: the test's range
/// check then also finds a NaN result, which leaves for the interpreter,
/// so the operation needs no check of its own. A scalar operation
/// on a vector's low lane qualifies when the result is read only through
/// lane 0.
fn fused_results(block: &Block, screened: &[Option<u32>]) -> Vec<Option<Value>> {
    use Opcode::*;
    let mut def = vec![None; block.types.len()];
    let mut uses: Vec<Vec<usize>> = vec![Vec::new(); block.types.len()];
    for (i, inst) in block.insts.iter().enumerate() {
        for r in inst.results() {
            def[r.0 as usize] = Some(i);
        }
        for a in block.args(inst) {
            uses[a.0 as usize].push(i);
        }
    }
    let arith = |i: usize| {
        let inst = &block.insts[i];
        matches!(
            inst.op,
            Fadd | Fsub
                | Fmul
                | Fdiv
                | Fsqrt
                | Fma
                | Fms
                | Fnma
                | Fnms
                | Vfadd
                | Vfsub
                | Vfmul
                | Vfdiv
                | Vfsqrt
                | Vfma
                | Vfms
                | Vfnma
                | Vfnms
        ) && inst.imm == Imm::Round(crate::visa::Round::Nearest)
    };
    let mut out = vec![None; block.insts.len()];
    for (f, inst) in block.insts.iter().enumerate().filter(|(f, _)| screened[*f].is_some()) {
        let args = block.args(inst);
        let r = args[args.len() - 1];
        let Some(d) = def[r.0 as usize] else { continue };
        let (x, through) = match block.insts[d] {
            ref e if e.op == Vextract && e.imm == Imm::Lane(0) => (block.args(e)[0], Some(r)),
            _ => (r, None),
        };
        let Some(dx) = def[x.0 as usize].filter(|d| arith(*d)) else { continue };
        // The lane read through `through` is read only by the test and
        // after it (where it passed, so the lane is not NaN); every other
        // read of the result comes after it, or is of lane 0 and comes
        // after it.
        let only_test = through.is_none_or(|r| uses[r.0 as usize].iter().all(|u| *u >= f));
        let later = uses[x.0 as usize].iter().all(|&u| {
            let e = &block.insts[u];
            let low = e.op == Vextract && e.imm == Imm::Lane(0);
            match through {
                Some(r) => low && (e.results().next() == Some(r) || u > f),
                None => u >= f,
            }
        });
        if only_test && later && dx < f {
            out[f] = Some(x);
        }
    }
    out
}

/// Which tests are screened, with their flags in: arithmetic
/// (`Quick::Ordinary`) whose flags in are a constant holding inexact.
fn screened(block: &Block) -> Vec<Option<u32>> {
    let mut constant = vec![None; block.types.len()];
    for inst in &block.insts {
        if let (Opcode::Const, Imm::Const(k), Some(r)) = (inst.op, inst.imm, inst.results().next()) {
            constant[r.0 as usize] = Some(k.get());
        }
    }
    let screened = |inst: &Inst| {
        let Imm::Fexc(op, ..) = inst.imm else { return None };
        let args = block.args(inst);
        let r = args[args.len() - 1];
        let ordinary = Quick::of(op, inst.ty.expect("fexc has a type"), block.value_type(r)) == Quick::Ordinary;
        let k = constant[args[0].0 as usize].filter(|k| k & PE as u128 != 0)?;
        ordinary.then_some(k as u32)
    };
    block.insts.iter().map(screened).collect()
}

/// The bits of `Proven::lanes` for every lane of `ty` read as floats of
/// its lane width (a scalar is lane 0), or for lane `i` only.
fn lane_mask(ty: Type, i: Option<u8>) -> u8 {
    let (first, n) = match ty {
        Type::F32 | Type::I32 => (0x01, 1),
        Type::F64 | Type::I64 => (0x10, 1),
        Type::F32x4 | Type::I32x4 => (0x01, 4),
        Type::F64x2 | Type::I64x2 => (0x10, 2),
        _ => return 0,
    };
    match i {
        Some(i) => first << i,
        None => (0..n).fold(0, |acc, i| acc | first << i),
    }
}

/// The bits of `Proven::lanes` whose lanes overlap lane `i` of `shape`.
fn overlapping(shape: Type, i: u8) -> u8 {
    let Some((lane, _)) = shape.lane() else { return 0x3f };
    let bytes = lane.bits() / 8;
    let (from, to) = (i as u32 * bytes, (i as u32 + 1) * bytes);
    let singles = (from / 4..to.div_ceil(4)).fold(0, |acc, j| acc | 1 << j);
    let doubles = (from / 8..to.div_ceil(8)).fold(0, |acc, j| acc | 0x10 << j);
    singles | doubles
}

/// The proven lanes (as `Proven::lanes`) of a shuffle by `mask` (byte
/// indices, 0-15 the first operand's, 16-31 the second's) of operands whose
/// proven lanes `of` gives: an output lane that is a whole proven lane of
/// an operand.
fn shuffled_lanes(mask: &[u8; 16], of: impl Fn(usize) -> u8) -> u8 {
    let mut out = 0;
    for (width, first) in [(4, 0x01u8), (8, 0x10)] {
        for (j, bytes) in mask.chunks(width).enumerate() {
            let s = bytes[0] as usize;
            let whole =
                s.is_multiple_of(width) && s < 32 && bytes.iter().enumerate().all(|(k, &b)| b as usize == s + k);
            if whole && of(s / 16) & first << (s % 16 / width) != 0 {
                out |= first << j;
            }
        }
    }
    out
}

/// The scalar float of `shape`'s lane width.
fn scalar_of(shape: Type) -> Type {
    if shape.lane().is_some_and(|(l, _)| l.bits() == 32) { Type::F32 } else { Type::F64 }
}

impl Lower<'_, '_> {
    pub(super) fn float_exceptions(&mut self, inst: &Inst, a: &[ir::Value]) -> ir::Value {
        let Imm::Fexc(op, ..) = inst.imm else { unreachable!("fexc without its operation") };
        let t = inst.ty.expect("fexc has a controlling type");
        let args = self.block.args(inst);
        let result_type = self.block.value_type(args[args.len() - 1]);
        if let Some(flags_in) = self.proven.screened[self.at] {
            // A vector result is read in the lane shape of its operands.
            let result_type = if result_type == Type::V128 { t } else { result_type };
            return self.screen(inst, t, result_type, a, flags_in & DE != 0);
        }
        self.exact(inst, Quick::of(op, t, result_type), t, result_type, a)
    }

    /// The flags by the quick test, else by a call.
    fn exact(&mut self, inst: &Inst, quick: Quick, t: Type, result_type: Type, a: &[ir::Value]) -> ir::Value {
        let flags_in = a[0];
        let pass = self.quick_test(quick, t, result_type, a);
        let (slow, join) = (self.b.create_block(), self.b.create_block());
        let out = self.b.append_block_param(join, types::I32);
        self.b.set_cold_block(slow);
        self.b.ins().brif(pass, join, &[ir::BlockArg::Value(flags_in)], slow, &[]);
        self.b.switch_to_block(slow);
        let exact = self.eval(inst, a)[0];
        self.b.ins().jump(join, &[ir::BlockArg::Value(exact)]);
        self.b.switch_to_block(join);
        out
    }

    /// Whether the result of the instruction being lowered is screened
    /// for NaN by a later test (`fused_results`).
    pub(super) fn nan_screened(&self) -> bool {
        let x = self.block.insts[self.at].results().next();
        x.is_some_and(|x| self.proven.unchecked[x.0 as usize])
    }

    /// Notes what an instruction moves of proven lanes: extracting a lane,
    /// inserting one, shuffling whole lanes.
    pub(super) fn note_proven(&mut self, inst: &Inst) {
        if let (Opcode::Vshuffle, Imm::Shuffle(mask), Some(r)) = (inst.op, inst.imm, inst.results().next()) {
            let args = self.block.args(inst);
            let lanes = shuffled_lanes(&mask, |x| self.proven.lanes[args[x].0 as usize]);
            self.proven.lanes[r.0 as usize] = lanes;
            return;
        }
        let (Some(shape), Imm::Lane(i)) = (inst.ty, inst.imm) else { return };
        let Some(r) = inst.results().next() else { return };
        let args = self.block.args(inst);
        let lane = lane_mask(shape, Some(i));
        let scalar = lane_mask(scalar_of(shape), None);
        let p = &mut self.proven;
        match inst.op {
            Opcode::Vextract if lane != 0 => {
                let x = args[0];
                if p.lanes[x.0 as usize] & lane != 0 {
                    p.lanes[r.0 as usize] = scalar;
                }
                p.extracted[r.0 as usize] = Some((x, lane));
            }
            Opcode::Vinsert => {
                let (x, s) = (args[0], args[1]);
                let mut lanes = p.lanes[x.0 as usize] & !overlapping(shape, i);
                if lane != 0 && p.lanes[s.0 as usize] & scalar != 0 {
                    lanes |= lane;
                }
                p.lanes[r.0 as usize] = lanes;
            }
            _ => {}
        }
    }

    /// Is every lane of `v`, read as `ty`, known not denormal?
    fn is_proven(&self, v: Value, ty: Type) -> bool {
        let want = lane_mask(ty, None);
        want != 0 && self.proven.lanes[v.0 as usize] & want == want
    }

    /// Records that no lane of `v`, read as `ty`, is denormal.
    fn prove(&mut self, v: Value, ty: Type) {
        self.proven.lanes[v.0 as usize] |= lane_mask(ty, None);
        if let Some((x, lane)) = self.proven.extracted[v.0 as usize] {
            self.proven.lanes[x.0 as usize] |= lane;
        }
    }

    /// Add, subtract, multiply, divide, square root, the fused operations
    /// and narrowing conversions with inexact in the flags in: these are
    /// the flags out when no operand is denormal and the result is in the
    /// normal range away from its ends (with denormal already in the flags
    /// in, `denormal_set`, the operands are not looked at). Else the code
    /// leaves before the guest instruction for the interpreter to run it;
    /// nothing is called, so the values live across the screen stay in
    /// registers.
    fn screen(&mut self, inst: &Inst, t: Type, result_type: Type, a: &[ir::Value], denormal_set: bool) -> ir::Value {
        let args = self.block.args(inst).to_vec();
        let (ops, r) = (&args[1..args.len() - 1], args[args.len() - 1]);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let outside = self.outside_normal_range(a[a.len() - 1], result_type);
        let unproven: Vec<usize> = (0..ops.len()).filter(|i| !denormal_set && !self.is_proven(ops[*i], t)).collect();
        let mut bad = vec![outside];
        if !unproven.is_empty() {
            self.continue_unless(outside, slow);
            bad = unproven.into_iter().map(|i| self.any_denormal(a[1 + i], t)).collect();
        }
        let bad = bad.into_iter().reduce(|x, y| self.b.ins().bor(x, y)).expect("a condition");
        self.continue_unless(bad, slow);
        let pass = self.b.current_block().expect("a block");
        self.b.switch_to_block(slow);
        self.exit_to_interpreter();
        self.b.switch_to_block(pass);
        for x in ops.iter().filter(|_| !denormal_set) {
            self.prove(*x, t);
        }
        self.prove(r, result_type);
        a[0]
    }

    /// Goes on in a new block when `bad` is 0, else to `slow`.
    fn continue_unless(&mut self, bad: ir::Value, slow: ir::Block) {
        let next = self.b.create_block();
        self.b.ins().brif(bad, slow, &[], next, &[]);
        self.b.switch_to_block(next);
    }

    /// 1 unless every lane of `v` (a float or float vector of type `ty`)
    /// has an exponent field from 2 to its maximum less 2: far enough from
    /// both ends that it was neither tiny nor overflowed before rounding.
    fn outside_normal_range(&mut self, v: ir::Value, ty: Type) -> ir::Value {
        let single = matches!(ty, Type::F32 | Type::F32x4);
        if ty.is_float() {
            let (int, shift, field) = if single { (types::I32, 23, 0xff) } else { (types::I64, 52, 0x7ff) };
            let bits = self.b.ins().bitcast(int, MemFlagsData::new(), v);
            let e = self.b.ins().ushr_imm_u(bits, shift);
            let e = if single { e } else { self.b.ins().ireduce(types::I32, e) };
            let e = self.b.ins().band_imm_u(e, field);
            let d = self.b.ins().iadd_imm_s(e, -2);
            return self.b.ins().icmp_imm_u(condcodes::IntCC::UnsignedGreaterThan, d, field - 4);
        }
        // The exponent field from 2 to its maximum less 2 (NaN is
        // outside): the lanes' bits shifted left by one, to drop the sign,
        // from `2 << (mant + 1)` up to `(max - 1) << (mant + 1)`.
        let (mant, field) = if single { (23, 0xff) } else { (52, 0x7ff) };
        self.any_lane_in(v, ty, 2 << (mant + 1), (field - 3) << (mant + 1), true)
    }

    /// 1 when some lane of the float vector `v` (of type `ty`), its bits
    /// shifted left by one to drop the sign, is in `lo..lo + span` (with
    /// `outside`, is not). Vectors have no unsigned compare: the unsigned
    /// range test moved by half the lane's range is a signed one, one
    /// compare a lane.
    fn any_lane_in(&mut self, v: ir::Value, ty: Type, lo: u64, span: u64, outside: bool) -> ir::Value {
        let (shape, lane) =
            if matches!(ty, Type::F32x4) { (Type::I32x4, types::I32) } else { (Type::I64x2, types::I64) };
        let half = 1u64 << (lane.bits() - 1);
        let wrap = |k: u64| k & (u64::MAX >> (64 - lane.bits()));
        let x = self.vec_as(v, shape);
        let shifted = self.b.ins().ishl_imm_u(x, 1);
        let moved = self.splat_const(lane, Some(shape), wrap(half.wrapping_sub(lo)));
        let y = self.b.ins().iadd(shifted, moved);
        let end = wrap(span.wrapping_sub(half));
        let hit = if outside {
            let last = self.splat_const(lane, Some(shape), wrap(end.wrapping_sub(1)));
            self.b.ins().icmp(condcodes::IntCC::SignedGreaterThan, y, last)
        } else {
            let end = self.splat_const(lane, Some(shape), end);
            self.b.ins().icmp(condcodes::IntCC::SignedGreaterThan, end, y)
        };
        self.b.ins().vany_true(hit)
    }

    /// 1 when some lane of `v` (a float or float vector of type `ty`) is
    /// denormal.
    fn any_denormal(&mut self, v: ir::Value, ty: Type) -> ir::Value {
        let single = matches!(ty, Type::F32 | Type::F32x4);
        if ty.is_float() {
            let (int, abs, min_normal) =
                if single { (types::I32, 0x7fff_ffff, 1i64 << 23) } else { (types::I64, i64::MAX, 1i64 << 52) };
            let bits = self.b.ins().bitcast(int, MemFlagsData::new(), v);
            let abs = self.b.ins().band_imm_u(bits, abs);
            let d = self.b.ins().iadd_imm_s(abs, -1);
            return self.b.ins().icmp_imm_u(condcodes::IntCC::UnsignedLessThan, d, min_normal - 1);
        }
        // A denormal's bits shifted left by one are from 1 up to the
        // smallest normal's shifted.
        let mant = if single { 23 } else { 52 };
        self.any_lane_in(v, ty, 1, (1 << (mant + 1)) - 1, false)
    }

    /// 1 when `quick` passes for every lane.
    fn quick_test(&mut self, quick: Quick, t: Type, result: Type, a: &[ir::Value]) -> ir::Value {
        let pe = self.b.ins().band_imm_u(a[0], PE as i64);
        let pe = self.b.ins().icmp_imm_u(condcodes::IntCC::NotEqual, pe, 0);
        match quick {
            Quick::Inexact => return pe,
            Quick::Never => return self.iconst(types::I8, 0),
            _ => {}
        }
        let (lane, shape) = match t {
            Type::F32x4 => (types::I32, Some(Type::I32x4)),
            Type::F64x2 => (types::I64, Some(Type::I64x2)),
            Type::F32 => (types::I32, None),
            _ => (types::I64, None),
        };
        let width = lane.bits();
        let mant = if width == 32 { 23 } else { 52 };
        let inf = ((1u64 << (width - 1 - mant)) - 1) << mant;
        let min_normal = 1u64 << mant;
        let ops = &a[1..a.len() - 1];
        let op_bits: Vec<ir::Value> = ops.iter().map(|v| self.lane_bits(*v, shape, lane)).collect();
        let abs_mask = if width == 32 { 0x7fff_ffff } else { u64::MAX >> 1 };
        let mut conds = Vec::new();
        // Unsigned `abs(x) - lo < span` (lo <= abs(x) < lo + span), or
        // with `outside` its negation.
        let in_range = |l: &mut Self, x: ir::Value, lo: u64, span: u64, outside: bool| {
            let m = l.splat_const(lane, shape, abs_mask);
            let abs = l.b.ins().band(x, m);
            let lo = l.splat_const(lane, shape, lo);
            let d = l.b.ins().isub(abs, lo);
            let span = l.splat_const(lane, shape, span);
            let cc =
                if outside { condcodes::IntCC::UnsignedGreaterThanOrEqual } else { condcodes::IntCC::UnsignedLessThan };
            l.b.ins().icmp(cc, d, span)
        };
        match quick {
            Quick::Ordinary => {
                for x in &op_bits {
                    // Not denormal.
                    conds.push(in_range(self, *x, 1, min_normal - 1, true));
                }
                let r = a[a.len() - 1];
                let r = self.lane_bits(r, shape, lane);
                conds.push(in_range(self, r, 2 << mant, inf - (3 << mant), false));
            }
            Quick::Plain | Quick::PlainInexact => {
                for x in &op_bits {
                    // Neither denormal nor NaN.
                    conds.push(in_range(self, *x, 1, min_normal - 1, true));
                    conds.push(in_range(self, *x, inf + 1, abs_mask - inf, true));
                }
            }
            _ => {
                let limit = if width == 32 {
                    (127 + result.bits() as u64 - 2) << 23
                } else {
                    (1023 + result.bits() as u64 - 2) << 52
                };
                conds.push(in_range(self, op_bits[0], 0, limit, false));
            }
        }
        let all = conds.into_iter().reduce(|x, y| self.b.ins().band(x, y)).expect("a condition");
        let all = if shape.is_some() { self.b.ins().vall_true(all) } else { all };
        if quick == Quick::Plain { all } else { self.b.ins().band(all, pe) }
    }

    /// A float (or float vector) operand's bits as integers.
    fn lane_bits(&mut self, v: ir::Value, shape: Option<Type>, lane: ir::Type) -> ir::Value {
        match shape {
            Some(s) => self.vec_as(v, s),
            None if self.b.func.dfg.value_type(v).is_float() => self.b.ins().bitcast(lane, MemFlagsData::new(), v),
            None => v,
        }
    }

    fn splat_const(&mut self, lane: ir::Type, shape: Option<Type>, v: u64) -> ir::Value {
        let k = self.b.ins().iconst(lane, v as i64);
        match shape {
            Some(s) => self.b.ins().splat(cl_type(s), k),
            None => k,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shuffled_lanes;

    #[test]
    fn shuffles_keep_whole_proven_lanes() {
        // UNPCKHPD x, x: both doubles are x's high one.
        let high: [u8; 16] = std::array::from_fn(|i| if i < 8 { 8 + i as u8 } else { 16 + i as u8 });
        assert_eq!(shuffled_lanes(&high, |_| 0x20), 0x30);
        assert_eq!(shuffled_lanes(&high, |_| 0x10), 0);
        assert_eq!(shuffled_lanes(&high, |x| if x == 0 { 0x20 } else { 0 }), 0x10);
        // Bytes that straddle lanes prove nothing.
        let straddling: [u8; 16] = std::array::from_fn(|i| i as u8 + 1);
        assert_eq!(shuffled_lanes(&straddling, |_| 0x3f), 0);
    }
}
