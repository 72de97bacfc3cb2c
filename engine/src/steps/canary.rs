//! `canary` at run time: the new image runs as a separate canary service beside the stable one,
//! stage by stage, then the stable service is promoted to it.
//!
//! The canary service is a clone of the stable service's live spec (networks, secrets, configs,
//! env, health check) with the new image, without published ports, labelled as planrun's canary
//! of that service and of this run, and reachable under the stable service's name on each of its
//! networks (a network alias): Docker's DNS then answers the stable name with the tasks of both,
//! so the canary takes its share of round-robin traffic. The stable service is never scaled
//! down and never touched until promotion.
//!
//! A stage sets the canary's size (`replicas=N`, or `traffic="P%"`: as many canary replicas as
//! make P% of all tasks behind the name, canary / (canary + stable)), waits until the canary runs
//! (its tasks watched like a rolling release's), then pauses (a duration, or until a person
//! answers) while its gates are judged, one judgement after another, from the canary's start to
//! the end of the pause (the canary is watched all the while). Promotion rolls the stable service to
//! the new image like a `rolling` step, judges the step's gates, and only then removes the canary,
//! so capacity never dips.
//!
//! Undo: before promotion, the canary is removed and the stable service was never changed; after
//! it, the stable service is rolled back to its exact previous spec first, then the canary (if
//! still there) is removed. The record says which, and is written before each change.

use async_trait::async_trait;
use bollard::models::ServiceSpec;
use plans::steps::Canary;
use plans::steps::canary::{Promote, Weight};
use plans::steps::pause::Wait;
use std::collections::HashMap;

use super::LiveFacts;
use super::{Behavior, Findings, Refusal, StepError, rolling};
use crate::approval::AskError;
use crate::clock;
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::{RunContext, StepContext};
use crate::events::StepOutcome;
use crate::events::UndoOutcome;
use crate::services::convergence::{self, Settings};
use crate::services::target::{Baseline, Target};
use crate::services::watch::Watch;
use crate::services::{self, ServiceError, spec};
use crate::undo::{CanaryUndo, RollingUndo, Undo};

/// The label naming the stable service a canary belongs to.
pub const CANARY_OF: &str = "planrun.canary-of";
/// The label naming the run that created a canary.
pub const RUN_ID: &str = "planrun.run-id";
/// The label naming a canary's stack.
pub const STACK: &str = "planrun.stack";
/// The label saying which stage a canary is at: `2/3`.
pub const STAGE: &str = "planrun.canary-stage";

/// The canary service's name for a stable service (service names are at most 63 characters).
pub fn canary_name(stable: &str) -> String {
    let stem: String = stable.chars().take(63 - "-canary".len()).collect();
    format!("{stem}-canary")
}

/// How many canary replicas a stage runs beside `stable` stable ones.
pub fn stage_size(weight: Weight, stable: u64) -> Result<u64, Refusal> {
    match weight {
        Weight::Replicas(n) => Ok(n.max(1)),
        Weight::Traffic(p) if p.value() >= 100.0 => Err(Refusal::UnreachableTraffic { traffic: p }),
        Weight::Traffic(p) => {
            let share = p.value() / 100.0;
            Ok(((share * stable as f64) / (1.0 - share)).round().max(1.0) as u64)
        }
    }
}

/// The share of the tasks behind the stable name that a canary of `size` has: `33%`.
fn share(size: u64, stable: u64) -> String {
    format!("{}%", ((size as f64 / (size + stable) as f64) * 1000.0).round() / 10.0)
}

/// The canary's spec: the stable service's live spec with the new image and `size` replicas,
/// labelled, reachable under the stable name on every network, publishing no ports.
pub fn canary_spec(
    stable: &ServiceSpec,
    stable_name: &str,
    image: &str,
    size: u64,
    labels: &[(&str, &str)],
) -> ServiceSpec {
    let mut canary = stable.clone();
    canary.name = Some(canary_name(stable_name));
    let all = canary.labels.get_or_insert_with(HashMap::new);
    for (key, value) in labels {
        all.insert((*key).to_owned(), (*value).to_owned());
    }
    spec::set_image(&mut canary, image);
    spec::set_replicas(&mut canary, size);
    if let Some(template) = canary.task_template.as_mut() {
        for network in template.networks.iter_mut().flatten() {
            let aliases = network.aliases.get_or_insert_with(Vec::new);
            if !aliases.iter().any(|a| a == stable_name) {
                aliases.push(stable_name.to_owned());
            }
        }
    }
    if let Some(endpoint) = canary.endpoint_spec.as_mut() {
        endpoint.ports = None;
    }
    canary
}

#[async_trait]
impl Behavior for Canary {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let name = &self.service.value;
        let (service, mut findings) = rolling::check_service(ctx, name, self.update.monitor.to_std()).await;
        let Some(service) = service else { return findings };
        let live = service.spec.clone().unwrap_or_default();
        if spec::is_global(&live) {
            findings.problems.push(Refusal::GlobalCanary { service: name.to_owned() }.to_string());
            return findings;
        }
        let stable = spec::replicas(&live).unwrap_or(0);
        if stable == 0 {
            findings.problems.push(format!(
                "service `{name}` runs 0 replicas: a canary beside it would take all of its traffic; scale it up or \
                 use a rolling step"
            ));
        }
        let networks = live.task_template.as_ref().and_then(|t| t.networks.as_ref()).map(Vec::len).unwrap_or(0);
        if networks == 0 {
            findings.problems.push(format!(
                "service `{name}` is on no network: a canary could not answer under its name (it joins the stable \
                 service's networks with the alias `{name}`)"
            ));
        }
        let vip = live.endpoint_spec.as_ref().and_then(|e| e.mode).is_none_or(|m| m.to_string() == "vip");
        if vip && networks > 0 {
            findings.warnings.push(format!(
                "service `{name}` uses the VIP endpoint mode: Docker's DNS answers its name with one address per \
                 service, so the canary gets about half of the new connections whatever its size; with \
                 `--endpoint-mode dnsrr` traffic follows replica counts"
            ));
        }
        for stage in &self.stages {
            if let Err(why) = stage_size(stage.weight, stable.max(1)) {
                findings.problems.push(why.to_string());
            }
        }
        match ctx.cluster().services(&format!("{CANARY_OF}={name}")).await {
            Ok(left) if !left.is_empty() => {
                let names: Vec<String> = left.iter().map(services::name_of).collect();
                let run = left[0].spec.as_ref().and_then(|s| s.labels.as_ref()).and_then(|l| l.get(RUN_ID)).cloned();
                findings.problems.push(format!(
                    "a canary of `{name}` is still there ({}, from run {}): undo that run with `planrun rollback \
                     {}`, or remove it with `docker service rm {}`",
                    names.join(", "),
                    run.unwrap_or_else(|| "?".into()),
                    ctx.run.stack,
                    names.join(" ")
                ));
            }
            Ok(_) => {}
            Err(e) => findings.problems.push(format!("cannot list the canaries of `{name}`: {e}")),
        }
        findings
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        let cluster = ctx.cluster();
        let name = self.service.value.as_str();
        let service = services::inspect(cluster, name).await?;
        let service_id = service.id.clone().unwrap_or_default();
        let previous = service.spec.clone().unwrap_or_default();
        if spec::is_global(&previous) {
            return Err(Refusal::GlobalCanary { service: name.to_owned() }.into());
        }
        let stable = spec::replicas(&previous).unwrap_or(1).max(1);
        // The deadline bounds each wait on its own (the canary converging, a person answering),
        // not the whole step: a stage's pause and gates take as long as the plan says, as a
        // pause does not count against Argo Rollouts' progress deadline.
        let deadline = || tokio::time::Instant::now() + self.update.deadline.to_std();
        let mut record = CanaryUndo {
            stable: RollingUndo::of(&service, self.update.deadline.as_millis()).on_undo(self.update.on_undo),
            canary_name: canary_name(name),
            promoted: false,
        };
        ctx.record(Undo::Canary(Box::new(record.clone()))).await?;

        let sizes: Vec<u64> = self.stages.iter().map(|s| stage_size(s.weight, stable)).collect::<Result<_, _>>()?;
        let stages = self.stages.len();
        let first = sizes.first().copied().unwrap_or(1);
        let stage_label = |k: usize| format!("{k}/{stages}");
        let labels = [(CANARY_OF, name), (RUN_ID, ctx.run.run_id.as_str()), (STACK, ctx.run.stack.as_str())];
        let mut canary = canary_spec(&previous, name, &self.image.value, first, &labels);
        canary.labels.get_or_insert_with(HashMap::new).insert(STAGE.into(), stage_label(1));
        ctx.progress(format!(
            "creating canary {} ({first} of {} tasks: {})",
            record.canary_name,
            first + stable,
            share(first, stable)
        ));
        if let Some(stage) = self.stages.first() {
            ctx.warm(&stage.gates);
        }
        let canary_id = services::create(cluster, canary.clone()).await?;

        for (k, (stage, size)) in self.stages.iter().zip(&sizes).enumerate() {
            let number = k + 1;
            if k > 0 {
                ctx.progress(format!(
                    "stage {number}/{stages}: canary to {size} of {} tasks ({})",
                    size + stable,
                    share(*size, stable)
                ));
                let current = services::inspect(cluster, &canary_id).await?;
                let mut next = current.spec.clone().unwrap_or_default();
                spec::set_replicas(&mut next, *size);
                next.labels.get_or_insert_with(HashMap::new).insert(STAGE.into(), stage_label(number));
                let expected = current.spec.clone();
                services::replace_spec(cluster, current, &next, expected.as_ref()).await?;
            }
            let mut watch = follow_canary(ctx, &canary_id, deadline()).await?;
            let question = format!("stage {number}/{stages} of canary {}: go on?", record.canary_name);
            let soaked = watch.during(cluster, soak(ctx, stage.pause, &question, deadline(), &stage.gates)).await;
            super::reported(cluster, &[&watch], soaked.map_err(StepError::from)).await??;
        }

        if self.promote == Promote::Manual {
            let question =
                format!("promote {} to {} on all {stable} replicas of {name}?", record.canary_name, self.image.value);
            pause(ctx, Wait::Manual, &question, deadline()).await?;
        }
        let mut promoted = previous.clone();
        spec::set_image(&mut promoted, &self.image.value);
        spec::set_update_policy(&mut promoted, &self.update);
        record.promoted = true;
        record.stable.written = Some(promoted.clone());
        ctx.record(Undo::Canary(Box::new(record.clone()))).await?;
        let service = services::inspect(cluster, &service_id).await?;
        ctx.progress(format!("promoting: {name} rolls to {}", self.image.value));
        rolling::roll_out(ctx, service, &promoted, &previous, &self.update, &self.gates, &[]).await?;
        ctx.progress(format!("removing canary {}", record.canary_name));
        remove_canary(ctx.run.as_ref(), &record.canary_name).await?;
        Ok(())
    }

    fn preview(&self) -> Vec<String> {
        Vec::new()
    }

    async fn live(&self, cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        let mut canaries = Vec::new();
        for canary in cluster.services(&format!("{CANARY_OF}={}", self.service.value)).await? {
            let labels = canary.spec.as_ref().and_then(|s| s.labels.clone()).unwrap_or_default();
            canaries.push((services::name_of(&canary), self.service.value.clone(), labels.get(STAGE).cloned()));
        }
        Ok(LiveFacts { canaries, ..LiveFacts::default() })
    }

    fn drill(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn drilled(&self, _finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        None
    }
}

/// Follows the canary until its tasks all run, watching them (a canary task that fails fails
/// the step); the watch goes on while the stage's gates are judged.
async fn follow_canary(ctx: &StepContext, canary_id: &str, deadline: tokio::time::Instant) -> Result<Watch, StepError> {
    let cluster = ctx.cluster();
    let service = services::inspect(cluster, canary_id).await?;
    let target = Target::of(canary_id, &service.spec.clone().unwrap_or_default())?;
    let baseline = Baseline::default();
    let mut watch = Watch::new(&target, &baseline, 0);
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    let followed =
        convergence::follow(cluster, &|p| ctx.followed(p), &target, &baseline, &mut watch, Settings::new(left))
            .await
            .map_err(StepError::from);
    super::reported(cluster, &[&watch], followed).await?;
    Ok(watch)
}

/// A stage's pause with its gates judged all through it, from the moment the canary runs (as
/// Argo Rollouts' background analysis): one judgement after another while the pause lasts. The
/// stage goes on once the pause is over and the judgement under way then has passed; a verdict
/// other than a pass fails the stage at once, in the middle of the pause too (a person asked is
/// not waited for). Without a pause, the gates are judged once.
async fn soak(
    ctx: &StepContext,
    wait: Option<Wait>,
    question: &str,
    deadline: tokio::time::Instant,
    gates: &[plans::spanned::Spanned<String>],
) -> Result<(), StepError> {
    let Some(wait) = wait else { return ctx.judge(gates).await.map_err(StepError::Gates) };
    if gates.is_empty() {
        return pause(ctx, wait, question, deadline).await;
    }
    let mut paused = std::pin::pin!(pause(ctx, wait, question, deadline));
    let mut over = false;
    loop {
        let mut judging = std::pin::pin!(ctx.judge(gates));
        let verdict = loop {
            // The pause first: a pause ending at the instant a judgement passes ends the stage
            // with that judgement (not one more), the same in every run.
            tokio::select! {
                biased;
                done = &mut paused, if !over => {
                    done?;
                    over = true;
                }
                verdict = &mut judging => break verdict,
            }
        };
        verdict.map_err(StepError::Gates)?;
        if over {
            return Ok(());
        }
    }
}

/// Waits as a stage says: a duration on tokio's clock, or a person's answer, bounded by the
/// step's deadline.
async fn pause(ctx: &StepContext, wait: Wait, question: &str, deadline: tokio::time::Instant) -> Result<(), StepError> {
    match wait {
        Wait::Duration(d) => {
            ctx.progress(format!("pausing for {}", clock::seconds(d.to_std())));
            tokio::time::sleep(d.to_std()).await;
            Ok(())
        }
        Wait::Manual => {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, ctx.ask(question)).await {
                Err(_) => Err(AskError::Deadline { left }.into()),
                Ok(answer) => match answer? {
                    answer if answer.approved => Ok(()),
                    answer => Err(StepError::NotApproved { by: answer.by }),
                },
            }
        }
    }
}

/// Removes the canary service; one that is gone already is fine. Removing it at once is safe:
/// Swarm takes its tasks out of DNS within about a second and stops them only after about 3 s
/// (measured: 0 failed requests of 21 removals, tests/env/README.md), so scaling it to 0 first
/// would only make the abort slower.
async fn remove_canary(ctx: &RunContext, name: &str) -> Result<(), StepError> {
    match ctx.cluster.service(name).await {
        Ok(service) => Ok(services::remove(ctx.cluster.as_ref(), service.id.as_deref().unwrap_or(name)).await?),
        Err(ClusterError::NotFound(_)) => Ok(()),
        Err(error) => Err(ServiceError::Cluster { doing: format!("inspect canary {name}"), error }.into()),
    }
}

/// Removes the canary; after promotion, first rolls the stable service back to its recorded spec.
pub async fn undo(step: &str, record: &CanaryUndo, ctx: &RunContext) -> Result<(), StepError> {
    if record.promoted {
        rolling::undo(step, &record.stable, ctx).await?;
    }
    ctx.progress(step, format!("removing canary {}", record.canary_name));
    remove_canary(ctx, &record.canary_name).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bollard::models::{
        EndpointPortConfig, EndpointSpec, NetworkAttachmentConfig, ServiceSpecMode, ServiceSpecModeReplicated,
        TaskSpec, TaskSpecContainerSpec,
    };
    use plans::gates::Outcome;
    use plans::percentage::Percentage;

    use plans::steps::StepKind;

    use super::*;
    use crate::approval::ScriptedApprover;
    use crate::cluster::Cluster;
    use crate::events::{Event, Memory, RunOutcome};
    use crate::executor::{Executor, Interrupts, Report};
    use crate::simulation::Simulation;

    fn stable_spec() -> ServiceSpec {
        ServiceSpec {
            name: Some("shop_web".into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(3) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some("app:v1".into()),
                    env: Some(vec!["MODE=prod".into()]),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some("net1".into()),
                    aliases: Some(vec!["web".into()]),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            endpoint_spec: Some(EndpointSpec {
                ports: Some(vec![EndpointPortConfig { published_port: Some(8080), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn stages_size_the_canary_beside_the_stable_service() {
        let traffic = |p: &str| Weight::Traffic(Percentage::parse(p).unwrap());
        assert_eq!(stage_size(Weight::Replicas(2), 3), Ok(2));
        assert_eq!(stage_size(traffic("50%"), 3), Ok(3), "3 of 6 tasks");
        assert_eq!(stage_size(traffic("25%"), 3), Ok(1), "1 of 4 tasks");
        assert_eq!(stage_size(traffic("1%"), 3), Ok(1), "at least one");
        assert_eq!(
            stage_size(traffic("100%"), 3),
            Err(Refusal::UnreachableTraffic { traffic: Percentage::parse("100%").unwrap() })
        );
        let refused = stage_size(traffic("100%"), 3).unwrap_err().to_string();
        assert_eq!(
            refused,
            "traffic=\"100%\" cannot be reached beside a stable service that keeps running: promote instead"
        );
        assert_eq!(share(1, 3), "25%");
        assert_eq!(share(2, 4), "33.3%");
    }

    #[test]
    fn the_canary_is_the_stable_spec_with_the_new_image_an_alias_and_no_ports() {
        let canary = canary_spec(&stable_spec(), "shop_web", "app:v2", 1, &[(CANARY_OF, "shop_web")]);
        assert_eq!(canary.name.as_deref(), Some("shop_web-canary"));
        assert_eq!(spec::image(&canary), "app:v2");
        assert_eq!(spec::replicas(&canary), Some(1));
        assert_eq!(canary.labels.as_ref().unwrap().get(CANARY_OF).map(String::as_str), Some("shop_web"));
        let network = &canary.task_template.as_ref().unwrap().networks.as_ref().unwrap()[0];
        assert_eq!(network.aliases.as_deref(), Some(&["web".to_string(), "shop_web".to_string()][..]));
        assert_eq!(canary.endpoint_spec.as_ref().unwrap().ports, None);
        let env = canary.task_template.as_ref().unwrap().container_spec.as_ref().unwrap().env.clone();
        assert_eq!(env, Some(vec!["MODE=prod".to_string()]), "everything else is the stable service's");
        assert_eq!(canary_name(&"x".repeat(80)).len(), 63);
    }

    const PLAN: &str = r#"
plan p {
    stack shop
    gate errors {
        http "http://shop_web:8080/"
        interval "10s"
        count 3
    }
    canary web {
        service shop_web
        image "app:v2"
        stage replicas=1 {
            pause "1m"
            gates errors
        }
        stage traffic="50%" {
            gates errors
        }
        PROMOTE
        gates errors
    }
}
"#;

    struct Run {
        sim: Simulation,
        memory: Arc<Memory>,
        report: Report,
    }

    /// Runs the canary plan on a fake swarm where `shop_web` runs 3 replicas of v1; `probe` and
    /// `approver` set how the gates and the person answer.
    async fn run(promote: &str, script: &[Outcome], approver: Option<ScriptedApprover>) -> Run {
        run_with("pause \"1m\"", promote, script, approver).await
    }

    /// [`run`] with stage 1's pause line replaced by `pause`.
    async fn run_with(pause: &str, promote: &str, script: &[Outcome], approver: Option<ScriptedApprover>) -> Run {
        let mut sim = Simulation::new();
        sim.cluster.add_service(stable_spec());
        sim.probe.script("errors", script);
        if let Some(a) = approver {
            sim.approver = a;
        }
        let memory = Arc::new(Memory::default());
        let ctx = sim.context("shop", "r-canary", vec![Box::new(memory.clone())]);
        let (plan, graph) = Simulation::plan(&PLAN.replace("PROMOTE", promote).replace("pause \"1m\"", pause));
        let executor = Executor { ctx, parallelism: 4, interrupts: Interrupts::default() };
        let report = executor.run(&plan, &graph, &Arc::new(".".into())).await;
        Run { sim, memory, report }
    }

    fn progress(memory: &Memory) -> Vec<String> {
        memory
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StepProgress { message, updated: None, .. } => Some(message),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_stable_service_is_refused_before_anything_changes() {
        let sim = Simulation::new();
        let mut stable = stable_spec();
        stable.mode = Some(bollard::models::ServiceSpecMode { global: Some(Default::default()), ..Default::default() });
        sim.cluster.add_service(stable);
        let ctx = sim.context("shop", "r-pre", Vec::new());
        let (plan, _) = Simulation::plan(&PLAN.replace("PROMOTE", "promote auto"));
        let step = sim.step(&ctx, &plan, "web");
        let StepKind::Canary(canary) = &plan.steps[0].kind else { panic!() };
        let expected = "service `shop_web` is global (one task on every node that may run it): a canary of it would \
                        have no share to take, since a canary's share of the traffic is its replicas against the \
                        stable service's and a global service has no replica count; use a rolling step";
        assert_eq!(canary.preflight(&step).await.problems, [expected]);
        assert_eq!(canary.apply(&step).await.unwrap_err().to_string(), expected);
        assert_eq!(sim.cluster.service_names(), ["shop_web"], "no canary was created");
    }

    #[tokio::test(start_paused = true)]
    async fn preflight_refuses_a_stable_service_without_replicas_and_a_leftover_canary() {
        let sim = Simulation::new();
        let mut empty = stable_spec();
        spec::set_replicas(&mut empty, 0);
        sim.cluster.add_service(empty);
        let mut left =
            canary_spec(&stable_spec(), "shop_web", "app:v0", 1, &[(CANARY_OF, "shop_web"), (RUN_ID, "r-old")]);
        left.name = Some("shop_web-canary".into());
        sim.cluster.add_service(left);
        let ctx = sim.context("shop", "r-pre", Vec::new());
        let (plan, _) = Simulation::plan(&PLAN.replace("PROMOTE", "promote auto"));
        let step = sim.step(&ctx, &plan, "web");
        let StepKind::Canary(canary) = &plan.steps[0].kind else { panic!() };
        let found = canary.preflight(&step).await;
        assert_eq!(found.problems.len(), 2, "{found:?}");
        assert!(found.problems[0].starts_with("service `shop_web` runs 0 replicas"), "{found:?}");
        assert!(
            found.problems[1].starts_with("a canary of `shop_web` is still there (shop_web-canary, from run r-old)"),
            "{found:?}"
        );
        assert!(found.warnings.iter().any(|w| w.contains("VIP endpoint mode")), "{found:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_healthy_canary_goes_through_its_stages_and_is_promoted_then_removed() {
        let run = run("promote auto", &[], None).await;

        assert_eq!(run.report.outcome, RunOutcome::Succeeded, "{:?}", run.report);
        assert_eq!(spec::image(&run.sim.cluster.spec("shop_web").unwrap()), "app:v2");
        assert!(run.sim.cluster.spec("shop_web-canary").is_none(), "the canary is removed");
        let said = progress(&run.memory);
        let expected = [
            "creating canary shop_web-canary (1 of 4 tasks: 25%)",
            "pausing for 60s",
            "stage 2/2: canary to 3 of 6 tasks (50%)",
            "promoting: shop_web rolls to app:v2",
            // The promotion is judged batch by batch (`analysis per-batch`, the default); the
            // second batch came up while the first was judged, the third began the judgement
            // of the whole release.
            "judging errors with 1 of 3 tasks on the new release",
            "judging errors with 3 of 3 tasks on the new release",
            "removing canary shop_web-canary",
        ];
        let shown: Vec<&String> = said.iter().filter(|m| !m.starts_with("updating")).collect();
        assert_eq!(shown.len(), expected.len(), "{said:#?}");
        for (message, wanted) in shown.into_iter().zip(expected) {
            assert_eq!(message, wanted, "{said:#?}");
        }
    }

    /// The progress messages and measurements in order, the measurements as `measured`.
    fn story(memory: &Memory) -> Vec<String> {
        memory
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StepProgress { message, updated: None, .. } => Some(message),
                Event::Measurement { .. } => Some("measured".into()),
                _ => None,
            })
            .collect()
    }

    /// Measurements in stage 1 (before stage 2 began, or in all when it never did).
    fn stage_one_measurements(memory: &Memory) -> usize {
        story(memory).iter().take_while(|m| !m.starts_with("stage 2/2")).filter(|m| *m == "measured").count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stage_is_judged_all_through_its_pause_from_the_canary_s_start() {
        let run = run("promote auto", &[], None).await;
        assert_eq!(run.report.outcome, RunOutcome::Succeeded, "{:?}", run.report);
        let story = story(&run.memory);
        let pausing = story.iter().position(|m| m == "pausing for 60s").expect("the pause");
        assert_eq!(story.iter().position(|m| m == "measured"), Some(pausing + 1), "{story:#?}");
        // A judgement is 3 measurements 10 s apart: a 60 s pause holds three of them, and the
        // one under way when it ends must pass too.
        assert!(stage_one_measurements(&run.memory) >= 9, "{story:#?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_gate_failing_in_the_middle_of_a_pause_fails_the_stage_there() {
        let start = tokio::time::Instant::now();
        // The second judgement's first measurement, at about 20 s of the 60 s pause.
        let run = run("promote auto", &[Outcome::Pass, Outcome::Pass, Outcome::Pass, Outcome::Fail], None).await;
        assert_eq!(run.report.outcome, RunOutcome::RolledBack, "{:?}", run.report);
        assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
        assert_eq!(stage_one_measurements(&run.memory), 4);
        assert!(!story(&run.memory).iter().any(|m| m.starts_with("stage 2/2")));
        assert_eq!(run.sim.cluster.spec("shop_web").unwrap(), stable_spec());
        assert!(run.sim.cluster.spec("shop_web-canary").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_gate_failing_while_a_person_is_asked_fails_the_stage_without_waiting_for_the_answer() {
        let start = tokio::time::Instant::now();
        let later = ScriptedApprover { after: Duration::from_secs(3600), approved: true };
        let run = run_with("pause manual", "promote auto", &[Outcome::Pass, Outcome::Fail], Some(later)).await;
        assert_eq!(run.report.outcome, RunOutcome::RolledBack, "{:?}", run.report);
        assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
        let answered = run.memory.events().into_iter().filter(|e| matches!(e, Event::Answered { .. })).count();
        assert_eq!(answered, 0, "nobody's answer was waited for");
        assert!(run.sim.cluster.spec("shop_web-canary").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_gate_failing_at_stage_two_removes_the_canary_and_leaves_the_stable_spec_as_it_was() {
        // Stage 1's pause holds judgements of 3 measurements (see the test above); the first
        // measurement of stage 2 fails.
        let healthy = run("promote auto", &[], None).await;
        let first = stage_one_measurements(&healthy.memory);
        let script: Vec<Outcome> = std::iter::repeat_n(Outcome::Pass, first).chain([Outcome::Fail]).collect();
        let run = run("promote auto", &script, None).await;
        assert!(story(&run.memory).iter().any(|m| m.starts_with("stage 2/2")), "it failed in stage 2");

        assert_eq!(run.report.outcome, RunOutcome::RolledBack, "{:?}", run.report);
        assert_eq!(run.sim.cluster.spec("shop_web").unwrap(), stable_spec(), "the stable service was never touched");
        assert!(run.sim.cluster.spec("shop_web-canary").is_none());
        assert!(run.sim.cluster.services(&format!("{CANARY_OF}=shop_web")).await.unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_after_promotion_rolls_the_stable_service_back() {
        // Both stages pass (stage 1's pause, then 3 measurements); the step's own gates after
        // promotion fail.
        let healthy = run("promote auto", &[], None).await;
        let first = stage_one_measurements(&healthy.memory) + 3;
        let script: Vec<Outcome> = std::iter::repeat_n(Outcome::Pass, first).chain([Outcome::Fail]).collect();
        let run = run("promote auto", &script, None).await;
        assert!(
            story(&run.memory).iter().any(|m| m == "promoting: shop_web rolls to app:v2"),
            "it failed after promotion"
        );

        assert_eq!(run.report.outcome, RunOutcome::RolledBack, "{:?}", run.report);
        assert_eq!(run.sim.cluster.spec("shop_web").unwrap(), stable_spec());
        assert!(run.sim.cluster.spec("shop_web-canary").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn manual_promotion_waits_for_a_person() {
        let approve = ScriptedApprover { after: Duration::from_secs(120), approved: true };
        let run = run("promote manual", &[], Some(approve)).await;
        assert_eq!(run.report.outcome, RunOutcome::Succeeded);
        let answered = run.memory.events().into_iter().filter(|e| matches!(e, Event::Answered { .. })).count();
        assert_eq!(answered, 1);

        let abort = ScriptedApprover { after: Duration::from_secs(5), approved: false };
        let run = self::run("promote manual", &[], Some(abort)).await;
        assert_eq!(run.report.outcome, RunOutcome::RolledBack);
        assert!(run.report.reason.as_deref().unwrap().contains("not approved (simulation said no)"));
        assert_eq!(run.sim.cluster.spec("shop_web").unwrap(), stable_spec());
        assert!(run.sim.cluster.spec("shop_web-canary").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_canary_whose_tasks_crash_fails_with_a_report_of_them() {
        let sim = Simulation::new();
        sim.cluster.add_service(stable_spec());
        sim.cluster.behave("app:v2", crate::cluster::fake::Behavior::Crash(2));
        sim.cluster.ends_as("app:v2", None, &["panic: no config"]);
        let memory = Arc::new(Memory::default());
        let ctx = sim.context("shop", "r-canary", vec![Box::new(memory.clone())]);
        let (plan, graph) = Simulation::plan(&PLAN.replace("PROMOTE", "promote auto"));
        let executor = Executor { ctx, parallelism: 1, interrupts: Interrupts::default() };

        let report = executor.run(&plan, &graph, &Arc::new(".".into())).await;

        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        let failed = memory.events().into_iter().find_map(|e| match e {
            Event::StepFinished { report: Some(report), .. } => Some(report),
            _ => None,
        });
        let failed = failed.expect("the canary's failure carries a report");
        assert_eq!(failed.tasks[0].task, "shop_web-canary.1", "{failed:#?}");
        assert_eq!(failed.tasks[0].error.as_deref(), Some("task: non-zero exit (2)"));
        assert_eq!(failed.tasks[0].logs, ["panic: no config"]);
    }

    #[tokio::test(start_paused = true)]
    async fn nobody_answering_before_the_deadline_fails_the_step() {
        let never = ScriptedApprover { after: Duration::from_secs(100_000), approved: true };
        let run = run("promote manual", &[], Some(never)).await;
        assert_eq!(run.report.outcome, RunOutcome::RolledBack);
        assert!(run.report.reason.as_deref().unwrap().contains("nobody answered before the step's deadline"));
    }
}
