//! `run` at run time: a command on this machine, with an optional undo command.

use async_trait::async_trait;
use plans::steps::Run;

use super::LiveFacts;
use super::{Behavior, Findings, StepError};
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::commands::{self, Command};
use crate::context::{RunContext, StepContext};
use crate::events::StepOutcome;
use crate::events::UndoOutcome;
use crate::undo::{RunUndo, Undo};

/// How long an undo command may run when its record does not say.
const UNDO_TIMEOUT_MS: u64 = 600_000;

#[async_trait]
impl Behavior for Run {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let mut findings = Findings::default();
        for (what, argv) in [("command", &self.command), ("undo command", &self.undo)] {
            if let Some(program) = argv.first()
                && !ctx.run.commands.can_start(&program.value)
            {
                findings.problems.push(format!(
                    "the {what}'s program `{}` is not an executable file or a program on PATH",
                    program.value
                ));
            }
        }
        findings
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        if !self.undo.is_empty() {
            ctx.record(Undo::Run(RunUndo {
                command: self.undo.iter().map(|a| a.value.clone()).collect(),
                timeout_ms: self.timeout.as_millis(),
            }))
            .await?;
        }
        let argv: Vec<String> = self.command.iter().map(|a| a.value.clone()).collect();
        exec(ctx.run.commands.as_ref(), Command { argv, timeout: self.timeout.to_std() }).await
    }

    fn preview(&self) -> Vec<String> {
        let argv: Vec<String> = self.command.iter().map(|a| a.value.clone()).collect();
        vec![format!("runs `{}`", crate::commands::display(&argv))]
    }

    async fn live(&self, _cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        Ok(LiveFacts::default())
    }

    fn drill(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn drilled(&self, _finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        None
    }
}

/// Runs the recorded undo command.
pub async fn undo(record: &RunUndo, ctx: &RunContext) -> Result<(), StepError> {
    let timeout_ms = if record.timeout_ms == 0 { UNDO_TIMEOUT_MS } else { record.timeout_ms };
    let command = Command { argv: record.command.clone(), timeout: std::time::Duration::from_millis(timeout_ms) };
    exec(ctx.commands.as_ref(), command).await
}

async fn exec(commands: &dyn commands::Commands, command: Command) -> Result<(), StepError> {
    let finished = commands.run(&command).await?;
    if finished.success() {
        return Ok(());
    }
    Err(StepError::CommandFailed {
        command: command.display(),
        status: finished.status(),
        output: finished.output_tail(),
    })
}
