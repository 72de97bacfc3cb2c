//! An in-memory swarm for unit tests and, later, the simulated swarm of `planrun plan`.
//!
//! It keeps services with specs and version indexes (a stale index is "out of sequence"),
//! and replaces tasks the way Swarm's updater does: in batches of `parallelism`, start-first or
//! stop-first, watching each new task for `monitor`, then applying the failure action
//! (rollback restores the previous spec, pause stops, continue goes on). How a new task behaves
//! is a knob per image: healthy, exits at once, never healthy, or unhealthy after a while.
//! Everything runs on tokio's clock, so tests can use `tokio::time::pause()`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{
    ContainerStatus, ObjectVersion, Service, ServiceSpec, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatus,
    ServiceUpdateStatusStateEnum, Task, TaskSpec, TaskState, TaskStatus,
};

use super::{Cluster, ClusterError, ConfigObject, ServiceCounts};

/// How a new task running an image behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Starts, passes its health check and keeps running.
    Healthy,
    /// Exits at once with this code (Swarm: "task: non-zero exit (N)").
    Crash(i64),
    /// Never passes its health check: killed after the first one.
    NeverHealthy,
    /// Runs, then fails its health check after this long and is stopped (ends `complete`).
    UnhealthyAfter(Duration),
}

/// How long things take in the fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From a task's creation to running (or to its failure).
    pub start: Duration,
    /// Between a failed task and its replacement.
    pub restart_delay: Duration,
    /// How long a rollback takes once it has nothing to replace.
    pub rollback: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            start: Duration::from_secs(1),
            restart_delay: Duration::from_secs(2),
            rollback: Duration::from_secs(1),
        }
    }
}

/// The fake swarm; clones share the same state.
#[derive(Clone, Default)]
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    index: u64,
    next_id: u64,
    services: HashMap<String, FakeService>,
    configs: Vec<(ConfigObject, Vec<u8>)>,
    behaviors: HashMap<String, Behavior>,
    timing: Timing,
    interfere: u32,
    updates: u32,
}

struct FakeService {
    service: Service,
    previous: Option<ServiceSpec>,
    tasks: Vec<Task>,
    /// Bumped on every change of spec: a rollout of an older generation stops.
    generation: u64,
}

impl State {
    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:04}", self.next_id)
    }

    fn find(&mut self, name_or_id: &str) -> Option<&mut FakeService> {
        self.services.values_mut().find(|s| {
            s.service.id.as_deref() == Some(name_or_id)
                || s.service.spec.as_ref().and_then(|spec| spec.name.as_deref()) == Some(name_or_id)
        })
    }

    fn behavior(&self, template: &TaskSpec) -> Behavior {
        let image = template.container_spec.as_ref().and_then(|c| c.image.clone()).unwrap_or_default();
        self.behaviors.get(&image).copied().unwrap_or(Behavior::Healthy)
    }

    /// A new task in `slot`, starting.
    fn start_task(&mut self, service_id: &str, slot: i64, template: &TaskSpec) -> String {
        let id = self.new_id("task");
        let index = self.next_index();
        let task = Task {
            id: Some(id.clone()),
            version: Some(ObjectVersion { index: Some(index) }),
            spec: Some(template.clone()),
            service_id: Some(service_id.to_string()),
            slot: Some(slot),
            node_id: Some("fake-node".into()),
            status: Some(TaskStatus {
                state: Some(TaskState::STARTING),
                message: Some("starting".into()),
                ..Default::default()
            }),
            desired_state: Some(TaskState::RUNNING),
            ..Default::default()
        };
        if let Some(s) = self.services.get_mut(service_id) {
            s.tasks.push(task);
        }
        id
    }

    fn task_mut(&mut self, service_id: &str, task_id: &str) -> Option<&mut Task> {
        self.services.get_mut(service_id)?.tasks.iter_mut().find(|t| t.id.as_deref() == Some(task_id))
    }
}

fn set_state(task: &mut Task, state: TaskState, message: &str, err: Option<String>, exit: Option<i64>) {
    let status = task.status.get_or_insert_with(Default::default);
    status.state = Some(state);
    status.message = Some(message.to_string());
    status.err = err;
    if let Some(code) = exit {
        status.container_status = Some(ContainerStatus { exit_code: Some(code), ..Default::default() });
    }
    if !matches!(state, TaskState::STARTING | TaskState::RUNNING) {
        task.desired_state = Some(TaskState::SHUTDOWN);
    }
}

fn running(task: &Task) -> bool {
    task.desired_state == Some(TaskState::RUNNING)
        && task.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
}

fn replicas(spec: &ServiceSpec) -> u64 {
    spec.mode.as_ref().and_then(|m| m.replicated.as_ref()).and_then(|r| r.replicas).unwrap_or(1).max(0) as u64
}

fn template(spec: &ServiceSpec) -> TaskSpec {
    spec.task_template.clone().unwrap_or_default()
}

/// The replacement settings of an update or a rollback, with Swarm's defaults.
struct Policy {
    parallelism: usize,
    delay: Duration,
    monitor: Duration,
    start_first: bool,
    on_failure: OnFailure,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OnFailure {
    Rollback,
    Pause,
    Continue,
}

impl Policy {
    fn of(spec: &ServiceSpec, rolling_back: bool) -> Policy {
        let nanos =
            |n: Option<i64>, default: Duration| n.map(|n| Duration::from_nanos(n.max(0) as u64)).unwrap_or(default);
        if rolling_back {
            let c = spec.rollback_config.clone().unwrap_or_default();
            Policy {
                parallelism: c.parallelism.unwrap_or(1).max(0) as usize,
                delay: nanos(c.delay, Duration::ZERO),
                monitor: nanos(c.monitor, Duration::from_secs(5)),
                start_first: c.order.map(|o| o.to_string()) == Some("start-first".into()),
                on_failure: match c.failure_action {
                    Some(ServiceSpecRollbackConfigFailureActionEnum::CONTINUE) => OnFailure::Continue,
                    _ => OnFailure::Pause,
                },
            }
        } else {
            let c = spec.update_config.clone().unwrap_or_default();
            Policy {
                parallelism: c.parallelism.unwrap_or(1).max(0) as usize,
                delay: nanos(c.delay, Duration::ZERO),
                monitor: nanos(c.monitor, Duration::from_secs(5)),
                start_first: c.order == Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
                on_failure: match c.failure_action {
                    Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK) => OnFailure::Rollback,
                    Some(ServiceSpecUpdateConfigFailureActionEnum::CONTINUE) => OnFailure::Continue,
                    _ => OnFailure::Pause,
                },
            }
        }
    }
}

impl FakeCluster {
    /// An empty fake swarm with default timing.
    pub fn new() -> FakeCluster {
        FakeCluster::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake cluster poisoned")
    }

    /// Sets how new tasks running `image` behave (default: healthy).
    pub fn behave(&self, image: &str, behavior: Behavior) {
        self.lock().behaviors.insert(image.to_string(), behavior);
    }

    /// Sets how long things take.
    pub fn set_timing(&self, timing: Timing) {
        self.lock().timing = timing;
    }

    /// Makes the next `n` updates find that another writer bumped the version index first.
    pub fn interfere(&self, n: u32) {
        self.lock().interfere = n;
    }

    /// How many updates were attempted, out-of-sequence ones included.
    pub fn update_calls(&self) -> u32 {
        self.lock().updates
    }

    /// Creates a service whose tasks are already running; returns its id.
    pub fn create_service(&self, spec: ServiceSpec) -> String {
        let mut state = self.lock();
        let id = state.new_id("service");
        let index = state.next_index();
        state.services.insert(
            id.clone(),
            FakeService {
                service: Service {
                    id: Some(id.clone()),
                    version: Some(ObjectVersion { index: Some(index) }),
                    spec: Some(spec.clone()),
                    ..Default::default()
                },
                previous: None,
                tasks: Vec::new(),
                generation: 0,
            },
        );
        for slot in 1..=replicas(&spec) as i64 {
            let task = state.start_task(&id, slot, &template(&spec));
            if let Some(t) = state.task_mut(&id, &task) {
                set_state(t, TaskState::RUNNING, "started", None, None);
            }
        }
        id
    }

    /// A service's current spec.
    pub fn spec(&self, name_or_id: &str) -> Option<ServiceSpec> {
        self.lock().find(name_or_id).and_then(|s| s.service.spec.clone())
    }

    /// Replaces tasks until every slot runs the current spec, like Swarm's updater.
    async fn rollout(self, service_id: String, generation: u64, rolling_back: bool) {
        let (spec, timing, slots) = {
            let mut state = self.lock();
            let timing = state.timing;
            let Some(s) = state.services.get_mut(&service_id) else { return };
            let spec = s.service.spec.clone().unwrap_or_default();
            let n = replicas(&spec) as i64;
            let target = template(&spec);
            // Scale down first: slots beyond the replica count stop.
            for task in s.tasks.iter_mut().filter(|t| t.slot.unwrap_or(0) > n) {
                task.desired_state = Some(TaskState::SHUTDOWN);
            }
            let slots: Vec<i64> = (1..=n)
                .filter(|slot| {
                    !s.tasks.iter().any(|t| t.slot == Some(*slot) && running(t) && t.spec.as_ref() == Some(&target))
                })
                .collect();
            (spec, timing, slots)
        };
        let policy = Policy::of(&spec, rolling_back);
        let batch = if policy.parallelism == 0 { slots.len().max(1) } else { policy.parallelism };
        for chunk in slots.chunks(batch) {
            let mut started = Vec::new();
            {
                let mut state = self.lock();
                if state.services.get(&service_id).map(|s| s.generation) != Some(generation) {
                    return;
                }
                for &slot in chunk {
                    if !policy.start_first {
                        stop_slot(&mut state, &service_id, slot, None);
                    }
                    started.push((slot, state.start_task(&service_id, slot, &template(&spec))));
                }
            }
            tokio::time::sleep(timing.start).await;
            let behavior = {
                let mut state = self.lock();
                if state.services.get(&service_id).map(|s| s.generation) != Some(generation) {
                    return;
                }
                let behavior = state.behavior(&template(&spec));
                for (slot, task) in &started {
                    match behavior {
                        Behavior::Healthy | Behavior::UnhealthyAfter(_) => {
                            if let Some(t) = state.task_mut(&service_id, task) {
                                set_state(t, TaskState::RUNNING, "started", None, None);
                            }
                            stop_slot(&mut state, &service_id, *slot, Some(task));
                        }
                        Behavior::Crash(_) | Behavior::NeverHealthy => {}
                    }
                }
                behavior
            };
            let failed = match behavior {
                Behavior::Healthy => false,
                Behavior::Crash(_) | Behavior::NeverHealthy => true,
                Behavior::UnhealthyAfter(after) if after < policy.monitor => {
                    tokio::time::sleep(after).await;
                    true
                }
                Behavior::UnhealthyAfter(_) => false,
            };
            if failed {
                let mut state = self.lock();
                if state.services.get(&service_id).map(|s| s.generation) != Some(generation) {
                    return;
                }
                for (_, task) in &started {
                    fail_task(&mut state, &service_id, task, behavior);
                }
                let first = started.first().map(|(_, t)| t.clone()).unwrap_or_default();
                let action = if rolling_back && policy.on_failure == OnFailure::Rollback {
                    OnFailure::Pause
                } else {
                    policy.on_failure
                };
                match action {
                    OnFailure::Rollback => {
                        let message = format!("update rolled back due to failure or early termination of task {first}");
                        drop(state);
                        self.roll_back(&service_id, message);
                        return;
                    }
                    OnFailure::Pause => {
                        let message = format!("update paused due to failure or early termination of task {first}");
                        let paused = if rolling_back {
                            ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED
                        } else {
                            ServiceUpdateStatusStateEnum::PAUSED
                        };
                        set_status(&mut state, &service_id, paused, &message);
                        drop(state);
                        for (slot, _) in &started {
                            self.crash_loop(&service_id, generation, *slot, &spec);
                        }
                        return;
                    }
                    OnFailure::Continue => {
                        for (slot, _) in &started {
                            stop_slot(&mut state, &service_id, *slot, None);
                        }
                        drop(state);
                        for (slot, _) in &started {
                            self.crash_loop(&service_id, generation, *slot, &spec);
                        }
                    }
                }
            } else {
                tokio::time::sleep(policy.monitor).await;
            }
            if chunk.len() == batch {
                tokio::time::sleep(policy.delay).await;
            }
        }
        let mut state = self.lock();
        if state.services.get(&service_id).map(|s| s.generation) != Some(generation) {
            return;
        }
        let has_status = state.services.get(&service_id).is_some_and(|s| s.service.update_status.is_some());
        if has_status {
            let (done, message) = if rolling_back {
                (ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED, "rollback completed")
            } else {
                (ServiceUpdateStatusStateEnum::COMPLETED, "update completed")
            };
            let kept = state
                .services
                .get(&service_id)
                .and_then(|s| s.service.update_status.as_ref())
                .and_then(|s| s.message.clone())
                .filter(|_| rolling_back)
                .unwrap_or_else(|| message.to_string());
            set_status(&mut state, &service_id, done, &kept);
        }
    }

    /// Swarm's automatic rollback: the previous spec comes back and is rolled out.
    fn roll_back(&self, service_id: &str, message: String) {
        let generation = {
            let mut state = self.lock();
            let index = state.next_index();
            let Some(s) = state.services.get_mut(service_id) else { return };
            let Some(previous) = s.previous.take() else { return };
            s.service.spec = Some(previous);
            s.service.version = Some(ObjectVersion { index: Some(index) });
            s.generation += 1;
            let generation = s.generation;
            set_status(&mut state, service_id, ServiceUpdateStatusStateEnum::ROLLBACK_STARTED, &message);
            generation
        };
        let timing = self.lock().timing;
        let fake = self.clone();
        let id = service_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(timing.rollback).await;
            fake.rollout(id, generation, true).await;
        });
    }

    /// Restarts a failing slot until the spec changes again (bounded).
    fn crash_loop(&self, service_id: &str, generation: u64, slot: i64, spec: &ServiceSpec) {
        let fake = self.clone();
        let id = service_id.to_string();
        let template = template(spec);
        tokio::spawn(async move {
            for _ in 0..1000 {
                let timing = fake.lock().timing;
                tokio::time::sleep(timing.restart_delay).await;
                let task = {
                    let mut state = fake.lock();
                    if state.services.get(&id).map(|s| s.generation) != Some(generation) {
                        return;
                    }
                    state.start_task(&id, slot, &template)
                };
                tokio::time::sleep(timing.start).await;
                let mut state = fake.lock();
                if state.services.get(&id).map(|s| s.generation) != Some(generation) {
                    return;
                }
                let behavior = state.behavior(&template);
                fail_task(&mut state, &id, &task, behavior);
            }
        });
    }
}

/// Stops the tasks in `slot` that want to run, except `keep`.
fn stop_slot(state: &mut State, service_id: &str, slot: i64, keep: Option<&String>) {
    if let Some(s) = state.services.get_mut(service_id) {
        for task in s.tasks.iter_mut() {
            if task.slot == Some(slot) && task.desired_state == Some(TaskState::RUNNING) && task.id.as_ref() != keep {
                set_state(task, TaskState::SHUTDOWN, "shutdown", None, Some(0));
            }
        }
    }
}

/// Ends a new task the way its image fails.
fn fail_task(state: &mut State, service_id: &str, task_id: &str, behavior: Behavior) {
    let Some(task) = state.task_mut(service_id, task_id) else { return };
    match behavior {
        Behavior::Crash(code) => {
            set_state(task, TaskState::FAILED, "started", Some(format!("task: non-zero exit ({code})")), Some(code))
        }
        // Swarm stops an unhealthy task and the app exits 0 on SIGTERM, so it ends complete; the
        // real swarm names the failing health check from the container (see `swarm.rs`).
        Behavior::NeverHealthy | Behavior::UnhealthyAfter(_) | Behavior::Healthy => {
            set_state(task, TaskState::COMPLETE, "finished", Some(UNHEALTHY.into()), Some(0))
        }
    }
}

/// The error the fake gives a task stopped for failing its health check.
pub const UNHEALTHY: &str = "container unhealthy: health check exited 1: fake check failed";

fn set_status(state: &mut State, service_id: &str, to: ServiceUpdateStatusStateEnum, message: &str) {
    let index = state.next_index();
    if let Some(s) = state.services.get_mut(service_id) {
        let started_at = s.service.update_status.as_ref().and_then(|u| u.started_at.clone());
        s.service.update_status = Some(ServiceUpdateStatus {
            state: Some(to),
            started_at: if to == ServiceUpdateStatusStateEnum::UPDATING {
                Some(format!("index {index}"))
            } else {
                started_at
            },
            completed_at: None,
            message: Some(message.to_string()),
        });
        // Swarm writes the status into the service object, which bumps its version.
        s.service.version = Some(ObjectVersion { index: Some(index) });
    }
}

#[async_trait]
impl Cluster for FakeCluster {
    async fn service(&self, name: &str) -> Result<Service, ClusterError> {
        let mut state = self.lock();
        state.find(name).map(|s| s.service.clone()).ok_or_else(|| ClusterError::NotFound(format!("service {name}")))
    }

    async fn update_service(&self, id: &str, version: u64, spec: ServiceSpec) -> Result<(), ClusterError> {
        let (generation, rolling) = {
            let mut state = self.lock();
            state.updates += 1;
            let index = state.next_index();
            let interfere = state.interfere > 0;
            state.interfere = state.interfere.saturating_sub(1);
            let s = state.find(id).ok_or_else(|| ClusterError::NotFound(format!("service {id}")))?;
            let current = s.service.version.as_ref().and_then(|v| v.index).unwrap_or(0);
            if interfere {
                // Another writer got there first.
                s.service.version = Some(ObjectVersion { index: Some(index) });
                return Err(ClusterError::OutOfSequence);
            }
            if version != current {
                return Err(ClusterError::OutOfSequence);
            }
            let old = s.service.spec.clone().unwrap_or_default();
            let template_changed = template(&old) != template(&spec);
            let scaled = replicas(&old) != replicas(&spec);
            s.previous = Some(old);
            s.service.spec = Some(spec);
            s.service.version = Some(ObjectVersion { index: Some(index) });
            // Swarm resets the update status on every update; only a new task template starts one.
            s.service.update_status = None;
            s.generation += 1;
            let generation = s.generation;
            let sid = s.service.id.clone().unwrap_or_default();
            if template_changed {
                set_status(&mut state, &sid, ServiceUpdateStatusStateEnum::UPDATING, "update in progress");
            }
            (generation, (template_changed || scaled).then_some(sid))
        };
        if let Some(sid) = rolling {
            tokio::spawn(self.clone().rollout(sid, generation, false));
        }
        Ok(())
    }

    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError> {
        let mut state = self.lock();
        state
            .find(service_id)
            .map(|s| s.tasks.clone())
            .ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))
    }

    async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError> {
        let mut state = self.lock();
        let s = state.find(service_id).ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        let desired = replicas(s.service.spec.as_ref().unwrap_or(&ServiceSpec::default()));
        let running = s.tasks.iter().filter(|t| running(t)).count() as u64;
        Ok(ServiceCounts { running, desired })
    }

    async fn create_config(
        &self,
        name: &str,
        labels: HashMap<String, String>,
        data: &[u8],
    ) -> Result<String, ClusterError> {
        let mut state = self.lock();
        if state.configs.iter().any(|(c, _)| c.name == name) {
            return Err(ClusterError::Conflict(format!("config {name}")));
        }
        let id = state.new_id("config");
        state.configs.push((ConfigObject { id: id.clone(), name: name.to_string(), labels }, data.to_vec()));
        Ok(id)
    }

    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
        Ok(self.lock().configs.iter().find(|(c, _)| c.name == name).map(|(c, _)| c.clone()))
    }

    async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let before = state.configs.len();
        state.configs.retain(|(c, _)| c.id != id);
        if state.configs.len() == before {
            return Err(ClusterError::NotFound(format!("config {id}")));
        }
        Ok(())
    }
}
