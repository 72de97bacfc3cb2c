//! Steps at run time: one file per kind. Each kind records what it needs to be undone
//! (emitted as `StepRecorded` before it changes anything), applies, and can undo from that record.

pub mod rolling;

use std::sync::Arc;

use plans::model::Plan;

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
