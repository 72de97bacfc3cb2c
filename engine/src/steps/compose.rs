//! `compose` at run time: deploy a compose file as a Swarm stack the way `docker stack deploy`
//! does (`services::stack` makes the specs), then judge the step's gates.
//!
//! Before it changes anything the step records every service it will update (its whole spec)
//! and every network, config, secret and service it will create. It creates what is missing,
//! updates each changed service with its own `deploy.update_config`, leaves unchanged services
//! untouched (their version index does not move), follows every changed service at once until
//! it has converged, and watches all their new tasks until the last gate has passed. Undo puts
//! the whole stack back: updated services to their recorded specs, created ones removed.

use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{Service, ServiceSpec};
use plans::steps::Compose;
use plans::steps::compose::Resolved;
use plans::steps::update::AnalysisMode;

use super::LiveFacts;
use super::batches::{self, Batches};
use super::{Behavior, Findings, Refusal, StepError, SwarmObject};
use crate::cluster::{Cluster, ClusterError};
use crate::context::{RunContext, StepContext};
use crate::events::StepOutcome;
use crate::events::UndoOutcome;
use crate::services::convergence::{self, Settings};
use crate::services::progress::Progress;
use crate::services::removal::{self, Removal};
use crate::services::stack::{self, Ids};
use crate::services::target::{Baseline, Mode, Target};
use crate::services::watch::Watch;
use crate::services::{self, ServiceError};
use crate::undo::{ComposeUndo, RollingUndo, Undo};

/// The label on configs and secrets planrun creates: the SHA-256 of their content, so a later
/// run can tell a changed secret (whose data Swarm never gives back).
pub const CONTENT_LABEL: &str = "planrun.content-sha256";

/// How long undo waits for a removed service's tasks to let go of its networks.
const RELEASE: Duration = Duration::from_secs(60);

/// The compose file read and turned into what the stack should be.
/// What the step will do, worked out before any change.
#[derive(Default)]
struct Changes {
    networks: Vec<(String, plans::compose::NetworkDef)>,
    configs: Vec<(String, plans::compose::FileObject, Vec<u8>)>,
    secrets: Vec<(String, plans::compose::FileObject, Vec<u8>)>,
    /// (service key, live service if it exists)
    services: Vec<(String, Option<Service>)>,
    unchanged: Vec<String>,
    ids: Ids,
    /// What the updates would take from running services, whether the step allows it or not.
    removals: Vec<Removal>,
    /// Secrets the file declares that exist without planrun's content label (made by
    /// `docker stack deploy`): whether their content still matches cannot be told.
    unverified_secrets: Vec<String>,
}

/// The spec the file asks for, over the live one: the force counter stays as it is (it alone
/// must not count as a change, nor replace tasks); an image the file names as it named it last
/// time (the `com.docker.stack.image` label) keeps the image the service runs, as
/// `docker stack deploy` keeps it, so a release made since by a rolling step is not undone, and
/// with it the platforms the docker CLI resolved for that image from its registry.
fn desired_spec(
    stack: &str,
    file: &plans::compose::ComposeFile,
    service: &plans::compose::Service,
    ids: &Ids,
    live: Option<&ServiceSpec>,
) -> ServiceSpec {
    let mut spec = stack::service_spec(stack, file, service, ids);
    let Some(live) = live else { return spec };
    let live_template = live.task_template.clone().unwrap_or_default();
    if let Some(t) = spec.task_template.as_mut() {
        t.force_update = live_template.force_update;
    }
    if live.labels.as_ref().and_then(|l| l.get(stack::IMAGE_LABEL)) == Some(&service.image.value) {
        let image = crate::services::spec::image(live).to_owned();
        crate::services::spec::set_image(&mut spec, &image);
        let platforms = live_template.placement.and_then(|p| p.platforms);
        if let Some(p) = spec.task_template.as_mut().and_then(|t| t.placement.as_mut()) {
            p.platforms = platforms;
        }
    }
    spec
}

fn cluster_error(doing: String) -> impl FnOnce(ClusterError) -> StepError {
    move |error| StepError::Service(ServiceError::Cluster { doing, error })
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

/// The compose file as the plan's checker read it: a run never reads or parses it again.
fn read(step: &Compose) -> Result<&Resolved, StepError> {
    step.resolved
        .as_deref()
        .ok_or_else(|| StepError::Refused(Refusal::ComposeNotRead { file: step.file.value.clone() }))
}

/// Reads the swarm and works out what to create and what to update.
async fn changes(ctx: &StepContext, desired: &Resolved) -> Result<Changes, StepError> {
    let cluster = ctx.cluster();
    let stack = ctx.run.stack.as_str();
    let mut c = Changes::default();
    for (name, def) in stack::networks(stack, &desired.file) {
        match cluster.network(&name).await.map_err(cluster_error(format!("inspect network {name}")))? {
            Some(n) => {
                c.ids.networks.insert(name, n.id);
            }
            None if def.external => {
                return Err(Refusal::ExternalMissing { object: SwarmObject::Network, name }.into());
            }
            None => c.networks.push((name, def)),
        }
    }
    // Every config and secret the file declares, used or not, as `docker stack deploy` makes
    // them; an external one must exist when a service uses it.
    for (objects, is_config) in [(&desired.file.configs, true), (&desired.file.secrets, false)] {
        let object = if is_config { SwarmObject::Config } else { SwarmObject::Secret };
        for o in objects {
            let used = desired.file.services.iter().any(|s| {
                let refs = if is_config { &s.configs } else { &s.secrets };
                refs.iter().any(|r| r.source.value == o.key)
                    || (is_config && s.credential_spec.as_ref().and_then(|c| c.config.as_ref()) == Some(&o.key))
            });
            if o.external && !used {
                continue;
            }
            let name = stack::scoped(stack, &o.key, o.name.as_deref());
            let data = match &o.file {
                Some(f) if !o.external && o.driver.is_none() => std::fs::read(desired.dir.join(f)).map_err(|e| {
                    Refusal::ObjectFile { object, key: o.key.clone(), file: f.clone(), error: e.into() }
                })?,
                _ => Vec::new(),
            };
            let (id, same) = if is_config {
                let live = cluster.config(&name).await.map_err(cluster_error(format!("inspect config {name}")))?;
                (live.as_ref().map(|l| l.id.clone()), live.is_none_or(|l| o.external || l.data == data))
            } else {
                let live = cluster.secret(&name).await.map_err(cluster_error(format!("inspect secret {name}")))?;
                if live
                    .as_ref()
                    .is_some_and(|l| !o.external && o.driver.is_none() && !l.labels.contains_key(CONTENT_LABEL))
                {
                    c.unverified_secrets.push(name.clone());
                }
                let same = live.as_ref().is_none_or(|l| {
                    o.external
                        || o.driver.is_some()
                        || l.labels.get(CONTENT_LABEL).is_none_or(|sum| *sum == sha256(&data))
                });
                (live.map(|l| l.id), same)
            };
            if !same {
                return Err(Refusal::ObjectChanged { object, name }.into());
            }
            match id {
                Some(id) if is_config => {
                    c.ids.configs.insert(name, id);
                }
                Some(id) => {
                    c.ids.secrets.insert(name, id);
                }
                None if o.external => {
                    return Err(Refusal::ExternalMissing { object, name }.into());
                }
                None if is_config => c.configs.push((name, o.clone(), data)),
                None => c.secrets.push((name, o.clone(), data)),
            }
        }
    }
    let api = cluster.api_version().await;
    for s in &desired.file.services {
        let name = format!("{stack}_{}", s.name.value);
        match cluster.service(&name).await {
            Ok(live) => {
                let live_spec = live.spec.clone().unwrap_or_default();
                let spec = desired_spec(stack, &desired.file, s, &c.ids, Some(&live_spec));
                // A service that uses an object still to be created differs: its spec names
                // that object without an id yet.
                if stack::same_spec_at(&spec, &live_spec, api) {
                    c.unchanged.push(name);
                } else {
                    c.removals.extend(removal::refused(cluster, &name, &live_spec, &spec, &[]).await);
                    c.services.push((s.name.value.clone(), Some(live)));
                }
            }
            Err(ClusterError::NotFound(_)) => c.services.push((s.name.value.clone(), None)),
            Err(error) => return Err(cluster_error(format!("inspect service {name}"))(error)),
        }
    }
    Ok(c)
}

/// Absolute bind sources missing on this machine, when it is the swarm's only node: each
/// task would fail with this error, at the file's line.
fn missing_bind_sources(desired: &Resolved) -> Vec<String> {
    let mut out = Vec::new();
    for s in &desired.file.services {
        for m in s.volumes.iter().filter(|m| m.kind == plans::compose::MountKind::Bind && !m.relative) {
            let Some(source) = m.source.as_deref() else { continue };
            if !std::path::Path::new(source).exists() {
                let (line, _) = desired.source.line_col(m.source_span.offset);
                out.push(format!(
                    "{}:{line}: invalid mount config for type \"bind\": bind source path does not exist: {source} \
                     (service `{}`; this machine is the swarm's only node): create it, or fix the path",
                    desired.source.name, s.name.value
                ));
            }
        }
    }
    out
}

/// Refuses changes that take from running services what the step does not allow.
fn allowed(step: &Compose, ctx: &StepContext, changes: &Changes) -> Result<(), StepError> {
    let refused: Vec<Removal> =
        changes.removals.iter().filter(|r| !step.allow_removing.contains(&r.kind)).cloned().collect();
    if refused.is_empty() { Ok(()) } else { Err(StepError::Removes { step: ctx.step.clone(), removals: refused }) }
}

#[async_trait]
impl Behavior for Compose {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let mut findings = Findings::default();
        let desired = match read(self) {
            Ok(d) => d,
            Err(e) => {
                findings.problems.push(e.to_string());
                return findings;
            }
        };
        if ctx.cluster().only_node_is_here().await {
            findings.problems.extend(missing_bind_sources(desired));
        }
        match changes(ctx, desired).await {
            Err(e) => findings.problems.push(e.to_string()),
            Ok(changes) => {
                if let Err(e) = allowed(self, ctx, &changes) {
                    findings.problems.push(e.to_string());
                }
                for name in &changes.unverified_secrets {
                    findings.warnings.push(format!(
                        "secret `{name}` exists but planrun did not make it: Swarm never gives a secret's content \
                         back, so whether it still matches the file cannot be told (docker stack deploy would fail \
                         updating it); services keep it as it is. To change its content, give the secret a new \
                         `name` in the compose file"
                    ));
                }
                for (key, live) in &changes.services {
                    let name = format!("{}_{key}", ctx.run.stack);
                    let Some(live) = live else { continue };
                    let live = services::settled(ctx.cluster(), live.clone()).await;
                    if let Some(problem) = super::rolling::update_in_the_way(&live, &name) {
                        findings.problems.push(problem);
                    }
                }
            }
        }
        findings
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        let cluster = ctx.cluster();
        let stack = ctx.run.stack.clone();
        let desired = read(self)?;
        let mut changes = changes(ctx, desired).await?;
        allowed(self, ctx, &changes)?;
        let deadline_ms = self.deadline.as_millis();
        ctx.record(Undo::Compose(Box::new(ComposeUndo {
            stack: stack.clone(),
            updated: changes
                .services
                .iter()
                .filter_map(|(_, l)| l.as_ref())
                .map(|l| RollingUndo::of(l, deadline_ms).on_undo(self.on_undo))
                .collect(),
            created_services: changes
                .services
                .iter()
                .filter(|(_, l)| l.is_none())
                .map(|(k, _)| format!("{stack}_{k}"))
                .collect(),
            created_networks: changes.networks.iter().map(|(n, _)| n.clone()).collect(),
            created_configs: changes.configs.iter().map(|(n, _, _)| n.clone()).collect(),
            created_secrets: changes.secrets.iter().map(|(n, _, _)| n.clone()).collect(),
        })))
        .await?;
        for name in &changes.unchanged {
            ctx.progress(format!("{name} unchanged"));
        }

        for (name, def) in &changes.networks {
            ctx.progress(format!("creating network {name}"));
            let id = cluster
                .create_network(stack::new_network(&stack, name, def))
                .await
                .map_err(cluster_error(format!("create network {name}")))?;
            changes.ids.networks.insert(name.clone(), id);
        }
        for (name, o, data) in &changes.configs {
            ctx.progress(format!("creating config {name}"));
            // A config's data can be read back and compared as it is: no label needed.
            let object = stack::new_object(&stack, o, data.clone());
            let id = cluster.create_config(object).await.map_err(cluster_error(format!("create config {name}")))?;
            changes.ids.configs.insert(name.clone(), id);
        }
        for (name, o, data) in &changes.secrets {
            ctx.progress(format!("creating secret {name}"));
            let mut object = stack::new_object(&stack, o, data.clone());
            if o.driver.is_none() {
                object.labels.insert(CONTENT_LABEL.into(), sha256(data));
            }
            let id = cluster.create_secret(object).await.map_err(cluster_error(format!("create secret {name}")))?;
            changes.ids.secrets.insert(name.clone(), id);
        }

        // Every write first (as `docker stack deploy` does), then every service followed at once.
        let mut followed: Vec<(Target, Baseline, ServiceSpec, Option<Service>)> = Vec::new();
        for (key, live) in &changes.services {
            let Some(s) = desired.file.service(key) else { continue };
            let mut spec =
                desired_spec(&stack, &desired.file, s, &changes.ids, live.as_ref().and_then(|l| l.spec.as_ref()));
            let name = spec.name.clone().unwrap_or_default();
            match live {
                Some(live) => {
                    let previous = live.spec.clone().unwrap_or_default();
                    // Keep the live force counter: it alone must not replace tasks.
                    if let (Some(t), Some(p)) = (spec.task_template.as_mut(), previous.task_template.as_ref()) {
                        t.force_update = p.force_update;
                    }
                    let id = live.id.clone().unwrap_or_default();
                    let target = Target::of(&id, &spec)?;
                    ctx.progress(format!("updating {name} to {}", target.image));
                    let baseline = services::replace_spec(cluster, live.clone(), &spec, Some(&previous)).await?;
                    followed.push((target, baseline, spec, Some(live.clone())));
                }
                None => {
                    ctx.progress(format!("creating {name} ({})", s.image.value));
                    let id = services::create(cluster, spec.clone()).await?;
                    let target = Target::of(&id, &spec)?;
                    followed.push((target, Baseline::default(), spec, None));
                }
            }
        }
        let settings = Settings::new(self.deadline.to_std());
        let mut watches: Vec<Watch> = Vec::new();
        let mut expected = Vec::new();
        for (target, baseline, spec, _) in &followed {
            let ratio = spec.update_config.as_ref().and_then(|u| u.max_failure_ratio).unwrap_or(0.0);
            // A global service has as many tasks as nodes run it (none tolerated if unknown).
            let tasks = match target.mode {
                Mode::Replicated(n) => n,
                Mode::Global => cluster.counts(&target.service_id).await.map(|c| c.desired).unwrap_or(0),
            };
            expected.push(tasks);
            watches.push(Watch::new(target, baseline, Watch::allowance(ratio, tasks)));
        }
        if followed.is_empty() {
            ctx.progress(format!("stack {stack}: nothing to change"));
        }
        let targets: Vec<(&Target, &Baseline)> = followed.iter().map(|(t, b, _, _)| (t, b)).collect();
        let judged = follow_and_judge(ctx, &targets, &mut watches, &expected, settings, self).await;
        let all: Vec<&Watch> = watches.iter().collect();
        super::reported(cluster, &all, judged).await
    }

    fn preview(&self) -> Vec<String> {
        vec![format!("deploys {} as a stack", self.file.value)]
    }

    async fn live(&self, _cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        Ok(LiveFacts { stack_objects: true, ..LiveFacts::default() })
    }

    fn drill(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn drilled(&self, _finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        None
    }
}

/// Follows every service the step changed until each has converged, and judges the step's
/// gates: batch by batch while Swarm replaces their tasks (`analysis per-batch`, the tasks of
/// all the services counted together), or once all have converged (`analysis after`). Every
/// new release is watched until the last gate has passed.
async fn follow_and_judge(
    ctx: &StepContext,
    targets: &[(&Target, &Baseline)],
    watches: &mut [Watch],
    expected: &[u64],
    settings: Settings,
    step: &Compose,
) -> Result<(), StepError> {
    let cluster = ctx.cluster();
    let (batches, seen) = Batches::new(expected);
    let reports: Vec<_> = (0..targets.len())
        .map(|part| {
            let batches = &batches;
            move |p: Progress| {
                batches.update(part, p.updated);
                ctx.followed(p);
            }
        })
        .collect();
    let follows = targets.iter().zip(watches.iter_mut()).zip(&reports).map(|(((target, baseline), watch), report)| {
        convergence::follow(cluster, report, target, baseline, watch, settings)
    });
    let all = async { futures_util::future::join_all(follows).await.into_iter().collect::<Result<Vec<_>, _>>() };
    let (during, after) = ctx.batch_gates(&step.gates);
    if step.analysis == AnalysisMode::After || during.is_empty() || targets.is_empty() {
        all.await?;
        // Every new release must stay healthy until the last gate has passed.
        return Watch::during_all(cluster, watches, ctx.judge(&step.gates)).await?.map_err(StepError::Gates);
    }
    let rest = batches::follow_judging(ctx, &during, &after, (&batches, seen), all).await?;
    Watch::during_all(cluster, watches, rest).await?.map_err(StepError::Gates)
}

/// Puts the stack back: every updated service to its recorded spec (all at once, each the way
/// a rolling step's undo does it), then every created service removed, then the networks,
/// configs and secrets the step created.
pub async fn undo(step: &str, record: &ComposeUndo, ctx: &RunContext) -> Result<(), StepError> {
    let cluster = ctx.cluster.as_ref();
    let restores = record.updated.iter().map(|u| super::rolling::undo(step, u, ctx));
    let mut first_error = None;
    for result in futures_util::future::join_all(restores).await {
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    for name in &record.created_services {
        if let Ok(service) = cluster.service(name).await {
            let id = service.id.unwrap_or_default();
            ctx.progress(step, format!("removing {name}"));
            if let Err(e) = services::remove(cluster, &id).await {
                first_error.get_or_insert(e.into());
            }
            gone(cluster, &id).await;
        }
    }
    for name in &record.created_configs {
        if let Ok(Some(c)) = cluster.config(name).await {
            retry(|| cluster.remove_config(&c.id)).await.map_err(cluster_error(format!("remove config {name}")))?;
        }
    }
    for name in &record.created_secrets {
        if let Ok(Some(s)) = cluster.secret(name).await {
            retry(|| cluster.remove_secret(&s.id)).await.map_err(cluster_error(format!("remove secret {name}")))?;
        }
    }
    for name in &record.created_networks {
        if let Ok(Some(n)) = cluster.network(name).await {
            retry(|| cluster.remove_network(&n.id)).await.map_err(cluster_error(format!("remove network {name}")))?;
            // The daemon lists a removed overlay network for a moment longer: wait until it
            // is gone, so that a run that ends has really put everything back.
            let until = tokio::time::Instant::now() + RELEASE;
            while tokio::time::Instant::now() < until && matches!(cluster.network(&n.id).await, Ok(Some(_))) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Waits (at most [`RELEASE`]) until a removed service's tasks are gone.
async fn gone(cluster: &dyn Cluster, id: &str) {
    let until = tokio::time::Instant::now() + RELEASE;
    while tokio::time::Instant::now() < until {
        match cluster.tasks(id).await {
            Ok(tasks) if tasks.is_empty() => return,
            Err(_) => return,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Retries a removal that fails while containers still hold the object (at most [`RELEASE`]).
async fn retry<F, Fut>(mut remove: F) -> Result<(), ClusterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ClusterError>>,
{
    let until = tokio::time::Instant::now() + RELEASE;
    loop {
        match remove().await {
            Ok(()) | Err(ClusterError::NotFound(_)) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= until => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::collections::HashMap;

    use super::*;
    use crate::cluster::fake::Behavior as Fake;
    use crate::events::{Memory, RunOutcome};
    use crate::executor::{Executor, Interrupts, Report};
    use crate::simulation::Simulation;
    use plans::gates::Outcome;

    const COMPOSE: &str = "\
services:
  web:
    image: app:${WEB_TAG:-v1}
    networks: [front]
    configs: [settings]
    deploy:
      replicas: 2
      update_config: {order: start-first, failure_action: rollback}
  api:
    image: app:${API_TAG:-v1}
    networks: [front, EXTRA]
    secrets: [token]
    deploy:
      replicas: 2
  agent:
    image: agent:v1
    deploy:
      mode: global
networks:
  front: {}
  extra: {}
configs:
  settings: {file: ./settings.txt}
secrets:
  token: {file: ./token.txt}
";

    /// A directory with the compose file (its `EXTRA` network named `extra`, or `front` when
    /// `extra` is false) and its files.
    /// A directory of its own with the compose file and its files, removed when dropped.
    fn dir(extra: bool) -> tempfile::TempDir {
        let dir = tempfile::Builder::new().prefix("planrun-compose-step-").tempdir().unwrap();
        let text = COMPOSE.replace("EXTRA", if extra { "extra" } else { "front" });
        std::fs::write(dir.path().join("docker-compose.yml"), text).unwrap();
        std::fs::write(dir.path().join("settings.txt"), "a=1\n").unwrap();
        std::fs::write(dir.path().join("token.txt"), "secret\n").unwrap();
        dir
    }

    async fn apply(sim: &Simulation, dir: &std::path::Path, vars: &str) -> (Report, Arc<Memory>) {
        run(sim, dir, vars, "").await
    }

    async fn apply_with(sim: &Simulation, dir: &std::path::Path, vars: &str, settings: &str) -> Report {
        run(sim, dir, vars, settings).await.0
    }

    async fn run(sim: &Simulation, dir: &std::path::Path, vars: &str, settings: &str) -> (Report, Arc<Memory>) {
        let text = format!(
            "plan t {{\n    stack shop\n{vars}    gate g {{ swarm shop_web }}\n    compose stack {{\n        file \"docker-compose.yml\"\n        gates g\n{settings}    }}\n}}\n"
        );
        run_plan(sim, dir, text).await
    }

    async fn run_plan(sim: &Simulation, dir: &std::path::Path, text: String) -> (Report, Arc<Memory>) {
        let inputs = plans::Inputs { files: Some(dir.to_path_buf()), ..plans::Inputs::default() };
        let checked = plans::check(plans::SourceFile::new("plan.kdl", text), &inputs);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let (plan, graph) = (Arc::new(checked.plan.unwrap()), checked.graph.unwrap());
        let memory = Arc::new(Memory::default());
        let ctx = sim.context("shop", "r-compose", vec![Box::new(memory.clone())]);
        let executor = Executor { ctx, parallelism: 4, interrupts: Interrupts::default() };
        (executor.run(&plan, &graph, &Arc::new(dir.to_path_buf())).await, memory)
    }

    /// Two services of 3 replicas each, updated one task at a time 5 s apart.
    const BATCHED: &str = "\
services:
  web:
    image: app:${TAG:-v1}
    deploy:
      replicas: 3
      update_config: {parallelism: 1, delay: 5s, order: start-first, failure_action: rollback}
  api:
    image: app:${TAG:-v1}
    deploy:
      replicas: 3
      update_config: {parallelism: 1, delay: 5s}
";

    /// The stack of [`BATCHED`] on `tag`, its step judging gate `h` (an http gate measuring
    /// every second) with `settings`.
    async fn release(sim: &Simulation, tag: &str, settings: &str) -> (Report, Arc<Memory>) {
        let dir = std::env::temp_dir().join(format!("planrun-compose-batched-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("docker-compose.yml"), BATCHED).unwrap();
        let text = format!(
            "plan t {{\n    stack shop\n    var TAG default={tag}\n    gate h {{\n        http \"http://x/\"\n        interval \"1s\"\n    }}\n    compose stack {{\n        file \"docker-compose.yml\"\n        gates h\n{settings}    }}\n}}\n"
        );
        let ran = run_plan(sim, &dir, text).await;
        let _ = std::fs::remove_dir_all(&dir);
        ran
    }

    /// How many tasks of `image` `service` ever had.
    async fn ever(sim: &Simulation, service: &str, image: &str) -> usize {
        let tasks = sim.cluster.tasks(service).await.unwrap();
        tasks
            .iter()
            .filter(|t| {
                let spec = ServiceSpec { task_template: t.spec.clone(), ..Default::default() };
                crate::services::spec::image(&spec) == image
            })
            .count()
    }

    fn judging(memory: &Memory) -> Vec<String> {
        memory
            .events()
            .into_iter()
            .filter_map(|e| match e {
                crate::events::Event::StepProgress { message, .. } if message.starts_with(batches::JUDGING) => {
                    Some(message)
                }
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_verdict_on_the_first_new_tasks_puts_the_stack_back_before_the_rest_is_replaced() {
        let sim = Simulation::new();
        let (first, _) = release(&sim, "v1", "").await;
        assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
        let before: Vec<ServiceSpec> = ["shop_web", "shop_api"].iter().map(|n| sim.cluster.spec(n).unwrap()).collect();
        sim.probe.script("h", &[Outcome::Fail]);

        let (report, memory) = release(&sim, "v2", "").await;

        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        // Both services replace one task at a time: the first judgement begins with the first
        // new task of each, 2 of the 6, and fails before either starts its second.
        assert_eq!(judging(&memory), ["judging h with 2 of 6 tasks on the new release"]);
        assert_eq!(ever(&sim, "shop_web", "app:v2").await, 1);
        assert_eq!(ever(&sim, "shop_api", "app:v2").await, 1);
        let after: Vec<ServiceSpec> = ["shop_web", "shop_api"].iter().map(|n| sim.cluster.spec(n).unwrap()).collect();
        assert_eq!(after, before, "the exact previous specs");
    }

    #[tokio::test(start_paused = true)]
    async fn a_good_release_is_judged_batch_by_batch_and_after_waits_for_every_service() {
        let sim = Simulation::new();
        assert_eq!(release(&sim, "v1", "").await.0.outcome, RunOutcome::Succeeded);

        let (report, memory) = release(&sim, "v2", "").await;
        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        let said = judging(&memory);
        assert_eq!(said.first().map(String::as_str), Some("judging h with 2 of 6 tasks on the new release"));
        assert_eq!(said.last().map(String::as_str), Some("judging h with 6 of 6 tasks on the new release"));

        // Back to v1, then v3 with `analysis after`: one judgement, once both have converged.
        assert_eq!(release(&sim, "v1", "").await.0.outcome, RunOutcome::Succeeded);
        sim.probe.script("h", &[Outcome::Fail]);
        let (report, memory) = release(&sim, "v3", "        analysis after\n").await;
        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        assert!(judging(&memory).is_empty(), "{:?}", judging(&memory));
        // Every task of both services was replaced before the gate's first measurement.
        assert_eq!(ever(&sim, "shop_web", "app:v3").await, 3);
        assert_eq!(ever(&sim, "shop_api", "app:v3").await, 3);
    }

    fn labels(spec: &ServiceSpec) -> HashMap<String, String> {
        spec.labels.clone().unwrap_or_default()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stack_is_created_then_a_second_run_changes_nothing() {
        let sim = Simulation::new();
        let dir = dir(false);
        let (report, _) = apply(&sim, dir.path(), "").await;
        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        let web = sim.cluster.spec("shop_web").expect("created");
        assert_eq!(labels(&web)[services::STACK_LABEL], "shop");
        assert!(sim.cluster.spec("shop_agent").is_some_and(|s| crate::services::spec::is_global(&s)));
        let cluster: &dyn Cluster = &sim.cluster;
        assert!(cluster.network("shop_front").await.unwrap().is_some());
        assert!(cluster.network("shop_extra").await.unwrap().is_none(), "a network no service uses is not made");
        assert!(cluster.config("shop_settings").await.unwrap().is_some());
        assert!(cluster.secret("shop_token").await.unwrap().is_some());

        let updates = sim.cluster.update_calls();
        let (again, memory) = apply(&sim, dir.path(), "").await;
        assert_eq!(again.outcome, RunOutcome::Succeeded);
        assert_eq!(sim.cluster.update_calls(), updates, "nothing is written on an unchanged stack");
        let said: Vec<String> = memory
            .events()
            .into_iter()
            .filter_map(|e| match e {
                crate::events::Event::StepProgress { message, updated: None, .. } => Some(message),
                _ => None,
            })
            .collect();
        assert!(said.contains(&"stack shop: nothing to change".to_string()), "{said:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn one_failing_service_puts_the_whole_stack_back() {
        let sim = Simulation::new();
        let (first, _) = apply(&sim, dir(false).path(), "").await;
        assert_eq!(first.outcome, RunOutcome::Succeeded);
        let before: Vec<ServiceSpec> =
            ["shop_web", "shop_api", "shop_agent"].iter().map(|n| sim.cluster.spec(n).unwrap()).collect();
        sim.cluster.behave("app:broken", Fake::NeverHealthy);

        // A new network for api, web to v2, api to a release that never turns healthy.
        let vars = "    var WEB_TAG default=v2\n    var API_TAG default=broken\n";
        let (report, memory) = apply(&sim, dir(true).path(), vars).await;

        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        let failed = memory.events().into_iter().find_map(|e| match e {
            crate::events::Event::StepFinished { report: Some(report), .. } => Some(report),
            _ => None,
        });
        let failed = failed.expect("the step's failure carries a report");
        assert!(failed.tasks.iter().all(|t| t.task.starts_with("shop_api.")), "only api's tasks failed: {failed:#?}");
        assert_eq!(failed.tasks[0].error.as_deref(), Some(crate::cluster::fake::UNHEALTHY));
        let after: Vec<ServiceSpec> =
            ["shop_web", "shop_api", "shop_agent"].iter().map(|n| sim.cluster.spec(n).unwrap()).collect();
        assert_eq!(after, before, "every service is back on its previous spec");
        let cluster: &dyn Cluster = &sim.cluster;
        assert!(cluster.network("shop_extra").await.unwrap().is_none(), "the network the run made is gone");
        assert!(cluster.network("shop_front").await.unwrap().is_some(), "what was there stays");
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_that_drops_a_live_volume_is_refused_before_any_change_unless_allowed() {
        let sim = Simulation::new();
        let dir = dir(false);
        let with_volume = COMPOSE
            .replace("    configs: [settings]\n", "    configs: [settings]\n    volumes: [\"data:/var/lib/data\"]\n")
            .replace("networks:\n  front: {}", "volumes:\n  data: {}\nnetworks:\n  front: {}")
            .replace("EXTRA", "front");
        std::fs::write(dir.path().join("docker-compose.yml"), &with_volume).unwrap();
        let (first, _) = apply(&sim, dir.path(), "").await;
        assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
        let mounts = |sim: &Simulation| {
            let spec = sim.cluster.spec("shop_web").unwrap();
            spec.task_template.unwrap().container_spec.unwrap().mounts.unwrap_or_default()
        };
        assert_eq!(mounts(&sim)[0].source.as_deref(), Some("shop_data"));

        // The volume is gone from the file, and web has a new image.
        std::fs::write(dir.path().join("docker-compose.yml"), COMPOSE.replace("EXTRA", "front")).unwrap();
        let updates = sim.cluster.update_calls();
        let (refused, _) = apply(&sim, dir.path(), "    var WEB_TAG default=v2\n").await;
        assert_ne!(refused.outcome, RunOutcome::Succeeded);
        let why = format!("{refused:?}");
        assert!(why.contains("the mount volume shop_data at /var/lib/data of shop_web"), "{why}");
        assert!(why.contains("allow-removing mounts"), "{why}");
        assert_eq!(sim.cluster.update_calls(), updates, "no service was touched");
        assert_eq!(mounts(&sim).len(), 1);

        let allowed =
            apply_with(&sim, dir.path(), "    var WEB_TAG default=v2\n", "        allow-removing mounts\n").await;
        assert_eq!(allowed.outcome, RunOutcome::Succeeded, "{allowed:?}");
        assert!(mounts(&sim).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_forced_update_since_is_no_change() {
        let sim = Simulation::new();
        let dir = dir(false);
        let (first, _) = apply(&sim, dir.path(), "").await;
        assert_eq!(first.outcome, RunOutcome::Succeeded);
        // Someone ran `docker service update --force shop_api` since.
        let cluster: &dyn Cluster = &sim.cluster;
        let api = cluster.service("shop_api").await.unwrap();
        let mut forced = api.spec.clone().unwrap();
        forced.task_template.as_mut().unwrap().force_update = Some(1);
        services::replace_spec(cluster, api, &forced, None).await.unwrap();
        let updates = sim.cluster.update_calls();
        let (again, _) = apply(&sim, dir.path(), "").await;
        assert_eq!(again.outcome, RunOutcome::Succeeded);
        assert_eq!(sim.cluster.update_calls(), updates, "the force counter alone is no change");
    }

    #[tokio::test(start_paused = true)]
    async fn a_config_with_other_content_is_refused_before_any_change() {
        let sim = Simulation::new();
        let dir = dir(false);
        let (first, _) = apply(&sim, dir.path(), "").await;
        assert_eq!(first.outcome, RunOutcome::Succeeded);
        std::fs::write(dir.path().join("settings.txt"), "a=2\n").unwrap();
        let updates = sim.cluster.update_calls();
        let (report, _) = apply(&sim, dir.path(), "    var WEB_TAG default=v2\n").await;
        assert_ne!(report.outcome, RunOutcome::Succeeded);
        assert!(format!("{report:?}").contains("cannot change"), "{report:?}");
        assert_eq!(sim.cluster.update_calls(), updates);
    }
}
