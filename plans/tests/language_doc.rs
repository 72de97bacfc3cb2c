//! Every example in docs/language.md says what it claims: valid blocks are valid, failing blocks
//! fail with the stated code, and every diagnostic code has an example.
//!
//! An HTML comment on the line before a block's fence holds `;`-separated directives:
//! `fragment` (wrap in `plan p { stack s ... }`), `fails: planrun::CODE`, `warns: planrun::CODE`,
//! `var: NAME=VALUE`, `file: PATH` (a `sql`, `yaml` or `caddyfile` block that plans may name). The convention is
//! documented at the end of docs/language.md.

mod doc_blocks;

use std::collections::BTreeSet;
use std::path::Path;

use doc_blocks::{Block, blocks, read_doc};

use plans::project::Project;
use plans::{Code, Inputs, SourceFile};

fn code_name(code: Code) -> String {
    code.to_string()
}

/// Checks one block; returns the code it demonstrates, if any.
fn check_block(b: &Block, files: &Path) -> Result<Option<String>, String> {
    if b.lang == "toml" {
        let result = Project::parse(&SourceFile::new("planrun.toml", b.text.clone()));
        if let Some(code) = &b.fixes {
            return result
                .map(|_| None)
                .map_err(|d| format!("the fixed example of {code} does not parse: {}", d.message));
        }
        return match (&b.fails, result) {
            (None, Ok(_)) => Ok(None),
            (None, Err(d)) => Err(format!("planrun.toml does not parse: {}", d.message)),
            (Some(code), Err(d)) if *code == code_name(d.code) => Ok(Some(code.clone())),
            (Some(code), Err(d)) => Err(format!("expected {code}, got {}: {}", d.code, d.message)),
            (Some(code), Ok(_)) => Err(format!("expected {code}, but planrun.toml parses")),
        };
    }
    let text = if b.fragment { format!("plan p {{\n    stack s\n{}}}\n", b.text) } else { b.text.clone() };
    let project =
        (!b.project_vars.is_empty()).then(|| ("staging".to_owned(), b.project_vars.iter().cloned().collect()));
    let inputs = Inputs { overrides: b.vars.clone(), project, files: Some(files.to_owned()), ..Inputs::default() };
    let checked = plans::check(SourceFile::new("block.kdl", text), &inputs);
    let describe = |ds: &[&plans::Diagnostic]| {
        ds.iter().map(|d| format!("{} {}", d.code, d.message)).collect::<Vec<_>>().join("; ")
    };
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
    let warnings: Vec<_> = checked.diagnostics.iter().filter(|d| !d.is_error()).collect();
    if let Some(code) = &b.fails {
        if errors.is_empty() {
            return Err(format!("expected {code}, but the block has no errors"));
        }
        if errors.iter().any(|d| code_name(d.code) != *code) {
            return Err(format!("expected only {code}, got: {}", describe(&errors)));
        }
        return Ok(Some(code.clone()));
    }
    if !errors.is_empty() {
        return Err(format!("expected no errors, got: {}", describe(&errors)));
    }
    if let Some(code) = &b.fixes {
        if !warnings.is_empty() {
            return Err(format!("the fixed example of {code} has warnings: {}", describe(&warnings)));
        }
        return Ok(None);
    }
    if let Some(code) = &b.warns {
        if warnings.is_empty() || warnings.iter().any(|d| code_name(d.code) != *code) {
            return Err(format!("expected only the warning {code}, got: [{}]", describe(&warnings)));
        }
        return Ok(Some(code.clone()));
    }
    Ok(None)
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The files the examples may name: the prodstack example's (nginx templates, migrations) and
/// every `sql`, `yaml` (compose) or `caddyfile` (router template) block with a `file:` directive.
fn example_files(blocks: &[Block]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("planrun-language-doc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/prodstack"), &dir);
    let mut seen = BTreeSet::new();
    for b in blocks {
        let Some(name) = &b.file else { continue };
        assert!(
            b.lang == "sql" || b.lang == "yaml" || b.lang == "caddyfile",
            "docs/language.md:{}: `file:` is for `sql`, `yaml` and `caddyfile` blocks",
            b.line
        );
        assert!(seen.insert(name.clone()), "docs/language.md:{}: a second block is the file {name}", b.line);
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &b.text).unwrap();
    }
    dir
}

#[test]
fn every_example_in_the_language_reference_checks_as_stated() {
    let doc = read_doc();
    let blocks = blocks(&doc);
    let files = example_files(&blocks);
    let checked: Vec<&Block> = blocks.iter().filter(|b| b.lang == "kdl" || b.lang == "toml").collect();
    assert!(checked.len() >= 40, "expected the reference's examples, found {} blocks", checked.len());
    let mut failures = Vec::new();
    let mut demonstrated = BTreeSet::new();
    // A fixed example follows an example of its code (what `planrun explain` shows together).
    let mut fixed = BTreeSet::new();
    let mut shown: Option<&str> = None;
    for b in &checked {
        if let Some(code) = b.fails.as_deref().or(b.warns.as_deref()) {
            shown = Some(code);
        }
        if let Some(code) = &b.fixes {
            if shown != Some(code.as_str()) {
                failures.push(format!("docs/language.md:{}: a fixed {code} after no example of it", b.line));
            }
            fixed.insert(code.clone());
        }
    }
    for b in checked {
        match check_block(b, &files) {
            Ok(Some(code)) => {
                demonstrated.insert(code);
            }
            Ok(None) => {}
            Err(why) => failures.push(format!("docs/language.md:{}: {why}", b.line)),
        }
    }
    for b in blocks.iter().filter(|b| b.lang != "kdl" && b.lang != "toml") {
        assert!(
            !b.fragment && b.fails.is_none() && b.warns.is_none(),
            "docs/language.md:{}: a `{}` block has directives but is not checked",
            b.line,
            b.lang
        );
    }
    for code in Code::ALL {
        let name = code_name(*code);
        if !demonstrated.contains(&name) {
            failures.push(format!("{name} has no `fails:` or `warns:` example in docs/language.md"));
        }
        if !fixed.contains(&name) {
            failures.push(format!("{name} has no `fixes:` example in docs/language.md"));
        }
        if !doc.contains(&format!("### {name}\n")) {
            failures.push(format!("{name} has no `### {name}` section in docs/language.md"));
        }
    }
    let _ = std::fs::remove_dir_all(&files);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_code_section_names_a_real_code() {
    let doc = read_doc();
    let known: BTreeSet<String> = Code::ALL.iter().map(|c| code_name(*c)).collect();
    for line in doc.lines() {
        if let Some(code) = line.strip_prefix("### planrun::") {
            assert!(known.contains(&format!("planrun::{code}")), "docs/language.md documents an unknown code {code}");
        }
    }
}

#[test]
fn the_graph_shown_for_the_dependency_example_is_what_planrun_prints() {
    let doc = read_doc();
    let blocks = blocks(&doc);
    let at = blocks.iter().position(|b| b.lang.is_empty() && b.text.starts_with("layer 1")).expect("the graph output");
    let plan = blocks[..at].iter().rev().find(|b| b.lang == "kdl").unwrap();
    let checked = plans::check(SourceFile::new("plan.kdl", plan.text.clone()), &Inputs::default());
    let text = plans::graph::render::text(checked.plan.as_ref().unwrap(), checked.graph.as_ref().unwrap());
    assert_eq!(text, blocks[at].text, "update the `planrun graph` output in docs/language.md");
}
