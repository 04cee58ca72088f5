//! The specification and the code name the same opcodes.

use std::collections::BTreeSet;

use visa::visa::Opcode;

#[test]
fn spec_documents_exactly_the_opcodes_of_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/visa-spec/opcodes.md");
    let spec = std::fs::read_to_string(path).expect("visa-spec/opcodes.md exists");
    let documented: BTreeSet<&str> =
        spec.lines().filter_map(|l| l.strip_prefix("### `").and_then(|rest| rest.strip_suffix('`'))).collect();
    let implemented: BTreeSet<&str> = Opcode::ALL.iter().map(|op| op.name()).collect();
    let undocumented: Vec<_> = implemented.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&implemented).collect();
    assert!(undocumented.is_empty(), "opcodes missing from visa-spec/opcodes.md: {undocumented:?}");
    assert!(unknown.is_empty(), "visa-spec/opcodes.md names opcodes the code lacks: {unknown:?}");
}

/// The summary table of visa-spec/opcodes.md gives each opcode's code,
/// controlling types and effects as the table does, and the count is right.
#[test]
fn spec_summary_agrees_with_the_opcode_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/visa-spec/opcodes.md");
    let spec = std::fs::read_to_string(path).expect("visa-spec/opcodes.md exists");
    let count = format!("The V-ISA has {} opcodes.", Opcode::ALL.len());
    assert!(spec.contains(&count), "visa-spec/opcodes.md should say: {count}");
    let rows: Vec<Vec<&str>> = spec
        .lines()
        .filter(|l| l.strip_prefix("| ").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), Opcode::ALL.len(), "one summary row per opcode");
    for (row, op) in rows.iter().zip(Opcode::ALL) {
        let info = op.info();
        assert_eq!(row[1], op.code().to_string(), "code of {}", op.name());
        assert_eq!(row[2], format!("`{}`", op.name()), "opcode with code {}", op.code());
        // The spec writes the one-type sets as the type, and no set as `none`.
        let ctrl = match info.ctrl_name {
            "NONE" => "none",
            "F32_ONLY" => "`f32`",
            "F64_ONLY" => "`f64`",
            name => name,
        };
        assert_eq!(row[3], ctrl, "controlling types of {}", op.name());
        assert_eq!(row[6], info.effects.letters(), "effects of {}", op.name());
    }
}

/// The example of visa-spec/binary.md is what the encoder writes.
#[test]
fn binary_spec_example_is_what_encode_writes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/visa-spec/binary.md");
    let spec = std::fs::read_to_string(path).expect("visa-spec/binary.md exists");
    let example = &spec[spec.find("## Example").expect("an example")..];
    let src = example.split("```").nth(1).expect("the example block");
    let env = "slot %a: i64 @ 0\nslot %b: i64 @ 8\nslot %r: i64 @ 16\n";
    let module = visa::visa::text::parse_module(&format!("{env}{src}")).expect("the example parses");
    let bytes: Vec<u8> = example
        .lines()
        .filter_map(|l| l.strip_prefix("| `").and_then(|r| r.split('`').next()))
        .flat_map(|hex| hex.split(' ').map(|b| u8::from_str_radix(b, 16).expect("hex byte")).collect::<Vec<_>>())
        .collect();
    assert_eq!(visa::visa::codec::encode(&module.env, &module.blocks[0]), bytes);
}
