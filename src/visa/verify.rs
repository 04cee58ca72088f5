//! The verifier: types against the opcode table, SSA definition before use,
//! immediates against the environment, and exactly one terminator, last.

use std::fmt;

use super::block::{Block, Inst};
use super::env::Env;
use super::imm::Imm;
use super::sig;
use super::text::print_inst;
use super::types::Type;

/// What is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    pub block: u64,
    /// Index of the offending instruction, `None` for the block as a whole.
    pub inst: Option<usize>,
    /// The instruction as text.
    pub text: String,
    pub msg: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inst {
            Some(i) => write!(f, "block {:#x}, instruction {i} `{}`: {}", self.block, self.text, self.msg),
            None => write!(f, "block {:#x}: {}", self.block, self.msg),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks a block against its environment.
pub fn verify(env: &Env, block: &Block) -> Result<(), VerifyError> {
    let whole = |msg: String| VerifyError { block: block.addr, inst: None, text: String::new(), msg };
    if block.insts.is_empty() {
        return Err(whole("the block is empty: it needs a terminator".into()));
    }
    let mut next_value = 0u32;
    let mut result_types = Vec::new();
    for (i, inst) in block.insts.iter().enumerate() {
        let fail =
            |msg: String| VerifyError { block: block.addr, inst: Some(i), text: print_inst(env, block, inst), msg };
        if inst.first_result != next_value {
            return Err(fail(format!("results should start at v{next_value}")));
        }
        next_value += inst.results_len as u32;
        if next_value as usize > block.types.len() {
            return Err(fail("results beyond the block's value types".into()));
        }
        check_inst(env, block, inst, &mut result_types).map_err(fail)?;
        let last = i + 1 == block.insts.len();
        match (inst.op.is_terminator(), last) {
            (true, false) => return Err(fail("a terminator must be the last instruction".into())),
            (false, true) => return Err(fail("the block does not end in a terminator".into())),
            _ => {}
        }
    }
    if next_value as usize != block.types.len() {
        return Err(whole(format!("{} value types for {next_value} values", block.types.len())));
    }
    Ok(())
}

fn check_inst(env: &Env, block: &Block, inst: &Inst, result_types: &mut Vec<crate::visa::Type>) -> Result<(), String> {
    let info = inst.op.info();
    sig::check_ctrl(inst.op, inst.ty)?;
    if inst.imm.kind() != info.imm {
        return Err(format!("immediate of kind {:?}, expected {:?}", inst.imm.kind(), info.imm));
    }
    check_imm(env, inst)?;
    let args = block.pool.get(inst.args_range()).ok_or("operands beyond the operand pool")?;
    let mut arg_types = Vec::with_capacity(args.len());
    for (n, a) in args.iter().enumerate() {
        if a.0 >= inst.first_result {
            return Err(format!("operand {} ({a}) is not defined before its use", n + 1));
        }
        arg_types.push(block.value_type(*a));
    }
    let helper_args = match inst.imm {
        Imm::Helper(h) => Some(env.helper_decl(h).ok_or_else(|| format!("no helper #{}", h.0))?.args.as_slice()),
        _ => None,
    };
    sig::check_args(inst.op, inst.ty, &arg_types, helper_args)?;
    if let Imm::Fexc(op, ..) = inst.imm {
        check_fexc(inst, op, &arg_types)?;
    }
    result_types.clear();
    sig::result_types(inst.op, inst.ty, &inst.imm, env, result_types)?;
    if !inst.results().map(|v| block.value_type(v)).eq(result_types.iter().copied()) {
        let actual: Vec<_> = inst.results().map(|v| block.value_type(v)).collect();
        return Err(format!("results have types {actual:?}, expected {result_types:?}"));
    }
    Ok(())
}

/// A float exception flag operation: its opcode's operand count is the
/// operation's, and the operand and result types are the operation's.
fn check_fexc(inst: &Inst, op: crate::visa::ExcOp, arg_types: &[Type]) -> Result<(), String> {
    use crate::visa::ExcOp::*;
    if arg_types.len() != op.arity() + 2 {
        return Err(format!("`{}` takes {} operands and its result", op.name(), op.arity()));
    }
    let t = inst.ty.ok_or("no controlling type")?;
    let r = arg_types[arg_types.len() - 1];
    let ok = match op {
        FromInt => t.is_int() && r.is_float(),
        ToInt => t.is_float() && matches!(r, Type::I32 | Type::I64),
        Convert => t.is_float() && r.is_float() && r != t,
        _ => !t.is_int() && r == t.value_type(),
    };
    if !ok {
        return Err(format!("`{}` of {t} cannot give a {r}", op.name()));
    }
    Ok(())
}

fn check_imm(env: &Env, inst: &Inst) -> Result<(), String> {
    match inst.imm {
        Imm::Const(bits) => {
            let bits = bits.get();
            let width = inst.ty.map_or(128, |t| t.bits());
            if width < 128 && bits >> width != 0 {
                return Err(format!("constant {bits:#x} does not fit in {width} bits"));
            }
        }
        Imm::Slot(slot) => {
            let decl = env.slot_decl(slot).ok_or_else(|| format!("no slot #{}", slot.0))?;
            if Some(decl.ty) != inst.ty {
                return Err(format!("slot %{} has type {}", decl.name, decl.ty));
            }
            if !crate::visa::env::slot_fits(decl.ty, decl.offset) {
                return Err(format!("slot %{} at {} lies beyond the state record's limit", decl.name, decl.offset));
            }
        }
        Imm::Lane(lane) => {
            let (_, count) = inst.ty.and_then(|t| t.lane()).ok_or("a lane index needs a lane shape")?;
            if lane as u32 >= count {
                return Err(format!("lane {lane} of a {count}-lane shape"));
            }
        }
        Imm::Shuffle(mask) => {
            if let Some(bad) = mask.iter().find(|&&m| m >= 32) {
                return Err(format!("shuffle index {bad} is not below 32"));
            }
        }
        Imm::Guest { len: 0, .. } => return Err("a guest instruction of length 0".into()),
        _ => {}
    }
    Ok(())
}
