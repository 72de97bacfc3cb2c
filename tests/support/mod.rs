//! What the end-to-end tests share: running planrun, and services on the real swarm that are
//! named uniquely and removed when the test ends, pass or fail.

#![allow(dead_code)]

pub mod compose;
pub mod docker_proxy;
pub mod postgres;
pub mod prodstack;
pub mod receiver;
pub mod transcript;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The health check every test service gets (busybox `wget -T` segfaults: use `timeout`).
pub const HEALTH: &[&str] = &[
    "--health-cmd",
    "timeout 2 wget -q -O- http://127.0.0.1:8080/health",
    "--health-interval",
    "1s",
    "--health-timeout",
    "3s",
    "--health-retries",
    "1",
];

/// The overlay network of the test swarm (tests/env/swarm-up makes it).
pub const NETWORK: &str = "planrun-test";

/// A name unique to this process and call: safe on a swarm holding services of earlier runs.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("pr{}{:x}{}-{name}", std::process::id(), nanos % 0xffff, N.fetch_add(1, Ordering::SeqCst))
}

/// `docker ARGS` for a change a person makes by hand, tried again (at most 20 times, 0.5 s
/// apart) while the daemon answers "update out of sequence": Swarm itself writes the service
/// (its update status) a moment after an update ends, and the docker CLI's read-then-write
/// of the service loses that race on a busy machine, as it would for a person.
pub fn docker_by_hand(args: &[&str]) -> String {
    for _ in 0..20 {
        let out = Command::new("docker").args(args).output().expect("docker runs");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).trim().to_owned();
        }
        if !String::from_utf8_lossy(&out.stderr).contains("update out of sequence") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    docker(args)
}

/// `docker ARGS`, panicking with its stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(
        out.status.success(),
        "docker failed: {}\n  command: docker {}",
        String::from_utf8_lossy(&out.stderr).trim(),
        args.join(" ")
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A swarm service removed on drop.
pub struct Service {
    /// Its name.
    pub name: String,
}

impl Service {
    /// Creates a replicated dnsrr service of a test image and waits until it converges.
    pub fn create(name: &str, image: &str, replicas: u32) -> Service {
        Service::create_with(name, image, replicas, &[])
    }

    /// Like [`Service::create`], with more `docker service create` flags (such as `--env`).
    pub fn create_with(name: &str, image: &str, replicas: u32, extra: &[&str]) -> Service {
        Service::create_in(name, image, &["--replicas", &replicas.to_string()], NETWORK, extra)
    }

    /// Like [`Service::create`], on `network` only (not the test network).
    pub fn create_on(name: &str, image: &str, replicas: u32, network: &str) -> Service {
        Service::create_in(name, image, &["--replicas", &replicas.to_string()], network, &[])
    }

    /// A global dnsrr service of a test image (one task on every node), converged; removed on drop.
    pub fn create_global(name: &str, image: &str, extra: &[&str]) -> Service {
        Service::create_in(name, image, &["--mode", "global"], NETWORK, extra)
    }

    fn create_in(name: &str, image: &str, mode: &[&str], network: &str, extra: &[&str]) -> Service {
        let service = Service { name: name.to_owned() };
        let mut args = vec![
            "service",
            "create",
            "--quiet",
            "--detach=false",
            "--no-resolve-image",
            "--name",
            name,
            "--label",
            "planrun-test=1",
        ];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["--network", network, "--endpoint-mode", "dnsrr"]);
        args.extend_from_slice(HEALTH);
        args.extend_from_slice(extra);
        args.push(image);
        docker(&args);
        service
    }

    /// The service's version index (any write to it, by anyone, moves it).
    pub fn version(&self) -> u64 {
        docker(&["service", "inspect", "--format", "{{.Version.Index}}", &self.name]).parse().expect("an index")
    }

    /// The service's spec as `docker service inspect` shows it.
    pub fn spec(&self) -> serde_json::Value {
        let out = docker(&["service", "inspect", &self.name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect is JSON");
        v[0]["Spec"].clone()
    }

    /// The image the spec names, without a digest.
    pub fn image(&self) -> String {
        let image = self.spec()["TaskTemplate"]["ContainerSpec"]["Image"].as_str().unwrap_or_default().to_owned();
        image.split('@').next().unwrap_or_default().to_owned()
    }

    /// Tasks that should be running: (image, state) each.
    pub fn running_tasks(&self) -> Vec<(String, String)> {
        let out = docker(&[
            "service",
            "ps",
            &self.name,
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.Image}} {{.CurrentState}}",
        ]);
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(i, s)| (i.split('@').next().unwrap_or_default().to_owned(), s.to_owned()))
            .collect()
    }

    /// Tasks that should be running, by node: (node id, image) each, sorted.
    pub fn tasks_by_node(&self) -> Vec<(String, String)> {
        let out = docker(&[
            "service",
            "ps",
            &self.name,
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.Node}} {{.Image}}",
        ]);
        let mut tasks: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, i)| (n.to_owned(), i.split('@').next().unwrap_or_default().to_owned()))
            .collect();
        tasks.sort();
        tasks
    }

    /// Waits (bounded) until `n` tasks run `image` and every container of the service is healthy.
    pub fn assert_converged(&self, image: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let tasks = self.running_tasks();
            let on_image = tasks.iter().filter(|(i, s)| i == image && s.starts_with("Running")).count();
            let healthy = healthy_containers(&self.name);
            if tasks.len() == n && on_image == n && healthy == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not converge to {n} healthy tasks of {image}: {tasks:?}, {healthy} healthy",
                self.name
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["service", "rm", &self.name]).output();
    }
}

/// The nodes a global service without constraints runs on: those ready and active.
pub fn active_nodes() -> Vec<String> {
    let out = docker(&["node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}}"]);
    let mut nodes: Vec<String> = out
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [host, "Ready", "Active"] => Some(host.to_owned()),
            _ => None,
        })
        .collect();
    nodes.sort();
    nodes
}

/// Containers of a service whose health check passes.
pub fn healthy_containers(service: &str) -> usize {
    let label = format!("label=com.docker.swarm.service.name={service}");
    let out = Command::new("docker")
        .args(["ps", "--filter", &label, "--filter", "health=healthy", "--format", "{{.ID}}"])
        .output()
        .expect("docker ps runs");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A temporary directory holding a plan, its state dir and anything else a test writes.
pub struct Workdir {
    /// The directory.
    pub dir: PathBuf,
    /// The stacks of the plans written here: what the swarm keeps of their runs is removed
    /// with the directory.
    stacks: std::sync::Mutex<Vec<String>>,
}

impl Workdir {
    /// A fresh directory under the system temp dir.
    pub fn new(name: &str) -> Workdir {
        let dir = std::env::temp_dir().join(unique(name));
        std::fs::create_dir_all(&dir).unwrap();
        Workdir { dir, stacks: std::sync::Mutex::default() }
    }

    /// Writes `plan.kdl` and returns its path.
    pub fn plan(&self, text: &str) -> PathBuf {
        let path = self.dir.join("plan.kdl");
        std::fs::write(&path, text).unwrap();
        if let Some(stack) = text.lines().find_map(|l| l.trim().strip_prefix("stack ")) {
            self.stacks.lock().unwrap().push(stack.trim().to_owned());
        }
        path
    }

    /// `planrun apply PLAN` with this directory's state dir and JSON output.
    pub fn apply(&self, plan: &Path, extra: &[&str]) -> Run {
        let mut args = vec!["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir"];
        let state = self.dir.join("state");
        args.push(state.to_str().unwrap());
        args.extend_from_slice(extra);
        run(&args)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        for stack in self.stacks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            forget_stack(stack);
        }
    }
}

/// Removes what the swarm keeps of a stack's runs: its state objects and its last-run record
/// (not its lock: a test that leaves one says so with [`LockGuard`]).
pub fn forget_stack(stack: &str) {
    let listed = std::process::Command::new("docker")
        .args(["config", "ls", "-q", "--filter", &format!("label=planrun.state.stack={stack}")])
        .output();
    let mut names: Vec<String> = listed
        .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    names.push(format!("planrun-run-{stack}"));
    let _ = std::process::Command::new("docker").args(["config", "rm"]).args(&names).output();
}

/// Whether the swarm holds a question (`planrun-wait-STACK`) or an answer of a run of `stack`.
pub fn question_left(stack: &str) -> bool {
    [format!("planrun-wait-{stack}"), format!("planrun-answer-{stack}")].iter().any(|name| {
        std::process::Command::new("docker")
            .args(["config", "inspect", name])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// The number of state objects the swarm keeps of a stack's runs.
pub fn state_objects(stack: &str) -> usize {
    std::process::Command::new("docker")
        .args(["config", "ls", "-q", "--filter", &format!("label=planrun.state.stack={stack}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().count())
        .unwrap_or(0)
}

/// The planrun binary.
pub fn planrun() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planrun-e2e"));
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE").env_remove("FORCE_COLOR");
    cmd
}

/// One finished planrun invocation with its JSON events.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// stderr (summary, errors).
    pub stderr: String,
    /// Events printed with `--output json`.
    pub events: Vec<serde_json::Value>,
    /// stdout as printed (empty where only events were kept).
    pub stdout: String,
}

/// Runs planrun with `args` and collects its output.
pub fn run(args: &[&str]) -> Run {
    let out: Output = planrun().args(args).output().expect("planrun runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        events,
        stdout: stdout.into_owned(),
    };
    eprintln!("planrun {} -> exit {}\n{}", args.join(" "), run.code, run.stderr);
    run
}

impl Run {
    /// Events of one kind.
    pub fn events_of(&self, kind: &str) -> Vec<&serde_json::Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// The outcome in the run-finished event.
    pub fn outcome(&self) -> String {
        self.events_of("run-finished")
            .last()
            .map(|e| e["outcome"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    }
}

/// Removes a stack's lock config on drop, in case a test fails before unlocking, and the run
/// record planrun keeps in the swarm (`planrun-run-STACK`).
pub struct LockGuard(pub String);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ =
            std::process::Command::new("docker").args(["config", "rm", &format!("planrun-lock-{}", self.0)]).output();
        forget_stack(&self.0);
    }
}

pub fn lock_exists(stack: &str) -> bool {
    std::process::Command::new("docker")
        .args(["config", "inspect", &format!("planrun-lock-{stack}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A plan with one fast rolling step per (step, service, image), each step after the previous
/// one when `chained`, plus extra text (gates) inside the plan.
pub fn rolling_plan(stack: &str, steps: &[(&str, &str, &str, &str)], chained: bool, extra: &str) -> String {
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

/// A `planrun apply` running in the background, its JSON events read as they come.
pub struct Background {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    /// Every event read so far.
    pub seen: Vec<serde_json::Value>,
}

impl Background {
    /// Starts `planrun apply PLAN --output json` with this directory's state dir, stdin closed.
    pub fn apply(work: &Workdir, plan: &Path, extra: &[&str]) -> Background {
        let state = work.dir.join("state");
        let mut child = planrun()
            .args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir", state.to_str().unwrap()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Background { child, lines, seen: Vec::new() }
    }

    /// Reads events until one of `kind` (about `step`, unless empty) arrives; returns it. The
    /// run itself is bounded by its plan's deadlines.
    pub fn wait_for(&mut self, kind: &str, step: &str) -> serde_json::Value {
        for line in self.lines.by_ref() {
            let e: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap_or_default();
            self.seen.push(e.clone());
            if e["event"] == kind && (step.is_empty() || e["step"] == step) {
                return e;
            }
        }
        panic!("planrun ended before `{kind}` of `{step}`: {:#?}", self.seen);
    }

    /// Reads events until one that `wanted` holds for arrives; returns it.
    pub fn wait_until(&mut self, what: &str, wanted: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        for line in self.lines.by_ref() {
            let e: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap_or_default();
            self.seen.push(e.clone());
            if wanted(&e) {
                return e;
            }
        }
        panic!("planrun ended before {what}: {:#?}", self.seen);
    }

    /// Sends `signal` (`INT`, `TERM`, `KILL`) to it.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    /// Waits for it to end; everything it printed.
    pub fn finish(mut self) -> Run {
        for line in self.lines.by_ref() {
            if let Ok(e) = serde_json::from_str(&line.unwrap_or_default()) {
                self.seen.push(e);
            }
        }
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut stderr).unwrap();
        eprintln!("planrun apply (background) -> exit {:?}\n{stderr}", status.code());
        Run { code: status.code().unwrap_or(-1), stderr, events: self.seen, stdout: String::new() }
    }
}

/// The command `planrun` printed on the line after `intro`, run as it is written (split at
/// spaces: the tests' paths have none).
pub fn run_printed(stderr: &str, intro: &str) -> Run {
    let line = stderr
        .lines()
        .skip_while(|l| !l.contains(intro))
        .nth(1)
        .unwrap_or_else(|| panic!("no line after `{intro}` in:\n{stderr}"))
        .trim()
        .to_owned();
    let argv: Vec<&str> = line.split(' ').collect();
    assert_eq!(argv[0], "planrun", "a planrun command: {line}");
    run(&argv[1..])
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What a zero-downtime probe saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Requests made.
    pub requests: u64,
    /// Requests that failed (connection errors, timeouts, non-2xx).
    pub failed: u64,
    /// Answers per version (`X-App-Version`).
    pub versions: std::collections::BTreeMap<String, u64>,
    /// Per request: (host uptime seconds, answered version or None when it failed).
    pub log: Vec<(f64, Option<String>)>,
    /// Failed requests: (host uptime seconds, why).
    pub failures: Vec<(f64, String)>,
}

impl Seen {
    /// The versions that answered after `since` (uptime seconds).
    pub fn versions_after(&self, since: f64) -> std::collections::BTreeSet<String> {
        self.log.iter().filter(|(t, _)| *t >= since).filter_map(|(_, v)| v.clone()).collect()
    }
}

/// This host's uptime in seconds (the probe log's clock).
pub fn uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

/// A zero-downtime probe (`tests/env/probe`): a container on the overlay network requesting a
/// URL every ~20 ms until stopped (at most `max_seconds`).
pub struct Probe {
    child: Option<Child>,
    name: String,
    log: PathBuf,
}

impl Probe {
    /// Starts probing `url` and waits (bounded) for its first request.
    pub fn start(url: &str, max_seconds: u32) -> Probe {
        Probe::start_on(NETWORK, url, max_seconds, 20)
    }

    /// Like [`Probe::start`], from a container on `network`, a request every ~`interval_ms`.
    pub fn start_on(network: &str, url: &str, max_seconds: u32, interval_ms: u32) -> Probe {
        let name = unique("probe");
        let log = std::env::temp_dir().join(format!("{name}.log"));
        let child = Command::new(repo().join("tests/env/probe"))
            .args(["-n", "100000", "-d", &max_seconds.to_string(), "-i", &interval_ms.to_string(), "-N", &name, "-l"])
            .arg(&log)
            .arg(url)
            .env("PROBE_NETWORK", network)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tests/env/probe runs");
        let probe = Probe { child: Some(child), name, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::metadata(&probe.log).map(|m| m.len()).unwrap_or(0) == 0 {
            assert!(Instant::now() < deadline, "the probe made no request within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        probe
    }

    /// Stops it once it has made at least 500 requests (waiting at most a minute more) and
    /// returns what it saw.
    pub fn stop(mut self) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline
            && std::fs::read_to_string(&self.log).map(|t| t.lines().count()).unwrap_or(0) < 500
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        self.collect()
    }

    /// Waits for a probe started with a fixed window (`max_seconds`) to end by itself (at most
    /// two minutes more) and returns what it saw.
    pub fn finish(mut self) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.child.as_mut().unwrap().try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        self.collect()
    }

    /// Stops the probe if it still runs, and reads its summary and log.
    fn collect(&mut self) -> Seen {
        let _ = Command::new(repo().join("tests/env/probe")).args(["-s", &self.name]).status();
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        let summary = String::from_utf8_lossy(&out.stdout).to_string();
        let field = |key: &str| -> String {
            summary.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}="))).unwrap_or("").to_owned()
        };
        let mut seen = Seen {
            requests: field("requests").parse().unwrap_or(0),
            failed: field("failed").parse().unwrap_or(0),
            ..Seen::default()
        };
        for pair in field("versions").split(',').filter(|p| !p.is_empty()) {
            if let Some((v, n)) = pair.split_once(':') {
                seen.versions.insert(v.to_owned(), n.parse().unwrap_or(0));
            }
        }
        for line in std::fs::read_to_string(&self.log).unwrap_or_default().lines() {
            let mut words = line.split_whitespace();
            let (Some(t), Some(kind)) = (words.next(), words.next()) else { continue };
            let t: f64 = t.parse().unwrap_or(0.0);
            let version = (kind == "OK").then(|| words.next().unwrap_or("?").to_owned());
            if version.is_none() {
                seen.failures.push((t, words.collect::<Vec<_>>().join(" ")));
            }
            seen.log.push((t, version));
        }
        eprintln!("probe {}: {} {}", self.name, summary.trim(), String::from_utf8_lossy(&out.stderr).trim());
        seen
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("docker").args(["rm", "-f", &self.name]).output();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The test nginx router (`planrun-test/router:1`), 2 replicas on the overlay network, its
/// config rendered from tests/env/router/nginx.conf.template for `upstream`; removed on drop
/// with every config named after it.
pub struct Router {
    /// The router service's name.
    pub name: String,
}

impl Router {
    /// A router (named from `prefix`) in front of `upstream` with one task on a free host port
    /// of 127.0.0.1 (never updated by the test), once `GET path` through it answers 200.
    pub fn on_host_port(prefix: &str, upstream: &str, path: &str) -> (Router, u16) {
        let router = Router::create(&unique(prefix), upstream);
        let port = free_port();
        #[rustfmt::skip]
        docker(&[
            "service", "update", "--quiet", "--detach=false", "--replicas", "1",
            "--publish-add", &format!("mode=host,published={port},target=8080"), &router.name,
        ]);
        let until = Instant::now() + Duration::from_secs(60);
        while local_status(port, path) != Some(200) {
            assert!(Instant::now() < until, "{upstream} through the router on 127.0.0.1:{port} never answered 200");
            std::thread::sleep(Duration::from_millis(200));
        }
        (router, port)
    }

    /// The template planrun renders for the router.
    pub fn template() -> String {
        std::fs::read_to_string(repo().join("tests/env/router/nginx.conf.template")).expect("the router template")
    }

    /// The Caddyfile template planrun renders for the Caddy router (`switch caddy`).
    pub fn caddy_template() -> String {
        std::fs::read_to_string(repo().join("tests/env/caddy/Caddyfile.template")).expect("the caddy template")
    }

    /// Creates the nginx router sending traffic to `upstream`, with a config planrun did not write.
    pub fn create(name: &str, upstream: &str) -> Router {
        Router::create_with(
            name,
            &Router::template().replace("${upstream}", upstream),
            "/etc/nginx/nginx.conf",
            "planrun-test/router:1",
            &[],
        )
    }

    /// Creates the Caddy router (planrun-test/caddy-router:1) sending traffic to `upstream`, with
    /// `net.ipv4.tcp_migrate_req=1` as docs/language.md asks (without it, Linux resets a
    /// connection waiting in the listening socket Caddy closes when it loads a config).
    pub fn create_caddy(name: &str, upstream: &str) -> Router {
        let rendered = Router::caddy_template().replace("${upstream}", upstream);
        let sysctl = ["--sysctl", "net.ipv4.tcp_migrate_req=1"];
        Router::create_with(name, &rendered, "/etc/caddy/Caddyfile", "planrun-test/caddy-router:1", &sysctl)
    }

    fn create_with(name: &str, rendered: &str, target: &str, image: &str, extra: &[&str]) -> Router {
        let router = Router { name: name.to_owned() };
        let config = format!("{name}-initial");
        let mut create = Command::new("docker")
            .args(["config", "create", "--label", "planrun-test=1", &config, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut create.stdin.take().unwrap(), rendered.as_bytes()).unwrap();
        assert!(create.wait().unwrap().success(), "docker config create {config}");
        #[rustfmt::skip]
        docker(&[
            "service", "create", "--quiet", "--detach=false", "--no-resolve-image", "--name", name,
            "--label", "planrun-test=1", "--replicas", "2", "--network", NETWORK, "--endpoint-mode", "dnsrr",
            "--config", &format!("source={config},target={target}"),
            "--health-cmd", "timeout 2 wget -q -O- http://127.0.0.1:8080/router-health",
            "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "1",
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .chain([image])
        .collect::<Vec<_>>());
        router
    }

    /// The config the router mounts now.
    pub fn config(&self) -> String {
        docker(&[
            "service",
            "inspect",
            "--format",
            "{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}}{{end}}",
            &self.name,
        ])
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["service", "rm", &self.name]).output();
        // Its configs go once no task uses them (a removed service's tasks stop in a few seconds).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new("docker").args(["config", "ls", "--format", "{{.Name}}"]).output().unwrap();
            let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|n| n.starts_with(&self.name))
                .map(str::to_owned)
                .collect();
            if names.is_empty() || Instant::now() > deadline {
                break;
            }
            let _ = Command::new("docker").arg("config").arg("rm").args(&names).output();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// The status of `GET path` on 127.0.0.1:`port`, if it answered (connect and read bounded to
/// 2 s each).
pub fn local_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A free port on 127.0.0.1 (a router publishes it in host mode).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Takes the deploy lock of `stack` as another run would hold it (run `r-other`, pid 4242 on
/// runner-7, started 2026-11-26): planrun then refuses to apply. [`LockGuard`] removes it.
pub fn hold_lock_as_another_run(stack: &str) {
    let lock = format!("planrun-lock-{stack}");
    #[rustfmt::skip]
    let mut create = Command::new("docker")
        .args([
            "config", "create",
            "--label", "planrun.lock.holder=ci@runner-7",
            "--label", "planrun.lock.host=runner-7",
            "--label", "planrun.lock.run-id=r-other",
            "--label", "planrun.lock.pid=4242",
            "--label", "planrun.lock.started=2026-11-26T10:00:00Z",
            &lock, "-",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // A config needs some data; planrun's own lock holds the holder as JSON.
    std::io::Write::write_all(&mut create.stdin.take().unwrap(), b"{}").unwrap();
    assert!(create.wait().unwrap().success(), "docker config create {lock}");
}
