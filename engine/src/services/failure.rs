//! Why following a service failed, and the failed tasks seen on the way: the values
//! `convergence.rs` and `watch.rs` return, shared by both (neither imports the other's).

use std::fmt;
use std::time::Duration;

use crate::clock;

/// Why a service did not converge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Swarm paused the update (failure action `pause`).
    Paused {
        /// Swarm's message.
        message: String,
        /// The tasks' own errors.
        task_errors: TaskErrors,
    },
    /// Swarm rolled the update back (failure action `rollback`).
    RolledBack {
        /// Swarm's message.
        message: String,
        /// The tasks' own errors.
        task_errors: TaskErrors,
    },
    /// Tasks of the new release failed after starting: more than the step allows.
    TasksFailed {
        /// Service name.
        service: String,
        /// The new release's image.
        image: String,
        /// The failed tasks, by error.
        failed: TaskErrors,
        /// How many failures `max-failure-ratio` allowed.
        allowed: u64,
    },
    /// The deadline passed first.
    Deadline {
        /// Service name.
        service: String,
        /// How long was waited.
        waited: Duration,
        /// What was last seen, such as "0 of 3 tasks running on image app:exit".
        progress: String,
        /// The tasks' own errors.
        task_errors: TaskErrors,
        /// The nodes Swarm reports down that ran tasks of the service.
        down: DownNodes,
    },
    /// Swarm's update stopped moving: a slot keeps a second task beside a running one of the
    /// new release and Swarm stays `updating` (dockerd 20.10 after a node is lost mid-update:
    /// its updater waits for the lost task for good).
    Stalled {
        /// Service name.
        service: String,
        /// How long it stood so.
        stood: Duration,
        /// The slots with a task of the new release and another one beside it.
        slots: Vec<i64>,
        /// What was last seen.
        progress: String,
        /// The nodes Swarm reports down that ran tasks of the service.
        down: DownNodes,
    },
    /// The service is gone or its spec was changed by someone else.
    Changed(String),
    /// The service is of a kind this cannot follow.
    Unsupported(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Paused { message, task_errors } => {
                write!(f, "Swarm paused the update: {}{}", or_none(message), task_errors.suffix())
            }
            Failure::RolledBack { message, task_errors } => {
                write!(f, "Swarm rolled the update back: {}{}", or_none(message), task_errors.suffix())
            }
            Failure::TasksFailed { service, image, failed, allowed } => {
                let n = failed.count();
                let tasks = if n == 1 { "task" } else { "tasks" };
                write!(f, "{n} {tasks} of {service} on {image} failed after starting: {failed}")?;
                if *allowed > 0 {
                    write!(f, " (max-failure-ratio allows {allowed})")?;
                }
                Ok(())
            }
            Failure::Deadline { service, waited, progress, task_errors, down } => write!(
                f,
                "{service} did not converge in {}: {progress}{}{}",
                clock::seconds(*waited),
                down.suffix(service),
                task_errors.suffix()
            ),
            Failure::Stalled { service, stood, slots, progress, down } => write!(
                f,
                "Swarm's update of {service} stalled: {progress}; slot {} has a task of the new release \
                 running and another beside it, unchanged for {}{}. Swarm's updater waits for good there \
                 (dockerd 20.10 does this after a node is lost mid-update); planrun stops waiting",
                slots.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
                clock::seconds(*stood),
                down.suffix(service),
            ),
            Failure::Changed(why) | Failure::Unsupported(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// Whether the release's tasks are what failed (or did not come up): then a failure
    /// report of them says more (`failure_report.rs`). Not for a service removed or changed by
    /// someone else, nor one planrun cannot follow.
    pub fn is_of_tasks(&self) -> bool {
        match self {
            Failure::Paused { .. }
            | Failure::RolledBack { .. }
            | Failure::TasksFailed { .. }
            | Failure::Deadline { .. }
            | Failure::Stalled { .. } => true,
            Failure::Changed(_) | Failure::Unsupported(_) => false,
        }
    }
}

fn or_none(message: &str) -> &str {
    if message.is_empty() { "(no message)" } else { message }
}

/// The hostnames of the nodes Swarm reports down (or disconnected) that ran tasks of a service,
/// which a failure names: a lost node is the likeliest reason for a rollout that stalls or
/// never ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownNodes(pub Box<[String]>);

impl DownNodes {
    /// `; node planrun-n5, which ran tasks of web, is down (as Swarm reports it)`, or nothing.
    fn suffix(&self, service: &str) -> String {
        self.sentence(service).map(|s| format!("; {s}")).unwrap_or_default()
    }

    /// `node planrun-n5, which ran tasks of web, is down (as Swarm reports it)`, or none.
    pub fn sentence(&self, service: &str) -> Option<String> {
        match &*self.0 {
            [] => None,
            [one] => Some(format!("node {one}, which ran tasks of {service}, is down (as Swarm reports it)")),
            many => Some(format!(
                "nodes {}, which ran tasks of {service}, are down (as Swarm reports them)",
                many.join(", ")
            )),
        }
    }
}

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

    /// Counts one more failed task, under its error.
    pub fn add(&mut self, message: String, task: String) {
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
