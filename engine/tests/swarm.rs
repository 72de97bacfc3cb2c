//! The swarm driver and rolling steps against the real swarm of this machine
//! (tests/env/swarm-up): a good update; images that exit, never get healthy, or turn unhealthy
//! inside or after Swarm's monitor window, each failing with its cause and undone to the exact
//! previous spec; and the service operations strategies share (create, list by label, logs,
//! remove, one-off jobs).
//!
//! Needs dockerd as a swarm manager and the `planrun-test/app:*` images. Set
//! `PLANRUN_SKIP_SWARM=1` to skip (with a notice); otherwise a missing daemon fails the tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecRestartPolicy,
};
use engine::cluster::Cluster;
use engine::cluster::swarm::Swarm;
use engine::context::StepContext;
use engine::events::{Events, Memory};
use engine::services::convergence::{self, Settings};
use engine::services::job::{self, Job};
use engine::services::target::{Baseline, Target};
use engine::services::watch::Watch;
use engine::session::Seams;
use engine::simulation::Simulation;
use engine::steps::{Behavior, rolling};
use engine::undo::{RollingUndo, Undo};
use plans::duration::Duration as PlanDuration;
use plans::span::Span;
use plans::spanned::Spanned;
use plans::steps::Rolling;
use plans::steps::update::{FailureAction, UpdatePolicy};

const HEALTH_CMD: &str = "timeout 2 wget -q -O- http://127.0.0.1:8080/health";

/// The connected swarm, or `None` (with a notice) when PLANRUN_SKIP_SWARM=1.
async fn swarm() -> Option<Swarm> {
    if std::env::var("PLANRUN_SKIP_SWARM").as_deref() == Ok("1") {
        eprintln!("skipped: PLANRUN_SKIP_SWARM=1 (these tests need dockerd as a swarm manager)");
        return None;
    }
    Some(Swarm::connect().await.unwrap_or_else(|e| panic!("{e} (set PLANRUN_SKIP_SWARM=1 to skip)")))
}

/// The docker CLI: the one on PATH, else Debian's.
fn docker_cli() -> std::process::Command {
    let on_path = std::process::Command::new("docker").arg("--version").output().is_ok_and(|o| o.status.success());
    std::process::Command::new(if on_path { "docker" } else { "/usr/bin/docker" })
}

/// Removes the service when the test ends, passed or not.
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = docker_cli().args(["service", "rm", &self.0]).output();
    }
}

fn unique_name(what: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("planrun-t-{}-{nanos}-{what}", std::process::id())
}

/// A 3-replica v1 service as the README recommends: dnsrr on `planrun-test`, 1 s health check.
fn v1_spec(name: &str, env: &[&str]) -> ServiceSpec {
    ServiceSpec {
        name: Some(name.into()),
        labels: Some([("planrun-test".to_string(), "1".to_string())].into()),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(3) }),
            ..Default::default()
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some("planrun-test/app:v1".into()),
                env: Some(env.iter().map(|e| e.to_string()).collect()),
                health_check: Some(HealthConfig {
                    test: Some(vec!["CMD-SHELL".into(), HEALTH_CMD.into()]),
                    interval: Some(1_000_000_000),
                    timeout: Some(3_000_000_000),
                    retries: Some(1),
                    start_period: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy { delay: Some(1_000_000_000), ..Default::default() }),
            networks: Some(vec![NetworkAttachmentConfig { target: Some("planrun-test".into()), ..Default::default() }]),
            ..Default::default()
        }),
        // Swarm's defaults, written out: the plan's config must replace them and undo restore them.
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
            order: Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec { mode: Some(EndpointSpecModeEnum::DNSRR), ports: None }),
        ..Default::default()
    }
}

fn step(service: &str, image: &str, monitor_secs: u64) -> Rolling {
    Rolling {
        service: Spanned::new(service.into(), Span::default()),
        image: Spanned::new(image.into(), Span::default()),
        replicas: None,
        publish: Vec::new(),
        update: UpdatePolicy {
            delay: PlanDuration::from_secs(1),
            monitor: PlanDuration::from_secs(monitor_secs),
            failure_action: FailureAction::Rollback,
            deadline: PlanDuration::from_secs(90),
            ..UpdatePolicy::default()
        },
        gates: Vec::new(),
        compose: None,
        allow_removing: Vec::new(),
    }
}

/// A context for step `release` over the real swarm, its events kept in memory.
fn context(swarm: &Swarm) -> (StepContext, Arc<Memory>) {
    let memory = Arc::new(Memory::default());
    let seams = Seams::live(Arc::new(swarm.clone()), None, None, None);
    let run = seams.context(Events::new(vec![Box::new(memory.clone())]), "planrun-t", "r-swarm-test", None);
    let (plan, _) = Simulation::plan("plan t {\n    stack planrun-t\n    pause p \"1s\"\n}\n");
    let step = StepContext { run, plan, plan_dir: Arc::new(".".into()), step: "release".into() };
    (step, memory)
}

/// Creates the service and waits until its three tasks run healthy.
async fn create(swarm: &Swarm, spec: ServiceSpec) -> (String, Removed) {
    let name = spec.name.clone().unwrap();
    let created = swarm.docker().create_service(spec.clone(), None).await.expect("create the test service");
    let guard = Removed(name);
    let id = created.id.unwrap();
    let target = Target::of(&id, &spec).unwrap();
    let baseline = Baseline::default();
    let mut watch = Watch::new(&target, &baseline, u64::MAX);
    let settings = Settings::new(Duration::from_secs(60));
    convergence::follow(swarm, &|_| {}, &target, &baseline, &mut watch, settings).await.expect("the v1 service starts");
    (id, guard)
}

/// The spec exactly as `docker service inspect` shows it (not read through planrun).
fn inspected(id: &str) -> serde_json::Value {
    let out = docker_cli().args(["service", "inspect", "--format", "{{json .Spec}}", id]).output().unwrap();
    assert!(out.status.success(), "docker service inspect {id}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The undo record the step made before changing anything (the run's own copy: the event
/// carries it with env values redacted).
fn recorded(ctx: &StepContext) -> RollingUndo {
    ctx.run
        .recorded
        .newest_first()
        .into_iter()
        .find_map(|(_, u)| if let Undo::Rolling(r) = u { Some(*r) } else { None })
        .expect("a recorded undo")
}

/// Applies a failing image, checks the cause, undoes, and checks the exact previous spec runs.
async fn fails_and_is_undone(what: &str, image: &str, env_vars: &[&str], monitor_secs: u64, cause: &[&str]) {
    let Some(swarm) = swarm().await else { return };
    let name = unique_name(what);
    let (id, _removed) = create(&swarm, v1_spec(&name, env_vars)).await;
    let before = inspected(&id);
    let (ctx, _) = context(&swarm);

    let started = tokio::time::Instant::now();
    let error = step(&name, image, monitor_secs).apply(&ctx).await.unwrap_err().to_string();
    let failed_after = started.elapsed();
    for part in cause {
        assert!(error.contains(part), "{what}: `{error}` does not contain `{part}`");
    }

    let record = recorded(&ctx);
    let started = tokio::time::Instant::now();
    rolling::undo("release", &record, &ctx.run).await.unwrap();
    let undone_after = started.elapsed();
    eprintln!("{what}: apply failed after {failed_after:.1?} with `{error}`; undo converged after {undone_after:.1?}");

    assert_eq!(inspected(&id), before, "{what}: undo restores the exact previous spec");
    let tasks = swarm.tasks(&id).await.unwrap();
    let v1_running = tasks
        .iter()
        .filter(|t| {
            t.desired_state == Some(bollard::models::TaskState::RUNNING)
                && t.status.as_ref().and_then(|s| s.state) == Some(bollard::models::TaskState::RUNNING)
                && t.spec.as_ref().and_then(|s| s.container_spec.as_ref()).and_then(|c| c.image.as_deref())
                    == Some("planrun-test/app:v1")
        })
        .count();
    assert_eq!(v1_running, 3, "{what}: three v1 tasks run (and so passed their health check)");
    old_tasks_stop(&swarm, &id, what).await;
}

/// Waits (bounded) until the service list counts exactly 3 running: replaced tasks keep
/// running for a few seconds after Swarm told them to stop, and planrun does not wait for that.
async fn old_tasks_stop(swarm: &Swarm, id: &str, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counts = swarm.counts(id).await.unwrap();
        if (counts.running, counts.desired) == (3, 3) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {counts:?} after 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_image_rolls_out_with_the_plans_update_config() {
    let Some(swarm) = swarm().await else { return };
    let name = unique_name("good");
    let (id, _removed) = create(&swarm, v1_spec(&name, &[])).await;
    let (ctx, _) = context(&swarm);
    let before = inspected(&id);
    let started = tokio::time::Instant::now();
    step(&name, "planrun-test/app:v2", 2).apply(&ctx).await.unwrap();
    eprintln!("good: v1 -> v2 converged after {:.1?}", started.elapsed());
    let record = recorded(&ctx);

    let spec = inspected(&id);
    assert_eq!(spec["TaskTemplate"]["ContainerSpec"]["Image"], "planrun-test/app:v2");
    // Everything the plan does not set is kept, the health check included.
    assert_eq!(
        spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"],
        before["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
    );
    assert_eq!(spec["TaskTemplate"]["Networks"], before["TaskTemplate"]["Networks"]);
    assert_eq!(spec["EndpointSpec"], before["EndpointSpec"]);
    assert_eq!(
        spec["UpdateConfig"],
        serde_json::json!({
            "Parallelism": 1, "Delay": 1_000_000_000i64, "FailureAction": "rollback",
            "Monitor": 2_000_000_000i64, "MaxFailureRatio": 0, "Order": "start-first"
        })
    );
    assert_eq!(spec["RollbackConfig"]["Order"], "start-first");
    let tasks = swarm.tasks(&id).await.unwrap();
    let wanted: Vec<_> =
        tasks.iter().filter(|t| t.desired_state == Some(bollard::models::TaskState::RUNNING)).collect();
    assert_eq!(wanted.len(), 3, "exactly three tasks want to run: {wanted:?}");
    assert!(wanted.iter().all(|t| {
        t.status.as_ref().and_then(|s| s.state) == Some(bollard::models::TaskState::RUNNING)
            && t.spec.as_ref().and_then(|s| s.container_spec.as_ref()).and_then(|c| c.image.as_deref())
                == Some("planrun-test/app:v2")
    }));
    old_tasks_stop(&swarm, &id, "good").await;
    assert_eq!(record.previous_image(), "planrun-test/app:v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_exits_is_rolled_back_naming_the_exit_and_undone() {
    fails_and_is_undone(
        "exit",
        "planrun-test/app:exit",
        &[],
        2,
        &["1 task of ", " on planrun-test/app:exit failed after starting: task: non-zero exit (3) ("],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_never_gets_healthy_is_rolled_back_and_undone() {
    fails_and_is_undone(
        "never-healthy",
        "planrun-test/app:never-healthy",
        &[],
        2,
        &["on planrun-test/app:never-healthy failed after starting: container unhealthy: health check exited 1: \
           wget: server returned error: HTTP/1.0 500"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_turns_unhealthy_within_the_monitor_window_is_rolled_back_and_undone() {
    fails_and_is_undone(
        "unhealthy-later",
        "planrun-test/app:unhealthy-later",
        &["UNHEALTHY_AFTER=2"],
        6,
        &["on planrun-test/app:unhealthy-later failed after starting: container unhealthy: health check exited 1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_turns_unhealthy_after_the_monitor_window_still_fails_the_step() {
    // Healthy for 5 s, monitor 2 s: Swarm has moved on (and would call the update completed)
    // when the first new task dies; the step's watch does not.
    fails_and_is_undone(
        "unhealthy-after-monitor",
        "planrun-test/app:unhealthy-later",
        &["UNHEALTHY_AFTER=5"],
        2,
        &["on planrun-test/app:unhealthy-later failed after starting: container unhealthy: health check exited 1"],
    )
    .await;
}

#[tokio::test]
async fn a_refused_tcp_connection_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host = format!("tcp://127.0.0.1:{port}");
    let error = match Swarm::connect_to(&host, None).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        error,
        format!(
            "Docker is unavailable: no Docker daemon answers at {host}: connection refused at {host} (start dockerd, or set DOCKER_HOST)"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_created_listed_by_label_logged_and_removed() {
    let Some(swarm) = swarm().await else { return };
    let name = unique_name("ops");
    let mut spec = v1_spec(&name, &[]);
    let label = format!("planrun-t-ops={name}");
    spec.labels.get_or_insert_with(HashMap::new).insert("planrun-t-ops".into(), name.clone());
    let id = engine::services::create(&swarm, spec).await.unwrap();
    let _removed = Removed(name.clone());

    let found = swarm.services(&label).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.as_deref(), Some(id.as_str()));
    let spec = found[0].spec.as_ref().unwrap();
    assert!(
        spec.task_template.as_ref().unwrap().container_spec.as_ref().unwrap().health_check.is_some(),
        "listed specs keep their health check (read as raw JSON, like inspect)"
    );
    assert!(swarm.services(&format!("planrun-t-ops={name}-not")).await.unwrap().is_empty());

    // The test app writes one line on start: its logs carry it once a task runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let logs = engine::services::logs(&swarm, &id, 50).await.unwrap();
        if logs.contains("listening on :8080") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no start line in the logs: {logs:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    engine::services::remove(&swarm, &id).await.unwrap();
    assert!(swarm.services(&label).await.unwrap().is_empty());
    engine::services::remove(&swarm, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_off_job_runs_on_the_swarm_and_returns_its_output() {
    let Some(swarm) = swarm().await else { return };
    let cluster: Arc<dyn Cluster> = Arc::new(swarm.clone());
    let here = cluster.node_taking_tasks_here().await;
    assert!(here.is_some(), "this single-node swarm's node takes tasks");
    let job = |name: &str, script: &str| Job {
        name: unique_name(name),
        image: "planrun-test/app:v1".into(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: vec!["GREETING=hello from a job".into()],
        networks: vec!["planrun-test".into()],
        labels: HashMap::from([("planrun-test".to_string(), "1".to_string())]),
        configs: Vec::new(),
        secrets: Vec::new(),
        output_to: None,
        deadline: Duration::from_secs(60),
        node: here.clone(),
    };
    let ok = job("job-ok", "echo \"$GREETING\";exit 0");
    let output = job::run(cluster.clone(), &ok).await.unwrap();
    assert!(output.logs.contains("hello from a job"), "{output:?}");

    let bad = job("job-bad", "echo migrating; echo 'ERROR: relation missing' >&2; exit 4");
    let error = job::run(cluster.clone(), &bad).await.unwrap_err().to_string();
    assert!(error.contains("task: non-zero exit (4)"), "{error}");
    assert!(error.contains("ERROR: relation missing"), "{error}");

    tokio::time::sleep(Duration::from_secs(1)).await;
    for j in [&ok, &bad] {
        assert!(swarm.service(&j.name).await.is_err(), "job {} is removed", j.name);
        // Placed here, its exited container (and the output in its log) is removed too.
        let filter = format!("label=com.docker.swarm.service.name={}", j.name);
        let left = docker_cli().args(["ps", "-aq", "--filter", &filter]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "", "the container of job {} is left", j.name);
    }
}

#[tokio::test]
async fn a_jobs_output_is_read_within_its_bounds() {
    let Some(swarm) = swarm().await else { return };
    let cluster: Arc<dyn Cluster> = Arc::new(swarm.clone());
    let here = cluster.node_taking_tasks_here().await;
    let out = tempfile::NamedTempFile::new().unwrap();
    let job = |name: &str, script: String, output_to: Option<std::path::PathBuf>| Job {
        name: unique_name(name),
        image: "planrun-test/app:v1".into(),
        command: vec!["sh".into(), "-c".into(), script],
        env: Vec::new(),
        networks: vec!["planrun-test".into()],
        labels: HashMap::from([("planrun-test".to_string(), "1".to_string())]),
        configs: Vec::new(),
        secrets: Vec::new(),
        output_to,
        deadline: Duration::from_secs(120),
        node: here.clone(),
    };
    // One line of 3 MiB, then a short one: the last lines keep only their last MiB.
    let long = job("job-long-line", "head -c 3145728 /dev/zero | tr '\\000' x; echo; echo the end".into(), None);
    let output = job::run(cluster.clone(), &long).await.unwrap();
    assert!(output.logs.ends_with("the end\n"), "{}", &output.logs[output.logs.len().saturating_sub(80)..]);
    assert!(output.logs.len() <= engine::cluster::swarm::LOGS_KEPT, "{} bytes kept", output.logs.len());
    // The whole output into a file: more than 64 MiB is refused, not written on.
    let flood =
        format!("head -c {} /dev/zero | tr '\\000' x | fold -w 4096", engine::cluster::swarm::MAX_CAPTURED + (1 << 20));
    let flood = job("job-flood", flood, Some(out.path().to_owned()));
    let error = job::run(cluster.clone(), &flood).await.unwrap_err().to_string();
    assert!(error.contains("printed more than 64 MiB, more than planrun reads of a job's output"), "{error}");
    let written = std::fs::metadata(out.path()).unwrap().len();
    assert!(written <= engine::cluster::swarm::MAX_CAPTURED as u64, "{written} bytes written");
    // Removed before the error came back, not by a removal spawned for later.
    assert!(swarm.service(&flood.name).await.is_err(), "the refused job {} is left", flood.name);
}

#[tokio::test]
async fn a_missing_daemon_is_named_with_what_to_do() {
    let error = match Swarm::connect_to("unix:///nonexistent/planrun-test.sock", None).await {
        Ok(_) => panic!("connected to a socket that does not exist"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("no Docker daemon answers at unix:///nonexistent/planrun-test.sock: "), "{error}");
    assert!(error.ends_with("(start dockerd, or set DOCKER_HOST)"), "{error}");
}

/// An exec whose stdout is kept in memory (psql's answers) and that prints more than planrun
/// keeps is an error naming the limit, not a process that grows without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_printing_more_than_planrun_keeps_is_an_error_naming_the_limit() {
    use engine::cluster::{Exec, ExecInput, ExecOutput};
    let Some(swarm) = swarm().await else { return };
    let (id, _removed) = create(&swarm, v1_spec(&unique_name("exec-flood"), &[])).await;
    let container = swarm.local_container(&id).await.unwrap().expect("a task runs on this node");
    let exec = |bytes: usize| Exec {
        container: container.clone(),
        argv: vec!["sh".into(), "-c".into(), format!("head -c {bytes} /dev/zero; echo; echo the end >&2")],
        env: Vec::new(),
        user: None,
        stdin: ExecInput::Nothing,
        stdout: ExecOutput::Capture,
    };
    let within = swarm.exec(exec(1 << 20)).await.unwrap();
    assert_eq!((within.exit_code, within.stdout.len()), (0, (1 << 20) + 1));
    assert!(String::from_utf8_lossy(&within.stderr).contains("the end"));
    let error = swarm.exec(exec(engine::cluster::swarm::MAX_CAPTURED + 1)).await.unwrap_err().to_string();
    assert!(error.contains("`sh` printed more than 64 MiB, more than planrun keeps in memory"), "{error}");
}
