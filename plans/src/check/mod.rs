//! The checker: names, references, cycles and safety warnings, all collected in one pass.

mod references;
mod safety;

use std::collections::HashSet;

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{Cycle, Edge, PlanGraph};
use crate::model::Plan;

/// Gates, steps and variables written in the file that did not decode (their errors are already reported):
/// a reference to one of them is not reported again as unknown.
#[derive(Debug, Clone, Default)]
pub struct Undecoded {
    /// Gate names.
    pub gates: HashSet<String>,
    /// Step names.
    pub steps: HashSet<String>,
    /// Variables declared without a value (reported as missing, not also as unknown).
    pub variables: HashSet<String>,
}

/// Checks a decoded plan; returns its graph when the steps form a DAG.
pub fn check(plan: &Plan, diagnostics: &mut Vec<Diagnostic>) -> Option<PlanGraph> {
    check_decoded(plan, &Undecoded::default(), diagnostics)
}

/// Checks a decoded plan, knowing which of its gates and steps did not decode.
pub fn check_decoded(plan: &Plan, undecoded: &Undecoded, diagnostics: &mut Vec<Diagnostic>) -> Option<PlanGraph> {
    references::check(plan, undecoded, diagnostics);
    match PlanGraph::build(plan) {
        Ok(graph) => {
            safety::check(plan, &graph, diagnostics);
            Some(graph)
        }
        Err(cycles) => {
            for cycle in cycles {
                diagnostics.push(cycle_diagnostic(plan, &cycle));
            }
            None
        }
    }
}

fn cycle_diagnostic(plan: &Plan, cycle: &Cycle) -> Diagnostic {
    let name = |i: usize| plan.steps[i].name.value.as_str();
    let mut path: Vec<&str> = cycle.steps.iter().map(|&i| name(i)).collect();
    path.push(name(cycle.steps[0]));
    let path = path.join(" -> ");
    let first = cycle.steps[0];
    let span_of = |k: usize| match &cycle.edges[k] {
        Edge::After(span) => *span,
        Edge::Shared(_) => plan.steps[cycle.steps[k]].keyword_span,
    };
    let n = cycle.steps.len();
    let mut d = Diagnostic::error(
        Code::Cycle,
        format!("dependency cycle: {path}"),
        span_of(0),
        format!("`{}` waits for `{}`", name(first), name(cycle.steps[1 % n])),
    );
    for k in 1..n {
        d = d.with_label(
            span_of(k),
            format!("`{}` waits for `{}`", name(cycle.steps[k]), name(cycle.steps[(k + 1) % n])),
        );
    }
    let help = if n == 1 {
        format!("remove `{}` from its own `after`", name(first))
    } else {
        "remove one of these `after` entries so the steps can run in some order".into()
    };
    d.with_help(help)
}
