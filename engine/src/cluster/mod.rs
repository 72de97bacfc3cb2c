//! The cluster behind a trait: the real swarm (`swarm.rs`, bollard) or an in-memory fake
//! (`fake.rs`, for unit tests and the simulated swarm a whole plan can run on in virtual time).
//! What strategies do with services (spec changes, following, jobs) is in `crate::services`.
//!
//! Invariant: every wait in the engine uses tokio's clock (`tokio::time`), never a blocking
//! sleep, so the same code can run in virtual time.

pub mod fake;
pub mod post_mortem;
pub mod retry;
pub mod swarm;
mod swarm_changes;
mod swarm_exec;
mod swarm_post_mortem;
pub mod swarm_raw;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{ObjectVersion, Service, ServiceSpec, Task, TaskSpec, TaskState, TaskStatus};
use tokio::time::Instant;

pub use post_mortem::PostMortem;

/// How a [`ClusterError::Unavailable`] begins when shown (what the CLI looks for to say what to do).
pub const UNAVAILABLE: &str = "Docker is unavailable";

/// What went wrong talking to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// No such service, config or task.
    NotFound(String),
    /// The update used a stale version index ("update out of sequence"): inspect again and retry.
    OutOfSequence,
    /// The object already exists (used by the deploy lock).
    Conflict(String),
    /// The daemon does not answer or is not a swarm manager.
    Unavailable(String),
    /// Anything else the daemon said.
    Other(String),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::NotFound(what) => write!(f, "not found: {what}"),
            ClusterError::OutOfSequence => f.write_str("update out of sequence"),
            ClusterError::Conflict(what) => write!(f, "already exists: {what}"),
            ClusterError::Unavailable(why) => write!(f, "{UNAVAILABLE}: {why}"),
            ClusterError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ClusterError {}

/// A Swarm config object (the deploy lock is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigObject {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// Its data.
    pub data: Vec<u8>,
    /// Its version index: a change of its labels names it, and fails once another change
    /// came first.
    pub version: u64,
}

/// A network, by id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A network to create (a stack's overlay network).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewNetwork {
    /// Its name.
    pub name: String,
    /// Its driver (`overlay`).
    pub driver: String,
    /// Whether containers outside services may join it.
    pub attachable: bool,
    /// Whether it has no way out.
    pub internal: bool,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// Driver options.
    pub options: HashMap<String, String>,
    /// The IPAM driver and subnets, when the network sets them.
    pub ipam: Option<NewIpam>,
}

/// A network's address management, as created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIpam {
    /// The IPAM driver (`default` when `None`).
    pub driver: Option<String>,
    /// Its subnets.
    pub subnets: Vec<String>,
}

/// A config or secret to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewObject {
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// Its data (empty for a secret a driver holds).
    pub data: Vec<u8>,
    /// Swarm renders the data as a template with this driver (`golang`).
    pub templating: Option<String>,
    /// A secret store plugin that holds a secret's value, and its options.
    pub driver: Option<(String, HashMap<String, String>)>,
}

impl NewObject {
    /// A config or secret with this data and nothing else.
    pub fn new(name: &str, labels: HashMap<String, String>, data: &[u8]) -> NewObject {
        NewObject { name: name.to_owned(), labels, data: data.to_vec(), ..NewObject::default() }
    }
}

/// A Swarm secret (Swarm never gives its data back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretObject {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
}

/// Running and desired task counts as the daemon's service list reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceCounts {
    /// Tasks running.
    pub running: u64,
    /// Tasks wanted.
    pub desired: u64,
}

/// How many changes of a service (its spec, its update status, its tasks and their containers)
/// a cluster has heard of: a count that only grows. Only a change of it means something.
pub type Revision = u64;

/// A service's tasks as shared values: one list, handed out again and again without a copy until
/// something changes (a cluster that keeps its tasks in memory copies the list only while a
/// reader still holds it).
pub type SharedTasks = Arc<Vec<Arc<SeenTask>>>;

/// A task as following and watching a service read it ([`Cluster::shared_tasks`]): the
/// Engine's task without what those never read, its spec shared. An Engine `Task` holds its
/// spec inline (1.4 of its 1.9 KB); a cluster in memory gives every task it starts from one
/// template the same spec, so a swarm of 100,000 simulated tasks holds a few specs, not 100,000.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeenTask {
    /// The task's id.
    pub id: Option<String>,
    /// Its version (the index grows with each change of its state).
    pub version: Option<ObjectVersion>,
    /// Its service's id.
    pub service_id: Option<String>,
    /// Its slot (a replicated service's).
    pub slot: Option<i64>,
    /// Its node.
    pub node_id: Option<String>,
    /// Its status.
    pub status: Option<TaskStatus>,
    /// The state Swarm wants it in.
    pub desired_state: Option<TaskState>,
    /// Its spec, shared.
    pub spec: Option<Arc<TaskSpec>>,
}

impl From<Task> for SeenTask {
    fn from(task: Task) -> SeenTask {
        SeenTask {
            id: task.id,
            version: task.version,
            service_id: task.service_id,
            slot: task.slot,
            node_id: task.node_id,
            status: task.status,
            desired_state: task.desired_state,
            spec: task.spec.map(Arc::new),
        }
    }
}

impl SeenTask {
    /// The task as the Engine API shows it (for what takes one: a post-mortem, a report).
    pub fn to_task(&self) -> Task {
        Task {
            id: self.id.clone(),
            version: self.version.clone(),
            service_id: self.service_id.clone(),
            slot: self.slot,
            node_id: self.node_id.clone(),
            status: self.status.clone(),
            desired_state: self.desired_state,
            spec: self.spec.as_deref().cloned(),
            ..Default::default()
        }
    }
}

/// What the checks of a task read, from an Engine `Task` or a [`SeenTask`].
pub trait TaskFacts {
    /// The task's id.
    fn id(&self) -> Option<&str>;
    /// Its slot.
    fn slot(&self) -> Option<i64>;
    /// Its node.
    fn node_id(&self) -> Option<&str>;
    /// Its status.
    fn status(&self) -> Option<&TaskStatus>;
    /// The state Swarm wants it in.
    fn desired_state(&self) -> Option<TaskState>;
    /// Its spec.
    fn spec(&self) -> Option<&TaskSpec>;
}

impl<T: TaskFacts + ?Sized> TaskFacts for &T {
    fn id(&self) -> Option<&str> {
        (**self).id()
    }
    fn slot(&self) -> Option<i64> {
        (**self).slot()
    }
    fn node_id(&self) -> Option<&str> {
        (**self).node_id()
    }
    fn status(&self) -> Option<&TaskStatus> {
        (**self).status()
    }
    fn desired_state(&self) -> Option<TaskState> {
        (**self).desired_state()
    }
    fn spec(&self) -> Option<&TaskSpec> {
        (**self).spec()
    }
}

impl<T: TaskFacts + ?Sized> TaskFacts for Arc<T> {
    fn id(&self) -> Option<&str> {
        (**self).id()
    }
    fn slot(&self) -> Option<i64> {
        (**self).slot()
    }
    fn node_id(&self) -> Option<&str> {
        (**self).node_id()
    }
    fn status(&self) -> Option<&TaskStatus> {
        (**self).status()
    }
    fn desired_state(&self) -> Option<TaskState> {
        (**self).desired_state()
    }
    fn spec(&self) -> Option<&TaskSpec> {
        (**self).spec()
    }
}

/// `TaskFacts` for a task type whose fields are named as bollard's `Task`'s; `$spec` reads its
/// spec (an `Option<TaskSpec>` or an `Option<Arc<TaskSpec>>`).
macro_rules! task_facts {
    ($task:ty, $spec:ident) => {
        impl TaskFacts for $task {
            fn id(&self) -> Option<&str> {
                self.id.as_deref()
            }
            fn slot(&self) -> Option<i64> {
                self.slot
            }
            fn node_id(&self) -> Option<&str> {
                self.node_id.as_deref()
            }
            fn status(&self) -> Option<&TaskStatus> {
                self.status.as_ref()
            }
            fn desired_state(&self) -> Option<TaskState> {
                self.desired_state
            }
            fn spec(&self) -> Option<&TaskSpec> {
                self.spec.$spec()
            }
        }
    };
}

task_facts!(Task, as_ref);
task_facts!(SeenTask, as_deref);

/// The operations planrun needs from a swarm.
#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// Inspects a service by name or id, fresh from the daemon.
    async fn service(&self, name: &str) -> Result<Service, ClusterError>;
    /// Replaces a service's spec; `version` is the index from the inspect it was based on.
    async fn update_service(&self, id: &str, version: u64, spec: ServiceSpec) -> Result<(), ClusterError>;
    /// The service's tasks (all states).
    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError>;
    /// The service as a shared value, for the loops that inspect it again and again: a
    /// cluster that keeps its services in memory hands them out without a copy.
    async fn shared_service(&self, name: &str) -> Result<Arc<Service>, ClusterError> {
        Ok(Arc::new(self.service(name).await?))
    }
    /// The service's tasks as shared values, for the loops that look at them again and again
    /// (following and watching a release): a cluster that keeps its tasks in memory hands
    /// them out without copying every task's spec.
    async fn shared_tasks(&self, service_id: &str) -> Result<SharedTasks, ClusterError> {
        Ok(Arc::new(self.tasks(service_id).await?.into_iter().map(|t| Arc::new(SeenTask::from(t))).collect()))
    }
    /// The service's [`Revision`] now. Read it before a look, and wait with [`Cluster::changed`]
    /// for the next change after it.
    async fn revision(&self, _service_id: &str) -> Revision {
        0
    }
    /// Waits until any of `services` (id, revision read before the last look) is heard to
    /// change, or is removed, or until `until` (tokio's clock). A cluster that hears of no
    /// change (the default) just waits until `until`.
    async fn changed(&self, _services: &[(String, Revision)], until: Instant) {
        tokio::time::sleep_until(until).await;
    }
    /// How long a loop may go without looking when it hears of no change: `None` when every
    /// change is heard of (the fake), `Some(ZERO)` (the default) when none is, so a loop looks
    /// at every tick; a real swarm hears of most changes through its event stream and is
    /// looked at now and then besides.
    fn quiet_limit(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
    /// Running and desired counts (list_services with status=true).
    async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError>;
    /// Creates a config object; `Conflict` when the name is taken.
    async fn create_config(&self, config: NewObject) -> Result<String, ClusterError>;
    /// The config object with this name, if any.
    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError>;
    /// Removes a config object by id.
    async fn remove_config(&self, id: &str) -> Result<(), ClusterError>;
    /// Replaces a config object's labels (the only part of a config Swarm lets change);
    /// `version` is the index it was read at: `OutOfSequence` when it changed since,
    /// `NotFound` when it is gone.
    async fn update_config_labels(
        &self,
        id: &str,
        version: u64,
        labels: HashMap<String, String>,
    ) -> Result<(), ClusterError>;
    /// The config objects carrying `label` (`KEY` or `KEY=VALUE`).
    async fn configs(&self, label: &str) -> Result<Vec<ConfigObject>, ClusterError>;
    /// The network with this name or id, if any.
    async fn network(&self, name_or_id: &str) -> Result<Option<Network>, ClusterError>;
    /// Creates a network; returns its id.
    async fn create_network(&self, network: NewNetwork) -> Result<String, ClusterError>;
    /// Removes a network by name or id.
    async fn remove_network(&self, id: &str) -> Result<(), ClusterError>;
    /// The secret with this name, if any.
    async fn secret(&self, name: &str) -> Result<Option<SecretObject>, ClusterError>;
    /// Creates a secret; `Conflict` when the name is taken.
    async fn create_secret(&self, secret: NewObject) -> Result<String, ClusterError>;
    /// Removes a secret by id.
    async fn remove_secret(&self, id: &str) -> Result<(), ClusterError>;
    /// Creates a service (a one-off job when its mode says so); returns its id.
    async fn create_service(&self, spec: ServiceSpec) -> Result<String, ClusterError>;
    /// Removes a service by name or id.
    async fn remove_service(&self, id: &str) -> Result<(), ClusterError>;
    /// The services carrying `label` (`KEY` or `KEY=VALUE`), such as a stack's
    /// (`com.docker.stack.namespace=shop`).
    async fn services(&self, label: &str) -> Result<Vec<Service>, ClusterError>;
    /// The last `tail` lines the service's tasks wrote, stdout and stderr interleaved; on the
    /// real swarm at most their last MiB.
    async fn logs(&self, service_id: &str, tail: usize) -> Result<String, ClusterError>;
    /// The service's tasks whose containers their health check calls unhealthy right now, with
    /// the check's last output: (task id, why). Swarm keeps reporting such a task `running`
    /// for a couple of seconds until it has stopped it. Only containers on the node planrun
    /// talks to can be seen; elsewhere the task is seen when Swarm stops it.
    async fn unhealthy(&self, service_id: &str) -> Result<Vec<(String, String)>, ClusterError>;
    /// How `task` ended, as far as this cluster can tell (see `post_mortem.rs`): its node's
    /// name, its container as Docker last saw it (only on the node planrun talks to), and its
    /// last `log_lines` log lines (from any node). Bounded in bytes and time; what cannot be
    /// read is said in the answer, never an error. The default knows nothing.
    async fn post_mortem(&self, _task: &Task, _log_lines: usize) -> PostMortem {
        PostMortem::unknown()
    }
    /// The container of a running task of the service on the node planrun talks to, if any:
    /// `exec` reaches only those.
    async fn local_container(&self, service_id: &str) -> Result<Option<String>, ClusterError>;
    /// Runs a program in a container on this node and waits for it to end.
    async fn exec(&self, exec: Exec) -> Result<Executed, ClusterError>;
    /// Stops a container on the node planrun talks to (SIGTERM, then SIGKILL after `grace`)
    /// and returns once it has ended. One already stopped, or gone, is not an error.
    async fn stop_container(&self, id: &str, grace: std::time::Duration) -> Result<(), ClusterError>;
    /// Everything the service's tasks wrote to stdout, raw (no timestamps), into `to`;
    /// returns the number of bytes written. On the real swarm more than 64 MiB (what an exec's
    /// captured output may hold) is an error.
    async fn logs_to(&self, service_id: &str, to: &std::path::Path) -> Result<u64, ClusterError>;
    /// Whether every task runs on this machine: the daemon planrun talks to is local and the
    /// swarm's only node, so a path on this machine is a path on the node. `false` when unsure.
    async fn only_node_is_here(&self) -> bool {
        false
    }
    /// The id of the node planrun talks to, when that node takes tasks (its availability is
    /// `active`): a job placed there ends where planrun can remove its container, and the
    /// container's log with it. `None` when it does not, or when unsure.
    async fn node_taking_tasks_here(&self) -> Option<String> {
        None
    }
    /// The Engine API version spoken (the daemon's, negotiated): newer fields of a spec are
    /// not kept by an older daemon. `None` when every field is kept (the fake).
    async fn api_version(&self) -> Option<(u32, u32)> {
        None
    }
    /// The secrets with this label (`key=value` or `key`).
    async fn secrets(&self, label: &str) -> Result<Vec<SecretObject>, ClusterError>;
    /// The nodes Swarm reports `down` or `disconnected`, as (id, hostname). Empty when it cannot
    /// tell: only ever used to say more about a failure.
    async fn nodes_down(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Whether the daemon planrun talks to has the image `reference` (`NAME:TAG`). The fake
    /// has every image.
    async fn has_image(&self, _reference: &str) -> Result<bool, ClusterError> {
        Ok(true)
    }
    /// Makes the image `reference` from a root file system, a tar (`docker import`), on the
    /// daemon planrun talks to only.
    async fn import_image(&self, _reference: &str, _rootfs: Vec<u8>) -> Result<(), ClusterError> {
        Ok(())
    }
}

/// A program to run in a container (`docker exec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    /// The container's id.
    pub container: String,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// `KEY=VALUE` environment added to the container's.
    pub env: Vec<String>,
    /// The user to run as (the container's own when `None`).
    pub user: Option<String>,
    /// What the program reads on stdin.
    pub stdin: ExecInput,
    /// Where its stdout goes.
    pub stdout: ExecOutput,
}

/// What an exec'd program reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecInput {
    /// Nothing (stdin closed).
    Nothing,
    /// These bytes.
    Bytes(Vec<u8>),
    /// This file on the machine running planrun, streamed.
    File(PathBuf),
}

/// Where an exec'd program's stdout goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    /// Kept in memory.
    Capture,
    /// Streamed into this file on the machine running planrun (created or truncated).
    File(PathBuf),
}

/// How an exec'd program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// Its exit code.
    pub exit_code: i64,
    /// Its stdout, when captured.
    pub stdout: Vec<u8>,
    /// Bytes it wrote to stdout.
    pub stdout_bytes: u64,
    /// Its stderr.
    pub stderr: Vec<u8>,
}
