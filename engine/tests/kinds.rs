//! One definition per kind: a new step, gate or switch kind is one file per crate plus its line
//! in the registry, and the compiler names every other place that must change. That holds only
//! while no code over kinds has a catch-all: a `_ =>` (or `other =>`) arm in a `match` whose
//! other arms name a kind, or a `matches!` that sorts kinds into a class (`A(_) | B(_)`), would
//! silently put a new kind into whichever class the catch-all picks. This test reads the source
//! of `plans` and `engine` and fails on each, naming the file and line. A question about one
//! kind (`if let StepKind::Migrate(m)`, `matches!(k, StepKind::Backup(b) if ...)`) is allowed.

mod source;

use std::path::Path;

use quote::ToTokens;
use source::rust_files;
use syn::visit::Visit;

/// The enums whose variants are kinds.
const KIND_ENUMS: &[&str] = &[
    "StepKind",
    "StepKeyword",
    "GateKind",
    "GateKeyword",
    "Undo",
    "Switch",
    "SwitchKind",
    "NotifyKind",
    "NotifyKeyword",
    "NotifyEvent",
];

/// The kind enums a pattern names (`StepKind::Rolling(_)` names `StepKind`).
fn kinds_named(pat: &syn::Pat, out: &mut Vec<String>) {
    let mut path = |p: &syn::Path| {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() >= 2 && KIND_ENUMS.contains(&segments[segments.len() - 2].as_str()) {
            out.push(segments[segments.len() - 2].clone());
        }
    };
    match pat {
        syn::Pat::TupleStruct(p) => {
            path(&p.path);
            p.elems.iter().for_each(|e| kinds_named(e, out));
        }
        syn::Pat::Struct(p) => path(&p.path),
        syn::Pat::Path(p) => path(&p.path),
        syn::Pat::Or(p) => p.cases.iter().for_each(|c| kinds_named(c, out)),
        syn::Pat::Tuple(p) => p.elems.iter().for_each(|e| kinds_named(e, out)),
        syn::Pat::Reference(p) => kinds_named(&p.pat, out),
        syn::Pat::Paren(p) => kinds_named(&p.pat, out),
        syn::Pat::Ident(p) => {
            if let Some((_, sub)) = &p.subpat {
                kinds_named(sub, out);
            }
        }
        _ => {}
    }
}

/// Whether a pattern matches anything: `_`, a bare binding, or a tuple of those.
fn catches_all(pat: &syn::Pat) -> bool {
    match pat {
        syn::Pat::Wild(_) => true,
        syn::Pat::Ident(p) => {
            p.subpat.is_none() && p.ident.to_string().starts_with(|c: char| c.is_lowercase() || c == '_')
        }
        syn::Pat::Tuple(p) => p.elems.iter().all(catches_all),
        syn::Pat::Paren(p) => catches_all(&p.pat),
        syn::Pat::Reference(p) => catches_all(&p.pat),
        _ => false,
    }
}

struct Finder<'a> {
    file: &'a str,
    problems: Vec<String>,
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        let mut named = Vec::new();
        for arm in &m.arms {
            kinds_named(&arm.pat, &mut named);
        }
        if !named.is_empty() {
            for arm in &m.arms {
                if catches_all(&arm.pat) {
                    let line = arm.pat.to_token_stream().into_iter().next().map_or(0, |t| t.span().start().line);
                    named.sort();
                    named.dedup();
                    self.problems.push(format!(
                        "{}:{line}: a catch-all arm `{}` in a match over {}: name every kind",
                        self.file,
                        arm.pat.to_token_stream(),
                        named.join(", ")
                    ));
                }
            }
        }
        syn::visit::visit_expr_match(self, m);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if mac.path.is_ident("matches") {
            let parsed = mac.parse_body_with(|input: syn::parse::ParseStream<'_>| {
                let _: syn::Expr = input.parse()?;
                let _: syn::Token![,] = input.parse()?;
                let pat = syn::Pat::parse_multi_with_leading_vert(input)?;
                let _: proc_macro2::TokenStream = input.parse()?;
                Ok(pat)
            });
            if let Ok(pat @ syn::Pat::Or(_)) = parsed {
                let mut named = Vec::new();
                kinds_named(&pat, &mut named);
                if named.len() >= 2 {
                    let line = mac.path.segments[0].ident.span().start().line;
                    self.problems.push(format!(
                        "{}:{line}: `matches!` sorts {} kinds into a class: make it a method of the kind's definition",
                        self.file, named[0]
                    ));
                }
            }
        }
        syn::visit::visit_macro(self, mac);
    }
}

fn problems_in(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let syntax = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let rel = file.strip_prefix(src.parent().unwrap().parent().unwrap()).unwrap().display().to_string();
        let mut finder = Finder { file: &rel, problems: Vec::new() };
        finder.visit_file(&syntax);
        problems.extend(finder.problems);
    }
    problems
}

#[test]
fn no_catch_all_over_kinds_in_plans_or_engine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut problems = problems_in(&root.join("plans/src"));
    problems.extend(problems_in(&root.join("engine/src")));
    assert!(problems.is_empty(), "{} catch-all(s) over kinds:\n{}", problems.len(), problems.join("\n"));
}

/// The finder finds what it is meant to: a test of the test, on code written for it.
#[test]
fn the_finder_catches_a_wildcard_arm_and_a_class_of_kinds() {
    let code = r#"
        fn f(k: &StepKind) -> bool {
            match k {
                StepKind::Canary(_) => true,
                _ => false,
            }
        }
        fn g(k: &StepKind) -> bool { matches!(k, StepKind::Backup(_) | StepKind::Run(_)) }
        fn h(k: &StepKind) -> bool { matches!(k, StepKind::Backup(b) if b.ok) }
        fn i(k: &StepKind) -> u8 { match k { StepKind::Rolling(_) => 1, StepKind::Canary(_) => 2 } }
        fn j(x: u8) -> u8 { match x { 1 => 1, _ => 2 } }
    "#;
    let syntax = syn::parse_file(code).unwrap();
    let mut finder = Finder { file: "example.rs", problems: Vec::new() };
    finder.visit_file(&syntax);
    assert_eq!(finder.problems.len(), 2, "{:#?}", finder.problems);
    assert!(finder.problems[0].starts_with("example.rs:5: a catch-all arm `_`"), "{}", finder.problems[0]);
    assert!(finder.problems[1].starts_with("example.rs:8: `matches!` sorts StepKind"), "{}", finder.problems[1]);
}
