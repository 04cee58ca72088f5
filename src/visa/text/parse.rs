//! The text parser: declarations and blocks, one instruction a line.
//! Comments run from `;` to the end of the line.

use std::collections::HashMap;
use std::fmt;

use crate::visa::block::{Block, Value};
use crate::visa::env::Env;
use crate::visa::imm::{
    AtomicOp, ExcOp, ExitReason, FloatCC, Imm, ImmKind, IntCC, MemFlags, Overflow, Round, TrapCode, Underflow,
};
use crate::visa::opcodes::Opcode;
use crate::visa::sig;
use crate::visa::types::Type;

use super::Module;

/// A parse error at a line and column (both from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.col, self.msg)
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Num(String),
    Slot(String),
    Helper(String),
    Punct(char),
    Arrow,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) | Tok::Num(w) => write!(f, "`{w}`"),
            Tok::Slot(s) => write!(f, "`%{s}`"),
            Tok::Helper(h) => write!(f, "`@{h}`"),
            Tok::Punct(c) => write!(f, "`{c}`"),
            Tok::Arrow => f.write_str("`->`"),
        }
    }
}

struct Lexed {
    tok: Tok,
    line: usize,
    col: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn lex(src: &str) -> Result<Vec<Lexed>, ParseError> {
    let mut out = Vec::new();
    for (li, line) in src.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let start = i;
            let err = |msg: String| ParseError { line: li + 1, col: start + 1, msg };
            let take_word = |mut j: usize| {
                let begin = j;
                while j < chars.len() && is_word_char(chars[j]) {
                    j += 1;
                }
                (chars[begin..j].iter().collect::<String>(), j)
            };
            let tok = if c == ';' {
                break;
            } else if c.is_whitespace() {
                i += 1;
                continue;
            } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
                let mut j = i + 1;
                let hex = chars.get(i..i + 2) == Some(&['0', 'x']) || chars.get(i..i + 3) == Some(&['-', '0', 'x']);
                while j < chars.len() {
                    let d = chars[j];
                    let exp_sign = !hex && (d == '-' || d == '+') && matches!(chars[j - 1], 'e' | 'E');
                    if !(is_word_char(d) || exp_sign) {
                        break;
                    }
                    j += 1;
                }
                let text: String = chars[i..j].iter().collect();
                i = j;
                Tok::Num(text)
            } else if c == '%' || c == '@' {
                let (name, j) = take_word(i + 1);
                i = j;
                match (c, name.is_empty()) {
                    ('@', true) => Tok::Punct('@'),
                    (_, true) => return Err(err("`%` must be followed by a slot name".into())),
                    ('%', false) => Tok::Slot(name),
                    _ => Tok::Helper(name),
                }
            } else if c == '-' && chars.get(i + 1) == Some(&'>') {
                i += 2;
                Tok::Arrow
            } else if is_word_char(c) {
                let (word, j) = take_word(i);
                i = j;
                Tok::Word(word)
            } else if "=,()[]{}:".contains(c) {
                i += 1;
                Tok::Punct(c)
            } else {
                return Err(err(format!("unexpected character `{c}`")));
            };
            out.push(Lexed { tok, line: li + 1, col: start + 1 });
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: &'a [Lexed],
    pos: usize,
    env: Env,
}

/// Parses integer text: decimal, `0x` hex, or negative decimal (two's complement).
pub fn parse_int(text: &str) -> Option<u128> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let body = body.replace('_', "");
    let v = match body.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16).ok()?,
        None => body.parse::<u128>().ok()?,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn line_of(&self, pos: usize) -> usize {
        self.toks.get(pos).map_or(usize::MAX, |t| t.line)
    }

    fn at_line_end(&self, line: usize) -> bool {
        self.line_of(self.pos) != line
    }

    fn err_at(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        match self.toks.get(pos).or(self.toks.last()) {
            Some(t) => ParseError { line: t.line, col: t.col, msg: msg.into() },
            None => ParseError { line: 1, col: 1, msg: msg.into() },
        }
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        self.err_at(self.pos, msg)
    }

    fn next(&mut self, what: &str) -> Result<&'a Tok, ParseError> {
        match self.toks.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(&t.tok)
            }
            None => Err(self.err(format!("expected {what}, found the end of the text"))),
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<(), ParseError> {
        match self.next(&format!("`{c}`"))? {
            Tok::Punct(p) if *p == c => Ok(()),
            t => Err(self.err_at(self.pos - 1, format!("expected `{c}`, found {t}"))),
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, what: &str) -> Result<&'a str, ParseError> {
        match self.next(what)? {
            Tok::Word(w) => Ok(w),
            t => Err(self.err_at(self.pos - 1, format!("expected {what}, found {t}"))),
        }
    }

    fn int(&mut self, what: &str) -> Result<u128, ParseError> {
        match self.next(what)? {
            Tok::Num(n) => parse_int(n).ok_or_else(|| self.err_at(self.pos - 1, format!("`{n}` is not an integer"))),
            t => Err(self.err_at(self.pos - 1, format!("expected {what}, found {t}"))),
        }
    }

    fn int_in<T: TryFrom<u128>>(&mut self, what: &str) -> Result<T, ParseError> {
        let v = self.int(what)?;
        T::try_from(v).map_err(|_| self.err_at(self.pos - 1, format!("{what} {v:#x} is out of range")))
    }

    fn ty(&mut self) -> Result<Type, ParseError> {
        let w = self.word("a type")?;
        Type::from_name(w).ok_or_else(|| self.err_at(self.pos - 1, format!("unknown type `{w}`")))
    }

    fn named<T>(&mut self, what: &str, lookup: impl Fn(&str) -> Option<T>) -> Result<T, ParseError> {
        let w = self.word(what)?;
        lookup(w).ok_or_else(|| self.err_at(self.pos - 1, format!("`{w}` is not {what}")))
    }

    fn type_list(&mut self) -> Result<Vec<Type>, ParseError> {
        self.expect_punct('(')?;
        let mut types = Vec::new();
        if !self.eat_punct(')') {
            loop {
                types.push(self.ty()?);
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        Ok(types)
    }

    fn module(&mut self) -> Result<Module, ParseError> {
        let mut blocks = Vec::new();
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Word(w) if w == "slot" => self.slot_decl()?,
                Tok::Word(w) if w == "helper" => self.helper_decl()?,
                Tok::Word(w) if w == "block" => {
                    let at = self.pos;
                    let block = self.block()?;
                    if blocks.iter().any(|b: &Block| b.addr == block.addr) {
                        return Err(self.err_at(at, format!("a second block at {:#x}", block.addr)));
                    }
                    blocks.push(block);
                }
                t => return Err(self.err(format!("expected `slot`, `helper` or `block`, found {t}"))),
            }
        }
        Ok(Module { env: std::mem::take(&mut self.env), blocks })
    }

    fn slot_decl(&mut self) -> Result<(), ParseError> {
        self.pos += 1;
        let name = match self.next("a slot name")? {
            Tok::Slot(s) => s.clone(),
            t => return Err(self.err_at(self.pos - 1, format!("expected `%name`, found {t}"))),
        };
        if self.env.slot_by_name(&name).is_some() {
            return Err(self.err_at(self.pos - 1, format!("slot %{name} is declared twice")));
        }
        self.expect_punct(':')?;
        let ty = self.ty()?;
        if !ty.is_value_type() {
            return Err(self.err_at(self.pos - 1, format!("a slot cannot have lane shape {ty}; use v128")));
        }
        self.expect_punct('@')?;
        let off = self.int_in::<u32>("a byte offset")?;
        if !crate::visa::env::slot_fits(ty, off) {
            let limit = crate::visa::env::MAX_STATE_BYTES;
            return Err(
                self.err_at(self.pos - 1, format!("slot %{name} at {off} lies beyond the {limit}-byte state record"))
            );
        }
        self.env.slot(&name, ty, off);
        Ok(())
    }

    fn helper_decl(&mut self) -> Result<(), ParseError> {
        self.pos += 1;
        let line = self.line_of(self.pos);
        let name = match self.next("a helper name")? {
            Tok::Helper(h) => h.clone(),
            t => return Err(self.err_at(self.pos - 1, format!("expected `@name`, found {t}"))),
        };
        if self.env.helper_by_name(&name).is_some() {
            return Err(self.err_at(self.pos - 1, format!("helper @{name} is declared twice")));
        }
        let args = self.type_list()?;
        match self.next("`->`")? {
            Tok::Arrow => {}
            t => return Err(self.err_at(self.pos - 1, format!("expected `->`, found {t}"))),
        }
        let results = self.type_list()?;
        if let Some(t) = args.iter().chain(&results).find(|t| !t.is_value_type()) {
            return Err(self.err(format!("helper @{name} names lane shape {t}; use v128")));
        }
        let pure = !self.at_line_end(line);
        if pure && self.word("`pure`")? != "pure" {
            return Err(self.err_at(self.pos - 1, "expected `pure` or the end of the line"));
        }
        if !self.at_line_end(line) {
            return Err(self.err("unexpected text after the helper declaration"));
        }
        self.env.helper(&name, &args, &results, pure);
        Ok(())
    }

    fn block(&mut self) -> Result<Block, ParseError> {
        self.pos += 1;
        let addr = self.int_in::<u64>("the block's guest address")?;
        self.expect_punct('{')?;
        let mut block = Block::new(addr);
        let mut names: HashMap<&'a str, Value> = HashMap::new();
        loop {
            if self.eat_punct('}') {
                return Ok(block);
            }
            if self.peek().is_none() {
                return Err(self.err("expected `}` to close the block"));
            }
            self.inst(&mut block, &mut names)?;
        }
    }

    fn value(&mut self, names: &HashMap<&'a str, Value>) -> Result<Value, ParseError> {
        match self.next("a value")? {
            Tok::Word(w) if is_value_name(w) => names
                .get(w.as_str())
                .copied()
                .ok_or_else(|| self.err_at(self.pos - 1, format!("{w} is used before it is defined"))),
            t => Err(self.err_at(self.pos - 1, format!("expected a value, found {t}"))),
        }
    }

    fn peek_value(&self) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if is_value_name(w))
    }

    /// Values separated by commas, up to the end of the line.
    fn value_list(&mut self, line: usize, names: &HashMap<&'a str, Value>) -> Result<Vec<Value>, ParseError> {
        let mut vals = Vec::new();
        if self.at_line_end(line) {
            return Ok(vals);
        }
        loop {
            vals.push(self.value(names)?);
            if self.at_line_end(line) {
                return Ok(vals);
            }
            self.expect_punct(',')?;
        }
    }

    /// Values each followed by a comma, stopping at the first non-value.
    fn value_prefix(&mut self, names: &HashMap<&'a str, Value>) -> Result<Vec<Value>, ParseError> {
        let mut vals = Vec::new();
        while self.peek_value() {
            vals.push(self.value(names)?);
            self.expect_punct(',')?;
        }
        Ok(vals)
    }

    fn inst(&mut self, block: &mut Block, names: &mut HashMap<&'a str, Value>) -> Result<(), ParseError> {
        let start = self.pos;
        let line = self.line_of(start);
        let mut defs: Vec<(&'a str, usize)> = Vec::new();
        if self.peek_value()
            && self.toks[start..].iter().take_while(|t| t.line == line).any(|t| t.tok == Tok::Punct('='))
        {
            loop {
                if let Tok::Word(w) = self.next("a value name")? {
                    defs.push((w, self.pos - 1));
                }
                if self.eat_punct('=') {
                    break;
                }
                self.expect_punct(',')?;
                if !self.peek_value() {
                    return Err(self.err("expected a value name"));
                }
            }
        }
        let op_pos = self.pos;
        let full = self.word("an opcode")?;
        let (op_name, ty_name) = match full.split_once('.') {
            Some((o, t)) => (o, Some(t)),
            None => (full, None),
        };
        let op =
            Opcode::from_name(op_name).ok_or_else(|| self.err_at(op_pos, format!("unknown opcode `{op_name}`")))?;
        let ty = match ty_name {
            Some(t) => Some(Type::from_name(t).ok_or_else(|| self.err_at(op_pos, format!("unknown type `{t}`")))?),
            None => None,
        };
        sig::check_ctrl(op, ty).map_err(|e| self.err_at(op_pos, e))?;
        let (imm, args) = self.operands(op, ty, line, names)?;
        if !self.at_line_end(line) {
            return Err(self.err("unexpected text after the instruction"));
        }
        let mut result_types = Vec::new();
        sig::result_types(op, ty, &imm, &self.env, &mut result_types).map_err(|e| self.err_at(op_pos, e))?;
        if result_types.len() != defs.len() {
            return Err(
                self.err_at(start, format!("`{}` has {} results, {} named", op.name(), result_types.len(), defs.len()))
            );
        }
        let range = block.push(op, ty, imm, &args, &result_types);
        for ((name, pos), v) in defs.into_iter().zip(range) {
            if names.insert(name, Value(v)).is_some() {
                return Err(self.err_at(pos, format!("{name} is defined twice")));
            }
        }
        Ok(())
    }

    fn operands(
        &mut self,
        op: Opcode,
        ty: Option<Type>,
        line: usize,
        names: &HashMap<&'a str, Value>,
    ) -> Result<(Imm, Vec<Value>), ParseError> {
        let kind = op.info().imm;
        Ok(match kind {
            ImmKind::None => (Imm::None, self.value_list(line, names)?),
            ImmKind::Const => (Imm::Const(self.constant(ty.expect("const has a type"))?.into()), Vec::new()),
            ImmKind::IntCC => {
                (Imm::IntCC(self.named("an integer condition", IntCC::from_name)?), self.value_list(line, names)?)
            }
            ImmKind::FloatCC => {
                (Imm::FloatCC(self.named("a float condition", FloatCC::from_name)?), self.value_list(line, names)?)
            }
            ImmKind::Round => {
                (Imm::Round(self.named("a rounding mode", Round::from_name)?), self.value_list(line, names)?)
            }
            ImmKind::Fexc => {
                let op = self.named("a float operation", ExcOp::from_name)?;
                let round = self.named("a rounding mode", Round::from_name)?;
                let under = self.named("an underflow mode", Underflow::from_name)?;
                let over = self.named("an overflow mode", Overflow::from_name)?;
                (Imm::Fexc(op, round, under, over), self.value_list(line, names)?)
            }
            ImmKind::Atomic => {
                (Imm::Atomic(self.named("an atomic operation", AtomicOp::from_name)?), self.value_list(line, names)?)
            }
            ImmKind::Mem => {
                let aligned = matches!(self.peek(), Some(Tok::Word(w)) if w == "aligned");
                if aligned {
                    self.pos += 1;
                }
                (Imm::Mem(MemFlags { aligned }), self.value_list(line, names)?)
            }
            ImmKind::Slot => {
                let slot = match self.next("a slot")? {
                    Tok::Slot(s) => self
                        .env
                        .slot_by_name(s)
                        .ok_or_else(|| self.err_at(self.pos - 1, format!("undeclared slot %{s}")))?,
                    t => return Err(self.err_at(self.pos - 1, format!("expected `%slot`, found {t}"))),
                };
                let args = if self.eat_punct(',') { self.value_list(line, names)? } else { Vec::new() };
                (Imm::Slot(slot), args)
            }
            ImmKind::Lane => {
                let args = self.value_prefix(names)?;
                (Imm::Lane(self.int_in("a lane index")?), args)
            }
            ImmKind::Shuffle => {
                let args = self.value_prefix(names)?;
                self.expect_punct('[')?;
                let mut mask = [0u8; 16];
                for m in mask.iter_mut() {
                    *m = self.int_in("a byte index")?;
                }
                self.expect_punct(']')?;
                (Imm::Shuffle(mask), args)
            }
            ImmKind::Helper => {
                let helper = match self.next("a helper")? {
                    Tok::Helper(h) => self
                        .env
                        .helper_by_name(h)
                        .ok_or_else(|| self.err_at(self.pos - 1, format!("undeclared helper @{h}")))?,
                    t => return Err(self.err_at(self.pos - 1, format!("expected `@helper`, found {t}"))),
                };
                self.expect_punct('(')?;
                let mut args = Vec::new();
                if !self.eat_punct(')') {
                    loop {
                        args.push(self.value(names)?);
                        if self.eat_punct(')') {
                            break;
                        }
                        self.expect_punct(',')?;
                    }
                }
                (Imm::Helper(helper), args)
            }
            ImmKind::Guest => {
                let addr = self.int_in("a guest address")?;
                self.expect_punct(',')?;
                (Imm::Guest { addr, len: self.int_in("an instruction length")? }, Vec::new())
            }
            ImmKind::Trap => {
                let args = self.value_prefix(names)?;
                let w = self.word("a trap code")?;
                let code = match TrapCode::FIXED.iter().find(|(_, n)| *n == w) {
                    Some((c, _)) => *c,
                    None if w == "user" => TrapCode::User(self.int_in("a user trap code")?),
                    None => return Err(self.err_at(self.pos - 1, format!("unknown trap code `{w}`"))),
                };
                (Imm::Trap(code), args)
            }
            ImmKind::Target => {
                let args = self.value_prefix(names)?;
                (Imm::Target(self.int_in("a guest address")?), args)
            }
            ImmKind::Branch => {
                let args = self.value_prefix(names)?;
                let taken = self.int_in("a guest address")?;
                self.expect_punct(',')?;
                (Imm::Branch(taken, self.int_in("a guest address")?), args)
            }
            ImmKind::Exit => {
                let reason = self.named("an exit reason", ExitReason::from_name)?;
                self.expect_punct(',')?;
                (Imm::Exit(reason, self.int_in("a guest address")?), Vec::new())
            }
        })
    }

    fn constant(&mut self, ty: Type) -> Result<u128, ParseError> {
        match self.next("a constant")? {
            Tok::Num(n) => parse_const(ty, n).map_err(|e| self.err_at(self.pos - 1, e)),
            t => Err(self.err_at(self.pos - 1, format!("expected a constant, found {t}"))),
        }
    }
}

/// Parses the text of a constant of type `ty` to its bits: integers in
/// decimal, negative decimal or `0x` hex; floats as decimal literals or `0x`
/// IEEE bits.
pub fn parse_const(ty: Type, text: &str) -> Result<u128, String> {
    let bad = || format!("`{text}` is not a {ty} constant");
    let is_hex = text.starts_with("0x");
    Ok(match ty {
        Type::F32 if !is_hex => text.parse::<f32>().map_err(|_| bad())?.to_bits() as u128,
        Type::F64 if !is_hex => text.parse::<f64>().map_err(|_| bad())?.to_bits() as u128,
        _ => {
            let v = parse_int(text).ok_or_else(bad)?;
            let mask = if ty.bits() >= 128 { u128::MAX } else { (1u128 << ty.bits()) - 1 };
            let fits = if text.starts_with('-') {
                ty.bits() >= 128 || (v as i128) >= -(1i128 << (ty.bits() - 1))
            } else {
                v & !mask == 0
            };
            if !fits {
                return Err(format!("`{text}` does not fit in {ty}"));
            }
            v & mask
        }
    })
}

fn is_value_name(w: &str) -> bool {
    w.len() > 1 && w.starts_with('v') && w[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Parses a module: slot and helper declarations and blocks.
pub fn parse_module(src: &str) -> Result<Module, ParseError> {
    parse_with_env(src, Env::new())
}

/// Parses text whose declarations extend `env` (blocks may use its slots and helpers).
pub fn parse_with_env(src: &str, env: Env) -> Result<Module, ParseError> {
    let toks = lex(src)?;
    Parser { toks: &toks, pos: 0, env }.module()
}
