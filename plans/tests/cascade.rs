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
    // `gg` probably means `g`: `g` is not also "never used".
    assert_eq!(codes(text), [Code::UnknownStep, Code::UnknownGate]);
}

#[test]
fn a_misspelt_gate_leaves_no_unused_gate_behind() {
    let text =
        r#"plan p { stack s; gate error-rate { swarm s_web }; rolling r { service s; image i; gates eror-rate } }"#;
    assert_eq!(codes(text), [Code::UnknownGate]);
}

#[test]
fn setting_errors_and_reference_errors_come_in_one_run() {
    let text = r#"
plan p {
    stack s
    gate g { swarm s_web }
    rolling web after=nope {
        service s_web
        image "i"
        replicas "two"
        delay 30
        order sideways
        monitor "5 parsecs"
        gates g
    }
}"#;
    assert_eq!(
        codes(text),
        [Code::UnknownStep, Code::WrongType, Code::BadDuration, Code::BadValue, Code::BadDuration],
        "every problem at once, in file order"
    );
}

#[test]
fn references_are_checked_when_the_plan_itself_does_not_decode() {
    // No `stack`: the plan has no model, but its steps' references are still checked.
    let text = r#"plan p { check c after=nope { gates g } }"#;
    assert_eq!(codes(text), [Code::MissingField, Code::UnknownStep, Code::UnknownGate]);
}

#[test]
fn a_bad_stage_percentage_gives_no_warnings_that_follow_from_it() {
    let text = r#"plan p { stack s; gate g { swarm s_web }; canary c { service s_web; image "i"; stage traffic="150%" { gates g } } }"#;
    assert_eq!(codes(text), [Code::BadPercentage], "no `g` never used, no rollout without a health gate");
}

#[test]
fn a_bad_stage_weight_is_not_also_missing() {
    let text = r#"plan p { stack s; gate g { swarm s_web }; canary c { service s_web; image "i"; stage traffic=50 { gates g } } }"#;
    let errors: Vec<Code> = plans::check(SourceFile::new("plan.kdl", text), &Inputs::default())
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    assert_eq!(errors, [Code::BadPercentage]);
}

#[test]
fn a_bad_condition_is_not_also_missing() {
    let text = r#"plan p { stack s; gate g { prometheus { query "up"; pass "up > 1" } }; check c { gates g } }"#;
    assert_eq!(codes(text), [Code::BadCondition]);
}

#[test]
fn a_variable_without_value_is_missing_not_unknown() {
    let text = r#"plan p { stack s; var tag env=PLANRUN_TEST_UNSET; gate g { swarm s_web }; rolling r { service s_web; image "app:${tag}"; gates g } }"#;
    assert_eq!(codes(text), [Code::MissingVariable]);
}
