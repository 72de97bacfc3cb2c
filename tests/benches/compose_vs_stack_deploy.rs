//! examples/compose/docker-compose.yml (three services, one global; two networks, a config, a
//! secret) through `docker stack deploy` and through planrun's `compose` step, alternately, for
//! two update configs; prints each wall time and per config the medians:
//!
//! - `up`: a new stack until every service runs all its tasks (docker: the deploy, then polling
//!   `docker stack services` until every count is full; planrun: `apply` returns);
//! - `update`: WEB_TAG=v2 until web's update has completed (docker: polling its UpdateStatus);
//! - `bad`: from web on v2, WEB_TAG=v1 and API_TAG=never-healthy: how each tool ends. docker
//!   exits 0 at once; Swarm rolls api back by itself while web stays changed (polled until api's
//!   rollback has completed); planrun exits 1 with web back on v2 and api on v1.
//!
//! Needs the local swarm (tests/env/swarm-up). Run:
//!   cargo bench -p planrun-tests --bench compose_vs_stack_deploy
//! Env: PLANRUN_BENCH_ROUNDS (rounds per config, default 3).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// An update config for every service of the file: (name, replacement of the file's x-update).
const CONFIGS: &[(&str, &str)] = &[
    ("example: p1-d1-m5-start", ""),
    (
        "p2-d0-m1-stop",
        "x-update: &update\n  parallelism: 2\n  order: stop-first\n  failure_action: rollback\n  monitor: 1s\n",
    ),
];

fn docker(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("docker").args(args).envs(env.iter().copied()).output().expect("docker runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn planrun() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_planrun-e2e"))
}

/// A directory with the compose file (its x-update replaced by `update` when not empty) and a
/// plan for `stack`.
fn workdir(stack: &str, update: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("planrun-bench-{stack}"));
    std::fs::create_dir_all(dir.join("compose")).unwrap();
    for f in ["docker-compose.yml", "app-config.txt", "api-token.txt"] {
        std::fs::copy(repo.join("examples/compose").join(f), dir.join("compose").join(f)).unwrap();
    }
    if !update.is_empty() {
        let path = dir.join("compose/docker-compose.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find("x-update: &update").unwrap();
        let end = start + text[start..].find("\n\n").unwrap() + 1;
        std::fs::write(&path, format!("{}{}{}", &text[..start], update, &text[end..])).unwrap();
    }
    let plan = std::fs::read_to_string(repo.join("examples/compose.kdl"))
        .unwrap()
        .replace("stack shop", &format!("stack {stack}"))
        .replace("swarm shop_", &format!("swarm {stack}_"));
    std::fs::write(dir.join("plan.kdl"), plan).unwrap();
    dir
}

fn apply(dir: &Path, env: &[(&str, &str)]) -> (f64, i32) {
    let started = Instant::now();
    let status = Command::new(planrun())
        .args(["apply", dir.join("plan.kdl").to_str().unwrap(), "--output", "json", "--state-dir"])
        .arg(dir.join("state"))
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("planrun runs");
    (started.elapsed().as_secs_f64(), status.code().unwrap_or(-1))
}

fn stack_deploy(dir: &Path, stack: &str, env: &[(&str, &str)]) -> bool {
    let file = dir.join("compose/docker-compose.yml");
    docker(&["stack", "deploy", "--resolve-image", "never", "-c", file.to_str().unwrap(), stack], env).0
}

/// Polls (every 100 ms, at most 5 minutes) until `done` says so.
fn until(mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(300) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn all_running(stack: &str) -> bool {
    let (_, out) = docker(&["stack", "services", stack, "--format", "{{.Replicas}}"], &[]);
    let counts: Vec<&str> = out.lines().collect();
    counts.len() == 3
        && counts.iter().all(|c| {
            let (a, b) = c.split_once('/').unwrap_or(("0", "1"));
            a == b && a != "0"
        })
}

fn update_state(service: &str) -> String {
    docker(&["service", "inspect", service, "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"], &[])
        .1
        .trim()
        .to_owned()
}

fn remove(stack: &str) {
    docker(&["stack", "rm", stack], &[]);
    until(|| {
        docker(&["network", "ls", "-q", "--filter", &format!("label=com.docker.stack.namespace={stack}")], &[])
            .1
            .trim()
            .is_empty()
    });
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn main() {
    let rounds: usize = std::env::var("PLANRUN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    // web changes too (back to v1), so a half-updated stack shows.
    let bad = [("WEB_TAG", "v1"), ("API_TAG", "never-healthy")];
    for (name, update) in CONFIGS {
        let mut times: [[Vec<f64>; 3]; 2] = Default::default();
        for round in 0..rounds {
            let pid = std::process::id();
            // docker stack deploy
            let stack = format!("bench{pid}d{round}");
            let dir = workdir(&stack, update);
            let started = Instant::now();
            assert!(stack_deploy(&dir, &stack, &[]));
            assert!(until(|| all_running(&stack)), "docker: the stack never came up");
            let up = started.elapsed().as_secs_f64();
            let started = Instant::now();
            assert!(stack_deploy(&dir, &stack, &[("WEB_TAG", "v2")]));
            assert!(until(|| update_state(&format!("{stack}_web")) == "completed"));
            let updated = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let exit_zero = stack_deploy(&dir, &stack, &bad);
            until(|| update_state(&format!("{stack}_api")) == "rollback_completed");
            let bad_time = started.elapsed().as_secs_f64();
            let web = docker(
                &[
                    "service",
                    "inspect",
                    &format!("{stack}_web"),
                    "--format",
                    "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                ],
                &[],
            )
            .1;
            println!(
                "{name}: docker stack deploy round {round}: up {up:.1}s, update {updated:.1}s, bad release: exit {} \
                 after which api rolled back in {bad_time:.1}s, web on {}",
                if exit_zero { 0 } else { 1 },
                web.trim()
            );
            times[0][0].push(up);
            times[0][1].push(updated);
            times[0][2].push(bad_time);
            remove(&stack);
            let _ = std::fs::remove_dir_all(&dir);

            // planrun
            let stack = format!("bench{pid}p{round}");
            let dir = workdir(&stack, update);
            let (up, code_up) = apply(&dir, &[]);
            let (updated, code_update) = apply(&dir, &[("WEB_TAG", "v2")]);
            let (bad_time, code_bad) = apply(&dir, &bad);
            let web = docker(
                &[
                    "service",
                    "inspect",
                    &format!("{stack}_web"),
                    "--format",
                    "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                ],
                &[],
            )
            .1;
            println!(
                "{name}: planrun round {round}: up {up:.1}s (exit {code_up}), update {updated:.1}s (exit {code_update}), \
                 bad release: exit {code_bad} after {bad_time:.1}s, web on {}",
                web.trim()
            );
            times[1][0].push(up);
            times[1][1].push(updated);
            times[1][2].push(bad_time);
            remove(&stack);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let [d, p] = times;
        println!(
            "{name}: medians over {rounds} rounds: up docker {:.1}s planrun {:.1}s; update docker {:.1}s planrun {:.1}s; \
             bad release docker {:.1}s (exit 0, stack half updated) planrun {:.1}s (exit 1, whole stack back)",
            median(d[0].clone()),
            median(p[0].clone()),
            median(d[1].clone()),
            median(p[1].clone()),
            median(d[2].clone()),
            median(p[2].clone()),
        );
    }
}
