//! `switch caddy` at run time: the config is rendered from the template for the new colour and
//! checked with `caddy validate` in a job of the router's image (`rendered.rs`, shared with
//! nginx). Then it is loaded into every running router task through Caddy's admin API
//! (`POST /load` on port 2019 of the task's address, sent by busybox `wget` from a helper
//! container on the router's network): Caddy swaps its config in place, finishing requests in
//! flight, so traffic moves at once, without waiting for new tasks to start, pass a health
//! check and replace the old ones in DNS. The router is then rolled onto the config as `switch
//! nginx` does, so a task started later (a restart, a new node) has it too.
//!
//! The switch back is the same in reverse: undo loads the router's previous config into its
//! tasks, then restores its previous spec (`BlueGreenUndo::live_load`). When the config cannot
//! be loaded into a task (no helper container can start on the node planrun talks to, the admin
//! API does not answer), the roll alone moves traffic, as `switch nginx` does, and the step says
//! so.
//!
//! The helper is an attended Swarm job (`services::job::Attended`): a stack's overlay networks are
//! not attachable, so a plain container cannot join them. A step starts one beside its idle
//! colour's rollout and keeps it for the switch back, so neither waits for a container to start.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{Service, TaskState};
use plans::steps::BlueGreen;
use plans::steps::switch::Caddy;
use plans::steps::switch::caddy::ADMIN_PORT;
use tokio::time::Instant;

use super::rendered::{self, Router};
use super::{ColourError, Colours, SwitchBehavior};
use crate::cluster::{Cluster, Exec, ExecInput, ExecOutput};
use crate::context::{RunContext, StepContext};
use crate::database::service::JOB_RUN;
use crate::services::job::{self, Attended, Job};
use crate::services::{self, ServiceError, spec};
use crate::steps::{Findings, StepError};
use crate::undo::{BlueGreenUndo, LiveLoad, Undo};

/// The value of `planrun.job` on the helper container that loads configs into a router.
pub const LOADER_JOB: &str = "caddy-load";

/// How long the helper container may take to start.
const STARTING: Duration = Duration::from_secs(60);

/// How long the helper container lives, if nobody ends it (the run ends it before it ends).
const LIFE: Duration = Duration::from_secs(3600);

/// How long one task's admin API may take to load a config.
const LOADING: Duration = Duration::from_secs(10);

fn how(caddy: &Caddy) -> Router<'_> {
    let (_, adapter) = caddy.format();
    Router {
        name: &caddy.router,
        template: &caddy.template,
        target: &caddy.target,
        program: "caddy",
        check: vec![
            "caddy".into(),
            "validate".into(),
            "--config".into(),
            caddy.target.clone(),
            "--adapter".into(),
            adapter.into(),
        ],
    }
}

fn live_load(caddy: &Caddy) -> LiveLoad {
    LiveLoad { target: caddy.target.clone(), content_type: caddy.format().0.to_owned() }
}

#[async_trait]
impl SwitchBehavior for Caddy {
    async fn live_colour(
        &self,
        cluster: &dyn Cluster,
        blue: &Service,
        green: &Service,
    ) -> Result<Option<(String, String)>, ColourError> {
        rendered::live_colour(cluster, &self.router, &self.target, blue, green).await
    }

    async fn preflight(&self, ctx: &StepContext, _colours: &[&Service], monitor: std::time::Duration) -> Findings {
        let (router, mut findings) =
            rendered::preflight(ctx, &self.router, &self.template, &self.target, monitor).await;
        findings.warnings.extend(router.as_ref().and_then(accept_queue_warning));
        findings
    }

    async fn router(&self, ctx: &StepContext) -> Result<Option<Service>, ServiceError> {
        let router = services::inspect(ctx.cluster(), &self.router).await?;
        warm(ctx.run.cluster.clone(), ctx.run.run_id.clone(), router.clone());
        Ok(Some(router))
    }

    async fn switch(
        &self,
        ctx: &StepContext,
        step: &BlueGreen,
        colours: &Colours,
        router: Option<Service>,
        record: &mut BlueGreenUndo,
    ) -> Result<(), StepError> {
        let router = router.unwrap_or_default();
        let config = rendered::render_and_check(ctx, &router, &how(self), &colours.idle, record).await?;
        let how_back = live_load(self);
        let content_type = how_back.content_type.clone();
        record.switched = true;
        record.live_load = Some(how_back);
        ctx.record(Undo::BlueGreen(Box::new(record.clone()))).await?;
        ctx.progress(format!("switching {} to {} (config {})", self.router, colours.idle, config.name));
        let started = Instant::now();
        match load(&ctx.run, &self.router, config.text.as_bytes(), &content_type).await {
            Ok(tasks) => ctx.progress(format!(
                "{} now sends traffic to {}: config {} loaded into {tasks} task{} in {} ms; rolling it onto the \
                 service so later tasks have it too",
                self.router,
                colours.idle,
                config.name,
                if tasks == 1 { "" } else { "s" },
                started.elapsed().as_millis()
            )),
            Err(why) => ctx.progress(format!(
                "could not load config {} into {}'s running tasks ({why}); the roll onto it moves traffic instead",
                config.name, self.router
            )),
        }
        rendered::roll_onto(ctx, step, &router, &self.target, &config).await
    }

    fn networks(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The sysctl that makes Linux hand the connections waiting in a closed listening socket's queue
/// to another socket of its `SO_REUSEPORT` group (Linux 5.14 and later).
const MIGRATE_REQ: &str = "net.ipv4.tcp_migrate_req";

/// Why a live load may reset a connection on `router`, when its tasks lack [`MIGRATE_REQ`]: on
/// Linux Caddy opens a new listening socket beside the old one for each config it loads
/// (`SO_REUSEPORT`) and then closes the old one, and the kernel resets every connection still
/// waiting in the old one's accept queue, unless the task's network namespace sets the sysctl.
fn accept_queue_warning(router: &Service) -> Option<String> {
    let spec = router.spec.as_ref()?;
    let sysctls = spec.task_template.as_ref()?.container_spec.as_ref()?.sysctls.as_ref();
    if sysctls.and_then(|s| s.get(MIGRATE_REQ)).is_some_and(|v| v.trim() == "1") {
        return None;
    }
    let name = spec.name.as_deref().unwrap_or_default();
    Some(format!(
        "the router `{name}` does not set {MIGRATE_REQ}=1: each config planrun loads makes Caddy open a new \
         listening socket and close the old one, and Linux resets a connection still waiting in the old one's \
         queue (measured: 80 of 48,000 requests with a config loaded every 0.2 s; docs/benchmarks.md); set it with `docker service update \
         --sysctl-add {MIGRATE_REQ}=1 {name}` (Linux 5.14 or later) so the kernel hands those connections on"
    ))
}

/// Switching back: loads the config `router`'s previous spec mounts at `how.target` into its
/// running tasks; says how it went as `step`'s progress. The caller then restores the spec.
pub async fn load_previous(step: &str, router: &crate::undo::RollingUndo, how: &LiveLoad, ctx: &RunContext) {
    let name = rendered::current_config_name(&router.previous_spec, &how.target);
    let started = Instant::now();
    let text = match ctx.cluster.config(&name).await {
        Ok(Some(config)) => config.data,
        Ok(None) => {
            return ctx.progress(step, format!("the router's previous config {name} is gone: rolling it back instead"));
        }
        Err(e) => {
            return ctx.progress(
                step,
                format!("cannot read the router's previous config {name} ({e}): rolling it back instead"),
            );
        }
    };
    match load(ctx, &router.service_name, &text, &how.content_type).await {
        Ok(tasks) => ctx.progress(
            step,
            format!(
                "{} is back on config {name}: loaded into {tasks} task{} in {} ms",
                router.service_name,
                if tasks == 1 { "" } else { "s" },
                started.elapsed().as_millis()
            ),
        ),
        Err(why) => ctx.progress(
            step,
            format!(
                "could not load config {name} into {}'s running tasks ({why}): rolling it back instead",
                router.service_name
            ),
        ),
    }
}

/// Loads `config` into every running task of `router` through Caddy's admin API; how many.
/// The helper finds the tasks' addresses as the network's own DNS gives them (`tasks.ROUTER`),
/// and sends the config to each in turn, in one exec.
async fn load(ctx: &RunContext, router: &str, config: &[u8], content_type: &str) -> Result<usize, String> {
    let cluster = ctx.cluster.as_ref();
    let service = cluster.service(router).await.map_err(|e| format!("cannot inspect {router}: {e}"))?;
    let tasks = cluster
        .tasks(service.id.as_deref().unwrap_or(router))
        .await
        .map_err(|e| format!("cannot list its tasks: {e}"))?;
    let running = tasks
        .iter()
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
        .count();
    let helper = helper(ctx.cluster.clone(), &ctx.run_id, &service).await?;
    let exec = Exec {
        container: helper.container.clone(),
        argv: vec!["sh".into(), "-c".into(), script(&services::name_of(&service), content_type)],
        env: Vec::new(),
        user: None,
        stdin: ExecInput::Bytes(config.to_vec()),
        stdout: ExecOutput::Capture,
    };
    let done = match tokio::time::timeout(LOADING, cluster.exec(exec)).await {
        Ok(Ok(done)) => {
            keep(helper, &ctx.run_id, &service);
            done
        }
        // A helper that cannot exec is ended (dropped), not kept.
        Ok(Err(e)) => return Err(format!("exec in the helper container: {e}")),
        Err(_) => return Err(format!("the router's admin API did not answer within {} s", LOADING.as_secs())),
    };
    said(&String::from_utf8_lossy(&done.stdout), running)
}

/// What the helper's script said (one `loaded ADDRESS` or `failed ADDRESS: WHY` per task it
/// found), for a router with `running` running tasks: how many were loaded, or why not all.
fn said(said: &str, running: usize) -> Result<usize, String> {
    let loaded = said.lines().filter(|l| l.starts_with("loaded ")).count();
    let failed: Vec<&str> = said.lines().filter_map(|l| l.strip_prefix("failed ")).collect();
    if !failed.is_empty() {
        let refused = failed.iter().any(|f| f.contains("Connection refused"));
        let hint = if refused {
            format!(
                "; the router's config must put Caddy's admin API on the task's address \
                 (`admin 0.0.0.0:{ADMIN_PORT}` in the Caddyfile's global options)"
            )
        } else {
            String::new()
        };
        return Err(format!("{}{hint}", crate::gates::excerpt(&failed.join("; "), 300)));
    }
    if loaded == 0 || loaded < running {
        return Err(format!("loaded into {loaded} of its {running} running tasks (the network's DNS named no more)"));
    }
    Ok(loaded)
}

/// The helper's shell script: reads the config on stdin, looks up the router's tasks and
/// `POST`s the config to each one's `/load`; prints `loaded ADDRESS` or `failed ADDRESS: WHY`.
/// (busybox 1.35's `wget -T` crashes when it posts: `timeout` bounds it instead.)
fn script(router: &str, content_type: &str) -> String {
    let timeout = LOADING.as_secs();
    format!(
        "c=\"$(cat)\"; \
         for a in $(nslookup tasks.{router} 2>/dev/null | sed -n '/^Name:/,$ s/^Address:[[:space:]]*//p'); do \
         if out=$(timeout {timeout} wget -q -O- --header 'Content-Type: {content_type}' --post-data \"$c\" \
         \"http://$a:{ADMIN_PORT}/load\" 2>&1); then echo \"loaded $a\"; \
         else echo \"failed $a: $(echo $out | head -c 200)\"; fi; \
         done"
    )
}

/// The network the helper joins: the router's first.
fn first_network(service: &Service) -> Option<String> {
    super::attachments(service).into_iter().find_map(|a| a.target)
}

/// Which kept helpers a load may take: those of its run and router.
fn kept_key(run_id: &str, service: &Service) -> String {
    format!("caddy-load {run_id} {}", service.id.as_deref().unwrap_or_default())
}

/// A helper container on the router's first network, kept or new.
async fn helper(cluster: Arc<dyn Cluster>, run_id: &str, service: &Service) -> Result<Attended, String> {
    if let Some((kept, _)) = job::take_kept(&kept_key(run_id, service), Instant::now() + LOADING) {
        return Ok(kept);
    }
    start(cluster, run_id, service).await
}

fn keep(helper: Attended, run_id: &str, service: &Service) {
    // It ends by itself after LIFE from its start; a little less is promised.
    job::keep(kept_key(run_id, service), helper, Instant::now() + LIFE / 2);
}

/// Starts a helper beside the caller and keeps it for the switch (`router` reads the router
/// before the idle colour's rollout). One that cannot start is left: the switch starts its own.
fn warm(cluster: Arc<dyn Cluster>, run_id: String, service: Service) {
    job::starting_to_keep(async move {
        if let Ok(helper) = start(cluster, &run_id, &service).await {
            keep(helper, &run_id, &service);
        }
    });
}

/// Numbers the helpers this process starts, so their names never collide.
static NEXT: AtomicU64 = AtomicU64::new(1);

async fn start(cluster: Arc<dyn Cluster>, run_id: &str, service: &Service) -> Result<Attended, String> {
    let network = first_network(service).ok_or("the router is on no network")?;
    let Some(node) = cluster.node_taking_tasks_here().await else {
        return Err("the helper container runs on the node planrun talks to, and that node takes no tasks".into());
    };
    let spec = service.spec.clone().unwrap_or_default();
    let run: String = run_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let job = Job {
        name: format!(
            "planrun-load-{}-{}-{}",
            &run[run.len().saturating_sub(24)..],
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ),
        image: spec::image(&spec).to_owned(),
        command: Vec::new(),
        env: Vec::new(),
        networks: vec![network],
        labels: HashMap::from([
            ("planrun.job".to_string(), LOADER_JOB.to_string()),
            (JOB_RUN.to_string(), run_id.to_owned()),
        ]),
        configs: Vec::new(),
        secrets: Vec::new(),
        output_to: None,
        deadline: LIFE,
        node: Some(node),
    };
    Attended::start(cluster, &job, STARTING).await.map_err(|e| format!("the helper container did not start: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{MIGRATE_REQ, accept_queue_warning, said};
    use bollard::models::{Service, ServiceSpec, TaskSpec, TaskSpecContainerSpec};
    use std::collections::HashMap;

    fn router(sysctls: Option<&[(&str, &str)]>) -> Service {
        Service {
            spec: Some(ServiceSpec {
                name: Some("shop_caddy".into()),
                task_template: Some(TaskSpec {
                    container_spec: Some(TaskSpecContainerSpec {
                        sysctls: sysctls
                            .map(|s| s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<HashMap<_, _>>()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_router_without_tcp_migrate_req_is_warned_with_the_command_that_sets_it() {
        for lacking in
            [None, Some(&[][..]), Some(&[(MIGRATE_REQ, "0")][..]), Some(&[("net.core.somaxconn", "1024")][..])]
        {
            let warning = accept_queue_warning(&router(lacking)).expect("a warning");
            assert!(
                warning.starts_with("the router `shop_caddy` does not set net.ipv4.tcp_migrate_req=1"),
                "{warning}"
            );
            assert!(
                warning.contains("`docker service update --sysctl-add net.ipv4.tcp_migrate_req=1 shop_caddy`"),
                "{warning}"
            );
        }
        assert_eq!(accept_queue_warning(&router(Some(&[(MIGRATE_REQ, "1")]))), None);
    }

    #[test]
    fn a_load_every_task_refused_says_where_the_admin_api_must_listen() {
        let out = "failed 10.0.1.14: wget: can't connect to remote host (10.0.1.14): Connection refused\n\
                   failed 10.0.1.13: wget: can't connect to remote host (10.0.1.13): Connection refused\n";
        let why = said(out, 2).unwrap_err();
        assert!(why.starts_with("10.0.1.14: wget: can't connect"), "{why}");
        assert!(why.ends_with("(`admin 0.0.0.0:2019` in the Caddyfile's global options)"), "{why}");
    }

    #[test]
    fn a_load_counts_the_tasks_and_fails_when_dns_named_fewer_than_run() {
        assert_eq!(said("loaded 10.0.1.5\nloaded 10.0.1.6\n", 2), Ok(2));
        assert_eq!(
            said("loaded 10.0.1.5\n", 2),
            Err("loaded into 1 of its 2 running tasks (the network's DNS named no more)".into())
        );
        assert_eq!(said("", 0), Err("loaded into 0 of its 0 running tasks (the network's DNS named no more)".into()));
        let other =
            said("loaded 10.0.1.5\nfailed 10.0.1.6: wget: server returned error: HTTP/1.1 400 Bad Request\n", 2);
        assert_eq!(other, Err("10.0.1.6: wget: server returned error: HTTP/1.1 400 Bad Request".into()), "no hint");
    }
}
