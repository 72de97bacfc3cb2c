//! `planrun promote STACK` and `planrun abort STACK`: answer the run that waits for approval,
//! from any shell or machine that reaches the swarm.

use std::process::ExitCode;

use crate::approval::{self, AnswerError};
use crate::cli::args::AnswerArgs;
use crate::cli::{EXIT_INVALID, EXIT_USAGE, fail, run_async, swarm_of};
use crate::lock::Holder;
use crate::session;

/// Runs `planrun promote` (`approved`) or `planrun abort`.
pub fn answer(a: AnswerArgs, approved: bool) -> ExitCode {
    run_async(async move {
        let cluster = match swarm_of(a.env.as_deref(), a.project.as_deref()).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let by = Holder::this_process(&session::new_run_id());
        match approval::answer(cluster.as_ref(), &a.stack, approved, &by).await {
            Ok((run_id, step)) => {
                let verb = if approved { "approved" } else { "aborted" };
                eprintln!("{verb} step `{step}` of run {run_id} on stack `{}`", a.stack);
                ExitCode::SUCCESS
            }
            Err(e @ AnswerError::Cluster(_)) => fail(EXIT_USAGE, e),
            Err(e) => fail(EXIT_INVALID, e),
        }
    })
}
