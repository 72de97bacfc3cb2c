//! Rolling steps against the real swarm of this machine (tests/env/swarm-up): a good update,
//! and images that exit, never get healthy, or turn unhealthy, each failing with its cause and
//! undone to the exact previous spec.
//!
//! Needs dockerd as a swarm manager and the `planrun-test/app:*` images. Set
//! `PLANRUN_SKIP_SWARM=1` to skip (with a notice); otherwise a missing daemon fails the tests.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecRestartPolicy,
};
use engine::cluster::Cluster;
use engine::cluster::swarm::Swarm;
use engine::convergence::{self, Baseline, Settings, Target};
use engine::events::{Event, Events, Memory};
use engine::steps::StepEnv;
use engine::steps::rolling::{self, UndoRecord};
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
    }
}

fn step_env(swarm: &Swarm) -> StepEnv {
    let plan = serde_json::from_value(serde_json::json!({
        "name": "swarm-test", "stack": "planrun-t", "on-failure": "rollback", "log": null,
        "variables": [], "gates": [], "steps": []
    }))
    .expect("a minimal plan");
    StepEnv {
        cluster: Arc::new(swarm.clone()),
        events: Events::new(vec![Box::new(Arc::new(Memory::default()))]),
        plan: Arc::new(plan),
    }
}

/// Creates the service and waits until its three tasks run healthy.
async fn create(swarm: &Swarm, spec: ServiceSpec) -> (String, Removed) {
    let name = spec.name.clone().unwrap();
    let created = swarm.docker().create_service(spec.clone(), None).await.expect("create the test service");
    let guard = Removed(name);
    let id = created.id.unwrap();
    let target = Target::of(&id, &spec).unwrap();
    let env = step_env(swarm);
    convergence::follow(
        swarm,
        &env.events,
        "create",
        &target,
        &Baseline::default(),
        Settings::new(Duration::from_secs(60)),
    )
    .await
    .expect("the v1 service starts");
    (id, guard)
}

/// The spec exactly as `docker service inspect` shows it (not read through planrun).
fn inspected(id: &str) -> serde_json::Value {
    let out = docker_cli().args(["service", "inspect", "--format", "{{json .Spec}}", id]).output().unwrap();
    assert!(out.status.success(), "docker service inspect {id}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn step_env_with_memory(swarm: &Swarm) -> (StepEnv, Arc<Memory>) {
    let memory = Arc::new(Memory::default());
    let mut env = step_env(swarm);
    env.events = Events::new(vec![Box::new(memory.clone())]);
    (env, memory)
}

/// The undo record the step emitted before changing anything.
fn recorded(memory: &Memory) -> serde_json::Value {
    memory
        .0
        .lock()
        .unwrap()
        .iter()
        .find_map(|r| match &r.event {
            Event::StepRecorded { undo, .. } => Some(undo.clone()),
            _ => None,
        })
        .expect("a StepRecorded event")
}

/// Applies a failing image, checks the cause, undoes, and checks the exact previous spec runs.
async fn fails_and_is_undone(what: &str, image: &str, env_vars: &[&str], monitor_secs: u64, cause: &[&str]) {
    let Some(swarm) = swarm().await else { return };
    let name = unique_name(what);
    let (id, _removed) = create(&swarm, v1_spec(&name, env_vars)).await;
    let before = inspected(&id);
    let (env, memory) = step_env_with_memory(&swarm);

    let started = tokio::time::Instant::now();
    let error = rolling::apply("release", &step(&name, image, monitor_secs), &env).await.unwrap_err();
    let failed_after = started.elapsed();
    for part in cause {
        assert!(error.0.contains(part), "{what}: `{error}` does not contain `{part}`");
    }

    let record = recorded(&memory);
    let started = tokio::time::Instant::now();
    rolling::undo("release", &record, &env).await.unwrap();
    let undone_after = started.elapsed();
    eprintln!("{what}: apply failed after {failed_after:.1?} with `{error}`; undo converged after {undone_after:.1?}");

    assert_eq!(inspected(&id), before, "{what}: undo restores the exact previous spec");
    let counts = swarm.counts(&id).await.unwrap();
    assert_eq!((counts.running, counts.desired), (3, 3), "{what}: all tasks run again");
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_image_rolls_out_with_the_plans_update_config() {
    let Some(swarm) = swarm().await else { return };
    let name = unique_name("good");
    let (id, _removed) = create(&swarm, v1_spec(&name, &[])).await;
    let env = step_env(&swarm);
    let before = inspected(&id);
    let started = tokio::time::Instant::now();
    let record = rolling::apply("release", &step(&name, "planrun-test/app:v2", 2), &env).await.unwrap();
    eprintln!("good: v1 -> v2 converged after {:.1?}", started.elapsed());

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
    let counts = swarm.counts(&id).await.unwrap();
    assert_eq!((counts.running, counts.desired), (3, 3));
    let record: UndoRecord = serde_json::from_value(record).unwrap();
    assert_eq!(
        record.previous_spec.task_template.unwrap().container_spec.unwrap().image.unwrap(),
        "planrun-test/app:v1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_exits_is_rolled_back_naming_the_exit_and_undone() {
    fails_and_is_undone(
        "exit",
        "planrun-test/app:exit",
        &[],
        2,
        &["Swarm rolled the update back", "task errors: task: non-zero exit (3)"],
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
        &[
            "Swarm rolled the update back",
            "task errors: container unhealthy: health check exited 1: wget: server returned error: HTTP/1.0 500",
        ],
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
        &["Swarm rolled the update back", "task errors: container unhealthy: health check exited 1"],
    )
    .await;
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
