//! `pause` at run time: a timed wait on tokio's clock, or a person's approval, asked through
//! the run's approver (a terminal prompt, `planrun promote`/`abort` from anywhere).

use async_trait::async_trait;
use plans::steps::Pause;
use plans::steps::pause::Wait;

use super::{Behavior, Findings, StepError};
use crate::clock;
use crate::context::StepContext;

#[async_trait]
impl Behavior for Pause {
    fn supported(&self) -> Result<(), String> {
        Ok(())
    }

    async fn preflight(&self, _ctx: &StepContext) -> Findings {
        Findings::default()
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        match self.wait {
            Wait::Duration(d) => {
                ctx.progress(format!("pausing for {}", clock::seconds(d.to_std())));
                tokio::time::sleep(d.to_std()).await;
                Ok(())
            }
            Wait::Manual => {
                let answer = ctx.ask(&format!("step `{}` waits for approval: go on?", ctx.step)).await;
                match answer.map_err(StepError::CannotAsk)? {
                    answer if answer.approved => Ok(()),
                    answer => Err(StepError::NotApproved { by: answer.by }),
                }
            }
        }
    }
}
