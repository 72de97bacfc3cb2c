//! An in-memory swarm for unit tests and for running a whole plan in virtual time.
//!
//! It keeps services with specs and version indexes (a stale index is "out of sequence"),
//! and replaces tasks the way Swarm's updater does: in batches of `parallelism`, start-first or
//! stop-first, watching each new task for `monitor` while the next batches go on and once more
//! after the last batch (as swarmkit's updater does), then applying the failure action
//! (rollback restores the previous spec, pause stops, continue goes on). A task that fails
//! outside an update is restarted after the spec's restart delay, as Swarm does.
//!
//! A replicated service's tasks fill slots 1..=replicas; a global service's fill the fake's
//! nodes (one, [`NODE`], unless a test sets others), one task per node and no slot, as the Engine
//! API shows them. Updates, rollbacks and restarts go node by node exactly as slot by slot, and
//! the desired count of a global service is the number of nodes.
//!
//! How a task running an image behaves is a knob per image ([`Behavior`]); how long it takes
//! comes from the service's own health check, as on a real swarm: a task with a health check
//! is `starting` until its first check passes (`interval` after the container started) and is
//! killed after `retries` failed checks. One-off jobs (replicated-job mode) run to completion
//! and leave the image's scripted output in the service's logs.
//!
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

use super::{Cluster, ClusterError, ConfigObject, Network, NewNetwork, NewObject, SecretObject, ServiceCounts};

/// How a task running an image behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Starts, passes its health check and keeps running (a job: exits 0).
    Healthy,
    /// Exits at once with this code (Swarm: "task: non-zero exit (N)").
    Crash(i64),
    /// Never passes its health check: killed after `retries` failed checks.
    NeverHealthy,
    /// Runs and passes its checks, then is stopped as unhealthy this long after it started
    /// (ends `complete`, like an app that exits 0 on SIGTERM).
    UnhealthyAfter(Duration),
}

/// How long things take in the fake, besides what the health check decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From a task's creation to its container running.
    pub start: Duration,
    /// Between a failed task and its replacement when the spec sets no restart delay.
    pub restart_delay: Duration,
    /// How long Swarm takes to start a rollback once it decided on one.
    pub rollback: Duration,
    /// From a service update to Swarm's updater saying `updating`. Until then the update
    /// status is empty (Swarm resets it on every write) and the old tasks still run: a
    /// follower that judges tasks by their image alone sees a config-only change as done.
    pub updater: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            start: Duration::from_secs(1),
            restart_delay: Duration::from_secs(2),
            rollback: Duration::from_secs(1),
            updater: Duration::from_millis(20),
        }
    }
}

/// The health check's timing, with Docker's defaults for what the spec leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Between checks (Docker's default 30 s).
    pub interval: Duration,
    /// Failed checks before the container is unhealthy (default 3).
    pub retries: u32,
    /// Failures in this time after the start do not count (default 0).
    pub start_period: Duration,
}

impl Health {
    /// The health check of a task template, if it has one that is not `NONE`.
    pub fn of(template: &TaskSpec) -> Option<Health> {
        let check = template.container_spec.as_ref()?.health_check.as_ref()?;
        let test = check.test.clone().unwrap_or_default();
        if test.is_empty() || test.first().map(String::as_str) == Some("NONE") {
            return None;
        }
        let nanos = |n: Option<i64>, default: Duration| match n {
            Some(n) if n > 0 => Duration::from_nanos(n as u64),
            _ => default,
        };
        Some(Health {
            interval: nanos(check.interval, Duration::from_secs(30)),
            retries: check.retries.filter(|r| *r > 0).map(|r| r as u32).unwrap_or(3),
            start_period: nanos(check.start_period, Duration::ZERO),
        })
    }

    /// From the container's start to its first passing check.
    pub fn until_healthy(&self) -> Duration {
        self.interval
    }

    /// From the container's start to being killed when every check fails.
    pub fn until_unhealthy(&self) -> Duration {
        (self.interval * self.retries).max(self.start_period + self.interval)
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
    /// Service ids by name: lookups by name stay quick on a swarm of thousands of services.
    by_name: HashMap<String, String>,
    configs: Vec<ConfigObject>,
    networks: Vec<Network>,
    /// The API version it claims, to model a daemon that drops newer fields (`None`: keeps all).
    api: Option<(u32, u32)>,
    secrets: Vec<(SecretObject, Vec<u8>)>,
    behaviors: HashMap<String, Behavior>,
    job_behaviors: HashMap<String, Behavior>,
    outputs: HashMap<String, String>,
    timing: Timing,
    interfere: u32,
    updates: u32,
    nodes: Nodes,
}

/// The node a fake swarm has unless a test gives it others.
pub const NODE: &str = "fake-node";

/// The fake swarm's nodes, by id; all of them may run any task.
struct Nodes(Vec<String>);

impl Default for Nodes {
    fn default() -> Self {
        Nodes(vec![NODE.to_owned()])
    }
}

/// Where a task runs: a slot of a replicated service (or a job's completion), or the node of a
/// global service.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Slot(i64),
    Node(String),
}

impl Place {
    /// Where `task` is.
    fn of(task: &Task) -> Place {
        match task.slot {
            Some(slot) => Place::Slot(slot),
            None => Place::Node(task.node_id.clone().unwrap_or_default()),
        }
    }

    fn holds(&self, task: &Task) -> bool {
        Place::of(task) == *self
    }
}

struct FakeService {
    service: Service,
    previous: Option<ServiceSpec>,
    tasks: Vec<Task>,
    logs: Vec<String>,
    /// Bumped on every change of spec: work started for an older generation stops.
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
        let id = match self.services.contains_key(name_or_id) {
            true => name_or_id.to_owned(),
            false => self.by_name.get(name_or_id)?.clone(),
        };
        self.services.get_mut(&id)
    }

    fn behavior(&self, template: &TaskSpec) -> Behavior {
        self.behaviors.get(&image_of(template)).copied().unwrap_or(Behavior::Healthy)
    }

    fn generation(&self, service_id: &str) -> Option<u64> {
        self.services.get(service_id).map(|s| s.generation)
    }

    /// The places a spec's tasks fill: its slots, or for a global service every node.
    fn places(&self, spec: &ServiceSpec) -> Vec<Place> {
        if is_global(spec) {
            self.nodes.0.iter().cloned().map(Place::Node).collect()
        } else {
            (1..=replicas(spec) as i64).map(Place::Slot).collect()
        }
    }

    /// A new task in `place`, starting. Slots are spread over the nodes in turn.
    fn start_task(&mut self, service_id: &str, place: &Place, template: &TaskSpec) -> String {
        let id = self.new_id("task");
        let index = self.next_index();
        let (slot, node) = match place {
            Place::Slot(slot) => {
                let nodes = &self.nodes.0;
                let at = (*slot - 1).rem_euclid(nodes.len().max(1) as i64) as usize;
                (Some(*slot), nodes.get(at).cloned())
            }
            Place::Node(node) => (None, Some(node.clone())),
        };
        let task = Task {
            id: Some(id.clone()),
            version: Some(ObjectVersion { index: Some(index) }),
            spec: Some(template.clone()),
            service_id: Some(service_id.to_string()),
            slot,
            node_id: node,
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

    fn is_running(&mut self, service_id: &str, task_id: &str) -> bool {
        self.task_mut(service_id, task_id).is_some_and(|t| running(t))
    }
}

fn image_of(template: &TaskSpec) -> String {
    template.container_spec.as_ref().and_then(|c| c.image.clone()).unwrap_or_default()
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

fn is_global(spec: &ServiceSpec) -> bool {
    spec.mode.as_ref().is_some_and(|m| m.global.is_some())
}

fn is_job(spec: &ServiceSpec) -> bool {
    spec.mode.as_ref().is_some_and(|m| m.replicated_job.is_some() || m.global_job.is_some())
}

fn template(spec: &ServiceSpec) -> TaskSpec {
    spec.task_template.clone().unwrap_or_default()
}

/// When a new task of `template` is known to be up, or to have failed, counted from its creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Running (and healthy, if it has a health check) after this long.
    Up(Duration),
    /// Failed after this long.
    Failed(Duration),
}

/// How the first moments of a new task go, and when it dies later if it does.
fn start_of(behavior: Behavior, template: &TaskSpec, timing: &Timing) -> (Start, Option<Duration>) {
    let health = Health::of(template);
    let up = timing.start + health.map(|h| h.until_healthy()).unwrap_or_default();
    match behavior {
        Behavior::Healthy => (Start::Up(up), None),
        Behavior::Crash(_) => (Start::Failed(timing.start), None),
        Behavior::NeverHealthy => {
            let after = health.map(|h| h.until_unhealthy()).unwrap_or_default();
            (Start::Failed(timing.start + after), None)
        }
        Behavior::UnhealthyAfter(after) if timing.start + after <= up => (Start::Failed(timing.start + after), None),
        Behavior::UnhealthyAfter(after) => (Start::Up(up), Some(timing.start + after)),
    }
}

fn restart_delay(template: &TaskSpec, timing: &Timing) -> Duration {
    template
        .restart_policy
        .as_ref()
        .and_then(|p| p.delay)
        .filter(|d| *d > 0)
        .map(|d| Duration::from_nanos(d as u64))
        .unwrap_or(timing.restart_delay)
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

    /// Sets how one-off jobs running `image` end (default: as its services behave).
    pub fn job_behave(&self, image: &str, behavior: Behavior) {
        self.lock().job_behaviors.insert(image.to_string(), behavior);
    }

    /// Sets what a job running `image` writes to its logs.
    pub fn job_output(&self, image: &str, output: &str) {
        self.lock().outputs.insert(image.to_string(), output.to_string());
    }

    /// Sets how long things take.
    pub fn set_timing(&self, timing: Timing) {
        self.lock().timing = timing;
    }

    /// Makes the next `n` updates find that another writer bumped the version index first.
    pub fn interfere(&self, n: u32) {
        self.lock().interfere = n;
    }

    /// Claims this Engine API version (a live daemon's, for a simulation of it).
    pub fn set_api_version(&self, api: Option<(u32, u32)>) {
        self.lock().api = api;
    }

    /// How many updates were attempted, out-of-sequence ones included.
    pub fn update_calls(&self) -> u32 {
        self.lock().updates
    }

    /// Gives the fake these nodes (default: one, [`NODE`]). Services added or updated from
    /// then on place their tasks on them; tasks already running stay where they are.
    pub fn set_nodes(&self, nodes: &[&str]) {
        self.lock().nodes = Nodes(nodes.iter().map(|n| (*n).to_owned()).collect());
    }

    /// A second running task in `slot` of the service, on its current spec: what Swarm
    /// sometimes leaves behind after rolling back on its own (swarmkit#2242).
    pub fn duplicate_slot(&self, service: &str, slot: i64) {
        self.duplicate(service, Place::Slot(slot));
    }

    /// A second running task of a global service on `node`, on its current spec.
    pub fn duplicate_on_node(&self, service: &str, node: &str) {
        self.duplicate(service, Place::Node(node.to_owned()));
    }

    fn duplicate(&self, service: &str, place: Place) {
        let mut state = self.lock();
        let id = state.new_id("task");
        let s = state.find(service).expect("the service exists");
        let task = s
            .tasks
            .iter()
            .find(|t| place.holds(t) && t.desired_state == Some(TaskState::RUNNING))
            .cloned()
            .expect("a task there");
        s.tasks.push(Task { id: Some(id), ..task });
    }

    /// The running task of a global service on `node` dies (exit 137, as if killed), and is
    /// restarted after the restart delay like any task that fails outside an update: until
    /// then the node runs none.
    pub fn kill_on_node(&self, service: &str, node: &str) {
        let place = Place::Node(node.to_owned());
        let (service_id, generation, template, timing) = {
            let mut state = self.lock();
            let timing = state.timing;
            let s = state.find(service).expect("the service exists");
            let (service_id, generation) = (s.service.id.clone().unwrap_or_default(), s.generation);
            let task = s.tasks.iter_mut().find(|t| place.holds(t) && running(t)).expect("a running task on the node");
            let template = task.spec.clone().unwrap_or_default();
            set_state(task, TaskState::FAILED, "started", Some("task: non-zero exit (137)".into()), Some(137));
            (service_id, generation, template, timing)
        };
        self.restart(service_id, generation, place, template, timing);
    }

    /// Adds a service whose tasks are already running; returns its id.
    pub fn add_service(&self, spec: ServiceSpec) -> String {
        let mut state = self.lock();
        let id = insert_service(&mut state, spec.clone());
        for place in state.places(&spec) {
            let task = state.start_task(&id, &place, &template(&spec));
            if let Some(t) = state.task_mut(&id, &task) {
                set_state(t, TaskState::RUNNING, "started", None, None);
            }
        }
        id
    }

    /// Adds an overlay network; returns its id.
    pub fn add_network(&self, name: &str) -> String {
        let mut state = self.lock();
        let id = state.new_id("network");
        state.networks.push(Network { id: id.clone(), name: name.to_owned() });
        id
    }

    /// Adds an overlay network with the id a real swarm gave it.
    pub fn add_network_with_id(&self, id: &str, name: &str) {
        self.lock().networks.push(Network { id: id.to_owned(), name: name.to_owned() });
    }

    /// Adds a secret as a real swarm holds it (same id; its data unknown).
    pub fn add_secret(&self, secret: SecretObject) {
        self.lock().secrets.push((secret, Vec::new()));
    }

    /// Adds a config object as a real swarm holds it (same id).
    pub fn add_config(&self, config: ConfigObject) {
        self.lock().configs.push(config);
    }

    /// The names of every service, sorted.
    pub fn service_names(&self) -> Vec<String> {
        let state = self.lock();
        let mut names: Vec<String> = state
            .services
            .values()
            .filter_map(|s| s.service.spec.as_ref().and_then(|spec| spec.name.clone()))
            .collect();
        names.sort();
        names
    }

    /// The data of the config object named `name`.
    pub fn config_data(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().configs.iter().find(|c| c.name == name).map(|c| c.data.clone())
    }

    /// A service's current spec.
    pub fn spec(&self, name_or_id: &str) -> Option<ServiceSpec> {
        self.lock().find(name_or_id).and_then(|s| s.service.spec.clone())
    }

    /// Starts a task in `place` and lives it: up (or failed) after its start, and for an image
    /// that turns unhealthy later, dead then and restarted, for as long as the spec lasts.
    /// A death within `monitored` after the task is up is left to the updater watching it.
    /// Returns the task id and how its start went.
    fn start_in(
        &self,
        service_id: &str,
        generation: u64,
        place: &Place,
        template: &TaskSpec,
        monitored: Duration,
    ) -> (String, Start) {
        let (task, start, dies, timing) = {
            let mut state = self.lock();
            let timing = state.timing;
            let behavior = state.behavior(template);
            let (start, dies) = start_of(behavior, template, &timing);
            let dies = match start {
                Start::Up(up) => dies.filter(|d| *d >= up + monitored),
                Start::Failed(_) => None,
            };
            (state.start_task(service_id, place, template), start, dies, timing)
        };
        if let Some(after) = dies {
            let (fake, service_id, task, template, place) =
                (self.clone(), service_id.to_owned(), task.clone(), template.clone(), place.clone());
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let mut state = fake.lock();
                if state.generation(&service_id) != Some(generation) || !state.is_running(&service_id, &task) {
                    return;
                }
                fail_task(&mut state, &service_id, &task, Behavior::UnhealthyAfter(after));
                drop(state);
                fake.restart(service_id, generation, place, template, timing);
            });
        }
        (task, start)
    }

    /// Swarm's restart of a slot (node) whose task died outside an update.
    fn restart(&self, service_id: String, generation: u64, place: Place, template: TaskSpec, timing: Timing) {
        let fake = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(restart_delay(&template, &timing)).await;
            if fake.lock().generation(&service_id) != Some(generation) {
                return;
            }
            let (task, start) = fake.start_in(&service_id, generation, &place, &template, Duration::ZERO);
            fake.settle(&service_id, generation, &task, start, &template).await;
        });
    }

    /// Waits out a task's start and sets its state; a failed one is restarted.
    async fn settle(&self, service_id: &str, generation: u64, task: &str, start: Start, template: &TaskSpec) {
        let (Start::Up(after) | Start::Failed(after)) = start;
        tokio::time::sleep(after).await;
        let mut state = self.lock();
        if state.generation(service_id) != Some(generation) {
            return;
        }
        let behavior = state.behavior(template);
        match start {
            Start::Up(_) => {
                if let Some(t) = state.task_mut(service_id, task) {
                    set_state(t, TaskState::RUNNING, "started", None, None);
                }
            }
            Start::Failed(_) => {
                fail_task(&mut state, service_id, task, behavior);
                let timing = state.timing;
                drop(state);
                self.restart(
                    service_id.to_owned(),
                    generation,
                    place_of(self, service_id, task),
                    template.clone(),
                    timing,
                );
            }
        }
    }

    /// Replaces tasks until every slot (node) runs the current spec, like Swarm's updater.
    async fn rollout(self, service_id: String, generation: u64, rolling_back: bool) {
        let (spec, places) = {
            let mut state = self.lock();
            let Some(spec) = state.services.get(&service_id).and_then(|s| s.service.spec.clone()) else { return };
            let all = state.places(&spec);
            let Some(s) = state.services.get_mut(&service_id) else { return };
            let target = template(&spec);
            // Scale down first: slots beyond the replica count (nodes the fake no longer has) stop.
            for task in s.tasks.iter_mut().filter(|t| !all.contains(&Place::of(t))) {
                if task.desired_state == Some(TaskState::RUNNING) {
                    set_state(task, TaskState::SHUTDOWN, "shutdown", None, Some(0));
                }
            }
            // A place already running the target keeps that task alone: a replacement an
            // abandoned update was still starting there is shut down, as Swarm's reconciler does.
            for place in &all {
                let on_target = |t: &Task| place.holds(t) && running(t) && t.spec.as_ref() == Some(&target);
                if let Some(keep) = s.tasks.iter().find(|t| on_target(t)).and_then(|t| t.id.clone()) {
                    for task in s.tasks.iter_mut().filter(|t| place.holds(t) && t.id.as_ref() != Some(&keep)) {
                        if task.desired_state == Some(TaskState::RUNNING) {
                            set_state(task, TaskState::SHUTDOWN, "shutdown", None, Some(0));
                        }
                    }
                }
            }
            let places: Vec<Place> = all
                .into_iter()
                .filter(|place| {
                    !s.tasks.iter().any(|t| place.holds(t) && running(t) && t.spec.as_ref() == Some(&target))
                })
                .collect();
            (spec, places)
        };
        let target = template(&spec);
        let policy = Policy::of(&spec, rolling_back);
        let batch = if policy.parallelism == 0 { places.len().max(1) } else { policy.parallelism };
        for chunk in places.chunks(batch) {
            let mut started = Vec::new();
            {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                if !policy.start_first {
                    for place in chunk {
                        stop_place(&mut state, &service_id, place, None);
                    }
                }
            }
            for place in chunk {
                let (task, start) = self.start_in(&service_id, generation, place, &target, policy.monitor);
                started.push((place, task, start));
            }
            // The batch is judged when its slowest task is up or failed.
            let wait = started.iter().map(|(_, _, s)| match s {
                Start::Up(d) | Start::Failed(d) => *d,
            });
            tokio::time::sleep(wait.max().unwrap_or_default()).await;
            let behavior = {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                for (place, task, start) in &started {
                    if let Start::Up(_) = start {
                        if let Some(t) = state.task_mut(&service_id, task) {
                            set_state(t, TaskState::RUNNING, "started", None, None);
                        }
                        stop_place(&mut state, &service_id, place, Some(task));
                    }
                }
                state.behavior(&target)
            };
            let up = started.iter().all(|(_, _, s)| matches!(s, Start::Up(_)));
            // A task that dies inside the monitor window fails the batch; later deaths are
            // the task's own business (restarts), which Swarm no longer counts.
            let dies_in_window = match (behavior, started.first()) {
                (Behavior::UnhealthyAfter(after), Some((_, _, Start::Up(up_after)))) => {
                    let timing = self.lock().timing;
                    let dies = timing.start + after;
                    (dies < *up_after + policy.monitor).then(|| dies.saturating_sub(*up_after))
                }
                _ => None,
            };
            let failed = if !up {
                true
            } else if let Some(after) = dies_in_window {
                tokio::time::sleep(after).await;
                true
            } else {
                // Swarm watches the batch for `monitor` while the next batches go on
                // (swarmkit's updater), and once more after the last one, below.
                false
            };
            if failed {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                for (_, task, _) in &started {
                    fail_task(&mut state, &service_id, task, behavior);
                }
                let first = started.first().map(|(_, t, _)| t.clone()).unwrap_or_default();
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
                        let timing = state.timing;
                        drop(state);
                        for (place, _, _) in &started {
                            self.restart(service_id.clone(), generation, (*place).clone(), target.clone(), timing);
                        }
                        return;
                    }
                    OnFailure::Continue => {
                        let timing = state.timing;
                        drop(state);
                        for (place, _, _) in &started {
                            self.restart(service_id.clone(), generation, (*place).clone(), target.clone(), timing);
                        }
                    }
                }
            }
            if chunk.len() == batch {
                tokio::time::sleep(policy.delay).await;
            }
        }
        // Before declaring the update complete, Swarm keeps watching for one more monitor period.
        tokio::time::sleep(policy.monitor).await;
        let mut state = self.lock();
        if state.generation(&service_id) != Some(generation) {
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

    /// Runs a job's tasks to completion; their output goes to the service's logs.
    async fn run_job(self, service_id: String, generation: u64) {
        let (template, completions, timing, behavior, output) = {
            let state = self.lock();
            let Some(s) = state.services.get(&service_id) else { return };
            let spec = s.service.spec.clone().unwrap_or_default();
            let completions = spec
                .mode
                .as_ref()
                .and_then(|m| m.replicated_job.as_ref())
                .and_then(|j| j.total_completions)
                .unwrap_or(1)
                .max(1);
            let template = template(&spec);
            let image = image_of(&template);
            let behavior = state.job_behaviors.get(&image).copied().unwrap_or_else(|| state.behavior(&template));
            let output = state.outputs.get(&image).cloned().unwrap_or_default();
            (template, completions, state.timing, behavior, output)
        };
        for slot in 0..completions {
            let task = {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                state.start_task(&service_id, &Place::Slot(slot), &template)
            };
            tokio::time::sleep(timing.start).await;
            let mut state = self.lock();
            if state.generation(&service_id) != Some(generation) {
                return;
            }
            if let Some(s) = state.services.get_mut(&service_id) {
                s.logs.extend(output.lines().map(str::to_owned));
            }
            let Some(t) = state.task_mut(&service_id, &task) else { return };
            match behavior {
                Behavior::Crash(code) => set_state(
                    t,
                    TaskState::FAILED,
                    "started",
                    Some(format!("task: non-zero exit ({code})")),
                    Some(code),
                ),
                _ => set_state(t, TaskState::COMPLETE, "finished", None, Some(0)),
            }
            t.desired_state = Some(TaskState::COMPLETE);
        }
    }
}

fn place_of(fake: &FakeCluster, service_id: &str, task: &str) -> Place {
    fake.lock().task_mut(service_id, task).map(|t| Place::of(t)).unwrap_or(Place::Slot(0))
}

fn insert_service(state: &mut State, spec: ServiceSpec) -> String {
    let id = state.new_id("service");
    let index = state.next_index();
    if let Some(name) = &spec.name {
        state.by_name.insert(name.clone(), id.clone());
    }
    state.services.insert(
        id.clone(),
        FakeService {
            service: Service {
                id: Some(id.clone()),
                version: Some(ObjectVersion { index: Some(index) }),
                spec: Some(spec),
                ..Default::default()
            },
            previous: None,
            tasks: Vec::new(),
            logs: Vec::new(),
            generation: 0,
        },
    );
    id
}

/// Stops the tasks in `place` that want to run, except `keep`.
fn stop_place(state: &mut State, service_id: &str, place: &Place, keep: Option<&String>) {
    if let Some(s) = state.services.get_mut(service_id) {
        for task in s.tasks.iter_mut() {
            if place.holds(task) && task.desired_state == Some(TaskState::RUNNING) && task.id.as_ref() != keep {
                set_state(task, TaskState::SHUTDOWN, "shutdown", None, Some(0));
            }
        }
    }
}

/// Ends a task the way its image fails.
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

fn has_label(spec: &ServiceSpec, label: &str) -> bool {
    let labels = spec.labels.clone().unwrap_or_default();
    match label.split_once('=') {
        Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
        None => labels.contains_key(label),
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
            // Tasks an interrupted update left on an older template: Swarm's updater replaces
            // them on any later write, with the new spec's update config.
            let new_template = template(&spec);
            let dirty = s
                .tasks
                .iter()
                .any(|t| t.desired_state == Some(TaskState::RUNNING) && t.spec.as_ref() != Some(&new_template));
            s.previous = Some(old);
            s.service.spec = Some(spec);
            s.service.version = Some(ObjectVersion { index: Some(index) });
            // Swarm resets the update status on every update; only a new task template starts one.
            s.service.update_status = None;
            s.generation += 1;
            let generation = s.generation;
            let sid = s.service.id.clone().unwrap_or_default();
            (generation, (template_changed || scaled || dirty).then_some((sid, template_changed || dirty)))
        };
        if let Some((sid, updating)) = rolling {
            let fake = self.clone();
            let after = self.lock().timing.updater;
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                {
                    let mut state = fake.lock();
                    if state.generation(&sid) != Some(generation) {
                        return;
                    }
                    if updating {
                        set_status(&mut state, &sid, ServiceUpdateStatusStateEnum::UPDATING, "update in progress");
                    }
                }
                fake.rollout(sid, generation, false).await;
            });
        }
        Ok(())
    }

    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError> {
        let mut state = self.lock();
        state
            .find(service_id)
            .map(|s| s.tasks.iter().map(as_read).collect())
            .ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))
    }

    async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError> {
        let mut state = self.lock();
        let s = state.find(service_id).ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        let spec = s.service.spec.clone().unwrap_or_default();
        let running = s.tasks.iter().filter(|t| running(t)).count() as u64;
        // dockerd counts a global service's tasks that want to run; the fake counts the nodes
        // that should run one, which is what those tasks add up to once the service converged.
        let desired = if is_global(&spec) { state.nodes.0.len() as u64 } else { replicas(&spec) };
        Ok(ServiceCounts { running, desired })
    }

    async fn create_config(&self, config: NewObject) -> Result<String, ClusterError> {
        let NewObject { name, labels, data, .. } = config;
        let (name, data) = (name.as_str(), data.as_slice());
        let mut state = self.lock();
        if state.configs.iter().any(|c| c.name == name) {
            return Err(ClusterError::Conflict(format!("config {name}")));
        }
        let id = state.new_id("config");
        state.configs.push(ConfigObject { id: id.clone(), name: name.to_string(), labels, data: data.to_vec() });
        Ok(id)
    }

    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
        Ok(self.lock().configs.iter().find(|c| c.name == name).cloned())
    }

    async fn api_version(&self) -> Option<(u32, u32)> {
        self.lock().api
    }

    async fn secrets(&self, label: &str) -> Result<Vec<SecretObject>, ClusterError> {
        let matches = |labels: &HashMap<String, String>| match label.split_once('=') {
            Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
            None => labels.contains_key(label),
        };
        Ok(self.lock().secrets.iter().filter(|(s, _)| matches(&s.labels)).map(|(s, _)| s.clone()).collect())
    }

    async fn configs(&self, label: &str) -> Result<Vec<ConfigObject>, ClusterError> {
        let matches = |labels: &HashMap<String, String>| match label.split_once('=') {
            Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
            None => labels.contains_key(label),
        };
        Ok(self.lock().configs.iter().filter(|c| matches(&c.labels)).cloned().collect())
    }

    async fn network(&self, name_or_id: &str) -> Result<Option<Network>, ClusterError> {
        Ok(self.lock().networks.iter().find(|n| n.id == name_or_id || n.name == name_or_id).cloned())
    }

    async fn create_network(&self, network: NewNetwork) -> Result<String, ClusterError> {
        let mut state = self.lock();
        if state.networks.iter().any(|n| n.name == network.name) {
            return Err(ClusterError::Conflict(format!("network {}", network.name)));
        }
        let id = state.new_id("network");
        state.networks.push(Network { id: id.clone(), name: network.name });
        Ok(id)
    }

    async fn remove_network(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let Some(network) = state.networks.iter().find(|n| n.id == id || n.name == id).cloned() else {
            return Err(ClusterError::NotFound(format!("network {id}")));
        };
        // As the daemon does: a network a service is attached to cannot be removed.
        let in_use = state.services.values().any(|s| {
            let networks =
                s.service.spec.as_ref().and_then(|spec| spec.task_template.as_ref()).and_then(|t| t.networks.clone());
            networks.unwrap_or_default().iter().any(|n| n.target.as_deref() == Some(network.id.as_str()))
        });
        if in_use {
            return Err(ClusterError::Other(format!("network {} is in use by a service", network.name)));
        }
        state.networks.retain(|n| n.id != network.id);
        Ok(())
    }

    async fn secret(&self, name: &str) -> Result<Option<SecretObject>, ClusterError> {
        Ok(self.lock().secrets.iter().find(|(s, _)| s.name == name).map(|(s, _)| s.clone()))
    }

    async fn create_secret(&self, secret: NewObject) -> Result<String, ClusterError> {
        let NewObject { name, labels, data, .. } = secret;
        let (name, data) = (name.as_str(), data.as_slice());
        let mut state = self.lock();
        if state.secrets.iter().any(|(s, _)| s.name == name) {
            return Err(ClusterError::Conflict(format!("secret {name}")));
        }
        let id = state.new_id("secret");
        state.secrets.push((SecretObject { id: id.clone(), name: name.to_string(), labels }, data.to_vec()));
        Ok(id)
    }

    async fn remove_secret(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let before = state.secrets.len();
        state.secrets.retain(|(s, _)| s.id != id);
        if state.secrets.len() == before {
            return Err(ClusterError::NotFound(format!("secret {id}")));
        }
        Ok(())
    }

    async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        // As the daemon does: a config a service mounts cannot be removed.
        let in_use = state.services.values().any(|s| {
            let configs = s
                .service
                .spec
                .as_ref()
                .and_then(|spec| spec.task_template.as_ref())
                .and_then(|t| t.container_spec.as_ref())
                .and_then(|c| c.configs.clone());
            configs.unwrap_or_default().iter().any(|c| c.config_id.as_deref() == Some(id))
        });
        if in_use {
            return Err(ClusterError::Other(format!("config {id} is in use by a service")));
        }
        let before = state.configs.len();
        state.configs.retain(|c| c.id != id);
        if state.configs.len() == before {
            return Err(ClusterError::NotFound(format!("config {id}")));
        }
        Ok(())
    }

    async fn create_service(&self, spec: ServiceSpec) -> Result<String, ClusterError> {
        let name = spec.name.clone().unwrap_or_default();
        let (id, job) = {
            let mut state = self.lock();
            if state.find(&name).is_some() {
                return Err(ClusterError::Conflict(format!("service {name}")));
            }
            (insert_service(&mut state, spec.clone()), is_job(&spec))
        };
        if job {
            tokio::spawn(self.clone().run_job(id.clone(), 0));
        } else {
            let target = template(&spec);
            let places = self.lock().places(&spec);
            for place in places {
                let (task, start) = self.start_in(&id, 0, &place, &target, Duration::ZERO);
                let (fake, id, target) = (self.clone(), id.clone(), target.clone());
                tokio::spawn(async move { fake.settle(&id, 0, &task, start, &target).await });
            }
        }
        Ok(id)
    }

    async fn remove_service(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let key = state
            .find(id)
            .and_then(|s| s.service.id.clone())
            .ok_or_else(|| ClusterError::NotFound(format!("service {id}")))?;
        if let Some(removed) = state.services.remove(&key)
            && let Some(name) = removed.service.spec.and_then(|s| s.name)
        {
            state.by_name.remove(&name);
        }
        Ok(())
    }

    async fn services(&self, label: &str) -> Result<Vec<Service>, ClusterError> {
        let state = self.lock();
        let mut found: Vec<Service> = state
            .services
            .values()
            .filter(|s| s.service.spec.as_ref().is_some_and(|spec| has_label(spec, label)))
            .map(|s| s.service.clone())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    async fn unhealthy(&self, _service_id: &str) -> Result<Vec<(String, String)>, ClusterError> {
        // The fake's tasks die the moment they turn unhealthy.
        Ok(Vec::new())
    }

    async fn logs(&self, service_id: &str, tail: usize) -> Result<String, ClusterError> {
        let mut state = self.lock();
        let s = state.find(service_id).ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        let from = s.logs.len().saturating_sub(tail);
        Ok(s.logs[from..].iter().map(|l| format!("{l}\n")).collect())
    }

    async fn local_container(&self, service_id: &str) -> Result<Option<String>, ClusterError> {
        // The fake's tasks have no containers: database work goes through jobs here, and
        // steps are tested with the fake database (crate::database::fake).
        let mut state = self.lock();
        state.find(service_id).ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        Ok(None)
    }

    async fn exec(&self, exec: super::Exec) -> Result<super::Executed, ClusterError> {
        Err(ClusterError::NotFound(format!("container {} (the fake swarm has no containers)", exec.container)))
    }

    async fn logs_to(&self, service_id: &str, to: &std::path::Path) -> Result<u64, ClusterError> {
        let text = self.logs(service_id, usize::MAX).await?;
        std::fs::write(to, text.as_bytes()).map_err(|e| ClusterError::Other(format!("local file: {e}")))?;
        Ok(text.len() as u64)
    }
}

/// A task as planrun reads it from a real daemon: dockerd 20.10 leaves the restart policy and
/// stop grace period out of a task's spec, and bollard drops its health check (the daemon
/// writes `Healthcheck`, bollard reads `HealthCheck`).
fn as_read(task: &Task) -> Task {
    let mut task = task.clone();
    if let Some(spec) = task.spec.as_mut() {
        spec.restart_policy = None;
        if let Some(c) = spec.container_spec.as_mut() {
            c.health_check = None;
            c.stop_grace_period = None;
        }
    }
    task
}

#[cfg(test)]
mod tests {
    use bollard::models::{HealthConfig, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpecContainerSpec};

    use super::*;

    fn spec(name: &str, image: &str, health_interval_s: Option<i64>) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(2) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    health_check: health_interval_s.map(|s| HealthConfig {
                        test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                        interval: Some(s * 1_000_000_000),
                        retries: Some(2),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn states(fake: &FakeCluster, name: &str) -> Vec<(i64, TaskState)> {
        let mut out: Vec<(i64, TaskState)> = fake
            .tasks(name)
            .await
            .unwrap()
            .iter()
            .filter(|t| t.desired_state == Some(TaskState::RUNNING))
            .map(|t| (t.slot.unwrap(), t.status.as_ref().unwrap().state.unwrap()))
            .collect();
        out.sort();
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_task_is_up_after_its_start_and_first_health_check() {
        let fake = FakeCluster::new();
        fake.create_service(spec("web", "app:v1", Some(3))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3_900)).await;
        assert_eq!(states(&fake, "web").await, [(1, TaskState::STARTING), (2, TaskState::STARTING)]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(states(&fake, "web").await, [(1, TaskState::RUNNING), (2, TaskState::RUNNING)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_turns_unhealthy_later_dies_and_is_restarted() {
        let fake = FakeCluster::new();
        fake.behave("app:late", Behavior::UnhealthyAfter(Duration::from_secs(10)));
        fake.create_service(spec("web", "app:late", Some(1))).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(states(&fake, "web").await, [(1, TaskState::RUNNING), (2, TaskState::RUNNING)]);
        // Dies 11 s after creation (1 s start + 10 s), restarted 2 s later.
        tokio::time::sleep(Duration::from_secs(9)).await;
        let tasks = fake.tasks("web").await.unwrap();
        let dead = tasks.iter().filter(|t| t.status.as_ref().unwrap().err.as_deref() == Some(UNHEALTHY)).count();
        assert_eq!(dead, 2);
        assert_eq!(states(&fake, "web").await, [], "nothing runs between death and restart");
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(states(&fake, "web").await, [(1, TaskState::RUNNING), (2, TaskState::RUNNING)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_to_completion_and_leaves_its_output() {
        let fake = FakeCluster::new();
        fake.job_output("pg:15", "dumped 3 tables");
        let mut job = spec("dump", "pg:15", None);
        job.mode = Some(ServiceSpecMode {
            replicated_job: Some(bollard::models::ServiceSpecModeReplicatedJob {
                max_concurrent: Some(1),
                total_completions: Some(1),
            }),
            ..Default::default()
        });
        let id = fake.create_service(job).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let tasks = fake.tasks(&id).await.unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].status.as_ref().unwrap().state, Some(TaskState::COMPLETE));
        assert_eq!(fake.logs(&id, 10).await.unwrap(), "dumped 3 tables\n");
        fake.remove_service(&id).await.unwrap();
        assert!(matches!(fake.service(&id).await, Err(ClusterError::NotFound(_))));
    }

    /// A global service with a 1 s health check, updated and rolled back one node at a time
    /// in `order` with a 1 s monitor.
    fn global(name: &str, image: &str, order: ServiceSpecUpdateConfigOrderEnum) -> ServiceSpec {
        use bollard::models::{ServiceSpecRollbackConfig, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig};
        let mut s = spec(name, image, Some(1));
        s.mode = Some(ServiceSpecMode { global: Some(Default::default()), ..Default::default() });
        s.update_config = Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            order: Some(order),
            monitor: Some(1_000_000_000),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            ..Default::default()
        });
        s.rollback_config = Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            order: Some(match order {
                ServiceSpecUpdateConfigOrderEnum::START_FIRST => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
                _ => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
            }),
            monitor: Some(1_000_000_000),
            ..Default::default()
        });
        s
    }

    /// (node, image, state) of every task that wants to run, sorted; panics on a task with a slot.
    async fn by_node(fake: &FakeCluster, name: &str) -> Vec<(String, String, TaskState)> {
        let mut out: Vec<(String, String, TaskState)> = fake
            .tasks(name)
            .await
            .unwrap()
            .iter()
            .filter(|t| t.desired_state == Some(TaskState::RUNNING))
            .map(|t| {
                assert_eq!(t.slot, None, "a global task has no slot");
                (
                    t.node_id.clone().unwrap(),
                    image_of(t.spec.as_ref().unwrap()),
                    t.status.as_ref().unwrap().state.unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn on_every_node(image: &str) -> Vec<(String, String, TaskState)> {
        ["n1", "n2", "n3"].iter().map(|n| (n.to_string(), image.to_string(), TaskState::RUNNING)).collect()
    }

    /// Samples the service every 10 ms until dropped: the fewest running tasks and the most
    /// tasks wanting to run on one node.
    struct Sampler {
        fewest_running: Arc<Mutex<usize>>,
        most_on_a_node: Arc<Mutex<usize>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Sampler {
        fn start(fake: &FakeCluster, name: &str) -> Sampler {
            let (fewest_running, most_on_a_node) = (Arc::new(Mutex::new(usize::MAX)), Arc::new(Mutex::new(0)));
            let (fake, name) = (fake.clone(), name.to_owned());
            let (fewest, most) = (fewest_running.clone(), most_on_a_node.clone());
            let task = tokio::spawn(async move {
                loop {
                    let tasks = by_node(&fake, &name).await;
                    let running = tasks.iter().filter(|(_, _, s)| *s == TaskState::RUNNING).count();
                    let crowded = ["n1", "n2", "n3"].iter().map(|n| tasks.iter().filter(|t| t.0 == *n).count()).max();
                    {
                        let mut fewest = fewest.lock().unwrap();
                        *fewest = (*fewest).min(running);
                        let mut most = most.lock().unwrap();
                        *most = (*most).max(crowded.unwrap_or(0));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
            Sampler { fewest_running, most_on_a_node, task }
        }

        /// (fewest running, most on a node), and stops sampling.
        fn stop(self) -> (usize, usize) {
            self.task.abort();
            (*self.fewest_running.lock().unwrap(), *self.most_on_a_node.lock().unwrap())
        }
    }

    /// Writes `image` into the service's spec as a client would, then waits (bounded) until
    /// Swarm's update status is `until`; returns how long that took.
    async fn update_until(
        fake: &FakeCluster,
        name: &str,
        image: &str,
        until: ServiceUpdateStatusStateEnum,
    ) -> Duration {
        let service = fake.service(name).await.unwrap();
        let mut next = service.spec.clone().unwrap();
        next.task_template.as_mut().unwrap().container_spec.as_mut().unwrap().image = Some(image.into());
        let started = tokio::time::Instant::now();
        fake.update_service(name, service.version.unwrap().index.unwrap(), next).await.unwrap();
        loop {
            let state = fake.service(name).await.unwrap().update_status.and_then(|u| u.state);
            if state == Some(until) {
                return started.elapsed();
            }
            assert!(started.elapsed() < Duration::from_secs(120), "still {state:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_service_runs_one_task_per_node_and_desires_as_many_as_there_are_nodes() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        let id = fake.create_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST)).await;
        let id = id.unwrap();
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v1"));
        assert_eq!(fake.counts(&id).await.unwrap(), ServiceCounts { running: 3, desired: 3 });

        // No node: nothing to run, and nothing desired.
        let none = FakeCluster::new();
        none.set_nodes(&[]);
        let id = none.create_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(none.counts(&id.unwrap()).await.unwrap(), ServiceCounts { running: 0, desired: 0 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_service_rolls_out_start_first_one_node_at_a_time_without_losing_a_task() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.add_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        let sampler = Sampler::start(&fake, "agent");

        let took = update_until(&fake, "agent", "app:v2", ServiceUpdateStatusStateEnum::COMPLETED).await;

        let (fewest_running, most_on_a_node) = sampler.stop();
        assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v2"));
        assert_eq!(fewest_running, 3, "start-first: every node keeps a running task");
        assert_eq!(most_on_a_node, 2, "the old task stays until its replacement is up");
        // Per node 1 s start + 1 s to the first check, then one more monitor window.
        assert!(took >= Duration::from_secs(7) && took <= Duration::from_millis(7_100), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_service_rolls_out_stop_first_one_node_at_a_time() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.add_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::STOP_FIRST));
        let sampler = Sampler::start(&fake, "agent");

        update_until(&fake, "agent", "app:v2", ServiceUpdateStatusStateEnum::COMPLETED).await;

        let (fewest_running, most_on_a_node) = sampler.stop();
        assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v2"));
        assert_eq!(fewest_running, 2, "stop-first, parallelism 1: one node at a time runs nothing");
        assert_eq!(most_on_a_node, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_release_that_crashes_is_rolled_back_on_every_node() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.behave("app:exit", Behavior::Crash(3));
        let id = fake.add_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        let sampler = Sampler::start(&fake, "agent");

        update_until(&fake, "agent", "app:exit", ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED).await;

        let (fewest_running, _) = sampler.stop();
        assert_eq!(image_of(&template(&fake.spec("agent").unwrap())), "app:v1");
        assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v1"));
        assert_eq!(fewest_running, 3, "start-first: the old tasks never stopped");
        let crashed =
            fake.tasks(&id).await.unwrap().into_iter().filter(|t| image_of(t.spec.as_ref().unwrap()) == "app:exit");
        assert_eq!(crashed.map(|t| t.status.unwrap().err.unwrap()).collect::<Vec<_>>(), ["task: non-zero exit (3)"]);
    }

    #[tokio::test(start_paused = true)]
    async fn services_are_found_by_label() {
        let fake = FakeCluster::new();
        let mut a = spec("shop_web", "app:v1", None);
        a.labels = Some([("com.docker.stack.namespace".to_string(), "shop".to_string())].into());
        fake.add_service(a);
        fake.add_service(spec("other", "app:v1", None));
        let found = fake.services("com.docker.stack.namespace=shop").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].spec.as_ref().unwrap().name.as_deref(), Some("shop_web"));
        assert_eq!(fake.services("com.docker.stack.namespace").await.unwrap().len(), 1);
        assert_eq!(fake.services("com.docker.stack.namespace=else").await.unwrap().len(), 0);
    }
}
