//! Guest code as text: the Intel-syntax disassembly of a range of guest
//! bytes, for `visa lift` and the `in_asm` execution log.

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use super::CodeSource;

/// One line per instruction of `[at, at + len)`: `ADDR: TEXT`.
pub fn disassemble(code: &dyn CodeSource, at: u64, len: u64) -> Vec<String> {
    let mut bytes = vec![0u8; len as usize];
    let got = code.fetch(at, &mut bytes);
    bytes.truncate(got);
    let mut fmt = IntelFormatter::new();
    Decoder::with_ip(64, &bytes, at, DecoderOptions::NONE)
        .into_iter()
        .map(|insn| {
            let mut s = String::new();
            fmt.format(&insn, &mut s);
            format!("{:#x}: {s}", insn.ip())
        })
        .collect()
}
