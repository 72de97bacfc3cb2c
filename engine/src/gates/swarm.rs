//! `swarm` gates: the service has converged and stays so. A measurement passes when exactly the
//! desired number of tasks should run (the daemon's desired count), every one is RUNNING on the
//! service's current spec, there is one such task per slot (per node for a global service, where
//! no task may be waiting to start either: dockerd leaves those out of a global service's desired
//! count, see `services::convergence`), the update is not paused, and no
//! task of the current spec has failed since the gate's first measurement: the gate judges its
//! whole window, not one instant (a task that dies and is restarted between two measurements
//! would otherwise go unseen).
//!
//! Health: Swarm keeps a task with a HEALTHCHECK in `starting` until its first passing check
//! and shuts an unhealthy task down, so a RUNNING task is one that was healthy; the Engine
//! API's task list carries no health field to look at directly.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bollard::models::{Service, ServiceUpdateStatusStateEnum, Task, TaskSpec, TaskState};
use plans::gates::{Outcome, SwarmGate};

use super::probe::{GateBehavior, LiveProbe};
use super::{Measurement, Meter};
use crate::cluster::{Cluster, ClusterError, ServiceCounts};
use crate::services::convergence::meant_to_run;
use crate::services::spec;
use crate::services::watch::{failure_of, task_name};
use std::time::Duration;

/// Measures a `swarm` gate across one judgement.
pub struct SwarmMeter {
    gate: SwarmGate,
    cluster: Arc<dyn Cluster>,
    /// Tasks that had already ended at the first measurement.
    ended_before: Option<HashSet<String>>,
}

impl SwarmMeter {
    /// A meter whose window starts at its first measurement.
    pub fn new(gate: SwarmGate, cluster: Arc<dyn Cluster>) -> SwarmMeter {
        SwarmMeter { gate, cluster, ended_before: None }
    }
}

#[async_trait]
impl Meter for SwarmMeter {
    fn target(&self) -> String {
        self.gate.service.clone()
    }

    fn condition(&self) -> String {
        CONDITION.to_owned()
    }

    async fn measure(&mut self) -> Measurement {
        let (mut m, snapshot) = measure(&self.gate, self.cluster.as_ref()).await;
        let Some((service, tasks)) = snapshot else { return m };
        let id = service.id.clone().unwrap_or_default();
        let current = service.spec.as_ref().and_then(|s| s.task_template.as_ref());
        let sick: Vec<String> = self
            .cluster
            .unhealthy(&id)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(task, why)| {
                let listed = tasks.iter().find(|t| t.id.as_deref() == Some(&task));
                if retired(listed, current) {
                    return None;
                }
                let name = listed.map(|t| task_name(&self.gate.service, t)).unwrap_or(task);
                Some(format!("task {name} is unhealthy ({why})"))
            })
            .collect();
        if !sick.is_empty() {
            let mut problems = sick;
            problems.extend(m.detail.take());
            m.outcome = Outcome::Fail;
            m.detail = Some(limited(problems));
        }
        let ended: HashSet<String> =
            tasks.iter().filter(|t| failure_of(t).is_some()).filter_map(|t| t.id.clone()).collect();
        let Some(before) = &self.ended_before else {
            self.ended_before = Some(ended);
            return m;
        };
        let died: Vec<String> = tasks
            .iter()
            .filter(|t| t.id.as_ref().is_some_and(|id| !before.contains(id)))
            .filter(|t| match (current, t.spec.as_ref()) {
                (Some(current), Some(spec)) => same_spec(spec, current),
                _ => true,
            })
            .filter_map(|t| {
                let why = failure_of(t)?;
                Some(format!("task {} failed since the first measurement ({why})", task_name(&self.gate.service, t)))
            })
            .collect();
        if !died.is_empty() {
            let mut problems = died;
            if let Some(detail) = m.detail.take() {
                problems.push(detail);
            }
            m.outcome = Outcome::Fail;
            m.detail = Some(limited(problems));
        }
        m
    }
}

/// Whether an unhealthy container's task is one an update is retiring: a task of an earlier spec
/// that Swarm is shutting down. Its health check is killed with it (exit 137) while it stops,
/// minutes after a start-first update converged when the app waits out its stop grace period;
/// that says nothing of the release. A task of the current spec, or one still meant to run,
/// counts whatever its state.
fn retired(task: Option<&Task>, current: Option<&TaskSpec>) -> bool {
    let Some(task) = task else { return false };
    let old = match (task.spec.as_ref(), current) {
        (Some(spec), Some(current)) => !same_spec(spec, current),
        _ => false,
    };
    old && !meant_to_run(task)
}

/// Before a run: whether the service exists.
pub async fn preflight(gate: &SwarmGate, cluster: &dyn Cluster) -> Option<String> {
    match cluster.service(&gate.service).await {
        Ok(_) => None,
        Err(ClusterError::NotFound(_)) => Some(format!("no service named `{}`", gate.service)),
        Err(e) => Some(format!("cannot inspect service {}: {e}", gate.service)),
    }
}

/// The condition as shown in events.
pub const CONDITION: &str = "every desired task running on the current spec, none failed since the first measurement";

/// At most this many problems are listed in a measurement's detail.
const SHOWN: usize = 5;

/// Inspects the service, its counts and its tasks once, and judges convergence; returns the
/// service and tasks seen, when they could be read.
pub async fn measure(gate: &SwarmGate, cluster: &dyn Cluster) -> (Measurement, Option<(Service, Vec<Task>)>) {
    let name = &gate.service;
    let error = |e: ClusterError| match e {
        ClusterError::NotFound(_) => (Measurement::error(name, CONDITION, format!("no service named `{name}`")), None),
        other => (Measurement::error(name, CONDITION, other.to_string()), None),
    };
    let service = match cluster.service(name).await {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let Some(id) = service.id.clone() else {
        return (Measurement::error(name, CONDITION, "the daemon returned the service without an id"), None);
    };
    let counts = match cluster.counts(&id).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let tasks = match cluster.tasks(&id).await {
        Ok(t) => t,
        Err(e) => return error(e),
    };
    (assess(name, &service, counts, &tasks), Some((service, tasks)))
}

/// The first few problems, joined, with how many more there were.
fn limited(mut problems: Vec<String>) -> String {
    let more = problems.len().saturating_sub(SHOWN);
    problems.truncate(SHOWN);
    if more > 0 {
        problems.push(format!("and {more} more"));
    }
    problems.join("; ")
}

/// Judges one snapshot of a service; the detail lists what is not converged.
pub fn assess(name: &str, service: &Service, counts: ServiceCounts, tasks: &[Task]) -> Measurement {
    let mut problems = Vec::new();
    let current = service.spec.as_ref().and_then(|s| s.task_template.as_ref());
    if let Some(status) = &service.update_status
        && let Some(state @ (ServiceUpdateStatusStateEnum::PAUSED | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED)) =
            status.state
    {
        let message = status.message.as_deref().unwrap_or("no message");
        problems.push(format!("update {state}: {message}"));
    }
    // The daemon's running count includes replaced tasks that Swarm has told to stop and that
    // still run for a few seconds: only tasks that should run count (the list, not the count).
    let wanted: Vec<&Task> = tasks.iter().filter(|t| t.desired_state == Some(TaskState::RUNNING)).collect();
    let running = |t: &&&Task| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING);
    let wanted_running = wanted.iter().filter(running).count() as u64;
    if wanted_running < counts.desired {
        problems.push(format!("{wanted_running} of {} tasks running", counts.desired));
    }
    if wanted.len() as u64 != counts.desired {
        problems.push(format!("{} tasks should run for {} desired", wanted.len(), counts.desired));
    }
    let global = service.spec.as_ref().is_some_and(spec::is_global);
    if global {
        for task in tasks.iter().filter(|t| meant_to_run(t) && t.desired_state != Some(TaskState::RUNNING)) {
            problems.push(format!("task {} waits to start", task_name(name, task)));
        }
    }
    // Slots of a replicated service, nodes of a global one: one task each.
    let mut per_place: BTreeMap<String, u64> = BTreeMap::new();
    for task in &wanted {
        let place = match (task.slot, task.node_id.as_deref()) {
            (Some(slot), _) if !global => Some(format!("slot {slot}")),
            (_, Some(node)) if global => Some(format!("node {node}")),
            _ => None,
        };
        if let Some(place) = place {
            *per_place.entry(place).or_default() += 1;
        }
        let status = task.status.as_ref();
        let state = status.and_then(|s| s.state);
        if state != Some(TaskState::RUNNING) {
            let state = state.map(|s| s.to_string()).unwrap_or_else(|| "in an unknown state".into());
            let why = status.and_then(|s| s.err.as_deref().or(s.message.as_deref())).unwrap_or("");
            let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
            problems.push(format!("task {} is {state}{why}", task_name(name, task)));
        } else if let (Some(current), Some(spec)) = (current, task.spec.as_ref())
            && !same_spec(spec, current)
        {
            problems.push(format!("task {} runs an older spec{}", task_name(name, task), spec_change(spec, current)));
        }
    }
    for (place, n) in per_place.iter().filter(|(_, n)| **n > 1) {
        problems.push(format!("{place} has {n} tasks"));
    }
    let value = Some(format!("{wanted_running}/{} running", counts.desired));
    let (outcome, detail) =
        if problems.is_empty() { (Outcome::Pass, None) } else { (Outcome::Fail, Some(limited(problems))) };
    Measurement { outcome, target: name.to_owned(), value, condition: CONDITION.to_owned(), detail }
}

/// Whether a task runs the current spec. Ignored: placement constraints (Swarm keeps a task
/// whose node still satisfies changed constraints instead of replacing it), `Runtime`
/// (the daemon reports `container` on the service's spec but leaves it out of a task's) and
/// the health check (the driver reads it back into service specs only; bollard's task model
/// drops it, see `cluster::swarm`), and the restart policy and stop grace period when the task
/// has none: the daemon shows its defaults for them in a service's spec without storing them,
/// so a task of such a service carries none, while a spec that sets them (as
/// `docker stack deploy` does) passes them on to its tasks.
fn same_spec(task: &TaskSpec, current: &TaskSpec) -> bool {
    let (task, current) = comparable(task, current);
    task == current
}

/// `task` and `current` without the fields [`same_spec`] ignores.
fn comparable(task: &TaskSpec, current: &TaskSpec) -> (TaskSpec, TaskSpec) {
    let strip = |spec: &TaskSpec| {
        let mut spec = spec.clone();
        if let Some(placement) = spec.placement.as_mut() {
            placement.constraints = None;
        }
        spec.runtime = None;
        if let Some(container) = spec.container_spec.as_mut() {
            container.health_check = None;
        }
        if task.restart_policy.is_none() {
            spec.restart_policy = None;
        }
        if task.container_spec.as_ref().is_some_and(|c| c.stop_grace_period.is_none())
            && let Some(container) = spec.container_spec.as_mut()
        {
            container.stop_grace_period = None;
        }
        spec
    };
    (strip(task), strip(current))
}

/// ` (image a, now b)` when the images differ, else the differing fields: ` (ContainerSpec.Env differs)`.
fn spec_change(task: &TaskSpec, current: &TaskSpec) -> String {
    let image = |s: &TaskSpec| s.container_spec.as_ref().and_then(|c| c.image.clone()).unwrap_or_default();
    let (old, new) = (image(task), image(current));
    if old != new {
        return format!(" (image {old}, now {new})");
    }
    let (task, current) = comparable(task, current);
    let (old, new) =
        (serde_json::to_value(&task).unwrap_or_default(), serde_json::to_value(&current).unwrap_or_default());
    let mut fields = Vec::new();
    differing(&old, &new, "", &mut fields);
    if fields.is_empty() { String::new() } else { format!(" ({} differs)", fields.join(", ")) }
}

/// The keys of two JSON objects whose values differ, one level into `ContainerSpec`.
fn differing(old: &serde_json::Value, new: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else { return };
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (a, b) = (old.get(key), new.get(key));
        if a == b || key == "Runtime" || key == "Placement" {
            continue;
        }
        if key == "ContainerSpec" && prefix.is_empty() {
            differing(
                a.unwrap_or(&serde_json::Value::Null),
                b.unwrap_or(&serde_json::Value::Null),
                "ContainerSpec.",
                out,
            );
        } else {
            out.push(format!("{prefix}{key}"));
        }
    }
}

/// The `swarm` kind at run time.
#[async_trait]
impl GateBehavior for SwarmGate {
    fn meter(&self, probe: &LiveProbe, _timeout: Duration, _dir: &Path) -> Box<dyn Meter> {
        Box::new(SwarmMeter::new(self.clone(), probe.cluster.clone()))
    }

    async fn preflight(&self, probe: &LiveProbe, _dir: &Path) -> Option<String> {
        preflight(self, probe.cluster.as_ref()).await
    }

    fn simulated(&self, cluster: &Arc<dyn Cluster>) -> Option<Box<dyn Meter>> {
        Some(Box::new(SwarmMeter::new(self.clone(), cluster.clone())))
    }

    async fn simulated_preflight(&self, cluster: &dyn Cluster) -> Option<String> {
        preflight(self, cluster).await
    }

    /// Nothing to prepare: a measurement needs no container.
    fn warm(&self, _probe: &LiveProbe, _analysis: &plans::model::Analysis) {}
}

#[cfg(test)]
mod tests {
    use bollard::models::{ServiceSpec, ServiceUpdateStatus, TaskSpecContainerSpec, TaskStatus};

    use super::*;

    fn spec(image: &str) -> TaskSpec {
        TaskSpec {
            container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
            ..Default::default()
        }
    }

    fn service(image: &str) -> Service {
        Service {
            id: Some("svc1".into()),
            spec: Some(ServiceSpec { task_template: Some(spec(image)), ..Default::default() }),
            ..Default::default()
        }
    }

    fn task(slot: i64, image: &str, desired: TaskState, state: TaskState, err: Option<&str>) -> Task {
        Task {
            id: Some(format!("task{slot}{image}")),
            slot: Some(slot),
            spec: Some(spec(image)),
            desired_state: Some(desired),
            status: Some(TaskStatus { state: Some(state), err: err.map(Into::into), ..Default::default() }),
            ..Default::default()
        }
    }

    fn running(slot: i64, image: &str) -> Task {
        task(slot, image, TaskState::RUNNING, TaskState::RUNNING, None)
    }

    fn counts(running: u64, desired: u64) -> ServiceCounts {
        ServiceCounts { running, desired }
    }

    #[test]
    fn an_unhealthy_container_counts_unless_its_task_is_an_old_one_being_shut_down() {
        let current = spec("app:v2");
        let stopping_old = task(1, "app:v1", TaskState::SHUTDOWN, TaskState::RUNNING, None);
        assert!(retired(Some(&stopping_old), Some(&current)), "an old task on its way out");
        let running_old = running(1, "app:v1");
        assert!(!retired(Some(&running_old), Some(&current)), "an old task still meant to run counts");
        let stopping_new = task(1, "app:v2", TaskState::SHUTDOWN, TaskState::RUNNING, None);
        assert!(!retired(Some(&stopping_new), Some(&current)), "a task of the release counts even when stopping");
        assert!(!retired(None, Some(&current)), "a container whose task is not listed counts");
    }

    #[test]
    fn converged_service_passes() {
        let old = task(1, "app:v1", TaskState::SHUTDOWN, TaskState::SHUTDOWN, None);
        let tasks = [running(1, "app:v2"), running(2, "app:v2"), old];
        let m = assess("web", &service("app:v2"), counts(2, 2), &tasks);
        assert_eq!(m.outcome, Outcome::Pass, "{m:?}");
        assert_eq!(m.value.as_deref(), Some("2/2 running"));
        assert_eq!(m.detail, None);
    }

    #[test]
    fn missing_task_fails_with_its_error() {
        let crashed = task(2, "app:v2", TaskState::RUNNING, TaskState::FAILED, Some("task: non-zero exit (3)"));
        let m = assess("web", &service("app:v2"), counts(1, 2), &[running(1, "app:v2"), crashed]);
        assert_eq!(m.outcome, Outcome::Fail);
        assert_eq!(m.detail.as_deref(), Some("1 of 2 tasks running; task web.2 is failed (task: non-zero exit (3))"));
    }

    #[test]
    fn starting_task_is_not_ready() {
        let starting = task(2, "app:v2", TaskState::RUNNING, TaskState::STARTING, None);
        let m = assess("web", &service("app:v2"), counts(1, 2), &[running(1, "app:v2"), starting]);
        assert_eq!(m.detail.as_deref(), Some("1 of 2 tasks running; task web.2 is starting"));
    }

    #[test]
    fn a_restart_policy_and_grace_period_count_only_when_the_task_carries_them() {
        use bollard::models::{TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum as Condition};
        let mut current = spec("app:v2");
        current.restart_policy = Some(TaskSpecRestartPolicy {
            condition: Some(Condition::ANY),
            delay: Some(5_000_000_000),
            ..Default::default()
        });
        current.container_spec.as_mut().unwrap().stop_grace_period = Some(10_000_000_000);
        // dockerd shows defaults in a service's spec that its tasks do not carry.
        assert!(same_spec(&spec("app:v2"), &current));
        // A task that carries them is compared on them.
        let mut task = current.clone();
        task.restart_policy.as_mut().unwrap().condition = Some(Condition::ON_FAILURE);
        assert!(!same_spec(&task, &current));
        assert_eq!(spec_change(&task, &current), " (RestartPolicy differs)");
    }

    #[test]
    fn old_spec_fails() {
        let m = assess("web", &service("app:v2"), counts(2, 2), &[running(1, "app:v2"), running(2, "app:v1")]);
        assert_eq!(m.outcome, Outcome::Fail);
        assert_eq!(m.detail.as_deref(), Some("task web.2 runs an older spec (image app:v1, now app:v2)"));
    }

    #[test]
    fn old_spec_names_what_changed() {
        let mut svc = service("app:v2");
        let container = svc.spec.as_mut().unwrap().task_template.as_mut().unwrap().container_spec.as_mut().unwrap();
        container.env = Some(vec!["MODE=new".into()]);
        let m = assess("web", &svc, counts(1, 1), &[running(1, "app:v2")]);
        assert_eq!(m.detail.as_deref(), Some("task web.1 runs an older spec (ContainerSpec.Env differs)"));
    }

    #[test]
    fn changed_constraints_alone_do_not_make_a_task_old() {
        let mut svc = service("app:v2");
        let template = svc.spec.as_mut().unwrap().task_template.as_mut().unwrap();
        template.placement = Some(bollard::models::TaskSpecPlacement {
            constraints: Some(vec!["node.role==manager".into()]),
            ..Default::default()
        });
        let mut t = running(1, "app:v2");
        t.spec.as_mut().unwrap().placement = Some(Default::default());
        assert_eq!(assess("web", &svc, counts(1, 1), &[t]).outcome, Outcome::Pass);
    }

    #[test]
    fn the_runtime_only_the_service_reports_does_not_make_a_task_old() {
        // Measured on Engine API 1.41: the service's TaskTemplate has `"Runtime": "container"`,
        // its tasks' Spec has no Runtime.
        let mut svc = service("app:v2");
        svc.spec.as_mut().unwrap().task_template.as_mut().unwrap().runtime = Some("container".into());
        assert_eq!(assess("web", &svc, counts(1, 1), &[running(1, "app:v2")]).outcome, Outcome::Pass);
    }

    #[test]
    fn extra_tasks_fail() {
        // swarmkit#2242: more tasks than replicas while the counts looked right.
        let tasks = [running(1, "app:v2"), running(2, "app:v2"), running(2, "app:v2")];
        let m = assess("web", &service("app:v2"), counts(2, 2), &tasks);
        assert_eq!(m.detail.as_deref(), Some("3 tasks should run for 2 desired; slot 2 has 2 tasks"));
    }

    /// A global service's task on `node`: no slot, as the Engine API shows it.
    fn on_node(node: &str, desired: TaskState, state: TaskState) -> Task {
        Task {
            slot: None,
            node_id: Some(node.into()),
            id: Some(format!("t-{node}")),
            ..task(0, "app:v2", desired, state, None)
        }
    }

    fn global() -> Service {
        let mut svc = service("app:v2");
        svc.spec.as_mut().unwrap().mode =
            Some(bollard::models::ServiceSpecMode { global: Some(Default::default()), ..Default::default() });
        svc
    }

    #[test]
    fn a_global_service_passes_with_one_running_task_per_node() {
        let run = TaskState::RUNNING;
        let m = assess("agent", &global(), counts(2, 2), &[on_node("n1", run, run), on_node("n2", run, run)]);
        assert_eq!(m.outcome, Outcome::Pass, "{m:?}");
    }

    #[test]
    fn a_global_service_fails_with_two_tasks_on_a_node_or_one_waiting_to_start() {
        let (run, ready) = (TaskState::RUNNING, TaskState::READY);
        let two = [on_node("n1", run, run), on_node("n2", run, run), on_node("n2", run, run)];
        let m = assess("agent", &global(), counts(3, 3), &two);
        assert_eq!(m.detail.as_deref(), Some("node n2 has 2 tasks"));
        // dockerd counts only the tasks that want `running` as desired: 1, for 2 nodes.
        let waiting = [on_node("n1", run, run), on_node("n2", ready, ready)];
        let m = assess("agent", &global(), counts(1, 1), &waiting);
        assert_eq!(m.detail.as_deref(), Some("task agent.n2 waits to start"));
    }

    #[test]
    fn paused_update_fails() {
        let mut svc = service("app:v2");
        svc.update_status = Some(ServiceUpdateStatus {
            state: Some(ServiceUpdateStatusStateEnum::PAUSED),
            message: Some("update paused due to failure or early termination of task abc".into()),
            ..Default::default()
        });
        let m = assess("web", &svc, counts(1, 1), &[running(1, "app:v2")]);
        assert_eq!(
            m.detail.as_deref(),
            Some("update paused: update paused due to failure or early termination of task abc")
        );
    }
}
