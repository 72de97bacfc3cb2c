//! `planrun repair STACK`: finds what runs that died (a CI runner lost, a SIGKILL) or were
//! stopped left on a stack, and finishes it from the swarm alone, on any machine:
//!
//! - a run that died or was stopped with changes in place (a canary still serving, a half
//!   switch, a service mid-rollout) is undone, as `planrun rollback --run` would (taking over
//!   its lock);
//! - what such runs left beside their undo records (one-off job services and the SQL configs
//!   they read, a canary whose record was collected) is removed;
//! - old blue-green colours whose keep-old has passed are scaled to 0;
//! - what needs a person (a paused run, a failed rollback) is named with the one command that
//!   resolves it.
//!
//! A stack whose lock holder is alive is refused: it is not broken, it is busy.

use std::sync::Arc;
use std::time::SystemTime;

use crate::cluster::{Cluster, ClusterError};
use crate::database::service::{LeftByRun, left_by};
use crate::events::{Events, Refusal, RunOutcome};
use crate::executor::Interrupts;
use crate::lock::{self, Holder, Lock, LockError};
use crate::run_state::{self, StoredRun};
use crate::services;
use crate::session::{self, Refused, RollbackRequest, Seams};
use crate::steps::blue_green;
use crate::steps::canary::{CANARY_OF, RUN_ID, STACK};

/// One thing repair found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// What it is.
    pub what: String,
    /// What repair did about it (or would, with `--dry-run`), if anything.
    pub done: Option<String>,
    /// The command a person runs to resolve it, when repair leaves it to a person.
    pub command: Option<String>,
}

/// What `planrun repair` needs.
pub struct RepairRequest {
    /// The stack.
    pub stack: String,
    /// Where journals are kept (rollback adds to one when this machine has it).
    pub state_dir: std::path::PathBuf,
    /// Only say what would be done.
    pub dry_run: bool,
}

/// What repair found and did; `Err` when it could not look at all.
pub async fn repair(
    request: RepairRequest,
    seams: Seams,
    output: Events,
    interrupts: Interrupts,
) -> Result<Vec<Finding>, Refused> {
    let cluster = seams.cluster.clone();
    let stack = request.stack.as_str();
    let refuse = |refusal, message: String| Refused::emit(refusal, message, Vec::new(), &output);
    let unavailable =
        |e: &dyn std::fmt::Display| refuse(Refusal::DockerUnavailable, format!("cannot read `{stack}`: {e}"));
    let holder = lock::current(cluster.as_ref(), stack).await.map_err(|e| unavailable(&e))?.map(|(_, h)| h);
    if let Some(h) = holder.as_ref().filter(|h| !h.is_dead(SystemTime::now())) {
        let message = format!(
            "stack `{stack}` is locked by {}, which is alive: nothing to repair while it runs",
            h.describe(SystemTime::now())
        );
        return Err(refuse(Refusal::Locked, message));
    }
    let runs = run_state::runs(cluster.as_ref(), stack).await.map_err(|e| unavailable(&e))?;
    let mut findings = Vec::new();
    let rollback = |run: &str| format!("planrun rollback {stack} --run {run}");

    // Runs that ended mid-way with changes in place: undone now, newest first.
    let (to_undo, for_a_person): (Vec<&StoredRun>, Vec<&StoredRun>) = runs
        .iter()
        .filter(|r| !r.pending().is_empty())
        .filter(|r| !matches!(r.finished.as_ref().map(|f| f.0), Some(RunOutcome::Succeeded | RunOutcome::RolledBack)))
        .partition(|r| matches!(r.finished.as_ref().map(|f| f.0), None | Some(RunOutcome::Stopped)));
    for run in &for_a_person {
        let how = run.finished.as_ref().map(|f| f.0.word()).unwrap_or("?");
        let left: Vec<String> = run.pending().iter().map(|(s, u)| format!("{s}: {}", u.describe())).collect();
        findings.push(Finding {
            what: format!("run {} ended {how} with changes in place ({})", run.run_id, left.join("; ")),
            done: None,
            command: Some(format!("{} (or fix the cause and `planrun apply` again)", rollback(&run.run_id))),
        });
    }
    for run in &to_undo {
        let how = match run.finished.as_ref() {
            None => "died (no end recorded)",
            Some(_) => "was stopped",
        };
        let left: Vec<String> = run.pending().iter().map(|(s, u)| format!("{s}: {}", u.describe())).collect();
        let what = format!("run {} {how} with changes in place ({})", run.run_id, left.join("; "));
        if request.dry_run {
            findings.push(Finding { what, done: Some("would undo them".into()), command: None });
            continue;
        }
        let undo = RollbackRequest {
            stack: stack.to_owned(),
            journal: None,
            run: Some(run.run_id.clone()),
            state_dir: request.state_dir.clone(),
        };
        match session::rollback(undo, seams.clone(), output.clone(), interrupts.clone()).await {
            Ok(done) if done.outcome == RunOutcome::RolledBack => {
                findings.push(Finding { what, done: Some("undone".into()), command: None })
            }
            Ok(done) => {
                findings.push(Finding {
                    what,
                    done: Some(format!("undoing {}: {}", done.outcome.word(), done.reason.unwrap_or_default())),
                    command: Some(rollback(&run.run_id)),
                });
                return Ok(findings);
            }
            Err(refused) => {
                findings.push(Finding { what, done: Some(format!("not undone: {}", refused.message)), command: None });
                return Ok(findings);
            }
        }
    }

    // What dead runs left beside their records, under the stack's lock.
    let lock = if request.dry_run {
        None
    } else {
        let holder = Holder::this_process(&session::new_run_id());
        let stale = lock::current(cluster.as_ref(), stack)
            .await
            .ok()
            .flatten()
            .filter(|(_, h)| h.is_dead(SystemTime::now()))
            .map(|(_, h)| h.run_id)
            .unwrap_or_default();
        match Lock::acquire_or_take_over(cluster.clone(), stack, holder, &stale).await {
            Ok(lock) => {
                if !stale.is_empty() {
                    findings.push(Finding {
                        what: format!("the deploy lock of run {stale}, which is over"),
                        done: Some("removed".into()),
                        command: None,
                    });
                }
                Some(lock)
            }
            Err(e @ LockError::Held { .. }) => return Err(refuse(Refusal::Locked, e.to_string())),
            Err(e) => return Err(unavailable(&e)),
        }
    };
    let runs_of_stack: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    let undone: Vec<&str> = to_undo.iter().map(|r| r.run_id.as_str()).collect();
    let left = leftovers(cluster.as_ref(), stack, &runs_of_stack).await.map_err(|e| unavailable(&e))?;
    // A dry run has already said that undoing a run removes its canary.
    let left = left
        .into_iter()
        .filter(|l| !(request.dry_run && matches!(l, Leftover::Canary { run, .. } if undone.contains(&run.as_str()))));
    for leftover in left {
        let done = if request.dry_run {
            "would remove it".to_owned()
        } else {
            match leftover.remove(cluster.clone()).await {
                Ok(()) => "removed".to_owned(),
                Err(e) => format!("could not remove it: {e}"),
            }
        };
        findings.push(Finding { what: leftover.describe(), done: Some(done), command: None });
    }
    if !request.dry_run {
        match blue_green::retire_due(cluster.as_ref(), stack, SystemTime::now()).await {
            Ok(retired) => findings.extend(retired.into_iter().map(|name| Finding {
                what: format!("old colour {name}, its keep-old passed"),
                done: Some("scaled to 0".into()),
                command: None,
            })),
            Err(e) => findings.push(Finding {
                what: format!("old colours could not be retired: {e}"),
                done: None,
                command: Some(format!("planrun finish {stack}")),
            }),
        }
    }
    if let Some(lock) = lock {
        let _ = lock.release().await;
    }
    Ok(findings)
}

/// Something a dead run left that has no undo record.
enum Leftover {
    /// A canary service of the stack whose run is over.
    Canary { name: String, id: String, run: String },
    /// A one-off job service of a run of the stack, or the SQL script config of one.
    Job(LeftByRun),
}

impl Leftover {
    fn describe(&self) -> String {
        match self {
            Leftover::Canary { name, run, .. } => format!("canary {name} of run {run}, which is over"),
            Leftover::Job(job) => format!("{}, which is over", job.describe()),
        }
    }

    async fn remove(&self, cluster: Arc<dyn Cluster>) -> Result<(), String> {
        match self {
            Leftover::Canary { id, .. } => services::remove(cluster.as_ref(), id).await.map_err(|e| e.to_string()),
            Leftover::Job(job) => job.remove(cluster).await,
        }
    }
}

/// Canaries of the stack, and job services and script configs of its runs (`runs`); the lock
/// is held, so no run of the stack is alive.
async fn leftovers(cluster: &dyn Cluster, stack: &str, runs: &[&str]) -> Result<Vec<Leftover>, ClusterError> {
    let mut found = Vec::new();
    for service in cluster.services(CANARY_OF).await? {
        let labels = service.spec.as_ref().and_then(|s| s.labels.clone()).unwrap_or_default();
        if labels.get(STACK).map(String::as_str) == Some(stack) {
            found.push(Leftover::Canary {
                name: services::name_of(&service),
                id: service.id.clone().unwrap_or_default(),
                run: labels.get(RUN_ID).cloned().unwrap_or_else(|| "?".into()),
            });
        }
    }
    found.extend(left_by(cluster, runs).await?.into_iter().map(Leftover::Job));
    Ok(found)
}
