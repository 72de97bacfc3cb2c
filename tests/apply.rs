//! `planrun apply`, `rollback` and `unlock` against the real local swarm (tests/env/swarm-up).
//! Every service and lock is named uniquely and removed at the end, pass or fail.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{LockGuard, Service, Workdir, active_nodes, lock_exists, rolling_plan, run, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

#[test]
fn rolling_update_reaches_the_new_image_with_the_plans_update_config() {
    let web = Service::create(&unique("web"), V1, 3);
    let work = Workdir::new("roll");
    let plan = work.plan(&rolling_plan(
        &unique("stack"),
        &[("web", &web.name, V2, "")],
        false,
        "    log \"DEPLOYMENT_LOG.md\"\n",
    ));

    let run = work.apply(&plan, &[]);

    assert_eq!(run.code, 0, "apply failed: {}", run.stderr);
    assert_eq!(run.outcome(), "succeeded");
    let log = std::fs::read_to_string(work.dir.join("DEPLOYMENT_LOG.md")).expect("the plan's deployment log");
    assert_eq!(log.lines().count(), 1);
    assert!(log.contains(": succeeded in "), "{log}");
    assert_eq!(web.image(), V2);
    let update = &web.spec()["UpdateConfig"];
    assert_eq!(update["Parallelism"], 1);
    assert_eq!(update["Delay"], 1_000_000_000u64);
    assert_eq!(update["Order"], "start-first");
    assert_eq!(update["FailureAction"], "rollback");
    assert_eq!(update["Monitor"], 3_000_000_000u64);
    web.assert_converged(V2, 3);
    assert!(run.stderr.contains("Summary: run"), "no summary: {}", run.stderr);
    assert!(run.stderr.contains(&format!("changed: {}: {V1} -> {V2}\n", web.name)), "{}", run.stderr);

    // Again with only the update config changed: the summary says the image stayed.
    let slower = work.plan(&std::fs::read_to_string(&plan).unwrap().replace("delay \"1s\"", "delay \"2s\""));
    let again = work.apply(&slower, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(web.spec()["UpdateConfig"]["Delay"], 2_000_000_000u64);
    assert!(
        again.stderr.contains(&format!("changed: {}: {V2} (image unchanged, spec updated)\n", web.name)),
        "{}",
        again.stderr
    );
}

/// A release that never works, or stops working, ends with the service on its exact previous
/// spec, exit 1, and never a "succeeded" anywhere. `env` goes to the service (`UNHEALTHY_AFTER`),
/// `settings` into the rolling step.
fn bad_release_is_rolled_back(image: &str, env: &[&str], settings: &str, cause: &str) {
    let web = Service::create_with(&unique("web"), V1, 3, env);
    assert_bad_release_rolled_back(&web, 3, image, settings, cause);
}

/// A rolling step of `web` (running `tasks` tasks of v1) to `image` fails naming `cause`, and
/// undo puts the exact previous spec back.
fn assert_bad_release_rolled_back(web: &Service, tasks: usize, image: &str, settings: &str, cause: &str) {
    let before = web.spec();
    let work = Workdir::new("bad");
    let gate = format!("    gate once {{ swarm {} }}\n", web.name);
    let text = rolling_plan(&unique("stack"), &[("web", &web.name, image, "        gates once\n")], false, &gate)
        .replace("        monitor \"3s\"\n", settings);
    let plan = work.plan(&text);

    let run = work.apply(&plan, &[]);

    assert_eq!(run.code, 1, "apply of {image} should fail: {}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    let finished = run.events_of("step-finished");
    assert!(finished.iter().all(|e| e["outcome"] != "succeeded"), "the step never succeeded: {finished:?}");
    assert!(run.stderr.contains("cause: step `web` failed: "), "{}", run.stderr);
    assert!(run.stderr.contains(cause), "summary does not name the cause `{cause}`:\n{}", run.stderr);
    let undone = run.events_of("step-undone");
    assert_eq!(undone.len(), 1, "the failed step is undone");
    assert_eq!(undone[0]["outcome"], "succeeded");
    assert_eq!(web.spec(), before, "the service is back on its exact previous spec");
    web.assert_converged(V1, tasks);
}

/// A global service (one task per node) rolled from v1 to v2: every node ends with one task, on
/// v2, and the swarm gate judges it per node.
#[test]
fn rolling_update_of_a_global_service_reaches_every_node() {
    let agent = Service::create_global(&unique("agent"), V1, &[]);
    let nodes = active_nodes();
    assert!(!nodes.is_empty(), "the test swarm has an active node");
    let work = Workdir::new("global");
    let gate = format!("    gate once {{ swarm {} }}\n", agent.name);
    let plan =
        work.plan(&rolling_plan(&unique("stack"), &[("agent", &agent.name, V2, "        gates once\n")], false, &gate));

    let run = work.apply(&plan, &[]);

    assert_eq!(run.code, 0, "apply failed: {}", run.stderr);
    assert_eq!(run.outcome(), "succeeded");
    assert_eq!(agent.image(), V2);
    assert_eq!(agent.spec()["Mode"], serde_json::json!({ "Global": {} }), "still global");
    let passed = run.events_of("measurement").iter().filter(|m| m["verdict"] == "pass").count();
    assert_eq!(passed, 1, "the swarm gate passed");
    agent.assert_converged(V2, nodes.len());
    let every_node: Vec<(String, String)> = nodes.iter().map(|n| (n.clone(), V2.to_owned())).collect();
    assert_eq!(agent.tasks_by_node(), every_node, "one v2 task on every node");
}

/// A global service whose new image never passes its health check: the step fails, planrun
/// exits 1 and the service ends on its exact previous spec, v1 on every node.
#[test]
fn global_service_whose_new_image_never_turns_healthy_is_rolled_back() {
    let agent = Service::create_global(&unique("agent"), V1, &[]);
    let nodes = active_nodes().len();
    let cause = format!("on planrun-test/app:never-healthy failed after starting: {UNHEALTHY}");
    assert_bad_release_rolled_back(&agent, nodes, "planrun-test/app:never-healthy", "        monitor \"3s\"\n", &cause);
}

/// What a task killed by the test images' failing health check says.
const UNHEALTHY: &str = "container unhealthy: health check exited 1: wget: server returned error: HTTP/1.0 500";

#[test]
fn image_that_exits_at_once_is_rolled_back() {
    let cause = "on planrun-test/app:exit failed after starting: task: non-zero exit (3)";
    bad_release_is_rolled_back("planrun-test/app:exit", &[], "        monitor \"3s\"\n", cause);
}

#[test]
fn image_that_never_turns_healthy_is_rolled_back() {
    let cause = format!("on planrun-test/app:never-healthy failed after starting: {UNHEALTHY}");
    bad_release_is_rolled_back("planrun-test/app:never-healthy", &[], "        monitor \"3s\"\n", &cause);
}

#[test]
fn image_that_turns_unhealthy_within_the_monitor_window_is_rolled_back() {
    // unhealthy-later answers its health check for 8 s, then fails it: inside a 15 s monitor.
    let cause = format!("on planrun-test/app:unhealthy-later failed after starting: {UNHEALTHY}");
    bad_release_is_rolled_back("planrun-test/app:unhealthy-later", &[], "        monitor \"15s\"\n", &cause);
}

#[test]
fn image_that_turns_unhealthy_after_a_shorter_monitor_window_is_rolled_back() {
    // Healthy for 6 s against a 2 s monitor: Swarm moves on to the next task (and would end the
    // update `completed`) before the first new task dies; planrun does not.
    let cause = format!("on planrun-test/app:unhealthy-later failed after starting: {UNHEALTHY}");
    let env = ["--env", "UNHEALTHY_AFTER=6"];
    bad_release_is_rolled_back("planrun-test/app:unhealthy-later", &env, "        monitor \"2s\"\n", &cause);
}

#[test]
fn image_that_turns_unhealthy_while_the_gates_run_is_rolled_back() {
    // All tasks at once, a 2 s monitor: the update converges in a few seconds and the one-sample
    // swarm gate passes; the tasks die 6 s after starting, while a windowed gate still measures.
    let cause = format!("on planrun-test/app:unhealthy-later failed after starting: {UNHEALTHY}");
    let env = ["--env", "UNHEALTHY_AFTER=6"];
    let settings = "        monitor \"2s\"\n        gates window\n";
    let web = Service::create_with(&unique("web"), V1, 3, &env);
    let before = web.spec();
    let work = Workdir::new("late");
    let gate =
        format!("    gate window {{\n        swarm {}\n        interval \"2s\"\n        count 8\n    }}\n", web.name);
    let text =
        rolling_plan(&unique("stack"), &[("web", &web.name, "planrun-test/app:unhealthy-later", "")], false, &gate)
            .replace("        monitor \"3s\"\n", settings)
            .replace("parallelism 1", "parallelism 3");
    let run = work.apply(&work.plan(&text), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    assert!(run.stderr.contains(&cause), "{}", run.stderr);
    let passed = run.events_of("measurement").iter().filter(|m| m["verdict"] == "pass").count();
    assert!(passed >= 1, "the gate passed at first: the watch, not the gate's verdict, caught it");
    assert_eq!(web.spec(), before);
    web.assert_converged(V1, 3);
}

/// A loopback HTTP server answering every request with `status`, until dropped.
struct Loopback {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Loopback {
    fn serve(status: u16, body: &'static str) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 2048];
                        let _ = conn.read(&mut buf);
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = conn.write_all(reply.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Loopback { port, stop }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[test]
fn failing_http_gate_rolls_back_that_step_and_every_earlier_step() {
    let api = Service::create(&unique("api"), V1, 2);
    let web = Service::create(&unique("web"), V1, 2);
    let (api_before, web_before) = (api.spec(), web.spec());
    let server = Loopback::serve(500, "broken");
    let gate = format!(
        "    gate broken {{\n        http \"http://127.0.0.1:{}/health\" status=200 timeout=\"2s\"\n        interval \"1s\"\n        count 2\n    }}\n",
        server.port
    );
    let work = Workdir::new("httpgate");
    let plan = work.plan(&rolling_plan(
        &unique("stack"),
        &[("api", &api.name, V2, ""), ("web", &web.name, V2, "        gates broken\n")],
        true,
        &gate,
    ));

    let run = work.apply(&plan, &[]);

    assert_eq!(run.code, 1);
    assert_eq!(run.outcome(), "rolled-back");
    assert!(run.stderr.contains("gate `broken` failed"), "{}", run.stderr);
    let measured = run.events_of("measurement");
    assert!(measured.iter().any(|m| m["value"] == "500"), "measurements show the status: {measured:?}");
    let undone: Vec<&str> = run.events_of("step-undone").iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(undone, ["web", "api"], "the gated step first, then the earlier one");
    assert_eq!(api.spec(), api_before);
    assert_eq!(web.spec(), web_before);
    api.assert_converged(V1, 2);
    web.assert_converged(V1, 2);
}

/// Serves `/metrics` with one gauge on a loopback port and registers it with the test
/// Prometheus (tests/env/prometheus-up) through file discovery; unregisters on drop.
struct MetricsTarget {
    _server: Loopback,
    file: std::path::PathBuf,
}

impl MetricsTarget {
    fn serve(body: &'static str) -> MetricsTarget {
        let server = Loopback::serve(200, body);
        let dir = std::path::Path::new("/tmp/planrun-prometheus/targets");
        assert!(dir.is_dir(), "the test Prometheus is not running: run tests/env/prometheus-up");
        let file = dir.join(format!("{}.json", unique("target")));
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, format!(r#"[{{"targets":["127.0.0.1:{}"]}}]"#, server.port)).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        MetricsTarget { _server: server, file }
    }
}

impl Drop for MetricsTarget {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Polls the test Prometheus (bounded) until `query` returns a sample.
fn wait_for_sample(query: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = std::process::Command::new("curl")
            .args([
                "-sf",
                "--get",
                "--data-urlencode",
                &format!("query={query}"),
                "http://127.0.0.1:19090/api/v1/query",
            ])
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("\"value\"") {
            return;
        }
        assert!(Instant::now() < deadline, "Prometheus never scraped the test target: {text}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn failing_prometheus_gate_rolls_back_that_step_and_every_earlier_step() {
    let label = unique("m").replace('-', "_");
    let body: &'static str = Box::leak(format!("planrun_e2e_error_ratio{{run=\"{label}\"}} 0.25\n").into_boxed_str());
    let _target = MetricsTarget::serve(body);
    let query = format!("max(planrun_e2e_error_ratio{{run=\"{label}\"}})");
    wait_for_sample(&query);

    let api = Service::create(&unique("api"), V1, 2);
    let web = Service::create(&unique("web"), V1, 2);
    let (api_before, web_before) = (api.spec(), web.spec());
    let gate = format!(
        "    gate error-rate {{\n        prometheus \"http://127.0.0.1:19090\" {{\n            query #\"{query}\"#\n            \
         pass \"result < 0.01\"\n        }}\n        interval \"1s\"\n        count 3\n    }}\n"
    );
    let work = Workdir::new("promgate");
    let plan = work.plan(&rolling_plan(
        &unique("stack"),
        &[("api", &api.name, V2, ""), ("web", &web.name, V2, "        gates error-rate\n")],
        true,
        &gate,
    ));

    let run = work.apply(&plan, &[]);

    assert_eq!(run.code, 1);
    assert_eq!(run.outcome(), "rolled-back");
    assert!(run.stderr.contains("gate `error-rate` failed"), "{}", run.stderr);
    let measured = run.events_of("measurement");
    assert!(
        measured.iter().any(|m| m["value"] == "0.25" && m["target"].as_str().unwrap().contains(&label)),
        "{measured:?}"
    );
    let undone: Vec<&str> = run.events_of("step-undone").iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(undone, ["web", "api"]);
    assert_eq!(api.spec(), api_before);
    assert_eq!(web.spec(), web_before);
}

/// A Prometheus of this test's own (tests/env/prometheus-up in a directory of its own, on free
/// ports), so stopping it disturbs no other test. Killed and removed on drop.
struct OwnPrometheus {
    dir: std::path::PathBuf,
    port: u16,
}

impl OwnPrometheus {
    fn start() -> OwnPrometheus {
        let free = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, target) = (free(), free());
        let dir = std::env::temp_dir().join(unique("planrun-prom-own"));
        let script = support::repo().join("tests/env/prometheus-up");
        let status = std::process::Command::new(&script)
            .arg(&dir)
            .env("PLANRUN_PROM_PORT", port.to_string())
            .env("PLANRUN_PROM_TARGET_PORT", target.to_string())
            .status()
            .expect("run tests/env/prometheus-up");
        assert!(status.success(), "tests/env/prometheus-up {} failed", dir.display());
        OwnPrometheus { dir, port }
    }

    /// SIGKILL: a server that vanishes, not one that says goodbye.
    fn kill(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("prometheus.pid")) {
            let _ = std::process::Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}

impl Drop for OwnPrometheus {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Prometheus killed under `planrun apply`, after the first passing measurement of a rolling
/// step's gate (`vector(0)`, which passes without any scrape while the server lives): the gate
/// errors instead of passing on what it saw before, and the step is undone.
#[test]
fn a_prometheus_killed_mid_gate_never_lets_the_release_pass() {
    let prometheus = OwnPrometheus::start();
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let gate = format!(
        "    gate error-rate {{\n        prometheus \"http://127.0.0.1:{}\" {{\n            query \"vector(0)\"\n            \
         pass \"result < 0.01\"\n        }}\n        interval \"1s\"\n        count 6\n    }}\n",
        prometheus.port
    );
    let work = Workdir::new("promkilled");
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let plan = work.plan(&rolling_plan(&stack, &[("web", &web.name, V2, "        gates error-rate\n")], true, &gate));
    let mut apply = support::Background::apply(&work, &plan, &[]);
    apply.wait_until("a passing measurement", |e| e["event"] == "measurement" && e["verdict"] == "pass");
    prometheus.kill();

    let run = apply.finish();

    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back", "{}", run.stderr);
    assert!(run.stderr.contains("gate `error-rate` errored"), "{}", run.stderr);
    assert!(run.stderr.contains("Connection refused"), "the cause is named: {}", run.stderr);
    let verdicts: Vec<&str> = run.events_of("measurement").iter().filter_map(|m| m["verdict"].as_str()).collect();
    assert!(verdicts.ends_with(&["error"]), "the measurements after the kill errored: {verdicts:?}");
    assert!(!verdicts.contains(&"fail"), "nothing measured a failure: {verdicts:?}");
    assert_eq!(web.spec(), before, "the exact previous spec");
    web.assert_converged(V1, 2);
}

#[test]
fn independent_services_update_concurrently() {
    let a = Service::create(&unique("a"), V1, 2);
    let b = Service::create(&unique("b"), V1, 2);
    let work = Workdir::new("concurrent");
    let plan = work.plan(&rolling_plan(&unique("stack"), &[("a", &a.name, V2, ""), ("b", &b.name, V2, "")], false, ""));

    let run = work.apply(&plan, &[]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    let position =
        |kind: &str, step: &str| run.events.iter().position(|e| e["event"] == kind && e["step"] == step).unwrap();
    let first_finish = position("step-finished", "a").min(position("step-finished", "b"));
    assert!(
        position("step-started", "a") < first_finish && position("step-started", "b") < first_finish,
        "both steps ran at once"
    );
    assert_eq!(a.image(), V2);
    assert_eq!(b.image(), V2);
}

#[test]
fn a_locked_stack_refuses_a_second_apply_and_unlock_needs_force_and_the_holders_run() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    support::hold_lock_as_another_run(&stack);
    let work = Workdir::new("lock");
    let plan = work.plan(&rolling_plan(&stack, &[("web", &web.name, V2, "")], false, ""));

    let started = Instant::now();
    let refused = work.apply(&plan, &[]);

    assert_eq!(refused.code, 1);
    assert!(started.elapsed() < Duration::from_secs(20), "refused at once");
    let event = refused.events_of("run-refused");
    assert_eq!(event.len(), 1, "{:?}", refused.events);
    assert_eq!(event[0]["refusal"], "locked");
    // A lock without a beat since 2026-11-26 (or written before leases) has expired.
    for needle in [
        "ci@runner-7",
        "r-other",
        "pid 4242",
        "2026-11-26T10:00:00Z",
        "expired: no beat for",
        &format!("planrun unlock {stack} --force r-other"),
    ] {
        assert!(refused.stderr.contains(needle), "refusal names `{needle}`: {}", refused.stderr);
    }
    assert_eq!(web.image(), V1, "nothing changed");

    let no_force = run(&["unlock", &stack]);
    assert_eq!(no_force.code, 2);
    assert!(lock_exists(&stack));
    let status = support::planrun().args(["status", &stack, "--output", "plain"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("lock: held by ci@runner-7 (run r-other"), "{status}");
    assert!(status.contains("expired: no beat for"), "{status}");
    let other_run = run(&["unlock", &stack, "--force", "r-newer"]);
    assert_eq!(other_run.code, 1, "{}", other_run.stderr);
    assert!(
        other_run.stderr.contains("locked by run r-other, not r-newer: nothing was removed"),
        "{}",
        other_run.stderr
    );
    assert!(lock_exists(&stack));
    let forced = run(&["unlock", &stack, "--force", "r-other"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(forced.stderr.contains("ci@runner-7"));
    assert!(!lock_exists(&stack));
}

#[test]
fn of_ten_applies_started_at_once_one_runs_and_nine_are_refused_naming_it() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("ten");
    let plan = work.plan(
        &rolling_plan(&stack, &[("web", &web.name, V2, "")], false, "")
            .replace("}\n}\n", "}\n    pause hold \"5s\" after=web\n}\n"),
    );
    let state = work.dir.join("state");
    // Two kinds of client: five name the daemon's socket in DOCKER_HOST, five leave it to the
    // default; all ten are started before any is waited for.
    let children: Vec<_> = (0..10)
        .map(|i| {
            let mut cmd = support::planrun();
            cmd.args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir", state.to_str().unwrap()]);
            if i % 2 == 0 {
                cmd.env("DOCKER_HOST", "unix:///var/run/docker.sock");
            } else {
                cmd.env_remove("DOCKER_HOST");
            }
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();

    let ran: Vec<_> = outputs.iter().filter(|o| o.status.code() == Some(0)).collect();
    let refused: Vec<_> = outputs.iter().filter(|o| o.status.code() == Some(1)).collect();
    let said = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(ran.len(), 1, "exactly one ran: {:?}", outputs.iter().map(said).collect::<Vec<_>>());
    assert_eq!(refused.len(), 9, "{:?}", outputs.iter().map(said).collect::<Vec<_>>());
    let winner = String::from_utf8_lossy(&ran[0].stdout);
    let run_id = winner
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "run-started")
        .and_then(|e| e["run_id"].as_str().map(str::to_owned))
        .expect("the winner's run id");
    for loser in &refused {
        let text = said(loser);
        assert!(text.contains(&format!("stack `{stack}` is locked by")), "{text}");
        assert!(text.contains(&format!("(run {run_id},")), "names the run that holds it: {text}");
        assert!(!text.contains("expired"), "a beating lock is live: {text}");
    }
    web.assert_converged(V2, 1);
    assert!(!lock_exists(&stack), "the winner released it");
}

#[test]
fn rollback_refuses_the_journal_of_another_stack() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let other = unique("other");
    let _guards = (LockGuard(stack.clone()), LockGuard(other.clone()));
    let work = Workdir::new("otherstack");
    let deploy = work.plan(&rolling_plan(&stack, &[("web", &web.name, V2, "")], false, ""));
    assert_eq!(work.apply(&deploy, &[]).code, 0);
    let runs = work.dir.join("state").join("runs").join(&stack);
    let journal = std::fs::read_dir(&runs).unwrap().next().expect("the run's journal").unwrap().path();

    let refused = run(&["rollback", "--stack", &other, "--journal", journal.to_str().unwrap()]);

    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("is a journal of stack `{stack}`, not `{other}`")), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("planrun rollback {stack} --journal {}", journal.display())),
        "{}",
        refused.stderr
    );
    assert!(!lock_exists(&other), "refused before taking any lock");
    web.assert_converged(V2, 1);
}

#[test]
fn rollback_after_a_check_only_run_undoes_the_earlier_deploy() {
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let work = Workdir::new("checkonly");
    let deploy = work.plan(&rolling_plan(&stack, &[("web", &web.name, V2, "")], false, ""));
    assert_eq!(work.apply(&deploy, &[]).code, 0);
    let check = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n    gate up {{ swarm {} }}\n    check healthy {{ gates up }}\n}}\n",
        web.name
    ));
    let checked = work.apply(&check, &[]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert_eq!(web.image(), V2);

    let state = work.dir.join("state");
    let rolled = run(&["rollback", "--stack", &stack, "--state-dir", state.to_str().unwrap()]);

    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert!(!rolled.stderr.contains("nothing to roll back"), "{}", rolled.stderr);
    assert_eq!(web.spec(), before, "the deploy before the check-only run is undone");
    web.assert_converged(V1, 2);
}

#[test]
fn rollback_from_another_machine_with_an_empty_state_dir_restores_the_release() {
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("emptystate");
    let deploy = work.plan(&rolling_plan(&stack, &[("web", &web.name, V2, "")], false, ""));
    assert_eq!(work.apply(&deploy, &[]).code, 0);
    web.assert_converged(V2, 2);
    // The machine that deployed is gone: another one has no journals at all.
    std::fs::remove_dir_all(work.dir.join("state")).unwrap();
    let elsewhere = Workdir::new("elsewhere");
    let empty = elsewhere.dir.join("state");

    let history = run(&["history", &stack]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    assert!(history.stdout.contains("succeeded at"), "{}", history.stdout);
    assert!(history.stdout.contains(&format!("to undo: web: {} back to {V1}", web.name)), "{}", history.stdout);

    let rolled = run(&["rollback", "--stack", &stack, "--state-dir", empty.to_str().unwrap()]);

    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert!(rolled.stderr.contains("from the state the swarm keeps"), "{}", rolled.stderr);
    assert_eq!(web.spec(), before, "the spec is exactly as before the run");
    web.assert_converged(V1, 2);
    let history = run(&["history", &stack, "--output", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(rows[0]["outcome"], "rolled-back", "{rows}");
    assert_eq!(rows[0]["left"], serde_json::json!([]), "{rows}");
    let again = run(&["rollback", "--stack", &stack, "--state-dir", empty.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("nothing to roll back"), "{}", again.stderr);
    assert!(!lock_exists(&stack));
}

#[test]
fn rollback_leaves_a_service_changed_since_alone_naming_it_and_keeps_the_lock() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("changedsince");
    let deploy = work.plan(&rolling_plan(&stack, &[("web", &web.name, V2, "")], false, ""));
    assert_eq!(work.apply(&deploy, &[]).code, 0);
    // Someone releases by hand after planrun did.
    support::docker_by_hand(&["service", "update", "--detach", "--env-add", "HOTFIX=1", &web.name]);
    let changed = web.spec();

    let rolled = run(&["rollback", "--stack", &stack, "--state-dir", work.dir.join("state").to_str().unwrap()]);

    assert_eq!(rolled.code, 1, "{}", rolled.stderr);
    assert!(
        rolled.stderr.contains(&format!("service `{}` was changed since this run changed it", web.name)),
        "{}",
        rolled.stderr
    );
    assert_eq!(web.spec(), changed, "the change made since is kept");
    assert!(lock_exists(&stack), "a failed rollback keeps the lock until a person looks");
    let status = run(&["status", &stack]);
    assert!(status.stdout.contains("lock: held by"), "{}", status.stdout);
    let applied = work.apply(&deploy, &[]);
    assert_eq!(applied.code, 1, "a new apply is refused while the lock is kept: {}", applied.stderr);
}
