//! A diagnostic's words live in one place: `src/diagnostic/problem/`, one file per area, where
//! each problem (a variant with its data) is turned into its code, message, labels and help. A
//! site that finds a problem names the problem and its data; it never words it. These tests read
//! the crate's source, as `layers.rs` does, so a site that words a diagnostic itself fails here.

use std::path::{Path, PathBuf};

use plans::Code;

/// What only the problem files may write: choosing a code, or wording a diagnostic.
const WORDING: &[&str] =
    &["Code::", "Diagnostic::error(", "Diagnostic::warning(", ".with_help(", ".with_optional_help(", ".with_label("];

/// Whether `line` builds a `Diagnostic` field by field (a struct literal, not a return type).
fn builds_a_diagnostic(line: &str) -> bool {
    line.match_indices("Diagnostic {").any(|(at, _)| {
        let before = line[..at].trim_end();
        !(before.ends_with("->") || before.ends_with("impl") || before.ends_with('>'))
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every source file with its path relative to `src/`, with `/` between parts.
fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

#[test]
fn no_site_outside_the_problem_files_words_a_diagnostic() {
    let mut found = Vec::new();
    for (rel, text) in sources() {
        // diagnostic.rs defines `Diagnostic`; a `tests.rs` module compares codes.
        let exempt = rel == "diagnostic.rs" || rel.starts_with("diagnostic/") || rel.ends_with("tests.rs");
        if exempt {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let wording = WORDING.iter().find(|w| line.contains(**w)).copied();
            if let Some(w) = wording.or(builds_a_diagnostic(line).then_some("Diagnostic {")) {
                found.push(format!("{rel}:{}: `{w}`: name a problem (src/diagnostic/problem/) instead", i + 1));
            }
        }
    }
    assert!(found.is_empty(), "\n{}", found.join("\n"));
}

#[test]
fn every_code_is_worded_in_the_problem_files() {
    let problems: String =
        sources().into_iter().filter(|(rel, _)| rel.starts_with("diagnostic/problem/")).map(|(_, t)| t).collect();
    let missing: Vec<String> =
        Code::ALL.iter().filter(|c| !problems.contains(&format!("Code::{c:?}"))).map(|c| c.to_string()).collect();
    assert!(missing.is_empty(), "no problem is worded with these codes: {missing:?}");
}

#[test]
fn the_scan_sees_a_site_that_words_a_diagnostic() {
    let words = |line: &str| WORDING.iter().any(|w| line.contains(w)) || builds_a_diagnostic(line);
    assert!(words(r#"d.push(Diagnostic::error(Code::BadValue, "zero", span, "here"));"#));
    assert!(words(r#"Diagnostic::new(SettingProblem::NoValue { key, what }, span).with_help("write it")"#));
    assert!(words("let d = Diagnostic { code, severity, message, labels, help, fix, named_file };"));
    assert!(!words("fn ungated(name: &str, span: Span) -> Diagnostic {"));
    assert!(!words("d.push(Diagnostic::new(StepProblem::NoWeight, span));"));
}
