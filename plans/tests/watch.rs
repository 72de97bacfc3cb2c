//! `watch`: what it decodes to, each mistake's words and place, and its layout.

use plans::duration::Duration;
use plans::model::OnRegression;
use plans::{Inputs, SourceFile};

fn check(body: &str) -> plans::Checked {
    let text = format!("plan p {{\n    stack s\n{body}}}\n");
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default())
}

/// Each diagnostic as `LINE:COLUMN: code: message [labels] help`.
fn said(checked: &plans::Checked) -> Vec<String> {
    said_of(checked, |_| true)
}

/// Each error, as [`said`] words it (the unused-gate warnings left out).
fn errors(checked: &plans::Checked) -> Vec<String> {
    said_of(checked, plans::diagnostic::Diagnostic::is_error)
}

fn said_of(checked: &plans::Checked, keep: fn(&plans::diagnostic::Diagnostic) -> bool) -> Vec<String> {
    checked
        .diagnostics
        .iter()
        .filter(|d| keep(d))
        .map(|d| {
            let (line, col) = checked.file.line_col(d.primary_span().offset);
            let labels: Vec<&str> = d.labels.iter().map(|l| l.text.as_str()).collect();
            let help = d.help.as_deref().unwrap_or("");
            format!("{line}:{col}: {}: {} [{}] {help}", d.code, d.message, labels.join("; "))
        })
        .collect()
}

const GATES: &str = "    gate api-health { swarm s_api }\n    gate error-rate { swarm s_api }\n";

#[test]
fn a_watch_decodes_with_rollback_by_default_and_uses_its_gates() {
    let checked = check(&format!("{GATES}    watch \"2h\" {{\n        gates api-health error-rate\n    }}\n"));
    assert!(checked.diagnostics.is_empty(), "a gate only the watch names is used: {:?}", said(&checked));
    let watch = checked.plan.unwrap().watch.unwrap();
    assert_eq!(watch.window.value, Duration::from_secs(7200));
    let names: Vec<&str> = watch.gates.iter().map(|g| g.value.as_str()).collect();
    assert_eq!(names, ["api-health", "error-rate"]);
    assert_eq!(watch.on_regression, OnRegression::Rollback);
}

#[test]
fn a_watch_in_property_form_may_only_notify_and_shows_in_json() {
    let checked = check(&format!("{GATES}    watch \"30m\" gates=api-health on-regression=notify\n"));
    let said = said(&checked);
    assert_eq!(said.len(), 1, "{said:#?}");
    assert!(said[0].contains("unused-gate"), "error-rate is unused: {said:?}");
    let plan = checked.plan.unwrap();
    assert_eq!(plan.watch.as_ref().unwrap().on_regression, OnRegression::Notify);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["watch"], serde_json::json!({"window": "30m", "gates": ["api-health"], "on-regression": "notify"}));
    let without = check(GATES).plan.unwrap();
    assert!(serde_json::to_value(&without).unwrap().get("watch").is_none(), "no watch, no key");
}

#[test]
fn an_unknown_gate_is_an_error_at_its_name_with_the_closest_one() {
    let checked = check(&format!("{GATES}    watch \"2h\" {{\n        gates api-helth error-rate\n    }}\n"));
    let said = said(&checked);
    assert_eq!(said.len(), 1, "{said:#?}");
    assert!(said[0].starts_with("6:15: planrun::unknown-gate: "), "{said:?}");
    assert!(said[0].contains("api-health"), "did you mean: {said:?}");
    assert_eq!(checked.diagnostics[0].fix.len(), 1, "the fix renames it");
}

#[test]
fn a_bad_or_zero_or_missing_window_is_an_error_at_it() {
    let said_of = |body: &str| errors(&check(&format!("{GATES}{body}")));
    let bad = said_of("    watch \"2 hours\" gates=api-health\n");
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert!(bad[0].starts_with("5:11: planrun::bad-duration: "), "{bad:?}");
    let zero = said_of("    watch \"0s\" gates=api-health\n");
    assert!(zero[0].starts_with("5:11: planrun::bad-value: a watch of no time watches nothing"), "{zero:?}");
    let missing = said_of("    watch gates=api-health\n");
    assert!(missing[0].starts_with("5:5: planrun::missing-field: `watch` has no window"), "{missing:?}");
}

#[test]
fn a_watch_without_gates_says_what_to_name_or_that_the_plan_has_none() {
    let with_gates = errors(&check(&format!("{GATES}    watch \"2h\"\n")));
    assert!(with_gates[0].starts_with("5:5: planrun::missing-field: `watch` names no gates ["), "{with_gates:?}");
    let none = said(&check("    watch \"2h\" {\n        on-regression rollback\n    }\n"));
    assert_eq!(none.len(), 1, "{none:#?}");
    assert!(
        none[0].starts_with("3:5: planrun::missing-field: `watch` names no gates, and this plan declares none"),
        "{none:?}"
    );
    let unknown = said(&check("    watch \"2h\" gates=g\n"));
    assert!(unknown[0].contains("planrun::unknown-gate"), "{unknown:?}");
}

#[test]
fn a_wrong_on_regression_or_setting_or_second_watch_is_an_error_with_a_fix() {
    let said_of = |body: &str| errors(&check(&format!("{GATES}{body}")));
    let word = said_of("    watch \"2h\" gates=api-health on-regression=rollbak\n");
    assert!(word[0].contains("planrun::bad-value") && word[0].contains("did you mean `rollback`"), "{word:?}");
    let unknown = said_of("    watch \"2h\" {\n        gate api-health\n    }\n");
    assert!(unknown.iter().any(|s| s.contains("did you mean `gates`")), "{unknown:?}");
    let twice = said_of("    watch \"2h\" gates=api-health\n    watch \"1h\" gates=error-rate\n");
    assert!(twice[0].contains("planrun::duplicate-field: `watch` is set twice"), "{twice:?}");
}

#[test]
fn fmt_lays_a_watch_out_and_keeps_its_meaning() {
    let text =
        "plan p {\n  stack s\n  gate g { swarm s_api }\n  watch   \"2h\"  { gates g ; on-regression notify }\n}\n";
    let formatted = plans::fmt::format(text).unwrap();
    assert_eq!(
        formatted,
        "plan p {\n    stack s\n    gate g {\n        swarm s_api\n    }\n    watch \"2h\" {\n        gates g\n        on-regression notify\n    }\n}\n"
    );
    let again = plans::check(SourceFile::new("plan.kdl", formatted.clone()), &Inputs::default());
    assert_eq!(again.plan.unwrap().watch.unwrap().on_regression, OnRegression::Notify);
    assert_eq!(plans::fmt::format(&formatted).unwrap(), formatted, "formatting twice changes nothing");
}
