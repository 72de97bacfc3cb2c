//! `rolling` at run time: record the service's full spec, set the new image and the plan's
//! update config, let Swarm replace the tasks, follow until they all run it, then judge the
//! step's gates, watching every new task from the first one until the last gate has passed.
//!
//! Undo writes the recorded spec back and follows the old release the same way. Apply never
//! restores anything itself: on failure the executor calls undo with the record.

use std::time::Duration;

use async_trait::async_trait;
use bollard::models::ServiceSpec;
use plans::steps::Rolling;
use plans::steps::allow_removing::Removable;
use plans::steps::update::AnalysisMode;

use super::LiveFacts;
use super::batches::{self, Batches};
use super::{Behavior, Findings, Refusal, StepError};
use crate::clock;
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::{RunContext, StepContext};
use crate::events::StepOutcome;
use crate::events::UndoOutcome;
use crate::services::convergence::{self, Settings};
use crate::services::removal;
use crate::services::stack::same_spec_at;
use crate::services::target::{Baseline, Mode, Target};
use crate::services::watch::Watch;
use crate::services::{self, spec};
use crate::undo::{RollingUndo, Undo};

/// How long an undo may take when its record does not say.
const UNDO_DEADLINE: Duration = Duration::from_secs(600);

#[async_trait]
impl Behavior for Rolling {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let (service, mut findings) = check_service(ctx, &self.service.value, self.update.monitor.to_std()).await;
        let live = service.and_then(|s| s.spec).unwrap_or_default();
        if let Some(problem) = replicas_of_global(&live, self) {
            findings.problems.push(problem.to_string());
        }
        if let Err(e) = keeps(ctx, &self.service.value, &live, &updated_spec(&live, self), &self.allow_removing).await {
            findings.problems.push(e.to_string());
        }
        findings
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        let cluster = ctx.cluster();
        let name = self.service.value.as_str();
        let service = services::inspect(cluster, name).await?;
        let service_id = service.id.clone().unwrap_or_default();
        let previous = service.spec.clone().unwrap_or_default();
        if let Some(problem) = replicas_of_global(&previous, self) {
            return Err(problem.into());
        }
        let spec = updated_spec(&previous, self);
        // A service planrun cannot follow, or a change that takes what the plan does not allow,
        // is refused before anything is recorded or changed.
        Target::of(&service_id, &spec)?;
        keeps(ctx, name, &previous, &spec, &self.allow_removing).await?;
        let record =
            RollingUndo::of(&service, self.update.deadline.as_millis()).writing(&spec).on_undo(self.update.on_undo);
        ctx.record(Undo::Rolling(Box::new(record))).await?;

        roll_out(ctx, service, &spec, &previous, &self.update, &self.gates, &self.allow_removing).await
    }

    fn preview(&self) -> Vec<String> {
        Vec::new()
    }

    async fn live(&self, _cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        Ok(LiveFacts::default())
    }

    fn drill(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn drilled(&self, _finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        None
    }
}

/// Why the step's `replicas` cannot apply to the service `live` describes, if it is global.
fn replicas_of_global(live: &ServiceSpec, rolling: &Rolling) -> Option<Refusal> {
    let replicas = rolling.replicas.as_ref()?;
    spec::is_global(live)
        .then(|| Refusal::ReplicasOfGlobal { replicas: replicas.value, service: rolling.service.value.clone() })
}

/// Checks that `name` exists, is a service planrun can follow (replicated or global, not a
/// job) and has no update in progress or paused, and warns
/// when `monitor` is shorter than its health check needs; returns the service when it exists.
pub async fn check_service(
    ctx: &StepContext,
    name: &str,
    monitor: Duration,
) -> (Option<bollard::models::Service>, Findings) {
    let mut findings = Findings::default();
    let service = match ctx.cluster().service(name).await {
        Ok(s) => services::settled(ctx.cluster(), s).await,
        Err(crate::cluster::ClusterError::NotFound(_)) => {
            findings.problems.push(format!("service `{name}` does not exist"));
            return (None, findings);
        }
        Err(e) => {
            findings.problems.push(format!("cannot inspect service `{name}`: {e}"));
            return (None, findings);
        }
    };
    let live = service.spec.clone().unwrap_or_default();
    if let Err(why) = Target::of(service.id.as_deref().unwrap_or_default(), &live) {
        findings.problems.push(why.to_string());
    }
    if let Some(problem) = update_in_the_way(&service, name) {
        findings.problems.push(problem);
    }
    if let Some(check) = spec::health_check(&live) {
        let detect = spec::detection_time(check);
        if monitor < detect {
            findings.warnings.push(format!(
                "monitor {} is shorter than the {} the health check of {name} needs to call a task \
                 unhealthy (start period + interval × retries + timeout): Swarm may call the update \
                 completed before it could see a failing task. planrun still fails the step for any new \
                 task that fails before its last gate has passed; set monitor to at least {} to let \
                 Swarm roll back by itself",
                clock::seconds(monitor),
                clock::seconds(detect),
                clock::seconds(detect),
            ));
        }
    }
    (Some(service), findings)
}

/// Refuses `new` when it takes from the running service `live` what `allow` does not allow.
pub async fn keeps(
    ctx: &StepContext,
    service: &str,
    live: &ServiceSpec,
    new: &ServiceSpec,
    allow: &[Removable],
) -> Result<(), StepError> {
    let refused = removal::refused(ctx.cluster(), service, live, new, allow).await;
    if refused.is_empty() { Ok(()) } else { Err(StepError::Removes { step: ctx.step.clone(), removals: refused }) }
}

/// Writes `spec` over `service` (which must still be `previous`), follows the tasks until they
/// all run it, and judges `gates`, watching every new task from the first one until the last
/// gate has passed. A spec that takes from the running service what `allow` does not allow is
/// refused before it is written (canary and blue-green steps allow nothing: they change images,
/// replicas, update settings, and a router's config or a network's aliases in place).
pub async fn roll_out(
    ctx: &StepContext,
    service: bollard::models::Service,
    spec: &ServiceSpec,
    previous: &ServiceSpec,
    policy: &plans::steps::UpdatePolicy,
    gates: &[plans::spanned::Spanned<String>],
    allow: &[Removable],
) -> Result<(), StepError> {
    let cluster = ctx.cluster();
    let service_id = service.id.clone().unwrap_or_default();
    let target = Target::of(&service_id, spec)?;
    keeps(ctx, &target.service_name, previous, spec, allow).await?;
    if policy.analysis == AnalysisMode::PerBatch {
        ctx.warm(gates);
    }
    // A global service has as many tasks as nodes run it: the daemon's count before the write
    // (if it cannot be read, no failure is tolerated).
    let tasks = match target.mode {
        Mode::Replicated(replicas) => replicas,
        Mode::Global => cluster.counts(&service_id).await.map(|c| c.desired).unwrap_or(0),
    };
    let baseline = services::replace_spec(cluster, service, spec, Some(previous)).await?;
    ctx.progress(format!("updating {} to {}", target.service_name, target.image));
    let allowed = Watch::allowance(policy.max_failure_ratio, tasks);
    let mut watch = Watch::new(&target, &baseline, allowed);
    let followed = follow_and_judge(ctx, &target, &baseline, &mut watch, policy, gates).await;
    super::reported(cluster, &[&watch], followed).await
}

/// Follows the release `roll_out` wrote until it converges and judges `gates` (batch by batch
/// with `analysis per-batch`), watching every new task until the last gate has passed.
async fn follow_and_judge(
    ctx: &StepContext,
    target: &Target,
    baseline: &Baseline,
    watch: &mut Watch,
    policy: &plans::steps::UpdatePolicy,
    gates: &[plans::spanned::Spanned<String>],
) -> Result<(), StepError> {
    let cluster = ctx.cluster();
    let settings = Settings::new(policy.deadline.to_std());
    let (during, after) = ctx.batch_gates(gates);
    if policy.analysis == AnalysisMode::After || during.is_empty() {
        convergence::follow(cluster, &|p| ctx.followed(p), target, baseline, watch, settings).await?;
        // The release must stay healthy until its last gate has passed.
        return watch.during(cluster, ctx.judge(gates)).await?.map_err(StepError::Gates);
    }
    // Per batch: the follow says how many tasks run the new release; the gates judge each
    // batch as it runs, beside the follow, and a failing verdict ends the step at once (its
    // undo then writes the old spec over the update Swarm is still making).
    let (batches, seen) = Batches::new(&[0]);
    let report = |p: crate::services::progress::Progress| {
        batches.update(0, p.updated);
        ctx.followed(p);
    };
    let follow = convergence::follow(cluster, &report, target, baseline, watch, settings);
    let rest = batches::follow_judging(ctx, &during, &after, (&batches, seen), follow).await?;
    // Converged: the judgement of the whole release goes on (unless it is over), and the gates
    // that judge convergence itself begin; the new tasks are watched until the last has passed.
    watch.during(cluster, rest).await?.map_err(StepError::Gates)
}

/// Why an update or rollback already under way (or paused by an earlier run) stands in the
/// way of a new one, if it does.
pub fn update_in_the_way(service: &bollard::models::Service, name: &str) -> Option<String> {
    use bollard::models::ServiceUpdateStatusStateEnum as State;
    let status = service.update_status.as_ref()?;
    let message = status.message.as_deref().filter(|m| !m.is_empty()).unwrap_or("no message");
    match status.state? {
        State::UPDATING | State::ROLLBACK_STARTED => Some(format!(
            "service `{name}` is being updated right now ({message}): wait for it to finish, or find who runs it"
        )),
        State::PAUSED | State::ROLLBACK_PAUSED => Some(format!(
            "an earlier update of `{name}` is paused ({message}): roll it back with \
             `docker service rollback {name}` (or `planrun rollback` for the stack), or finish it, then apply again"
        )),
        State::COMPLETED | State::ROLLBACK_COMPLETED | State::EMPTY => None,
    }
}

/// Puts the service back to the recorded spec and follows the old release until it runs again.
pub async fn undo(step: &str, record: &RollingUndo, ctx: &RunContext) -> Result<(), StepError> {
    // Swarm's own rollback (its failure action) may write the service between undo's look and
    // its first write, which then finds the spec changed: look again. A change that is not
    // Swarm's putting back (nor planrun's) is refused by the look itself.
    const LOOKS: u32 = 3;
    let mut look = 1;
    loop {
        match undo_once(step, record, ctx).await {
            Err(StepError::Service(services::ServiceError::ChangedElsewhere { .. })) if look < LOOKS => look += 1,
            done => return done,
        }
    }
}

async fn undo_once(step: &str, record: &RollingUndo, ctx: &RunContext) -> Result<(), StepError> {
    let cluster = ctx.cluster.as_ref();
    let name = record.service_name.as_str();
    let service = await_swarms_own_rollback(cluster, &record.service_id).await?;
    let target = Target::of(&record.service_id, &record.previous_spec)?;
    let deadline = if record.deadline_ms == 0 { UNDO_DEADLINE } else { Duration::from_millis(record.deadline_ms) };
    let current = service.spec.clone().unwrap_or_default();
    if let Some(written) = &record.written {
        let api = cluster.api_version().await;
        let transition = spec::transition(&record.previous_spec, written);
        let ours = [&record.previous_spec, written, &transition, &spec::out_first(&transition)];
        if !ours.into_iter().any(|spec| same_spec_at(spec, &current, api)) {
            let image = spec::image(&current).to_owned();
            return Err(Refusal::ChangedSince { service: name.to_owned(), image }.into());
        }
    }
    if current == record.previous_spec {
        // Swarm's own rollback already restored it: writing it again would change nothing.
        // Only verify; never force-redeploy a healthy old release.
        let baseline = Baseline::take(cluster, &service)
            .await
            .map_err(|error| services::ServiceError::Cluster { doing: format!("list the tasks of {name}"), error })?;
        return restore_to(ctx, step, &target, &baseline, deadline).await;
    }
    // The old release goes back with the update config the step deployed with (start-first,
    // say), not the old spec's own: a rollback must not cause the downtime the rollout
    // avoided. Then the exact old spec is written; it differs only in update settings, so
    // Swarm replaces no task.
    let mut transition = spec::transition(&record.previous_spec, &current);
    // Stopped half way (a failed judgement of the first batches, a later step's failure): the
    // new tasks go first, while the old ones serve.
    let tasks = cluster
        .tasks(&record.service_id)
        .await
        .map_err(|error| services::ServiceError::Cluster { doing: format!("list the tasks of {name}"), error })?;
    let mut at_once = None;
    if let Some((old, new)) = old_beside_new(&target, &record.previous_spec, &tasks) {
        ctx.progress(
            step,
            format!(
                "{old} task{} of the previous release still serve{}: the {new} of the new release stop first",
                if old == 1 { "" } else { "s" },
                if old == 1 { "s" } else { "" }
            ),
        );
        transition = spec::out_first(&transition);
        if record.stop_now {
            let (containers, elsewhere) = match cluster.node_taking_tasks_here().await {
                Some(here) => new_containers_here(&target, &record.previous_spec, &tasks, &here),
                None => (Vec::new(), 0),
            };
            at_once = Some(AtOnce { containers, elsewhere, new });
        }
    }
    // Written only over the spec just judged ours: a change made meanwhile stops the undo.
    let baseline = services::replace_spec(cluster, service, &transition, Some(&current)).await?;
    let grace = current
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref()?.stop_grace_period)
        .map_or(DEFAULT_GRACE, |ns| Duration::from_nanos(ns.max(0) as u64));
    // The stops go on beside the restore, which Swarm ends by stopping the same tasks; a
    // restore that fails is said at once, not after a stop's grace period.
    let restore = restore_to(ctx, step, &target, &baseline, deadline);
    let stops = stop_at_once(ctx, step, at_once, grace);
    tokio::pin!(restore, stops);
    let restored = tokio::select! {
        restored = &mut restore => {
            if restored.is_ok() {
                (&mut stops).await;
            }
            restored
        }
        () = &mut stops => restore.await,
    };
    restored?;
    if transition != record.previous_spec {
        let service = services::inspect(cluster, &record.service_id).await?;
        let baseline = services::replace_spec(cluster, service, &record.previous_spec, None).await?;
        restore_to(ctx, step, &target, &baseline, deadline).await?;
    }
    Ok(())
}

/// (old, new): how many tasks of the previous spec run, and how many others want to run,
/// when there are both; `None` otherwise (all new, all old, or nothing running).
fn old_beside_new(target: &Target, previous: &ServiceSpec, tasks: &[bollard::models::Task]) -> Option<(usize, usize)> {
    use bollard::models::TaskState;
    let template = previous.task_template.as_ref()?;
    let wanted = tasks.iter().filter(|t| t.desired_state == Some(TaskState::RUNNING));
    let (mut old, mut new) = (0, 0);
    for task in wanted {
        if !target.runs_template(task, template) {
            new += 1;
        } else if task.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING) {
            old += 1;
        }
    }
    (old > 0 && new > 0).then_some((old, new))
}

/// The containers of the new release's running tasks on node `here` (the node planrun talks
/// to, whose daemon can stop them), and how many of its tasks are on other nodes.
fn new_containers_here(
    target: &Target,
    previous: &ServiceSpec,
    tasks: &[bollard::models::Task],
    here: &str,
) -> (Vec<String>, usize) {
    use bollard::models::TaskState;
    let Some(template) = previous.task_template.as_ref() else { return (Vec::new(), 0) };
    let new =
        tasks.iter().filter(|t| t.desired_state == Some(TaskState::RUNNING) && !target.runs_template(t, template));
    let (on_this, others): (Vec<_>, Vec<_>) = new.partition(|t| t.node_id.as_deref() == Some(here));
    // A task not yet given a node has no container anywhere.
    let elsewhere = others.iter().filter(|t| t.node_id.as_deref().is_some_and(|n| !n.is_empty())).count();
    let containers = on_this
        .into_iter()
        .filter_map(|t| {
            let status = t.status.as_ref()?;
            (status.state == Some(TaskState::RUNNING)).then_some(())?;
            status.container_status.as_ref()?.container_id.clone()
        })
        .collect();
    (containers, elsewhere)
}

/// What `on-undo stop-now` finds to stop: the new release's containers on this node, how many
/// of its tasks are on other nodes, and how many want to run in all.
struct AtOnce {
    containers: Vec<String>,
    elsewhere: usize,
    new: usize,
}

/// Docker's stop grace period when the spec sets none.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Stops the new release's containers on this node at once, beside the stop-first write that
/// brings the old release back. Left to Swarm, a new task keeps taking requests for about 3 s
/// after that write (Swarm takes it out of its DNS, then waits before stopping it), and a
/// release judged bad answers them badly (docs/benchmarks.md, option K). Only while old tasks
/// serve beside the new, so the service never has no task. Swarm's own stop of the same task
/// follows as before, and stops tasks on other nodes (this daemon cannot reach them). A stop
/// that fails is said and left to Swarm.
async fn stop_at_once(ctx: &RunContext, step: &str, at_once: Option<AtOnce>, grace: Duration) {
    let Some(AtOnce { containers, elsewhere, new }) = at_once else { return };
    if containers.is_empty() {
        let said = if new == 1 {
            "the new release's task does not run on this node; it leaves on Swarm's schedule".to_owned()
        } else {
            format!("none of the new release's {new} tasks runs on this node; they leave on Swarm's schedule")
        };
        ctx.progress(step, format!("on-undo stop-now: {said}"));
        return;
    }
    let n = containers.len();
    let mut said = format!(
        "stopping the {n} task{} of the new release on this node now, not after Swarm's DNS removal",
        if n == 1 { "" } else { "s" }
    );
    if elsewhere > 0 {
        said.push_str(&format!("; {elsewhere} on other nodes stop on Swarm's schedule"));
    }
    ctx.progress(step, said);
    let mut stops = tokio::task::JoinSet::new();
    for id in containers {
        let cluster = ctx.cluster.clone();
        stops.spawn(async move {
            let stopped = cluster.stop_container(&id, grace).await;
            (id, stopped)
        });
    }
    while let Some(joined) = stops.join_next().await {
        if let Ok((id, Err(error))) = joined {
            let short = id.get(..12).unwrap_or(&id);
            ctx.progress(step, format!("could not stop container {short} ({error}): Swarm stops it with the update"));
        }
    }
}

/// How long undo lets Swarm decide on its own rollback of a release whose tasks are failing.
const SWARM_DECIDES: Duration = Duration::from_secs(4);

/// The service to undo, once Swarm is not about to roll it back itself. planrun sees a new
/// task fail (or turn unhealthy) a couple of seconds before Swarm reacts; when Swarm is still
/// updating with failure action `rollback`, writing the old spec then races Swarm's own
/// rollback, and that race has left an extra task running in a slot (swarmkit#2242, seen once
/// here). So while a task of the current spec has failed and Swarm is still updating, undo
/// waits (at most a few seconds) for Swarm to roll back (then only verifying is left) or to
/// stop updating. A release whose tasks are all fine (a Ctrl-C, a later step's failure) is
/// undone at once.
async fn await_swarms_own_rollback(
    cluster: &dyn crate::cluster::Cluster,
    service_id: &str,
) -> Result<bollard::models::Service, StepError> {
    use bollard::models::{ServiceSpecUpdateConfigFailureActionEnum as Action, ServiceUpdateStatusStateEnum as State};
    let until = tokio::time::Instant::now() + SWARM_DECIDES;
    loop {
        let service = services::inspect(cluster, service_id).await?;
        let updating = service.update_status.as_ref().and_then(|u| u.state) == Some(State::UPDATING);
        let rolls_back = service.spec.as_ref().and_then(|s| s.update_config.as_ref()).and_then(|u| u.failure_action)
            == Some(Action::ROLLBACK);
        if !updating || !rolls_back || tokio::time::Instant::now() >= until {
            return Ok(service);
        }
        let image = |spec: Option<&bollard::models::TaskSpec>| {
            spec.and_then(|s| s.container_spec.as_ref()).and_then(|c| c.image.clone())
        };
        let current = image(service.spec.as_ref().and_then(|s| s.task_template.as_ref()));
        let tasks = cluster.tasks(service_id).await.unwrap_or_default();
        let unhealthy = cluster.unhealthy(service_id).await.unwrap_or_default();
        let failing = tasks.iter().any(|t| {
            image(t.spec.as_ref()) == current
                && (crate::services::watch::failure_of(t).is_some()
                    || unhealthy.iter().any(|(id, _)| t.id.as_deref() == Some(id.as_str())))
        });
        if !failing {
            return Ok(service);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn restore_to(
    ctx: &RunContext,
    step: &str,
    target: &Target,
    baseline: &Baseline,
    deadline: Duration,
) -> Result<(), StepError> {
    ctx.progress(step, format!("restoring {} to {}", target.service_name, target.image));
    // Failures of the old release's tasks are named if it does not come back, not counted.
    let mut watch = Watch::new(target, baseline, u64::MAX);
    convergence::follow(
        ctx.cluster.as_ref(),
        &|p| ctx.followed(step, p),
        target,
        baseline,
        &mut watch,
        Settings::restoring(deadline),
    )
    .await
    .map(|_| ())
    .map_err(StepError::from)
}

/// The spec a rolling step writes: `previous` with the plan's image, replicas, published ports
/// and update config; everything else is kept as it is.
pub fn updated_spec(previous: &ServiceSpec, rolling: &Rolling) -> ServiceSpec {
    let mut new = previous.clone();
    spec::set_image(&mut new, &rolling.image.value);
    if let Some(replicas) = &rolling.replicas {
        spec::set_replicas(&mut new, replicas.value);
    }
    if !rolling.publish.is_empty() {
        spec::set_ports(&mut new, &rolling.publish);
    }
    spec::set_update_policy(&mut new, &rolling.update);
    new
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bollard::models::{
        HealthConfig, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
        TaskSpecContainerSpec,
    };
    use plans::duration::Duration as PlanDuration;
    use plans::span::Span;
    use plans::spanned::Spanned;
    use plans::steps::Rolling;
    use plans::steps::rolling::PublishMode;
    use plans::steps::update::{FailureAction, OnUndo, UpdatePolicy};

    use super::*;
    use crate::cluster::Cluster;
    use crate::cluster::fake::{Behavior, FakeCluster, UNHEALTHY};
    use crate::events::{Event, Memory};
    use crate::simulation::Simulation;
    use crate::steps::Behavior as _;
    use plans::gates::Outcome;

    fn spec(name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            labels: Some([("team".to_string(), "web".to_string())].into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(3) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    env: Some(vec!["APP_VERSION=v1".into()]),
                    health_check: Some(HealthConfig {
                        test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                        interval: Some(1_000_000_000),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig { target: Some("net".into()), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn rolling(service: &str, image: &str, failure_action: FailureAction, deadline_secs: u64) -> Rolling {
        Rolling {
            service: Spanned::new(service.into(), Span::default()),
            image: Spanned::new(image.into(), Span::default()),
            replicas: None,
            publish: Vec::new(),
            update: UpdatePolicy {
                delay: PlanDuration::from_secs(1),
                monitor: PlanDuration::from_secs(2),
                failure_action,
                deadline: PlanDuration::from_secs(deadline_secs),
                ..UpdatePolicy::default()
            },
            gates: Vec::new(),
            compose: None,
            allow_removing: Vec::new(),
        }
    }

    /// A step context named `web` over `fake`, its events kept in memory.
    fn context(fake: &FakeCluster) -> (StepContext, Arc<Memory>) {
        let sim = Simulation { cluster: fake.clone(), ..Simulation::new() };
        let memory = Arc::new(Memory::default());
        let ctx = sim.context("s", "r-test", vec![Box::new(memory.clone())]);
        let (plan, _) = Simulation::plan("plan t {\n    stack s\n    check c { gates g }\n    gate g { swarm x }\n}\n");
        (sim.step(&ctx, &plan, "web"), memory)
    }

    /// A step context named `web` over `fake` whose plan declares gate `g` (`gate` is its
    /// body), its events kept in memory, and the probe that answers for the gate.
    fn context_with_gate(fake: &FakeCluster, gate: &str) -> (StepContext, Arc<Memory>, crate::gates::ScriptedProbe) {
        let sim = Simulation { cluster: fake.clone(), ..Simulation::new() };
        let memory = Arc::new(Memory::default());
        let ctx = sim.context("s", "r-test", vec![Box::new(memory.clone())]);
        let text = format!("plan t {{\n    stack s\n    check c {{ gates g }}\n    gate g {{\n{gate}\n    }}\n}}\n");
        let (plan, _) = Simulation::plan(&text);
        (sim.step(&ctx, &plan, "web"), memory, sim.probe.clone())
    }

    /// `rolling` with gate `g`.
    fn gated(service: &str, image: &str) -> Rolling {
        Rolling {
            gates: vec![Spanned::new("g".into(), Span::default())],
            ..rolling(service, image, FailureAction::Rollback, 600)
        }
    }

    /// (image, running) of every task of `name` that wants to run; and how many tasks of
    /// `image` were ever created.
    async fn images(fake: &FakeCluster, name: &str, image: &str) -> (Vec<String>, usize) {
        let tasks = fake.tasks(name).await.unwrap();
        let image_of = |t: &bollard::models::Task| {
            spec::image(&ServiceSpec { task_template: t.spec.clone(), ..Default::default() }).to_owned()
        };
        let mut running: Vec<String> = tasks
            .iter()
            .filter(|t| t.desired_state == Some(bollard::models::TaskState::RUNNING))
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(bollard::models::TaskState::RUNNING))
            .map(image_of)
            .collect();
        running.sort();
        (running, tasks.iter().filter(|t| image_of(t) == image).count())
    }

    /// `took` is `secs`, give or take the follow's 100 ms poll.
    fn about(took: Duration, secs: u64) {
        let at = Duration::from_secs(secs);
        assert!(took >= at && took <= at + Duration::from_millis(100), "took {took:?}, not about {secs} s");
    }

    /// The verdicts of `g`, in order, and the batches they judged.
    fn judgements(memory: &Memory) -> (Vec<String>, Vec<String>) {
        let events = memory.events();
        let verdicts = events
            .iter()
            .filter_map(|e| if let Event::GateFinished { verdict, .. } = e { Some(verdict.clone()) } else { None })
            .collect();
        let batches = events
            .iter()
            .filter_map(|e| match e {
                Event::StepProgress { message, .. } if message.starts_with("judging") => Some(message.clone()),
                _ => None,
            })
            .collect();
        (verdicts, batches)
    }

    #[tokio::test(start_paused = true)]
    async fn a_gate_failing_on_the_first_batch_stops_the_step_before_the_later_batches_are_replaced() {
        let fake = FakeCluster::new();
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, memory, probe) = context_with_gate(&fake, "        http \"http://x/\"\n        interval \"1s\"");
        probe.script("g", &[Outcome::Fail]);
        let started = tokio::time::Instant::now();

        let error = gated("shop_web", "app:v2").apply(&ctx).await.unwrap_err();

        assert_eq!(error.to_string(), "gate `g` failed: 1 failed (limit 0): scripted fail at #1");
        // The first new task is up at 2 s (1 s start, 1 s to its first health check); the
        // next batch would start at 3 s.
        about(started.elapsed(), 2);
        assert_eq!(judgements(&memory).1, ["judging g with 1 of 3 tasks on the new release"]);
        assert_eq!(
            images(&fake, "shop_web", "app:v2").await,
            (vec!["app:v1".into(), "app:v1".into(), "app:v2".into()], 1)
        );

        let undoing = tokio::time::Instant::now();
        let record = recorded(&ctx);
        let (undone, half_a_second_in) = tokio::join!(undo("web", &record, &ctx.run), async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            images(&fake, "shop_web", "app:v2").await.0
        });
        undone.unwrap();
        // The bad task is out at once (stop-first) while the two old ones serve; its
        // replacement is up 2 s later, then the monitor window (2 s): not three slots' worth.
        assert_eq!(half_a_second_in, ["app:v1", "app:v1"], "the new task stops before its replacement starts");
        about(undoing.elapsed(), 4);
        let said = memory.events().iter().any(|e| {
            matches!(e, Event::StepProgress { message, .. }
                if message == "2 tasks of the previous release still serve: the 1 of the new release stop first")
        });
        assert!(said, "the undo says why it stops the new task first");
        assert_eq!(fake.spec("shop_web").unwrap(), before, "the exact previous spec");
        let (running, ever) = images(&fake, "shop_web", "app:v2").await;
        assert_eq!((running, ever), (vec!["app:v1".to_string(); 3], 1), "no later batch was ever replaced");
    }

    fn task_image(task: &bollard::models::Task) -> String {
        let container = task.spec.as_ref().and_then(|s| s.container_spec.as_ref());
        container.and_then(|c| c.image.clone()).unwrap_or_default()
    }

    /// The running tasks of `name` on `image`, by id.
    async fn running_on(fake: &FakeCluster, name: &str, image: &str) -> Vec<String> {
        let tasks = fake.tasks(name).await.unwrap();
        tasks
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(bollard::models::TaskState::RUNNING))
            .filter(|t| task_image(t) == image)
            .filter_map(|t| t.id.clone())
            .collect()
    }

    fn progress(memory: &Memory) -> Vec<String> {
        let events = memory.events();
        events
            .iter()
            .filter_map(|e| match e {
                Event::StepProgress { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// `gated`, with `on-undo stop-now`.
    fn stopping_now(service: &str, image: &str) -> Rolling {
        let mut step = gated(service, image);
        step.update.on_undo = OnUndo::StopNow;
        step
    }

    #[tokio::test(start_paused = true)]
    async fn on_undo_stop_now_stops_the_new_tasks_containers_on_this_node_when_the_undo_starts() {
        for (step, stops) in [(stopping_now("shop_web", "app:v2"), true), (gated("shop_web", "app:v2"), false)] {
            let fake = FakeCluster::new();
            fake.talk_to(crate::cluster::fake::NODE);
            let before = spec("shop_web", "app:v1");
            fake.add_service(before.clone());
            let (ctx, memory, probe) = context_with_gate(&fake, "        http \"http://x/\"\n        interval \"1s\"");
            probe.script("g", &[Outcome::Fail]);
            step.apply(&ctx).await.unwrap_err();
            let new = running_on(&fake, "shop_web", "app:v2").await;
            assert_eq!(new.len(), 1, "stopped at its first batch");
            assert!(fake.stopped_containers().is_empty(), "nothing is stopped before the undo");

            undo("web", &recorded(&ctx), &ctx.run).await.unwrap();

            let said = progress(&memory);
            let told = "stopping the 1 task of the new release on this node now, not after Swarm's DNS removal";
            if stops {
                assert_eq!(fake.stopped_containers(), [format!("container-{}", new[0])], "only the new task's");
                assert!(said.iter().any(|m| m == told), "{said:?}");
            } else {
                assert!(fake.stopped_containers().is_empty(), "on-undo drain (the default) leaves it to Swarm");
                assert!(!said.iter().any(|m| m == told), "{said:?}");
            }
            assert_eq!(fake.spec("shop_web").unwrap(), before, "the exact previous spec");
            assert_eq!(images(&fake, "shop_web", "app:v2").await.0, vec!["app:v1".to_string(); 3]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn on_undo_stop_now_stops_no_container_on_other_nodes_nor_when_every_task_runs_the_new_release() {
        // The new task on another node: this daemon cannot stop it; Swarm does.
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.talk_to("n2");
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, memory, probe) = context_with_gate(&fake, "        http \"http://x/\"\n        interval \"1s\"");
        probe.script("g", &[Outcome::Fail]);
        stopping_now("shop_web", "app:v2").apply(&ctx).await.unwrap_err();
        let tasks = fake.tasks("shop_web").await.unwrap();
        let new_on =
            tasks.iter().filter(|t| task_image(t) == "app:v2").filter_map(|t| t.node_id.clone()).collect::<Vec<_>>();
        assert_eq!(new_on, ["n1"], "slot 1, the first replaced, runs on n1");
        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();
        let said = progress(&memory);
        assert!(!said.iter().any(|m| m.starts_with("stopping") || m.starts_with("could not stop")), "{said:?}");
        let told = "on-undo stop-now: the new release's task does not run on this node; it leaves on Swarm's schedule";
        assert!(said.iter().any(|m| m == told), "{said:?}");
        assert!(fake.stopped_containers().is_empty(), "{:?}", fake.stopped_containers());
        assert_eq!(fake.spec("shop_web").unwrap(), before);

        // Every task on the new release (judged after the whole rollout): no old task would
        // serve, so none is stopped ahead of its replacement.
        let fake = FakeCluster::new();
        fake.talk_to(crate::cluster::fake::NODE);
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, _) = context(&fake);
        let mut step = rolling("shop_web", "app:v2", FailureAction::Rollback, 600);
        step.update.on_undo = OnUndo::StopNow;
        step.apply(&ctx).await.unwrap();
        assert_eq!(running_on(&fake, "shop_web", "app:v2").await.len(), 3);
        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();
        assert!(fake.stopped_containers().is_empty(), "{:?}", fake.stopped_containers());
        assert_eq!(fake.spec("shop_web").unwrap(), before);
    }

    #[test]
    fn only_running_new_tasks_on_this_node_are_stopped_and_only_placed_ones_count_as_elsewhere() {
        use bollard::models::{ContainerStatus, Task, TaskState, TaskStatus};
        let before = spec("shop_web", "app:v1");
        let after = spec("shop_web", "app:v2");
        let target = Target::of("svc", &before).unwrap();
        let task = |id: &str, of: &ServiceSpec, node: Option<&str>, state: TaskState| Task {
            id: Some(id.into()),
            service_id: Some("svc".into()),
            spec: of.task_template.clone(),
            node_id: node.map(str::to_owned),
            desired_state: Some(TaskState::RUNNING),
            status: Some(TaskStatus {
                state: Some(state),
                container_status: (state == TaskState::RUNNING)
                    .then(|| ContainerStatus { container_id: Some(format!("c-{id}")), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let tasks = [
            task("old-here", &before, Some("n1"), TaskState::RUNNING),
            task("new-here", &after, Some("n1"), TaskState::RUNNING),
            task("new-starting-here", &after, Some("n1"), TaskState::STARTING),
            task("new-there", &after, Some("n2"), TaskState::RUNNING),
            task("new-unplaced", &after, None, TaskState::PENDING),
            task("new-unplaced-empty", &after, Some(""), TaskState::PENDING),
        ];
        assert_eq!(new_containers_here(&target, &before, &tasks, "n1"), (vec!["c-new-here".to_string()], 1));
    }

    /// `shop_web` (3 of app:v1) rolled to app:v2 by a step whose gate fails its first batch:
    /// one new task beside two old ones. The spec before, and the step's context.
    async fn stopped_at_its_first_batch(fake: &FakeCluster) -> (ServiceSpec, StepContext) {
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, _memory, probe) = context_with_gate(fake, "        http \"http://x/\"\n        interval \"1s\"");
        probe.script("g", &[Outcome::Fail]);
        gated("shop_web", "app:v2").apply(&ctx).await.unwrap_err();
        (before, ctx)
    }

    /// A rollback that died after writing the stop-first transition (the undo's own write) is
    /// finished by the next rollback, which knows that spec for its own.
    #[tokio::test(start_paused = true)]
    async fn an_undo_killed_after_its_stop_first_write_is_finished_by_the_next() {
        let fake = FakeCluster::new();
        let (before, ctx) = stopped_at_its_first_batch(&fake).await;
        let record = recorded(&ctx);
        let written = record.written.clone().expect("the step wrote its spec");
        let service = fake.service("shop_web").await.unwrap();
        let half_undone = spec::out_first(&spec::transition(&record.previous_spec, &written));
        services::replace_spec(&fake, service, &half_undone, None).await.unwrap();

        undo("web", &record, &ctx.run).await.unwrap();

        assert_eq!(fake.spec("shop_web").unwrap(), before, "the exact previous spec");
        assert_eq!(images(&fake, "shop_web", "app:v2").await.0, vec!["app:v1".to_string(); 3]);
    }

    /// Swarm's own rollback writes the service between undo's look and its first write: undo
    /// looks again, finds the previous spec, and only verifies.
    #[tokio::test(start_paused = true)]
    async fn swarms_own_rollback_between_undos_look_and_write_is_looked_at_again() {
        let fake = FakeCluster::new();
        let (before, ctx) = stopped_at_its_first_batch(&fake).await;
        fake.overwrite_before_next_update(before.clone());

        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();

        assert_eq!(fake.spec("shop_web").unwrap(), before, "the exact previous spec");
        assert_eq!(images(&fake, "shop_web", "app:v2").await.0, vec!["app:v1".to_string(); 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gate_failing_on_the_second_batch_stops_the_step_before_the_third() {
        let fake = FakeCluster::new();
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, memory, probe) = context_with_gate(&fake, "        http \"http://x/\"\n        interval \"1s\"");
        probe.script_judgement("g", 1, &[Outcome::Fail]);
        let started = tokio::time::Instant::now();

        gated("shop_web", "app:v2").apply(&ctx).await.unwrap_err();

        // Batch 2 is up at 5 s (3 s + 2 s); batch 3 would start at 6 s.
        about(started.elapsed(), 5);
        assert_eq!(judgements(&memory).0, ["passed", "failed"]);
        assert_eq!(images(&fake, "shop_web", "app:v2").await.1, 2);
        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();
        assert_eq!(fake.spec("shop_web").unwrap(), before);
        assert_eq!(images(&fake, "shop_web", "app:v2").await, (vec!["app:v1".to_string(); 3], 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_passing_release_is_judged_batch_by_batch_through_to_convergence() {
        let fake = FakeCluster::new();
        fake.add_service(spec("shop_web", "app:v1"));
        let (ctx, memory, _) = context_with_gate(&fake, "        http \"http://x/\"\n        interval \"1s\"");
        let started = tokio::time::Instant::now();

        gated("shop_web", "app:v2").apply(&ctx).await.unwrap();

        let (verdicts, batches) = judgements(&memory);
        assert_eq!(verdicts, ["passed"; 3]);
        assert_eq!(batches, [1, 2, 3].map(|n| format!("judging g with {n} of 3 tasks on the new release")),);
        // Not before the update converged (the third task up at 8 s, then a monitor window).
        about(started.elapsed(), 10);
        assert_eq!(images(&fake, "shop_web", "app:v2").await.0, vec!["app:v2".to_string(); 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_judgement_longer_than_a_batch_is_followed_by_one_of_the_batches_that_came_up_meanwhile() {
        let fake = FakeCluster::new();
        fake.add_service(spec("shop_web", "app:v1"));
        // 4 s per judgement: longer than the 3 s between batches.
        let (ctx, memory, _) =
            context_with_gate(&fake, "        http \"http://x/\"\n        interval \"1s\"\n        count 5");
        let started = tokio::time::Instant::now();

        gated("shop_web", "app:v2").apply(&ctx).await.unwrap();

        // 2 s to 6 s with 1 new task; 6 s to 10 s with 2 (the second was up at 5 s, and
        // waited); the whole release from 8 s (the third up) to 12 s, beside it: the update
        // converged at 10 s, the step ends at 12 s.
        assert_eq!(
            judgements(&memory).1,
            [1, 2, 3].map(|n| format!("judging g with {n} of 3 tasks on the new release")),
        );
        about(started.elapsed(), 12);
    }

    #[tokio::test(start_paused = true)]
    async fn analysis_after_judges_once_the_update_has_converged() {
        let fake = FakeCluster::new();
        fake.add_service(spec("shop_web", "app:v1"));
        let (ctx, memory, probe) = context_with_gate(&fake, "        http \"http://x/\"\n        interval \"1s\"");
        probe.script("g", &[Outcome::Fail]);
        let mut step = gated("shop_web", "app:v2");
        step.update.analysis = AnalysisMode::After;
        let started = tokio::time::Instant::now();

        step.apply(&ctx).await.unwrap_err();

        about(started.elapsed(), 10); // every task replaced first
        assert_eq!(judgements(&memory), (vec!["failed".to_string()], Vec::new()));
        assert_eq!(images(&fake, "shop_web", "app:v2").await.0, vec!["app:v2".to_string(); 3]);
    }

    /// What the step recorded (the run's own copy: the event carries it redacted).
    fn recorded(ctx: &StepContext) -> RollingUndo {
        ctx.run
            .recorded
            .newest_first()
            .into_iter()
            .find_map(|(_, u)| if let Undo::Rolling(r) = u { Some(*r) } else { None })
            .expect("the step recorded its undo")
    }

    #[tokio::test(start_paused = true)]
    async fn a_good_image_rolls_out_and_converges_one_monitor_window_after_the_last_task() {
        let fake = FakeCluster::new();
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, memory) = context(&fake);
        let started = tokio::time::Instant::now();

        let step = rolling("shop_web", "app:v2", FailureAction::Rollback, 600);
        step.apply(&ctx).await.unwrap();

        assert_eq!(fake.spec("shop_web").unwrap(), updated_spec(&before, &step));
        assert_eq!(recorded(&ctx).previous_spec, before);
        let events = memory.events();
        assert!(matches!(&events[0], Event::StepRecorded { step, .. } if step == "web"), "recorded first");
        assert!(events.iter().any(|e| matches!(e, Event::StepProgress { updated: Some((3, 3)), .. })));
        // Per slot: 1 s to start + 1 s to the first health check, then 1 s delay (Swarm
        // monitors each batch while the next one goes on); the third is up at 8 s, then one
        // monitor window (what `docker service update` waits).
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(10) && took <= Duration::from_millis(10_100), "took {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashing_image_fails_at_its_first_task_and_undo_restores_the_exact_spec() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, _) = context(&fake);
        let started = tokio::time::Instant::now();

        let error = rolling("shop_web", "app:exit", FailureAction::Rollback, 600).apply(&ctx).await.unwrap_err();

        assert_eq!(
            error.to_string(),
            "1 task of shop_web on app:exit failed after starting: task: non-zero exit (3) (shop_web.1)"
        );
        assert!(started.elapsed() <= Duration::from_millis(1_100), "failed at once: {:?}", started.elapsed());
        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();
        assert_eq!(fake.spec("shop_web").unwrap(), before);
        let counts = fake.counts("shop_web").await.unwrap();
        assert_eq!((counts.running, counts.desired), (3, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn undo_accepts_a_slot_swarm_left_doubled_on_the_restored_spec() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, memory) = context(&fake);
        rolling("shop_web", "app:exit", FailureAction::Rollback, 600).apply(&ctx).await.unwrap_err();
        // Swarm rolls back by itself, and leaves a second v1 task in slot 1 (swarmkit#2242).
        tokio::time::sleep(Duration::from_secs(20)).await;
        fake.duplicate_slot("shop_web", 1);

        let started = tokio::time::Instant::now();
        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(30), "not waited out: {:?}", started.elapsed());
        assert_eq!(fake.spec("shop_web").unwrap(), before);
        let said = memory.records().iter().any(|r| match &r.event {
            Event::StepProgress { message, .. } => message.contains("swarmkit#2242"),
            _ => false,
        });
        assert!(said, "the extra task is reported");
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_update_is_undone_and_the_crash_looping_slot_replaced() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        let before = spec("shop_web", "app:v1");
        fake.add_service(before.clone());
        let (ctx, _) = context(&fake);

        let error = rolling("shop_web", "app:exit", FailureAction::Pause, 600).apply(&ctx).await.unwrap_err();
        assert!(error.to_string().contains("task: non-zero exit (3)"), "{error}");
        // Let the slot crash-loop a few times before undoing.
        tokio::time::sleep(Duration::from_secs(10)).await;

        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();
        assert_eq!(fake.spec("shop_web").unwrap(), before);
        let counts = fake.counts("shop_web").await.unwrap();
        assert_eq!((counts.running, counts.desired), (3, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn crash_loops_that_swarm_would_call_completed_fail_at_the_first_crash() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        fake.add_service(spec("shop_web", "app:v1"));
        let (ctx, _) = context(&fake);
        let started = tokio::time::Instant::now();

        let error = rolling("shop_web", "app:exit", FailureAction::Continue, 30).apply(&ctx).await.unwrap_err();

        assert!(started.elapsed() <= Duration::from_millis(1_100), "{:?}", started.elapsed());
        assert!(matches!(error, StepError::Converge(crate::services::failure::Failure::TasksFailed { .. }, _)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_dies_after_swarms_monitor_window_still_fails_the_step() {
        let fake = FakeCluster::new();
        // Up at 2 s, Swarm's 2 s window ends at 4 s, dies at 6 s: Swarm has moved on.
        fake.behave("app:late", Behavior::UnhealthyAfter(Duration::from_secs(5)));
        fake.add_service(spec("shop_web", "app:v1"));
        let (ctx, _) = context(&fake);
        let started = tokio::time::Instant::now();

        let error = rolling("shop_web", "app:late", FailureAction::Rollback, 600).apply(&ctx).await.unwrap_err();

        assert_eq!(
            error.to_string(),
            format!("1 task of shop_web on app:late failed after starting: {UNHEALTHY} (shop_web.1)")
        );
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(6) && took <= Duration::from_millis(6_100), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn max_failure_ratio_tolerates_that_many_failed_tasks() {
        let fake = FakeCluster::new();
        fake.behave("app:late", Behavior::UnhealthyAfter(Duration::from_secs(5)));
        fake.add_service(spec("shop_web", "app:v1"));
        let (ctx, _) = context(&fake);
        let mut step = rolling("shop_web", "app:late", FailureAction::Continue, 600);
        step.update.max_failure_ratio = 0.34;

        let error = step.apply(&ctx).await.unwrap_err();

        assert!(error.to_string().starts_with("2 tasks of shop_web on app:late failed"), "{error}");
        assert!(error.to_string().ends_with("(max-failure-ratio allows 1)"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_out_of_sequence_is_retried_with_a_fresh_index() {
        let fake = FakeCluster::new();
        fake.add_service(spec("shop_web", "app:v1"));
        fake.interfere(2);
        let (ctx, _) = context(&fake);

        rolling("shop_web", "app:v2", FailureAction::Rollback, 600).apply(&ctx).await.unwrap();

        assert_eq!(fake.update_calls(), 3);
        assert_eq!(spec::image(&fake.spec("shop_web").unwrap()), "app:v2");
    }

    #[tokio::test(start_paused = true)]
    async fn endless_out_of_sequence_gives_up() {
        let fake = FakeCluster::new();
        fake.add_service(spec("shop_web", "app:v1"));
        fake.interfere(100);
        let (ctx, _) = context(&fake);

        let error = rolling("shop_web", "app:v2", FailureAction::Rollback, 600).apply(&ctx).await.unwrap_err();

        assert_eq!(error.to_string(), "cannot update service shop_web: update out of sequence 5 times");
        assert_eq!(fake.update_calls(), services::OUT_OF_SEQUENCE_ATTEMPTS);
    }

    #[tokio::test(start_paused = true)]
    async fn preflight_names_a_missing_service_and_a_paused_update() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        fake.add_service(spec("shop_web", "app:v1"));
        let (ctx, _) = context(&fake);
        let missing = rolling("shop_nope", "app:v2", FailureAction::Rollback, 600).preflight(&ctx).await;
        assert_eq!(missing.problems, ["service `shop_nope` does not exist"]);

        // An earlier update left paused.
        let _ = rolling("shop_web", "app:exit", FailureAction::Pause, 600).apply(&ctx).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let paused = rolling("shop_web", "app:v2", FailureAction::Rollback, 600).preflight(&ctx).await;
        assert_eq!(paused.problems.len(), 1, "{paused:?}");
        assert!(paused.problems[0].starts_with("an earlier update of `shop_web` is paused"), "{paused:?}");
        // 2 s monitor against a 1 s interval x 3 retries + 1 s timeout health check.
        assert_eq!(paused.warnings.len(), 1, "{paused:?}");
        assert!(paused.warnings[0].starts_with("monitor 2s is shorter than the 4s"), "{paused:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_publish_that_drops_a_live_port_is_refused_unless_allowed() {
        use bollard::models::{EndpointPortConfig, EndpointPortConfigPublishModeEnum, EndpointSpec};
        use plans::steps::allow_removing::Removable;
        let fake = FakeCluster::new();
        let mut live = spec("shop_web", "app:v1");
        live.endpoint_spec = Some(EndpointSpec {
            ports: Some(vec![EndpointPortConfig {
                target_port: Some(8080),
                published_port: Some(9000),
                publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                ..Default::default()
            }]),
            ..Default::default()
        });
        fake.add_service(live.clone());
        let (ctx, _) = context(&fake);
        let mut step = rolling("shop_web", "app:v2", FailureAction::Rollback, 600);
        step.publish = vec![plans::steps::rolling::Publish {
            published: 9001,
            target: 8080,
            mode: PublishMode::Host,
            span: Span::default(),
        }];
        let found = step.preflight(&ctx).await;
        assert_eq!(found.problems.len(), 1, "{found:?}");
        assert!(
            found.problems[0].contains("the port 9000:8080/tcp (host) of shop_web")
                && found.problems[0].contains("`allow-removing ports` to step `web`"),
            "{found:?}"
        );
        let updates = fake.update_calls();
        let refused = step.apply(&ctx).await;
        assert!(matches!(refused, Err(StepError::Removes { .. })), "{refused:?}");
        assert_eq!(fake.update_calls(), updates, "nothing was written");
        assert!(ctx.run.recorded.newest_first().is_empty(), "nothing was recorded");

        step.allow_removing = vec![Removable::Ports];
        assert!(step.preflight(&ctx).await.problems.is_empty());
        step.apply(&ctx).await.unwrap();
        let ports = fake.spec("shop_web").unwrap().endpoint_spec.unwrap().ports.unwrap();
        assert_eq!(ports[0].published_port, Some(9001));
    }

    /// `spec` as a global service.
    fn global(name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            mode: Some(ServiceSpecMode { global: Some(Default::default()), ..Default::default() }),
            ..spec(name, image)
        }
    }

    /// (node, image) of every running task that wants to run, sorted.
    async fn running_by_node(fake: &FakeCluster, name: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = fake
            .tasks(name)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.desired_state == Some(bollard::models::TaskState::RUNNING))
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(bollard::models::TaskState::RUNNING))
            .map(|t| {
                (t.node_id.unwrap(), spec::image(&ServiceSpec { task_template: t.spec, ..Default::default() }).into())
            })
            .collect();
        out.sort();
        out
    }

    fn every_node(image: &str) -> Vec<(String, String)> {
        ["n1", "n2", "n3"].iter().map(|n| (n.to_string(), image.to_string())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_service_on_three_nodes_rolls_out_start_first_and_stop_first() {
        use plans::steps::update::Order;
        for order in [Order::StartFirst, Order::StopFirst] {
            let fake = FakeCluster::new();
            fake.set_nodes(&["n1", "n2", "n3"]);
            fake.add_service(global("shop_agent", "app:v1"));
            let (ctx, memory) = context(&fake);
            let started = tokio::time::Instant::now();
            let mut step = rolling("shop_agent", "app:v2", FailureAction::Rollback, 600);
            step.update.order = order;

            assert!(step.preflight(&ctx).await.problems.is_empty(), "{order:?}");
            step.apply(&ctx).await.unwrap();

            assert_eq!(running_by_node(&fake, "shop_agent").await, every_node("app:v2"), "{order:?}");
            let counts = fake.counts("shop_agent").await.unwrap();
            assert_eq!((counts.running, counts.desired), (3, 3));
            let updated: Vec<_> = memory
                .events()
                .into_iter()
                .filter_map(|e| match e {
                    Event::StepProgress { updated: Some(u), .. } => Some(u),
                    _ => None,
                })
                .collect();
            assert_eq!(updated.last(), Some(&(3, 3)), "{order:?}: {updated:?}");
            // As for 3 replicas: 2 s per node and a 1 s delay between them, then a monitor window.
            let took = started.elapsed();
            assert!(took >= Duration::from_secs(10) && took <= Duration::from_millis(10_100), "{order:?}: {took:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashing_image_on_a_global_service_fails_and_undo_restores_every_node() {
        let fake = FakeCluster::new();
        fake.set_nodes(&["n1", "n2", "n3"]);
        fake.behave("app:exit", Behavior::Crash(3));
        let before = global("shop_agent", "app:v1");
        fake.add_service(before.clone());
        let (ctx, _) = context(&fake);

        let error = rolling("shop_agent", "app:exit", FailureAction::Rollback, 600).apply(&ctx).await.unwrap_err();

        assert_eq!(
            error.to_string(),
            "1 task of shop_agent on app:exit failed after starting: task: non-zero exit (3) (shop_agent.n1)"
        );
        undo("web", &recorded(&ctx), &ctx.run).await.unwrap();
        assert_eq!(fake.spec("shop_agent").unwrap(), before);
        assert_eq!(running_by_node(&fake, "shop_agent").await, every_node("app:v1"));
    }

    #[tokio::test(start_paused = true)]
    async fn replicas_on_a_global_service_fail_preflight_and_apply_changes_nothing() {
        let fake = FakeCluster::new();
        fake.add_service(global("shop_agent", "app:v1"));
        let (ctx, memory) = context(&fake);
        let mut step = rolling("shop_agent", "app:v2", FailureAction::Rollback, 600);
        step.replicas = Some(Spanned::new(3, Span::default()));
        let expected = "`replicas 3` cannot apply to `shop_agent`: it is a global service (one task on every node \
                        that may run it), which has no replica count; remove `replicas` from the step";

        assert_eq!(step.preflight(&ctx).await.problems, [expected]);
        assert_eq!(step.apply(&ctx).await.unwrap_err().to_string(), expected);
        assert_eq!(fake.spec("shop_agent").unwrap(), global("shop_agent", "app:v1"));
        assert!(memory.events().is_empty(), "nothing recorded: {:?}", memory.events());
    }

    #[test]
    fn the_new_spec_keeps_everything_but_image_replicas_ports_and_update_config() {
        let before = spec("shop_web", "app:v1");
        let mut step = rolling("shop_web", "app:v2", FailureAction::Pause, 600);
        step.replicas = Some(Spanned::new(5, Span::default()));
        step.publish = vec![plans::steps::rolling::Publish {
            published: 8080,
            target: 80,
            mode: PublishMode::Host,
            span: Span::default(),
        }];

        let after = updated_spec(&before, &step);

        let mut expected = serde_json::to_value(&before).unwrap();
        expected["TaskTemplate"]["ContainerSpec"]["Image"] = "app:v2".into();
        expected["Mode"]["Replicated"]["Replicas"] = 5.into();
        expected["EndpointSpec"] = serde_json::json!({
            "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]
        });
        expected["UpdateConfig"] = serde_json::json!({
            "Parallelism": 1, "Delay": 1_000_000_000i64, "FailureAction": "pause",
            "Monitor": 2_000_000_000i64, "MaxFailureRatio": 0.0, "Order": "start-first"
        });
        expected["RollbackConfig"] = serde_json::json!({
            "Parallelism": 1, "Delay": 1_000_000_000i64, "FailureAction": "pause",
            "Monitor": 2_000_000_000i64, "MaxFailureRatio": 0.0, "Order": "start-first"
        });
        assert_eq!(serde_json::to_value(&after).unwrap(), expected);
    }

    /// A router switch changes a config, not the image, so the old tasks already run the
    /// target image. Undo must wait until every task is on the old config again (start-first,
    /// as the switch went) before it writes back the old update config (stop-first, one at a
    /// time): an earlier return let Swarm stop the rest of the switched tasks with nothing
    /// new up, and the router's name stopped resolving on the real swarm.
    #[tokio::test(start_paused = true)]
    async fn undo_of_a_config_only_change_waits_for_every_task_and_keeps_them_serving() {
        use std::sync::atomic::{AtomicU64, Ordering};

        use bollard::models::TaskSpecContainerSpecConfigs;
        use plans::steps::update::Order;

        let with = |config: &str| {
            let mut s = spec("shop_rt", "router:1");
            let container = s.task_template.as_mut().and_then(|t| t.container_spec.as_mut()).unwrap();
            container.configs = Some(vec![TaskSpecContainerSpecConfigs {
                config_id: Some(config.into()),
                config_name: Some(config.into()),
                ..Default::default()
            }]);
            s
        };
        let fake = FakeCluster::new();
        let before = with("rt-blue");
        fake.add_service(before.clone());
        let (ctx, _) = context(&fake);
        let service = services::inspect(&fake, "shop_rt").await.unwrap();
        let id = service.id.clone().unwrap();
        let record = RollingUndo::of(&service, 600_000);
        let mut switched = with("rt-green");
        let all_at_once = UpdatePolicy { parallelism: 0, order: Order::StartFirst, ..UpdatePolicy::default() };
        spec::set_update_policy(&mut switched, &all_at_once);
        services::replace_spec(&fake, service, &switched, None).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;

        let lowest = Arc::new(AtomicU64::new(u64::MAX));
        let watcher = tokio::spawn({
            let (fake, lowest) = (fake.clone(), lowest.clone());
            async move {
                loop {
                    let running = fake.counts("shop_rt").await.unwrap().running;
                    lowest.fetch_min(running, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        undo("rt", &record, &ctx.run).await.unwrap();
        let serving = |config: &str| {
            let fake = fake.clone();
            let (id, config) = (id.clone(), config.to_owned());
            async move {
                let tasks = fake.tasks(&id).await.unwrap();
                tasks
                    .iter()
                    .filter(|t| t.desired_state == Some(bollard::models::TaskState::RUNNING))
                    .filter(|t| {
                        let configs =
                            t.spec.as_ref().and_then(|s| s.container_spec.as_ref()).and_then(|c| c.configs.clone());
                        configs.unwrap_or_default().iter().any(|c| c.config_name.as_deref() == Some(config.as_str()))
                    })
                    .count()
            }
        };
        assert_eq!(serving("rt-blue").await, 3, "undo returned with every task on the old config");
        assert_eq!(serving("rt-green").await, 0);
        tokio::time::sleep(Duration::from_secs(30)).await;
        watcher.abort();
        assert_eq!(fake.spec("shop_rt").unwrap(), before);
        assert!(lowest.load(Ordering::SeqCst) >= 3, "running tasks fell to {}", lowest.load(Ordering::SeqCst));
    }
}
