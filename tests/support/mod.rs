//! What the end-to-end tests share: running planrun, and services on the real swarm that are
//! named uniquely and removed when the test ends, pass or fail.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
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

/// `docker ARGS`, panicking with its stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
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
        let service = Service { name: name.to_owned() };
        let replicas = replicas.to_string();
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
            "--replicas",
            &replicas,
            "--network",
            NETWORK,
            "--endpoint-mode",
            "dnsrr",
        ];
        args.extend_from_slice(HEALTH);
        args.push(image);
        docker(&args);
        service
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
}

impl Workdir {
    /// A fresh directory under the system temp dir.
    pub fn new(name: &str) -> Workdir {
        let dir = std::env::temp_dir().join(unique(name));
        std::fs::create_dir_all(&dir).unwrap();
        Workdir { dir }
    }

    /// Writes `plan.kdl` and returns its path.
    pub fn plan(&self, text: &str) -> PathBuf {
        let path = self.dir.join("plan.kdl");
        std::fs::write(&path, text).unwrap();
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
    }
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
