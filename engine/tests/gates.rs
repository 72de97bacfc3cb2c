//! Gates against real components: an HTTP server this test runs on loopback, the test
//! Prometheus on 127.0.0.1:19090 (`tests/env/prometheus-up`) scraping a target this test
//! serves, and real processes for command gates.

mod loopback;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use engine::cluster::fake::FakeCluster;
use engine::commands::LocalCommands;
use engine::events::{Event, Events, Memory};
use engine::gates::{GateReport, LiveProbe, Probe as _, Verdict, judge, judge_all};
use plans::condition::Condition;
use plans::duration::Duration;
use plans::gates::{CommandGate, GateKind, HttpGate, Outcome, PrometheusGate, SwarmGate};
use plans::model::{Analysis, Gate, Sampling};
use plans::span::Span;
use plans::spanned::Spanned;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The real probe (reqwest, local commands) with an empty fake swarm, and its events.
struct Env {
    probe: LiveProbe,
    events: Events,
}

fn env(prometheus: Option<String>) -> (Env, Arc<Memory>) {
    let memory = Arc::new(Memory::default());
    let probe = LiveProbe::new(Arc::new(FakeCluster::new()), prometheus, Arc::new(LocalCommands));
    (Env { probe, events: Events::new(vec![Box::new(memory.clone())]) }, memory)
}

async fn judge_one(g: &Gate, step: &str, env: &Env) -> GateReport {
    judge(g, step, Path::new("."), &env.probe, &env.events).await
}

async fn judge_each(gates: &[&Gate], step: &str, env: &Env) -> Vec<GateReport> {
    judge_all(gates, step, Path::new("."), &env.probe, &env.events).await
}

fn gate(name: &str, kind: GateKind) -> Gate {
    let analysis = Analysis {
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(5),
        sampling: Sampling::Count(1),
        ..Analysis::default()
    };
    Gate { name: Spanned::new(name.into(), Span::default()), kind, analysis }
}

/// The measurement events, each with how long it took left out (real time varies).
fn measurements(memory: &Memory) -> Vec<Event> {
    let records = memory.records();
    records
        .iter()
        .filter_map(|r| match r.event.clone() {
            Event::Measurement { took_ms, .. } if took_ms.is_none() => {
                unreachable!("every measurement says how long it took")
            }
            Event::Measurement { step, gate, number, target, value, condition, verdict, detail, .. } => {
                Some(Event::Measurement {
                    step,
                    gate,
                    number,
                    target,
                    value,
                    condition,
                    verdict,
                    detail,
                    took_ms: None,
                    of: None,
                    next_in_ms: None,
                })
            }
            _ => None,
        })
        .collect()
}

fn report(gate: &str, verdict: Verdict, summary: &str) -> GateReport {
    GateReport { gate: gate.into(), verdict, summary: summary.into() }
}

/// A loopback HTTP/1.0 server: `/status/N` answers N with body `status N`, `/slow` never
/// answers, `/metrics` serves the current metrics text. Stops with the test's runtime.
async fn serve(metrics: Arc<Mutex<String>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let Some(request) = loopback::read_head(&mut stream).await else { return };
                let head = request;
                let mut words = head.split_whitespace();
                let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let (status, body) = match path {
                    "/metrics" => (200, metrics.lock().unwrap().clone()),
                    "/slow" => {
                        tokio::time::sleep(StdDuration::from_secs(30)).await;
                        (200, String::new())
                    }
                    "/echo-method" => (200, format!("method {method}")),
                    p => match p.strip_prefix("/status/").and_then(|s| s.parse::<u16>().ok()) {
                        Some(s) => (s, format!("status {s}")),
                        None => (404, "not found".into()),
                    },
                };
                let body = if method == "HEAD" { String::new() } else { body };
                // `/cut/N`: status N, a body that promises 100 bytes and stops after 7.
                if let Some(cut) = path.strip_prefix("/cut/") {
                    let response = format!("HTTP/1.1 {cut} X\r\nContent-Length: 100\r\n\r\npartial");
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                    return;
                }
                let response =
                    format!("HTTP/1.0 {status} X\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}");
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
}

/// A loopback port with nothing listening.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// http

fn http(url: String, status: u16, body: Option<&str>) -> GateKind {
    GateKind::Http(HttpGate {
        url,
        method: "GET".into(),
        status,
        body: body.map(Into::into),
        credentials: Default::default(),
        from: None,
    })
}

#[tokio::test]
async fn http_gate_passes_on_the_expected_status_and_body() {
    let port = serve(Arc::default()).await;
    let (env, memory) = env(None);
    let mut g = gate("health", http(format!("http://127.0.0.1:{port}/status/200"), 200, Some("status 200")));
    g.analysis.sampling = Sampling::Count(3);
    assert_eq!(judge_one(&g, "deploy", &env).await, report("health", Verdict::Passed, "3 of 3 measurements passed"));
    let events = measurements(&memory);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[2],
        Event::Measurement {
            step: "deploy".into(),
            gate: "health".into(),
            number: 3,
            target: format!("GET http://127.0.0.1:{port}/status/200"),
            value: Some("200".into()),
            condition: "status == 200 and body contains \"status 200\"".into(),
            verdict: "pass".into(),
            detail: None,
            took_ms: None,
            of: None,
            next_in_ms: None,
        }
    );
}

#[tokio::test]
async fn http_gate_fails_on_another_status_or_a_missing_text() {
    let port = serve(Arc::default()).await;
    let (env, _) = env(None);
    let wrong_status = gate("health", http(format!("http://127.0.0.1:{port}/status/503"), 200, None));
    let missing_text = gate("body", http(format!("http://127.0.0.1:{port}/status/200"), 200, Some("ready")));
    let expected_503 = gate("maintenance", http(format!("http://127.0.0.1:{port}/status/503"), 503, None));
    let reports = judge_each(&[&wrong_status, &missing_text, &expected_503], "deploy", &env).await;
    assert_eq!(
        reports,
        [
            report("health", Verdict::Failed, "1 failed (limit 0): status 503, wanted 200; body: status 503 at #1"),
            report(
                "body",
                Verdict::Failed,
                "1 failed (limit 0): body does not contain \"ready\"; body: status 200 at #1"
            ),
            report("maintenance", Verdict::Passed, "1 of 1 measurements passed"),
        ]
    );
}

#[tokio::test]
async fn http_gate_sends_the_method() {
    let port = serve(Arc::default()).await;
    let (env, _) = env(None);
    let post = GateKind::Http(HttpGate {
        url: format!("http://127.0.0.1:{port}/echo-method"),
        method: "POST".into(),
        status: 200,
        body: Some("method POST".into()),
        credentials: Default::default(),
        from: None,
    });
    let head = GateKind::Http(HttpGate {
        url: format!("http://127.0.0.1:{port}/status/204"),
        method: "HEAD".into(),
        status: 204,
        body: None,
        credentials: Default::default(),
        from: None,
    });
    let reports = judge_each(&[&gate("post", post), &gate("head", head)], "deploy", &env).await;
    assert_eq!(reports.iter().map(|r| r.verdict).collect::<Vec<_>>(), [Verdict::Passed, Verdict::Passed]);
}

#[tokio::test]
async fn http_gate_errors_when_nothing_answers() {
    let port = closed_port().await;
    let (env, memory) = env(None);
    let mut g = gate("health", http(format!("http://127.0.0.1:{port}/health"), 200, None));
    g.analysis.sampling = Sampling::Count(2);
    let r = judge_one(&g, "deploy", &env).await;
    assert_eq!(r.verdict, Verdict::Error);
    assert!(r.summary.starts_with("all 2 measurements errored, none passed: "), "{}", r.summary);
    let Event::Measurement { verdict, detail, value, .. } = &measurements(&memory)[0] else { unreachable!() };
    assert_eq!((verdict.as_str(), value), ("error", &None));
    let detail = detail.as_deref().unwrap();
    assert!(detail.contains("Connection refused") || detail.contains("connection refused"), "{detail}");
}

#[tokio::test]
async fn http_gate_errors_when_the_answer_takes_too_long() {
    let port = serve(Arc::default()).await;
    let (env, _) = env(None);
    let mut g = gate("health", http(format!("http://127.0.0.1:{port}/slow"), 200, None));
    g.analysis.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let r = judge_one(&g, "deploy", &env).await;
    assert_eq!(r.verdict, Verdict::Error, "{}", r.summary);
    assert!(started.elapsed() < StdDuration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn http_gate_with_a_body_cut_short_still_judges_the_status() {
    let (env, memory) = env(None);
    let port = serve(Arc::default()).await;
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let five_hundred = gate("five-hundred", http(url("/cut/500"), 200, None));
    let with_body = gate("with-body", http(url("/cut/200"), 200, Some("ok")));
    let reports = judge_each(&[&five_hundred, &with_body], "deploy", &env).await;
    assert_eq!(reports[0].verdict, Verdict::Failed, "a 500 fails whatever its body: {:?}", reports[0]);
    assert!(
        reports[0].summary.starts_with("1 failed (limit 0): status 500, wanted 200; body: partial"),
        "{:?}",
        reports[0]
    );
    assert_eq!(reports[1].verdict, Verdict::Error, "only the body could decide: {:?}", reports[1]);
    assert!(reports[1].summary.contains("status 200, but the body was cut short"), "{:?}", reports[1]);
    let values: Vec<Option<String>> = measurements(&memory)
        .into_iter()
        .filter_map(|e| match e {
            Event::Measurement { value, .. } => Some(value),
            _ => None,
        })
        .collect();
    assert!(values.contains(&Some("500".into())) && values.contains(&Some("200".into())), "{values:?}");
}

#[tokio::test]
async fn preflight_names_gates_that_cannot_be_measured() {
    let (env, _) = env(None);
    let port = closed_port().await;
    let missing_program = gate("p", GateKind::Command(CommandGate { argv: vec!["planrun-no-such-check".into()] }));
    let missing_service = gate("s", GateKind::Swarm(SwarmGate { service: "shop_nope".into() }));
    let no_server = gate("n", GateKind::Prometheus(promql("up".into(), Some("result > 0"), None)));
    let mut unreachable = promql("up".into(), Some("result > 0"), None);
    unreachable.server = Some(format!("http://127.0.0.1:{port}"));
    let unreachable = gate("u", GateKind::Prometheus(unreachable));
    let health = gate("h", http(format!("http://127.0.0.1:{port}/"), 200, None));
    assert_eq!(
        env.probe.preflight(&missing_program, Path::new(".")).await.as_deref(),
        Some("`planrun-no-such-check` is not an executable file or a program on PATH")
    );
    assert_eq!(
        env.probe.preflight(&missing_service, Path::new(".")).await.as_deref(),
        Some("no service named `shop_nope`")
    );
    assert_eq!(
        env.probe.preflight(&no_server, Path::new(".")).await.as_deref(),
        Some(engine::gates::prometheus::NO_SERVER)
    );
    let why = env.probe.preflight(&unreachable, Path::new(".")).await.unwrap();
    assert!(why.starts_with(&format!("Prometheus at http://127.0.0.1:{port} does not answer: ")), "{why}");
    assert!(why.contains("Connection refused"), "{why}");
    assert_eq!(
        env.probe.preflight(&health, Path::new(".")).await,
        None,
        "an HTTP gate may name what is about to be deployed"
    );
}

// ---------------------------------------------------------------------------------------------
// command

fn sh(script: &str) -> GateKind {
    GateKind::Command(CommandGate { argv: vec!["sh".into(), "-c".into(), script.into()] })
}

#[tokio::test]
async fn command_gate_passes_on_exit_zero_and_fails_otherwise() {
    let (env, memory) = env(None);
    let ok = gate("ok", sh("exit 0"));
    let three = gate("three", sh("echo checking; echo 'table users is locked' >&2; exit 3"));
    let missing = gate("missing", GateKind::Command(CommandGate { argv: vec!["/nonexistent/planrun-check".into()] }));
    let reports = judge_each(&[&ok, &three, &missing], "migrate", &env).await;
    assert_eq!(reports[0], report("ok", Verdict::Passed, "1 of 1 measurements passed"));
    assert_eq!(
        reports[1],
        report("three", Verdict::Failed, "1 failed (limit 0): stderr: table users is locked\nstdout: checking at #1")
    );
    assert_eq!(reports[2].verdict, Verdict::Error);
    assert!(reports[2].summary.contains("cannot start `/nonexistent/planrun-check`"), "{}", reports[2].summary);
    let three_event = measurements(&memory)
        .into_iter()
        .find(|e| matches!(e, Event::Measurement { gate, .. } if gate == "three"))
        .unwrap();
    let Event::Measurement { target, value, condition, verdict, .. } = three_event else { unreachable!() };
    assert_eq!(target, "sh -c 'echo checking; echo '\\''table users is locked'\\'' >&2; exit 3'");
    assert_eq!((value.as_deref(), condition.as_str(), verdict.as_str()), (Some("3"), "exit status 0", "fail"));
}

#[tokio::test]
async fn command_gate_kills_the_whole_command_on_timeout() {
    let (env, _) = env(None);
    // `; :` keeps sh from exec-ing sleep: the sleep is a grandchild that must die too.
    let marker = format!("sleep 3{}.5", std::process::id() % 1000);
    let mut g = gate("slow", sh(&format!("{marker}; :")));
    g.analysis.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let r = judge_one(&g, "migrate", &env).await;
    assert_eq!(
        r,
        report(
            "slow",
            Verdict::Error,
            &format!(
                "all 1 measurements errored, none passed: `sh -c '{marker}; :'` ran longer than 0.3s and was killed at #1"
            )
        )
    );
    assert!(started.elapsed() < StdDuration::from_secs(3), "took {:?}", started.elapsed());
    // The group was killed: no process still runs the marker (bounded wait for the kernel).
    let deadline = Instant::now() + StdDuration::from_secs(5);
    loop {
        if !running_commands().iter().any(|c| c.contains(&marker)) {
            break;
        }
        assert!(Instant::now() < deadline, "`{marker}` still runs after the gate timed out");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

fn running_commands() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// swarm (the real swarm is exercised with the cluster implementation; here only the error path)

#[tokio::test]
async fn swarm_gate_errors_for_a_missing_service() {
    let (env, _) = env(None);
    let g = gate("web", GateKind::Swarm(SwarmGate { service: "prodstack_web".into() }));
    assert_eq!(
        judge_one(&g, "deploy", &env).await,
        report(
            "web",
            Verdict::Error,
            "all 1 measurements errored, none passed: no service named `prodstack_web` at #1"
        )
    );
}

/// Test services on the real swarm (`tests/env/swarm-up`); removed on drop.
struct TestServices(Vec<String>);

impl TestServices {
    fn docker(args: &[&str]) -> std::process::Output {
        let out = std::process::Command::new("docker").args(args).output().expect("run docker");
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn create(&mut self, name: &str, image: &str, replicas: u32) {
        let replicas = replicas.to_string();
        let health = "timeout 2 wget -q -O- http://127.0.0.1:8080/health";
        #[rustfmt::skip]
        Self::docker(&[
            "service", "create", "--detach", "--quiet", "--no-resolve-image", "--name", name,
            "--label", "planrun-test=gates", "--network", "planrun-test", "--endpoint-mode", "dnsrr",
            "--replicas", &replicas, "--restart-delay", "1s", "--health-cmd", health,
            "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "1", image,
        ]);
        self.0.push(name.to_owned());
    }
}

impl Drop for TestServices {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = std::process::Command::new("docker").args(["service", "rm"]).args(&self.0).output();
        }
    }
}

/// Judges `gate` every half second until it passes; all reports, at most `limit` of them.
async fn judge_until_passed(g: &Gate, env: &Env, limit: usize) -> Vec<GateReport> {
    let mut reports = Vec::new();
    while reports.len() < limit {
        let r = judge_one(g, "deploy", env).await;
        let passed = r.verdict == Verdict::Passed;
        reports.push(r);
        if passed {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(500)).await;
    }
    reports
}

#[tokio::test]
async fn swarm_gate_against_the_real_swarm() {
    let swarm = match engine::cluster::swarm::Swarm::connect().await {
        Ok(s) => s,
        Err(_) => {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/env/swarm-up");
            let status = tokio::process::Command::new(&script).status().await.expect("run tests/env/swarm-up");
            assert!(status.success(), "tests/env/swarm-up failed");
            engine::cluster::swarm::Swarm::connect().await.expect("connect to the test swarm")
        }
    };
    let (mut env, _) = env(None);
    env.probe.cluster = Arc::new(swarm);
    let id = format!("{}-{}", std::process::id(), unix_millis() % 100_000);
    let (good, bad) = (format!("planrun-gatetest-good-{id}"), format!("planrun-gatetest-bad-{id}"));
    let mut services = TestServices(Vec::new());
    services.create(&good, "planrun-test/app:v1", 2);
    services.create(&bad, "planrun-test/app:exit", 1);
    let good_gate = gate("good", GateKind::Swarm(SwarmGate { service: good.clone() }));
    let bad_gate = gate("bad", GateKind::Swarm(SwarmGate { service: bad.clone() }));

    // Healthy within 60 s (first task start includes a failed registry pull).
    let reports = judge_until_passed(&good_gate, &env, 120).await;
    let last = reports.last().unwrap();
    assert_eq!(last, &report("good", Verdict::Passed, "1 of 1 measurements passed"), "{reports:#?}");

    // A service whose tasks exit never passes.
    let reports = judge_until_passed(&bad_gate, &env, 6).await;
    assert!(reports.iter().all(|r| r.verdict == Verdict::Failed), "{reports:#?}");
    assert!(reports.iter().all(|r| r.summary.contains("0 of 1 tasks running")), "{reports:#?}");

    // Right after an update the tasks run the old spec; then the gate passes again.
    #[rustfmt::skip]
    TestServices::docker(&[
        "service", "update", "--detach", "--quiet", "--no-resolve-image", "--update-parallelism", "2",
        "--image", "planrun-test/app:v2", &good,
    ]);
    let reports = judge_until_passed(&good_gate, &env, 120).await;
    assert_eq!(reports[0].verdict, Verdict::Failed, "{reports:#?}");
    // Depending on how far Swarm got: old tasks still running, new ones not yet created or starting.
    let reasons = [
        "runs an older spec (image planrun-test/app:v1, now planrun-test/app:v2)",
        "tasks should run",
        "tasks running",
    ];
    assert!(reasons.iter().any(|r| reports[0].summary.contains(r)), "{}", reports[0].summary);
    assert_eq!(reports.last().unwrap().verdict, Verdict::Passed, "{reports:#?}");
}

/// The real probe against the test swarm (which must be up), and its events.
async fn env_on_the_swarm() -> (Env, Arc<Memory>) {
    let swarm = engine::cluster::swarm::Swarm::connect().await.expect("connect to the test swarm");
    let (mut env, memory) = env(None);
    env.probe.cluster = Arc::new(swarm);
    (env, memory)
}

/// A service name no other test or earlier run uses.
fn unique(what: &str) -> String {
    format!("planrun-gatetest-{what}-{}-{}", std::process::id(), unix_millis() % 100_000)
}

#[tokio::test]
async fn swarm_gate_fails_when_a_task_dies_between_two_measurements() {
    let (env, memory) = env_on_the_swarm().await;
    let name = unique("dies");
    let mut services = TestServices(Vec::new());
    #[rustfmt::skip]
    TestServices::docker(&[
        "service", "create", "--detach", "--quiet", "--no-resolve-image", "--name", &name,
        "--label", "planrun-test=gates", "--network", "planrun-test", "--endpoint-mode", "dnsrr",
        "--replicas", "1", "--restart-delay", "1s", "--env", "UNHEALTHY_AFTER=4",
        "--health-cmd", "timeout 2 wget -q -O- http://127.0.0.1:8080/health",
        "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "1",
        "planrun-test/app:unhealthy-later",
    ]);
    services.0.push(name.clone());
    let once = gate("once", GateKind::Swarm(SwarmGate { service: name.clone() }));
    // Wait until it runs (a one-sample gate passes then), then watch a 10 s window.
    let reports = judge_until_passed(&once, &env, 120).await;
    assert_eq!(reports.last().unwrap().verdict, Verdict::Passed, "{reports:#?}");
    let mut window = gate("window", GateKind::Swarm(SwarmGate { service: name.clone() }));
    window.analysis.interval = Duration::from_millis(2_500);
    window.analysis.sampling = Sampling::Count(4);
    let r = judge_one(&window, "deploy", &env).await;
    assert_eq!(r.verdict, Verdict::Failed, "{r:?}");
    // Seen either while its container is unhealthy (before Swarm stops it) or once it has ended.
    let unhealthy = format!("task {name}.1 is unhealthy (container unhealthy: health check exited 1");
    let ended = format!("task {name}.1 failed since the first measurement (container unhealthy");
    assert!(r.summary.contains(&unhealthy) || r.summary.contains(&ended), "{r:?}");
    let verdicts: Vec<String> = measurements(&memory)
        .into_iter()
        .filter_map(|e| match e {
            Event::Measurement { gate, verdict, .. } if gate == "window" => Some(verdict),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts.first().map(String::as_str), Some("pass"), "the window starts healthy: {verdicts:?}");
}

/// The containers of this process's probe jobs (`planrun-gate-PID-N`) running on this node.
fn probe_containers() -> Vec<String> {
    let prefix = format!("planrun-gate-{}-", std::process::id());
    let out = TestServices::docker(&["ps", "--format", "{{.ID}} {{.Label \"com.docker.swarm.service.name\"}}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, service)| service.starts_with(&prefix))
        .map(|(id, _)| id.to_owned())
        .collect()
}

#[tokio::test]
async fn a_kept_probe_whose_container_was_killed_is_replaced_before_the_next_judgement() {
    let (env, memory) = env_on_the_swarm().await;
    let name = unique("kept");
    let mut services = TestServices(Vec::new());
    services.create(&name, "planrun-test/app:v1", 1);
    let from = plans::gates::FromNetwork {
        network: "planrun-test".into(),
        image: "planrun-test/app:v1".into(),
        every_task: false,
    };
    let inside = gate(
        "inside",
        GateKind::Http(HttpGate {
            url: format!("http://{name}:8080/health"),
            method: "GET".into(),
            status: 200,
            body: None,
            credentials: Default::default(),
            from: Some(from),
        }),
    );
    // Until the service answers; each judgement's probe is kept for the next.
    let mut first = judge_one(&inside, "deploy", &env).await;
    let until = Instant::now() + StdDuration::from_secs(120);
    while first.verdict != Verdict::Passed && Instant::now() < until {
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        first = judge_one(&inside, "deploy", &env).await;
    }
    assert_eq!(first.verdict, Verdict::Passed, "{first:?}");
    let kept = probe_containers();
    assert_eq!(kept.len(), 1, "one probe kept between judgements: {kept:?}");

    // Its container dies between two judgements (killed, as an OOM kill or a node restart would).
    TestServices::docker(&["kill", &kept[0]]);
    let second = judge_one(&inside, "deploy", &env).await;
    assert_eq!(second.verdict, Verdict::Passed, "the next judgement measures from a new probe: {second:?}");
    let last = measurements(&memory).into_iter().last();
    assert!(
        matches!(&last, Some(Event::Measurement { verdict, .. }) if verdict == "pass"),
        "its measurement reached the service: {last:?}"
    );
    let now = probe_containers();
    assert!(now.len() == 1 && now[0] != kept[0], "a new probe container: {now:?} (killed {})", kept[0]);

    engine::services::job::settle(StdDuration::from_secs(30)).await;
    let until = Instant::now() + StdDuration::from_secs(15);
    while !probe_containers().is_empty() && Instant::now() < until {
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    assert_eq!(probe_containers(), Vec::<String>::new(), "the run's end removes every probe");
}

// ---------------------------------------------------------------------------------------------
// prometheus

fn prometheus_url() -> String {
    format!("http://127.0.0.1:{}", std::env::var("PLANRUN_PROM_PORT").unwrap_or_else(|_| "19090".into()))
}

/// Starts the test Prometheus unless it answers already.
async fn prometheus_up(client: &reqwest::Client) {
    let ready = format!("{}/-/ready", prometheus_url());
    if client.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/env/prometheus-up");
    let status = tokio::process::Command::new(&script).status().await.expect("run tests/env/prometheus-up");
    assert!(status.success(), "tests/env/prometheus-up failed");
}

/// A file-SD target file; removed on drop.
struct ScrapeTarget(PathBuf);

impl ScrapeTarget {
    fn add(port: u16, label: &str) -> ScrapeTarget {
        let dir = PathBuf::from(std::env::var("PLANRUN_PROM_DIR").unwrap_or_else(|_| "/tmp/planrun-prometheus".into()))
            .join("targets");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{label}.json"));
        let tmp = dir.join(format!(".{label}.tmp"));
        let json = format!(r#"[{{"targets":["127.0.0.1:{port}"],"labels":{{"gatetest":"{label}"}}}}]"#);
        std::fs::write(&tmp, json).unwrap();
        // Prometheus must never read a half-written file.
        std::fs::rename(&tmp, &path).unwrap();
        ScrapeTarget(path)
    }
}

impl Drop for ScrapeTarget {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Polls until the query returns a sample (at most 30 s: discovery of a new file-SD target
/// is throttled to 5 s).
async fn wait_for_sample(client: &reqwest::Client, query: &str) {
    let deadline = Instant::now() + StdDuration::from_secs(30);
    loop {
        let answer: Option<serde_json::Value> =
            match client.get(format!("{}/api/v1/query", prometheus_url())).query(&[("query", query)]).send().await {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
        let found = answer.as_ref().and_then(|a| a["data"]["result"].as_array()).is_some_and(|r| !r.is_empty());
        if found {
            return;
        }
        assert!(Instant::now() < deadline, "Prometheus did not scrape `{query}` within 30 s");
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
}

fn promql(query: String, pass: Option<&str>, fail: Option<&str>) -> PrometheusGate {
    PrometheusGate {
        server: None,
        query,
        pass: pass.map(|c| Condition::parse(c).unwrap()),
        fail: fail.map(|c| Condition::parse(c).unwrap()),
        on_empty: Outcome::Error,
        on_nan: Outcome::Error,
        credentials: Default::default(),
        baseline: None,
    }
}

/// A canary's p95 beside the stable service's, both from the real Prometheus at the same
/// instants (`baseline-query`): equal passes, 20% worse fails; 3 measurements compare medians.
#[tokio::test]
async fn a_baseline_query_gate_compares_a_canary_with_the_stable_service_on_a_real_server() {
    let client = reqwest::Client::new();
    prometheus_up(&client).await;
    let label = format!("baseline-{}-{}", std::process::id(), unix_millis());
    let metrics = Arc::new(Mutex::new(
        "planrun_gate_p95{track=\"stable\"} 0.25\n\
         planrun_gate_p95{track=\"canary\"} 0.25\n\
         planrun_gate_p95{track=\"slow\"} 0.3\n"
            .to_owned(),
    ));
    let port = serve(metrics.clone()).await;
    let _target = ScrapeTarget::add(port, &label);
    let q = |track: &str| format!("max(planrun_gate_p95{{gatetest=\"{label}\",track=\"{track}\"}})");
    wait_for_sample(&client, &q("slow")).await;

    let (env, memory) = env(Some(prometheus_url()));
    let compared = |name: &str, track: &str| {
        let mut g = promql(q(track), None, None);
        g.baseline = Some(plans::gates::Baseline {
            against: plans::gates::Against::Query(q("stable")),
            margin: plans::percentage::Percentage::parse("10%").unwrap(),
            better: plans::gates::Better::Lower,
            significance: plans::gates::baseline::SIGNIFICANCE,
            min_samples: plans::gates::baseline::MIN_SAMPLES,
        });
        let mut g = gate(name, GateKind::Prometheus(g));
        g.analysis.sampling = Sampling::Count(3);
        g
    };
    let reports = judge_each(&[&compared("equal", "canary"), &compared("slower", "slow")], "canary", &env).await;
    assert_eq!(
        reports,
        [
            report(
                "equal",
                Verdict::Passed,
                "no worse than the baseline: median 0.25 against 0.25 (+0.0%, margin 10%, lower is better); medians \
                 compared: 3 samples on each side, fewer than the 8 a Mann-Whitney test needs"
            ),
            report(
                "slower",
                Verdict::Failed,
                "worse than the baseline by more than the margin: median 0.3 against 0.25 (+20.0%, margin 10%, lower \
                 is better); medians compared: 3 samples on each side, fewer than the 8 a Mann-Whitney test needs"
            ),
        ]
    );
    let slower: Vec<Event> = measurements(&memory)
        .into_iter()
        .filter(|e| matches!(e, Event::Measurement { gate, .. } if gate == "slower"))
        .collect();
    assert_eq!(slower.len(), 3);
    let Event::Measurement { value, detail, condition, verdict, .. } = &slower[0] else { unreachable!() };
    assert_eq!((value.as_deref(), verdict.as_str()), (Some("0.3"), "pass"));
    assert_eq!(condition, &format!("no worse than `{}` by more than 10%, lower is better", q("stable")));
    assert!(detail.as_deref().unwrap().starts_with("baseline 0.25 at 20"), "{detail:?}");
    let finished = memory.events().into_iter().find_map(|e| match e {
        Event::GateFinished { gate, comparison, .. } if gate == "slower" => comparison,
        _ => None,
    });
    let c = finished.expect("the comparison is in the gate's event");
    assert_eq!((c.new, c.baseline), (vec![0.3; 3], vec![0.25; 3]));
    assert_eq!((c.method.as_str(), c.verdict.as_str(), c.u, c.p_value), ("medians", "worse", None, None));

    // A baseline query with no series is an error measurement that says which side.
    let mut g = promql(q("canary"), None, None);
    g.baseline = Some(plans::gates::Baseline {
        against: plans::gates::Against::Query(q("absent")),
        margin: plans::percentage::Percentage::parse("10%").unwrap(),
        better: plans::gates::Better::Lower,
        significance: plans::gates::baseline::SIGNIFICANCE,
        min_samples: plans::gates::baseline::MIN_SAMPLES,
    });
    let absent = gate("absent", GateKind::Prometheus(g));
    let r = judge_one(&absent, "canary", &env).await;
    assert_eq!(r.verdict, Verdict::Error);
    assert!(r.summary.starts_with("all 1 measurements errored, none passed: the baseline (at 20"), "{}", r.summary);
    assert!(r.summary.ends_with("query returned no series (on-empty error) at #1"), "{}", r.summary);
    // A query Prometheus refuses says which side it is and what Prometheus said.
    let mut g = promql("sum(".into(), None, None);
    g.baseline = Some(plans::gates::Baseline {
        against: plans::gates::Against::Query(q("stable")),
        margin: plans::percentage::Percentage::parse("10%").unwrap(),
        better: plans::gates::Better::Lower,
        significance: plans::gates::baseline::SIGNIFICANCE,
        min_samples: plans::gates::baseline::MIN_SAMPLES,
    });
    let refused = gate("refused", GateKind::Prometheus(g));
    let r = judge_one(&refused, "canary", &env).await;
    assert_eq!(r.verdict, Verdict::Error);
    assert!(
        r.summary.starts_with(&format!(
            "all 1 measurements errored, none passed: the new query: Prometheus at {}: bad_data: ",
            prometheus_url()
        )),
        "{}",
        r.summary
    );
}

#[tokio::test]
async fn prometheus_gates_against_a_real_server() {
    let client = reqwest::Client::new();
    prometheus_up(&client).await;
    let label = format!("gates-{}-{}", std::process::id(), unix_millis());
    let metrics = Arc::new(Mutex::new(
        "# TYPE planrun_gate_errors gauge\n\
         planrun_gate_errors 0.034\n\
         planrun_gate_ratio NaN\n\
         planrun_gate_latency +Inf\n\
         planrun_gate_requests{code=\"200\"} 10\n\
         planrun_gate_requests{code=\"500\"} 2\n"
            .to_owned(),
    ));
    let port = serve(metrics.clone()).await;
    let _target = ScrapeTarget::add(port, &label);
    let sel = format!("{{gatetest=\"{label}\"}}");
    wait_for_sample(&client, &format!("planrun_gate_requests{sel}")).await;

    let (env, memory) = env(Some(prometheus_url()));
    let q = |metric: &str| format!("{metric}{sel}");
    let kind = GateKind::Prometheus;
    let passes = gate("passes", kind(promql(q("planrun_gate_errors"), Some("result < 0.05"), None)));
    let fails = gate("fails", kind(promql(q("planrun_gate_errors"), Some("result < 0.001"), None)));
    let fail_only = gate("fail-only", kind(promql(q("planrun_gate_errors"), None, Some("result > 0.01"))));
    let between = gate("between", kind(promql(q("planrun_gate_errors"), Some("result < 0.001"), Some("result > 0.5"))));
    let scalar =
        gate("scalar", kind(promql(format!("scalar(sum(planrun_gate_requests{sel}))"), Some("result == 12"), None)));
    let infinite = gate("infinite", kind(promql(q("planrun_gate_latency"), Some("result < 1"), None)));
    let reports = judge_each(&[&passes, &fails, &fail_only, &between, &scalar, &infinite], "canary", &env).await;
    assert_eq!(
        reports,
        [
            report("passes", Verdict::Passed, "1 of 1 measurements passed"),
            report("fails", Verdict::Failed, "1 failed (limit 0): 0.034 >= 0.001 at #1"),
            report("fail-only", Verdict::Failed, "1 failed (limit 0): 0.034 > 0.01 at #1"),
            report(
                "between",
                Verdict::Inconclusive,
                "1 inconclusive (limit 0): 0.034 meets neither `result < 0.001` nor the failure condition \
                 `result > 0.5` at #1"
            ),
            report("scalar", Verdict::Passed, "1 of 1 measurements passed"),
            report("infinite", Verdict::Failed, "1 failed (limit 0): +Inf >= 1 at #1"),
        ]
    );
    let first =
        measurements(&memory).into_iter().find(|e| matches!(e, Event::Measurement { gate, .. } if gate == "fails"));
    assert_eq!(
        first,
        Some(Event::Measurement {
            step: "canary".into(),
            gate: "fails".into(),
            number: 1,
            target: q("planrun_gate_errors"),
            value: Some("0.034".into()),
            condition: "result < 0.001".into(),
            verdict: "fail".into(),
            detail: Some("0.034 >= 0.001".into()),
            took_ms: None,
            of: None,
            next_in_ms: None,
        })
    );

    // Empty results and NaN follow on-empty and on-nan; an unset one is an error, never a pass.
    let empty = |name: &str, on_empty: Outcome| {
        let mut g = promql(q("planrun_gate_absent"), Some("result < 1"), None);
        g.on_empty = on_empty;
        gate(name, kind(g))
    };
    let nan = |name: &str, on_nan: Outcome| {
        let mut g = promql(q("planrun_gate_ratio"), Some("result < 1"), None);
        g.on_nan = on_nan;
        gate(name, kind(g))
    };
    let gates = [
        empty("empty-error", Outcome::Error),
        empty("empty-pass", Outcome::Pass),
        empty("empty-fail", Outcome::Fail),
        nan("nan-error", Outcome::Error),
        nan("nan-inconclusive", Outcome::Inconclusive),
    ];
    let reports = judge_each(&gates.iter().collect::<Vec<_>>(), "canary", &env).await;
    assert_eq!(
        reports,
        [
            report(
                "empty-error",
                Verdict::Error,
                "all 1 measurements errored, none passed: the query returned no series (on-empty error) at #1"
            ),
            report("empty-pass", Verdict::Passed, "1 of 1 measurements passed"),
            report(
                "empty-fail",
                Verdict::Failed,
                "1 failed (limit 0): the query returned no series (on-empty fail) at #1"
            ),
            report(
                "nan-error",
                Verdict::Error,
                "all 1 measurements errored, none passed: the value is NaN (on-nan error) at #1"
            ),
            report(
                "nan-inconclusive",
                Verdict::Inconclusive,
                "1 inconclusive (limit 0): the value is NaN (on-nan inconclusive) at #1"
            ),
        ]
    );

    // Queries Prometheus cannot answer with one number, and servers that do not answer.
    let server = prometheus_url();
    let several = gate("several", kind(promql(q("planrun_gate_requests"), Some("result < 1"), None)));
    let bad = gate("bad", kind(promql("sum(planrun_gate_requests".into(), Some("result < 1"), None)));
    let mut unreachable = promql(q("planrun_gate_errors"), Some("result < 1"), None);
    let closed = closed_port().await;
    unreachable.server = Some(format!("http://127.0.0.1:{closed}"));
    let unreachable = gate("unreachable", kind(unreachable));
    let reports = judge_each(&[&several, &bad, &unreachable], "canary", &env).await;
    assert!(reports.iter().all(|r| r.verdict == Verdict::Error), "{reports:#?}");
    assert!(
        reports[0].summary.starts_with(&format!(
            "all 1 measurements errored, none passed: Prometheus at {server}: query returned 2 series; aggregate it \
             to one, e.g. with sum() (first: "
        )),
        "{}",
        reports[0].summary
    );
    assert!(reports[1].summary.contains(&format!("Prometheus at {server}: bad_data: ")), "{}", reports[1].summary);
    assert!(reports[1].summary.contains("(HTTP 400)"), "{}", reports[1].summary);
    assert!(
        reports[2].summary.contains(&format!("Prometheus at http://127.0.0.1:{closed}: ")),
        "{}",
        reports[2].summary
    );

    // Without a server on the gate or in planrun.toml.
    let (no_server, _) = self::env(None);
    let r = judge_one(&passes, "canary", &no_server).await;
    assert_eq!(
        r,
        report(
            "passes",
            Verdict::Error,
            "all 1 measurements errored, none passed: no Prometheus server: set `prometheus \"URL\"` on the gate or \
             `prometheus` in planrun.toml at #1"
        )
    );

    // A changed value shows within a few scrapes, and the same gate now passes.
    *metrics.lock().unwrap() = "planrun_gate_errors 0.0001\n".into();
    wait_for_sample(&client, &format!("planrun_gate_errors{sel} < 0.001")).await;
    assert_eq!(judge_one(&fails, "canary", &env).await, report("fails", Verdict::Passed, "1 of 1 measurements passed"));
}

/// A Prometheus of the test's own (its own port and directory), stopped on drop.
struct OwnPrometheus {
    dir: PathBuf,
    port: u16,
}

impl OwnPrometheus {
    async fn start() -> OwnPrometheus {
        let port = closed_port().await;
        let dir = std::env::temp_dir().join(format!("planrun-prom-stop-{}-{}", std::process::id(), unix_millis()));
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/env/prometheus-up");
        let status = tokio::process::Command::new(&script)
            .arg(&dir)
            .env("PLANRUN_PROM_PORT", port.to_string())
            .env("PLANRUN_PROM_TARGET_PORT", closed_port().await.to_string())
            .status()
            .await
            .expect("run tests/env/prometheus-up");
        assert!(status.success(), "tests/env/prometheus-up {} failed", dir.display());
        OwnPrometheus { dir, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL: a server that vanishes, not one that says goodbye).
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

#[tokio::test]
async fn a_prometheus_gate_whose_server_stops_mid_gate_never_passes() {
    let prometheus = OwnPrometheus::start().await;
    let (env, memory) = env(Some(prometheus.url()));
    // `vector(0)` answers without any scrape: every measurement passes while the server lives.
    let mut g = gate("error-rate", GateKind::Prometheus(promql("vector(0)".into(), Some("result < 0.01"), None)));
    g.analysis.interval = Duration::from_secs(1);
    g.analysis.timeout = Duration::from_secs(2);
    g.analysis.sampling = Sampling::Count(5);
    let judged = tokio::spawn(async move { judge_one(&g, "canary", &env).await });
    // The server goes away once a measurement has passed.
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while !measurements(&memory).iter().any(|m| matches!(m, Event::Measurement { verdict, .. } if verdict == "pass")) {
        assert!(Instant::now() < deadline, "no measurement passed while Prometheus ran");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    prometheus.kill();
    let report = judged.await.unwrap();

    let verdicts: Vec<String> = measurements(&memory)
        .iter()
        .filter_map(|m| match m {
            Event::Measurement { verdict, .. } => Some(verdict.clone()),
            _ => None,
        })
        .collect();
    eprintln!("Prometheus killed mid-gate: {:?} ({verdicts:?}): {}", report.verdict, report.summary);
    assert_ne!(report.verdict, Verdict::Passed, "a gate whose source died passed: {}", report.summary);
    assert!(verdicts.iter().any(|v| v == "error"), "the measurements after the kill errored: {verdicts:?}");
}
