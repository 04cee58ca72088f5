//! Operand and result types of an instruction, resolved from the opcode
//! table's rules, its controlling type and (for `call`) the helper's
//! declaration. The builder, the parser and the verifier share these rules.

use super::env::Env;
use super::imm::Imm;
use super::opcodes::{Opcode, Opd};
use super::types::Type;

/// Checks a controlling type against the opcode's allowed set.
pub fn check_ctrl(op: Opcode, ty: Option<Type>) -> Result<(), String> {
    let allowed = op.info().ctrl;
    match ty {
        None if allowed.is_empty() => Ok(()),
        None => Err(format!("`{}` needs a controlling type ({})", op.name(), type_list(allowed.iter()))),
        Some(t) if allowed.is_empty() => Err(format!("`{}` takes no controlling type, got {t}", op.name())),
        Some(t) if !allowed.contains(t) => {
            Err(format!("`{}` does not take type {t} (allowed: {})", op.name(), type_list(allowed.iter())))
        }
        Some(_) => Ok(()),
    }
}

fn type_list(types: impl Iterator<Item = Type>) -> String {
    types.map(|t| t.name()).collect::<Vec<_>>().join(", ")
}

/// The fixed type an operand rule denotes, when it denotes exactly one.
fn exact(opd: Opd, ctrl: Option<Type>) -> Option<Type> {
    match opd {
        Opd::Ctrl => ctrl.map(Type::value_type),
        Opd::Fixed(t) => Some(t),
        Opd::Lane => ctrl.and_then(Type::lane).map(|(lane, _)| lane),
        _ => None,
    }
}

/// Does a value of type `actual` satisfy operand rule `opd`?
fn accepts(opd: Opd, ctrl: Option<Type>, actual: Type) -> bool {
    let width = ctrl.map_or(0, Type::bits);
    match opd {
        Opd::Narrower(set) => set.contains(actual) && actual.bits() < width,
        Opd::Wider(set) => set.contains(actual) && actual.bits() > width,
        Opd::Of(set) => set.contains(actual),
        Opd::SameWidth => actual.is_value_type() && actual != Type::I1 && actual.bits() == width,
        Opd::Helper => true,
        _ => exact(opd, ctrl) == Some(actual),
    }
}

fn describe(opd: Opd, ctrl: Option<Type>) -> String {
    match (opd, exact(opd, ctrl)) {
        (_, Some(t)) => t.name().to_string(),
        (Opd::Narrower(set), _) => format!("a type narrower than the controlling type ({})", type_list(set.iter())),
        (Opd::Wider(set), _) => format!("a type wider than the controlling type ({})", type_list(set.iter())),
        (Opd::Of(set), _) => type_list(set.iter()),
        (Opd::SameWidth, _) => "a type of the controlling type's width".to_string(),
        _ => "?".to_string(),
    }
}

/// Checks operand types. `helper_args` are the called helper's declared
/// argument types for `call`.
pub fn check_args(op: Opcode, ctrl: Option<Type>, args: &[Type], helper_args: Option<&[Type]>) -> Result<(), String> {
    let info = op.info();
    if let Some(expected) = helper_args {
        if args.len() != expected.len() {
            return Err(format!("the helper takes {} arguments, got {}", expected.len(), args.len()));
        }
        for (i, (a, e)) in args.iter().zip(expected).enumerate() {
            if a != e {
                return Err(format!("argument {} has type {a}, the helper declares {e}", i + 1));
            }
        }
        return Ok(());
    }
    if args.len() != info.args.len() {
        return Err(format!("`{}` takes {} operands, got {}", info.name, info.args.len(), args.len()));
    }
    for (i, (&actual, &opd)) in args.iter().zip(info.args).enumerate() {
        if !accepts(opd, ctrl, actual) {
            return Err(format!("operand {} has type {actual}, expected {}", i + 1, describe(opd, ctrl)));
        }
    }
    Ok(())
}

/// Appends the result types of an instruction to `out`.
pub fn result_types(op: Opcode, ctrl: Option<Type>, imm: &Imm, env: &Env, out: &mut Vec<Type>) -> Result<(), String> {
    if let Imm::Helper(h) = imm {
        let decl = env.helper_decl(*h).ok_or_else(|| format!("no helper #{}", h.0))?;
        out.extend_from_slice(&decl.results);
        return Ok(());
    }
    for &opd in op.info().results {
        out.push(result_type(opd, ctrl).map_err(|e| format!("`{}` {e}", op.name()))?);
    }
    Ok(())
}

/// The type of a result with rule `opd` (of an instruction that calls no
/// helper), given the controlling type.
#[inline]
pub fn result_type(opd: Opd, ctrl: Option<Type>) -> Result<Type, &'static str> {
    exact(opd, ctrl).ok_or("result type needs a controlling type")
}
