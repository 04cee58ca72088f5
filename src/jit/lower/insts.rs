//! Lowering each V-ISA instruction.

use super::*;

impl Lower<'_, '_> {
    pub(super) fn inst(&mut self, inst: &Inst, a: &[ir::Value]) -> Result<Vec<ir::Value>, Unsupported> {
        use Opcode::*;
        let ty = inst.ty;
        let cty = ty.map(cl_type);
        let small = ty.is_some_and(|t| t.bits() <= 64 && !t.is_shape());
        let r = match (inst.op, inst.imm) {
            (Const, Imm::Const(bits)) => {
                let bits = bits.get();
                let t = ty.expect("typed");
                let v = match t {
                    Type::F32 => self.b.ins().f32const(ir::immediates::Ieee32::with_bits(bits as u32)),
                    Type::F64 => self.b.ins().f64const(ir::immediates::Ieee64::with_bits(bits as u64)),
                    Type::I128 => {
                        let lo = self.iconst(types::I64, bits as u64 as i64);
                        let hi = self.iconst(types::I64, (bits >> 64) as u64 as i64);
                        self.b.ins().iconcat(lo, hi)
                    }
                    Type::V128 => {
                        let c = self.b.func.dfg.constants.insert(bits.to_le_bytes().to_vec().into());
                        self.b.ins().vconst(types::I8X16, c)
                    }
                    _ => self.iconst(cl_type(t), bits as u64 as i64),
                };
                vec![v]
            }
            (Iadd, _) => vec![self.b.ins().iadd(a[0], a[1])],
            (Isub, _) => vec![self.b.ins().isub(a[0], a[1])],
            (Imul, _) => vec![self.b.ins().imul(a[0], a[1])],
            (Ineg, _) => vec![self.b.ins().ineg(a[0])],
            (IaddCarry, _) => {
                let t = cty.unwrap();
                let cin = self.resize(a[2], t);
                let s1 = self.b.ins().iadd(a[0], a[1]);
                let sum = self.b.ins().iadd(s1, cin);
                // Carry out: the sum wrapped below a, or to a itself with a carry in.
                let below = self.b.ins().icmp(condcodes::IntCC::UnsignedLessThan, sum, a[0]);
                let equal = self.b.ins().icmp(condcodes::IntCC::Equal, sum, a[0]);
                let eq_carry = self.b.ins().band(equal, a[2]);
                let carry = self.b.ins().bor(below, eq_carry);
                let x1 = self.b.ins().bxor(a[0], sum);
                let x2 = self.b.ins().bxor(a[1], sum);
                let both = self.b.ins().band(x1, x2);
                let ovf = self.b.ins().icmp_imm_s(condcodes::IntCC::SignedLessThan, both, 0);
                vec![sum, carry, ovf]
            }
            (IsubBorrow, _) => {
                let t = cty.unwrap();
                let bin = self.resize(a[2], t);
                let d1 = self.b.ins().isub(a[0], a[1]);
                let diff = self.b.ins().isub(d1, bin);
                let lt = self.b.ins().icmp(condcodes::IntCC::UnsignedLessThan, a[0], a[1]);
                let eq = self.b.ins().icmp(condcodes::IntCC::Equal, a[0], a[1]);
                let eq_b = self.b.ins().band(eq, a[2]);
                let borrow = self.b.ins().bor(lt, eq_b);
                let x1 = self.b.ins().bxor(a[0], a[1]);
                let x2 = self.b.ins().bxor(a[0], diff);
                let both = self.b.ins().band(x1, x2);
                let ovf = self.b.ins().icmp_imm_s(condcodes::IntCC::SignedLessThan, both, 0);
                vec![diff, borrow, ovf]
            }
            (UmulWide | SmulWide, _) if ty == Some(Type::I64) => {
                let lo = self.b.ins().imul(a[0], a[1]);
                let hi =
                    if inst.op == UmulWide { self.b.ins().umulhi(a[0], a[1]) } else { self.b.ins().smulhi(a[0], a[1]) };
                vec![lo, hi]
            }
            (UmulWide | SmulWide, _) => {
                let t = cty.unwrap();
                let w = ty.unwrap().bits() as i64;
                let wide = ty.unwrap().double().map(cl_type).unwrap();
                let (x, y) = if inst.op == UmulWide {
                    (self.b.ins().uextend(wide, a[0]), self.b.ins().uextend(wide, a[1]))
                } else {
                    (self.b.ins().sextend(wide, a[0]), self.b.ins().sextend(wide, a[1]))
                };
                let p = self.b.ins().imul(x, y);
                let lo = self.b.ins().ireduce(t, p);
                let h = self.b.ins().ushr_imm_u(p, w);
                let hi = self.b.ins().ireduce(t, h);
                vec![lo, hi]
            }
            (Udiv | Urem | Sdiv | Srem, _) if small => {
                let zero = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[1], 0);
                self.trap_if(zero, TrapCode::DivByZero, None);
                if matches!(inst.op, Sdiv | Srem) {
                    let w = ty.unwrap().bits();
                    let min = self.iconst(cty.unwrap(), 1i64 << (w - 1));
                    let is_min = self.b.ins().icmp(condcodes::IntCC::Equal, a[0], min);
                    let minus1 = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[1], -1);
                    let ovf = self.b.ins().band(is_min, minus1);
                    self.trap_if(ovf, TrapCode::DivOverflow, None);
                }
                vec![match inst.op {
                    Udiv => self.b.ins().udiv(a[0], a[1]),
                    Urem => self.b.ins().urem(a[0], a[1]),
                    Sdiv => self.b.ins().sdiv(a[0], a[1]),
                    _ => self.b.ins().srem(a[0], a[1]),
                }]
            }
            (UdivWide | SdivWide, _) if ty == Some(Type::I64) => {
                // Natively when the dividend fits in 64 bits (RDX is the
                // zero or sign extension of RAX, as compilers set it up)
                // and the division cannot trap; else the reference.
                let signed = inst.op == SdivWide;
                let narrow = if signed {
                    let sign = self.b.ins().sshr_imm_u(a[1], 63);
                    self.b.ins().icmp(condcodes::IntCC::Equal, a[0], sign)
                } else {
                    self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[0], 0)
                };
                let nonzero = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, a[2], 0);
                let mut fast_ok = self.b.ins().band(narrow, nonzero);
                if signed {
                    let not_min = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, a[1], i64::MIN);
                    let not_m1 = self.b.ins().icmp_imm_s(condcodes::IntCC::NotEqual, a[2], -1);
                    let no_ovf = self.b.ins().bor(not_min, not_m1);
                    fast_ok = self.b.ins().band(fast_ok, no_ovf);
                }
                let (fast, slow, join) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
                let q = self.b.append_block_param(join, types::I64);
                let r = self.b.append_block_param(join, types::I64);
                self.b.set_cold_block(slow);
                self.b.ins().brif(fast_ok, fast, &[], slow, &[]);
                self.b.switch_to_block(fast);
                let (fq, fr) = if signed {
                    (self.b.ins().sdiv(a[1], a[2]), self.b.ins().srem(a[1], a[2]))
                } else {
                    (self.b.ins().udiv(a[1], a[2]), self.b.ins().urem(a[1], a[2]))
                };
                self.b.ins().jump(join, &[ir::BlockArg::Value(fq), ir::BlockArg::Value(fr)]);
                self.b.switch_to_block(slow);
                let exact = self.eval(inst, a);
                self.b.ins().jump(join, &[ir::BlockArg::Value(exact[0]), ir::BlockArg::Value(exact[1])]);
                self.b.switch_to_block(join);
                vec![q, r]
            }
            (UdivWide, _) if ty.is_some_and(|t| t.bits() < 64) => {
                // (hi:lo) fits in 64 bits: divide there.
                let w = ty.unwrap().bits() as i64;
                let t = cty.unwrap();
                let zero = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[2], 0);
                self.trap_if(zero, TrapCode::DivByZero, None);
                let hi = self.b.ins().uextend(types::I64, a[0]);
                let lo = self.b.ins().uextend(types::I64, a[1]);
                let d = self.b.ins().uextend(types::I64, a[2]);
                let hs = self.b.ins().ishl_imm_u(hi, w);
                let n = self.b.ins().bor(hs, lo);
                let q = self.b.ins().udiv(n, d);
                let r = self.b.ins().urem(n, d);
                let limit = self.iconst(types::I64, (1i64 << w) - 1);
                let ovf = self.b.ins().icmp(condcodes::IntCC::UnsignedGreaterThan, q, limit);
                self.trap_if(ovf, TrapCode::DivOverflow, None);
                vec![self.b.ins().ireduce(t, q), self.b.ins().ireduce(t, r)]
            }
            (SdivWide, _) if ty.is_some_and(|t| t.bits() < 64) => {
                let w = ty.unwrap().bits() as i64;
                let t = cty.unwrap();
                let zero = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, a[2], 0);
                self.trap_if(zero, TrapCode::DivByZero, None);
                // The 2w-bit dividend, sign-extended to 64 bits.
                let hi = self.b.ins().sextend(types::I64, a[0]);
                let lo = self.b.ins().uextend(types::I64, a[1]);
                let d = self.b.ins().sextend(types::I64, a[2]);
                let hs = self.b.ins().ishl_imm_u(hi, w);
                let n = self.b.ins().bor(hs, lo);
                // 2w = 64 for w = 32: MIN / -1 overflows in 64 bits too.
                if w == 32 {
                    let min = self.iconst(types::I64, i64::MIN);
                    let is_min = self.b.ins().icmp(condcodes::IntCC::Equal, n, min);
                    let minus1 = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, d, -1);
                    let ovf = self.b.ins().band(is_min, minus1);
                    self.trap_if(ovf, TrapCode::DivOverflow, None);
                }
                let q = self.b.ins().sdiv(n, d);
                let r = self.b.ins().srem(n, d);
                let lo_lim = self.iconst(types::I64, -(1i64 << (w - 1)));
                let hi_lim = self.iconst(types::I64, (1i64 << (w - 1)) - 1);
                let under = self.b.ins().icmp(condcodes::IntCC::SignedLessThan, q, lo_lim);
                let over = self.b.ins().icmp(condcodes::IntCC::SignedGreaterThan, q, hi_lim);
                let ovf = self.b.ins().bor(under, over);
                self.trap_if(ovf, TrapCode::DivOverflow, None);
                vec![self.b.ins().ireduce(t, q), self.b.ins().ireduce(t, r)]
            }
            (And, _) => vec![self.b.ins().band(a[0], a[1])],
            (Or, _) => vec![self.b.ins().bor(a[0], a[1])],
            (Xor, _) => vec![self.b.ins().bxor(a[0], a[1])],
            (Not, _) if ty == Some(Type::I1) => vec![self.b.ins().bxor_imm_u(a[0], 1)],
            (Not, _) => vec![self.b.ins().bnot(a[0])],
            (Shl, _) => vec![self.b.ins().ishl(a[0], a[1])],
            (Lshr, _) => vec![self.b.ins().ushr(a[0], a[1])],
            (Ashr, _) => vec![self.b.ins().sshr(a[0], a[1])],
            (Rotl, _) => vec![self.b.ins().rotl(a[0], a[1])],
            (Rotr, _) => vec![self.b.ins().rotr(a[0], a[1])],
            (Icmp, Imm::IntCC(cc))
                if ty == Some(Type::I1) && matches!(cc, IntCC::Slt | IntCC::Sle | IntCC::Sgt | IntCC::Sge) =>
            {
                // A set i1 is -1 when signed.
                let (x, y) = (self.b.ins().ineg(a[0]), self.b.ins().ineg(a[1]));
                vec![self.b.ins().icmp(int_cc(cc), x, y)]
            }
            (Icmp, Imm::IntCC(cc)) => vec![self.b.ins().icmp(int_cc(cc), a[0], a[1])],
            (Select, _) => vec![self.b.ins().select(a[0], a[1], a[2])],
            (Zext, _) => vec![self.resize(a[0], cty.unwrap())],
            (Sext, _) => {
                let from = self.block.value_type(self.block.args(inst)[0]);
                if from == Type::I1 {
                    let wide = self.resize(a[0], cty.unwrap());
                    vec![self.b.ins().ineg(wide)]
                } else {
                    vec![self.b.ins().sextend(cty.unwrap(), a[0])]
                }
            }
            (Trunc, _) if ty == Some(Type::I1) => {
                let low = self.resize(a[0], types::I8);
                vec![self.b.ins().band_imm_u(low, 1)]
            }
            (Trunc, _) => vec![self.b.ins().ireduce(cty.unwrap(), a[0])],
            (Clz, _) => vec![self.b.ins().clz(a[0])],
            (Ctz, _) => vec![self.b.ins().ctz(a[0])],
            (Popcnt, _) => vec![self.b.ins().popcnt(a[0])],
            (Bswap, _) => vec![self.b.ins().bswap(a[0])],
            (Parity, _) => {
                let low = self.resize(a[0], types::I8);
                let n = self.b.ins().popcnt(low);
                let odd = self.b.ins().band_imm_u(n, 1);
                vec![self.b.ins().bxor_imm_u(odd, 1)]
            }
            (Fadd | Fsub | Fmul | Fdiv, Imm::Round(Round::Nearest)) => {
                let r = match inst.op {
                    Fadd => self.b.ins().fadd(a[0], a[1]),
                    Fsub => self.b.ins().fsub(a[0], a[1]),
                    Fmul => self.b.ins().fmul(a[0], a[1]),
                    _ => self.b.ins().fdiv(a[0], a[1]),
                };
                vec![self.float_arith(a, r)]
            }
            (Fsqrt, Imm::Round(Round::Nearest)) => {
                let r = self.b.ins().sqrt(a[0]);
                vec![self.float_arith(a, r)]
            }
            (Fma | Fms | Fnma | Fnms, Imm::Round(Round::Nearest)) => {
                let r = self.fused(inst.op, a[0], a[1], a[2]);
                vec![self.float_arith(a, r)]
            }
            (Fmin | Fmax, _) => {
                let r = if inst.op == Fmin { self.b.ins().fmin(a[0], a[1]) } else { self.b.ins().fmax(a[0], a[1]) };
                vec![self.float_checked(inst, a, r)]
            }
            (Fexc1 | Fexc2 | Fexc3, _) => vec![self.float_exceptions(inst, a)],
            (Fneg, _) => vec![self.b.ins().fneg(a[0])],
            (Fabs, _) => vec![self.b.ins().fabs(a[0])],
            (Fcmp, Imm::FloatCC(cc)) => vec![self.b.ins().fcmp(float_cc(cc), a[0], a[1])],
            (Fround, Imm::Round(mode)) => {
                let r = match mode {
                    Round::Nearest => self.b.ins().nearest(a[0]),
                    Round::Zero => self.b.ins().trunc(a[0]),
                    Round::Down => self.b.ins().floor(a[0]),
                    Round::Up => self.b.ins().ceil(a[0]),
                };
                vec![self.float_checked(inst, a, r)]
            }
            (FcvtToSint, _) => vec![self.b.ins().fcvt_to_sint_sat(cty.unwrap(), a[0])],
            (FcvtToUint, _) => vec![self.b.ins().fcvt_to_uint_sat(cty.unwrap(), a[0])],
            (FcvtFromSint, Imm::Round(Round::Nearest)) => vec![self.b.ins().fcvt_from_sint(cty.unwrap(), a[0])],
            (FcvtFromUint, Imm::Round(Round::Nearest)) => vec![self.b.ins().fcvt_from_uint(cty.unwrap(), a[0])],
            (Fpromote, _) => {
                let r = self.b.ins().fpromote(types::F64, a[0]);
                vec![self.float_checked(inst, a, r)]
            }
            (Fdemote, Imm::Round(Round::Nearest)) => {
                let r = self.b.ins().fdemote(types::F32, a[0]);
                vec![self.float_checked(inst, a, r)]
            }
            (Bitcast, _) => {
                let to = cty.unwrap();
                let from = self.b.func.dfg.value_type(a[0]);
                if from == to {
                    vec![a[0]]
                } else {
                    let flags = if to.is_vector() || from.is_vector() { lanes_little() } else { MemFlagsData::new() };
                    vec![self.b.ins().bitcast(to, flags, a[0])]
                }
            }
            (Vsplat, _) => {
                let v = self.b.ins().splat(cty.unwrap(), a[0]);
                vec![self.vec_out(v)]
            }
            (Vextract, Imm::Lane(l)) => {
                let v = self.vec_as(a[0], ty.unwrap());
                vec![self.b.ins().extractlane(v, l)]
            }
            (Vinsert, Imm::Lane(l)) => {
                let v = self.vec_as(a[0], ty.unwrap());
                let r = self.b.ins().insertlane(v, a[1], l);
                vec![self.vec_out(r)]
            }
            (
                Vadd | Vsub | Vmul | VaddSatS | VaddSatU | VsubSatS | VsubSatU | VminS | VminU | VmaxS | VmaxU | VavgU,
                _,
            ) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = match inst.op {
                    Vadd => self.b.ins().iadd(x, y),
                    Vsub => self.b.ins().isub(x, y),
                    Vmul => self.b.ins().imul(x, y),
                    VaddSatS => self.b.ins().sadd_sat(x, y),
                    VaddSatU => self.b.ins().uadd_sat(x, y),
                    VsubSatS => self.b.ins().ssub_sat(x, y),
                    VsubSatU => self.b.ins().usub_sat(x, y),
                    VminS => self.b.ins().smin(x, y),
                    VminU => self.b.ins().umin(x, y),
                    VmaxS => self.b.ins().smax(x, y),
                    VmaxU => self.b.ins().umax(x, y),
                    _ => self.b.ins().avg_round(x, y),
                };
                vec![self.vec_out(r)]
            }
            (Vabs, _) => {
                let x = self.vec_as(a[0], ty.unwrap());
                let r = self.b.ins().iabs(x);
                vec![self.vec_out(r)]
            }
            (Vcmp, Imm::IntCC(cc)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = self.b.ins().icmp(int_cc(cc), x, y);
                vec![self.vec_out(r)]
            }
            (Vshl | Vlshr | Vashr, _) => {
                let shape = ty.unwrap();
                let w = shape.lane().unwrap().0.bits() as i64;
                let x = self.vec_as(a[0], shape);
                let big = self.b.ins().icmp_imm_s(condcodes::IntCC::UnsignedGreaterThanOrEqual, a[1], w);
                let r = if inst.op == Vashr {
                    // A count of the lane width or more fills with the sign.
                    let max = self.iconst(types::I64, w - 1);
                    let n = self.b.ins().select(big, max, a[1]);
                    self.b.ins().sshr(x, n)
                } else {
                    let shifted = if inst.op == Vshl { self.b.ins().ishl(x, a[1]) } else { self.b.ins().ushr(x, a[1]) };
                    let zero = self.b.ins().bxor(x, x);
                    self.b.ins().select(big, zero, shifted)
                };
                vec![self.vec_out(r)]
            }
            (Vshuffle, Imm::Shuffle(mask)) => {
                let imm = self.b.func.dfg.immediates.push(mask.to_vec().into());
                vec![self.b.ins().shuffle(a[0], a[1], imm)]
            }
            (Vswizzle, _) => vec![self.b.ins().swizzle(a[0], a[1])],
            // PACKSS/PACKUS; 64-bit lanes by the reference semantics.
            (VnarrowS | VnarrowU, _) if matches!(ty, Some(Type::I16x8 | Type::I32x4)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = if inst.op == VnarrowS { self.b.ins().snarrow(x, y) } else { self.b.ins().unarrow(x, y) };
                vec![self.vec_out(r)]
            }
            (Vbitmask, _) => {
                // The sign bits, read through the integer shape of the lanes.
                let shape = match ty.unwrap() {
                    Type::F32x4 => Type::I32x4,
                    Type::F64x2 => Type::I64x2,
                    s => s,
                };
                let x = self.vec_as(a[0], shape);
                vec![self.b.ins().vhigh_bits(types::I32, x)]
            }
            (Vfadd | Vfsub | Vfmul | Vfdiv, Imm::Round(Round::Nearest)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = match inst.op {
                    Vfadd => self.b.ins().fadd(x, y),
                    Vfsub => self.b.ins().fsub(x, y),
                    Vfmul => self.b.ins().fmul(x, y),
                    _ => self.b.ins().fdiv(x, y),
                };
                let r = self.float_arith(&[x, y], r);
                vec![self.vec_out(r)]
            }
            (Vfsqrt, Imm::Round(Round::Nearest)) => {
                let x = self.vec_as(a[0], ty.unwrap());
                let r = self.b.ins().sqrt(x);
                let r = self.float_arith(&[x], r);
                vec![self.vec_out(r)]
            }
            (Vfma | Vfms | Vfnma | Vfnms, Imm::Round(Round::Nearest)) => {
                let shape = ty.unwrap();
                let (x, y, z) = (self.vec_as(a[0], shape), self.vec_as(a[1], shape), self.vec_as(a[2], shape));
                let r = self.fused(inst.op, x, y, z);
                let r = self.float_arith(&[x, y, z], r);
                vec![self.vec_out(r)]
            }
            (Vfcmp, Imm::FloatCC(cc)) => {
                let (x, y) = (self.vec_as(a[0], ty.unwrap()), self.vec_as(a[1], ty.unwrap()));
                let r = self.lane_fcmp(cc, x, y);
                vec![self.vec_out(r)]
            }
            (Load, Imm::Mem(f)) => {
                let t = ty.unwrap();
                let (host, flags) = self.guest_address(a[0], t.bytes(), f.aligned, false);
                let v = self.b.ins().load(cl_type(t), flags, host, 0);
                if self.links.tso {
                    self.b.ins().fence();
                }
                vec![v]
            }
            (Store, Imm::Mem(f)) => {
                let t = self.block.value_type(self.block.args(inst)[0]);
                let (host, flags) = self.guest_address(a[1], t.bytes(), f.aligned, true);
                if self.links.tso {
                    self.b.ins().fence();
                }
                self.b.ins().store(flags, a[0], host, 0);
                vec![]
            }
            (AtomicRmw | AtomicCas, _) => {
                let r = self.eval_with(inst, a, Runtime::Atomic);
                self.stored = true;
                r
            }
            (Fence, _) => {
                self.b.ins().fence();
                vec![]
            }
            (Get, Imm::Slot(s)) => vec![self.slot_value(s.0 as usize)],
            (Set, Imm::Slot(s)) => {
                let read = self.read[self.block.args(inst)[0].0 as usize];
                self.set_slot(s.0 as usize, a[0], read);
                vec![]
            }
            (Call, Imm::Helper(h)) => {
                // The helper sees the state in memory, and may change it.
                self.store_pending();
                if let Some(pending) = self.pending.as_mut() {
                    pending.fill(None);
                    self.pending_order.clear();
                }
                self.known.fill(None);
                let decl = &self.env.helpers[h.0 as usize];
                let results = decl.results.clone();
                let idx = self.iconst(types::I64, h.0 as i64);
                let counts = self.iconst(types::I64, (a.len() | results.len() << 16) as i64);
                let sig = self.sig_call;
                let r = self.runtime_call(Runtime::Call, sig, &[idx], a, &results, &[counts]);
                self.stored = true;
                r
            }
            (Guest, Imm::Guest { addr, .. }) => {
                if self.stored {
                    // A store may have rewritten code from here on: leave.
                    let m = self.b.ins().load(
                        types::I32,
                        MemFlagsData::trusted(),
                        self.ctx,
                        offset_of!(JitCtx, code_modified) as i32,
                    );
                    self.side(m, |l| {
                        l.refund(l.through_current());
                        let pc = l.iconst(types::I64, addr as i64);
                        l.exit_jump(EXIT_JUMP, pc)
                    });
                    self.stored = false;
                }
                if self.started {
                    self.completed += 1;
                }
                self.started = true;
                self.guest = addr;
                vec![]
            }
            (TrapIf, Imm::Trap(code)) => {
                self.trap_if(a[0], code, None);
                vec![]
            }
            (JumpIf, Imm::Target(t)) => {
                self.side(a[0], |l| l.leave(l.through_current(), t));
                vec![]
            }
            (Jump, Imm::Target(t)) => {
                self.leave(self.through_current(), t);
                vec![]
            }
            (Branch, Imm::Branch(t, f)) => {
                let (taken, not_taken) = (self.b.create_block(), self.b.create_block());
                self.b.ins().brif(a[0], taken, &[], not_taken, &[]);
                self.b.switch_to_block(taken);
                self.leave(self.through_current(), t);
                self.b.switch_to_block(not_taken);
                self.leave(self.through_current(), f);
                vec![]
            }
            (JumpInd, _) => {
                self.exit_indirect(a[0]);
                vec![]
            }
            (Exit, Imm::Exit(reason, resume)) => {
                if reason == crate::visa::ExitReason::Undefined {
                    // The undefined instruction does not complete.
                    self.refund(self.completed);
                }
                self.ctx_store_const(types::I32, reason as u64, offset_of!(JitCtx, exit_reason));
                let pc = self.iconst(types::I64, resume as i64);
                self.exit_jump(EXIT_EXIT, pc);
                vec![]
            }
            // Everything else (wide integer division, directed rounding,
            // the rarer vector operations) by the reference semantics.
            (op, _) if crate::visa::eval::is_evaluable(op) => self.eval(inst, a),
            (op, _) => return Err(Unsupported(format!("`{}` has no lowering", op.name()))),
        };
        Ok(r)
    }
}
