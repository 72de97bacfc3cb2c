//! How `defaults` combine with a step's or gate's own settings.

use plans::{Code, Inputs, SourceFile};

fn codes(text: &str) -> Vec<Code> {
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default()).diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn a_gate_window_replaces_a_default_count() {
    let text = r#"
plan p {
    stack s
    defaults { gate count=5 }
    gate g { swarm s_web; window "2m" }
    gate h { swarm s_web }
    rolling web { service s_web; image "i"; gates g h }
}"#;
    let checked = plans::check(SourceFile::new("plan.kdl", text), &Inputs::default());
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let json = serde_json::to_value(checked.plan.unwrap()).unwrap();
    assert_eq!(json["gates"][0]["analysis"]["sampling"], serde_json::json!({"window": "2m"}));
    assert_eq!(json["gates"][1]["analysis"]["sampling"], serde_json::json!({"count": 5}));
}

#[test]
fn count_and_window_in_one_gate_is_still_an_error() {
    let text = r#"plan p { stack s; gate g { swarm s_web; count 3; window "2m" }; check c { gates g } }"#;
    assert_eq!(codes(text), [Code::BadValue]);
}

#[test]
fn a_duplicate_default_is_reported_once() {
    let text = r#"
plan p {
    stack s
    defaults { rolling delay="1s" delay="2s" }
    gate g { swarm s_a }
    rolling a { service s_a; image "i"; gates g }
    rolling b { service s_b; image "i"; gates g }
}"#;
    assert_eq!(codes(text), [Code::DuplicateField]);
}

#[test]
fn own_settings_win_over_defaults() {
    let text = r#"
plan p {
    stack s
    defaults { rolling delay="1s" parallelism=2 }
    gate g { swarm s_a }
    rolling a { service s_a; image "i"; gates g; delay "5s" }
}"#;
    let checked = plans::check(SourceFile::new("plan.kdl", text), &Inputs::default());
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let json = serde_json::to_value(checked.plan.unwrap()).unwrap();
    assert_eq!(json["steps"][0]["update"]["delay"], "5s");
    assert_eq!(json["steps"][0]["update"]["parallelism"], 2);
}
