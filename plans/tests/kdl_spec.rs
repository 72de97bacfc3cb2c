//! The official KDL test suite (`tests/kdl-spec/`, vendored from kdl-org/kdl with its commit and
//! licence): every `_fail` input is rejected, every other input parses to the same document as
//! its `expected_kdl/` file.
//!
//! Documents are compared after the suite's translation rules: properties sorted by name with the
//! rightmost of a duplicate kept, empty children blocks dropped, values compared as values (so
//! `0x10` equals `16` and `1.0e10` equals `1E+10`).

use std::collections::BTreeMap;
use std::path::Path;

use plans::kdl_fast::{self, Document, Entry, Node, Value};

/// Test cases where planrun deliberately differs from the suite, with the reason. Keep it short
/// and exact; `tests/kdl-spec/README.md` repeats it.
const DIFFERENCES: &[(&str, &str)] = &[];

/// A value as the suite compares it.
#[derive(Debug, PartialEq)]
enum V {
    String(String),
    Integer(i128),
    /// The float's bits; every NaN is one NaN.
    Float(u64),
    Bool(bool),
    Null,
}

#[derive(Debug, PartialEq)]
struct N {
    ty: Option<String>,
    name: String,
    args: Vec<(Option<String>, V)>,
    props: BTreeMap<String, (Option<String>, V)>,
    children: Vec<N>,
}

fn value(v: &Value) -> V {
    match v {
        Value::String(s) => V::String(s.clone()),
        Value::Integer(i) => V::Integer(*i),
        Value::Float(f) if f.is_nan() => V::Float(f64::NAN.to_bits()),
        Value::Float(f) => V::Float(f.to_bits()),
        Value::Bool(b) => V::Bool(*b),
        Value::Null => V::Null,
    }
}

fn entry(e: &Entry) -> (Option<String>, V) {
    (e.ty.as_ref().map(|t| t.value.clone()), value(&e.value))
}

fn node(n: &Node) -> N {
    let mut props = BTreeMap::new();
    for e in n.entries.iter().filter(|e| e.name.is_some()) {
        // The rightmost of a duplicate property wins.
        props.insert(e.name.as_ref().map(|k| k.value.clone()).unwrap_or_default(), entry(e));
    }
    N {
        ty: n.ty.as_ref().map(|t| t.value.clone()),
        name: n.name.value.clone(),
        args: n.entries.iter().filter(|e| e.name.is_none()).map(entry).collect(),
        props,
        children: n.children.as_ref().map(|c| c.nodes.iter().map(node).collect()).unwrap_or_default(),
    }
}

fn document(d: &Document) -> Vec<N> {
    d.nodes.iter().map(node).collect()
}

#[test]
fn the_official_kdl_test_suite_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kdl-spec/test_cases");
    let mut inputs: Vec<_> = std::fs::read_dir(root.join("input")).unwrap().map(|e| e.unwrap().path()).collect();
    inputs.sort();
    assert!(inputs.len() > 300, "the suite has {} inputs", inputs.len());
    let mut failures = Vec::new();
    let mut differences_seen = Vec::new();
    for path in &inputs {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let text = String::from_utf8(std::fs::read(path).unwrap());
        let outcome = match (&text, name.ends_with("_fail")) {
            // A file that is not UTF-8 is not KDL.
            (Err(_), true) => Ok(()),
            (Err(_), false) => Err("not UTF-8".to_string()),
            (Ok(text), true) => match kdl_fast::parse(text) {
                Ok(_) => Err("accepted, but the suite says it must fail".to_string()),
                Err(_) => Ok(()),
            },
            (Ok(text), false) => {
                let expected_text = std::fs::read_to_string(root.join("expected_kdl").join(format!("{name}.kdl")))
                    .unwrap_or_else(|e| panic!("{name}: no expected_kdl file: {e}"));
                match (kdl_fast::parse(text), kdl_fast::parse(&expected_text)) {
                    (Ok(got), Ok(expected)) if document(&got) == document(&expected) => Ok(()),
                    (Ok(got), Ok(expected)) => {
                        Err(format!("parsed as {:?}, expected {:?}", document(&got), document(&expected)))
                    }
                    (Err(e), _) => Err(format!("rejected: {} ({})", e[0], e[0].label)),
                    (_, Err(e)) => Err(format!("its expected_kdl file is rejected: {}", e[0])),
                }
            }
        };
        match (outcome, DIFFERENCES.iter().find(|(n, _)| *n == name)) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => failures.push(format!("{name}: passes now; remove it from DIFFERENCES")),
            (Err(_), Some(_)) => differences_seen.push(name.to_owned()),
            (Err(why), None) => failures.push(format!("{name}: {why}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), inputs.len(), failures.join("\n"));
    assert_eq!(differences_seen.len(), DIFFERENCES.len());
}
