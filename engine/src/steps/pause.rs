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
                ctx.waiting(format!("pausing for {}", clock::seconds(d.to_std())), d.to_std());
                tokio::time::sleep(d.to_std()).await;
                Ok(())
            }
            Wait::Manual => {
                let question = format!("step `{}` waits for approval: go on?", ctx.step);
                let answer = match self.timeout.map(|t| t.to_std()) {
                    Some(after) => match tokio::time::timeout(after, ctx.ask(&question)).await {
                        Ok(answer) => answer,
                        Err(_) => Err(crate::approval::AskError::Timeout { after }),
                    },
                    None => ctx.ask(&question).await,
                };
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
            Wait::Manual => match self.timeout {
                Some(t) => format!("waits for a person to approve, at most {t}"),
                None => "waits for a person to approve".into(),
            },
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::approval::ScriptedApprover;
    use crate::events::RunOutcome;
    use crate::executor::{Executor, Interrupts, Report};
    use crate::simulation::Simulation;

    /// A manual pause with `timeout`, answered (yes) by a person after `after`; with the time
    /// the run took on tokio's clock.
    async fn run(timeout: &str, after: Duration) -> (Report, Duration) {
        let mut sim = Simulation::new();
        sim.approver = ScriptedApprover { after, approved: true };
        let ctx = sim.context("shop", "r-pause", Vec::new());
        let plan = format!("plan p {{\n    stack shop\n    pause sign-off manual{timeout}\n}}\n");
        let (plan, graph) = Simulation::plan(&plan);
        let executor = Executor { ctx, parallelism: 1, interrupts: Interrupts::default() };
        let started = tokio::time::Instant::now();
        let report = executor.run(&plan, &graph, &Arc::new(".".into())).await;
        (report, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_manual_pause_fails_when_nobody_answers_within_its_timeout() {
        let (report, took) = run(" timeout=\"4h\"", Duration::from_secs(5 * 3600)).await;
        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        let reason = report.reason.unwrap_or_default();
        assert!(reason.contains("nobody answered within the pause's timeout (4h)"), "{reason}");
        assert_eq!(took.as_secs(), 4 * 3600, "it gave up at the timeout, not when the person came");

        let (answered, took) = run(" timeout=\"4h\"", Duration::from_secs(3600)).await;
        assert_eq!(answered.outcome, RunOutcome::Succeeded, "{answered:?}");
        assert_eq!(took.as_secs(), 3600);
        let (untimed, took) = run("", Duration::from_secs(30 * 3600)).await;
        assert_eq!(untimed.outcome, RunOutcome::Succeeded, "without a timeout it waits as long as it takes");
        assert_eq!(took.as_secs(), 30 * 3600);
    }
}
