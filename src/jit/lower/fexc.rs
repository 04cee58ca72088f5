//! The float exception flag operations (`fexc1` `fexc2` `fexc3`): the
//! quick test of `visa::eval::Quick` inline, in integer operations on the
//! operands' bits, and the reference semantics in a cold call when it
//! fails. The test only passes where the exact flags are the incoming ones,
//! so both paths give the same result.

use super::*;
use crate::visa::eval::{PE, Quick};

impl Lower<'_, '_> {
    pub(super) fn float_exceptions(&mut self, inst: &Inst, a: &[ir::Value]) -> ir::Value {
        let Imm::Fexc(op, ..) = inst.imm else { unreachable!("fexc without its operation") };
        let t = inst.ty.expect("fexc has a controlling type");
        let args = self.block.args(inst);
        let result_type = self.block.value_type(args[args.len() - 1]);
        let quick = Quick::of(op, t, result_type);
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
        let r = a[a.len() - 1];
        let bits: Vec<ir::Value> = ops.iter().chain([&r]).map(|v| self.lane_bits(*v, shape, lane)).collect();
        let (op_bits, r_bits) = bits.split_at(ops.len());
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
                for x in op_bits {
                    // Not denormal.
                    conds.push(in_range(self, *x, 1, min_normal - 1, true));
                }
                conds.push(in_range(self, r_bits[0], 2 << mant, inf - (3 << mant), false));
            }
            Quick::Plain | Quick::PlainInexact => {
                for x in op_bits {
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
