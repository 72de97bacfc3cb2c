//! Warnings for plans that would cause downtime or run in an unsafe order.

use std::collections::HashSet;

use crate::diagnostic::{Code, Diagnostic};
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
                    let mut d = Diagnostic::warning(
                        Code::StartFirstHostPort,
                        format!("start-first update of `{}` with host-mode port {} will hang", r.service.value, p.published),
                        r.update.order_span.unwrap_or(step.keyword_span),
                        "start-first",
                    )
                    .with_label(p.span, "host-mode port")
                    .with_help("the new task cannot bind the port while the old one holds it: use `order stop-first`, or publish through a router")
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
                    out.push(
                        Diagnostic::warning(
                            Code::MigrationWithoutBackup,
                            format!("migration `{}` runs without an earlier backup of its database", step.name.value),
                            step.keyword_span,
                            "no backup before this",
                        )
                        .with_help("add a `backup` step for the same database before it (a backup written above it in the file runs first)"),
                    );
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
                        let mut d = Diagnostic::warning(
                            Code::ContractBeforeDeploy,
                            format!("contract migration `{}` can run before {}", step.name.value, name_list(&names)),
                            m.phase_span,
                            "contract",
                        );
                        for &j in &early {
                            d = d.with_label(plan.steps[j].name.span, "still uses the old schema");
                        }
                        let layout = outline
                            .steps
                            .iter()
                            .find(|s| s.keyword_span == step.keyword_span)
                            .and_then(|s| s.layout.as_ref());
                        let (help, edits) = add_to_after(layout, &names);
                        d.fix = edits;
                        out.push(d.with_help(help));
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
            out.push(
                Diagnostic::warning(
                    Code::UnusedGate,
                    format!("gate `{}` is never used", gate.name.value),
                    gate.name.span,
                    "declared here",
                )
                .with_help("name it in a step's `gates`, or remove it"),
            );
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
            Diagnostic::warning(
                Code::StopFirstSingleReplica,
                format!("stop-first update of `{name}` with one replica takes it down"),
                update.order_span.unwrap_or(span),
                "stop-first",
            )
            .with_help("use `order start-first`, or run at least two replicas")
            .with_fix_opt(update.order_span.map(|at| Edit::new(at, "start-first"))),
        );
    }
}

fn ungated(name: &str, span: crate::span::Span) -> Diagnostic {
    Diagnostic::warning(Code::UngatedRollout, format!("`{name}` rolls out without a health gate"), span, "no gates")
        .with_help("add `gates NAME...` so a bad release is caught and rolled back")
}

/// Names for a message: the first few, then how many more.
fn name_list(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut list: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    if names.len() > SHOWN {
        list.push(format!("{} more", names.len() - SHOWN));
    }
    list.join(", ")
}

/// How to make a step wait for `names` too, in words and as edits that do it: extend an `after`
/// line, turn `after=x` (which holds one name) into an `after` line, or add one.
fn add_to_after(layout: Option<&StepLayout>, names: &[&str]) -> (String, Vec<Edit>) {
    let new: Vec<String> = names.iter().map(|n| kdl_string(n)).collect();
    let shown = if new.len() > 5 { format!("{} ... ({} steps)", new[..5].join(" "), new.len()) } else { new.join(" ") };
    let Some(layout) = layout else {
        return (format!("add `after {shown}` to the contract step"), Vec::new());
    };
    let line = |existing: Option<&str>| {
        let mut all: Vec<&str> = existing.into_iter().collect();
        all.extend(new.iter().map(String::as_str));
        format!("after {}", all.join(" "))
    };
    match (&layout.after, &layout.child_line) {
        (Some(AfterSite::Child { end }), _) => (
            format!("add {shown} to the contract step's `after` line"),
            vec![Edit::insert(*end, format!(" {}", new.join(" ")))],
        ),
        (Some(AfterSite::Property { span, name }), child_line) => {
            let help = format!(
                "`after={name}` holds one name: replace it with a line `after {name} {shown}` in the contract step's block"
            );
            let add = match child_line {
                Some((at, before, after)) => Edit::insert(*at, format!("{before}{}{after}", line(Some(name)))),
                None => Edit::insert(layout.node_end, format!(" {{ {} }}", line(Some(name)))),
            };
            (help, vec![Edit::new(*span, ""), add])
        }
        (None, Some((at, before, after))) => (
            format!("add `after {shown}` to the contract step"),
            vec![Edit::insert(*at, format!("{before}{}{after}", line(None)))],
        ),
        (None, None) if new.len() == 1 => (
            format!("add `after={shown}` to the contract step"),
            vec![Edit::insert(layout.name_end, format!(" after={}", new[0]))],
        ),
        (None, None) => (
            format!("add `{{ after {shown} }}` to the contract step"),
            vec![Edit::insert(layout.node_end, format!(" {{ {} }}", line(None)))],
        ),
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
        return Some(
            Diagnostic::warning(
                Code::CanaryPercentage,
                format!("a canary cannot take {p} of the traffic"),
                span,
                "100% or more",
            )
            .with_help("the stable service keeps running until promotion: end with a smaller share, then `promote`"),
        );
    }
    let stable = stable?;
    let exact = share * stable as f64 / (1.0 - share);
    if (exact - exact.round()).abs() < 1e-9 && exact >= 1.0 {
        return None;
    }
    let lower = exact.floor().max(1.0);
    let shares: Vec<String> = [lower, lower + 1.0]
        .iter()
        .map(|c| {
            let unit = if *c == 1.0 { "replica" } else { "replicas" };
            format!("{}% ({c} {unit})", ((c / (c + stable as f64)) * 1000.0).round() / 10.0)
        })
        .collect();
    Some(
        Diagnostic::warning(
            Code::CanaryPercentage,
            format!(
                "{p} of the traffic beside {stable} stable replicas needs {} canary replicas",
                (exact * 100.0).round() / 100.0
            ),
            span,
            "not a whole number of replicas",
        )
        .with_help(format!(
            "the canary gets canary / (canary + {stable}) of the tasks behind the name: use {}, or `replicas=N`",
            shares.join(" or ")
        )),
    )
}
