//! Following a service until it runs its target spec, or failing with the cause.
//!
//! Swarm's own `UpdateStatus` is not proof: `completed` is reported while every new task
//! crash-loops (failure action `continue`), and more tasks than replicas have been seen running
//! after a corrective update. A service has converged when, at one poll, all of these hold:
//!
//! 1. no update or rollback is in progress, and the status our write caused (if any) is
//!    neither `paused` nor, for a new release, `rollback_*` (those fail at once, naming
//!    Swarm's message; when restoring the previous release, Swarm's own rollback is waited for);
//! 2. exactly N tasks want to run, one per slot, all `running` and all on the target spec;
//!    for a global service, one per node: every node with a task that wants to run (or waits
//!    to, see below) has exactly one, `running` on the target spec, and N, the number of such
//!    nodes, is the desired count the daemon reports, which is above 0 unless no node takes
//!    the service at all.
//!
//! An update Swarm still calls `updating` is done once (2) has held for a whole monitor window
//! as planrun saw it: what `docker service update` waits for (the docker CLI returns after
//! `monitor` of every up-to-date task running; Swarm says `completed` about then too). Old
//! tasks still stopping (start-first keeps one running until its replacement is up) do not
//! hold the release back.
//!
//! "On the target spec" means the task's own spec has the target image and the target
//! `ForceUpdate` counter, and agrees with the service's task template on what a release or a
//! switch changes: the container's command, environment, configs, secrets and mounts, and the
//! networks with their aliases (not the health check: bollard drops it from tasks). A task's spec is a copy of the template when it
//! was created, but not a whole one as the Engine API shows it (dockerd 20.10 leaves out the
//! restart policy, the runtime and the stop grace period), and Swarm does not replace tasks
//! for changes it deems compatible (placement-only ones), so comparing the whole template
//! could wait forever. Image alone is not enough: a router switch changes only a config, and
//! for the 20 ms or so before Swarm's updater starts, the old tasks looked done.
//!
//! Global tasks have no slot, only a node. dockerd 20.10's desired count for a global service
//! is the number of its tasks that want to run (measured): it drops while a task waits to start
//! (stop-first, or Swarm restarting a failed task after its delay: such a task wants `ready`,
//! not `running`). So a node whose only task waits is a node without a running task, not a
//! node fewer. And with 0 desired, nothing waiting and no task of the target spec since the
//! write, no node takes the service (a placement no node meets, every node drained): that is
//! converged, with nothing to run.
//!
//! "Healthy": the Engine API does not expose a task's health, but Swarm reports a task with a
//! health check as `starting` until its first passing check, and stops a task once its check
//! fails. So `running` already means healthy-so-far.
//!
//! A new release's tasks that fail along the way fail it at once (through the step's
//! [`Watch`], see `watch.rs`), whatever Swarm's update state says; while restoring the previous
//! release, failed tasks are only collected so a failure can name them. Every wait is on
//! tokio's clock, bounded by the deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{ServiceUpdateStatusStateEnum, TaskSpec, TaskState};
use tokio::time::Instant;

use crate::cluster::{Cluster, ClusterError, SeenTask, TaskFacts};
use crate::services::failure::{DownNodes, Failure, TaskErrors};
use crate::services::pace::Pace;
use crate::services::progress::{Progress, Report};
use crate::services::target::{Baseline, Mode, Target};
use crate::services::watch::Watch;

/// How often the service is polled unless told otherwise.
pub const DEFAULT_POLL: Duration = Duration::from_millis(100);

/// Whether the target is a new release or the previous one being restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A new release: Swarm rolling it back is a failure.
    Forward,
    /// The previous release (undo): Swarm's own rollback restores the target, so it is waited
    /// for, and only a paused rollback fails.
    Restore,
}

/// How to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Time between polls.
    pub poll: Duration,
    /// Give up after this long.
    pub deadline: Duration,
    /// New release or restore.
    pub direction: Direction,
}

impl Settings {
    /// Follows a new release, polling every 100 ms until `deadline`.
    pub fn new(deadline: Duration) -> Settings {
        Settings { poll: DEFAULT_POLL, deadline, direction: Direction::Forward }
    }

    /// Follows the restore of a previous release, polling every 100 ms until `deadline`.
    pub fn restoring(deadline: Duration) -> Settings {
        Settings { direction: Direction::Restore, ..Settings::new(deadline) }
    }
}

/// What one poll saw.
struct Poll {
    /// Every slot (node) runs the target, and Swarm is not updating.
    converged: bool,
    /// Every slot (node) runs the target, but Swarm still says `updating`.
    settled: bool,
    /// While Swarm says `updating`, the slots where a running task of the target has another
    /// task beside it that wants to run: standing so, Swarm's updater is stuck.
    doubled: Vec<i64>,
    on_target_running: u64,
    /// How many tasks should run: the replica count, or the daemon's count for a global service.
    expected: u64,
    progress: String,
}

/// How long, past the monitor window, a stalled update is given before planrun calls it stuck.
pub const STALL_GRACE: Duration = Duration::from_secs(20);

/// Follows the service until it converges to `target`, or fails naming why. `baseline` is
/// what the service looked like just before the write whose effect is followed; `watch`
/// counts the failed tasks since then (and, for a new release, fails it).
pub async fn follow(
    cluster: &dyn Cluster,
    report: Report<'_>,
    target: &Target,
    baseline: &Baseline,
    watch: &mut Watch,
    settings: Settings,
) -> Result<Duration, Failure> {
    let started = Instant::now();
    let deadline = started + settings.deadline;
    let mut last_reported: Option<(u64, u64)> = None;
    let mut progress = "nothing seen yet".to_string();
    let mut settled_since: Option<Instant> = None;
    let mut stalled_since: Option<(Instant, Vec<i64>)> = None;
    let mut pace = Pace::new(&[&target.service_id], settings.poll);
    loop {
        pace.look(cluster).await;
        let mut failed = false;
        match poll(cluster, target, baseline, settings.direction, watch).await {
            Ok(Ok(seen)) => {
                if last_reported != Some((seen.on_target_running, seen.expected)) {
                    last_reported = Some((seen.on_target_running, seen.expected));
                    report(Progress {
                        message: seen.progress.clone(),
                        updated: (seen.on_target_running, seen.expected),
                    });
                }
                if seen.converged {
                    say_lost_nodes(cluster, report, target, &seen).await;
                    return Ok(started.elapsed());
                }
                // Every task on the target and running for a whole window as we saw it is
                // what `docker service update` waits for; a task that fails inside the
                // window fails a new release (the watch), and resets the window otherwise.
                if seen.settled {
                    let since = *settled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= target.monitor {
                        say_lost_nodes(cluster, report, target, &seen).await;
                        return Ok(started.elapsed());
                    }
                } else {
                    settled_since = None;
                }
                // A start-first slot keeps its old task only until Swarm stops it, a moment
                // after the new one runs: the same slots standing so past the monitor window
                // and a grace is Swarm's updater stuck, which no wait ends.
                if seen.doubled.is_empty() {
                    stalled_since = None;
                } else {
                    if stalled_since.as_ref().is_none_or(|(_, slots)| *slots != seen.doubled) {
                        stalled_since = Some((Instant::now(), seen.doubled.clone()));
                    }
                    let since = stalled_since.as_ref().map_or_else(Instant::now, |(at, _)| *at);
                    if since.elapsed() >= target.monitor + STALL_GRACE {
                        return Err(Failure::Stalled {
                            service: target.service_name.clone(),
                            stood: since.elapsed(),
                            slots: seen.doubled,
                            progress: seen.progress,
                            down: down_nodes(cluster, &target.service_id).await,
                        });
                    }
                }
                progress = seen.progress;
            }
            Ok(Err(failure)) => {
                return Err(match failure {
                    Failure::Paused { message, .. } => Failure::Paused { message, task_errors: watch.errors.clone() },
                    Failure::RolledBack { message, .. } => {
                        Failure::RolledBack { message, task_errors: watch.errors.clone() }
                    }
                    other => other,
                });
            }
            Err(ClusterError::NotFound(_)) => {
                return Err(Failure::Changed(format!("{} was removed while planrun followed it", target.service_name)));
            }
            // The daemon may hiccup: keep polling until the deadline, and say so if it ends there.
            Err(error) => {
                progress = format!("{progress} (last poll failed: {error})");
                failed = true;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Failure::Deadline {
                service: target.service_name.clone(),
                waited: now - started,
                progress,
                task_errors: watch.errors.clone(),
                down: down_nodes(cluster, &target.service_id).await,
            });
        }
        // A look that failed is tried again at the next tick, whatever was heard.
        let window_end = settled_since.map(|s| s + target.monitor).filter(|end| *end > now);
        let stall_end = stalled_since.as_ref().map(|(s, _)| *s + target.monitor + STALL_GRACE).filter(|end| *end > now);
        let next_tick = failed.then_some(now + settings.poll);
        let until = [Some(deadline), window_end, stall_end, next_tick].into_iter().flatten().min();
        pace.next(cluster, until).await;
    }
}

/// A node lost on the way is said even when Swarm placed its tasks elsewhere and the rollout
/// converged: the service runs on less than before the release.
async fn say_lost_nodes(cluster: &dyn Cluster, report: Report<'_>, target: &Target, seen: &Poll) {
    if let Some(lost) = down_nodes(cluster, &target.service_id).await.sentence(&target.service_name) {
        let message = format!("converged, but {lost}: Swarm runs its tasks on the other nodes");
        report(Progress { message, updated: (seen.on_target_running, seen.expected) });
    }
}

/// The nodes Swarm reports down that ran (or run) tasks of the service, by hostname: asked
/// once a rollout has ended, to say why it failed or what it runs on.
async fn down_nodes(cluster: &dyn Cluster, service_id: &str) -> DownNodes {
    let down = cluster.nodes_down().await;
    if down.is_empty() {
        return DownNodes::default();
    }
    let tasks = cluster.shared_tasks(service_id).await.unwrap_or_default();
    let ran_here = |id: &str| tasks.iter().any(|t| t.node_id.as_deref() == Some(id));
    DownNodes(down.into_iter().filter(|(id, _)| ran_here(id)).map(|(_, host)| host).collect())
}

/// One look at the service; the outer error is the cluster's, the inner a verdict.
async fn poll(
    cluster: &dyn Cluster,
    target: &Target,
    baseline: &Baseline,
    direction: Direction,
    watch: &mut Watch,
) -> Result<Result<Poll, Failure>, ClusterError> {
    let service = cluster.shared_service(&target.service_id).await?;
    let tasks = cluster.shared_tasks(&target.service_id).await?;
    // A new release's containers turning unhealthy fail it before Swarm gets round to it.
    let unhealthy = match direction {
        Direction::Forward => cluster.unhealthy(&target.service_id).await.unwrap_or_default(),
        Direction::Restore => Vec::new(),
    };
    if let Err(failure) = watch.observe(&tasks, &unhealthy)
        && direction == Direction::Forward
    {
        return Ok(Err(failure));
    }

    // (1) the update status. A finished state is judged only when it is ours (differs from the
    // baseline); an update or rollback in progress is waited for either way.
    use ServiceUpdateStatusStateEnum as State;
    let ours = service.update_status.as_ref() != baseline.update_status.as_ref();
    let state = service.update_status.as_ref().and_then(|s| s.state);
    let message = service.update_status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default();
    let none = TaskErrors::default;
    match (state, direction) {
        (Some(State::PAUSED | State::ROLLBACK_PAUSED), _) if ours => {
            return Ok(Err(Failure::Paused { message, task_errors: none() }));
        }
        (Some(State::ROLLBACK_STARTED | State::ROLLBACK_COMPLETED), Direction::Forward) if ours => {
            return Ok(Err(Failure::RolledBack { message, task_errors: none() }));
        }
        _ => {}
    }
    let updating = matches!(state, Some(State::UPDATING | State::ROLLBACK_STARTED));
    let unset = TaskSpec::default();
    let template = service.spec.as_ref().and_then(|s| s.task_template.as_ref()).unwrap_or(&unset);
    let spec_image = template.container_spec.as_ref().and_then(|c| c.image.as_deref()).unwrap_or_default();
    if spec_image != target.image {
        return Ok(Err(Failure::Changed(format!(
            "the spec of {} was changed by someone else: its image is now {spec_image}, not {}",
            target.service_name, target.image
        ))));
    }

    // (2) the tasks that want to run.
    let seen = match target.mode {
        Mode::Replicated(replicas) => replicated(target, template, &tasks, replicas, direction, updating),
        Mode::Global => {
            let desired = cluster.counts(&target.service_id).await?.desired;
            global(target, template, &tasks, desired, baseline)
        }
    };
    let mut progress = seen.progress;
    if updating {
        progress.push_str(if state == Some(State::UPDATING) {
            ", Swarm is still updating"
        } else {
            ", Swarm is still rolling back"
        });
    }
    let settled = seen.done && state == Some(State::UPDATING) && direction == Direction::Forward;
    Ok(Ok(Poll {
        converged: seen.done && !updating,
        settled,
        doubled: if state == Some(State::UPDATING) { seen.doubled } else { Vec::new() },
        on_target_running: seen.on_target_running,
        expected: seen.expected,
        progress,
    }))
}

/// What the tasks say, whatever Swarm's update state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tasks {
    /// Every slot (node) runs one task of the target, and nothing else wants to run.
    done: bool,
    /// The slots where a running task of the target has another task beside it that still
    /// wants to run (start-first keeps that up for a moment only).
    doubled: Vec<i64>,
    on_target_running: u64,
    expected: u64,
    progress: String,
}

fn is_running(task: &impl TaskFacts) -> bool {
    task.status().and_then(|s| s.state) == Some(TaskState::RUNNING)
}

/// (2) for a replicated service: exactly `replicas` tasks want to run, one per slot, all
/// running the target.
fn replicated(
    target: &Target,
    template: &TaskSpec,
    tasks: &[Arc<SeenTask>],
    replicas: u64,
    direction: Direction,
    updating: bool,
) -> Tasks {
    // One pass over the tasks that want to run: a look comes often, and a task's spec is
    // compared with the template once.
    let (mut wanted, mut on_target_running, mut old) = (0usize, 0u64, 0usize);
    let mut slots: Vec<i64> = Vec::with_capacity(tasks.len());
    let mut serving: Vec<i64> = Vec::new();
    for task in tasks.iter().filter(|t| t.desired_state == Some(TaskState::RUNNING)) {
        wanted += 1;
        match target.runs_template(task, template) {
            true if is_running(task) => {
                on_target_running += 1;
                serving.extend(task.slot);
            }
            true => {}
            false => old += 1,
        }
        slots.extend(task.slot);
    }
    slots.sort_unstable();
    let mut doubled: Vec<i64> = slots.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    doubled.dedup();
    doubled.retain(|slot| serving.contains(slot));
    slots.dedup();
    let mut done = wanted as u64 == replicas && slots.len() as u64 == replicas && on_target_running == replicas;
    // Swarm sometimes leaves a second task in a slot (swarmkit#2242), and keeps it: seen after
    // it rolled back on its own, and in a start-first update when a slot's old task exited by
    // itself just as it was being replaced (the restart policy started one more). Every task
    // that wants to run then runs the target, every slot has one, Swarm's update is over and
    // nothing replaces anything: the release serves, with one task more. Waiting for Swarm to
    // drop it waits forever (its next update of the service does).
    let duplicated =
        !updating && wanted as u64 > replicas && slots.len() as u64 == replicas && on_target_running == wanted as u64;
    done |= duplicated;

    let mut progress = format!("{on_target_running} of {replicas} tasks running on image {}", target.image);
    let extra = (wanted as u64).saturating_sub(replicas);
    if duplicated {
        progress.push_str(&format!(
            ", and {extra} more that Swarm left in a slot it already fills (swarmkit#2242; {}, Swarm's next update of the service drops it)",
            if direction == Direction::Restore { "it runs the restored spec" } else { "it runs the new release" }
        ));
    } else if old > 0 && extra > 0 {
        // Start-first: a slot keeps its old task until the new one is up.
        progress.push_str(&format!(", {old} old still serving while replacements start"));
    } else if wanted as u64 != replicas {
        progress.push_str(&format!(", {wanted} tasks want to run"));
    }
    Tasks { done, doubled, on_target_running, expected: replicas, progress }
}

/// Whether a task is meant to run now or soon: desired `running`, or `ready` while it waits
/// to start (stop-first, a restart delay). Swarm's own test is "desired state up to running".
pub fn meant_to_run(task: &impl TaskFacts) -> bool {
    use TaskState as S;
    matches!(
        task.desired_state(),
        Some(
            S::NEW
                | S::ALLOCATED
                | S::PENDING
                | S::ASSIGNED
                | S::ACCEPTED
                | S::PREPARING
                | S::READY
                | S::STARTING
                | S::RUNNING
        )
    )
}

/// A node id as messages show it.
fn short_node(node: &str) -> String {
    if node.is_empty() { "(none)".to_owned() } else { node.chars().take(12).collect() }
}

/// (2) for a global service: one task per node, running the target, on as many nodes as the
/// daemon's `desired` count; with 0 desired, converged only when nothing is meant to run and no
/// task of the target spec was created since the write (no node takes the service). Unlike a
/// slot, a node with two tasks of the target is never accepted, restoring or not: that is what
/// one task per node rules out, and Swarm's global orchestrator shuts such extras down itself.
fn global(target: &Target, template: &TaskSpec, tasks: &[Arc<SeenTask>], desired: u64, baseline: &Baseline) -> Tasks {
    let on_target = |t: &SeenTask| target.runs_template(t, template);
    let mut by_node: BTreeMap<&str, Vec<&SeenTask>> = BTreeMap::new();
    for task in tasks.iter().map(|t| &**t).filter(meant_to_run) {
        by_node.entry(task.node_id.as_deref().unwrap_or_default()).or_default().push(task);
    }
    let wanted = tasks.iter().map(|t| &**t).filter(|t| t.desired_state == Some(TaskState::RUNNING)).count() as u64;
    let on_target_running = tasks
        .iter()
        .map(|t| &**t)
        .filter(|t| t.desired_state == Some(TaskState::RUNNING) && is_running(t) && on_target(t))
        .count() as u64;
    let good = |t: &&SeenTask| t.desired_state == Some(TaskState::RUNNING) && is_running(t) && on_target(t);
    let nodes_done = by_node.values().filter(|ts| ts.len() == 1 && good(&ts[0])).count() as u64;
    let crowded: Vec<(&str, usize)> =
        by_node.iter().filter(|(_, ts)| ts.len() > 1).map(|(node, ts)| (*node, ts.len())).collect();
    let waiting = by_node.values().filter(|ts| !ts.iter().any(|t| t.desired_state == Some(TaskState::RUNNING))).count();

    let nodes = by_node.len() as u64;
    let created_since = tasks
        .iter()
        .map(|t| &**t)
        .any(|t| on_target(t) && !t.id.as_ref().is_some_and(|id| baseline.tasks.contains(id)));
    let nobody = desired == 0 && nodes == 0 && !created_since;
    let done = nobody || (desired > 0 && nodes == desired && nodes_done == desired && wanted == desired);

    let mut progress = if nobody {
        format!(
            "no node runs tasks of image {} (0 desired: no node meets its placement, or all are drained)",
            target.image
        )
    } else {
        format!("{on_target_running} of {desired} tasks running on image {} (one per node)", target.image)
    };
    let old = by_node.values().flatten().filter(|t| !on_target(t)).count();
    let all_on_target = |ts: &Vec<&SeenTask>| ts.iter().all(|t| on_target(t));
    if let Some((node, n)) = crowded.iter().find(|(node, _)| by_node.get(node).is_some_and(all_on_target)) {
        // Not a start-first replacement: every task there runs the target.
        progress.push_str(&format!(", node {} has {n} tasks of it", short_node(node)));
    } else if old > 0 && !crowded.is_empty() {
        // Start-first: a node keeps its old task until the new one is up.
        progress.push_str(&format!(", {old} old still serving while replacements start"));
    } else if waiting > 0 {
        let nodes = if waiting == 1 { "node waits" } else { "nodes wait" };
        progress.push_str(&format!(", {waiting} {nodes} for a task to start"));
    } else if !nobody && (wanted != desired || nodes != desired) {
        progress.push_str(&format!(", {wanted} tasks want to run on {nodes} nodes"));
    }
    Tasks { done, doubled: Vec::new(), on_target_running, expected: desired, progress }
}

#[cfg(test)]
mod tests {
    use bollard::models::{
        HealthConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpecContainerSpec, TaskStatus,
    };

    use super::*;
    use crate::cluster::fake::{FakeCluster, Timing};

    fn global_spec(name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            mode: Some(ServiceSpecMode { global: Some(Default::default()), ..Default::default() }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    health_check: Some(HealthConfig {
                        test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                        interval: Some(1_000_000_000),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Follows `name` on `fake` as undo does (restoring: no failure of its own), for at most `deadline`.
    async fn follow_restore(fake: &FakeCluster, name: &str, deadline: Duration) -> Result<Duration, Failure> {
        let service = fake.service(name).await.unwrap();
        let id = service.id.clone().unwrap();
        let target = Target::of(&id, service.spec.as_ref().unwrap()).unwrap();
        let baseline = Baseline::take(fake, &service).await.unwrap();
        let mut watch = Watch::new(&target, &baseline, u64::MAX);
        follow(fake, &|_| {}, &target, &baseline, &mut watch, Settings::restoring(deadline)).await
    }

    fn progress(failure: Failure) -> String {
        match failure {
            Failure::Deadline { progress, .. } => progress,
            other => panic!("not a deadline: {other}"),
        }
    }

    #[test]
    fn a_target_is_replicated_global_or_refused() {
        let mut spec = global_spec("agent", "app:v1");
        assert_eq!(Target::of("id", &spec).unwrap().mode, Mode::Global);
        spec.mode.as_mut().unwrap().replicated = Some(ServiceSpecModeReplicated { replicas: Some(2) });
        let both = Target::of("id", &spec).unwrap_err().to_string();
        assert_eq!(both, "the spec of agent says both replicated and global: a service is one or the other");
        spec.mode.as_mut().unwrap().global = None;
        assert_eq!(Target::of("id", &spec).unwrap().mode, Mode::Replicated(2));
        spec.mode = None;
        assert_eq!(Target::of("id", &spec).unwrap().mode, Mode::Replicated(1));
        spec.mode = Some(ServiceSpecMode { replicated_job: Some(Default::default()), ..Default::default() });
        let job = Target::of("id", &spec).unwrap_err().to_string();
        assert_eq!(job, "agent is a job: planrun follows replicated and global services only");
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_service_with_one_running_task_per_node_has_converged() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.add_service(global_spec("agent", "app:v1"));
        let took = follow_restore(&fake, "agent", Duration::from_secs(5)).await.unwrap();
        assert!(took < Duration::from_millis(100), "{took:?}");
    }

    /// What following `agent` (global, on n1..n3, converged) reports, with `down` nodes down.
    async fn reports_with_nodes_down(down: &[&str]) -> Vec<String> {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.add_service(global_spec("agent", "app:v1"));
        for node in down {
            fake.node_down(node);
        }
        let service = fake.service("agent").await.unwrap();
        let target = Target::of(service.id.as_deref().unwrap(), service.spec.as_ref().unwrap()).unwrap();
        let baseline = Baseline::take(&fake, &service).await.unwrap();
        let mut watch = Watch::new(&target, &baseline, u64::MAX);
        let said = std::sync::Mutex::new(Vec::new());
        let report = |p: Progress| said.lock().unwrap().push(p.message);
        follow(&fake, &report, &target, &baseline, &mut watch, Settings::new(Duration::from_secs(5))).await.unwrap();
        said.into_inner().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollout_that_converges_with_a_node_down_says_so() {
        // n2 ran a task of agent; n9, down too, ran none.
        let said = reports_with_nodes_down(&["n2", "n9"]).await;

        let lost = "converged, but node n2.host, which ran tasks of agent, is down (as Swarm reports it): \
                    Swarm runs its tasks on the other nodes";
        assert_eq!(said.last().map(String::as_str), Some(lost), "{said:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollout_that_converges_with_every_node_up_says_nothing_of_nodes() {
        let said = reports_with_nodes_down(&[]).await;

        assert!(!said.is_empty() && said.iter().all(|m| !m.contains("down")), "{said:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_swarm_left_doubled_on_the_new_release_has_converged() {
        // Seen in a start-first update of the prodstack worker: slot 2's old task exited by
        // itself as it was replaced, its restart policy started one more task of the new spec,
        // and Swarm called the update completed with 5 tasks for 4 replicas, for good.
        let fake = FakeCluster::new();
        let mut spec = global_spec("worker", "app:v2");
        spec.mode = Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(4) }),
            ..Default::default()
        });
        fake.add_service(spec);
        fake.duplicate_slot("worker", 2);
        let service = fake.service("worker").await.unwrap();
        let id = service.id.clone().unwrap();
        let target = Target::of(&id, service.spec.as_ref().unwrap()).unwrap();
        let baseline = Baseline::take(&fake, &service).await.unwrap();
        let mut watch = Watch::new(&target, &baseline, u64::MAX);
        let settings = Settings::new(Duration::from_secs(5));

        let took = follow(&fake, &|_| {}, &target, &baseline, &mut watch, settings).await.unwrap();

        assert!(took < Duration::from_secs(1), "{took:?}");
    }

    /// Follows `web` (`replicas` of app:v2) whose update Swarm left stuck at `slot`, with an
    /// old task beside the new one, until planrun calls it stalled.
    async fn follow_a_stalled_update(fake: &FakeCluster, replicas: i64, slot: i64) -> (Failure, Duration, Target) {
        let mut spec = global_spec("web", "app:v2");
        spec.mode = Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas) }),
            ..Default::default()
        });
        fake.add_service(spec);
        let service = fake.service("web").await.unwrap();
        let id = service.id.clone().unwrap();
        let target = Target::of(&id, service.spec.as_ref().unwrap()).unwrap();
        let baseline = Baseline::take(fake, &service).await.unwrap();
        fake.stall_update("web", slot, "app:v1");
        let mut watch = Watch::new(&target, &baseline, u64::MAX);
        let started = tokio::time::Instant::now();
        let failure = follow(fake, &|_| {}, &target, &baseline, &mut watch, Settings::new(Duration::from_secs(240)))
            .await
            .unwrap_err();
        (failure, started.elapsed(), target)
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_swarm_left_stuck_with_an_old_task_beside_a_new_one_fails_past_monitor_and_grace() {
        let fake = FakeCluster::new();

        let (failure, took, target) = follow_a_stalled_update(&fake, 5, 4).await;

        assert!(matches!(failure, Failure::Stalled { .. }), "{failure}");
        assert_eq!(took, target.monitor + STALL_GRACE, "not the 240 s deadline");
        assert!(failure.to_string().contains("5 of 5 tasks running on image app:v2, 1 old still serving"), "{failure}");
        assert!(matches!(&failure, Failure::Stalled { slots, .. } if *slots == [4]), "{failure:?}");
        assert!(!failure.to_string().contains("is down"), "no node is down: {failure}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_update_names_the_node_swarm_reports_down() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        // n2 ran a task of web; n9, down too, ran none.
        fake.node_down("n2");
        fake.node_down("n9");

        let (failure, _, _) = follow_a_stalled_update(&fake, 3, 2).await;

        assert!(matches!(&failure, Failure::Stalled { down, .. } if *down.0 == ["n2.host".to_owned()]), "{failure:?}");
        assert!(
            failure
                .to_string()
                .contains("unchanged for 25s; node n2.host, which ran tasks of web, is down (as Swarm reports it)"),
            "{failure}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_node_with_two_running_tasks_is_not_converged_even_when_restoring() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.add_service(global_spec("agent", "app:v1"));
        fake.duplicate_on_node("agent", "n2");

        let failure = follow_restore(&fake, "agent", Duration::from_secs(3)).await.unwrap_err();

        assert_eq!(progress(failure), "4 of 3 tasks running on image app:v1 (one per node), node n2 has 2 tasks of it");
    }

    #[tokio::test(start_paused = true)]
    async fn a_node_without_a_task_is_not_converged_until_swarm_restarts_one_there() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.set_timing(Timing { restart_delay: Duration::from_secs(10), ..Timing::default() });
        fake.add_service(global_spec("agent", "app:v1"));
        fake.kill_on_node("agent", "n3");

        let failure = follow_restore(&fake, "agent", Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(
            progress(failure),
            "2 of 3 tasks running on image app:v1 (one per node), 2 tasks want to run on 2 nodes"
        );

        // Restarted 10 s after the kill, up 2 s later: 7 s from here.
        let took = follow_restore(&fake, "agent", Duration::from_secs(30)).await.unwrap();
        assert!(took >= Duration::from_secs(7) && took <= Duration::from_millis(7_100), "{took:?}");
    }

    fn task(id: &str, node: &str, image: &str, desired: TaskState, state: TaskState) -> SeenTask {
        SeenTask {
            id: Some(id.into()),
            node_id: Some(node.into()),
            desired_state: Some(desired),
            status: Some(TaskStatus { state: Some(state), ..Default::default() }),
            spec: Some(Arc::new(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// What dockerd 20.10 shows (measured): a task waiting to start (stop-first, or a restart
    /// delay) wants `ready`, and the desired count leaves it out. Its node is one without a
    /// running task, not a node fewer.
    #[test]
    fn a_node_whose_task_waits_to_start_is_not_converged_though_the_daemon_desires_one_fewer() {
        let target = Target::of("id", &global_spec("agent", "app:v2")).unwrap();
        let template = global_spec("agent", "app:v2").task_template.unwrap();
        let (run, ready) = (TaskState::RUNNING, TaskState::READY);
        let tasks = [task("a", "n1", "app:v2", run, run), task("b", "n2", "app:v2", ready, ready)].map(Arc::new);

        let seen = global(&target, &template, &tasks, 1, &Baseline::default());

        assert!(!seen.done);
        assert_eq!(
            seen.progress,
            "1 of 1 tasks running on image app:v2 (one per node), 1 node waits for a task to start"
        );
        let seen = global(&target, &template, &tasks[..1], 1, &Baseline::default());
        assert!(seen.done, "{}", seen.progress);
    }

    #[test]
    fn zero_desired_is_converged_only_when_no_node_takes_the_service() {
        let target = Target::of("id", &global_spec("agent", "app:v2")).unwrap();
        let template = global_spec("agent", "app:v2").task_template.unwrap();

        let nobody = global(&target, &template, &[], 0, &Baseline::default());
        assert!(nobody.done);
        assert_eq!(
            nobody.progress,
            "no node runs tasks of image app:v2 (0 desired: no node meets its placement, or all are drained)"
        );
        // A task of the target came and failed since the write: some node takes it.
        let failed = Arc::new(task("a", "n1", "app:v2", TaskState::SHUTDOWN, TaskState::FAILED));
        assert!(!global(&target, &template, std::slice::from_ref(&failed), 0, &Baseline::default()).done);
        // The same task from before the write says nothing about the nodes now.
        let before = Baseline { tasks: ["a".to_string()].into(), ..Baseline::default() };
        assert!(global(&target, &template, &[failed], 0, &before).done);
    }
}
