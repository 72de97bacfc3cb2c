//! `blue-green` at run time: the idle colour gets the new image at the live colour's size and
//! must pass its preview gates before any user sees it; then traffic switches at once, the live
//! gates are judged, and the old colour keeps running for `keep-old` so a switch back is one
//! router update.
//!
//! Which colour is live is read from the swarm, never guessed: the switch says which colour it
//! sends traffic to (`steps/switch/`, one file per kind). Only when it says nothing (a first run)
//! is the live colour the one with running tasks.
//!
//! After the switch, the old colour is labelled `planrun.retire-after=TIME`: `planrun finish
//! STACK`, and the next `planrun apply` on the stack, scale such services to zero once the time has
//! passed (`keep-old "0s"` does it at once), so no process has to wait for `keep-old`.
//!
//! Undo (from the record, written before each change): bring the old colour back (its exact
//! previous spec, scaled up again if it was retired), switch traffic back (the router's or the
//! colours' previous specs), restore the idle colour's previous spec, remove the rendered config.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use bollard::models::Service;
use plans::steps::BlueGreen;

use super::LiveFacts;
use super::switch::{self, ColourError, DRAIN};
pub use super::switch::{Colours, STACK};
use super::{Behavior, Findings, Refusal, StepError, rolling};
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::{RunContext, StepContext};
use crate::events::StepOutcome;
use crate::events::UndoOutcome;
use crate::services::{self, ServiceError, spec};
use crate::undo::{BlueGreenUndo, RollingUndo, Undo};

/// The label on an old colour: when it may be scaled to zero (RFC 3339).
pub const RETIRE_AFTER: &str = "planrun.retire-after";

/// A step's live colour, as the swarm says.
pub async fn colours(cluster: &dyn Cluster, step: &BlueGreen) -> Result<Colours, ColourError> {
    let (blue, green) = (step.blue.value.as_str(), step.green.value.as_str());
    let pick = |live: &str, because: String| {
        let idle = if live == blue { green } else { blue };
        Ok(Colours { live: live.to_owned(), idle: idle.to_owned(), because })
    };
    let inspect = |name: &str| {
        let name = name.to_owned();
        async move { cluster.service(&name).await.map_err(|error| ColourError::Inspect { service: name, error }) }
    };
    let (blue_service, green_service) = (inspect(blue).await?, inspect(green).await?);
    if let Some((live, because)) =
        switch::behavior(&step.switch).live_colour(cluster, &blue_service, &green_service).await?
    {
        return pick(&live, because);
    }
    let running = |service: &Service| service.spec.as_ref().and_then(spec::replicas).unwrap_or(0) > 0;
    match (running(&blue_service), running(&green_service)) {
        (true, false) => pick(blue, "neither colour is marked live and only it runs tasks".into()),
        (false, true) => pick(green, "neither colour is marked live and only it runs tasks".into()),
        (both_run, _) => Err(ColourError::Undecided { blue: blue.to_owned(), green: green.to_owned(), both_run }),
    }
}

/// Why a global service cannot be a colour, if it is one. The router may be global: it is
/// only rolled, never sized.
fn global_colour(service: &Service) -> Option<Refusal> {
    service
        .spec
        .as_ref()
        .is_some_and(spec::is_global)
        .then(|| Refusal::GlobalColour { service: services::name_of(service) })
}

fn network_targets(service: &Service) -> HashSet<String> {
    switch::attachments(service).into_iter().filter_map(|a| a.target).collect()
}

#[async_trait]
impl Behavior for BlueGreen {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let monitor = self.deadline.to_std();
        let (blue, mut findings) = rolling::check_service(ctx, &self.blue.value, monitor).await;
        let (green, more) = rolling::check_service(ctx, &self.green.value, monitor).await;
        findings.problems.extend(more.problems);
        findings.warnings.extend(more.warnings);
        for colour in [&blue, &green].into_iter().flatten() {
            if let Some(problem) = global_colour(colour) {
                findings.problems.push(problem.to_string());
            }
        }
        if let (Some(blue), Some(green)) = (&blue, &green)
            && network_targets(blue) != network_targets(green)
        {
            findings.problems.push(format!(
                "`{}` and `{}` are not on the same networks: the colours must be interchangeable",
                self.blue.value, self.green.value
            ));
        }
        let existing: Vec<&Service> = [&blue, &green].into_iter().flatten().collect();
        let switch = switch::behavior(&self.switch).preflight(ctx, &existing, monitor).await;
        findings.problems.extend(switch.problems);
        findings.warnings.extend(switch.warnings);
        if findings.problems.is_empty()
            && let Err(why) = colours(ctx.cluster(), self).await
        {
            findings.problems.push(why.to_string());
        }
        findings
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        let cluster = ctx.cluster();
        let colours = colours(cluster, self).await.map_err(Refusal::Colours)?;
        ctx.progress(format!("{} is live ({}); deploying to {}", colours.live, colours.because, colours.idle));
        let deadline_ms = self.deadline.as_millis();
        let live = services::inspect(cluster, &colours.live).await?;
        let idle = services::inspect(cluster, &colours.idle).await?;
        if let Some(problem) = global_colour(&live).or_else(|| global_colour(&idle)) {
            return Err(problem.into());
        }
        let switch = switch::behavior(&self.switch);
        let router = switch.router(ctx).await?;
        let mut record = BlueGreenUndo {
            idle: RollingUndo::of(&idle, deadline_ms),
            live: RollingUndo::of(&live, deadline_ms),
            router: router.as_ref().map(|r| RollingUndo::of(r, deadline_ms)),
            config: None,
            switched: false,
            live_load: None,
        };
        ctx.record(Undo::BlueGreen(Box::new(record.clone()))).await?;

        // The idle colour: the new image, the live colour's size; nobody sees it yet.
        let previous = idle.spec.clone().unwrap_or_default();
        let mut next = previous.clone();
        spec::set_image(&mut next, &self.image.value);
        spec::set_replicas(&mut next, live.spec.as_ref().and_then(spec::replicas).unwrap_or(1));
        // It was the old colour of an earlier switch: it goes live, so it must not retire.
        if let Some(labels) = next.labels.as_mut() {
            labels.remove(RETIRE_AFTER);
        }
        let policy = switch::policy(self.deadline, plans::duration::Duration::from_secs(1));
        spec::set_update_policy(&mut next, &policy);
        rolling::roll_out(ctx, idle, &next, &previous, &policy, &self.preview_gates, &[]).await?;

        switch.switch(ctx, self, &colours, router, &mut record).await?;

        // Live now: the new colour's gates, its tasks watched meanwhile.
        let now_live = services::inspect(cluster, &colours.idle).await?;
        let mut watch = crate::services::watch::Watch::new(
            &crate::services::target::Target::of(
                now_live.id.as_deref().unwrap_or_default(),
                &now_live.spec.clone().unwrap_or_default(),
            )?,
            &crate::services::target::Baseline::default(),
            0,
        );
        let judged = watch.during(cluster, ctx.judge(&self.gates)).await.map_err(StepError::from);
        super::reported(cluster, &[&watch], judged).await?.map_err(StepError::Gates)?;

        // The old colour waits `keep-old` for a switch back, then retires.
        let keep = self.keep_old.to_std();
        let old = services::inspect(cluster, &colours.live).await?;
        let mut retiring = old.spec.clone().unwrap_or_default();
        if keep.is_zero() {
            ctx.progress(format!("scaling {} to 0 (keep-old 0s)", colours.live));
            spec::set_replicas(&mut retiring, 0);
        } else {
            let when = humantime::format_rfc3339_seconds(std::time::SystemTime::now() + keep).to_string();
            ctx.progress(format!(
                "{} keeps running until {when} for a fast switch back; `planrun finish {}` (or the next apply) \
                 scales it to 0 then",
                colours.live, ctx.run.stack
            ));
            let labels = retiring.labels.get_or_insert_with(HashMap::new);
            labels.insert(RETIRE_AFTER.into(), when);
            labels.insert(STACK.into(), ctx.run.stack.clone());
        }
        let expected = old.spec.clone();
        services::replace_spec(cluster, old, &retiring, expected.as_ref()).await?;
        Ok(())
    }

    fn preview(&self) -> Vec<String> {
        Vec::new()
    }

    async fn live(&self, cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        let networks = switch::behavior(&self.switch).networks();
        let colour = colours(cluster, self).await.map(|c| c.live);
        Ok(LiveFacts { networks, colour: Some(colour), ..LiveFacts::default() })
    }

    fn drill(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn drilled(&self, _finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        None
    }
}

/// Brings the old colour back, switches traffic back, restores the idle colour and removes the
/// rendered config. The idle colour is touched only once nothing routes to it any more.
pub async fn undo(step: &str, record: &BlueGreenUndo, ctx: &RunContext) -> Result<(), StepError> {
    let cluster = ctx.cluster.as_ref();
    rolling::undo(step, &record.live, ctx).await?;
    services::drained(cluster, &record.live.service_id, DRAIN).await;
    if record.switched
        && let Some(router) = &record.router
    {
        if let Some(how) = &record.live_load {
            switch::caddy::load_previous(step, router, how, ctx).await;
        }
        rolling::undo(step, router, ctx).await?;
        services::drained(cluster, &router.service_id, DRAIN).await;
    }
    rolling::undo(step, &record.idle, ctx).await?;
    if let Some(name) = &record.config
        && let Ok(Some(config)) = ctx.cluster.config(name).await
    {
        let _ = ctx.cluster.remove_config(&config.id).await;
    }
    Ok(())
}

/// Scales the stack's old colours whose `keep-old` has passed by `now` (wall-clock time: the
/// label is read by later processes) to zero; returns their names.
pub async fn retire_due(
    cluster: &dyn Cluster,
    stack: &str,
    now: std::time::SystemTime,
) -> Result<Vec<String>, ServiceError> {
    let labelled = cluster
        .services(&format!("{STACK}={stack}"))
        .await
        .map_err(|error| ServiceError::Cluster { doing: format!("list the services of stack {stack}"), error })?;
    let mut retired = Vec::new();
    for service in labelled {
        let spec = service.spec.clone().unwrap_or_default();
        let Some(when) = spec.labels.as_ref().and_then(|l| l.get(RETIRE_AFTER)) else { continue };
        let Ok(due) = humantime::parse_rfc3339(when) else { continue };
        if due > now {
            continue;
        }
        let mut next = spec.clone();
        spec::set_replicas(&mut next, 0);
        if let Some(labels) = next.labels.as_mut() {
            labels.remove(RETIRE_AFTER);
        }
        let name = services::name_of(&service);
        services::replace_spec(cluster, service, &next, Some(&spec)).await?;
        retired.push(name);
    }
    Ok(retired)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bollard::models::{
        NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
        TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1,
    };
    use plans::gates::Outcome;

    use super::*;
    use crate::cluster::fake::{Behavior, FakeCluster};
    use crate::events::{Memory, RunOutcome};
    use crate::executor::{Executor, Interrupts, Report};
    use crate::simulation::Simulation;
    use crate::steps::switch::rendered::{ROUTER, UPSTREAM, current_config_name};

    fn service(name: &str, image: &str, replicas: i64, network: &str, aliases: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(network.into()),
                    aliases: Some(aliases.iter().map(|a| a.to_string()).collect()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn router(network: &str, config_id: &str, config_name: &str) -> ServiceSpec {
        let mut spec = service("shop_router", "router:1", 2, network, &[]);
        let container = spec.task_template.as_mut().unwrap().container_spec.as_mut().unwrap();
        container.configs = Some(vec![TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 { name: Some("/etc/nginx/nginx.conf".into()), ..Default::default() }),
            config_id: Some(config_id.into()),
            config_name: Some(config_name.into()),
            runtime: None,
        }]);
        spec
    }

    struct World {
        sim: Simulation,
        dir: std::path::PathBuf,
        net: String,
    }

    impl Drop for World {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Blue runs v1 and has the traffic; green is scaled to 0.
    async fn world(switch: &str) -> World {
        let sim = Simulation::new();
        let net = sim.cluster.add_network("shop_public");
        let alias = if switch == "alias" { vec!["front"] } else { vec![] };
        sim.cluster.add_service(service("shop_blue", "front:v1", 3, &net, &alias));
        sim.cluster.add_service(service("shop_green", "front:v1", 0, &net, &[]));
        let dir = unique_dir(switch);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("nginx.conf.template"), "upstream: ${upstream}\n").unwrap();
        if switch == "nginx" {
            let labels = HashMap::from([(UPSTREAM.to_string(), "shop_blue".to_string())]);
            let id = sim
                .cluster
                .create_config(crate::cluster::NewObject::new("router-blue", labels, b"upstream: shop_blue\n"))
                .await
                .unwrap();
            sim.cluster.add_service(router(&net, &id, "router-blue"));
        }
        World { sim, dir, net }
    }

    fn plan(switch: &str, keep_old: &str) -> String {
        let switch = match switch {
            "nginx" => r#"switch nginx router=shop_router template="nginx.conf.template""#,
            _ => "switch alias network=shop_public alias=front",
        };
        format!(
            "plan p {{\n    stack shop\n    gate preview {{ http \"http://shop_green:8080/\" }}\n    gate live {{\n        http \
             \"http://front/\"\n        interval \"5s\"\n        count 3\n    }}\n    blue-green front {{\n        blue \
             shop_blue\n        green shop_green\n        image \"front:v2\"\n        {switch}\n        preview-gates preview\n        \
             gates live\n        keep-old \"{keep_old}\"\n    }}\n}}\n"
        )
    }

    async fn run(world: &World, text: &str) -> (Report, Arc<Memory>) {
        let memory = Arc::new(Memory::default());
        let ctx = world.sim.context("shop", "r-bg", vec![Box::new(memory.clone())]);
        let (plan, graph) = Simulation::plan(text);
        let executor = Executor { ctx, parallelism: 4, interrupts: Interrupts::default() };
        (executor.run(&plan, &graph, &Arc::new(world.dir.clone())).await, memory)
    }

    fn upstream(fake: &FakeCluster) -> String {
        let spec = fake.spec("shop_router").unwrap();
        let name = current_config_name(&spec, "/etc/nginx/nginx.conf");
        String::from_utf8(fake.config_data(&name).unwrap()).unwrap()
    }

    fn aliases(fake: &FakeCluster, service: &str) -> Vec<String> {
        let spec = fake.spec(service).unwrap();
        spec.task_template.unwrap().networks.unwrap()[0].aliases.clone().unwrap_or_default()
    }

    /// A directory of this test's own: tests run at once in one process, and one rewriting a
    /// template another is reading made it read an empty file.
    fn unique_dir(what: &str) -> std::path::PathBuf {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::env::temp_dir().join(format!("planrun-bg-{}-{what}-{n}", std::process::id()))
    }

    #[tokio::test(start_paused = true)]
    async fn nginx_switch_deploys_the_idle_colour_checks_it_and_moves_the_router() {
        let w = world("nginx").await;
        let (report, _) = run(&w, &plan("nginx", "10m")).await;

        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        assert_eq!(upstream(&w.sim.cluster), "upstream: shop_green\n");
        let green = w.sim.cluster.spec("shop_green").unwrap();
        assert_eq!((spec::image(&green), spec::replicas(&green)), ("front:v2", Some(3)));
        let blue = w.sim.cluster.spec("shop_blue").unwrap();
        assert_eq!(spec::replicas(&blue), Some(3), "the old colour keeps running for keep-old");
        assert!(blue.labels.unwrap().contains_key(RETIRE_AFTER));
        let (parsed, _) = Simulation::plan(&plan("nginx", "10m"));
        let plans::steps::StepKind::BlueGreen(step) = &parsed.steps[0].kind else { panic!("a blue-green step") };
        assert_eq!(colours(&w.sim.cluster, step).await.unwrap().live, "shop_green", "the swarm now says green is live");
        assert!(!w.sim.cluster.spec("shop_green").unwrap().labels.unwrap_or_default().contains_key(RETIRE_AFTER));
        // The next release goes back to blue, which must not retire once it is live again.
        let (report, _) = run(&w, &plan("nginx", "10m").replace("front:v2", "front:v3")).await;
        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        assert_eq!(upstream(&w.sim.cluster), "upstream: shop_blue\n");
        let blue = w.sim.cluster.spec("shop_blue").unwrap();
        assert_eq!(spec::image(&blue), "front:v3");
        assert!(!blue.labels.unwrap_or_default().contains_key(RETIRE_AFTER), "the live colour never retires");
        // Once keep-old has passed, the old colour (green now) retires.
        let now = std::time::SystemTime::now();
        assert!(retire_due(&w.sim.cluster, "shop", now).await.unwrap().is_empty());
        let later = now + std::time::Duration::from_secs(601);
        assert_eq!(retire_due(&w.sim.cluster, "shop", later).await.unwrap(), ["shop_green"]);
        assert_eq!(spec::replicas(&w.sim.cluster.spec("shop_green").unwrap()), Some(0));
        assert_eq!(spec::replicas(&w.sim.cluster.spec("shop_blue").unwrap()), Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn preflight_names_every_problem_before_anything_changes() {
        let w = world("nginx").await;
        let other = w.sim.cluster.add_network("elsewhere");
        w.sim.cluster.add_service(service("shop_grey", "front:v1", 0, &other, &[]));
        let memory = Arc::new(Memory::default());
        let ctx = w.sim.context("shop", "r-pre", vec![Box::new(memory.clone())]);
        let text = plan("nginx", "10m")
            .replace("green shop_green", "green shop_grey")
            .replace("router=shop_router", "router=shop_nope")
            .replace("nginx.conf.template", "missing.template");
        let (parsed, _) = Simulation::plan(&text);
        let step = w.sim.step(&ctx, &parsed, "front");
        let step = crate::context::StepContext { plan_dir: Arc::new(w.dir.clone()), ..step };
        let plans::steps::StepKind::BlueGreen(bg) = &parsed.steps[0].kind else { panic!() };
        let found = crate::steps::Behavior::preflight(bg, &step).await;
        assert_eq!(found.problems.len(), 3, "{found:?}");
        assert!(found.problems[0].contains("are not on the same networks"), "{found:?}");
        assert_eq!(found.problems[1], "service `shop_nope` does not exist");
        assert!(found.problems[2].starts_with("cannot read the template"), "{found:?}");
    }

    /// `spec` as a global service.
    fn global(mut spec: ServiceSpec) -> ServiceSpec {
        spec.mode = Some(bollard::models::ServiceSpecMode { global: Some(Default::default()), ..Default::default() });
        spec
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_router_is_switched_on_every_node() {
        let sim = Simulation::new();
        sim.cluster.set_nodes(&["n1", "n2", "n3"]);
        let net = sim.cluster.add_network("shop_public");
        sim.cluster.add_service(service("shop_blue", "front:v1", 3, &net, &[]));
        sim.cluster.add_service(service("shop_green", "front:v1", 0, &net, &[]));
        let labels = HashMap::from([(UPSTREAM.to_string(), "shop_blue".to_string())]);
        let id = sim
            .cluster
            .create_config(crate::cluster::NewObject::new("router-blue", labels, b"upstream: shop_blue\n"))
            .await
            .unwrap();
        sim.cluster.add_service(global(router(&net, &id, "router-blue")));
        let dir = unique_dir("global");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("nginx.conf.template"), "upstream: ${upstream}\n").unwrap();
        let w = World { sim, dir, net };

        let (report, _) = run(&w, &plan("nginx", "10m")).await;

        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        assert_eq!(upstream(&w.sim.cluster), "upstream: shop_green\n");
        let config = current_config_name(&w.sim.cluster.spec("shop_router").unwrap(), "/etc/nginx/nginx.conf");
        let mut nodes: Vec<String> = w
            .sim
            .cluster
            .tasks("shop_router")
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.desired_state == Some(bollard::models::TaskState::RUNNING))
            .filter(|t| {
                current_config_name(
                    &ServiceSpec { task_template: t.spec.clone(), ..Default::default() },
                    "/etc/nginx/nginx.conf",
                ) == config
            })
            .map(|t| t.node_id.unwrap())
            .collect();
        nodes.sort();
        assert_eq!(nodes, ["n1", "n2", "n3"], "one router task on the new config on every node");
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_colour_is_refused_before_anything_changes() {
        let w = world("nginx").await;
        let green = w.sim.cluster.spec("shop_green").unwrap();
        w.sim.cluster.remove_service("shop_green").await.unwrap();
        w.sim.cluster.add_service(global(green));
        let ctx = w.sim.context("shop", "r-pre", Vec::new());
        let (parsed, _) = Simulation::plan(&plan("nginx", "10m"));
        let step = w.sim.step(&ctx, &parsed, "front");
        let step = crate::context::StepContext { plan_dir: Arc::new(w.dir.clone()), ..step };
        let plans::steps::StepKind::BlueGreen(bg) = &parsed.steps[0].kind else { panic!() };
        let found = crate::steps::Behavior::preflight(bg, &step).await;
        assert_eq!(
            found.problems,
            ["`shop_green` is a global service (one task on every node that may run it): a colour must be \
                 replicated, to run at the live colour's size and be scaled to 0 when it retires; use a rolling step"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_preview_gate_never_switches() {
        let w = world("nginx").await;
        w.sim.probe.script("preview", &[Outcome::Fail]);
        let (report, _) = run(&w, &plan("nginx", "10m")).await;
        assert_eq!(report.outcome, RunOutcome::RolledBack);
        assert_eq!(upstream(&w.sim.cluster), "upstream: shop_blue\n", "the router never moved");
        let green = w.sim.cluster.spec("shop_green").unwrap();
        assert_eq!((spec::image(&green), spec::replicas(&green)), ("front:v1", Some(0)), "green as it was");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_live_gate_switches_straight_back() {
        let w = world("nginx").await;
        let before = w.sim.cluster.spec("shop_router").unwrap();
        w.sim.probe.script("live", &[Outcome::Pass, Outcome::Fail]);
        let (report, _) = run(&w, &plan("nginx", "10m")).await;
        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        assert_eq!(w.sim.cluster.spec("shop_router").unwrap(), before, "the router is back on its exact spec");
        assert_eq!(upstream(&w.sim.cluster), "upstream: shop_blue\n");
        assert_eq!(spec::replicas(&w.sim.cluster.spec("shop_green").unwrap()), Some(0));
        assert_eq!(
            w.sim.cluster.configs(&format!("{ROUTER}=shop_router")).await.unwrap(),
            Vec::new(),
            "the rendered config is removed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_config_nginx_rejects_never_reaches_the_router() {
        let w = world("nginx").await;
        let before = w.sim.cluster.spec("shop_router").unwrap();
        w.sim.cluster.job_behave("router:1", Behavior::Crash(1));
        w.sim
            .cluster
            .job_output("router:1", "nginx: [emerg] unknown directive \"upstreem\" in /etc/nginx/nginx.conf:1");
        let (report, _) = run(&w, &plan("nginx", "10m")).await;
        assert_eq!(report.outcome, RunOutcome::RolledBack);
        let reason = report.reason.unwrap();
        assert!(
            reason.contains("nginx rejects the config rendered from nginx.conf.template for shop_green"),
            "{reason}"
        );
        assert!(reason.contains("unknown directive"), "{reason}");
        assert_eq!(w.sim.cluster.spec("shop_router").unwrap(), before);
    }

    /// A progress message of `step` that contains `text`.
    fn said(memory: &Memory, text: &str) -> Option<String> {
        memory.events().into_iter().find_map(|e| match e {
            crate::events::Event::StepProgress { message, .. } if message.contains(text) => Some(message),
            _ => None,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn caddy_switch_rolls_the_router_when_its_tasks_cannot_be_loaded_and_back_on_failure() {
        // The fake swarm has no containers, so no helper can load the config into the router's
        // tasks: the roll alone moves traffic, as with nginx, and the step says why.
        let caddy = r#"switch caddy router=shop_router template="nginx.conf.template" target="/etc/nginx/nginx.conf""#;
        let w = world("nginx").await;
        let (report, memory) = run(
            &w,
            &plan("nginx", "10m").replace(r#"switch nginx router=shop_router template="nginx.conf.template""#, caddy),
        )
        .await;
        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        assert_eq!(upstream(&w.sim.cluster), "upstream: shop_green\n");
        let why = said(&memory, "could not load config").expect("the step says the live load failed");
        assert!(why.contains("the roll onto it moves traffic instead"), "{why}");

        let w = world("nginx").await;
        let before = w.sim.cluster.spec("shop_router").unwrap();
        w.sim.probe.script("live", &[Outcome::Fail]);
        let text =
            plan("nginx", "10m").replace(r#"switch nginx router=shop_router template="nginx.conf.template""#, caddy);
        let (report, memory) = run(&w, &text).await;
        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        assert_eq!(w.sim.cluster.spec("shop_router").unwrap(), before, "the router is back on its exact spec");
        assert_eq!(upstream(&w.sim.cluster), "upstream: shop_blue\n");
        let back = memory.events().into_iter().any(|e| {
            matches!(e, crate::events::Event::StepProgress { message, .. }
                if message.contains("into shop_router's running tasks") && message.contains("rolling it back instead"))
        });
        assert!(back, "the switch back says it rolls the router back");
    }

    #[tokio::test(start_paused = true)]
    async fn alias_switch_moves_the_alias_and_back_on_failure() {
        let w = world("alias").await;
        let (report, _) = run(&w, &plan("alias", "0s")).await;
        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        assert_eq!(aliases(&w.sim.cluster, "shop_green"), ["front"]);
        assert!(aliases(&w.sim.cluster, "shop_blue").is_empty());
        assert_eq!(spec::replicas(&w.sim.cluster.spec("shop_blue").unwrap()), Some(0), "keep-old 0s retires at once");
        let _ = &w.net;

        let w = world("alias").await;
        let blue = w.sim.cluster.spec("shop_blue").unwrap();
        w.sim.probe.script("live", &[Outcome::Fail]);
        let (report, _) = run(&w, &plan("alias", "10m")).await;
        assert_eq!(report.outcome, RunOutcome::RolledBack);
        assert_eq!(w.sim.cluster.spec("shop_blue").unwrap(), blue, "blue is back exactly, alias and all");
        assert!(aliases(&w.sim.cluster, "shop_green").is_empty());
    }
}
