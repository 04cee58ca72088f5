//! The text printer. Its output is canonical: `parse(print(x)) == x` and
//! `print(parse(t)) == t` for printed text.

use std::fmt::Write;

use crate::visa::block::{Block, Inst};
use crate::visa::env::Env;
use crate::visa::imm::Imm;
use crate::visa::types::Type;

use super::Module;

/// Prints declarations and blocks.
pub fn print_module(module: &Module) -> String {
    let mut out = print_env(&module.env);
    for block in &module.blocks {
        out.push('\n');
        out.push_str(&print_block(&module.env, block));
    }
    out
}

/// Prints the slot and helper declarations, one a line.
pub fn print_env(env: &Env) -> String {
    let mut out = String::new();
    for s in &env.slots {
        let _ = writeln!(out, "slot %{}: {} @ {}", s.name, s.ty, s.offset);
    }
    for h in &env.helpers {
        let _ = writeln!(
            out,
            "helper @{}({}) -> ({}){}",
            h.name,
            join(h.args.iter()),
            join(h.results.iter()),
            if h.pure { " pure" } else { "" }
        );
    }
    out
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// Prints one block.
pub fn print_block(env: &Env, block: &Block) -> String {
    let mut out = format!("block {:#x} {{\n", block.addr);
    for inst in &block.insts {
        let indent = if inst.op == crate::visa::Opcode::Guest { "  " } else { "    " };
        out.push_str(indent);
        out.push_str(&print_inst(env, block, inst));
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

/// Prints a constant of the given type in canonical form.
pub fn print_const(ty: Type, bits: u128) -> String {
    match ty {
        Type::F32 => {
            let f = f32::from_bits(bits as u32);
            if f.is_finite() { format!("{f:?}") } else { format!("{bits:#x}") }
        }
        Type::F64 => {
            let f = f64::from_bits(bits as u64);
            if f.is_finite() { format!("{f:?}") } else { format!("{bits:#x}") }
        }
        _ if bits < 1024 => bits.to_string(),
        _ => format!("{bits:#x}"),
    }
}

/// Prints one instruction (without indentation or newline).
pub fn print_inst(env: &Env, block: &Block, inst: &Inst) -> String {
    let mut s = String::new();
    let results: Vec<String> = inst.results().map(|v| v.to_string()).collect();
    if !results.is_empty() {
        s.push_str(&results.join(", "));
        s.push_str(" = ");
    }
    s.push_str(inst.op.name());
    if let Some(t) = inst.ty {
        s.push('.');
        s.push_str(t.name());
    }
    let args = block.pool.get(inst.args_range()).map(|a| join(a.iter())).unwrap_or_else(|| "<bad operands>".into());
    let with_args = |prefix: String| {
        if args.is_empty() {
            prefix
        } else if prefix.is_empty() {
            args.clone()
        } else {
            format!("{prefix}, {args}")
        }
    };
    let trailing = |suffix: String| {
        if args.is_empty() { suffix } else { format!("{args}, {suffix}") }
    };
    let spaced = |modifier: &str| {
        if args.is_empty() { modifier.to_string() } else { format!("{modifier} {args}") }
    };
    let rest = match &inst.imm {
        Imm::None => args.clone(),
        Imm::Const(bits) => print_const(inst.ty.unwrap_or(Type::I128), bits.get()),
        Imm::IntCC(cc) => spaced(cc.name()),
        Imm::FloatCC(cc) => spaced(cc.name()),
        Imm::Round(r) => spaced(r.name()),
        Imm::Fexc(op, r, u, o) => spaced(&format!("{} {} {} {}", op.name(), r.name(), u.name(), o.name())),
        Imm::Atomic(op) => spaced(op.name()),
        Imm::Mem(flags) => {
            if flags.aligned {
                spaced("aligned")
            } else {
                args.clone()
            }
        }
        Imm::Slot(slot) => with_args(match env.slot_decl(*slot) {
            Some(decl) => format!("%{}", decl.name),
            None => format!("%<undeclared slot {}>", slot.0),
        }),
        Imm::Lane(lane) => trailing(lane.to_string()),
        Imm::Shuffle(mask) => {
            let indices: Vec<String> = mask.iter().map(u8::to_string).collect();
            trailing(format!("[{}]", indices.join(" ")))
        }
        Imm::Helper(h) => match env.helper_decl(*h) {
            Some(decl) => format!("@{}({args})", decl.name),
            None => format!("@<undeclared helper {}>({args})", h.0),
        },
        Imm::Guest { addr, len } => format!("{addr:#x}, {len}"),
        Imm::Trap(code) => trailing(code.to_string()),
        Imm::Target(t) => trailing(format!("{t:#x}")),
        Imm::Branch(taken, not_taken) => trailing(format!("{taken:#x}, {not_taken:#x}")),
        Imm::Exit(reason, resume) => format!("{reason}, {resume:#x}"),
    };
    if !rest.is_empty() {
        s.push(' ');
        s.push_str(&rest);
    }
    s
}
