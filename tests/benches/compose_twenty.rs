//! A compose stack of 20 services, each with a named volume, a config and a secret (and a
//! health check), deployed through `docker stack deploy --detach=false` and through planrun's
//! `compose` step, alternately (the first tool of each round alternates too). Prints every wall
//! time and, per update config, the medians and planrun's share of docker's time:
//!
//! - `up`: a new stack until every task runs (docker: `--detach=false` returns; planrun: `apply`
//!   returns);
//! - `update`: TAG=v2 for every service (a release of the whole stack), the same way.
//!
//! Needs the local swarm (tests/env/swarm-up). Run:
//!   cargo bench -p planrun-tests --bench compose_twenty
//! Env: PLANRUN_BENCH_ROUNDS (rounds per config, default 3), PLANRUN_BENCH_SERVICES (default 20).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Update configs every service gets: (name, `deploy.update_config`).
const CONFIGS: &[(&str, &str)] = &[
    ("p1-d0-m2-start", "{parallelism: 1, order: start-first, failure_action: rollback, monitor: 2s}"),
    ("p1-d1-m5-stop", "{parallelism: 1, delay: 1s, order: stop-first, failure_action: pause, monitor: 5s}"),
];

/// The compose file: `services` services named s00.., each mounting its own volume and the
/// shared config and secret.
fn compose(services: usize, update: &str) -> String {
    let mut f = String::from("services:\n");
    for i in 0..services {
        let _ = write!(
            f,
            "  s{i:02}:
    image: planrun-test/app:${{TAG:-v1}}
    healthcheck:
      test: [\"CMD-SHELL\", \"timeout 2 wget -q -O- http://127.0.0.1:8080/health\"]
      interval: 1s
      timeout: 3s
      retries: 1
    volumes:
      - data{i:02}:/data
    configs:
      - source: settings
        target: /etc/settings.txt
    secrets: [token]
    deploy:
      endpoint_mode: dnsrr
      update_config: {update}
"
        );
    }
    f.push_str("volumes:\n");
    for i in 0..services {
        let _ = writeln!(f, "  data{i:02}: {{}}");
    }
    f.push_str("configs:\n  settings:\n    file: ./settings.txt\nsecrets:\n  token:\n    file: ./token.txt\n");
    f
}

fn docker(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("docker").args(args).envs(env.iter().copied()).output().expect("docker runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn workdir(stack: &str, services: usize, update: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("planrun-bench-{stack}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), compose(services, update)).unwrap();
    std::fs::write(dir.join("settings.txt"), "a=1\n").unwrap();
    std::fs::write(dir.join("token.txt"), "bench-token\n").unwrap();
    let plan = format!(
        "plan twenty {{\n    stack {stack}\n    on-failure rollback\n    compose stack {{\n        file \"docker-compose.yml\"\n        deadline \"10m\"\n    }}\n}}\n"
    );
    std::fs::write(dir.join("plan.kdl"), plan).unwrap();
    dir
}

/// `planrun apply`: seconds and exit code.
fn apply(dir: &Path, env: &[(&str, &str)]) -> (f64, i32) {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_planrun-e2e"))
        .args(["apply", dir.join("plan.kdl").to_str().unwrap(), "--output", "json", "--state-dir"])
        .arg(dir.join("state"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("planrun runs");
    (started.elapsed().as_secs_f64(), status.code().unwrap_or(-1))
}

/// `docker stack deploy --detach=false`: seconds and whether it exited 0.
fn stack_deploy(dir: &Path, stack: &str, env: &[(&str, &str)]) -> (f64, bool) {
    let started = Instant::now();
    let file = dir.join("docker-compose.yml");
    let ok = Command::new("docker")
        .args(["stack", "deploy", "--detach=false", "--resolve-image", "never", "-c", file.to_str().unwrap(), stack])
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("docker runs")
        .success();
    (started.elapsed().as_secs_f64(), ok)
}

/// Every service of `stack` runs all its tasks on `image`.
fn converged(stack: &str, services: usize, image: &str) -> bool {
    let (_, out) = docker(&["stack", "services", stack, "--format", "{{.Replicas}} {{.Image}}"], &[]);
    let lines: Vec<&str> = out.lines().collect();
    lines.len() == services && lines.iter().all(|l| l.starts_with("1/1 ") && l.ends_with(image))
}

fn remove(stack: &str) {
    docker(&["stack", "rm", stack], &[]);
    let label = format!("label=com.docker.stack.namespace={stack}");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        for v in docker(&["volume", "ls", "-q", "--filter", &label], &[]).1.split_whitespace() {
            docker(&["volume", "rm", v], &[]);
        }
        let networks = docker(&["network", "ls", "-q", "--filter", &label], &[]).1;
        let volumes = docker(&["volume", "ls", "-q", "--filter", &label], &[]).1;
        if networks.trim().is_empty() && volumes.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for c in [format!("planrun-lock-{stack}"), format!("planrun-run-{stack}")] {
        docker(&["config", "rm", &c], &[]);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

/// Deploys and updates a fresh stack with one tool; (up, update) seconds.
fn round(tool: &str, stack: &str, services: usize, update: &str) -> (f64, f64) {
    let dir = workdir(stack, services, update);
    let (up, update_time) = if tool == "docker" {
        let (up, ok) = stack_deploy(&dir, stack, &[]);
        assert!(ok, "docker stack deploy failed");
        let (updated, ok) = stack_deploy(&dir, stack, &[("TAG", "v2")]);
        assert!(ok, "docker stack deploy (update) failed");
        (up, updated)
    } else {
        let (up, code) = apply(&dir, &[]);
        assert_eq!(code, 0, "planrun apply failed");
        let (updated, code) = apply(&dir, &[("TAG", "v2")]);
        assert_eq!(code, 0, "planrun apply (update) failed");
        (up, updated)
    };
    // Checked after the clock stopped; Swarm's service list lags its tasks by a moment.
    let started = Instant::now();
    while !converged(stack, services, "planrun-test/app:v2") {
        assert!(started.elapsed() < Duration::from_secs(60), "{tool}: not every service runs v2");
        std::thread::sleep(Duration::from_millis(250));
    }
    remove(stack);
    let _ = std::fs::remove_dir_all(&dir);
    (up, update_time)
}

fn main() {
    let rounds: usize = std::env::var("PLANRUN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let services: usize = std::env::var("PLANRUN_BENCH_SERVICES").ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let pid = std::process::id();
    for (name, update) in CONFIGS {
        let mut times: [[Vec<f64>; 2]; 2] = Default::default();
        for r in 0..rounds {
            let order: [(usize, &str); 2] =
                if r % 2 == 0 { [(0, "docker"), (1, "planrun")] } else { [(1, "planrun"), (0, "docker")] };
            for (slot, tool) in order {
                let stack = format!("b{pid}{}{r}", &tool[..1]);
                let (up, updated) = round(tool, &stack, services, update);
                println!("{name}: {tool} round {r}: up {up:.1}s, update {updated:.1}s");
                times[slot][0].push(up);
                times[slot][1].push(updated);
            }
        }
        let [d, p] = times;
        let (du, pu, dd, pd) = (median(d[0].clone()), median(p[0].clone()), median(d[1].clone()), median(p[1].clone()));
        println!(
            "{name}: {services} services, medians over {rounds} rounds: up docker {du:.1}s planrun {pu:.1}s ({:.2}x); \
             update docker {dd:.1}s planrun {pd:.1}s ({:.2}x)",
            pu / du,
            pd / dd
        );
    }
}
