//! `notify`: what it decodes to, and each mistake's words, place and fix.

use plans::gates::Secret;
use plans::notify::{NotifyEvent, NotifyKind};
use plans::{Inputs, SourceFile};

fn check(body: &str) -> plans::Checked {
    let text = format!("plan p {{\n    stack s\n{body}}}\n");
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default())
}

/// Each diagnostic as `LINE: code: message [labels] help`.
fn said(checked: &plans::Checked) -> Vec<String> {
    checked
        .diagnostics
        .iter()
        .map(|d| {
            let (line, _) = checked.file.line_col(d.primary_span().offset);
            let labels: Vec<&str> = d.labels.iter().map(|l| l.text.as_str()).collect();
            format!("{line}: {}: {} [{}] {}", d.code, d.message, labels.join("; "), d.help.as_deref().unwrap_or(""))
        })
        .collect()
}

#[test]
fn a_notify_decodes_with_every_event_by_default() {
    let checked = check(
        "    notify team {\n        slack url-env=SLACK_URL\n    }\n    notify hook {\n        webhook url-file=\"secrets/url\" secret-env=HOOK_KEY\n        on \"failed\" \"started\" \"failed\"\n    }\n",
    );
    assert!(checked.diagnostics.is_empty(), "{:?}", said(&checked));
    let plan = checked.plan.unwrap();
    assert_eq!(plan.notify.len(), 2);
    assert_eq!(plan.notify[0].on, NotifyEvent::ALL);
    assert_eq!(plan.notify[0].target.url(), &Secret::Env("SLACK_URL".into()));
    assert_eq!(plan.notify[1].on, [NotifyEvent::Started, NotifyEvent::Failed], "sorted, once each");
    let NotifyKind::Webhook(hook) = &plan.notify[1].target else { panic!("{:?}", plan.notify[1].target) };
    assert_eq!(hook.url, Secret::File("secrets/url".into()));
    assert_eq!(hook.secret, Some(Secret::Env("HOOK_KEY".into())));
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["notify"][1]["target"]["kind"], "webhook");
    assert_eq!(json["notify"][1]["on"], serde_json::json!(["started", "failed"]));
}

fn one(body: &str) -> (String, usize) {
    let checked = check(body);
    let said = said(&checked);
    assert_eq!(said.len(), 1, "{said:#?}");
    (said[0].clone(), checked.diagnostics[0].fix.len())
}

#[test]
fn an_unknown_event_names_the_closest_and_fixes_it() {
    let (said, fixes) =
        one("    notify team {\n        teams url-env=T\n        on \"started\" \"rolledback\"\n    }\n");
    assert_eq!(
        said,
        "5: planrun::bad-value: `rolledback` is not a valid `on` [not allowed here] did you mean `rolled-back`?"
    );
    assert_eq!(fixes, 1);
}

#[test]
fn a_url_written_in_the_plan_is_an_error_that_says_where_to_put_it() {
    let (said, _) = one("    notify team {\n        slack url=\"https://hooks.slack.com/services/X\"\n    }\n");
    assert!(
        said.starts_with(
            "4: planrun::credentials-in-plan: the `slack` of notify `team` writes its webhook URL in the plan [a secret in the plan]"
        ),
        "{said}"
    );
    assert!(said.contains("write `url-env=\"SLACK_WEBHOOK_URL\"` or `url-file=\"secrets/slack-url\"`"), "{said}");
}

#[test]
fn a_notify_needs_exactly_one_target_with_its_url_and_a_name_of_its_own() {
    let (said, _) = one("    notify team {\n        on \"started\"\n    }\n");
    assert_eq!(
        said,
        "3: planrun::missing-field: notify `team` does not say where to send [no slack, teams or webhook] add one of \
         `slack url-env=\"SLACK_WEBHOOK_URL\"`, `teams url-env=\"TEAMS_WEBHOOK_URL\"`, \
         `webhook url-env=\"DEPLOY_HOOK_URL\" secret-env=\"DEPLOY_HOOK_SECRET\"`"
    );
    let (said, _) = one("    notify team {\n        slack url-env=A\n        teams url-env=B\n    }\n");
    assert_eq!(
        said,
        "5: planrun::duplicate-field: notify `team` sends to more than one place [second target; first target] \
         declare one `notify` per target, each with its own name"
    );
    let (said, _) = one("    notify team {\n        slack\n    }\n");
    assert_eq!(
        said,
        "4: planrun::missing-field: the `slack` of notify `team` does not say where its value is [no url-file or url-env] \
         add one of `url-file`, `url-env`"
    );
    let (said, _) =
        one("    notify team {\n        slack url-env=A\n    }\n    notify team {\n        slack url-env=B\n    }\n");
    assert_eq!(
        said,
        "6: planrun::duplicate-field: two notifications are named `team` [second one; first one] rename or remove one of them"
    );
    let (said, _) = one("    notify team {\n        webhook url-env=A secret-env=\"1X\"\n    }\n");
    assert!(said.starts_with("4: planrun::bad-value: `1X` is not an environment variable name"), "{said}");
}
