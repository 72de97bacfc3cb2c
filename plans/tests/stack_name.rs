//! A plan's `stack` is refused where Docker would refuse the names made from it, or where it
//! would climb out of the state directory, with the error at the name.

use plans::{Code, Inputs, SourceFile};

fn check(text: &str, vars: &[(&str, &str)]) -> plans::Checked {
    let overrides = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    plans::check(SourceFile::new("plan.kdl", text), &Inputs { overrides, ..Inputs::default() })
}

#[test]
fn a_stack_name_that_is_a_path_is_an_error_at_the_name() {
    let text = "plan p {\n    stack \"../x\"\n    pause wait \"1s\"\n}\n";
    let checked = check(text, &[]);
    assert!(checked.plan.is_none(), "the plan is invalid");
    let [d] = checked.diagnostics.as_slice() else { panic!("one diagnostic: {:?}", checked.diagnostics) };
    assert_eq!(d.code, Code::BadValue);
    assert_eq!(d.message, "`../x` is not a stack name: it holds '.'");
    assert_eq!(&text[d.primary_span().offset..d.primary_span().end()], "\"../x\"");
    let help = d.help.as_deref().unwrap();
    assert!(help.contains("letters, digits, `-` and `_`"), "the help says what is allowed: {help}");
}

#[test]
fn a_stack_from_a_variable_is_checked_once_interpolated() {
    let text = "plan p {\n    stack \"${name}\"\n    var name default=shop\n}\n";
    assert!(check(text, &[]).diagnostics.is_empty());
    let checked = check(text, &[("name", "a/b")]);
    let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::BadValue]);
    assert_eq!(checked.diagnostics[0].message, "`a/b` is not a stack name: it holds '/'");
    let span = checked.diagnostics[0].primary_span();
    assert_eq!(&text[span.offset..span.end()], "\"${name}\"");
}

#[test]
fn every_kind_of_bad_name_is_refused_and_good_ones_pass() {
    for good in ["shop", "shop-prod", "shop_prod", "S3"] {
        let checked = check(&format!("plan p {{\n    stack {good:?}\n}}\n"), &[]);
        assert!(checked.diagnostics.is_empty(), "{good}: {:?}", checked.diagnostics);
    }
    let long = "x".repeat(50);
    for bad in ["", "-x", ".x", "a b", "a\\b", "a.b_c", long.as_str()] {
        let checked = check(&format!("plan p {{\n    stack {bad:?}\n}}\n"), &[]);
        let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::BadValue], "{bad:?}");
    }
}

#[test]
fn the_rest_of_the_plan_is_still_checked() {
    let text = "plan p {\n    stack \"a b\"\n    check c after=nope { gates g }\n}\n";
    let codes: Vec<Code> = check(text, &[]).diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::BadValue, Code::UnknownStep, Code::UnknownGate]);
}
