//! One mistake gives one error: a gate or step that does not decode is not also "unknown" where used.

use plans::{Code, Inputs, SourceFile};

fn codes(text: &str) -> Vec<Code> {
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default()).diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn a_broken_gate_is_not_also_unknown() {
    let text = r#"plan p { stack s; gate g { swarm s_web; interval 5 }; check c { gates g } }"#;
    assert_eq!(codes(text), [Code::BadDuration]);
}

#[test]
fn a_broken_step_is_not_also_unknown() {
    let text = r#"
plan p {
    stack s
    gate g { swarm s_web }
    rolling web { service s_web; gates g }
    check c after=web { gates g }
}"#;
    assert_eq!(codes(text), [Code::MissingField]);
}

#[test]
fn a_misspelt_reference_is_still_unknown() {
    let text = r#"plan p { stack s; gate g { swarm s_web }; check c after=nope { gates gg } }"#;
    assert_eq!(codes(text), [Code::UnusedGate, Code::UnknownStep, Code::UnknownGate]);
}
