//! `run` at run time: a command on this machine, with an optional undo command.

use std::process::Stdio;

use plans::steps::Run;

use crate::events::Event;
use crate::steps::{StepEnv, StepError};

/// Runs the command; records its undo command first, if it has one.
pub async fn apply(step: &str, run: &Run, env: &StepEnv) -> Result<(), StepError> {
    if !run.undo.is_empty() {
        let undo: Vec<&str> = run.undo.iter().map(|a| a.value.as_str()).collect();
        env.events.emit(Event::StepRecorded { step: step.to_owned(), undo: serde_json::json!({ "command": undo }) });
    }
    let argv: Vec<&str> = run.command.iter().map(|a| a.value.as_str()).collect();
    exec(&argv, run.timeout.to_std()).await
}

/// Runs the recorded undo command.
pub async fn undo(record: &serde_json::Value) -> Result<(), StepError> {
    let argv: Vec<&str> =
        record["command"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    if argv.is_empty() {
        return Err(StepError("the journal's undo record has no command".into()));
    }
    exec(&argv, std::time::Duration::from_secs(600)).await
}

async fn exec(argv: &[&str], timeout: std::time::Duration) -> Result<(), StepError> {
    let (program, args) = argv.split_first().ok_or_else(|| StepError("empty command".into()))?;
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| StepError(format!("cannot start `{program}`: {e}")))?;
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(out) => out.map_err(|e| StepError(format!("`{program}` failed: {e}")))?,
        Err(_) => {
            return Err(StepError(format!(
                "`{}` ran longer than {}s and was killed",
                argv.join(" "),
                timeout.as_secs()
            )));
        }
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
    Err(StepError(format!("`{}` exited with {}: {}", argv.join(" "), output.status, tail.join(" / "))))
}
