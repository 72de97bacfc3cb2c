//! The recording Docker API proxy of tests/support/docker_proxy.rs: the docker CLI works through
//! it against the real local swarm (tests/env/swarm-up), and it records what the CLI asked for.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::docker_proxy::DockerProxy;
use support::unique;

/// `docker --host PROXY ARGS` with `stdin`, ended if it takes longer than a minute.
fn docker_via(proxy: &DockerProxy, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("docker")
        .args(["--host", &proxy.host()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("docker {} took over a minute through the proxy", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker {} through the proxy failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// (method, path) of every request the proxy recorded.
fn calls(proxy: &DockerProxy) -> Vec<(String, String)> {
    proxy.requests().into_iter().map(|r| (r.method, r.path)).collect()
}

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Removes a config on drop, in case a test fails before removing it.
struct ConfigGuard(String);

impl Drop for ConfigGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["config", "rm", &self.0]).output();
    }
}

#[test]
fn docker_cli_reaches_the_daemon_through_the_proxy_which_records_its_calls() {
    let proxy = DockerProxy::start();
    let version = docker_via(&proxy, &["version", "--format", "{{.Server.APIVersion}}"], b"");
    assert!(!String::from_utf8_lossy(&version.stdout).trim().is_empty(), "the server answered");
    docker_via(&proxy, &["service", "ls"], b"");

    let calls = calls(&proxy);
    let has = |method: &str, path: &str| calls.iter().any(|(m, p)| m == method && p == path);
    assert!(has("GET", "/version"), "GET /version recorded: {calls:?}");
    assert!(has("GET", "/services"), "GET /services recorded: {calls:?}");
    assert!(has("HEAD", "/_ping") || has("GET", "/_ping"), "a ping recorded: {calls:?}");
    assert!(calls.iter().all(|(_, p)| !p.starts_with("/v1.")), "version prefixes removed: {calls:?}");

    proxy.clear();
    assert!(proxy.requests().is_empty(), "clear forgets");
}

#[test]
fn config_create_is_recorded_with_its_json_body() {
    let proxy = DockerProxy::start();
    let name = unique("proxy-config");
    let _guard = ConfigGuard(name.clone());
    docker_via(&proxy, &["config", "create", &name, "-"], b"hello\n");

    let bodies = proxy.bodies("POST", "/configs/create");
    assert_eq!(bodies.len(), 1, "one create recorded: {:?}", proxy.requests());
    assert_eq!(bodies[0]["Name"], name.as_str());
    assert_eq!(bodies[0]["Data"], "aGVsbG8K", "the content, base64");

    docker_via(&proxy, &["config", "rm", &name], b"");
    let left = Command::new("docker").args(["config", "inspect", &name]).output().unwrap();
    assert!(!left.status.success(), "the config {name} is gone");
}

#[test]
fn a_bounded_event_stream_ends_with_success() {
    let proxy = DockerProxy::start();
    let (since, until) = (now().to_string(), (now() + 2).to_string());
    docker_via(&proxy, &["events", "--filter", "type=config", "--since", &since, "--until", &until], b"");

    let events: Vec<_> = proxy.requests().into_iter().filter(|r| r.path == "/events").collect();
    assert_eq!(events.len(), 1, "one GET /events: {events:?}");
    assert!(events[0].query.contains("until="), "the bound was passed on: {}", events[0].query);
}

#[test]
fn events_reach_the_client_while_the_stream_is_still_open() {
    let proxy = DockerProxy::start();
    let name = unique("proxy-events");
    let _guard = ConfigGuard(name.clone());
    // `--since` replays what happened between the subscription and the daemon seeing it.
    let since = (now() - 1).to_string();
    let mut events = Command::new("docker")
        .args(["--host", &proxy.host(), "events", "--filter", "type=config", "--since", &since])
        .args(["--format", "{{.Action}} {{.Actor.Attributes.name}}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker events runs");
    let (tx, rx) = mpsc::channel();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    while !calls(&proxy).iter().any(|(_, p)| p == "/events") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    docker_via(&proxy, &["config", "create", &name, "-"], b"streamed\n");
    let mut seen = Vec::new();
    let created = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == format!("create {name}") => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let still_running = events.try_wait().unwrap().is_none();
    let _ = events.kill();
    let _ = events.wait();
    assert!(created, "`create {name}` arrived through the open stream; other lines: {seen:?}");
    assert!(still_running, "docker events was still streaming");
    docker_via(&proxy, &["config", "rm", &name], b"");
}
