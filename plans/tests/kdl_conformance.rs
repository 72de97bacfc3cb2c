//! `plans::kdl_fast` against the `kdl` crate (the reference KDL 2 parser).
//!
//! For every input: both accept or both reject, and when both accept the trees are equal — node
//! names and type annotations (values and spans), entries (key, value, type, entry span, and the
//! value's source text) and children — except for the documented differences below.
//!
//! Node spans: `kdl` includes the node's trailing whitespace, comments and slashdashed parts
//! (`foo bar   // c` gives `foo bar   `); ours stop at the last entry or `}`. We check that both
//! start at the same byte and that ours ends no later. Children-block spans: `kdl` covers the
//! inner nodes; ours covers the braces. Neither is compared further.
//!
//! Known `kdl` 6.7.1 deviations from the KDL 2.0 spec, where we follow the spec (see
//! `spec_divergences`):
//! * U+007F (DEL) is a disallowed literal code point; `kdl` accepts it.
//! * Disallowed code points are disallowed "anywhere in the document"; `kdl` accepts them inside
//!   comments.
//! * `-inf` is a disallowed bare identifier; `kdl` reads it as the string "-inf".
//! * Radix prefixes are lowercase `0x` `0o` `0b`; `kdl` also accepts `0X` `0O` `0B`.
//! * A single-line raw string body cannot start with `""` (`#"""x"""#` is an invalid
//!   multi-line raw string); `kdl` only rejects the exact body `"`.
//! * A slashdashed node may be terminated by `;` (`/-a; b`); `kdl` rejects it.
//! * No space is needed before `/-` (`node "string"/-1`, `n {}/-{}`): the grammar's revision of
//!   January 2025 (kdl-org/kdl#499, in the official test suite as `zero_space_before_slashdash_*`);
//!   `kdl` 6.7.1 still follows the earlier text.
//! * Nodes need terminators even around slashdashed nodes: `kdl` accepts `/-a {} b` (as `b`)
//!   and `a {} /-b` (as `a`), where the spec's `node := base-node node-terminator` does not.
//! * Float parts are not limited to 128-bit integers (`1.000…0001` with 40 fraction digits);
//!   `kdl` rejects them. `-170141183460469231731687303715884105728` (i128::MIN) is accepted.
//! * In multi-line raw strings, `\` has no meaning, so a line `\ ` is not blank; `kdl` treats
//!   `\`+whitespace as a whitespace escape there when deciding whether a line is blank.

use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use plans::kdl_fast::{self, Document, Entry, Node, Value};
use plans::span::Span;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

fn sp(s: miette::SourceSpan) -> Span {
    Span::new(s.offset(), s.len())
}

fn same_value(a: &Value, b: &KdlValue) -> bool {
    match (a, b) {
        (Value::String(x), KdlValue::String(y)) => x == y,
        (Value::Integer(x), KdlValue::Integer(y)) => x == y,
        (Value::Float(x), KdlValue::Float(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::Bool(x), KdlValue::Bool(y)) => x == y,
        (Value::Null, KdlValue::Null) => true,
        _ => false,
    }
}

fn cmp_entry(src: &str, path: &str, a: &Entry, b: &KdlEntry) -> Result<(), String> {
    let what = || format!("{path}: entry {:?} vs {:?}", &src[a.span.offset..a.span.end()], b);
    if !same_value(&a.value, b.value()) {
        return Err(format!("{}: value {:?} vs {:?}", what(), a.value, b.value()));
    }
    match (&a.name, b.name()) {
        (None, None) => {}
        (Some(x), Some(y)) if x.value == y.value() && x.span == sp(y.span()) => {}
        (x, y) => return Err(format!("{}: key {x:?} vs {y:?}", what())),
    }
    match (&a.ty, b.ty()) {
        (None, None) => {}
        (Some(x), Some(y)) if x.value == y.value() && x.span == sp(y.span()) => {}
        (x, y) => return Err(format!("{}: type {x:?} vs {y:?}", what())),
    }
    if a.span != sp(b.span()) {
        return Err(format!("{}: span {:?} vs {:?}", what(), a.span, sp(b.span())));
    }
    let repr = b.format().map(|f| f.value_repr.as_str()).unwrap_or_default();
    if &src[a.value_span.offset..a.value_span.end()] != repr {
        return Err(format!("{}: value text {:?} vs {repr:?}", what(), &src[a.value_span.offset..a.value_span.end()]));
    }
    Ok(())
}

fn cmp_node(src: &str, path: &str, a: &Node, b: &KdlNode) -> Result<(), String> {
    let path = format!("{path}/{}", a.name.value);
    if a.name.value != b.name().value() || a.name.span != sp(b.name().span()) {
        return Err(format!("{path}: name {:?} vs {:?}", a.name, b.name()));
    }
    match (&a.ty, b.ty()) {
        (None, None) => {}
        (Some(x), Some(y)) if x.value == y.value() && x.span == sp(y.span()) => {}
        (x, y) => return Err(format!("{path}: node type {x:?} vs {y:?}")),
    }
    let ks = sp(b.span());
    if a.span.offset != ks.offset || a.span.end() > ks.end() {
        return Err(format!("{path}: node span {:?} not a prefix of kdl's {ks:?}", a.span));
    }
    if a.entries.len() != b.entries().len() {
        return Err(format!("{path}: {} entries vs {}", a.entries.len(), b.entries().len()));
    }
    for (x, y) in a.entries.iter().zip(b.entries()) {
        cmp_entry(src, &path, x, y)?;
    }
    match (&a.children, b.children()) {
        (None, None) => Ok(()),
        (Some(x), Some(y)) => {
            let close = &src[x.span.offset..x.span.end()];
            if !close.starts_with('{') || !close.ends_with('}') {
                return Err(format!("{path}: children span {:?} is not the braces", x.span));
            }
            cmp_doc(src, &path, x, y)
        }
        (x, y) => Err(format!("{path}: children {} vs {}", x.is_some(), y.is_some())),
    }
}

fn cmp_doc(src: &str, path: &str, a: &Document, b: &KdlDocument) -> Result<(), String> {
    if a.nodes.len() != b.nodes().len() {
        return Err(format!("{path}: {} nodes vs {}", a.nodes.len(), b.nodes().len()));
    }
    for (x, y) in a.nodes.iter().zip(b.nodes()) {
        cmp_node(src, path, x, y)?;
    }
    Ok(())
}

/// Why the two parsers may legitimately disagree on `src` (the spec is right; see the module
/// docs), or `None`.
fn spec_divergence(
    src: &str,
    ours: &Result<Document, Vec<kdl_fast::ParseError>>,
    kdl_ok: bool,
) -> Option<&'static str> {
    match ours {
        Err(errors) if kdl_ok => {
            let e = &errors[0];
            let at = &src[e.span.offset..];
            let at = at.trim_start_matches(['+', '-']);
            let near = &src.as_bytes()[e.span.offset..(e.span.end() + 1).min(src.len())];
            if e.message.contains("U+007F") || near.contains(&0x7F) {
                Some("DEL")
            } else if e.message.contains("invisible character") {
                Some("disallowed code point in a comment")
            } else if e.message.contains("`-inf`") {
                Some("bare -inf")
            } else if at.starts_with("0X") || at.starts_with("0O") || at.starts_with("0B") {
                Some("uppercase radix prefix")
            } else if e.message.contains("one-line raw string cannot start") {
                Some("raw string starting with \"\"")
            } else if src.contains("/-")
                && (e.message.contains("go before a node's `{ }` block")
                    || e.message.contains("expected the end of the node"))
            {
                Some("no terminator between a node and a slashdashed node")
            } else {
                None
            }
        }
        Ok(_) if !kdl_ok => {
            if KdlDocument::parse_v2(&src.replace("/-", " /-")).is_ok() {
                Some("no space before `/-` (the 2025 revision of KDL 2, kdl-org/kdl#499)")
            } else if KdlDocument::parse_v2(&src.replace(';', "\n")).is_ok() {
                Some("slashdashed node terminated by `;`")
            } else if src.chars().filter(char::is_ascii_digit).count() > 38 {
                Some("float part beyond 128 bits")
            } else if src.contains("#\"\"\"") {
                Some("`\\` in a blank line of a multi-line raw string")
            } else {
                None
            }
        }
        _ => None,
    }
}

#[derive(Default, Debug)]
struct Stats {
    both_ok: usize,
    both_err: usize,
    divergent: usize,
}

/// Differential check of one input; panics with a description on a real mismatch.
fn check(src: &str, stats: &mut Stats) -> Result<(), String> {
    let ours = kdl_fast::parse(src);
    let theirs = KdlDocument::parse_v2(src);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            stats.both_ok += 1;
            cmp_doc(src, "", a, b).map_err(|e| format!("input {src:?}: {e}"))
        }
        (Err(_), Err(_)) => {
            stats.both_err += 1;
            Ok(())
        }
        _ => {
            if spec_divergence(src, &ours, theirs.is_ok()).is_some() {
                stats.divergent += 1;
                return Ok(());
            }
            Err(format!(
                "input {src:?}: kdl_fast {:?}, kdl {}",
                ours.as_ref().map(|_| "ok").map_err(|e| e[0].to_string()),
                match &theirs {
                    Ok(_) => "ok".to_string(),
                    Err(e) => format!("{:?}", e.diagnostics.iter().map(|d| (d.span, &d.message)).collect::<Vec<_>>()),
                }
            ))
        }
    }
}

fn kdl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            kdl_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "kdl") {
            out.push(p);
        }
    }
}

fn examples() -> Vec<String> {
    let mut files = Vec::new();
    kdl_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"), &mut files);
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

fn doc_blocks() -> Vec<String> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md")).unwrap();
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in doc.lines() {
        match &mut cur {
            None if line.trim_start().starts_with("```kdl") => cur = Some(String::new()),
            Some(b) if line.trim_start().starts_with("```") => {
                out.push(std::mem::take(b));
                cur = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

/// Hand-written inputs covering every construct (valid and invalid).
const SNIPPETS: &[&str] = &[
    // documents and terminators
    "",
    " ",
    "\n",
    "\u{FEFF}",
    "\u{FEFF}node",
    "a\u{FEFF}",
    "node",
    "node\n",
    "node;",
    "a;b;c",
    "a; b ;c;",
    "a;;b",
    ";",
    "a\r\nb\r\n",
    "a\rb",
    "a\u{85}b",
    "a\u{2028}b",
    "a\u{2029}b",
    "a\u{0B}b",
    "a\u{0C}b",
    "a\u{1680}b",
    "a\u{3000}b\u{A0}c",
    "node }",
    "}",
    "{",
    "{}",
    "node {",
    "node {}",
    "node{}",
    "node{a}",
    "node {a;b}",
    "node { a\n b }",
    "node {}\nb",
    "node {} b",
    "node {}; b",
    "node {} {}",
    "node {};",
    "node \"a\"{}",
    "node #true{}",
    "node 1{}",
    "a {b {c {d}}}",
    "a { b; }; c",
    "a {\n}\n",
    "a { /-b }",
    "a { b /-c }",
    // comments
    "// c",
    "// c\nnode",
    "node // c",
    "node// c",
    "node/* c */",
    "node /* c */ a",
    "node /* c",
    "/* a /* b */ c */ node",
    "/* a /* b */ node",
    "node /* \n */ a",
    "/**/node",
    "node /*/ x */",
    "/*/ x */ n",
    "node /* * / */",
    "//",
    "a//\nb",
    "a /*x*/ /*y*/ b",
    "/* ** */",
    "a /*\n*/b",
    // line continuations
    "node \\\n a",
    "node \\ // c\n a",
    "node \\",
    "node \\ x",
    "node \\\n\\\n a",
    "\\\nnode",
    "node a\\\n",
    "node \\\t\n a",
    "node a \\ /* c */ \n b",
    "node \\/* x */\n a",
    // identifiers
    "foo-bar",
    "foo.bar",
    ".",
    "-",
    "+",
    "--",
    "-.",
    "+.",
    "..",
    ".a",
    "-a",
    "+a",
    "-.a",
    ".1",
    "-1a",
    "+.1",
    "-.1",
    "..1",
    "a1",
    "_1",
    "a-",
    "a.",
    "a+b",
    "a<b>",
    "a,b",
    "a[b]",
    "a]",
    "a\"b\"",
    "a#b",
    "a=b",
    "a(b)",
    "a\\b",
    "a/b",
    "true",
    "false",
    "null",
    "inf",
    "-inf",
    "nan",
    "+inf",
    "infinity",
    "nano",
    "truex",
    "Null",
    "n true",
    "n inf",
    "n -inf",
    "n +inf",
    "n nan",
    "ñ",
    "日本 語",
    "a\u{7F}",
    "😀 😁",
    "a\u{200E}",
    "a\u{202A}b",
    "a\u{2066}",
    "a\u{1}",
    "a\u{0}b",
    "node ,",
    // quoted strings and escapes
    "\"\"",
    "\"a b\" c",
    "n \"a\"",
    "n \"a\\nb\\tc\\\\d\\\"e\\bf\\fg\\sh\\ri\"",
    "n \"\\u{1F600}\"",
    "n \"\\u{0}\"",
    "n \"\\u{10FFFF}\"",
    "n \"\\u{110000}\"",
    "n \"\\u{D800}\"",
    "n \"\\u{}\"",
    "n \"\\u{1234567}\"",
    "n \"\\u1234\"",
    "n \"\\x\"",
    "n \"\\/\"",
    "n \"a\\   b\"",
    "n \"a\\\n   b\"",
    "n \"a\\\n\n  \t b\"",
    "n \"a",
    "n \"a\nb\"",
    "n \"a\u{85}b\"",
    "n \"a\u{2028}\"",
    "n \"a\u{7F}\"",
    "n \"a\u{1}\"",
    "n \"a\tb\"",
    "n \"\u{FEFF}\"",
    "n \"a\"b",
    "n \"a\"\"b\"",
    "n \"a\"=1",
    "n \"a\" = 1",
    "n a =1",
    "n a= 1",
    "n a = \\\n 1",
    "n \"\\",
    "n \"\\\"",
    "\"node\" \"x\"",
    "\"\" \"\"=\"\"",
    "n \"\\s\"",
    "n \"\\ \"",
    // multi-line strings
    "n \"\"\"\nfoo\nbar\n\"\"\"",
    "n \"\"\"\n  foo\n    bar\n  baz\n  \"\"\"",
    "n \"\"\"\n  foo\n bar\n  \"\"\"",
    "n \"\"\"\n\n    string\t\n    \"\"\"",
    "n \"\"\"\n \t \\\n          \n \t \"\"\"",
    "n \"\"\"\n\\\"\"\"\n\"\"\"",
    "n \"\"\"\nfoo\r\nbar\n\"\"\"",
    "n \"\"\"\n  \\     foo\n    \\  bar\n   \\ baz\n  \"\"\"",
    "n \"\"\"foo\"\"\"",
    "n \"\"\"\nfoo\"\"\"",
    "n \"\"\"\nfoo",
    "n \"\"\"\n\"\"\"",
    "n \"\"\"\n\n\"\"\"",
    "n \"\"\"\n  a\n\n  b\n  \"\"\"",
    "n \"\"\"\n  a\n \n  b\n  \"\"\"",
    "n \"\"\"\n  a \"\" b \" c\n  \"\"\"",
    "n \"\"\"\n a\\nb \\t\n \"\"\"",
    "n \"\"\"\n  a \\\n  b\n  \"\"\"",
    "n \"\"\"\n\ta\n\t\"\"\"",
    "n \"\"\"\n\ta\n  \"\"\"",
    "n \"\"\"\n  a\n  \"\"\" x",
    "n \"\"\"\n  a\n  \"\"\"x",
    "\"\"\"\nname\n\"\"\" 1",
    "n k=\"\"\"\n  v\n  \"\"\"",
    "n \"\"\"\na\u{2028}b\u{85}\n\"\"\"",
    "n \"\"\"\n  a\n  \\\n  \"\"\"",
    "n \"\"\"\n  a\n \\ \"\"\"",
    "n \"\"\"\n\u{7F}\n\"\"\"",
    "n \"\"\"\n a\n\u{A0}\"\"\"",
    "n \"\"\"\r\n  a\r\n  \"\"\"",
    "n \"\"\" \nx\n\"\"\"",
    // raw strings
    "n #\"a\"#",
    "n #\"a\\nb\"#",
    "n ##\"a\"#b\"##",
    "n #\"a\"##",
    "n ##\"a\"#",
    "n #\"\"#",
    "n #\"\"\"#",
    "n #\"\"\"\"#",
    "n #\"\"\"x\"\"\"#",
    "n #\"a\"b\"#",
    "n #\"a\nb\"#",
    "n #\"a",
    "n #a",
    "n ##",
    "n #",
    "#\"raw\"# x",
    "n #\"\u{7F}\"#",
    "n #\"\"\"\nfoo\nbar\n\"\"\"#",
    "n ##\"\"\"\n  foo\n    bar\n  \"\"\"##",
    "n #\"\"\"\n  \\nfoo\n  \"\"\"#",
    "n #\"\"\"\nfoo\n  bar\n  \"\"\"#",
    "n #\"\"\"\n  a\"\"\"b\n  \"\"\"#",
    "n ##\"\"\"\n  a\"\"\"#b\n  \"\"\"##",
    "n #\"\"\"\n\"\"\"#",
    "n #\"\"\"\na\n\"\"\"##",
    "n #\"\"\"\n  a\n\n  \"\"\"#",
    "n #\"a\"#=1",
    "n #\"\"\" \n\"\"\"#",
    // numbers
    "n 0",
    "n 1",
    "n -1",
    "n +1",
    "n 1_000",
    "n 1__0_",
    "n 1.5",
    "n -1.5",
    "n 1e10",
    "n 1E10",
    "n 1e+10",
    "n 1e-10",
    "n 1.5e3",
    "n 1_0.5_0e1_0",
    "n 1.",
    "n 1.e5",
    "n .5",
    "n 1e",
    "n 1e_5",
    "n 1._5",
    "n 1.5.3",
    "n 0x1F",
    "n 0xdead_beef",
    "n -0x10",
    "n +0x10",
    "n 0x",
    "n 0x_1",
    "n 0xG",
    "n 0o17",
    "n 0o8",
    "n 0o",
    "n 0b101",
    "n 0b2",
    "n 0b1_0_",
    "n 0b12",
    "n 00",
    "n 007",
    "n 1a",
    "n 1-",
    "n 0.0",
    "n -0.0",
    "n 1e400",
    "n -1e400",
    "n 1e-400",
    "n 170141183460469231731687303715884105727",
    "n 170141183460469231731687303715884105728",
    "n -170141183460469231731687303715884105727",
    "n 0x7fffffffffffffffffffffffffffffff",
    "n 0xffffffffffffffffffffffffffffffff",
    "n 1)",
    "n 1=2",
    "n 1/* c */",
    "n 1//c",
    "n 1;",
    "n 1}",
    "n { a 1}",
    "n 1(t)",
    "n 1\\\n",
    "n 1.5e3.2",
    "n 12_34.56",
    "n 1234_.56",
    "n 0x1.5",
    // keywords
    "n #true #false #null",
    "n #inf #-inf #nan",
    "n #True",
    "n #truex",
    "n #true=1",
    "n a=#true",
    "n #nul",
    "#true",
    "n # true",
    "n #-nan",
    "n #+inf",
    "n #\"x\"#",
    "n #true;",
    "n #null}",
    "n #true/* */",
    // properties and entries
    "n a=1",
    "n a=1 b=2 a=3",
    "n a = 1",
    "n a=",
    "n =1",
    "n a==1",
    "n a=b=c",
    "n \"a b\"=1",
    "n a=(t)1",
    "n a=(t) 1",
    "n a= (t)1",
    "n (t)a=1",
    "n (t)1",
    "n (t) 1",
    "n ( t )1",
    "n (t)",
    "n ()1",
    "n (\"\")1",
    "n (1)1",
    "n (#true)1",
    "n (a b)1",
    "n (t)(u)1",
    "n (t)\"s\"",
    "n (t)#true",
    "n (t)#\"r\"#",
    "n (t)\"\"\"\n  m\n  \"\"\"",
    "n a b c",
    "n a\"b\"",
    "n (t)a",
    "n a=1{}",
    "n a=1;",
    "n a=1 {b}",
    "n 1 a=2 3",
    "n a=#\"r\"#",
    "n a=\"\"\"\nx\n\"\"\"",
    "n a =\n1",
    "n a\n=1",
    "n \"a\"\n=1",
    // type annotations on nodes
    "(t)n",
    "(t) n",
    "( t ) n",
    "(t)\n n",
    "(t)\"n\"",
    "(\"t\")n",
    "(t)",
    "()n",
    "(t)(u)n",
    "(t n",
    "(t)#true",
    "(t)1",
    "(t)/* c */n",
    "(/* c */t)n",
    "(t /* c */)n",
    "(t)\\\n n",
    "(t)n {}",
    "(t){}",
    // slashdash
    "/-n",
    "/- n",
    "/-\nn",
    "/-n\nm",
    "/-n;m",
    "/-n; m",
    "/- /-n",
    "/-",
    "n /-",
    "n /-a",
    "n /-a b",
    "n /- a=1 b",
    "n /-(t)1",
    "n /-{}",
    "n /-{a}",
    "n /- {a} {b}",
    "n {a} /-{b}",
    "n {a}/-{b}",
    "n /-{}/-{}",
    "n {} /-{} /-{}",
    "n {} /-{}/-{}",
    "n /-{} a",
    "n {} /-a",
    "n /-{} /-a",
    "n a /-{} {} /-{}",
    "n /-\n a",
    "n /-\n{}",
    "n /-a /-b",
    "n /- // c\n a",
    "/-n {\n  a\n}\nm",
    "a { /-b; c }",
    "a { /-b }",
    "/- kdl-version 2\nnode",
    "/- kdl-version 1\nnode",
    "n/-a",
    "n /-a=",
    "n /-a;",
    "n /- ;",
    "{ /-a }",
    "n /-}",
    "n /-{ a",
    "/-n {} x",
    "/-(t)n",
    "n /- (t)a",
    // misc errors
    "n [",
    "n ]",
    "n )",
    "n (",
    "n =",
    "n \\",
    "n a\\",
    "a\u{0}",
    "a\u{8}",
    "a\u{E}",
    "a\u{1F}",
    "a /*\u{1}*/",
    "a // \u{1}",
    "a // \u{7F}",
    "a /* \u{200F} */",
];

#[test]
fn differential_corpus() {
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let ex = examples();
    let blocks = doc_blocks();
    assert!(!ex.is_empty() && !blocks.is_empty());
    let inputs: Vec<&str> = ex.iter().chain(&blocks).map(String::as_str).chain(SNIPPETS.iter().copied()).collect();
    for src in &inputs {
        if let Err(e) = check(src, &mut stats) {
            failures.push(e);
        }
    }
    eprintln!("{} examples, {} doc blocks, {} snippets: {:?}", ex.len(), blocks.len(), SNIPPETS.len(), stats);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// The documented divergences: we follow the spec.
#[test]
fn spec_divergences() {
    for bad in [
        "n \"\u{7F}\"",
        "n // \u{1}",
        "n /* \u{200E} */",
        "n -inf",
        "n 0X10",
        "n 0O7",
        "n 0B1",
        "n #\"\"\"x\"\"\"#",
        "n #\"\"\"\"#",
        "/-a {} b",
        "a {} /-b",
        "/-a {} /-b {}",
        // No space between a slashdashed node's entries: kdl skips the node leniently.
        "/-node #true\"\"\"\nml\n\"\"\"",
    ] {
        assert!(kdl_fast::parse(bad).is_err(), "{bad:?} should fail");
        assert!(KdlDocument::parse_v2(bad).is_ok(), "kdl now rejects {bad:?}: drop it from the list");
    }
    for good in [
        "/-a; b",
        "n 1.1111111111111111111111111111111111111111",
        "n -170141183460469231731687303715884105728",
        "node \"string\"/-1",
        "node \"string\"/-foo=1",
        "node \"string\"/-{}",
        "n /-{}/-{}",
    ] {
        assert!(kdl_fast::parse(good).is_ok(), "{good:?} should parse");
        assert!(KdlDocument::parse_v2(good).is_err(), "kdl now accepts {good:?}: drop it from the list");
    }
    let d = kdl_fast::parse("/-a; b").unwrap();
    assert_eq!(d.nodes.len(), 1);
    assert_eq!(d.nodes[0].name.value, "b");
    let d = kdl_fast::parse("n #\"\"\"\n  \\ \n  \"\"\"#").unwrap();
    assert_eq!(d.nodes[0].entries[0].value, Value::String("\\ ".into()));
}

fn v(s: &str) -> Value {
    Value::String(s.into())
}

#[test]
fn exact_ast() {
    let src = "(t)step \"build\" timeout=\"30s\" retries=3 (u)1.5 #null {\n  run cmd=#\"a\\b\"#; /-skip\n}\n";
    let d = kdl_fast::parse(src).unwrap();
    assert_eq!(d.span, Span::new(0, src.len()));
    let n = &d.nodes[0];
    assert_eq!(n.ty().unwrap().value(), "t");
    assert_eq!(n.ty().unwrap().span(), Span::new(1, 1));
    assert_eq!(n.name().value(), "step");
    assert_eq!(n.name().span(), Span::new(3, 4));
    assert_eq!(&src[n.span.offset..n.span.end()], &src[..src.len() - 1]);
    let e = n.entries();
    assert_eq!(e.len(), 5);
    assert_eq!((e[0].name(), e[0].value(), e[0].span()), (None, &v("build"), Span::new(8, 7)));
    assert_eq!(e[1].name().unwrap().value(), "timeout");
    assert_eq!(e[1].name().unwrap().span(), Span::new(16, 7));
    assert_eq!(e[1].value(), &v("30s"));
    assert_eq!(&src[e[1].span.offset..e[1].span.end()], "timeout=\"30s\"");
    assert_eq!(&src[e[1].value_span.offset..e[1].value_span.end()], "\"30s\"");
    assert_eq!(e[2].value(), &Value::Integer(3));
    assert_eq!(e[3].value(), &Value::Float(1.5));
    assert_eq!(e[3].ty().unwrap().value(), "u");
    assert_eq!(&src[e[3].span.offset..e[3].span.end()], "(u)1.5");
    assert_eq!(&src[e[3].value_span.offset..e[3].value_span.end()], "1.5");
    assert!(e[4].value().is_null());
    let c = n.children().unwrap();
    assert_eq!(&src[c.span.offset..c.span.end()], "{\n  run cmd=#\"a\\b\"#; /-skip\n}");
    assert_eq!(c.nodes().len(), 1);
    assert_eq!(c.nodes()[0].entries()[0].value(), &v("a\\b"));
    assert!(c.nodes()[0].children().is_none());

    let d = kdl_fast::parse("a \"\"\"\n    x\n      y\n\n    z \\\n      w\\u{21}\n    \"\"\"  // c\n").unwrap();
    assert_eq!(d.nodes[0].entries[0].value, v("x\n  y\n\nz w!"));
    assert_eq!(d.nodes[0].span, Span::new(0, 50));

    let d = kdl_fast::parse("n 0x_ 1").map(|_| ()).unwrap_err();
    assert_eq!(d[0].span.offset, 4);
    let d = kdl_fast::parse("n 0xff_ff -0o17 0b1_1 +1_000 1e3 -2.5E-1 #inf #-inf #nan #true #false").unwrap();
    let vals: Vec<_> = d.nodes[0].entries.iter().map(|e| e.value.clone()).collect();
    assert_eq!(
        &vals[..7],
        &[
            Value::Integer(0xffff),
            Value::Integer(-15),
            Value::Integer(3),
            Value::Integer(1000),
            Value::Float(1000.0),
            Value::Float(-0.25),
            Value::Float(f64::INFINITY)
        ]
    );
    assert_eq!(vals[7], Value::Float(f64::NEG_INFINITY));
    assert!(vals[8].as_float().unwrap().is_nan());
    assert_eq!(&vals[9..], &[Value::Bool(true), Value::Bool(false)]);
}

#[test]
fn errors_point_at_the_problem() {
    let e = kdl_fast::parse("a {\n  b \"x\n}").unwrap_err();
    assert_eq!(e[0].span.offset, 8);
    let e = kdl_fast::parse("a {\n  b\n").unwrap_err();
    assert_eq!(e[0].span, Span::new(2, 1));
    let e = kdl_fast::parse("a true").unwrap_err();
    assert_eq!(e[0].span, Span::new(2, 4));
    assert!(e[0].help.as_deref().unwrap().contains("#true"));
}

/// KDL fragments for random documents.
const FRAGMENTS: &[&str] = &[
    "node",
    "a",
    "b",
    "-",
    ".",
    "+x",
    "-1",
    "1",
    "0x1f",
    "0b1",
    "0o7",
    "1.5",
    "1e3",
    "1_0",
    "#true",
    "#null",
    "#inf",
    "#-inf",
    "#nan",
    "\"s\"",
    "\"\"",
    "\"a\\nb\"",
    "\"\\u{41}\"",
    "\"a\\ b\"",
    "#\"r\"#",
    "##\"r\"#\"##",
    "#\"\"#",
    "=",
    "(",
    ")",
    "(t)",
    "{",
    "}",
    "{}",
    ";",
    "\n",
    "\r\n",
    " ",
    "  ",
    "\t",
    "\u{A0}",
    "\u{2028}",
    "\u{85}",
    "//c\n",
    "// c",
    "/*c*/",
    "/* /* */ */",
    "/*",
    "*/",
    "/-",
    "/- ",
    "\\\n",
    "\\ //c\n",
    "\\",
    "k=v",
    "k=1",
    "k=(t)2",
    "\"k\"=#false",
    "\"\"\"\nml\n\"\"\"",
    "\"\"\"\n  a\n  \"\"\"",
    "  \"\"\"",
    "#\"\"\"\nraw\n\"\"\"#",
    "true",
    "inf",
    "nan",
    ".5",
    "1.",
    "0x",
    "#",
    "\"",
    "\"\\",
    "\u{FEFF}",
    "ñ",
    "\u{7F}",
    "\u{1}",
    "[",
    "]",
    ",",
    "<>",
    "'",
    "x=",
    "==",
    "a=b=c",
    "\u{3000}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24).prop_map(|v| v.concat())
}

/// A document made of well-formed nodes, so that most inputs are valid and spans are compared.
fn structured() -> impl Strategy<Value = String> {
    let ident = prop::sample::select(&["n", "step", "\"q s\"", "#\"raw\"#", "a-b", "(t)x", "+", "--"][..]);
    let value = prop::sample::select(
        &[
            "1",
            "-2",
            "3.5",
            "1e-3",
            "0xff",
            "#true",
            "#null",
            "\"v\"",
            "\"${var}\"",
            "x",
            "(u)7",
            "\"a\\tb\"",
            "#\"r\"#",
            "\"\"\"\n  m\n  \"\"\"",
        ][..],
    );
    let sep = prop::sample::select(&[" ", "  ", " /* c */ ", " \\\n  ", " /-x "][..]);
    let entry = (prop::option::of(ident.clone()), value).prop_map(|(k, v)| match k {
        Some(k) if !k.starts_with('(') => format!("{k}={v}"),
        _ => v.to_string(),
    });
    let node = (ident, prop::collection::vec((sep, entry), 0..4), prop::option::of(0..3usize)).prop_map(
        |(name, entries, children)| {
            let mut s = name.to_string();
            for (sep, e) in entries {
                s.push_str(sep);
                s.push_str(&e);
            }
            if let Some(k) = children {
                s.push_str(" {\n");
                for i in 0..k {
                    s.push_str(&format!("  child{i} \"${{x}}\" d=\"30s\"\n"));
                }
                s.push('}');
            }
            s
        },
    );
    let term = prop::sample::select(&["\n", ";", " // c\n", "\n\n", "\r\n"][..]);
    prop::collection::vec((prop::option::of(Just("/-")), node, term), 0..6)
        .prop_map(|v| v.into_iter().map(|(sd, n, t)| format!("{}{n}{t}", sd.unwrap_or(""))).collect::<String>())
}

/// An example or doc block with a random edit: a deletion, an insertion or a duplication.
fn mutated() -> impl Strategy<Value = String> {
    let mut base = examples();
    base.extend(doc_blocks());
    (prop::sample::select(base), any::<prop::sample::Index>(), 0..40usize, prop::sample::select(FRAGMENTS), 0..3u8)
        .prop_map(|(src, at, len, frag, op)| {
            let mut i = at.index(src.len() + 1);
            while !src.is_char_boundary(i) {
                i -= 1;
            }
            let mut j = (i + len).min(src.len());
            while !src.is_char_boundary(j) {
                j -= 1;
            }
            match op {
                0 => format!("{}{}", &src[..i], &src[j..]),
                1 => format!("{}{frag}{}", &src[..i], &src[i..]),
                _ => format!("{}{}", &src[..j], &src[i..]),
            }
        })
}

/// Cases per property: `KDL_CASES` (default 3000).
fn cases() -> u32 {
    std::env::var("KDL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(3000)
}

/// A fixed seed, so CI sees the same cases every run; `KDL_SEED=N` explores others (a random
/// seed found `/-node #true"""..."""`, now in `spec_divergences`).
fn seed() -> proptest::test_runner::RngSeed {
    let seed = std::env::var("KDL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x6b646c32);
    proptest::test_runner::RngSeed::Fixed(seed)
}

static OK_COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn check_counted(src: &str) -> Result<(), TestCaseError> {
    let mut stats = Stats::default();
    check(src, &mut stats).map_err(TestCaseError::fail)?;
    OK_COUNT.fetch_add(stats.both_ok, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, rng_seed: seed(), ..ProptestConfig::default() })]

    #[test]
    fn differential_soup(src in soup()) {
        check_counted(&src)?;
    }

    #[test]
    fn differential_structured(src in structured()) {
        check_counted(&src)?;
    }

    #[test]
    fn differential_mutated(src in mutated()) {
        check_counted(&src)?;
    }
}

/// Most structured inputs are valid, so trees and spans really are compared.
#[test]
fn structured_inputs_are_mostly_valid() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut ok, n) = (0, 500);
    for _ in 0..n {
        let src = structured().new_tree(&mut runner).unwrap().current();
        let mut stats = Stats::default();
        check(&src, &mut stats).unwrap();
        ok += stats.both_ok;
    }
    eprintln!("structured: {ok} of {n} valid");
    assert!(ok * 2 > n, "only {ok} of {n} valid");
}
