//! `pause`: the timeout of a manual pause, and the refusal of one on a timed pause.

use plans::diagnostic::SourceFile;
use plans::steps::StepKind;

fn check(step: &str) -> plans::Checked {
    let text = format!("plan p {{\n    stack s\n    {step}\n}}\n");
    plans::check(SourceFile::new("plan.kdl", text), &plans::Inputs::default())
}

#[test]
fn a_manual_pause_takes_a_timeout_and_a_timed_one_refuses_it() {
    let checked = check("pause sign-off manual timeout=\"4h\"");
    let plan = checked.plan.expect("valid");
    let StepKind::Pause(pause) = &plan.steps[0].kind else { panic!("a pause") };
    assert_eq!(pause.timeout.map(|t| t.to_std().as_secs()), Some(4 * 3600));
    assert_eq!(check("pause sign-off manual").plan.map(|p| p.steps.len()), Some(1));

    let refused = check("pause soak \"10m\" timeout=\"4h\"");
    assert!(refused.plan.is_none());
    let [d] = refused.diagnostics.as_slice() else { panic!("{:?}", refused.diagnostics) };
    assert_eq!(d.code.name(), "bad-value");
    assert_eq!(d.message, "pause step `soak` waits a set time: `timeout` is only for a manual pause");
}
