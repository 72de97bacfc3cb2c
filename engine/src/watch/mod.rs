//! A watch after the release (the plan's `watch "2h" { gates ...; on-regression rollback }`):
//! once `apply` succeeded, a Swarm service `planrun-watch-STACK` runs `planrun watch STACK --run
//! RUN` inside the swarm, so the watch outlives the machine that released. It keeps
//! judging the gates until the window ends and, on a regression, undoes the run as `planrun
//! rollback` does; then it removes itself.
//!
//! Everything the watch needs comes from the swarm: the gates, the window and what to do are a
//! run-state entry (`Entry::Watching`), the undo records are the run's own. `image.rs` makes
//! the service's image from this planrun; `service.rs` is its spec; `judge.rs` is what runs
//! inside it; `verdict.rs` is the last verdict it leaves for `planrun status`.

pub mod image;
pub mod judge;
pub mod service;
pub mod verdict;

use std::sync::Arc;
use std::time::SystemTime;

use plans::model::Plan;

use crate::cluster::{Cluster, ClusterError};
use crate::run_state::{self, Entry, RunState};

/// The label naming the stack a watch service watches.
pub const STACK_LABEL: &str = "planrun.watch.stack";
/// The label naming the run it watches.
pub const RUN_LABEL: &str = "planrun.watch.run-id";
/// The label holding when it ends, RFC 3339.
pub const UNTIL_LABEL: &str = "planrun.watch.until";
/// The label naming its gates, separated by spaces.
pub const GATES_LABEL: &str = "planrun.watch.gates";
/// The label holding what a regression does (`rollback`, `notify`).
pub const ON_LABEL: &str = "planrun.watch.on-regression";

/// The watch service of `stack`.
pub fn service_name(stack: &str) -> String {
    format!("planrun-watch-{stack}")
}

/// A watch that was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Its service.
    pub service: String,
    /// When it ends, RFC 3339.
    pub until: String,
    /// Its image.
    pub image: String,
}

/// A watch service that runs, as `planrun status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Running {
    /// Its service.
    pub service: String,
    /// The run it watches.
    pub run_id: String,
    /// When it ends, RFC 3339.
    pub until: String,
    /// The gates it judges.
    pub gates: Vec<String>,
    /// What a regression does.
    pub on_regression: String,
    /// Its last verdict and when it was given, if it gave one yet.
    pub last: Option<verdict::Last>,
}

/// Starts the watch of `plan` (which has one) after run `run_id` succeeded: the image, the
/// run-state entry the watch reads, then the service (replacing the watch of an earlier run).
/// `prometheus` is the environment's default server.
pub async fn start(
    cluster: Arc<dyn Cluster>,
    plan: &Plan,
    run_id: &str,
    prometheus: Option<String>,
) -> Result<Started, String> {
    let Some(watch) = &plan.watch else { return Err("the plan has no watch".into()) };
    let stack = &plan.stack.value;
    let image = image::ensure(cluster.as_ref()).await.map_err(|e| e.to_string())?;
    let until = SystemTime::now() + watch.window.value.to_std();
    let until = humantime::format_rfc3339_seconds(until).to_string();
    let gates: Vec<plans::model::Gate> = watch.gates.iter().filter_map(|g| plan.gate(&g.value)).cloned().collect();
    let run = run_state::run(cluster.as_ref(), stack, run_id)
        .await
        .map_err(|e| format!("cannot read run {run_id} from the swarm: {e}"))?;
    let next = run.map_or(0, |r| r.next_seq);
    let entry = Entry::Watching {
        until: until.clone(),
        gates: run_state::Gates(gates.clone()),
        on_regression: watch.on_regression,
        prometheus,
    };
    RunState::new(cluster.clone(), stack, run_id, next)
        .write(&entry)
        .await
        .map_err(|e| format!("cannot record the watch in the swarm: {e}"))?;
    stop(cluster.as_ref(), stack).await.map_err(|e| format!("cannot remove the earlier watch: {e}"))?;
    let host = cluster
        .network("host")
        .await
        .map_err(|e| format!("cannot find the `host` network: {e}"))?
        .ok_or("this swarm has no `host` network")?;
    let names: Vec<&str> = gates.iter().map(|g| g.name.value.as_str()).collect();
    let spec = service::spec(&service::Watcher {
        stack,
        run_id,
        until: &until,
        gates: &names.join(" "),
        on_regression: watch.on_regression.word(),
        image: &image,
        host_network: &host.id,
    });
    cluster.create_service(spec).await.map_err(|e| format!("cannot create the watch service: {e}"))?;
    Ok(Started { service: service_name(stack), until, image })
}

/// The watch service of `stack`, if one runs.
pub async fn running(cluster: &dyn Cluster, stack: &str) -> Result<Option<Running>, ClusterError> {
    let services = cluster.services(&format!("{STACK_LABEL}={stack}")).await?;
    let Some(service) = services.into_iter().next() else { return Ok(None) };
    let spec = service.spec.unwrap_or_default();
    let labels = spec.labels.unwrap_or_default();
    let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
    let last = verdict::read(cluster, stack).await?;
    Ok(Some(Running {
        service: spec.name.unwrap_or_default(),
        run_id: label(RUN_LABEL),
        until: label(UNTIL_LABEL),
        gates: label(GATES_LABEL).split_whitespace().map(str::to_owned).collect(),
        on_regression: label(ON_LABEL),
        last,
    }))
}

/// Removes the watch of `stack` (its service and its last verdict); the run it watched, if
/// one ran.
pub async fn stop(cluster: &dyn Cluster, stack: &str) -> Result<Option<String>, ClusterError> {
    // The verdict first: a watch removing itself ends with its service.
    verdict::remove(cluster, stack).await?;
    let services = cluster.services(&format!("{STACK_LABEL}={stack}")).await?;
    let mut stopped = None;
    for service in services {
        let run = service.spec.as_ref().and_then(|s| s.labels.as_ref()).and_then(|l| l.get(RUN_LABEL)).cloned();
        match cluster.remove_service(service.id.as_deref().unwrap_or_default()).await {
            Ok(()) | Err(ClusterError::NotFound(_)) => stopped = stopped.or(run).or(Some(String::new())),
            Err(e) => return Err(e),
        }
    }
    Ok(stopped)
}
