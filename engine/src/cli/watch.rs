//! `planrun watch STACK --stop` ends the watch a release left running; `planrun watch STACK
//! --run RUN` is that watch (what the `planrun-watch-STACK` service runs).

use std::process::ExitCode;

use crate::cli::apply::output_sinks;
use crate::cli::args::{OutputFormat, WatchArgs};
use crate::cli::{EXIT_INVALID, EXIT_USAGE, fail, run_async, swarm_of};
use crate::events::Events;
use crate::watch;

/// Runs `planrun watch`.
pub fn watch(a: WatchArgs) -> ExitCode {
    run_async(async move {
        let cluster = match swarm_of(a.env.as_deref(), a.project.as_deref()).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let stack = &a.stack;
        if a.stop {
            return match watch::stop(cluster.as_ref(), stack).await {
                Ok(Some(run)) => {
                    eprintln!("stopped the watch of `{stack}` (run {run}): its gates are judged no more");
                    ExitCode::SUCCESS
                }
                // Nothing to stop is what was asked for: the stack is not watched.
                Ok(None) => {
                    eprintln!("no watch runs on `{stack}`: nothing to stop");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(EXIT_USAGE, format!("cannot remove the watch of `{stack}`: {e}")),
            };
        }
        let Some(run) = &a.run else {
            return fail(EXIT_USAGE, format!("say what to do: `planrun watch {stack} --stop` ends its watch"));
        };
        // Plain lines: the service's log (`docker service logs planrun-watch-STACK`) is read as text.
        let events = Events::new(output_sinks(OutputFormat::Plain));
        let say = |line: String| eprintln!("{line}");
        match watch::judge::watch(cluster, stack, run, events, &say).await {
            Ok(ended) => {
                let why = ended.reason.map(|r| format!(": {r}")).unwrap_or_default();
                eprintln!("the watch of run {run} ended {}{why}", ended.end.as_str());
                ExitCode::SUCCESS
            }
            // The service's restart policy (on failure) tries again.
            Err(e) => fail(EXIT_INVALID, e),
        }
    })
}
