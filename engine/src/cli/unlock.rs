//! `planrun unlock STACK --force RUN`: remove a deploy lock left by a run that died.

use std::process::ExitCode;

use crate::cli::args::UnlockArgs;
use crate::cli::{EXIT_INVALID, EXIT_USAGE, fail, run_async, swarm_of};
use crate::lock;

/// Runs `planrun unlock`.
pub fn unlock(a: UnlockArgs) -> ExitCode {
    let Some(run) = a.force else {
        return fail(
            EXIT_USAGE,
            format!(
                "removing a deploy lock needs --force RUN, the run that holds it (`planrun status {}` shows it): \
                 first make sure that run is no longer alive",
                a.stack
            ),
        );
    };
    run_async(async move {
        let cluster = match swarm_of(a.env.as_deref(), a.project.as_deref()).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        match lock::force_unlock(cluster.as_ref(), &a.stack, &run).await {
            Ok(h) => {
                eprintln!("unlocked `{}` (was held by {} for run {} since {})", a.stack, h.holder, h.run_id, h.started);
                ExitCode::SUCCESS
            }
            Err(lock::LockError::NotHeld(s)) => {
                eprintln!("stack `{s}` is not locked");
                ExitCode::SUCCESS
            }
            Err(e) => fail(EXIT_INVALID, e),
        }
    })
}
