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

mod api;
mod timing;
mod updater;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use bollard::models::{
    ContainerStatus, ObjectVersion, Service, ServiceSpec, ServiceUpdateStatus, ServiceUpdateStatusStateEnum, Task,
    TaskSpec, TaskState, TaskStatus,
};

use super::post_mortem::ContainerEnd;
use super::{ConfigObject, Network, SecretObject, SeenTask};

pub use timing::{Behavior, Health, Timing};

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
    /// Service ids by name, in order: lookups by name (or by the start of one) stay quick on
    /// a swarm of thousands of services.
    by_name: BTreeMap<String, String>,
    configs: Vec<ConfigObject>,
    networks: Vec<Network>,
    /// The API version it claims, to model a daemon that drops newer fields (`None`: keeps all).
    api: Option<(u32, u32)>,
    secrets: Vec<(SecretObject, Vec<u8>)>,
    behaviors: HashMap<String, Behavior>,
    job_behaviors: HashMap<String, Behavior>,
    outputs: HashMap<String, String>,
    /// What ended tasks running an image leave behind: their container, their log.
    ends: HashMap<String, (Option<ContainerEnd>, Vec<String>)>,
    timing: Timing,
    interfere: u32,
    updates: u32,
    nodes: Nodes,
    /// The nodes Swarm reports down (their tasks stay as they were).
    down: Vec<String>,
    /// A spec another writer (Swarm's own rollback) writes just before the next update.
    overwrite: Option<ServiceSpec>,
    /// The node planrun talks to, when a test gives it one: running tasks then show
    /// containers (`container-TASK`), and planrun may stop those on this node.
    here: Option<String>,
    /// The containers planrun stopped, in order. Stopping one changes nothing else: Swarm's
    /// own update replaces its task as before.
    stopped: Vec<String>,
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
    fn of(task: &SeenTask) -> Place {
        match task.slot {
            Some(slot) => Place::Slot(slot),
            None => Place::Node(task.node_id.clone().unwrap_or_default()),
        }
    }

    fn holds(&self, task: &SeenTask) -> bool {
        Place::of(task) == *self
    }
}

struct FakeService {
    /// Shared with readers (`Cluster::shared_service`), copied on a change while one holds it.
    service: Arc<Service>,
    previous: Option<ServiceSpec>,
    /// Shared with readers (`Cluster::shared_tasks`): a change copies a task only while a
    /// reader still holds it. Tasks started from one template share its spec.
    tasks: Arc<Vec<Arc<SeenTask>>>,
    logs: Vec<String>,
    /// The spec the tasks it started last share (see [`FakeService::template_for`]).
    template: Option<Arc<TaskSpec>>,
    /// Bumped on every change of spec: work started for an older generation stops.
    generation: u64,
    /// Counts every change of the service or its tasks, and wakes whoever waits for one
    /// (`Cluster::changed`).
    revision: tokio::sync::watch::Sender<u64>,
}

impl FakeService {
    /// Counts a change (a look at the service may now see something else).
    fn touch(&self) {
        self.revision.send_modify(|r| *r += 1);
    }

    /// The shared spec for new tasks of `spec`'s template: the one the last tasks started
    /// with while the template is the same, so tasks of one template share one spec (and
    /// are seen to run it by pointer, without comparing whole specs).
    fn template_for(&mut self, spec: &ServiceSpec) -> Arc<TaskSpec> {
        let unset = TaskSpec::default();
        let wanted = spec.task_template.as_ref().unwrap_or(&unset);
        match &self.template {
            Some(shared) if **shared == *wanted => shared.clone(),
            _ => {
                let shared = Arc::new(wanted.clone());
                self.template = Some(shared.clone());
                shared
            }
        }
    }
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

    fn find(&self, name_or_id: &str) -> Option<&FakeService> {
        match self.services.get(name_or_id) {
            Some(s) => Some(s),
            None => self.services.get(self.by_name.get(name_or_id)?),
        }
    }

    /// The service, to change: counts as a change of it.
    fn find_mut(&mut self, name_or_id: &str) -> Option<&mut FakeService> {
        let id = match self.services.contains_key(name_or_id) {
            true => name_or_id.to_owned(),
            false => self.by_name.get(name_or_id)?.clone(),
        };
        self.service_mut(&id)
    }

    /// The service with this id, to change: counts as a change of it.
    fn service_mut(&mut self, service_id: &str) -> Option<&mut FakeService> {
        let s = self.services.get_mut(service_id)?;
        s.touch();
        Some(s)
    }

    fn behavior(&self, template: &TaskSpec) -> Behavior {
        let image = template.container_spec.as_ref().and_then(|c| c.image.as_deref()).unwrap_or_default();
        self.behaviors.get(image).copied().unwrap_or(Behavior::Healthy)
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

    /// A new task in `place`, starting. Slots are spread over the nodes in turn. The task
    /// shares `template` (its spec) with the others started from it.
    fn start_task(&mut self, service_id: &str, place: &Place, template: &Arc<TaskSpec>) -> String {
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
        let task = SeenTask {
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
        };
        if let Some(s) = self.service_mut(service_id) {
            Arc::make_mut(&mut s.tasks).push(Arc::new(task));
        }
        id
    }

    fn task(&self, service_id: &str, task_id: &str) -> Option<&SeenTask> {
        self.services.get(service_id)?.tasks.iter().find(|t| t.id.as_deref() == Some(task_id)).map(|t| &**t)
    }

    /// A task, to change: counts as a change of its service.
    fn task_mut(&mut self, service_id: &str, task_id: &str) -> Option<&mut SeenTask> {
        let task = Arc::make_mut(&mut self.service_mut(service_id)?.tasks)
            .iter_mut()
            .find(|t| t.id.as_deref() == Some(task_id))?;
        Some(Arc::make_mut(task))
    }

    fn is_running(&self, service_id: &str, task_id: &str) -> bool {
        self.task(service_id, task_id).is_some_and(running)
    }
}

fn image_of(template: &TaskSpec) -> String {
    template.container_spec.as_ref().and_then(|c| c.image.clone()).unwrap_or_default()
}

fn set_state(task: &mut SeenTask, state: TaskState, message: &str, err: Option<String>, exit: Option<i64>) {
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

fn running(task: &SeenTask) -> bool {
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

/// Whether `task` runs `spec`: the same shared spec, or an equal one.
fn on_spec(task: &SeenTask, spec: &Arc<TaskSpec>) -> bool {
    task.spec.as_ref().is_some_and(|own| Arc::ptr_eq(own, spec) || **own == **spec)
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

    /// Sets what tasks running `image` leave behind ([`crate::cluster::Cluster::post_mortem`]):
    /// their container as Docker saw it (`None`, the default: on a node planrun cannot
    /// inspect) and their log's lines (default: none).
    pub fn ends_as(&self, image: &str, container: Option<ContainerEnd>, log: &[&str]) {
        let log = log.iter().map(|l| (*l).to_owned()).collect();
        self.lock().ends.insert(image.to_owned(), (container, log));
    }

    /// Sets how long things take.
    pub fn set_timing(&self, timing: Timing) {
        self.lock().timing = timing;
    }

    /// Makes the next update find that another writer (Swarm's own rollback, say) wrote `spec`
    /// just before it: that write goes through as any update does, and the caller's gets
    /// `OutOfSequence`.
    pub fn overwrite_before_next_update(&self, spec: ServiceSpec) {
        self.lock().overwrite = Some(spec);
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
        let mut state = self.lock();
        state.nodes = Nodes(nodes.iter().map(|n| (*n).to_owned()).collect());
        // A global service's desired count is the number of nodes.
        state.services.values().for_each(FakeService::touch);
    }

    /// planrun talks to `node`, which takes tasks. Running tasks then show a container
    /// (`container-TASK`), and `stop_container` records those on `node` (default: planrun's
    /// node is unknown, and no task shows a container).
    pub fn talk_to(&self, node: &str) {
        self.lock().here = Some(node.to_owned());
    }

    /// The containers stopped through `stop_container`, in order.
    pub fn stopped_containers(&self) -> Vec<String> {
        self.lock().stopped.clone()
    }

    /// Swarm reports `node` down from now on (its hostname is `NODE.host`). Nothing else
    /// changes: Swarm replaces its tasks only when told (`stall_update`, a test's own steps).
    pub fn node_down(&self, node: &str) {
        self.lock().down.push(node.to_owned());
    }

    /// A second running task in `slot` of the service, on its current spec: what Swarm
    /// sometimes leaves behind after rolling back on its own (swarmkit#2242).
    pub fn duplicate_slot(&self, service: &str, slot: i64) {
        self.duplicate(service, Place::Slot(slot));
    }

    /// Swarm's updater stuck as seen after a node loss (dockerd 20.10): slot `slot` keeps an
    /// extra running task of `old_image` beside its task of the current spec, and the update
    /// state stays `updating`, for good.
    pub fn stall_update(&self, service: &str, slot: i64, old_image: &str) {
        self.duplicate(service, Place::Slot(slot));
        let mut state = self.lock();
        let s = state.find_mut(service).expect("the service exists");
        let tasks = Arc::make_mut(&mut s.tasks);
        let last = Arc::make_mut(tasks.last_mut().expect("the task just added"));
        if let Some(c) = last.spec.as_mut().and_then(|t| Arc::make_mut(t).container_spec.as_mut()) {
            c.image = Some(old_image.to_owned());
        }
        let id = s.service.id.clone().unwrap_or_default();
        set_status(&mut state, &id, ServiceUpdateStatusStateEnum::UPDATING, "update in progress");
    }

    /// A second running task of a global service on `node`, on its current spec.
    pub fn duplicate_on_node(&self, service: &str, node: &str) {
        self.duplicate(service, Place::Node(node.to_owned()));
    }

    fn duplicate(&self, service: &str, place: Place) {
        let mut state = self.lock();
        let id = state.new_id("task");
        let s = state.find_mut(service).expect("the service exists");
        let task = s
            .tasks
            .iter()
            .find(|t| place.holds(t) && t.desired_state == Some(TaskState::RUNNING))
            .map(|t| SeenTask::clone(t))
            .expect("a task there");
        Arc::make_mut(&mut s.tasks).push(Arc::new(SeenTask { id: Some(id), ..task }));
    }

    /// The running task of a global service on `node` dies (exit 137, as if killed), and is
    /// restarted after the restart delay like any task that fails outside an update: until
    /// then the node runs none.
    pub fn kill_on_node(&self, service: &str, node: &str) {
        let place = Place::Node(node.to_owned());
        let (service_id, generation, template, timing) = {
            let mut state = self.lock();
            let timing = state.timing;
            let s = state.find_mut(service).expect("the service exists");
            let (service_id, generation) = (s.service.id.clone().unwrap_or_default(), s.generation);
            let task = Arc::make_mut(&mut s.tasks)
                .iter_mut()
                .find(|t| place.holds(t) && running(t))
                .expect("a running task on the node");
            let task = Arc::make_mut(task);
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
        let Some(template) = state.services.get_mut(&id).map(|s| s.template_for(&spec)) else { return id };
        for place in state.places(&spec) {
            let task = state.start_task(&id, &place, &template);
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

    /// The names of the services whose name starts with `prefix`, sorted.
    pub fn service_names_from(&self, prefix: &str) -> Vec<String> {
        let state = self.lock();
        let from = state.by_name.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded));
        from.map(|(name, _)| name).take_while(|name| name.starts_with(prefix)).cloned().collect()
    }

    /// The data of the config object named `name`.
    pub fn config_data(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().configs.iter().find(|c| c.name == name).map(|c| c.data.clone())
    }

    /// A service's current spec.
    pub fn spec(&self, name_or_id: &str) -> Option<ServiceSpec> {
        self.lock().find(name_or_id).and_then(|s| s.service.spec.clone())
    }
}

fn place_of(fake: &FakeCluster, service_id: &str, task: &str) -> Place {
    fake.lock().task(service_id, task).map(Place::of).unwrap_or(Place::Slot(0))
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
            service: Arc::new(Service {
                id: Some(id.clone()),
                version: Some(ObjectVersion { index: Some(index) }),
                spec: Some(spec),
                ..Default::default()
            }),
            previous: None,
            tasks: Arc::default(),
            logs: Vec::new(),
            template: None,
            generation: 0,
            revision: tokio::sync::watch::Sender::new(0),
        },
    );
    id
}

/// Stops the tasks in `place` that want to run, except `keep`.
fn stop_place(state: &mut State, service_id: &str, place: &Place, keep: Option<&String>) {
    if let Some(s) = state.service_mut(service_id) {
        for task in Arc::make_mut(&mut s.tasks).iter_mut() {
            if place.holds(task) && task.desired_state == Some(TaskState::RUNNING) && task.id.as_ref() != keep {
                set_state(Arc::make_mut(task), TaskState::SHUTDOWN, "shutdown", None, Some(0));
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
    if let Some(s) = state.service_mut(service_id) {
        let started_at = s.service.update_status.as_ref().and_then(|u| u.started_at.clone());
        let service = Arc::make_mut(&mut s.service);
        service.update_status = Some(ServiceUpdateStatus {
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
        service.version = Some(ObjectVersion { index: Some(index) });
    }
}

fn has_label(spec: &ServiceSpec, label: &str) -> bool {
    let labels = spec.labels.clone().unwrap_or_default();
    match label.split_once('=') {
        Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
        None => labels.contains_key(label),
    }
}

/// A task as planrun reads it from a real daemon: dockerd 20.10 leaves the restart policy and
/// stop grace period out of a task's spec, and bollard drops its health check (the daemon
/// writes `Healthcheck`, bollard reads `HealthCheck`).
fn as_read(task: &SeenTask) -> Task {
    let mut task = task.to_task();
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
mod tests;
