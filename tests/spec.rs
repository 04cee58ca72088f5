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
