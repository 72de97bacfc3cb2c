//! Warnings for plans that would cause downtime or run in an unsafe order.

use std::collections::HashSet;

use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::{AddAfter, SafetyProblem};
use crate::fix::{Edit, kdl_string};
use crate::graph::PlanGraph;
use crate::model::Plan;
use crate::outline::{AfterSite, Outline, StepLayout};
use crate::span::Span;
use crate::steps::StepKind;
use crate::steps::canary::Weight;
use crate::steps::migrate::Phase;
use crate::steps::rolling::PublishMode;
use crate::steps::update::{Order, UpdatePolicy};

/// Warns about downtime and unsafe orders, except for steps and gates that have errors.
pub(super) fn check(
    plan: &Plan,
    graph: &PlanGraph,
    outline: &Outline,
    used_gates: &HashSet<&str>,
    out: &mut Vec<Diagnostic>,
) {
    let steps_with_errors: HashSet<Span> =
        outline.steps.iter().filter(|s| s.has_errors).map(|s| s.keyword_span).collect();
    // Warnings about order need every step in the graph: with one missing, "no backup before
    // this" may be wrong.
    let graph_complete = steps_with_errors.is_empty();
    for (i, step) in plan.steps.iter().enumerate() {
        if steps_with_errors.contains(&step.keyword_span) {
            continue;
        }
        match &step.kind {
            StepKind::Rolling(r) => {
                let replicas = r.replicas.as_ref().map(|r| r.value);
                update_warnings(step.name.value.as_str(), step.keyword_span, &r.update, replicas, out);
                if let Some(p) = r.publish.iter().find(|p| p.mode == PublishMode::Host)
                    && r.update.order == Order::StartFirst
                {
                    let problem = SafetyProblem::StartFirstHostPort {
                        service: &r.service.value,
                        port: p.published,
                        port_at: p.span,
                    };
                    let mut d = Diagnostic::new(problem, r.update.order_span.unwrap_or(step.keyword_span))
                        .with_fix_opt(r.update.order_span.map(|at| Edit::new(at, "stop-first")));
                    d.labels.dedup_by_key(|l| l.span);
                    out.push(d);
                }
                if r.gates.is_empty() {
                    out.push(ungated(step.name.value.as_str(), step.keyword_span));
                }
            }
            StepKind::Compose(c) => {
                if c.gates.is_empty() {
                    out.push(ungated(step.name.value.as_str(), step.keyword_span));
                }
            }
            StepKind::Canary(c) => {
                let replicas = c.replicas.as_ref().map(|r| r.value);
                update_warnings(step.name.value.as_str(), step.keyword_span, &c.update, replicas, out);
                if step.kind.gates().is_empty() {
                    out.push(ungated(step.name.value.as_str(), step.keyword_span));
                }
                for stage in &c.stages {
                    if let Weight::Traffic(p) = stage.weight
                        && let Some(d) = canary_percentage(p, replicas, stage.span)
                    {
                        out.push(d);
                    }
                }
            }
            StepKind::Migrate(_) if !graph_complete => {}
            StepKind::Migrate(m) => {
                let key = m.database.key();
                let backed_up = plan.steps.iter().enumerate().any(|(j, s)| {
                    matches!(&s.kind, StepKind::Backup(b) if b.database.key() == key) && graph.runs_before(j, i)
                });
                if !backed_up {
                    out.push(Diagnostic::new(
                        SafetyProblem::MigrationWithoutBackup { step: &step.name.value },
                        step.keyword_span,
                    ));
                }
                if m.phase == Phase::Contract {
                    let early: Vec<usize> = plan
                        .steps
                        .iter()
                        .enumerate()
                        .filter(|(j, s)| s.kind.is_deployment() && !graph.runs_before(*j, i))
                        .map(|(j, _)| j)
                        .collect();
                    if !early.is_empty() {
                        let names: Vec<&str> = early.iter().map(|&j| plan.steps[j].name.value.as_str()).collect();
                        let uses_old: Vec<Span> = early.iter().map(|&j| plan.steps[j].name.span).collect();
                        let layout = outline
                            .steps
                            .iter()
                            .find(|s| s.keyword_span == step.keyword_span)
                            .and_then(|s| s.layout.as_ref());
                        let (add, edits) = add_to_after(layout, &names);
                        let problem = SafetyProblem::ContractBeforeDeploy {
                            step: &step.name.value,
                            before: &names,
                            uses_old: &uses_old,
                            add,
                        };
                        let mut d = Diagnostic::new(problem, m.phase_span);
                        d.fix = edits;
                        out.push(d);
                    }
                }
            }
            StepKind::BlueGreen(_)
            | StepKind::Backup(_)
            | StepKind::Check(_)
            | StepKind::Run(_)
            | StepKind::Pause(_) => {}
        }
    }
    let gates_with_errors: HashSet<&str> =
        outline.gates.iter().filter(|g| g.has_errors).map(|g| g.name.value.as_str()).collect();
    for gate in &plan.gates {
        let name = gate.name.value.as_str();
        if !used_gates.contains(name) && !gates_with_errors.contains(name) {
            out.push(Diagnostic::new(SafetyProblem::UnusedGate { gate: name }, gate.name.span));
        }
    }
}

fn update_warnings(
    name: &str,
    span: crate::span::Span,
    update: &UpdatePolicy,
    replicas: Option<u64>,
    out: &mut Vec<Diagnostic>,
) {
    if update.order == Order::StopFirst && replicas == Some(1) {
        out.push(
            Diagnostic::new(SafetyProblem::StopFirstSingleReplica { step: name }, update.order_span.unwrap_or(span))
                .with_fix_opt(update.order_span.map(|at| Edit::new(at, "start-first"))),
        );
    }
}

fn ungated(name: &str, span: crate::span::Span) -> Diagnostic {
    Diagnostic::new(SafetyProblem::UngatedRollout { step: name }, span)
}

/// How to make a step wait for `names` too, as edits that do it and what the help says they do:
/// extend an `after` line, turn `after=x` (which holds one name) into an `after` line, or add one.
fn add_to_after<'l>(layout: Option<&'l StepLayout>, names: &[&str]) -> (AddAfter<'l>, Vec<Edit>) {
    let new: Vec<String> = names.iter().map(|n| kdl_string(n)).collect();
    let Some(layout) = layout else {
        return (AddAfter::Anywhere, Vec::new());
    };
    let line = |existing: Option<&str>| {
        let mut all: Vec<&str> = existing.into_iter().collect();
        all.extend(new.iter().map(String::as_str));
        format!("after {}", all.join(" "))
    };
    match (&layout.after, &layout.child_line) {
        (Some(AfterSite::Child { end }), _) => {
            (AddAfter::ExtendLine, vec![Edit::insert(*end, format!(" {}", new.join(" ")))])
        }
        (Some(AfterSite::Property { span, name }), child_line) => {
            let add = match child_line {
                Some((at, before, after)) => Edit::insert(*at, format!("{before}{}{after}", line(Some(name)))),
                None => Edit::insert(layout.node_end, format!(" {{ {} }}", line(Some(name)))),
            };
            (AddAfter::ReplaceProperty { name }, vec![Edit::new(*span, ""), add])
        }
        (None, Some((at, before, after))) => {
            (AddAfter::AddLine, vec![Edit::insert(*at, format!("{before}{}{after}", line(None)))])
        }
        (None, None) if new.len() == 1 => {
            (AddAfter::AddProperty, vec![Edit::insert(layout.name_end, format!(" after={}", new[0]))])
        }
        (None, None) => (AddAfter::AddBlock, vec![Edit::insert(layout.node_end, format!(" {{ {} }}", line(None)))]),
    }
}

/// Whether `traffic="P%"` is a share a canary can have beside a stable service of `stable`
/// replicas that keeps running: canary / (canary + stable) = P% for a whole number of canary
/// replicas; never 100%.
fn canary_percentage(
    p: crate::percentage::Percentage,
    stable: Option<u64>,
    span: crate::span::Span,
) -> Option<Diagnostic> {
    let share = p.value() / 100.0;
    if share >= 1.0 {
        return Some(Diagnostic::new(SafetyProblem::CanaryAllTraffic { percent: &p.to_string() }, span));
    }
    let stable = stable?;
    let exact = share * stable as f64 / (1.0 - share);
    if (exact - exact.round()).abs() < 1e-9 && exact >= 1.0 {
        return None;
    }
    Some(Diagnostic::new(SafetyProblem::CanaryInexactShare { percent: &p.to_string(), stable, exact }, span))
}
