//! `planrun apply`, `rollback` and `unlock` against the real local swarm (tests/env/swarm-up).
//! Every service and lock is named uniquely and removed at the end, pass or fail.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{Service, Workdir, planrun, run, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

/// A plan with one fast rolling step per (step, service, image), each step after the previous
/// one when `chained`, plus extra text (gates) inside the plan.
fn rolling_plan(stack: &str, steps: &[(&str, &str, &str, &str)], chained: bool, extra: &str) -> String {
    let mut out = format!("plan e2e {{\n    stack {stack}\n    on-failure rollback\n{extra}\n");
    let mut previous: Option<&str> = None;
    for (name, service, image, gates) in steps {
        let after = match (chained, previous) {
            (true, Some(p)) => format!(" after={p}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "    rolling {name}{after} {{\n        service {service}\n        image \"{image}\"\n        parallelism 1\n        \
             delay \"1s\"\n        order start-first\n        monitor \"3s\"\n        deadline \"90s\"\n{gates}    }}\n"
        ));
        previous = Some(name);
    }
    out.push_str("}\n");
    out
}

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
}

/// A release that never works ends with the service on its exact previous spec.
fn bad_release_is_rolled_back(image: &str, monitor: &str, cause: &str) {
    let web = Service::create(&unique("web"), V1, 3);
    let before = web.spec();
    let work = Workdir::new("bad");
    let text = rolling_plan(&unique("stack"), &[("web", &web.name, image, "")], false, "")
        .replace("monitor \"3s\"", &format!("monitor \"{monitor}\""));
    let plan = work.plan(&text);

    let run = work.apply(&plan, &[]);

    assert_eq!(run.code, 1, "apply of {image} should fail: {}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    assert!(run.stderr.contains(cause), "summary does not name the cause `{cause}`:\n{}", run.stderr);
    let undone = run.events_of("step-undone");
    assert_eq!(undone.len(), 1, "the failed step is undone");
    assert_eq!(undone[0]["outcome"], "succeeded");
    assert_eq!(web.spec(), before, "the service is back on its exact previous spec");
    web.assert_converged(V1, 3);
}

#[test]
fn image_that_exits_at_once_is_rolled_back() {
    bad_release_is_rolled_back("planrun-test/app:exit", "3s", "non-zero exit");
}

#[test]
fn image_that_never_turns_healthy_is_rolled_back() {
    bad_release_is_rolled_back("planrun-test/app:never-healthy", "3s", "web");
}

#[test]
fn image_that_turns_unhealthy_within_the_monitor_window_is_rolled_back() {
    // unhealthy-later answers its health check for 8 s, then fails it: inside a 15 s monitor.
    bad_release_is_rolled_back("planrun-test/app:unhealthy-later", "15s", "web");
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

/// Removes a lock config on drop, in case a test fails before unlocking.
struct LockGuard(String);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ =
            std::process::Command::new("docker").args(["config", "rm", &format!("planrun-lock-{}", self.0)]).output();
    }
}

fn lock_exists(stack: &str) -> bool {
    std::process::Command::new("docker")
        .args(["config", "inspect", &format!("planrun-lock-{stack}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn a_locked_stack_refuses_a_second_apply_and_unlock_needs_force() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let lock = format!("planrun-lock-{stack}");
    let create = std::process::Command::new("docker")
        .args([
            "config",
            "create",
            "--label",
            "planrun.lock.holder=ci@runner-7",
            "--label",
            "planrun.lock.host=runner-7",
            "--label",
            "planrun.lock.run-id=r-other",
            "--label",
            "planrun.lock.pid=4242",
            "--label",
            "planrun.lock.started=2026-11-26T10:00:00Z",
            &lock,
            "-",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            // A config needs some data; planrun's own lock holds the holder as JSON.
            c.stdin.take().expect("piped stdin").write_all(b"{}")?;
            c.wait()
        })
        .unwrap();
    assert!(create.success());
    let work = Workdir::new("lock");
    let plan = work.plan(&rolling_plan(&stack, &[("web", &web.name, V2, "")], false, ""));

    let started = Instant::now();
    let refused = work.apply(&plan, &[]);

    assert_eq!(refused.code, 1);
    assert!(started.elapsed() < Duration::from_secs(20), "refused at once");
    for needle in
        ["ci@runner-7", "r-other", "pid 4242", "2026-11-26T10:00:00Z", &format!("planrun unlock {stack} --force")]
    {
        assert!(refused.stderr.contains(needle), "refusal names `{needle}`: {}", refused.stderr);
    }
    assert_eq!(web.image(), V1, "nothing changed");

    let no_force = run(&["unlock", &stack]);
    assert_eq!(no_force.code, 2);
    assert!(lock_exists(&stack));
    let forced = run(&["unlock", &stack, "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(forced.stderr.contains("ci@runner-7"));
    assert!(!lock_exists(&stack));
}

/// Starts `planrun apply` in the background with JSON events on a pipe.
fn spawn_apply(work: &Workdir, plan: &std::path::Path) -> std::process::Child {
    let state = work.dir.join("state");
    planrun()
        .args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir", state.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads events (bounded in time) until one matches.
fn wait_for_event(lines: &mut impl Iterator<Item = std::io::Result<String>>, kind: &str, step: &str) {
    for line in lines.by_ref() {
        let line = line.unwrap();
        let e: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if e["event"] == kind && (step.is_empty() || e["step"] == step) {
            return;
        }
    }
    panic!("planrun ended before `{kind}` of `{step}`");
}

#[test]
fn a_killed_apply_leaves_its_lock_and_unlock_force_clears_it() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("killed");
    let text = rolling_plan(&stack, &[("web", &web.name, V2, "")], false, "")
        .replace("}\n}\n", "}\n    pause hold \"60s\" after=web\n}\n");
    let plan = work.plan(&text);
    let mut child = spawn_apply(&work, &plan);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    wait_for_event(&mut lines, "step-started", "hold");

    child.kill().unwrap();
    let _ = child.wait();

    assert!(lock_exists(&stack), "SIGKILL leaves the lock behind");
    let refused = work.apply(&plan, &[]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("is locked by"));
    let forced = run(&["unlock", &stack, "--force"]);
    assert_eq!(forced.code, 0);
    assert!(!lock_exists(&stack));
}

#[test]
fn sigterm_finishes_the_running_step_rolls_back_and_releases_the_lock() {
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("sigterm");
    let text = rolling_plan(&stack, &[("web", &web.name, V2, "")], false, "")
        .replace("}\n}\n", "}\n    pause hold \"60s\" after=web\n}\n");
    let plan = work.plan(&text);
    let mut child = spawn_apply(&work, &plan);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    wait_for_event(&mut lines, "step-started", "web");

    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let rest: Vec<serde_json::Value> =
        lines.map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();

    assert_eq!(status.code(), Some(1), "{stderr}");
    let kinds: Vec<(&str, &str)> =
        rest.iter().map(|e| (e["event"].as_str().unwrap_or(""), e["step"].as_str().unwrap_or(""))).collect();
    assert!(kinds.contains(&("step-finished", "web")), "the running step finished: {kinds:?}");
    assert!(!kinds.contains(&("step-started", "hold")), "no new step started: {kinds:?}");
    assert!(kinds.contains(&("step-undone", "web")), "{kinds:?}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!lock_exists(&stack), "the lock is released");
    assert_eq!(web.spec(), before);
}

#[test]
fn paused_run_is_undone_later_by_planrun_rollback() {
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let server = Loopback::serve(503, "down");
    let stack = unique("stack");
    let gate = format!(
        "    gate down {{\n        http \"http://127.0.0.1:{}/\" timeout=\"2s\"\n        interval \"1s\"\n        count 1\n    }}\n",
        server.port
    );
    let text = rolling_plan(&stack, &[("web", &web.name, V2, "        gates down\n")], false, &gate)
        .replace("on-failure rollback", "on-failure pause");
    let work = Workdir::new("paused");
    let plan = work.plan(&text);

    let paused = work.apply(&plan, &[]);

    assert_eq!(paused.code, 1);
    assert_eq!(paused.outcome(), "paused");
    assert!(paused.stderr.contains("planrun rollback"), "says how to roll back: {}", paused.stderr);
    assert_eq!(web.image(), V2, "pause leaves the new release in place");

    let state = work.dir.join("state");
    let rolled = run(&["rollback", "--stack", &stack, "--state-dir", state.to_str().unwrap(), "--output", "json"]);
    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert_eq!(web.spec(), before);
    web.assert_converged(V1, 2);

    let again = run(&["rollback", "--stack", &stack, "--state-dir", state.to_str().unwrap()]);
    assert_eq!(again.code, 0);
    assert!(again.stderr.contains("nothing to roll back"), "{}", again.stderr);
}
