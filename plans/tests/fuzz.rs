//! Property tests: `plans::check` never panics, whatever it is given, and what it returns is
//! consistent (a plan exactly when there is no error, labels inside the text, every diagnostic
//! renders with miette).
//!
//! Inputs are arbitrary bytes and strings, soups of language tokens, and mutations of every plan
//! under `examples/` (read at test time, so new examples are picked up). `PROPTEST_CASES`
//! overrides the case count.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use miette::{GraphicalReportHandler, GraphicalTheme};
use plans::{Inputs, SourceFile};
use proptest::prelude::*;
use proptest::test_runner::Config;

const CASES: u32 = 256;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CASES);
    // No regression files: a failure prints its minimal input, which goes into a test below.
    let mut config = Config { cases, failure_persistence: None, ..Config::default() };
    // The same cases on every CI run; PROPTEST_RNG_SEED=N explores others.
    if config.rng_seed == proptest::test_runner::RngSeed::Random {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x706c616e);
    }
    config
}

/// Checks `text` and asserts everything that must hold of any result; renders every diagnostic.
fn check_consistent(text: &str, inputs: &Inputs) -> Result<(), TestCaseError> {
    let checked = plans::check(SourceFile::new("fuzz.kdl", text), inputs);
    let has_errors = checked.diagnostics.iter().any(|d| d.is_error());
    prop_assert_eq!(checked.plan.is_some(), !has_errors, "plan present iff no errors: {:#?}", checked.diagnostics);
    prop_assert_eq!(checked.graph.is_some(), checked.plan.is_some(), "graph present iff plan present");
    if let (Some(plan), Some(graph)) = (&checked.plan, &checked.graph) {
        prop_assert_eq!(graph.nodes.len(), plan.steps.len());
        prop_assert_eq!(graph.stable_topo_order().len(), plan.steps.len(), "the graph is a DAG");
    }
    let len = text.len();
    for d in &checked.diagnostics {
        prop_assert!(!d.message.trim().is_empty(), "empty message: {:?}", d);
        prop_assert!(!d.code.name().is_empty(), "empty code: {:?}", d);
        prop_assert!(!d.labels.is_empty(), "no label: {:?}", d);
        for l in &d.labels {
            prop_assert!(l.span.end() <= len, "label {:?} past the end ({} bytes): {:?}", l.span, len, d);
            prop_assert!(
                text.is_char_boundary(l.span.offset) && text.is_char_boundary(l.span.end()),
                "label {:?} splits a character: {:?}",
                l.span,
                d
            );
        }
    }
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
    for d in &checked.diagnostics {
        let mut out = String::new();
        handler.render_report(&mut out, &d.in_file(&checked.file)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // miette wraps long messages, so only the code is looked for verbatim.
        prop_assert!(out.contains(&d.code.to_string()), "rendered text lacks the code: {}", out);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The examples, and ways to break them.

fn kdl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            kdl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "kdl") {
            out.push(path);
        }
    }
}

/// Every `examples/**/*.kdl`, as (path, text).
fn examples() -> &'static [(String, String)] {
    static EXAMPLES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut files = Vec::new();
        kdl_files(&root, &mut files);
        let out: Vec<_> = files
            .into_iter()
            .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
            .collect();
        assert!(!out.is_empty(), "no example plans under {}", root.display());
        out
    })
}

/// Tokens of the language, its punctuation and a few troublesome characters.
const VOCABULARY: &[&str] = &[
    "{",
    "}",
    "\"",
    "=",
    ";",
    "\n",
    " ",
    "\\",
    "/*",
    "*/",
    "//",
    "#\"",
    "\"#",
    "(",
    ")",
    "after",
    "rolling",
    "canary",
    "blue-green",
    "backup",
    "migrate",
    "check",
    "run",
    "pause",
    "gate",
    "gates",
    "var",
    "defaults",
    "plan",
    "stack",
    "service",
    "image",
    "replicas",
    "stage",
    "publish",
    "order",
    "start-first",
    "stop-first",
    "phase",
    "contract",
    "expand",
    "#true",
    "#false",
    "#null",
    "true",
    "${x}",
    "${version}",
    "${",
    "$${",
    "}",
    "\"30s\"",
    "\"50%\"",
    "\"1h30m\"",
    "\"result < 0.5\"",
    "0",
    "1",
    "-1",
    "3",
    "1.5",
    "1e400",
    "0x10",
    "99999999999999999999",
    "é",
    "😀",
    "\u{0}",
    "\u{feff}",
    "\u{200b}",
    "\r",
    "\t",
    "\u{2028}",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Delete bytes `[at, at + len)` (positions are fractions of the length, so they fit any file).
    Delete { at: f64, len: usize },
    /// Duplicate line `line`.
    DuplicateLine { line: f64 },
    /// Swap two lines.
    SwapLines { a: f64, b: f64 },
    /// Insert vocabulary tokens at a byte position (possibly inside a character).
    Insert { at: f64, tokens: Vec<usize> },
    /// Cut the file at a byte position.
    Truncate { at: f64 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let frac = 0.0..1.0f64;
    prop_oneof![
        (frac.clone(), 1..64usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        frac.clone().prop_map(|line| Mutation::DuplicateLine { line }),
        (frac.clone(), frac.clone()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (frac.clone(), prop::collection::vec(0..VOCABULARY.len(), 1..6))
            .prop_map(|(at, tokens)| Mutation::Insert { at, tokens }),
        frac.prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn pos(frac: f64, len: usize) -> usize {
    ((frac * (len + 1) as f64) as usize).min(len)
}

/// Applies a mutation to bytes; the caller turns them back into text (lossily).
fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Delete { at, len } => {
            let start = pos(*at, bytes.len());
            let end = (start + len).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let i = pos(*line, lines.len() - 1);
            lines.insert(i, lines[i].clone());
            *bytes = lines.join(&b'\n');
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len() - 1;
            lines.swap(pos(*a, n), pos(*b, n));
            *bytes = lines.join(&b'\n');
        }
        Mutation::Insert { at, tokens } => {
            let at = pos(*at, bytes.len());
            let inserted: Vec<u8> = tokens.iter().flat_map(|&t| VOCABULARY[t].bytes()).collect();
            bytes.splice(at..at, inserted);
        }
        Mutation::Truncate { at } => {
            let at = pos(*at, bytes.len());
            bytes.truncate(at);
        }
    }
}

fn mutated_example() -> impl Strategy<Value = (String, String)> {
    (any::<prop::sample::Index>(), prop::collection::vec(mutation(), 1..4)).prop_map(|(which, mutations)| {
        let (path, text) = which.get(examples());
        let mut bytes = text.clone().into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        (path.clone(), String::from_utf8_lossy(&bytes).into_owned())
    })
}

/// A plan whose body is a soup of language tokens: gets past the KDL parser more often than
/// arbitrary text, so the decoder and checker see odd shapes.
fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(0..VOCABULARY.len(), 0..80).prop_map(|tokens| {
        let body: Vec<&str> = tokens.iter().map(|&t| VOCABULARY[t]).collect();
        format!("plan fuzz {{\n    stack fuzz\n    var x default=1\n    {}\n}}\n", body.join(" "))
    })
}

/// Inputs with and without overrides (one of them naming no variable of the plan).
fn inputs() -> impl Strategy<Value = Inputs> {
    prop_oneof![
        Just(Inputs::default()),
        Just(Inputs {
            overrides: vec![("version".into(), "v9".into()), ("nope".into(), "x".into())],
            ..Inputs::default()
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_consistent(&String::from_utf8_lossy(&bytes), &Inputs::default())?;
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check_consistent(&text, &Inputs::default())?;
    }

    #[test]
    fn token_soup_never_panics(text in token_soup(), inputs in inputs()) {
        check_consistent(&text, &inputs)?;
    }

    #[test]
    fn mutated_examples_never_panic((path, text) in mutated_example(), inputs in inputs()) {
        check_consistent(&text, &inputs).map_err(|e| TestCaseError::fail(format!("{path}: {e}\n--- input ---\n{text}")))?;
    }
}

#[test]
fn every_example_is_consistent_unmutated() {
    for (path, text) in examples() {
        check_consistent(text, &Inputs::default()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
