//! `planrun rollback`: undo what a stack's last run left changed, from the state the swarm
//! keeps of it (or a journal).

use std::process::ExitCode;

use std::sync::Arc;

use crate::cli::apply::{finish_notifying, output_sinks, rollback_command};
use crate::cli::args::{OutputFormat, RollbackArgs};
use crate::cli::{EXIT_INVALID, EXIT_STOPPED, refusal_code, run_async, seams_without_a_plan, signals, summary};
use crate::events::{Events, Refusal, RunOutcome};
use crate::executor::{Interrupts, Report};
use crate::notify;
use crate::session::{self, Refused, RollbackRequest};

/// Runs `planrun rollback`.
pub fn rollback(a: RollbackArgs) -> ExitCode {
    run_async(rollback_async(a))
}

async fn rollback_async(a: RollbackArgs) -> ExitCode {
    let output = Events::new(output_sinks(a.output));
    let said = |refused: Refused| {
        // Under --output json the event is on stdout; people reading stderr still get it.
        // The other outputs have said it already, from the refusal event.
        if a.output == OutputFormat::Json {
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
    // Notifications: `rollback` has no plan, so only the targets of planrun.toml's environment.
    let notifier = match notifier(&a).await {
        Ok(n) => n,
        Err(problems) => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            eprintln!("error: preflight found problems with the environment's notifications: nothing was changed");
            return ExitCode::from(refusal_code(Refusal::Preflight));
        }
    };
    let output = match &notifier {
        Some(n) => Events::new(vec![Box::new(output), Box::new(n.clone())]),
        None => output,
    };
    let interrupts = Interrupts::default();
    signals::watch(interrupts.clone());
    let cluster = seams.cluster.clone();
    let done = session::rollback(request, seams, output, interrupts).await;
    finish_notifying(notifier.as_deref(), done.as_ref().ok().and_then(|d| d.journal.as_deref())).await;
    let done = match done {
        Ok(done) => done,
        Err(refused) => return said(refused),
    };
    // A watch of the run just undone has nothing left to watch.
    if done.outcome == RunOutcome::RolledBack
        && let Ok(Some(watch)) = crate::watch::running(cluster.as_ref(), a.stack()).await
        && watch.run_id == done.run_id
    {
        match crate::watch::stop(cluster.as_ref(), a.stack()).await {
            Ok(_) => eprintln!("stopped the watch of run {}: the run is undone", done.run_id),
            Err(e) => eprintln!("warning: cannot stop the watch of run {}: {e}", done.run_id),
        }
    }
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

/// The notifier for the targets of planrun.toml's environment, if it names any.
async fn notifier(a: &RollbackArgs) -> Result<Option<Arc<notify::Notifier>>, Vec<String>> {
    let Some((name, environment, dir)) =
        crate::cli::project_environment_at(a.env.as_deref(), a.project.as_deref()).map_err(|e| vec![e])?
    else {
        return Ok(None);
    };
    if environment.notify.is_empty() {
        return Ok(None);
    }
    let targets = notify::resolve_with_environment(&[], &dir, Some((&name, &environment.notify, &dir))).await?;
    let commands = notify::Commands {
        promote: String::new(),
        rollback: rollback_command(a.stack(), &a.state_dir, a.env.as_deref(), a.project.as_deref()),
    };
    let notifier = notify::Notifier::start(targets, Arc::new(notify::Http::new()), commands);
    notifier.about(a.stack(), "planrun rollback");
    Ok(Some(notifier))
}
