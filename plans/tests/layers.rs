//! Module dependencies inside `plans` go one way: each module uses only modules listed before it
//! in `LAYERS` (docs/architecture.md says why they are in this order). A `use crate::x` or
//! `crate::x::` in a module that comes before `x` fails this test, so no import circle can form.

use std::path::{Path, PathBuf};

/// The modules of `plans`, lowest first. A directory module (`steps/`, `gates/`, `check/`,
/// `graph/`, `kdl_fast/`, `decoder/`) counts as one module.
const LAYERS: &[&str] = &[
    // text: positions, diagnostics, KDL
    "span",
    "spanned",
    "fix",
    "source_file",
    "suggest",
    "diagnostic",
    "kdl_fast",
    "syntax",
    "fmt",
    // SQL files a plan names
    "sql",
    "compose",
    // values written in settings
    "duration",
    "percentage",
    "condition",
    "stack_name",
    "shell",
    // reading settings
    "keywords",
    "outline",
    "decoder",
    "database",
    // one file per kind: its model and its decoder
    "steps",
    "gates",
    "notify",
    "watch",
    // the plan
    "model",
    "variables",
    "plan_decoder",
    // checking
    "graph",
    "check",
    "project",
];

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

#[test]
fn modules_depend_only_on_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let rank = LAYERS.iter().position(|m| *m == module).unwrap_or_else(|| panic!("add `{module}` to LAYERS"));
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let used: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let Some(used_rank) = LAYERS.iter().position(|m| *m == used) else { continue };
                if used_rank > rank {
                    problems.push(format!("{}:{}: `{module}` uses `{used}`, a module above it", rel.display(), i + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
