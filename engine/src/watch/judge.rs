//! What runs inside the watch service (`planrun watch STACK --run RUN`): read the watch
//! from the run state, judge its gates round after round (the same code as `apply`, waiting on
//! tokio's clock) until the window ends or a gate does not pass, then undo the run as `planrun
//! rollback` does (or only record the regression), record how the watch ended, and remove the
//! service.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use plans::model::OnRegression;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::events::{Events, RunOutcome};
use crate::executor::Interrupts;
use crate::gates::{self, LiveProbe, Verdict};
use crate::run_state::{self, Entry, RunState, WatchEnd};
use crate::session::{self, RollbackRequest, Seams};

/// The least time between the starts of two rounds (gates of one quick measurement would
/// otherwise ask as fast as they answer).
const ROUND_GAP: Duration = Duration::from_secs(1);

/// How a watch ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// How.
    pub end: WatchEnd,
    /// Why, when a gate did not pass or undoing failed.
    pub reason: Option<String>,
}

/// Watches run `run_id` of `stack` as its `Entry::Watching` says, records the end and removes
/// the watch service. An error is a watch that could not run at all (its entry is missing or
/// unreadable), which the service's restart policy tries again.
pub async fn watch(
    cluster: Arc<dyn Cluster>,
    stack: &str,
    run_id: &str,
    events: Events,
    say: &(dyn Fn(String) + Send + Sync),
) -> Result<Ended, String> {
    let run = run_state::run(cluster.as_ref(), stack, run_id)
        .await
        .map_err(|e| format!("cannot read run {run_id} of {stack}: {e}"))?
        .ok_or_else(|| format!("the swarm keeps no run {run_id} of stack {stack}"))?;
    let watching = run.entries.iter().rev().find_map(|e| match e {
        Entry::Watching { until, gates, on_regression, prometheus } => {
            Some((until.clone(), gates.0.clone(), *on_regression, prometheus.clone()))
        }
        _ => None,
    });
    let Some((until, gates, on_regression, prometheus)) = watching else {
        return Err(format!("run {run_id} of {stack} records no watch"));
    };
    // A task started again after the watch recorded its end (it died while removing itself).
    if let Some(ended) = run.entries.iter().find_map(|e| match e {
        Entry::Watched { end, reason, .. } => Some(Ended { end: *end, reason: reason.clone() }),
        _ => None,
    }) {
        remove_self(cluster.as_ref(), stack, say).await;
        return Ok(ended);
    }
    let until_at = humantime::parse_rfc3339_weak(&until).map_err(|e| format!("the watch's end {until:?}: {e}"))?;
    let left = until_at.duration_since(SystemTime::now()).unwrap_or_default();
    let deadline = Instant::now() + left;
    say(format!("watching run {run_id} of {stack} until {until}: gates {}", names(&gates)));

    let probe = LiveProbe::new(cluster.clone(), prometheus, Arc::new(crate::commands::LocalCommands));
    let declared: Vec<&plans::model::Gate> = gates.iter().collect();
    let mut rounds = 0u64;
    let regression = loop {
        let started = Instant::now();
        if started >= deadline {
            break None;
        }
        let judged = tokio::time::timeout_at(
            deadline,
            gates::judge_until_failure(&declared, "watch", Path::new("/"), &probe, &events),
        )
        .await;
        // The window ended during the round: nothing failed within it.
        let Ok(reports) = judged else { break None };
        rounds += 1;
        let bad: Vec<&gates::GateReport> = reports.iter().filter(|r| r.verdict != Verdict::Passed).collect();
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let summary = reports.iter().map(|r| format!("{}: {} ({})", r.gate, r.verdict, r.summary)).collect::<Vec<_>>();
        let last = super::verdict::Last {
            verdict: bad.first().map_or(Verdict::Passed, |r| r.verdict).to_string(),
            at: at.clone(),
            summary: summary.join("; "),
            rounds,
        };
        if let Err(e) = super::verdict::write(cluster.as_ref(), stack, &last).await {
            say(format!("warning: cannot record the watch's last verdict: {e}"));
        }
        if !bad.is_empty() {
            let reason = bad.iter().map(|r| format!("gate `{}` {}: {}", r.gate, r.verdict, r.summary)).collect();
            break Some((reason, at));
        }
        say(format!("round {rounds}: every gate passed"));
        tokio::time::sleep_until((started + ROUND_GAP).min(deadline)).await;
    };

    let (ended, regression_at) = match regression {
        None => {
            say("the window ended: every gate kept passing".to_string());
            (Ended { end: WatchEnd::Passed, reason: None }, None)
        }
        Some((reasons, at)) => {
            let reasons: Vec<String> = reasons;
            let reason = reasons.join("; ");
            say(format!("regression at {at}: {reason}"));
            let ended = match on_regression {
                OnRegression::Notify => Ended { end: WatchEnd::Regressed, reason: Some(reason) },
                OnRegression::Rollback => undo(cluster.clone(), stack, run_id, reason, events.clone()).await,
            };
            (ended, Some(at))
        }
    };
    // Read again: the rollback added entries to the run.
    let next = match run_state::run(cluster.as_ref(), stack, run_id).await {
        Ok(Some(run)) => run.next_seq,
        _ => run.next_seq,
    };
    let entry = Entry::Watched {
        end: ended.end,
        reason: ended.reason.clone(),
        regression_at,
        at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    };
    if let Err(e) = RunState::new(cluster.clone(), stack, run_id, next).write(&entry).await {
        say(format!("warning: cannot record in the swarm how the watch ended: {e}"));
    }
    say(format!("watch ended: {}", ended.end.as_str()));
    remove_self(cluster.as_ref(), stack, say).await;
    Ok(ended)
}

/// Undoes the run as `planrun rollback STACK --run RUN` does.
async fn undo(cluster: Arc<dyn Cluster>, stack: &str, run_id: &str, reason: String, events: Events) -> Ended {
    let request = RollbackRequest {
        stack: stack.to_owned(),
        journal: None,
        run: Some(run_id.to_owned()),
        // No journal of the run is on this node; none is looked for or written here.
        state_dir: PathBuf::from("/tmp/planrun"),
    };
    let seams = Seams::live(cluster, None, None, None);
    match session::rollback(request, seams, events, Interrupts::default()).await {
        Ok(done) if done.outcome == RunOutcome::RolledBack => Ended { end: WatchEnd::RolledBack, reason: Some(reason) },
        Ok(done) => {
            let why = done.reason.unwrap_or_else(|| format!("the rollback ended {:?}", done.outcome));
            Ended { end: WatchEnd::RollbackFailed, reason: Some(format!("{reason}; undoing: {why}")) }
        }
        Err(refused) => {
            Ended { end: WatchEnd::RollbackFailed, reason: Some(format!("{reason}; undoing: {}", refused.message)) }
        }
    }
}

/// Removes the watch service (this process's own container goes with it) and its verdict.
async fn remove_self(cluster: &dyn Cluster, stack: &str, say: &(dyn Fn(String) + Send + Sync)) {
    if let Err(e) = super::stop(cluster, stack).await {
        say(format!("warning: cannot remove the watch service: {e}"));
    }
}

fn names(gates: &[plans::model::Gate]) -> String {
    gates.iter().map(|g| g.name.value.as_str()).collect::<Vec<_>>().join(" ")
}
