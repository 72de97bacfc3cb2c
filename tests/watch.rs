//! The watch after a release (issue 22) on the real local swarm: a release that passes its gate
//! and turns bad later is undone by the watch service inside the swarm, after the `planrun
//! apply` that released it has exited; `planrun rollback` of the watched run and `planrun watch
//! STACK --stop` end a watch.
//!
//! The app (`planrun-test/app:unhealthy-later`, `UNHEALTHY_AFTER` seconds from its start)
//! answers 200 on `/health`, then 500: a release that turns bad 30 s after it started (30 s
//! keeps CI short, and the gate passes several rounds first). The 2 minutes after
//! success, by hand: `PLANRUN_WATCH_BAD_AFTER=125 cargo test -p planrun-tests --test watch --
//! a_release_that_turns_bad --nocapture` (docs/reliability.md).
//! One replica behind the test router, published on a host port of 127.0.0.1, which the
//! watch, on the `host` network, reaches as this test does. Every service, config and lock made is removed at
//! the end, pass or fail.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use support::{LockGuard, NETWORK, Router, Service, Workdir, docker, unique};

const V1: &str = "planrun-test/app:v1";
const TURNS_BAD: &str = "planrun-test/app:unhealthy-later";
/// Seconds from the new task's start to its first 500 (`PLANRUN_WATCH_BAD_AFTER`, default 30).
fn bad_after() -> u64 {
    std::env::var("PLANRUN_WATCH_BAD_AFTER").ok().and_then(|v| v.parse().ok()).unwrap_or(30)
}

/// The status of `GET /health` on 127.0.0.1:`port`, if it answered (bounded to 2 s).
fn health(port: u16) -> Option<u16> {
    support::local_status(port, "/health")
}

/// One replica of v1 (dnsrr on the test network), without a health check: the app's `/health`
/// is what the gates judge, and Swarm restarting the task would hide the regression.
fn app() -> Service {
    let name = unique("watched");
    #[rustfmt::skip]
    docker(&[
        "service", "create", "--quiet", "--detach=false", "--no-resolve-image", "--name", &name,
        "--label", "planrun-test=1", "--replicas", "1", "--network", NETWORK, "--endpoint-mode", "dnsrr",
        "--env", &format!("UNHEALTHY_AFTER={}", bad_after()), V1,
    ]);
    Service { name }
}

fn plan(stack: &str, service: &str, port: u16, window: &str) -> String {
    format!(
        "plan watched {{\n    stack {stack}\n    gate health {{\n        http \"http://127.0.0.1:{port}/health\"\n        \
         interval \"1s\"\n        count 3\n    }}\n    rolling release {{\n        service {service}\n        \
         image \"{TURNS_BAD}\"\n        order start-first\n        monitor \"1s\"\n        gates health\n    }}\n    \
         watch \"{window}\" {{\n        gates health\n        on-regression rollback\n    }}\n}}\n"
    )
}

/// Whether the watch service of `stack` exists.
fn watch_service(stack: &str) -> bool {
    let names = docker(&["service", "ls", "--format", "{{.Name}}", "--filter", &format!("name=planrun-watch-{stack}")]);
    names.lines().any(|n| n == format!("planrun-watch-{stack}"))
}

/// Removes the watch service and its verdict on drop (the test failed before they went).
struct WatchGuard(String);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let name = format!("planrun-watch-{}", self.0);
        let _ = std::process::Command::new("docker").args(["service", "rm", &name]).output();
        let _ = std::process::Command::new("docker").args(["config", "rm", &name]).output();
    }
}

/// The run-state entries of `run` of `stack`, as JSON, in order.
fn entries(stack: &str, run: &str) -> Vec<serde_json::Value> {
    let filter = format!("label=planrun.state.run-id={run}");
    let ids =
        docker(&["config", "ls", "-q", "--filter", &filter, "--filter", &format!("label=planrun.state.stack={stack}")]);
    let mut found: Vec<(u64, serde_json::Value)> = Vec::new();
    for id in ids.split_whitespace() {
        let seq = docker(&["config", "inspect", "--format", "{{index .Spec.Labels \"planrun.state.seq\"}}", id]);
        let data = docker(&["config", "inspect", "--format", "{{printf \"%s\" .Spec.Data}}", id]);
        if let Ok(value) = serde_json::from_str(&data) {
            found.push((seq.parse().unwrap_or(0), value));
        }
    }
    found.sort_by_key(|(seq, _)| *seq);
    found.into_iter().map(|(_, v)| v).collect()
}

fn run_id(run: &support::Run) -> String {
    run.events_of("run-started")
        .first()
        .and_then(|e| e["run_id"].as_str().or(e["run-id"].as_str()))
        .unwrap_or_default()
        .to_owned()
}

fn seconds(rfc3339: &str) -> f64 {
    // `2026-12-07T06:20:01.123Z`: whole seconds from the clock's date, plus the fraction.
    let out = std::process::Command::new("date").args(["-u", "-d", rfc3339, "+%s.%N"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_release_that_turns_bad_after_success_is_rolled_back_by_the_watch_inside_the_swarm() {
    let service = app();
    let (_router, port) = Router::on_host_port("wr", &service.name, "/health");
    let before = service.spec();
    let work = Workdir::new("watch");
    let stack = unique("w");
    let _lock = LockGuard(stack.clone());
    let _watch = WatchGuard(stack.clone());
    let path = work.plan(&plan(&stack, &service.name, port, "5m"));

    // This test's own look at the app: when it first answered 500.
    let stop = Arc::new(AtomicBool::new(false));
    let first_bad: Arc<Mutex<Option<f64>>> = Arc::default();
    let prober = {
        let (stop, first_bad) = (stop.clone(), first_bad.clone());
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(bad_after() + 120);
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                if health(port) == Some(500) {
                    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
                    first_bad.lock().unwrap().get_or_insert(now);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let released = Instant::now();
    let run = work.apply(&path, &[]);
    assert_eq!(run.code, 0, "the release passes its gate first: {}", run.stderr);
    assert_eq!(run.outcome(), "succeeded");
    assert!(run.stderr.contains(&format!("planrun-watch-{stack}")), "apply names the watch: {}", run.stderr);
    assert_eq!(service.image(), TURNS_BAD);
    assert!(first_bad.lock().unwrap().is_none(), "the release was good when apply ended");
    let id = run_id(&run);
    assert!(!id.is_empty(), "a run id in {:?}", run.events_of("run-started"));
    // `planrun apply` has exited: what follows is the swarm's alone.

    // The watch judges the gate and passes it before the release turns bad.
    let mut passed_once = false;
    let mut rolled_back = false;
    let deadline = released + Duration::from_secs(bad_after() + 80);
    while Instant::now() < deadline {
        let status = support::run(&["status", &stack, "--format", "json"]);
        let status: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap_or_default();
        if status["watch"]["last"]["verdict"] == "passed" {
            passed_once = true;
        }
        if service.image() == V1 && !watch_service(&stack) {
            rolled_back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::SeqCst);
    prober.join().unwrap();
    assert!(passed_once, "`planrun status` showed the watch's gate passing before the regression");
    assert!(rolled_back, "the watch rolled the service back to v1 and removed itself within {} s", bad_after() + 80);

    let after = service.spec();
    let image = |spec: &serde_json::Value| spec["TaskTemplate"]["ContainerSpec"]["Image"].clone();
    assert_eq!(image(&after), image(&before), "the previous image");
    assert_eq!(after["TaskTemplate"]["ContainerSpec"]["Env"], before["TaskTemplate"]["ContainerSpec"]["Env"]);

    let entries = entries(&stack, &id);
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["entry"].as_str()).collect();
    assert!(kinds.contains(&"watching"), "{kinds:?}");
    let finished = entries.iter().rev().find(|e| e["entry"] == "finished").expect("the rollback's end is recorded");
    assert_eq!(finished["outcome"], "rolled-back", "{finished}");
    let watched = entries.iter().find(|e| e["entry"] == "watched").expect("the watch's end is recorded");
    assert_eq!(watched["end"], "rolled-back", "{watched}");
    let regression_at = seconds(watched["regression_at"].as_str().expect("when the regression was seen"));
    let first_bad = first_bad.lock().unwrap().expect("this test saw the 500 too");
    let apply_took = run.events_of("run-finished").first().and_then(|e| e["elapsed_ms"].as_u64()).unwrap_or(0);
    eprintln!("watch: apply succeeded and exited {:.1} s after it started", apply_took as f64 / 1000.0);
    eprintln!(
        "watch: first 500 seen by the test at +{:.1} s after apply started; the watch's failing verdict (its rollback \
         starts) {:.1} s after that first 500",
        first_bad
            - (SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
                - released.elapsed().as_secs_f64()),
        regression_at - first_bad
    );
    assert!(!watch_service(&stack), "the watch service is gone");
    let history = support::run(&["history", &stack]);
    assert!(history.stdout.contains("    watch: rolled-back at "), "{}", history.stdout);
}

#[test]
fn a_rollback_or_planrun_watch_stop_ends_a_running_watch_and_stop_says_so_when_there_is_none() {
    let service = app();
    let (_router, port) = Router::on_host_port("wr", &service.name, "/health");
    let work = Workdir::new("watch-stop");
    let stack = unique("ws");
    let _lock = LockGuard(stack.clone());
    let _watch = WatchGuard(stack.clone());
    let path = work.plan(&plan(&stack, &service.name, port, "10m"));
    let state = work.dir.join("state");

    // A rollback of the watched run ends its watch.
    let run = work.apply(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(watch_service(&stack));
    let undone = support::run(&["rollback", &stack, "--state-dir", state.to_str().unwrap()]);
    assert_eq!(undone.code, 0, "{}", undone.stderr);
    assert!(undone.stderr.contains("stopped the watch of run"), "{}", undone.stderr);
    assert!(!watch_service(&stack), "the watch of an undone run is gone");
    assert_eq!(service.image(), V1);

    let run = work.apply(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(watch_service(&stack));

    // An apply the lock refuses changes nothing: the watch runs on.
    support::hold_lock_as_another_run(&stack);
    let refused = work.apply(&path, &[]);
    let _ = std::process::Command::new("docker").args(["config", "rm", &format!("planrun-lock-{stack}")]).output();
    assert_ne!(refused.code, 0, "the lock refuses it: {}", refused.stderr);
    assert!(!refused.stderr.contains("stopped the watch"), "{}", refused.stderr);
    assert!(watch_service(&stack), "a refused apply leaves the watch running");

    let status = support::run(&["status", &stack]);
    assert!(status.stdout.contains("watch: run "), "status shows the watch:\n{}", status.stdout);
    assert!(status.stdout.contains("gates health, on regression rollback"), "{}", status.stdout);

    let stopped = support::run(&["watch", &stack, "--stop"]);
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
    assert!(stopped.stderr.contains(&format!("stopped the watch of `{stack}`")), "{}", stopped.stderr);
    assert!(!watch_service(&stack), "the watch service is removed");
    assert_eq!(service.image(), TURNS_BAD, "stopping a watch changes nothing else");

    let again = support::run(&["watch", &stack, "--stop"]);
    assert_eq!(again.code, 0, "nothing to stop is not an error: {}", again.stderr);
    assert!(again.stderr.contains("no watch runs on"), "{}", again.stderr);
    let status = support::run(&["status", &stack]);
    assert!(!status.stdout.contains("watch: run "), "{}", status.stdout);
}
