//! One-off work on the swarm as a Swarm job (replicated-job mode): a dump or a migration that
//! must run where the swarm can schedule it, on the service's networks, since `exec` reaches
//! only containers on the node planrun talks to.
//!
//! The job service is removed when the job ends, however it ends (also when the caller stops
//! waiting); its output is read from the service's logs first.
//!
//! Work whose output must not be kept anywhere (a dump: a copy of the database) runs in an
//! *attended* job instead: its container only waits, on the node planrun talks to, with no log
//! driver, while planrun runs the work in it by `exec` and streams the output here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{
    NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicatedJob, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets,
    TaskSpecLogDriver, TaskSpecPlacement, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use tokio::time::Instant;

use crate::clock;
use crate::cluster::Cluster;
use crate::services::watch::failure_of;
use crate::services::{self, ServiceError};

/// How often a running job is looked at.
const POLL: Duration = Duration::from_millis(200);

/// Lines of output kept from a job.
const LOG_LINES: usize = 200;

/// The file whose existence tells an attended job's container to end.
const DONE: &str = "/tmp/planrun.done";

/// How long an attended job's container may take to end once told to.
const ENDING: Duration = Duration::from_secs(30);

/// A one-off job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job service's name (unique: it is created and removed).
    pub name: String,
    /// The image to run.
    pub image: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// Networks to attach (names or ids).
    pub networks: Vec<String>,
    /// Labels on the job service (planrun's own, so leftovers can be found).
    pub labels: HashMap<String, String>,
    /// Config objects to mount: (config id, config name, path in the container).
    pub configs: Vec<(String, String, String)>,
    /// Secrets to mount, as another service references them (a database's password).
    pub secrets: Vec<TaskSpecContainerSpecSecrets>,
    /// Where to stream the job's whole stdout before it is removed (a dump), if anywhere.
    pub output_to: Option<std::path::PathBuf>,
    /// Give up after this long.
    pub deadline: Duration,
    /// The node to run on (`node.id==`), if any.
    pub node: Option<String>,
}

/// What a job that exited 0 left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutput {
    /// Its output (stdout and stderr), the last lines.
    pub logs: String,
}

/// Why a job did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Creating, reading or removing the job failed.
    Service(ServiceError),
    /// The job's task failed.
    Failed {
        /// The job.
        name: String,
        /// The task's error.
        error: String,
        /// Its output, the last lines.
        logs: String,
    },
    /// It did not finish in time.
    Deadline {
        /// The job.
        name: String,
        /// How long was waited.
        waited: Duration,
        /// Its output so far.
        logs: String,
    },
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = |logs: &str| {
            let last: Vec<&str> = logs.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
            if last.is_empty() { String::new() } else { format!("; output: {}", last.join(" / ")) }
        };
        match self {
            JobError::Service(e) => e.fmt(f),
            JobError::Failed { name, error, logs } => write!(f, "job {name} failed: {error}{}", tail(logs)),
            JobError::Deadline { name, waited, logs } => {
                write!(f, "job {name} did not finish in {}{}", clock::seconds(*waited), tail(logs))
            }
        }
    }
}

impl std::error::Error for JobError {}

impl From<ServiceError> for JobError {
    fn from(e: ServiceError) -> Self {
        JobError::Service(e)
    }
}

/// The spec of a job: one task, never restarted.
pub fn spec(job: &Job) -> ServiceSpec {
    ServiceSpec {
        name: Some(job.name.clone()),
        labels: Some(job.labels.clone()),
        mode: Some(ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob { max_concurrent: Some(1), total_completions: Some(1) }),
            ..Default::default()
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(job.image.clone()),
                command: Some(job.command.clone()),
                env: Some(job.env.clone()),
                configs: (!job.configs.is_empty()).then(|| {
                    job.configs
                        .iter()
                        .map(|(id, name, target)| TaskSpecContainerSpecConfigs {
                            file: Some(TaskSpecContainerSpecFile1 {
                                name: Some(target.clone()),
                                uid: Some("0".into()),
                                gid: Some("0".into()),
                                mode: Some(0o444),
                            }),
                            config_id: Some(id.clone()),
                            config_name: Some(name.clone()),
                            runtime: None,
                        })
                        .collect()
                }),
                secrets: (!job.secrets.is_empty()).then(|| job.secrets.clone()),
                ..Default::default()
            }),
            // Local json-file logs without rotation, whatever the daemon's default: a job's
            // output (a dump, base64) is read back from its logs and must neither be cut by a
            // size limit nor shipped to a central log service.
            log_driver: Some(TaskSpecLogDriver {
                name: Some("json-file".into()),
                options: Some(HashMap::from([("max-size".to_string(), "100g".to_string())])),
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                ..Default::default()
            }),
            placement: job.node.as_ref().map(|node| TaskSpecPlacement {
                constraints: Some(vec![format!("node.id=={node}")]),
                ..Default::default()
            }),
            networks: Some(
                job.networks
                    .iter()
                    .map(|n| NetworkAttachmentConfig { target: Some(n.clone()), ..Default::default() })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The spec of an attended job: `job`'s command is replaced by a wait (at most its deadline)
/// for [`DONE`], and its container has no log driver, so nothing it prints is kept.
pub fn attended_spec(job: &Job) -> ServiceSpec {
    let mut spec = spec(job);
    let wait = format!(
        "i=0; while [ ! -e {DONE} ] && [ $i -lt {} ]; do sleep 1; i=$((i+1)); done",
        job.deadline.as_secs().max(1)
    );
    if let Some(template) = spec.task_template.as_mut() {
        if let Some(container) = template.container_spec.as_mut() {
            container.command = Some(vec!["sh".into(), "-c".into(), wait]);
        }
        template.log_driver = Some(TaskSpecLogDriver { name: Some("none".into()), options: None });
    }
    spec
}

/// Runs `work` by `exec` in an attended job's container on `job.node` (which must be the node
/// planrun talks to: exec reaches no other), then lets the container end and removes the job.
/// What `work` reads never passes through a container log.
pub async fn attended<T, F, Fut>(cluster: Arc<dyn Cluster>, job: &Job, work: F) -> Result<T, JobError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, JobError>>,
{
    let running = Attended::start(cluster, job, job.deadline).await?;
    let result = work(running.container.clone()).await;
    running.end().await;
    result
}

/// An attended job whose container runs: work runs in it by `exec` until [`Attended::end`]. The
/// job service is removed when it ends, or when this is dropped (then only spawned, and
/// awaited by [`settle`]). Either way its container is told to end first: a job removed while
/// its container runs leaves the container running (Swarm stops no task of a removed job
/// here), and one removed at the same moment leaves it exited, with its network attachment.
pub struct Attended {
    /// The running container, on `job.node`.
    pub container: String,
    /// The job service's id.
    pub id: String,
    /// The job service's name.
    pub name: String,
    ending: Ending,
}

impl Attended {
    /// Creates the attended job and waits, at most `starting`, until its container runs on
    /// `job.node`; a job that fails, does not start in time or is dropped while starting is
    /// ended and removed.
    pub async fn start(cluster: Arc<dyn Cluster>, job: &Job, starting: Duration) -> Result<Attended, JobError> {
        let started = Instant::now();
        let id = services::create(cluster.as_ref(), attended_spec(job)).await?;
        let ending = Ending { cluster: cluster.clone(), name: job.name.clone(), id: id.clone(), armed: true };
        let container = loop {
            let tasks = list(cluster.as_ref(), &job.name, &id).await?;
            if let Some(error) = tasks.iter().find_map(failure_of_job) {
                return Err(JobError::Failed { name: job.name.clone(), error, logs: String::new() });
            }
            let running = tasks.iter().find_map(|t| {
                let status = t.status.as_ref()?;
                let here = job.node.is_none() || t.node_id == job.node;
                (here && status.state == Some(TaskState::RUNNING)).then_some(())?;
                status.container_status.as_ref()?.container_id.clone()
            });
            if let Some(container) = running {
                break container;
            }
            if started.elapsed() >= starting {
                let waited = started.elapsed();
                return Err(JobError::Deadline { name: job.name.clone(), waited, logs: String::new() });
            }
            tokio::time::sleep(POLL).await;
        };
        Ok(Attended { container, id, name: job.name.clone(), ending })
    }

    /// Lets the container end and removes the job service.
    pub async fn end(mut self) {
        self.ending.armed = false;
        let _ = end_attended(self.ending.cluster.clone(), self.name.clone(), self.id.clone(), ENDING).await;
    }

    /// Ends and removes it beside whatever the caller does next, as a dropped one is: a failed
    /// judgement must not wait the second its probe takes to end before its step fails.
    /// [`settle`] waits for it before the run ends.
    pub fn end_later(self) {
        drop(self);
    }
}

/// Ends and removes an attended job when dropped, unless disarmed.
struct Ending {
    cluster: Arc<dyn Cluster>,
    name: String,
    id: String,
    armed: bool,
}

impl Drop for Ending {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (cluster, name, id) = (self.cluster.clone(), self.name.clone(), self.id.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let ending = handle.spawn(async move {
                let _ = end_attended(cluster, name, id, DROPPED_ENDING).await;
            });
            lock(&ENDING_NOW).push(ending);
        }
    }
}

/// How long a dropped attended job's container may take to end before its job is removed
/// anyway (it ends by itself within a second of being told).
const DROPPED_ENDING: Duration = Duration::from_secs(3);

/// The endings of dropped attended jobs still under way, for [`settle`].
static ENDING_NOW: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Waits, at most `limit` (tokio's clock), for the attended jobs dropped so far to be ended and
/// removed: a run calls it before it ends, so a process that exits right after a run was
/// stopped leaves no job behind. Jobs still starting to be kept ([`starting_to_keep`]) are
/// waited for first, then every kept job ([`keep`]) is ended too.
pub async fn settle(limit: Duration) {
    let until = Instant::now() + limit;
    let starting: Vec<_> = std::mem::take(&mut *lock(&STARTING_TO_KEEP));
    let _ = tokio::time::timeout_at(until, futures_util::future::join_all(starting)).await;
    let kept: Vec<Kept> = std::mem::take(&mut *lock(&KEPT));
    drop(kept);
    let ending: Vec<_> = std::mem::take(&mut *lock(&ENDING_NOW));
    let _ = tokio::time::timeout_at(until, futures_util::future::join_all(ending)).await;
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An attended job kept for its next use, and when it ends by itself.
struct Kept {
    key: String,
    job: Attended,
    ends: Instant,
}

/// Attended jobs kept between uses: a gate's probe container, from a step's start (ready for
/// its first judgement) or from one judgement to the next, so none waits a second for its
/// container. [`settle`] ends them.
static KEPT: std::sync::Mutex<Vec<Kept>> = std::sync::Mutex::new(Vec::new());

/// Jobs being started to be kept, for [`settle`].
static STARTING_TO_KEEP: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Keeps `job` (which ends by itself at `ends`) for the next [`take_kept`] of `key`.
pub fn keep(key: String, job: Attended, ends: Instant) {
    lock(&KEPT).push(Kept { key, job, ends });
}

/// A kept job of `key` that lives at least until `until`, and when it ends; a kept job of
/// `key` that ends sooner is ended now.
pub fn take_kept(key: &str, until: Instant) -> Option<(Attended, Instant)> {
    let mut kept = lock(&KEPT);
    let mut found = None;
    let mut k = 0;
    while k < kept.len() {
        if kept[k].key != key {
            k += 1;
        } else if kept[k].ends >= until && found.is_none() {
            let Kept { job, ends, .. } = kept.remove(k);
            found = Some((job, ends));
        } else if kept[k].ends < until {
            drop(kept.remove(k));
        } else {
            k += 1;
        }
    }
    found
}

/// Starts `start` (a job to [`keep`]) beside the caller; [`settle`] waits for it.
pub fn starting_to_keep(start: impl std::future::Future<Output = ()> + Send + 'static) {
    lock(&STARTING_TO_KEEP).push(tokio::spawn(start));
}

/// Tells every running container of attended job `id` to end (as each comes to run), waits at
/// most `ending` until no task of it is live, and removes the job service. Told to end, a
/// container exits 0 within a second; removing the job then also removes it. A container that
/// does not end is stopped by the removal.
/// Ends and removes a job a run that is over left (its process cannot): an attended one's
/// container on this node is told to end first, as a dropped one's is, since removing the job
/// alone leaves that container running.
pub async fn end_left(cluster: Arc<dyn Cluster>, name: String, id: String) -> Result<(), services::ServiceError> {
    end_attended(cluster, name, id, DROPPED_ENDING).await
}

async fn end_attended(
    cluster: Arc<dyn Cluster>,
    name: String,
    id: String,
    ending: Duration,
) -> Result<(), services::ServiceError> {
    let until = Instant::now() + ending;
    let mut told: Vec<String> = Vec::new();
    while Instant::now() < until {
        let Ok(tasks) = list(cluster.as_ref(), &name, &id).await else { break };
        let mut live = false;
        for task in &tasks {
            let status = task.status.as_ref();
            match status.and_then(|s| s.state) {
                Some(TaskState::COMPLETE | TaskState::FAILED | TaskState::SHUTDOWN | TaskState::REJECTED)
                | Some(TaskState::ORPHANED | TaskState::REMOVE) => {}
                Some(TaskState::RUNNING) => {
                    live = true;
                    let container =
                        status.and_then(|s| s.container_status.as_ref()).and_then(|c| c.container_id.clone());
                    if let Some(container) = container.filter(|c| !told.contains(c)) {
                        // A container that cannot be told (gone already) ends with the removal.
                        let _ = cluster.exec(told_to_end(container.clone())).await;
                        told.push(container);
                    }
                }
                Some(_) | None => live = true,
            }
        }
        if !live {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    services::remove(cluster.as_ref(), &id).await
}

/// The exec that tells an attended job's container to end: it exits 0 within a second.
fn told_to_end(container: String) -> crate::cluster::Exec {
    crate::cluster::Exec {
        container,
        argv: vec!["touch".into(), DONE.into()],
        env: Vec::new(),
        user: None,
        stdin: crate::cluster::ExecInput::Nothing,
        stdout: crate::cluster::ExecOutput::Capture,
    }
}

/// The tasks of job service `id`, named `name` in an error.
async fn list(cluster: &dyn Cluster, name: &str, id: &str) -> Result<Vec<bollard::models::Task>, ServiceError> {
    cluster
        .tasks(id)
        .await
        .map_err(|error| ServiceError::Cluster { doing: format!("list the tasks of job {name}"), error })
}

/// Removes the job service when dropped (the run may stop waiting at any await); on the
/// normal path `now` removes it before returning, so a process that exits right after does
/// not leave it behind.
struct Removal {
    cluster: Arc<dyn Cluster>,
    id: String,
    done: bool,
}

impl Removal {
    async fn now(mut self) {
        self.done = true;
        let _ = services::remove(self.cluster.as_ref(), &self.id).await;
    }
}

impl Drop for Removal {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (cluster, id) = (self.cluster.clone(), self.id.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { services::remove(cluster.as_ref(), &id).await });
        }
    }
}

/// Runs `job` to its end and returns its output; the job service is removed afterwards,
/// whatever happened (awaited here: a guard's removal is only spawned, and a process that
/// ends right after would leave the job behind; the guard is for a run dropped midway).
pub async fn run(cluster: Arc<dyn Cluster>, job: &Job) -> Result<JobOutput, JobError> {
    let started = Instant::now();
    let id = services::create(cluster.as_ref(), spec(job)).await?;
    let removal = Removal { cluster: cluster.clone(), id: id.clone(), done: false };
    let result = follow(cluster.as_ref(), job, &id, started).await;
    removal.now().await;
    result
}

/// Waits for job service `id` to end and reads its output.
async fn follow(cluster: &dyn Cluster, job: &Job, id: &str, started: Instant) -> Result<JobOutput, JobError> {
    let outcome = loop {
        let tasks = cluster
            .tasks(id)
            .await
            .map_err(|error| ServiceError::Cluster { doing: format!("list the tasks of job {}", job.name), error })?;
        let state = |t: &bollard::models::Task| t.status.as_ref().and_then(|s| s.state);
        if tasks.iter().any(|t| state(t) == Some(TaskState::COMPLETE) && failure_of_job(t).is_none()) {
            break Ok(());
        }
        if let Some(error) = tasks.iter().find_map(failure_of_job) {
            break Err(error);
        }
        if started.elapsed() >= job.deadline {
            let logs = services::logs(cluster, id, LOG_LINES).await.unwrap_or_default();
            return Err(JobError::Deadline { name: job.name.clone(), waited: started.elapsed(), logs });
        }
        tokio::time::sleep(POLL).await;
    };
    let logs = services::logs(cluster, id, LOG_LINES).await.unwrap_or_default();
    if let Some(path) = &job.output_to {
        cluster.logs_to(id, path).await.map_err(|error| ServiceError::Cluster {
            doing: format!("read the output of job {} into {}", job.name, path.display()),
            error,
        })?;
    }
    match outcome {
        Ok(()) => Ok(JobOutput { logs }),
        Err(error) => Err(JobError::Failed { name: job.name.clone(), error, logs }),
    }
}

/// A job task's failure: anything but `complete` with exit 0.
fn failure_of_job(task: &bollard::models::Task) -> Option<String> {
    let status = task.status.as_ref()?;
    let exit = status.container_status.as_ref().and_then(|c| c.exit_code);
    match status.state? {
        TaskState::COMPLETE if exit.unwrap_or(0) == 0 && status.err.as_deref().unwrap_or("").is_empty() => None,
        TaskState::COMPLETE | TaskState::FAILED | TaskState::REJECTED | TaskState::ORPHANED | TaskState::SHUTDOWN => {
            failure_of(task).or_else(|| Some(format!("{:?}", status.state)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fake::{Behavior, FakeCluster};

    fn job(image: &str) -> Job {
        Job {
            name: "planrun-job-test".into(),
            image: image.into(),
            command: vec!["pg_dump".into()],
            env: Vec::new(),
            networks: vec!["net".into()],
            labels: HashMap::new(),
            configs: Vec::new(),
            secrets: Vec::new(),
            output_to: None,
            deadline: Duration::from_secs(60),
            node: Some("node-1".into()),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_exits_0_returns_its_output_and_is_removed() {
        let fake = FakeCluster::new();
        fake.job_output("pg:15", "COPY 3");
        let output = run(Arc::new(fake.clone()), &job("pg:15")).await.unwrap();
        assert_eq!(output.logs, "COPY 3\n");
        tokio::task::yield_now().await;
        assert!(fake.service("planrun-job-test").await.is_err(), "the job service is removed");
    }

    #[test]
    fn an_attended_job_only_waits_and_keeps_no_log() {
        let spec = attended_spec(&job("pg:15"));
        let template = spec.task_template.unwrap();
        assert_eq!(template.log_driver.unwrap().name.as_deref(), Some("none"));
        let command = template.container_spec.unwrap().command.unwrap();
        assert_eq!(command[..2], ["sh", "-c"]);
        assert_eq!(
            command[2], "i=0; while [ ! -e /tmp/planrun.done ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done",
            "the work (pg_dump) is not in the job's command: it runs by exec"
        );
        assert_eq!(template.placement.unwrap().constraints.unwrap(), ["node.id==node-1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_job_names_its_error_and_output() {
        let fake = FakeCluster::new();
        fake.behave("pg:bad", Behavior::Crash(2));
        fake.job_output("pg:bad", "pg_dump: error: connection refused");
        let error = run(Arc::new(fake.clone()), &job("pg:bad")).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "job planrun-job-test failed: task: non-zero exit (2); output: pg_dump: error: connection refused"
        );
    }
}
