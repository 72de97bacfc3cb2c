//! `planrun rollback`: undo what a stack's last run left changed, from the state the swarm
//! keeps of it (or a journal).

use std::process::ExitCode;

use crate::cli::apply::{output_sinks, rollback_command};
use crate::cli::args::{OutputFormat, RollbackArgs};
use crate::cli::{EXIT_INVALID, EXIT_STOPPED, refusal_code, run_async, seams_without_a_plan, signals, summary};
use crate::events::{Events, Refusal, RunOutcome};
use crate::executor::{Interrupts, Report};
use crate::session::{self, Refused, RollbackRequest};

/// Runs `planrun rollback`.
pub fn rollback(a: RollbackArgs) -> ExitCode {
    run_async(rollback_async(a))
}

async fn rollback_async(a: RollbackArgs) -> ExitCode {
    let output = Events::new(output_sinks(a.output));
    let said = |refused: Refused| {
        // Under --output json the event is on stdout; people reading stderr still get it.
        if a.output == OutputFormat::Json || refused.refusal == Refusal::NothingToDo {
            eprintln!("{}{}", if refused.refusal == Refusal::NothingToDo { "" } else { "error: " }, refused.message);
        }
        ExitCode::from(refusal_code(refused.refusal))
    };
    let request = RollbackRequest {
        stack: a.stack().to_owned(),
        journal: a.journal.clone(),
        run: a.run.clone(),
        state_dir: a.state_dir.clone(),
    };
    let seams = match seams_without_a_plan(a.env.as_deref(), a.project.as_deref(), &output).await {
        Ok(seams) => seams,
        Err(refused) => return said(refused),
    };
    let interrupts = Interrupts::default();
    signals::watch(interrupts.clone());
    let done = match session::rollback(request, seams, output, interrupts).await {
        Ok(done) => done,
        Err(refused) => return said(refused),
    };
    let did = if done.outcome == RunOutcome::RolledBack { "undid" } else { "tried to undo" };
    match &done.journal {
        Some(journal) => eprintln!("{did} run {} (journal {})", done.run_id, journal.display()),
        None => eprintln!("{did} run {} (from the state the swarm keeps; no journal of it here)", done.run_id),
    }
    let report = Report { outcome: done.outcome, reason: done.reason.clone(), left: done.left.clone() };
    let again = rollback_command(a.stack(), &a.state_dir, a.env.as_deref(), a.project.as_deref());
    if let Some(next) = summary::next_steps(&report, a.stack(), &again, done.lost_lock) {
        eprint!("{next}");
    }
    match done.outcome {
        RunOutcome::RolledBack | RunOutcome::Succeeded => ExitCode::SUCCESS,
        RunOutcome::Stopped => ExitCode::from(EXIT_STOPPED),
        RunOutcome::RollbackFailed | RunOutcome::Paused => ExitCode::from(EXIT_INVALID),
    }
}
