//! The checker: names, references, cycles and safety warnings, all collected in one pass.
//!
//! References are checked against the outline (every step and gate written, decoded or not), so
//! they are reported in the same run as setting errors; cycles and warnings need the model.
//! Warnings are not given for a step that has an error, nor graph-wide ones when any step has
//! one: they would follow from the error, not from the plan.

pub mod compose;
pub mod files;
mod references;
mod safety;
mod sql_lint;

use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::ReferenceProblem;
use crate::graph::{Cycle, Edge, PlanGraph};
use crate::model::Plan;
use crate::outline::{Declared, Outline, Reference};
use crate::span::Span;
use crate::spanned::Spanned;

/// Checks a decoded plan; returns its graph when the steps form a DAG.
pub fn check(plan: &Plan, diagnostics: &mut Vec<Diagnostic>) -> Option<PlanGraph> {
    check_outlined(Some(plan), &outline_of(plan), diagnostics)
}

/// Checks the references in `outline`, then the plan, if it decoded: cycles and warnings.
pub fn check_outlined(plan: Option<&Plan>, outline: &Outline, diagnostics: &mut Vec<Diagnostic>) -> Option<PlanGraph> {
    let used_gates = references::check(outline, diagnostics);
    let plan = plan?;
    match PlanGraph::build(plan) {
        Ok(graph) => {
            safety::check(plan, &graph, outline, &used_gates, diagnostics);
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

/// The outline of a plan that decoded without errors.
fn outline_of(plan: &Plan) -> Outline {
    let declared = |name: &Spanned<String>, keyword_span: Span| Declared {
        name: name.clone(),
        keyword_span,
        has_errors: false,
        layout: None,
    };
    Outline {
        steps: plan.steps.iter().map(|s| declared(&s.name, s.keyword_span)).collect(),
        gates: plan.gates.iter().map(|g| declared(&g.name, g.name.span)).collect(),
        after: plan
            .steps
            .iter()
            .flat_map(|s| s.after.iter().map(|a| Reference { from: s.keyword_span, name: a.clone() }))
            .collect(),
        gate_uses: plan.steps.iter().flat_map(|s| s.kind.gates()).cloned().collect(),
        valueless_variables: Default::default(),
    }
}

fn cycle_diagnostic(plan: &Plan, cycle: &Cycle) -> Diagnostic {
    let name = |i: usize| plan.steps[i].name.value.as_str();
    let mut path: Vec<&str> = cycle.steps.iter().map(|&i| name(i)).collect();
    path.push(name(cycle.steps[0]));
    let span_of = |k: usize| match &cycle.edges[k] {
        Edge::After(span) => *span,
        Edge::Shared(_) => plan.steps[cycle.steps[k]].keyword_span,
    };
    let waits: Vec<Span> = (1..cycle.steps.len()).map(span_of).collect();
    Diagnostic::new(ReferenceProblem::Cycle { path: &path, waits: &waits }, span_of(0))
}
