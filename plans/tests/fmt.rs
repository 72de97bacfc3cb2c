//! `plans::fmt::format`, the canonical layout of a plan file (`planrun fmt`).
//!
//! - Badly laid-out inputs in `tests/fmt/*.kdl`, their layouts in insta snapshots (update with
//!   `INSTA_UPDATE=always cargo test -p planrun-plans --test fmt`, then read the `.snap` files).
//! - Every plan under `examples/` and every KDL block of docs/language.md: formatting twice gives
//!   the same text, the plan (`planrun show --json`) or its diagnostics do not change, every
//!   comment is kept.
//! - Generated plans: the examples written out again with random indentation, spacing, line
//!   continuations, `;`, quoted names, blank lines and comments, checked the same way; without the
//!   blank lines and comments, they format to exactly what the example formats to.

mod doc_blocks;

use std::path::{Path, PathBuf};

use plans::fmt::{FormatError, format};
use plans::kdl_fast::{self, CommentKind, Node, is_bare_identifier};
use plans::{Inputs, SourceFile};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt")
}

fn formatted(text: &str) -> String {
    match format(text) {
        Ok(s) => s,
        Err(FormatError::Syntax(d)) => {
            panic!("syntax errors: {:?}\n{text}", d.iter().map(|d| &d.message).collect::<Vec<_>>())
        }
        Err(FormatError::Unsafe(why)) => panic!("refused: {why}\n{text}"),
    }
}

/// What a plan means: its JSON as `planrun show --json` prints it when it has no errors, else its
/// diagnostics (codes and messages, without positions).
fn meaning(text: &str, files: Option<&Path>) -> String {
    let inputs = Inputs { files: files.map(Path::to_path_buf), ..Inputs::default() };
    let checked = plans::check(SourceFile::new("plan.kdl", text.to_owned()), &inputs);
    match &checked.plan {
        Some(plan) => serde_json::to_string_pretty(plan).unwrap(),
        None => checked.diagnostics.iter().map(|d| format!("{} {}\n", d.code, d.message)).collect(),
    }
}

/// The text of every `//` and `/* */` comment.
fn comments(text: &str) -> Vec<String> {
    let (_, comments) = kdl_fast::parse_with_comments(text).unwrap();
    comments
        .iter()
        .filter(|c| matches!(c.kind, CommentKind::Line | CommentKind::Block))
        .map(|c| text[c.span.offset..c.span.end()].trim_end().to_owned())
        .collect()
}

/// Formatting `text` keeps its meaning and comments, and formatting again changes nothing.
fn check_layout(name: &str, text: &str, files: Option<&Path>) -> String {
    let once = formatted(text);
    assert_eq!(formatted(&once), once, "{name}: formatting twice changes the text:\n{once}");
    assert_eq!(meaning(&once, files), meaning(text, files), "{name}: formatting changes the plan:\n{once}");
    for comment in comments(text) {
        assert!(once.contains(&comment), "{name}: the comment `{comment}` is lost:\n{once}");
    }
    once
}

#[test]
fn badly_laid_out_plans() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(cases_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 5, "expected the cases in tests/fmt/");
    for path in names {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let out = check_layout(&name, &text, None);
        insta::with_settings!({ description => text.clone(), omit_expression => true }, {
            insta::assert_snapshot!(name, out);
        });
    }
}

/// Every `.kdl` file under `examples/`, with its directory (the files it names).
fn examples() -> Vec<(String, String, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "kdl") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(&root).unwrap().display().to_string();
            (name, std::fs::read_to_string(&p).unwrap(), p.parent().unwrap().to_path_buf())
        })
        .collect()
}

#[test]
fn every_example_keeps_its_plan_and_comments() {
    let examples = examples();
    assert!(examples.len() >= 6, "expected the examples");
    for (name, text, dir) in &examples {
        check_layout(name, text, Some(dir));
    }
}

#[test]
fn every_example_is_in_the_canonical_layout() {
    for (name, text, _) in examples() {
        assert_eq!(formatted(&text), text, "examples/{name} is not formatted: run `planrun fmt examples/{name}`");
    }
}

#[test]
fn every_block_of_the_language_reference_keeps_its_meaning() {
    let doc = doc_blocks::read_doc();
    let mut formatted_blocks = 0;
    for block in doc_blocks::blocks(&doc).iter().filter(|b| b.lang == "kdl") {
        let text =
            if block.fragment { format!("plan p {{\n    stack s\n{}}}\n", block.text) } else { block.text.clone() };
        match format(&text) {
            Ok(_) => {
                check_layout(&format!("docs/language.md:{}", block.line), &text, None);
                formatted_blocks += 1;
            }
            // Examples of syntax errors are not formatted.
            Err(FormatError::Syntax(_)) => assert!(block.fails.is_some(), "docs/language.md:{}", block.line),
            Err(FormatError::Unsafe(why)) => panic!("docs/language.md:{}: refused: {why}", block.line),
        }
    }
    assert!(formatted_blocks >= 40, "expected the reference's examples, formatted {formatted_blocks}");
}

#[test]
fn a_file_with_syntax_errors_is_not_formatted() {
    let Err(FormatError::Syntax(diagnostics)) = format("plan p {\n    stack \"s\n    x=\n") else {
        panic!("expected syntax errors");
    };
    assert!(diagnostics.len() >= 2, "every syntax error is reported: {diagnostics:?}");
}

// ---------------------------------------------------------------- generated layouts

/// Writes a parsed plan out again with random layout choices, drawn from `choices`; with
/// `decorate`, also blank lines, comments (`c1`, `c2`, ...) and slashdashed parts.
struct Ugly<'a> {
    text: &'a str,
    choices: &'a [u8],
    next: usize,
    decorate: bool,
    comments: usize,
    out: String,
}

impl Ugly<'_> {
    fn pick<'s>(&mut self, options: &[&'s str]) -> &'s str {
        let c = self.choices.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        options[c as usize % options.len()]
    }

    fn comment(&mut self, template: &str) -> String {
        self.comments += 1;
        template.replace('N', &self.comments.to_string())
    }

    /// A name as written, sometimes quoted when it was a bare word.
    fn string(&mut self, written: &str) -> String {
        if is_bare_identifier(written) && self.pick(&["", "q"]) == "q" {
            format!("\"{written}\"")
        } else {
            written.to_owned()
        }
    }

    fn nodes(&mut self, nodes: &[Node]) {
        for node in nodes {
            if self.decorate {
                match self.pick(&["", "", "blank", "line", "block", "slashdash"]) {
                    "blank" => self.out.push_str("\n\n\n"),
                    "line" => {
                        let c = self.comment("// cN\n");
                        self.out.push_str(&c);
                    }
                    "block" => {
                        let c = self.comment("/* cN */ ");
                        self.out.push_str(&c);
                    }
                    "slashdash" => self.out.push_str("/-dropped a  b=1 {\n  x\n}\n"),
                    _ => {}
                }
            }
            let indent = self.pick(&["", " ", "\t", "    ", "        ", "  \t"]);
            self.out.push_str(indent);
            let text = self.text;
            if let Some(ty) = &node.ty {
                let t = self.string(&text[ty.span.offset..ty.span.end()]);
                self.out.push_str(&format!("({t})"));
            }
            let name = self.string(&text[node.name.span.offset..node.name.span.end()]);
            self.out.push_str(&name);
            for e in &node.entries {
                let mut separators = vec![" ", "   ", "\t", " \\\n      "];
                if self.decorate {
                    separators.extend([" /* cN */ ", " \\ // cN\n  ", " /-skipped=1 "]);
                }
                let sep = self.pick(&separators);
                let sep = if sep.contains('N') { self.comment(sep) } else { sep.to_owned() };
                self.out.push_str(&sep);
                if let Some(key) = &e.name {
                    let k = self.string(&text[key.span.offset..key.span.end()]);
                    self.out.push_str(&k);
                    let eq = self.pick(&["=", "=", " = "]);
                    self.out.push_str(eq);
                }
                if let Some(ty) = &e.ty {
                    let t = self.string(&text[ty.span.offset..ty.span.end()]);
                    self.out.push_str(&format!("({t})"));
                }
                let value = &text[e.value_span.offset..e.value_span.end()];
                self.out.push_str(value);
            }
            if let Some(children) = &node.children {
                let open = self.pick(&[" {", "  {", " \\\n{"]);
                self.out.push_str(open);
                if self.decorate && self.pick(&["", "c"]) == "c" {
                    let c = self.comment(" // cN");
                    self.out.push_str(&c);
                }
                self.out.push('\n');
                self.nodes(&children.nodes);
                let close = self.pick(&["}", "  }", "\t}"]);
                self.out.push_str(close);
            }
            let mut terminators = vec!["\n", ";", "  \n", ";\n"];
            if self.decorate {
                terminators.push(" // cN\n");
            }
            let t = self.pick(&terminators);
            let t = if t.contains('N') { self.comment(t) } else { t.to_owned() };
            self.out.push_str(&t);
        }
    }
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128);
    let mut config = Config { cases, failure_persistence: None, ..Config::default() };
    if config.rng_seed == proptest::test_runner::RngSeed::Random {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x666d74);
    }
    config
}

fn ugly(text: &str, choices: &[u8], decorate: bool) -> (String, usize) {
    let doc = kdl_fast::parse(text).unwrap();
    let mut u = Ugly { text, choices, next: 0, decorate, comments: 0, out: String::new() };
    u.nodes(&doc.nodes);
    (u.out, u.comments)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_layouts_keep_the_plan_and_every_comment(
        which in 0..64usize,
        choices in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let examples = examples();
        let (name, text, dir) = &examples[which % examples.len()];
        let (ugly, comments) = ugly(text, &choices, true);
        prop_assert_eq!(meaning(&ugly, Some(dir)), meaning(text, Some(dir)), "the generator changed {}", name);
        let once = check_layout(name, &ugly, Some(dir));
        for n in 1..=comments {
            let marker = format!("c{n} ");
            let at_end = format!("c{n}\n");
            prop_assert!(once.contains(&marker) || once.contains(&at_end), "comment c{} lost:\n{}", n, once);
        }
    }

    #[test]
    fn generated_layouts_without_comments_format_to_the_canonical_one(
        which in 0..64usize,
        choices in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let examples = examples();
        let (name, text, dir) = &examples[which % examples.len()];
        let (ugly, _) = ugly(text, &choices, false);
        let canonical = formatted(text);
        // The examples' blank lines and comments are theirs: compare without them.
        let without = |s: &str| -> String {
            s.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
        };
        let once = check_layout(name, &ugly, Some(dir));
        prop_assert_eq!(without(&once), without(&canonical), "{}:\n{}", name, ugly);
    }
}
