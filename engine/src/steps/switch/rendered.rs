//! What the switches that render a router's config have in common (`switch nginx`,
//! `switch caddy`): the template is rendered with `${upstream}` = the new colour, stored as a
//! Swarm config (named by its content), checked by the router's own program in a one-off job of
//! the router's image (a config it rejects never reaches the router: the step fails with the
//! program's message), and the router is rolled onto it start-first, all tasks at once. Configs
//! of the router that no service uses and that are not the one just replaced are removed.
//!
//! The live colour is read from the router's config object: planrun labels the configs it
//! renders with their upstream; a config it did not render is searched for the two names.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{Service, ServiceSpec, TaskSpecContainerSpecConfigs};
use plans::steps::BlueGreen;

use super::{ColourError, DRAIN};
use crate::cluster::Cluster;
use crate::context::StepContext;
use crate::services::job::{self, Job};
use crate::services::{self, ServiceError, spec};
use crate::steps::{Findings, Refusal, StepError, rolling};
use crate::undo::{BlueGreenUndo, Undo};

/// The label on a config planrun rendered: the router it is for.
pub const ROUTER: &str = "planrun.router";
/// The label on a config planrun rendered: the colour it sends traffic to.
pub const UPSTREAM: &str = "planrun.upstream";

/// A router whose config a switch renders, as the plan names it.
pub struct Router<'a> {
    /// The router service.
    pub name: &'a str,
    /// The template, relative to the plan.
    pub template: &'a str,
    /// Where the config goes in the router's containers.
    pub target: &'a str,
    /// The program that checks a config (`nginx`, `caddy`), for messages.
    pub program: &'static str,
    /// The check's command, run in a job of the router's image with the config at `target`.
    pub check: Vec<String>,
}

/// A rendered and checked config.
pub struct Rendered {
    /// The config object's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its content.
    pub text: String,
}

/// Which colour the router's config at `target` sends traffic to.
pub async fn live_colour(
    cluster: &dyn Cluster,
    router: &str,
    target: &str,
    blue: &Service,
    green: &Service,
) -> Result<Option<(String, String)>, ColourError> {
    let router_service =
        cluster.service(router).await.map_err(|error| ColourError::Inspect { service: router.to_owned(), error })?;
    let Some(config) = mounted_config(&router_service, target) else {
        return Err(ColourError::NoRouterConfig { router: router.to_owned(), target: target.to_owned() });
    };
    let object = cluster.config(&config.config_name.clone().unwrap_or_default()).await.map_err(ColourError::Cluster)?;
    let Some(object) = object else { return Ok(None) };
    let (blue, green) = (services::name_of(blue), services::name_of(green));
    if let Some(upstream) = object.labels.get(UPSTREAM).filter(|u| **u == blue || **u == green) {
        return Ok(Some((upstream.clone(), format!("the router's config {} sends traffic to it", object.name))));
    }
    let text = String::from_utf8_lossy(&object.data);
    Ok(match (text.contains(&blue), text.contains(&green)) {
        (true, false) => Some((blue, format!("the router's config {} names it", object.name))),
        (false, true) => Some((green, format!("the router's config {} names it", object.name))),
        (true, true) | (false, false) => None,
    })
}

/// Before the run: the router exists and mounts a config at `target`, the template is readable
/// and says where traffic goes.
pub async fn preflight(
    ctx: &StepContext,
    router: &str,
    template: &str,
    target: &str,
    monitor: std::time::Duration,
) -> (Option<Service>, Findings) {
    let (router_service, mut findings) = rolling::check_service(ctx, router, monitor).await;
    let problems = &mut findings.problems;
    if let Some(r) = &router_service
        && mounted_config(r, target).is_none()
    {
        problems.push(format!(
            "the router `{router}` mounts no config at {target}: give it one \
             (docker service update --config-add source=CONFIG,target={target} {router})"
        ));
    }
    let path = ctx.plan_dir.join(template);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.contains("${upstream}") => {
            problems.push(format!("the template {} has no `${{upstream}}` to replace", path.display()))
        }
        Ok(_) => {}
        Err(e) => problems.push(format!("cannot read the template {}: {e}", path.display())),
    }
    (router_service, findings)
}

/// The config the router mounts at `target`.
pub fn mounted_config(router: &Service, target: &str) -> Option<TaskSpecContainerSpecConfigs> {
    let configs = router.spec.as_ref()?.task_template.as_ref()?.container_spec.as_ref()?.configs.clone()?;
    configs.into_iter().find(|c| c.file.as_ref().and_then(|f| f.name.as_deref()) == Some(target))
}

/// The template rendered for `upstream`.
pub fn render(template: &str, upstream: &str) -> String {
    template.replace("${upstream}", upstream)
}

/// A config name for a rendered config: the router's name and the content's hash (configs
/// are immutable; the same content gets the same name). At most 64 characters.
pub fn config_name(router: &str, content: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut hasher);
    let stem: String = router.chars().take(46).collect();
    format!("{stem}-{:016x}", hasher.finish())
}

/// Renders, stores and checks the router config for `upstream`.
pub async fn render_and_check(
    ctx: &StepContext,
    router: &Service,
    how: &Router<'_>,
    upstream: &str,
    record: &mut BlueGreenUndo,
) -> Result<Rendered, StepError> {
    let cluster = ctx.cluster();
    let router_name = services::name_of(router);
    let path = ctx.plan_dir.join(how.template);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| StepError::Refused(Refusal::Template { path: path.clone(), error: e.into() }))?;
    let rendered = render(&text, upstream);
    let name = config_name(&router_name, &rendered);
    let id = match cluster.config(&name).await {
        Ok(Some(existing)) => existing.id,
        _ => {
            record.config = Some(name.clone());
            ctx.record(Undo::BlueGreen(Box::new(record.clone()))).await?;
            let labels = HashMap::from([
                (ROUTER.to_string(), router_name.clone()),
                (UPSTREAM.to_string(), upstream.to_owned()),
                (super::STACK.to_string(), ctx.run.stack.clone()),
            ]);
            cluster
                .create_config(crate::cluster::NewObject::new(&name, labels, rendered.as_bytes()))
                .await
                .map_err(|error| ServiceError::Cluster { doing: format!("create config {name}"), error })?
        }
    };
    // The program and its verb (`nginx -t`, `caddy validate`), not where the config is.
    let checker = how.check.iter().take(2).map(String::as_str).collect::<Vec<_>>().join(" ");
    ctx.progress(format!("checking {name} with {checker} in the router's image"));
    let spec = router.spec.clone().unwrap_or_default();
    let image = spec::image(&spec).to_owned();
    let networks = spec
        .task_template
        .as_ref()
        .and_then(|t| t.networks.as_ref())
        .map(|n| n.iter().filter_map(|a| a.target.clone()).collect::<Vec<_>>());
    let check = Job {
        name: format!("planrun-check-{}", &ctx.run.run_id.replace(|c: char| !c.is_ascii_alphanumeric(), "")[..]),
        image,
        command: how.check.clone(),
        env: Vec::new(),
        networks: networks.unwrap_or_default(),
        labels: HashMap::from([(super::STACK.to_string(), ctx.run.stack.clone())]),
        configs: vec![(id.clone(), name.clone(), how.target.to_owned())],
        secrets: Vec::new(),
        output_to: None,
        deadline: std::time::Duration::from_secs(60),
        // A config check leaves nothing worth keeping in its log: any node will do.
        node: None,
    };
    if let Err(e) = job::run(ctx.run.cluster.clone(), &check).await {
        let _ = cluster.remove_config(&id).await;
        return Err(StepError::Refused(Refusal::RouterRejects {
            program: how.program,
            template: Path::new(how.template).display().to_string(),
            upstream: upstream.to_owned(),
            error: Box::new(e),
        }));
    }
    Ok(Rendered { id, name, text: rendered })
}

/// Rolls the router onto `config` at `target`, every task at once, start-first (and so its
/// rollback); waits for the replaced tasks to stop, then removes the router's rendered configs
/// no service uses.
pub async fn roll_onto(
    ctx: &StepContext,
    step: &BlueGreen,
    router: &Service,
    target: &str,
    config: &Rendered,
) -> Result<(), StepError> {
    let cluster = ctx.cluster();
    let name = services::name_of(router);
    let previous = router.spec.clone().unwrap_or_default();
    let mut next = with_config(&previous, target, &config.id, &config.name);
    let policy = super::policy(step.deadline, router_monitor(&previous));
    // Every router task at once, start-first (and so its rollback): measured 0 failed
    // requests, the old colour gone in about 3 s (tests/env/README.md).
    spec::set_update_policy(&mut next, &policy);
    let fresh = services::inspect(cluster, &name).await?;
    let router_id = fresh.id.clone().unwrap_or_default();
    rolling::roll_out(ctx, fresh, &next, &previous, &policy, &[], &[]).await?;
    services::drained(cluster, &router_id, DRAIN).await;
    collect_configs(cluster, &name, &[config.name.clone(), current_config_name(&previous, target)]).await;
    Ok(())
}

fn router_monitor(spec: &ServiceSpec) -> plans::duration::Duration {
    let ms = spec.update_config.as_ref().and_then(|u| u.monitor).filter(|n| *n > 0).map(|n| n as u64 / 1_000_000);
    plans::duration::Duration::from_millis(ms.unwrap_or(5_000))
}

/// The name of the config `spec` mounts at `target`.
pub fn current_config_name(spec: &ServiceSpec, target: &str) -> String {
    let configs = spec.task_template.as_ref().and_then(|t| t.container_spec.as_ref()).and_then(|c| c.configs.clone());
    configs
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.file.as_ref().and_then(|f| f.name.as_deref()) == Some(target))
        .and_then(|c| c.config_name)
        .unwrap_or_default()
}

/// `spec` with the config at `target` replaced by (`id`, `name`).
fn with_config(spec: &ServiceSpec, target: &str, id: &str, name: &str) -> ServiceSpec {
    let mut next = spec.clone();
    if let Some(configs) =
        next.task_template.as_mut().and_then(|t| t.container_spec.as_mut()).and_then(|c| c.configs.as_mut())
    {
        for c in configs.iter_mut().filter(|c| c.file.as_ref().and_then(|f| f.name.as_deref()) == Some(target)) {
            c.config_id = Some(id.to_owned());
            c.config_name = Some(name.to_owned());
        }
    }
    next
}

/// Removes the configs planrun rendered for `router` that no service uses, except `keep`.
async fn collect_configs(cluster: &dyn Cluster, router: &str, keep: &[String]) {
    let Ok(rendered) = cluster.configs(&format!("{ROUTER}={router}")).await else { return };
    for config in rendered.into_iter().filter(|c| !keep.contains(&c.name)) {
        // The daemon refuses to remove a config a service still uses: that refusal is the answer.
        let _ = cluster.remove_config(&config.id).await;
    }
}
