//! `pause` at run time: a timed wait on tokio's clock, or a person's approval on a terminal.

use std::io::IsTerminal;

use plans::steps::pause::Wait;

use crate::events::Event;
use crate::steps::{StepEnv, StepError};

/// Waits as the step says.
pub async fn apply(step: &str, wait: Wait, env: &StepEnv) -> Result<(), StepError> {
    match wait {
        Wait::Duration(d) => {
            env.events.emit(Event::StepProgress {
                step: step.to_owned(),
                message: format!("pausing for {d}"),
                updated: None,
            });
            tokio::time::sleep(d.to_std()).await;
            Ok(())
        }
        Wait::Manual => approve(step).await,
    }
}

async fn approve(step: &str) -> Result<(), StepError> {
    if !std::io::stdin().is_terminal() {
        return Err(StepError(format!(
            "step `{step}` waits for manual approval, but stdin is not a terminal; run planrun apply interactively"
        )));
    }
    let step = step.to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        eprint!("step `{step}` waits for approval. Continue? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| StepError(e.to_string()))?
    .map_err(|e| StepError(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(StepError("not approved".into())) }
}
