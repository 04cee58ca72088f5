//! Every `unsafe` block, `unsafe fn`, `unsafe impl` and `unsafe extern`
//! in the project's Rust sources says why it is sound: a `// SAFETY:`
//! comment on one of the six lines before it (or on its own line), or, for
//! a function, a `# Safety` section in the twelve lines of documentation
//! before it. Lines that are comments are not code and are not checked.

use std::path::{Path, PathBuf};

/// Lines before an `unsafe` that may hold its `SAFETY` comment.
const SAFETY_LINES: usize = 6;
/// Lines before an `unsafe fn` that may hold its `# Safety` section.
const DOC_LINES: usize = 12;

/// Directories of the worktree that are not searched, with the reason.
/// Every other directory is, so a new source directory is covered without
/// being named here.
const SKIPPED_DIRS: &[(&str, &str)] =
    &[("target", "build output (`target/`, `fuzz/target/`), not sources"), (".git", "version control data")];

/// `unsafe` uses allowed without a comment: (file, line text, reason).
/// None are needed today; one added here must say why.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// The column of each `unsafe` keyword on a line that opens a block or
/// declares an unsafe fn, impl or extern (what the rule is about).
fn unsafe_uses(line: &str) -> Vec<usize> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    for (at, _) in line.match_indices("unsafe") {
        if line[..at].chars().next_back().is_some_and(word) {
            continue;
        }
        let rest = line[at + "unsafe".len()..].trim_start();
        let keyword = |k: &str| rest.strip_prefix(k).is_some_and(|r| !r.starts_with(word));
        if rest.starts_with('{') || keyword("fn") || keyword("impl") || keyword("extern") {
            found.push(at);
        }
    }
    found
}

/// The uses in `text` without a SAFETY comment: (line number, line).
fn missing(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("//") || unsafe_uses(line).is_empty() {
            continue;
        }
        let before = &lines[i.saturating_sub(SAFETY_LINES)..=i];
        let docs = &lines[i.saturating_sub(DOC_LINES)..i];
        if !before.iter().any(|l| l.contains("SAFETY")) && !docs.iter().any(|l| l.contains("# Safety")) {
            out.push((i + 1, line.trim().to_string()));
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !SKIPPED_DIRS.iter().any(|(d, _)| *d == name) {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_unsafe_says_why_it_is_sound() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut uses = 0;
    let mut excepted = vec![false; EXCEPTIONS.len()];
    let mut report = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        uses += text.lines().filter(|l| !l.trim_start().starts_with("//") && !unsafe_uses(l).is_empty()).count();
        for (n, line) in missing(&text) {
            match EXCEPTIONS.iter().position(|(f, l, _)| *f == rel && *l == line) {
                Some(e) => excepted[e] = true,
                None => report.push(format!("{rel}:{n}: {line}")),
            }
        }
    }
    // The walk found the sources (the library, these tests, the fuzz
    // targets), so that an empty search cannot pass.
    for expected in ["src/lib.rs", "src/system/linux/syscall/fs.rs", "tests/safety_comments.rs", "fuzz/src/lib.rs"] {
        assert!(files.iter().any(|f| f.ends_with(expected)), "{expected} was not searched");
    }
    assert!(uses > 50, "only {uses} unsafe uses found: is the search broken?");
    assert!(
        report.is_empty(),
        "{} unsafe uses without a `// SAFETY:` comment within {SAFETY_LINES} lines before them \
         (or a `# Safety` doc section for a function):\n{}",
        report.len(),
        report.join("\n")
    );
    for ((file, line, _), used) in EXCEPTIONS.iter().zip(excepted) {
        assert!(used, "exception no longer needed: {file}: {line}");
    }
}

#[test]
fn the_rule_finds_what_it_should() {
    let open = ["un", "safe {"].concat();
    let func = ["pub un", "safe extern \"C\" fn f() {}"].concat();
    // A bare use is reported; a comment above it, within reach, clears it.
    assert_eq!(missing(&format!("fn f() {{\n    {open} g() }}\n}}")).len(), 1);
    assert!(missing(&format!("// SAFETY: g is sound.\n{open} g() }}")).is_empty());
    let far = format!("// SAFETY: too far.\n{}{open} g() }}", "\n".repeat(SAFETY_LINES));
    assert_eq!(missing(&far).len(), 1);
    // A function needs a `# Safety` section (or a SAFETY comment).
    assert_eq!(missing(&func).len(), 1);
    assert!(missing(&format!("/// Does f.\n///\n/// # Safety\n/// Callers pass a live pointer.\n{func}")).is_empty());
    // Comments are not code; words that merely contain the keyword are not it.
    assert!(missing(&format!("// {open} g() }}")).is_empty());
    assert!(unsafe_uses(&["let not_un", "safe = 1; un", "safe_fn();"].concat()).is_empty());
    assert_eq!(unsafe_uses(&["un", "safe impl Send for X {}"].concat()), [0]);
}
