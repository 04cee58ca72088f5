//! The V-ISA text format: a printer and a parser that round-trip exactly.
//! The grammar is in visa-spec/text.md.

mod parse;
mod print;

pub use parse::{ParseError, parse_const, parse_int, parse_module, parse_with_env};
pub use print::{print_block, print_const, print_env, print_inst, print_module};

use super::block::Block;
use super::env::Env;

/// Declarations and the blocks written against them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Module {
    pub env: Env,
    pub blocks: Vec<Block>,
}
