//! `check` at run time: judge the named gates, all at once.

use async_trait::async_trait;
use plans::steps::Check;

use super::LiveFacts;
use super::{Behavior, Findings, StepError};
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::StepContext;
use crate::events::StepOutcome;
use crate::events::UndoOutcome;

#[async_trait]
impl Behavior for Check {
    async fn preflight(&self, _ctx: &StepContext) -> Findings {
        // Its gates are preflighted with every other gate of the plan.
        Findings::default()
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        ctx.judge(&self.gates).await.map_err(StepError::Gates)
    }

    fn preview(&self) -> Vec<String> {
        Vec::new()
    }

    async fn live(&self, _cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        Ok(LiveFacts::default())
    }

    fn drill(&self) -> Result<(), &'static str> {
        if self.gates.is_empty() { Err("the check step judges no gate") } else { Ok(()) }
    }

    fn drilled(&self, _finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        None
    }
}
