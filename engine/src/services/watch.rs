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
use std::fmt;
use std::future::Future;
use std::time::Duration;

use bollard::models::{Task, TaskState};

use crate::cluster::Cluster;
use crate::services::convergence::{Baseline, Failure, Target};

/// How often tasks are looked at while gates run.
pub const POLL: Duration = Duration::from_millis(250);

/// The failed tasks seen, grouped by their error: (error, task names), first seen first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskErrors(pub Vec<(String, Vec<String>)>);

impl TaskErrors {
    /// Whether no task failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many failed tasks were seen.
    pub fn count(&self) -> usize {
        self.0.iter().map(|(_, names)| names.len()).sum()
    }

    fn add(&mut self, message: String, task: String) {
        match self.0.iter_mut().find(|(m, _)| *m == message) {
            Some((_, names)) => names.push(task),
            None => self.0.push((message, vec![task])),
        }
    }

    /// `; task errors: ...`, or nothing.
    pub fn suffix(&self) -> String {
        if self.is_empty() { String::new() } else { format!("; task errors: {self}") }
    }
}

impl fmt::Display for TaskErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 3;
        for (i, (message, names)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let mut unique: Vec<&String> = Vec::new();
            for name in names {
                if !unique.contains(&name) {
                    unique.push(name);
                }
            }
            let mut shown: Vec<String> = unique.iter().take(SHOWN).map(|n| n.to_string()).collect();
            if unique.len() > SHOWN {
                shown.push(format!("{} more", unique.len() - SHOWN));
            }
            let times = if names.len() > 1 { format!(" ×{}", names.len()) } else { String::new() };
            write!(f, "{message}{times} ({})", shown.join(", "))?;
        }
        Ok(())
    }
}

/// A task's failure in its own words, if it ended by itself: its error, else its state and
/// exit code. `shutdown` is Swarm stopping a task on purpose (replaced, scaled down, rolled
/// back) and is not a failure.
pub fn failure_of(task: &Task) -> Option<String> {
    let status = task.status.as_ref()?;
    let err = status.err.clone().unwrap_or_default();
    if !err.is_empty() {
        return Some(err);
    }
    let state = status.state?;
    if !matches!(state, TaskState::FAILED | TaskState::REJECTED | TaskState::COMPLETE | TaskState::ORPHANED) {
        return None;
    }
    let exit = status.container_status.as_ref().and_then(|c| c.exit_code);
    let message = status.message.clone().filter(|m| !m.is_empty());
    Some(match (message, exit) {
        (Some(m), Some(code)) => format!("{state}: {m} (exit {code})"),
        (Some(m), None) => format!("{state}: {m}"),
        (None, Some(code)) => format!("{state} (exit {code})"),
        (None, None) => state.to_string(),
    })
}

/// `web.2` for a replicated task, `agent.NODE` for a global one (as `docker service ps` names
/// them), else its short id.
pub fn task_name(service: &str, task: &Task) -> String {
    match (task.slot, task.node_id.as_deref().filter(|n| !n.is_empty()), task.id.as_deref()) {
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

    /// Failures the plan's `max-failure-ratio` tolerates for `replicas` tasks.
    pub fn allowance(max_failure_ratio: f64, replicas: u64) -> u64 {
        (max_failure_ratio * replicas as f64).floor().max(0.0) as u64
    }

    /// Takes in one task list and the tasks whose containers are unhealthy right now (task id,
    /// why); fails once more target tasks failed than allowed.
    pub fn observe(&mut self, tasks: &[Task], unhealthy: &[(String, String)]) -> Result<(), Failure> {
        for task in tasks {
            let id = task.id.clone().unwrap_or_default();
            if self.before.contains(&id) || self.seen.contains(&id) {
                continue;
            }
            let sick = unhealthy.iter().find(|(t, _)| *t == id).map(|(_, why)| why.clone());
            let Some(message) = failure_of(task).or(sick) else { continue };
            self.seen.insert(id);
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
        match (cluster.tasks(id).await, cluster.unhealthy(id).await) {
            (Ok(tasks), Ok(unhealthy)) => self.observe(&tasks, &unhealthy),
            (Ok(tasks), Err(_)) => self.observe(&tasks, &[]),
            _ => Ok(()),
        }
    }

    /// Runs `work` (the step's gates) while looking at the tasks every [`POLL`]; the first
    /// failure stops `work` at once. A last look after `work` finishes closes the window.
    pub async fn during<F: Future>(&mut self, cluster: &dyn Cluster, work: F) -> Result<F::Output, Failure> {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => {
                    self.check(cluster).await?;
                    return Ok(output);
                }
                _ = tokio::time::sleep(POLL) => self.check(cluster).await?,
            }
        }
    }
}
