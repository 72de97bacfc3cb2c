//! Steps at run time: one file per kind. Each kind records what it needs to be undone
//! (emitted as `StepRecorded` before it changes anything), applies, and can undo from that record.

pub mod pause;
pub mod rolling;
pub mod run;

use std::sync::Arc;

use plans::model::{Plan, Step};
use plans::steps::StepKind;

use crate::cluster::Cluster;
use crate::events::Events;

/// What a running step can use.
#[derive(Clone)]
pub struct StepEnv {
    /// The swarm.
    pub cluster: Arc<dyn Cluster>,
    /// Where progress goes.
    pub events: Events,
    /// The whole plan (gates are looked up by name).
    pub plan: Arc<Plan>,
}

/// Why a step failed, in words that name the cause (the tasks' own error messages, the gate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError(pub String);

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StepError {}

impl From<crate::cluster::ClusterError> for StepError {
    fn from(e: crate::cluster::ClusterError) -> Self {
        StepError(e.to_string())
    }
}

/// Whether `planrun apply` can run this kind of step yet.
pub fn supported(kind: &StepKind) -> bool {
    matches!(kind, StepKind::Rolling(_) | StepKind::Check(_) | StepKind::Run(_) | StepKind::Pause(_))
}

/// Runs a step (its gates are judged by the executor afterwards).
pub async fn apply(step: &Step, env: &StepEnv) -> Result<(), StepError> {
    let name = step.name.value.as_str();
    match &step.kind {
        StepKind::Rolling(r) => rolling::apply(name, r, env).await.map(|_| ()),
        StepKind::Run(r) => run::apply(name, r, env).await,
        StepKind::Pause(p) => pause::apply(name, p.wait, env).await,
        StepKind::Check(_) => Ok(()),
        other => Err(StepError(format!("planrun apply cannot run {} steps yet", other.keyword()))),
    }
}

/// Undoes a step from the record it made before changing anything.
pub async fn undo(kind: &str, step: &str, record: &serde_json::Value, env: &StepEnv) -> Result<(), StepError> {
    match kind {
        "rolling" => rolling::undo(step, record, env).await,
        "run" => run::undo(record).await,
        other => Err(StepError(format!("cannot undo a {other} step"))),
    }
}
