//! `analysis`: when a rolling, canary or compose step's gates are judged (issue 22).

use plans::{Code, Inputs, SourceFile};

fn checked(text: &str) -> plans::Checked {
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default())
}

#[test]
fn per_batch_is_the_default_and_after_is_set_in_a_step_or_its_defaults() {
    let text = r#"
plan p {
    stack s
    defaults { canary analysis=after }
    gate g { http "http://x/" }
    rolling a { service s_a; image "i"; gates g }
    rolling b { service s_b; image "i"; gates g; analysis after }
    canary c { service s_c; image "i"; stage replicas=1 { gates g; }; gates g }
}"#;
    let checked = checked(text);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let json = serde_json::to_value(checked.plan.unwrap()).unwrap();
    assert_eq!(json["steps"][0]["update"]["analysis"], "per-batch");
    assert_eq!(json["steps"][1]["update"]["analysis"], "after");
    assert_eq!(json["steps"][2]["update"]["analysis"], "after");
}

#[test]
fn another_word_is_a_bad_value_naming_both() {
    let text = r#"plan p { stack s; gate g { http "http://x/" }; rolling a { service s_a; image "i"; gates g; analysis continuous } }"#;
    let checked = checked(text);
    let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::BadValue]);
    let said = format!("{:?}", checked.diagnostics[0]);
    assert!(said.contains("per-batch") && said.contains("after"), "{said}");
}

#[test]
fn a_compose_step_takes_it_too_per_batch_by_default() {
    let text = r#"
plan p {
    stack s
    gate g { http "http://x/" }
    compose a { file "a.yml"; gates g }
    compose b { file "b.yml"; gates g; analysis after }
}"#;
    let checked = checked(text);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let json = serde_json::to_value(checked.plan.unwrap()).unwrap();
    assert_eq!(json["steps"][0]["analysis"], "per-batch");
    assert_eq!(json["steps"][1]["analysis"], "after");
    let bad = checked_bad(r#"plan p { stack s; compose a { file "a.yml"; analysis always } }"#);
    assert!(bad.contains("per-batch") && bad.contains("after"), "{bad}");
}

/// The one diagnostic of `text`, which must be a bad value.
fn checked_bad(text: &str) -> String {
    let checked = checked(text);
    let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::BadValue]);
    format!("{:?}", checked.diagnostics[0])
}
