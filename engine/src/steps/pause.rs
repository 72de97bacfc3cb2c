//! `pause` at run time: a timed wait on tokio's clock, or a person's approval, asked through
//! the run's approver (a terminal prompt, `planrun promote`/`abort` from anywhere).

use async_trait::async_trait;
use plans::steps::Pause;
use plans::steps::pause::Wait;

use super::LiveFacts;
use super::{Behavior, Findings, StepError};
use crate::clock;
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::StepContext;
use crate::events::StepOutcome;
use crate::events::UndoOutcome;

#[async_trait]
impl Behavior for Pause {
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
                match answer? {
                    answer if answer.approved => Ok(()),
                    answer => Err(StepError::NotApproved { by: answer.by }),
                }
            }
        }
    }

    fn preview(&self) -> Vec<String> {
        vec![match &self.wait {
            Wait::Duration(d) => format!("waits {d}"),
            Wait::Manual => "waits for a person to approve".into(),
        }]
    }

    async fn live(&self, _cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        Ok(LiveFacts::default())
    }

    fn drill(&self) -> Result<(), &'static str> {
        match self.wait {
            Wait::Manual => Ok(()),
            Wait::Duration(_) => Err("a timed pause cannot fail; name a gate, a service step or a manual pause"),
        }
    }

    fn drilled(&self, _finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        None
    }
}
