//! Preflight: before the first change, everything the plan names exists and each step's
//! target is in a state it can start from. Every problem is reported at once, and nothing is
//! changed; warnings are shown and the run goes on.
//!
//! Each step kind checks its own needs (`steps::Behavior::preflight`: a rolling step's service
//! exists, is replicated, has no update in progress or paused); every gate a step uses is
//! checked by the probe (its service exists, its Prometheus answers, its program can start, its
//! token file and variables can be read).

use plans::SourceFile;
use plans::span::Span;
use tokio::task::JoinSet;

use crate::context::StepContext;
use crate::events::Problem;
use crate::steps;

/// What preflight found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Problems that stop the run, in file order.
    pub problems: Vec<Problem>,
    /// Warnings, in file order.
    pub warnings: Vec<Problem>,
}

/// `FILE:LINE` of a span.
pub fn at(file: &SourceFile, span: Span) -> String {
    let (line, _) = file.line_col(span.offset);
    format!("{}:{line}", file.name)
}

/// Checks every step and every gate in use, concurrently; reads only.
pub async fn check(ctx: &StepContext, file: &SourceFile) -> Report {
    let plan = ctx.plan.clone();
    let mut checks: JoinSet<Vec<(usize, bool, Problem)>> = JoinSet::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let ctx = StepContext { step: step.name.value.clone(), ..ctx.clone() };
        let (plan, at) = (plan.clone(), at(file, step.keyword_span));
        checks.spawn(async move {
            let findings = steps::behavior(&plan.steps[i].kind).preflight(&ctx).await;
            let found = |warning: bool, message: String| {
                (i, warning, Problem { step: Some(ctx.step.clone()), at: Some(at.clone()), message })
            };
            let mut out: Vec<(usize, bool, Problem)> = Vec::new();
            out.extend(findings.problems.into_iter().map(|m| found(false, m)));
            out.extend(findings.warnings.into_iter().map(|m| found(true, m)));
            out
        });
    }
    // A compose step creates its stack's missing services: a swarm gate on one of them is
    // checked when it is judged, after the step has created it.
    let created: Vec<&String> = plan
        .steps
        .iter()
        .filter_map(|s| if let plans::steps::StepKind::Compose(c) = &s.kind { Some(&c.services) } else { None })
        .flatten()
        .collect();
    let used: Vec<&plans::model::Gate> = plan
        .gates
        .iter()
        .filter(|g| plan.steps.iter().any(|s| s.kind.gates().iter().any(|u| u.value == g.name.value)))
        .filter(|g| !matches!(&g.kind, plans::gates::GateKind::Swarm(s) if created.contains(&&s.service)))
        .collect();
    for (k, gate) in used.into_iter().enumerate() {
        let (gate, probe, dir) = (gate.clone(), ctx.run.probe.clone(), ctx.plan_dir.clone());
        let at = at(file, gate.name.span);
        let order = plan.steps.len() + k;
        checks.spawn(async move {
            let problem = probe.preflight(&gate, &dir).await;
            problem
                .map(|m| {
                    let message = format!("gate `{}`: {m}", gate.name.value);
                    (order, false, Problem { step: None, at: Some(at), message })
                })
                .into_iter()
                .collect()
        });
    }
    let mut found: Vec<(usize, bool, Problem)> = Vec::new();
    while let Some(joined) = checks.join_next().await {
        match joined {
            Ok(items) => found.extend(items),
            Err(e) => found.push((usize::MAX, false, Problem { step: None, at: None, message: e.to_string() })),
        }
    }
    found.sort_by_key(|(order, _, _)| *order);
    let mut report = Report::default();
    for (_, warning, problem) in found {
        if warning { report.warnings.push(problem) } else { report.problems.push(problem) }
    }
    report
}
