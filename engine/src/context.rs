//! What a run hands its steps: the cluster and the seams to the outside world (gate probe,
//! commands, approvals), the events, and, for a step being applied, the plan and its directory.
//!
//! Everything outside the cluster is behind a trait with a real and a simulated
//! implementation, so the same steps and executor run against a real swarm or, on the fake
//! cluster with tokio's clock paused, as a simulation.

use std::path::PathBuf;
use std::sync::Arc;

use plans::gates::GateKind;
use plans::model::Plan;
use plans::spanned::Spanned;

use crate::approval::{Answer, Approver, AskError, Question};
use crate::cluster::Cluster;
use crate::commands::Commands;
use crate::database::{Databases, Dump};
use crate::events::{Event, Events};
use crate::gates::{self, GateReport, Probe, Verdict};
use crate::run_state::{Entry, RunState, StateError};
use crate::services::progress::Progress;
use crate::undo::{Recorded, Undo};

/// What every part of a run uses.
#[derive(Clone)]
pub struct RunContext {
    /// The swarm.
    pub cluster: Arc<dyn Cluster>,
    /// Where progress goes.
    pub events: Events,
    /// Measures gates.
    pub probe: Arc<dyn Probe>,
    /// Runs commands on this machine.
    pub commands: Arc<dyn Commands>,
    /// Asks a person.
    pub approver: Arc<dyn Approver>,
    /// The stack.
    pub stack: String,
    /// This run's id.
    pub run_id: String,
    /// What the run's steps recorded to be undone.
    pub recorded: Arc<Recorded>,
    /// Opens the databases backup and migrate steps name.
    pub databases: Arc<dyn Databases>,
    /// Dumps this run took and verified, by database (`Target::describe`).
    pub backups: Arc<std::sync::Mutex<Vec<(String, Dump)>>>,
    /// Where the run's undo records are kept in the swarm (none in a simulation).
    pub state: Option<Arc<RunState>>,
}

impl RunContext {
    /// Reports, as `step`'s progress, how following a service goes.
    pub fn followed(&self, step: &str, progress: Progress) {
        let Progress { message, updated } = progress;
        self.events.emit(Event::StepProgress { step: step.to_owned(), message, updated: Some(updated), wait_ms: None });
    }

    /// Reports `step`'s progress (an undo's, which has no step context).
    pub fn progress(&self, step: &str, message: impl Into<String>) {
        let message = message.into();
        self.events.emit(Event::StepProgress { step: step.to_owned(), message, updated: None, wait_ms: None });
    }
}

/// Whether a gate of this kind can judge a release while Swarm is still rolling it out: those
/// that measure what the new tasks do (their answers, their metrics, a command's verdict) can;
/// a `swarm` gate judges the end of the rollout itself (every task on the new spec) and would
/// fail every batch but the last, so it is judged once the update has converged.
pub fn judges_batches(kind: &GateKind) -> bool {
    match kind {
        GateKind::Http(_) | GateKind::Prometheus(_) | GateKind::Command(_) => true,
        GateKind::Swarm(_) => false,
    }
}

/// What a step being applied uses: the run's context, the plan and which step it is.
#[derive(Clone)]
pub struct StepContext {
    /// The run.
    pub run: Arc<RunContext>,
    /// The whole plan (gates are looked up by name).
    pub plan: Arc<Plan>,
    /// The plan file's directory (files the plan names are relative to it).
    pub plan_dir: Arc<PathBuf>,
    /// The step's name.
    pub step: String,
}

impl StepContext {
    /// The swarm.
    pub fn cluster(&self) -> &dyn Cluster {
        self.run.cluster.as_ref()
    }

    /// Records how to undo this step: in the swarm first (so any machine can undo it), then in
    /// the journal. Call it before changing anything; when the swarm cannot keep the record, the
    /// step must not change anything either.
    pub async fn record(&self, undo: Undo) -> Result<(), StateError> {
        if let Some(state) = &self.run.state {
            let entry = Entry::Recorded { step: self.step.clone(), undo: undo.clone() };
            state.write(&entry).await?;
        }
        self.run.recorded.push(&self.step, undo.clone());
        self.run.events.emit(Event::StepRecorded { step: self.step.clone(), undo });
        Ok(())
    }

    /// Reports progress.
    pub fn progress(&self, message: impl Into<String>) {
        self.run.progress(&self.step, message);
    }

    /// Reports that the step now waits `wait` (a live view counts it down).
    pub fn waiting(&self, message: impl Into<String>, wait: std::time::Duration) {
        let (step, message, wait_ms) = (self.step.clone(), message.into(), Some(wait.as_millis() as u64));
        self.run.events.emit(Event::StepProgress { step, message, updated: None, wait_ms });
    }

    /// Reports how following a service goes (tasks on the target of those expected).
    pub fn followed(&self, progress: Progress) {
        self.run.followed(&self.step, progress);
    }

    /// Before a rollout, beside the caller: readies what the first judgement of `gates` would
    /// otherwise wait for (an `http` gate's probe container on a network).
    pub fn warm(&self, gates: &[Spanned<String>]) {
        for gate in gates.iter().filter_map(|g| self.plan.gate(&g.value)) {
            self.run.probe.warm(gate);
        }
    }

    /// Judges the named gates at once; the reports of those that did not pass, if any.
    pub async fn judge(&self, gates: &[Spanned<String>]) -> Result<(), Vec<GateReport>> {
        let declared: Vec<&plans::model::Gate> = gates.iter().filter_map(|g| self.plan.gate(&g.value)).collect();
        if declared.is_empty() {
            return Ok(());
        }
        let reports = gates::judge_until_failure(
            &declared,
            &self.step,
            &self.plan_dir,
            self.run.probe.as_ref(),
            &self.run.events,
        )
        .await;
        let bad: Vec<GateReport> = reports.into_iter().filter(|r| r.verdict != Verdict::Passed).collect();
        if bad.is_empty() { Ok(()) } else { Err(bad) }
    }

    /// Splits `gates` into those that judge each batch of a rollout and those judged once it
    /// has converged ([`judges_batches`]); names the plan does not declare are left out.
    pub fn batch_gates(&self, gates: &[Spanned<String>]) -> (Vec<Spanned<String>>, Vec<Spanned<String>>) {
        let declared = gates.iter().filter_map(|g| self.plan.gate(&g.value).map(|d| (g, d)));
        let (during, after): (Vec<_>, Vec<_>) = declared.partition(|(_, d)| judges_batches(&d.kind));
        let names =
            |list: Vec<(&Spanned<String>, &plans::model::Gate)>| list.into_iter().map(|(g, _)| g.clone()).collect();
        (names(during), names(after))
    }

    /// Asks a person `text`, saying in the progress view how to answer; waits for the answer.
    pub async fn ask(&self, text: &str) -> Result<Answer, AskError> {
        let question = Question {
            stack: self.run.stack.clone(),
            run_id: self.run.run_id.clone(),
            step: self.step.clone(),
            text: text.to_owned(),
        };
        // Posted before the progress view says so: an answer given at once must find it.
        // An approver that cannot post fails again in `ask`, which says why.
        let _ = self.run.approver.post(&question).await;
        let how = self.run.approver.how(&question).unwrap_or_else(|| "answer on this terminal".into());
        self.run.events.emit(Event::AwaitingApproval { step: self.step.clone(), question: text.to_owned(), how });
        let answer = self.run.approver.ask(&question).await?;
        self.run.events.emit(Event::Answered {
            step: self.step.clone(),
            approved: answer.approved,
            by: answer.by.clone(),
        });
        Ok(answer)
    }
}
