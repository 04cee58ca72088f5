//! Calls into the runtime (the reference semantics of rare operations,
//! helpers) and the float operations that need x86's NaN rules.

use super::*;

/// The descriptor of an instruction done by the reference semantics.
pub fn eval_desc(block: &Block, inst: &Inst) -> EvalDesc {
    EvalDesc {
        op: inst.op,
        ty: inst.ty,
        imm: inst.imm,
        arg_types: block.args(inst).iter().map(|a| block.value_type(*a)).collect(),
        results: inst.results().count(),
    }
}

impl Lower<'_, '_> {
    /// The address of `target`, as a symbol the code is linked against.
    pub(super) fn symbol(&mut self, target: Target) -> ir::Value {
        let gv = match self.symbols.iter().find(|(t, _)| *t == target) {
            Some((_, gv)) => *gv,
            None => {
                let name = self.b.func.declare_imported_user_function(target.name());
                let gv = self.b.create_global_value(ir::GlobalValueData::Symbol {
                    name: ir::ExternalName::User(name),
                    offset: ir::immediates::Imm64::new(0),
                    colocated: false,
                    tls: false,
                });
                self.symbols.push((target, gv));
                gv
            }
        };
        self.b.ins().symbol_value(types::I64, gv)
    }

    /// Calls runtime function `f` directly. Its address (a relocation) is
    /// then loaded at the call itself; as a `symbol_value` feeding an
    /// indirect call it was a pure value that Cranelift hoisted out of
    /// loops into a register or a stack slot, even for calls on cold paths.
    pub(super) fn call_runtime(&mut self, f: Runtime, sig: ir::SigRef, args: &[ir::Value]) -> ir::Inst {
        let target = Target::Runtime(f);
        let func = match self.functions.iter().find(|(t, _)| *t == target) {
            Some((_, func)) => *func,
            None => {
                let name = self.b.func.declare_imported_user_function(target.name());
                let func = self.b.import_function(ir::ExtFuncData {
                    name: ir::ExternalName::User(name),
                    signature: sig,
                    colocated: false,
                    patchable: false,
                });
                self.functions.push((target, func));
                func
            }
        };
        self.b.ins().call(func, args)
    }

    /// A value of any V-ISA type as the u128 bits the runtime works on.
    pub(super) fn bits_of(&mut self, v: ir::Value) -> ir::Value {
        let ty = self.b.func.dfg.value_type(v);
        let int = match ty {
            types::F32 => self.b.ins().bitcast(types::I32, MemFlagsData::new(), v),
            types::F64 => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            t if t.is_vector() => return self.b.ins().bitcast(types::I128, lanes_little(), v),
            _ => v,
        };
        if self.b.func.dfg.value_type(int) == types::I128 { int } else { self.b.ins().uextend(types::I128, int) }
    }

    pub(super) fn of_bits(&mut self, bits: ir::Value, t: Type) -> ir::Value {
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
    pub(super) fn runtime_call(
        &mut self,
        f: Runtime,
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
        let mut call_args = vec![self.ctx];
        call_args.extend_from_slice(lead);
        call_args.extend([args_ptr, res_ptr]);
        call_args.extend_from_slice(tail);
        let call = self.call_runtime(f, sig, &call_args);
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
    pub(super) fn eval(&mut self, inst: &Inst, args: &[ir::Value]) -> Vec<ir::Value> {
        self.eval_with(inst, args, Runtime::Eval)
    }

    /// `inst` is the instruction being lowered (its descriptor is named by
    /// its index, so that linking can make it again from the block).
    pub(super) fn eval_with(&mut self, inst: &Inst, args: &[ir::Value], f: Runtime) -> Vec<ir::Value> {
        let block = self.block;
        let results: Vec<Type> = inst.results().map(|v| block.value_type(v)).collect();
        let at = self.at as u32;
        if !self.descs.iter().any(|(i, _)| *i == at) {
            self.descs.push((at, Box::new(eval_desc(block, inst))));
        }
        let desc_ptr = self.symbol(Target::Desc(at));
        let sig = self.sig_eval;
        self.runtime_call(f, sig, &[desc_ptr], args, &results, &[])
    }

    /// A float result, redone by the reference semantics when it is NaN (so
    /// NaN propagation is the V-ISA's on every host).
    pub(super) fn float_checked(&mut self, inst: &Inst, args: &[ir::Value], r: ir::Value) -> ir::Value {
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
    pub(super) fn float_arith(&mut self, args: &[ir::Value], r: ir::Value) -> ir::Value {
        if self.nan_screened() {
            return r;
        }
        let ty = self.b.func.dfg.value_type(r);
        let nan = self.b.ins().fcmp(condcodes::FloatCC::Unordered, r, r);
        let any = if ty.is_vector() { self.b.ins().vany_true(nan) } else { nan };
        let (fix, join) = (self.b.create_block(), self.b.create_block());
        let out = self.b.append_block_param(join, ty);
        self.b.set_cold_block(fix);
        self.b.ins().brif(any, fix, &[], join, &[ir::BlockArg::Value(r)]);
        self.b.switch_to_block(fix);
        let fixed = self.nan_fixed(args, r);
        self.b.ins().jump(join, &[ir::BlockArg::Value(fixed)]);
        self.b.switch_to_block(join);
        out
    }

    /// `r` with x86's NaN rule applied (inline, whether or not it is NaN):
    /// the first NaN operand made quiet, else the default NaN.
    pub(super) fn nan_fixed(&mut self, args: &[ir::Value], r: ir::Value) -> ir::Value {
        let ty = self.b.func.dfg.value_type(r);
        let lane = ty.lane_type();
        let bits = lane.bits();
        let ity =
            if ty.is_vector() { lane.as_int().by(ty.lane_count()).expect("a vector type") } else { lane.as_int() };
        let nan_in = |b: &mut FunctionBuilder, v: ir::Value| b.ins().fcmp(condcodes::FloatCC::Unordered, v, v);
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
        self.b.ins().bitcast(ty, flags, fixed)
    }

    /// A fused multiply-add with the operation's negations, before the NaN
    /// rule: `float_arith` on the unnegated operands then gives a NaN
    /// operand back with its own sign.
    pub(super) fn fused(&mut self, op: Opcode, a: ir::Value, b: ir::Value, c: ir::Value) -> ir::Value {
        let (neg_product, neg_addend) = crate::visa::eval::fused_negations(op);
        let a = if neg_product { self.b.ins().fneg(a) } else { a };
        let c = if neg_addend { self.b.ins().fneg(c) } else { c };
        self.b.ins().fma(a, b, c)
    }

    /// A lane-wise float compare from the three predicates every host has
    /// for vectors (ordered eq, lt, le) and complements.
    pub(super) fn lane_fcmp(&mut self, cc: FloatCC, x: ir::Value, y: ir::Value) -> ir::Value {
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
}
