//! The seams between visa's parts: which top-level modules each part may
//! name (`crate::PART`). The V-ISA knows no guest, host or runtime; the two
//! tiers never reach each other; the frontend knows no tier, engine or
//! system. A use that crosses a seam fails here, naming the file.
//!
//! `KNOWN` lists the crossings that exist today, each with its reason; one
//! that is no longer there fails too, so the list only shrinks.

use std::collections::BTreeSet;
use std::path::Path;

/// Each part and the parts it may name besides itself.
const ALLOWED: &[(&str, &[&str])] = &[
    ("visa", &[]),
    ("x87_op", &[]),
    ("abi", &["visa"]),
    ("interp", &["visa", "abi", "machine"]),
    ("jit", &["visa", "abi", "machine"]),
    ("frontend", &["visa", "machine", "x87_op"]),
    ("machine", &["visa", "abi", "x87_op"]),
    ("pcache", &["visa", "jit"]),
];

/// Crossings that exist today: (file, part it names, why).
const KNOWN: &[(&str, &str, &str)] = &[];

/// The top-level parts a source file names as `crate::PART`.
fn parts_named(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in src.match_indices("crate::") {
        let rest = &src[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            for item in group.split('}').next().unwrap_or("").split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name);
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn parts_name_only_what_they_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut crossings = Vec::new();
    let mut checked = 0;
    for (part, allowed) in ALLOWED {
        let mut files = Vec::new();
        let dir = src.join(part);
        if dir.is_dir() {
            sources(&dir, &mut files);
        } else {
            files.push(src.join(format!("{part}.rs")));
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let rel = file.strip_prefix(&src).unwrap().to_string_lossy().to_string();
            checked += 1;
            for named in parts_named(&text) {
                if named != *part && !allowed.contains(&named.as_str()) {
                    crossings.push((rel.clone(), named));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} files checked");
    let unexpected: Vec<_> =
        crossings.iter().filter(|(f, p)| !KNOWN.iter().any(|(kf, kp, _)| kf == f && kp == p)).collect();
    assert!(unexpected.is_empty(), "parts naming what they may not: {unexpected:?}");
    let gone: Vec<_> = KNOWN.iter().filter(|(kf, kp, _)| !crossings.iter().any(|(f, p)| kf == f && kp == p)).collect();
    assert!(gone.is_empty(), "crossings no longer there (take them out of KNOWN): {gone:?}");
}

#[test]
fn the_scan_sees_grouped_and_plain_paths() {
    let named = parts_named("use crate::visa::Type;\nuse crate::{abi::Outcome, machine};\nlet x = crate::jit::f();");
    assert_eq!(named, ["abi", "jit", "machine", "visa"].into_iter().map(String::from).collect());
}
