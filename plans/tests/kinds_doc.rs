//! Every kind the language has is documented in docs/language.md: a `### KEYWORD` section per
//! step kind (under `## Steps`) and per gate kind (under `## Gates`), and a `switch KEYWORD`
//! line per switch kind. A new kind fails here until its section is written. And a gate or
//! switch that names no kind is told every kind, in words taken from the registries.

use plans::gates::GateKeyword;
use plans::steps::StepKeyword;
use plans::steps::switch::SwitchKind;

fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("docs/language.md has no `{heading}`"));
    let rest = &doc[start + heading.len() + 2..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

#[test]
fn every_step_gate_and_switch_kind_has_its_section() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md")).unwrap();
    let mut missing = Vec::new();
    let steps = section(&doc, "## Steps");
    for k in StepKeyword::ALL {
        if !steps.contains(&format!("\n### {}\n", k.keyword())) {
            missing.push(format!("step kind `{}`: no `### {}` under `## Steps`", k.keyword(), k.keyword()));
        }
    }
    let gates = section(&doc, "## Gates");
    for k in GateKeyword::ALL {
        if !gates.contains(&format!("\n### {}\n", k.keyword())) {
            missing.push(format!("gate kind `{}`: no `### {}` under `## Gates`", k.keyword(), k.keyword()));
        }
    }
    for k in SwitchKind::ALL {
        if !steps.contains(&format!("`switch {} ", k.keyword())) {
            missing.push(format!(
                "switch kind `{}`: no \"`switch {} ...`\" under `## Steps`",
                k.keyword(),
                k.keyword()
            ));
        }
    }
    assert!(missing.is_empty(), "docs/language.md lacks:\n{}", missing.join("\n"));
}

/// A gate or a switch that says nothing about its kind lists every kind, from the registries.
#[test]
fn a_gate_or_switch_without_a_kind_names_every_kind() {
    let text = "plan p {\n    stack s\n    gate g {\n        count 1\n    }\n    blue-green b {\n        blue \"s_blue\"\n        green \"s_green\"\n        image \"app:v2\"\n        switch\n    }\n}\n";
    let checked = plans::check(plans::SourceFile::new("plan.kdl", text), &plans::Inputs::default());
    let said: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| {
            let labels: Vec<&str> = d.labels.iter().map(|l| l.text.as_str()).collect();
            format!("{} [{}] {}", d.message, labels.join("; "), d.help.as_deref().unwrap_or(""))
        })
        .collect();
    let all = said.join("\n");
    assert!(
        all.contains(
            "gate `g` does not say what to measure [no http, prometheus, swarm or command] add one of `http \"URL\"`, \
             `prometheus { query \"...\"; pass \"result < 1\" }`, `swarm SERVICE`, `command \"sh\" \"-c\" \"...\"`"
        ),
        "{all}"
    );
    assert!(
        all.contains(
            "`switch` does not say how [alias, nginx or caddy?] write `switch alias network=NET alias=NAME` or \
             `switch nginx router=SERVICE template=FILE` or `switch caddy router=SERVICE template=FILE`"
        ),
        "{all}"
    );
}

#[test]
fn every_notification_target_kind_has_its_section() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md")).unwrap();
    let notifications = section(&doc, "## Notifications");
    for k in plans::notify::NotifyKeyword::ALL {
        assert!(
            notifications.contains(&format!("\n### {}\n", k.keyword())),
            "docs/language.md has no `### {}` under `## Notifications`",
            k.keyword()
        );
    }
}
