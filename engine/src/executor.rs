//! The executor: walks the plan's graph with tokio, running every step whose dependencies are
//! done (at most `parallelism` at once), stops launching on the first failure, and rolls back
//! in reverse order when the plan says so.
//!
//! It knows the cluster only through `StepEnv` (a trait object), and waits only on tokio's
//! clock, so the same code can run against a simulated swarm in virtual time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use plans::PlanGraph;
use plans::model::{OnFailure, Plan};
use plans::steps::StepKind;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::events::{Event, Record, Sink};
use crate::gates::{self, GateEnv, Verdict};
use crate::steps::{self, StepEnv, StepError};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step finished and every gate passed.
    Succeeded,
    /// A step failed (or the run was interrupted) and every change was undone.
    RolledBack(String),
    /// A step failed and undoing failed too: the cluster needs a person.
    RollbackFailed(String),
    /// A step failed and the plan says pause: nothing was undone.
    Paused(String),
}

impl Outcome {
    /// The word used in events and summaries.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::RolledBack(_) => "rolled-back",
            Outcome::RollbackFailed(_) => "rollback-failed",
            Outcome::Paused(_) => "paused",
        }
    }

    /// Why, when the run did not succeed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Succeeded => None,
            Outcome::RolledBack(r) | Outcome::RollbackFailed(r) | Outcome::Paused(r) => Some(r),
        }
    }
}

/// Undo records as steps make them (captured from `StepRecorded` events).
#[derive(Default)]
pub struct UndoLog(Mutex<HashMap<String, serde_json::Value>>);

impl Sink for UndoLog {
    fn record(&self, record: &Record) {
        if let Event::StepRecorded { step, undo } = &record.event {
            self.0.lock().expect("undo log poisoned").insert(step.clone(), undo.clone());
        }
    }
}

impl Sink for Arc<UndoLog> {
    fn record(&self, record: &Record) {
        self.as_ref().record(record)
    }
}

/// Everything a run needs.
pub struct Executor {
    /// What steps use.
    pub env: StepEnv,
    /// What gates use.
    pub gates: Arc<GateEnv>,
    /// Undo records, filled through the events sink.
    pub undo_log: Arc<UndoLog>,
    /// Steps running at once, at most.
    pub parallelism: usize,
    /// Cancelled on Ctrl-C or SIGTERM: no new step starts; the running ones finish.
    pub cancel: CancellationToken,
}

impl Executor {
    /// Runs the plan to the end, rolling back on failure if the plan says so.
    pub async fn run(&self, plan: &Arc<Plan>, graph: &PlanGraph) -> Outcome {
        let (completed, failure) = self.forward(plan, graph).await;
        let Some(reason) = failure else {
            return Outcome::Succeeded;
        };
        if plan.on_failure == OnFailure::Pause {
            return Outcome::Paused(reason);
        }
        self.env.events.emit(Event::RollbackStarted { reason: reason.clone() });
        // The failed step may have changed things before failing: undo it first, then the
        // completed ones newest first. Completion order respects dependencies, so its reverse does too.
        let recorded: HashMap<String, serde_json::Value> = self.undo_log.0.lock().expect("undo log poisoned").clone();
        let mut order: Vec<usize> = (0..plan.steps.len())
            .filter(|i| !completed.contains(i) && recorded.contains_key(&plan.steps[*i].name.value))
            .collect();
        order.extend(completed.iter().rev().copied());
        match self.undo(plan, &order, &recorded).await {
            Ok(()) => Outcome::RolledBack(reason),
            Err(e) => Outcome::RollbackFailed(format!("{reason}; then rollback failed: {e}")),
        }
    }

    /// Runs steps in dependency order. Returns completed steps (in completion order) and the
    /// first failure, if any.
    async fn forward(&self, plan: &Arc<Plan>, graph: &PlanGraph) -> (Vec<usize>, Option<String>) {
        let n = plan.steps.len();
        let mut waiting_on: Vec<usize> = (0..n).map(|i| graph.dependencies(i).len()).collect();
        let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
        let mut running: JoinSet<(usize, Result<(), StepError>, u64)> = JoinSet::new();
        let mut completed = Vec::new();
        let mut failure: Option<String> = None;
        loop {
            while failure.is_none() && !self.cancel.is_cancelled() && running.len() < self.parallelism.max(1) {
                let Some(i) = ready.pop_first() else { break };
                let (plan, env, gates) = (plan.clone(), self.env.clone(), self.gates.clone());
                running.spawn(async move {
                    let started = tokio::time::Instant::now();
                    let result = run_step(&plan, i, &env, &gates).await;
                    (i, result, started.elapsed().as_millis() as u64)
                });
            }
            if running.is_empty() {
                break;
            }
            let joined = tokio::select! {
                j = running.join_next() => j,
                _ = self.cancel.cancelled(), if failure.is_none() => {
                    failure = Some("interrupted (Ctrl-C or SIGTERM): the running steps finished, no new step started".into());
                    continue;
                }
            };
            let Some(joined) = joined else { break };
            let (i, result, took_ms) = match joined {
                Ok(r) => r,
                Err(e) => {
                    failure.get_or_insert(format!("a step task crashed: {e}"));
                    continue;
                }
            };
            let step = plan.steps[i].name.value.clone();
            match result {
                Ok(()) => {
                    self.env.events.emit(Event::StepFinished {
                        step,
                        outcome: "succeeded".into(),
                        reason: None,
                        took_ms,
                    });
                    completed.push(i);
                    for dep in graph.graph.neighbors(graph.nodes[i]) {
                        let j = graph.graph[dep];
                        waiting_on[j] -= 1;
                        if waiting_on[j] == 0 {
                            ready.insert(j);
                        }
                    }
                }
                Err(e) => {
                    self.env.events.emit(Event::StepFinished {
                        step: step.clone(),
                        outcome: "failed".into(),
                        reason: Some(e.0.clone()),
                        took_ms,
                    });
                    failure.get_or_insert(format!("step `{step}` failed: {}", e.0));
                }
            }
        }
        (completed, failure)
    }

    async fn undo(
        &self,
        plan: &Plan,
        order: &[usize],
        recorded: &HashMap<String, serde_json::Value>,
    ) -> Result<(), String> {
        let pending: Vec<(String, String, serde_json::Value)> = order
            .iter()
            .map(|&i| &plan.steps[i])
            .filter_map(|step| {
                let record = recorded.get(&step.name.value)?.clone();
                Some((step.name.value.clone(), step.kind.keyword().to_owned(), record))
            })
            .collect();
        undo_each(&self.env, &pending).await
    }
}

/// Undoes journal records from an earlier run (`planrun rollback`), newest first.
pub async fn undo_records(env: &StepEnv, pending: &[(String, String, serde_json::Value)]) -> Result<(), String> {
    env.events.emit(Event::RollbackStarted { reason: "planrun rollback".into() });
    undo_each(env, pending).await
}

/// Undoes (step, kind, record) in order. A failed undo does not stop the rest: a partial
/// rollback is better than none, and the journal says exactly which step still needs a person.
async fn undo_each(env: &StepEnv, pending: &[(String, String, serde_json::Value)]) -> Result<(), String> {
    let mut failures = Vec::new();
    for (step, kind, record) in pending {
        let started = tokio::time::Instant::now();
        let result = steps::undo(kind, step, record, env).await;
        let took_ms = started.elapsed().as_millis() as u64;
        let (outcome, reason) = match &result {
            Ok(()) => ("succeeded", None),
            Err(e) => ("failed", Some(e.0.clone())),
        };
        env.events.emit(Event::StepUndone { step: step.clone(), outcome: outcome.into(), reason, took_ms });
        if let Err(e) = result {
            failures.push(format!("undo of `{step}`: {}", e.0));
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

/// Runs one step, then judges the gates it names.
async fn run_step(plan: &Plan, i: usize, env: &StepEnv, gate_env: &GateEnv) -> Result<(), StepError> {
    let step = &plan.steps[i];
    let name = step.name.value.as_str();
    env.events.emit(Event::StepStarted { step: name.to_owned(), kind: step.kind.keyword().to_owned() });
    steps::apply(step, env).await?;
    let gate_names: Vec<&str> = match &step.kind {
        StepKind::Rolling(r) => r.gates.iter().map(|g| g.value.as_str()).collect(),
        StepKind::Check(c) => c.gates.iter().map(|g| g.value.as_str()).collect(),
        _ => Vec::new(),
    };
    if gate_names.is_empty() {
        return Ok(());
    }
    let declared: Vec<&plans::model::Gate> = gate_names.iter().filter_map(|g| plan.gate(g)).collect();
    let reports = gates::judge_all(&declared, name, gate_env).await;
    let bad: Vec<String> = reports
        .iter()
        .filter(|r| r.verdict != Verdict::Passed)
        .map(|r| format!("gate `{}` {}: {}", r.gate, verdict_word(&r.verdict), r.summary))
        .collect();
    if bad.is_empty() { Ok(()) } else { Err(StepError(bad.join("; "))) }
}

fn verdict_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Inconclusive => "was inconclusive",
        Verdict::Error => "errored",
    }
}
