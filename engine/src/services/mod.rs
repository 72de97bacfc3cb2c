//! What strategies do with Swarm services, in one place: read and change specs (with the
//! out-of-sequence retry every write needs), follow a service until it converges, watch its
//! new tasks for failures, create and remove services, list a stack's services, read logs,
//! and run one-off jobs.
//!
//! Steps (`crate::steps`) use this module; it uses only the `Cluster` trait, so everything
//! here runs the same on the real swarm and on the fake one.

pub mod convergence;
pub mod failure;
pub mod failure_report;
pub mod job;
pub mod pace;
pub mod progress;
pub mod removal;
pub mod spec;
pub mod stack;
pub mod target;
pub mod watch;

use std::fmt;

use bollard::models::{Service, ServiceSpec};

use crate::cluster::{Cluster, ClusterError};
use crate::services::target::Baseline;

/// How many times a write is retried when Swarm moved the version index in between.
pub const OUT_OF_SEQUENCE_ATTEMPTS: u32 = 5;

/// The label the docker CLI puts on every object of a stack.
pub const STACK_LABEL: &str = "com.docker.stack.namespace";

/// Why an operation on a service failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The daemon refused or failed: what planrun was doing, and its answer.
    Cluster {
        /// Such as `inspect service shop_web`.
        doing: String,
        /// The daemon's error.
        error: ClusterError,
    },
    /// Someone else changed the spec since planrun read it.
    ChangedElsewhere {
        /// The service.
        service: String,
    },
    /// Every attempt collided with another writer.
    OutOfSequence {
        /// The service.
        service: String,
        /// How many attempts were made.
        attempts: u32,
    },
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Cluster { doing, error: ClusterError::NotFound(_) } => {
                write!(f, "cannot {doing}: it does not exist")
            }
            ServiceError::Cluster { doing, error } => write!(f, "cannot {doing}: {error}"),
            ServiceError::ChangedElsewhere { service } => {
                write!(f, "the spec of {service} was changed by someone else while planrun was updating it")
            }
            ServiceError::OutOfSequence { service, attempts } => {
                write!(f, "cannot update service {service}: update out of sequence {attempts} times")
            }
        }
    }
}

impl std::error::Error for ServiceError {}

fn failed(doing: impl Into<String>) -> impl FnOnce(ClusterError) -> ServiceError {
    let doing = doing.into();
    move |error| ServiceError::Cluster { doing, error }
}

/// Inspects a service by name or id.
pub async fn inspect(cluster: &dyn Cluster, name: &str) -> Result<Service, ServiceError> {
    cluster.service(name).await.map_err(failed(format!("inspect service {name}")))
}

/// The version index a service was read at.
pub fn version_of(service: &Service) -> u64 {
    service.version.as_ref().and_then(|v| v.index).unwrap_or(0)
}

/// The service's name as its spec says.
pub fn name_of(service: &Service) -> String {
    service.spec.as_ref().and_then(|s| s.name.clone()).unwrap_or_else(|| service.id.clone().unwrap_or_default())
}

/// Writes `spec` with the version of a fresh inspect, retrying when Swarm moved the index in
/// between; returns the baseline taken just before the successful write. With `expected`, a
/// spec changed by someone else since it was recorded stops the retry instead of being
/// overwritten.
pub async fn replace_spec(
    cluster: &dyn Cluster,
    mut service: Service,
    spec: &ServiceSpec,
    expected: Option<&ServiceSpec>,
) -> Result<Baseline, ServiceError> {
    let id = service.id.clone().unwrap_or_default();
    let name = name_of(&service);
    for attempt in 1..=OUT_OF_SEQUENCE_ATTEMPTS {
        if let Some(expected) = expected
            && service.spec.as_ref() != Some(expected)
        {
            return Err(ServiceError::ChangedElsewhere { service: name });
        }
        let baseline = Baseline::take(cluster, &service).await.map_err(failed(format!("list the tasks of {name}")))?;
        match cluster.update_service(&id, version_of(&service), spec.clone()).await {
            Ok(()) => return Ok(baseline),
            Err(ClusterError::OutOfSequence) if attempt < OUT_OF_SEQUENCE_ATTEMPTS => {
                service = inspect(cluster, &id).await?;
            }
            Err(ClusterError::OutOfSequence) => {
                return Err(ServiceError::OutOfSequence { service: name, attempts: OUT_OF_SEQUENCE_ATTEMPTS });
            }
            Err(error) => return Err(ServiceError::Cluster { doing: format!("update service {name}"), error }),
        }
    }
    Err(ServiceError::OutOfSequence { service: name, attempts: OUT_OF_SEQUENCE_ATTEMPTS })
}

/// Creates a service; returns its id.
pub async fn create(cluster: &dyn Cluster, spec: ServiceSpec) -> Result<String, ServiceError> {
    let name = spec.name.clone().unwrap_or_default();
    cluster.create_service(spec).await.map_err(failed(format!("create service {name}")))
}

/// The service once Swarm has finished an update whose every task already runs the spec: Swarm
/// still calls such an update `updating` for its monitor window after the last task (planrun's
/// steps end when their gates pass, which can be sooner), and a run right after another must
/// not be refused for that. Waits at most the spec's monitor and delay plus 5 s; any other
/// state is returned as it is, at once.
pub async fn settled(cluster: &dyn Cluster, service: Service) -> Service {
    use bollard::models::{ServiceUpdateStatusStateEnum as State, TaskState};
    let updating = |s: &Service| s.update_status.as_ref().and_then(|u| u.state) == Some(State::UPDATING);
    if !updating(&service) {
        return service;
    }
    let id = service.id.clone().unwrap_or_default();
    let spec = service.spec.clone().unwrap_or_default();
    let Ok(target) = target::Target::of(&id, &spec) else { return service };
    let Ok(tasks) = cluster.tasks(&id).await else { return service };
    let wanted: Vec<_> = tasks.iter().filter(|t| t.desired_state == Some(TaskState::RUNNING)).collect();
    if wanted.is_empty() || !wanted.iter().all(|t| target.runs_on(t)) {
        return service;
    }
    let update = spec.update_config.clone().unwrap_or_default();
    let nanos = |n: Option<i64>| std::time::Duration::from_nanos(n.unwrap_or(0).max(0) as u64);
    let bound = nanos(update.monitor.or(Some(5_000_000_000))) + nanos(update.delay) + std::time::Duration::from_secs(5);
    let until = tokio::time::Instant::now() + bound;
    let mut current = service;
    while updating(&current) && tokio::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        match cluster.service(&id).await {
            Ok(s) => current = s,
            Err(_) => break,
        }
    }
    current
}

/// Removes a service; one that is already gone is fine.
pub async fn remove(cluster: &dyn Cluster, id: &str) -> Result<(), ServiceError> {
    match cluster.remove_service(id).await {
        Ok(()) | Err(ClusterError::NotFound(_)) => Ok(()),
        Err(error) => Err(ServiceError::Cluster { doing: format!("remove service {id}"), error }),
    }
}

/// The services of a stack (labelled the way `docker stack deploy` labels them), by name.
pub async fn of_stack(cluster: &dyn Cluster, stack: &str) -> Result<Vec<Service>, ServiceError> {
    let mut services = cluster
        .services(&format!("{STACK_LABEL}={stack}"))
        .await
        .map_err(failed(format!("list the services of stack {stack}")))?;
    services.sort_by_key(name_of);
    Ok(services)
}

/// Waits (at most `bound`) until the tasks Swarm told to stop have stopped: a replaced task
/// keeps running, and answering, for a few seconds after its replacement is up (measured about
/// 3 s here). A router's replaced tasks still send traffic where their old config said, so
/// nothing may be taken from under them before this returns. Returns whether they stopped.
pub async fn drained(cluster: &dyn Cluster, service_id: &str, bound: std::time::Duration) -> bool {
    use bollard::models::TaskState;
    let until = tokio::time::Instant::now() + bound;
    loop {
        let tasks = cluster.tasks(service_id).await.unwrap_or_default();
        let stopping = tasks.iter().any(|t| {
            t.desired_state != Some(TaskState::RUNNING)
                && t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
        });
        if !stopping {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The last `tail` lines a service's tasks wrote.
pub async fn logs(cluster: &dyn Cluster, service_id: &str, tail: usize) -> Result<String, ServiceError> {
    cluster.logs(service_id, tail).await.map_err(failed(format!("read the logs of {service_id}")))
}

#[cfg(test)]
mod tests {
    use bollard::models::{
        ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecUpdateConfig, ServiceUpdateStatusStateEnum as State,
        TaskSpec, TaskSpecContainerSpec,
    };

    use super::*;
    use crate::cluster::fake::FakeCluster;

    fn spec(image: &str) -> ServiceSpec {
        ServiceSpec {
            name: Some("web".into()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(2) }),
                ..Default::default()
            }),
            update_config: Some(ServiceSpecUpdateConfig { monitor: Some(5_000_000_000), ..Default::default() }),
            ..Default::default()
        }
    }

    fn state(s: &Service) -> Option<State> {
        s.update_status.as_ref().and_then(|u| u.state)
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_in_its_last_monitor_window_is_waited_for_and_one_still_replacing_tasks_is_not() {
        let fake = FakeCluster::new();
        let id = fake.add_service(spec("app:v1"));
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        let service = inspect(&fake, &id).await.unwrap();
        fake.update_service(&id, version_of(&service), spec("app:v2")).await.unwrap();

        // Right after the write, tasks still run v1: nothing to wait for.
        let started = tokio::time::Instant::now();
        let early = settled(&fake, inspect(&fake, &id).await.unwrap()).await;
        assert_ne!(state(&early), Some(State::COMPLETED));
        assert_eq!(started.elapsed(), std::time::Duration::ZERO);

        // Once every task runs v2 and Swarm only watches its last window, it is waited for.
        let target = target::Target::of(&id, &spec("app:v2")).unwrap();
        loop {
            let tasks = fake.tasks(&id).await.unwrap();
            let wanted: Vec<_> =
                tasks.iter().filter(|t| t.desired_state == Some(bollard::models::TaskState::RUNNING)).collect();
            if wanted.len() == 2 && wanted.iter().all(|t| target.runs_on(t)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let service = inspect(&fake, &id).await.unwrap();
        assert_eq!(state(&service), Some(State::UPDATING), "Swarm still watches the last window");
        let started = tokio::time::Instant::now();
        let after = settled(&fake, service).await;
        assert_eq!(state(&after), Some(State::COMPLETED));
        assert!(started.elapsed() <= std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }
}
