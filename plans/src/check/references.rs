//! Names: duplicate steps and gates, `after` and `gates` naming something that does not exist.

use rustc_hash::FxHashMap as HashMap;

use super::Undecoded;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::Plan;
use crate::span::Span;
use crate::suggest;

pub(super) fn check(plan: &Plan, undecoded: &Undecoded, out: &mut Vec<Diagnostic>) {
    let mut steps: HashMap<&str, Span> = HashMap::with_capacity_and_hasher(plan.steps.len(), Default::default());
    for step in &plan.steps {
        if let Some(first) = steps.get(step.name.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateStep,
                    format!("two steps are named `{}`", step.name.value),
                    step.name.span,
                    "second step",
                )
                .with_label(*first, "first step with this name")
                .with_help("rename one of them; `after` refers to steps by name"),
            );
        } else {
            steps.insert(step.name.value.as_str(), step.name.span);
        }
    }
    let mut gates: HashMap<&str, Span> = HashMap::default();
    for gate in &plan.gates {
        if let Some(first) = gates.get(gate.name.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateGate,
                    format!("two gates are named `{}`", gate.name.value),
                    gate.name.span,
                    "second gate",
                )
                .with_label(*first, "first gate with this name")
                .with_help("rename or remove one of them"),
            );
        } else {
            gates.insert(gate.name.value.as_str(), gate.name.span);
        }
    }
    // Suggestions are computed only for misses, so a large valid plan pays nothing for them.
    for step in &plan.steps {
        for dep in &step.after {
            if !steps.contains_key(dep.value.as_str()) && !undecoded.steps.contains(&dep.value) {
                let help = suggest::did_you_mean(&dep.value, steps.keys().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| "`after` names steps of this plan".into());
                out.push(
                    Diagnostic::error(
                        Code::UnknownStep,
                        format!("`{}` waits for `{}`, which is not a step", step.name.value, dep.value),
                        dep.span,
                        "no such step",
                    )
                    .with_help(help),
                );
            }
        }
        for gate in step.kind.gates() {
            if !gates.contains_key(gate.value.as_str()) && !undecoded.gates.contains(&gate.value) {
                let help = suggest::did_you_mean(&gate.value, gates.keys().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("declare it: `gate {} {{ http \"http://...\" }}`", gate.value));
                out.push(
                    Diagnostic::error(
                        Code::UnknownGate,
                        format!("unknown gate `{}`", gate.value),
                        gate.span,
                        "not declared",
                    )
                    .with_help(help),
                );
            }
        }
    }
}
