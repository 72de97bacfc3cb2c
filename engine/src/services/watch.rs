//! Watching a new release's tasks for failure, from the first new task until the step's last
//! gate has passed.
//!
//! Swarm's update state cannot say whether a release stayed healthy: a task that dies after
//! its `monitor` window (an image healthy for its first seconds, say) leaves the update
//! `completed`, and Swarm then restarts it quietly. Only the tasks' history shows it. A
//! [`Watch`] looks at every task created since the step's write: a task of the new spec that
//! ended on its own (failed, rejected, complete, orphaned) or was stopped as unhealthy counts
//! against the release, whatever the update state says, and so does a task whose container its
//! health check calls unhealthy (Swarm still reports such a task `running` for a couple of
//! seconds before it stops it; planrun reads container health on the node it talks to). More
//! such tasks than the step's
//! `max-failure-ratio` allows (none by default) fails the step, naming each task and its own
//! error (for a task killed by its health check, the check's last output).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::TaskState;

use crate::cluster::{Cluster, SeenTask, TaskFacts};
use crate::services::failure::{Failure, TaskErrors};
use crate::services::pace::Pace;
use crate::services::target::{Baseline, Target};

/// How often tasks are looked at while gates run.
pub const POLL: Duration = Duration::from_millis(250);

/// A task's failure in its own words, if it ended by itself: its error, else its state and
/// exit code. `shutdown` is Swarm stopping a task on purpose (replaced, scaled down, rolled
/// back) and is not a failure.
pub fn failure_of(task: &impl TaskFacts) -> Option<String> {
    if !ended_by_itself(task) {
        return None;
    }
    let status = task.status()?;
    if let Some(err) = status.err.clone().filter(|e| !e.is_empty()) {
        return Some(err);
    }
    let state = status.state?;
    let exit = status.container_status.as_ref().and_then(|c| c.exit_code);
    let message = status.message.clone().filter(|m| !m.is_empty());
    Some(match (message, exit) {
        (Some(m), Some(code)) => format!("{state}: {m} (exit {code})"),
        (Some(m), None) => format!("{state}: {m}"),
        (None, Some(code)) => format!("{state} (exit {code})"),
        (None, None) => state.to_string(),
    })
}

/// Whether [`failure_of`] has something to say about `task`, without its words.
fn ended_by_itself(task: &impl TaskFacts) -> bool {
    let Some(status) = task.status() else { return false };
    status.err.as_deref().is_some_and(|e| !e.is_empty())
        || matches!(
            status.state,
            Some(TaskState::FAILED | TaskState::REJECTED | TaskState::COMPLETE | TaskState::ORPHANED)
        )
}

/// `web.2` for a replicated task, `agent.NODE` for a global one (as `docker service ps` names
/// them), else its short id.
pub fn task_name(service: &str, task: &impl TaskFacts) -> String {
    match (task.slot(), task.node_id().filter(|n| !n.is_empty()), task.id()) {
        (Some(slot), _, _) if slot > 0 => format!("{service}.{slot}"),
        (_, Some(node), _) => format!("{service}.{node}"),
        (_, _, Some(id)) => format!("{service} task {}", id.chars().take(12).collect::<String>()),
        _ => service.to_owned(),
    }
}

/// The failures of one release's tasks, counted across polls.
#[derive(Debug, Clone)]
pub struct Watch {
    target: Target,
    before: HashSet<String>,
    seen: HashSet<String>,
    allowed: u64,
    /// Every new task that failed, of any spec (for messages).
    pub errors: TaskErrors,
    /// New tasks of the target spec that failed.
    pub failed: TaskErrors,
}

impl Watch {
    /// Watches the tasks created after `baseline` was taken; `allowed` failures of the target
    /// spec are tolerated (`max-failure-ratio` × replicas).
    pub fn new(target: &Target, baseline: &Baseline, allowed: u64) -> Watch {
        Watch {
            target: target.clone(),
            before: baseline.tasks.clone(),
            seen: HashSet::new(),
            allowed,
            errors: TaskErrors::default(),
            failed: TaskErrors::default(),
        }
    }

    /// The release watched.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether the task with this id was created after the watch's baseline (a task of this
    /// step's write, or of Swarm's work since).
    pub fn is_new(&self, task_id: &str) -> bool {
        !self.before.contains(task_id)
    }

    /// Failures the plan's `max-failure-ratio` tolerates for `replicas` tasks.
    pub fn allowance(max_failure_ratio: f64, replicas: u64) -> u64 {
        (max_failure_ratio * replicas as f64).floor().max(0.0) as u64
    }

    /// Takes in one task list and the tasks whose containers are unhealthy right now (task id,
    /// why); fails once more target tasks failed than allowed.
    pub fn observe(&mut self, tasks: &[Arc<SeenTask>], unhealthy: &[(String, String)]) -> Result<(), Failure> {
        for task in tasks {
            let id = task.id.as_deref().unwrap_or_default();
            // Most tasks at most looks have not failed: that is cheaper to see than whether
            // they are old or were counted already.
            let sick = unhealthy.iter().find(|(t, _)| t == id).map(|(_, why)| why);
            if sick.is_none() && !ended_by_itself(task) {
                continue;
            }
            if self.before.contains(id) || self.seen.contains(id) {
                continue;
            }
            let Some(message) = failure_of(task).or(sick.cloned()) else { continue };
            self.seen.insert(id.to_owned());
            let name = task_name(&self.target.service_name, task);
            if self.target.runs_on(task) {
                self.failed.add(message.clone(), name.clone());
            }
            self.errors.add(message, name);
        }
        if self.failed.count() as u64 > self.allowed {
            return Err(Failure::TasksFailed {
                service: self.target.service_name.clone(),
                image: self.target.image.clone(),
                failed: self.failed.clone(),
                allowed: self.allowed,
            });
        }
        Ok(())
    }

    /// One look at the service's tasks and its unhealthy containers. A poll that fails is not
    /// a verdict: the next one is.
    pub async fn check(&mut self, cluster: &dyn Cluster) -> Result<(), Failure> {
        let id = &self.target.service_id;
        match (cluster.shared_tasks(id).await, cluster.unhealthy(id).await) {
            (Ok(tasks), Ok(unhealthy)) => self.observe(&tasks, &unhealthy),
            (Ok(tasks), Err(_)) => self.observe(&tasks, &[]),
            _ => Ok(()),
        }
    }

    /// Runs `work` (the step's gates) while looking at the tasks each [`POLL`] after a change
    /// (see `pace.rs`); the first failure stops `work` at once. A last look after `work`
    /// finishes closes the window.
    pub async fn during<F: Future>(&mut self, cluster: &dyn Cluster, work: F) -> Result<F::Output, Failure> {
        Watch::during_all(cluster, std::slice::from_mut(self), work).await
    }

    /// [`Watch::during`] for several releases at once (a compose step's services), looked at
    /// together; the first failure, in their order, stops `work`.
    pub async fn during_all<F: Future>(
        cluster: &dyn Cluster,
        watches: &mut [Watch],
        work: F,
    ) -> Result<F::Output, Failure> {
        let ids: Vec<String> = watches.iter().map(|w| w.target.service_id.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut pace = Pace::new(&ids, POLL);
        pace.look(cluster).await;
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => {
                    for watch in watches.iter_mut() {
                        watch.check(cluster).await?;
                    }
                    return Ok(output);
                }
                _ = pace.next(cluster, None) => {
                    pace.look(cluster).await;
                    for watch in watches.iter_mut() {
                        watch.check(cluster).await?;
                    }
                }
            }
        }
    }
}
