//! `check` at run time: judge the named gates, all at once.

use async_trait::async_trait;
use plans::steps::Check;

use super::{Behavior, Findings, StepError};
use crate::context::StepContext;

#[async_trait]
impl Behavior for Check {
    fn supported(&self) -> Result<(), String> {
        Ok(())
    }

    async fn preflight(&self, _ctx: &StepContext) -> Findings {
        // Its gates are preflighted with every other gate of the plan.
        Findings::default()
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        ctx.judge(&self.gates).await.map_err(StepError::Gates)
    }
}
