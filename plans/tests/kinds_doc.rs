//! Every kind the language has is documented in docs/language.md: a `### KEYWORD` section per
//! step kind (under `## Steps`) and per gate kind (under `## Gates`), and a `switch KEYWORD`
//! line per switch kind. A new kind fails here until its section is written.

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
