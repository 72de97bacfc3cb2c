//! `on-undo`: how a rolling, canary or compose step's new tasks leave when it is undone while old
//! tasks still serve beside them (issue 22).

use plans::{Code, Inputs, SourceFile};

fn checked(text: &str) -> plans::Checked {
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default())
}

#[test]
fn drain_is_the_default_and_stop_now_is_set_in_a_step_or_its_defaults() {
    let text = r#"
plan p {
    stack s
    defaults { canary on-undo=stop-now }
    gate g { http "http://x/" }
    rolling a { service s_a; image "i"; gates g }
    rolling b { service s_b; image "i"; gates g; on-undo stop-now }
    canary c { service s_c; image "i"; stage replicas=1 { gates g; }; gates g }
    compose d { file "d.yml"; gates g }
    compose e { file "e.yml"; gates g; on-undo stop-now }
}"#;
    let checked = checked(text);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let json = serde_json::to_value(checked.plan.unwrap()).unwrap();
    assert_eq!(json["steps"][0]["update"]["on-undo"], "drain");
    assert_eq!(json["steps"][1]["update"]["on-undo"], "stop-now");
    assert_eq!(json["steps"][2]["update"]["on-undo"], "stop-now");
    assert_eq!(json["steps"][3]["on-undo"], "drain");
    assert_eq!(json["steps"][4]["on-undo"], "stop-now");
}

#[test]
fn another_word_is_a_bad_value_naming_both() {
    for text in [
        r#"plan p { stack s; rolling a { service s_a; image "i"; on-undo kill } }"#,
        r#"plan p { stack s; compose a { file "a.yml"; on-undo now } }"#,
    ] {
        let checked = checked(text);
        let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::BadValue], "{text}");
        let said = format!("{:?}", checked.diagnostics[0]);
        assert!(said.contains("drain") && said.contains("stop-now"), "{said}");
    }
}

#[test]
fn a_misspelt_key_is_told_the_right_one() {
    let text = r#"plan p { stack s; rolling a { service s_a; image "i"; on-udno stop-now } }"#;
    let checked = checked(text);
    let help: Vec<_> = checked.diagnostics.iter().filter_map(|d| d.help.as_deref()).collect();
    assert_eq!(help, ["did you mean `on-undo`?"]);
}
