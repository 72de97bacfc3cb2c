//! How many Docker API requests a rolling update costs the managers: the same 3-replica update
//! through `docker service update --detach=false` and through `planrun apply`, each through the
//! recording proxy of tests/support/docker_proxy.rs; then `services` such services updated at
//! once, by as many docker CLIs side by side and by one plan with a rolling step per service.
//! Prints each run's requests (all, and by kind), wall time, and requests per service.
//!
//! Needs the local swarm (tests/env/swarm-up). Run:
//!   cargo bench -p planrun-tests --bench api_requests
//! Env: PLANRUN_BENCH_ROUNDS (updates per tool, default 2), PLANRUN_BENCH_SERVICES (services
//!      updated at once in the second part, default 3).

#[allow(dead_code)]
#[path = "../support/docker_proxy.rs"]
mod docker_proxy;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use docker_proxy::{DockerProxy, Recorded};

/// The update config measured in docs/benchmarks.md's apply-vs-docker table (p1-d1-m5-start).
const FLAGS: &[&str] = &[
    "--update-parallelism",
    "1",
    "--update-delay",
    "1s",
    "--update-order",
    "start-first",
    "--update-failure-action",
    "rollback",
    "--update-monitor",
    "5s",
    "--update-max-failure-ratio",
    "0",
];

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

fn create(service: &str) {
    let mut args = vec![
        "service",
        "create",
        "--quiet",
        "--detach=false",
        "--no-resolve-image",
        "--name",
        service,
        "--label",
        "planrun-test=1",
        "--replicas",
        "3",
        "--network",
        "planrun-test",
        "--endpoint-mode",
        "dnsrr",
        "--health-cmd",
        "timeout 2 wget -q -O- http://127.0.0.1:8080/health",
        "--health-interval",
        "1s",
        "--health-timeout",
        "3s",
        "--health-retries",
        "1",
    ];
    args.extend(FLAGS);
    args.push("planrun-test/app:v1");
    docker(&args);
}

/// A plan with one rolling step per service, all at once.
fn plan(stack: &str, services: &[String]) -> String {
    let mut text = format!("plan requests {{\n    stack {stack}\n    var image default=\"planrun-test/app:v2\"\n");
    for (i, service) in services.iter().enumerate() {
        text.push_str(&format!(
            "    rolling web{i} {{\n        service {service}\n        image \"${{image}}\"\n        parallelism 1\n        \
             delay \"1s\"\n        order start-first\n        failure-action rollback\n        monitor \"5s\"\n        \
             deadline \"10m\"\n    }}\n"
        ));
    }
    text.push_str("}\n");
    text
}

/// What a request is about, for the breakdown.
fn kind(r: &Recorded) -> String {
    let path = r.path.split('?').next().unwrap_or_default();
    let mut parts = path.trim_start_matches('/').split('/');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    match (first, second) {
        (_, Some("json")) => format!("{} {first} (list)", r.method),
        ("services", Some("create" | "update")) | ("configs", Some("create")) => {
            format!("{} {first}/{}", r.method, second.unwrap_or_default())
        }
        ("services", Some(_)) if parts.next() == Some("update") => format!("{} services/ID/update", r.method),
        (_, Some(_)) => format!("{} {first}/ID", r.method),
        _ => format!("{} {first}", r.method),
    }
}

fn summary(requests: &[Recorded]) -> String {
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for r in requests {
        *by_kind.entry(kind(r)).or_default() += 1;
    }
    by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

/// Updates every service in `services` to `image` with `tool`, through `proxy`; returns (requests, seconds).
fn update(
    tool: &str,
    proxy: &DockerProxy,
    services: &[String],
    image: &str,
    dir: &std::path::Path,
) -> (Vec<Recorded>, f64) {
    proxy.clear();
    let started = Instant::now();
    if tool == "docker" {
        let host = proxy.host();
        let children: Vec<_> = services
            .iter()
            .map(|service| {
                let mut args = vec!["--host", host.as_str()];
                args.extend(["service", "update", "--quiet", "--detach=false", "--no-resolve-image", "--image", image]);
                args.extend(FLAGS);
                args.push(service);
                Command::new("docker").args(&args).stdout(std::process::Stdio::null()).spawn().expect("docker runs")
            })
            .collect();
        for mut child in children {
            assert!(child.wait().expect("docker ends").success(), "docker service update failed");
        }
    } else {
        let var = format!("image={image}");
        let out = Command::new(env!("CARGO_BIN_EXE_planrun-e2e"))
            .env("DOCKER_HOST", proxy.host())
            .args(["apply", dir.join("plan.kdl").to_str().unwrap(), "--output", "json", "--var", &var, "--state-dir"])
            .arg(dir.join("state"))
            .output()
            .expect("planrun runs");
        assert!(out.status.success(), "planrun apply failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let secs = started.elapsed().as_secs_f64();
    // Let the last streams close so that every request is recorded.
    std::thread::sleep(std::time::Duration::from_millis(300));
    (proxy.requests(), secs)
}

/// Updates `count` services back and forth `rounds` times with each tool; prints every run.
fn measure(label: &str, count: usize, rounds: usize) {
    let stack = format!("prreq{}x{count}", std::process::id());
    let services: Vec<String> = (0..count).map(|i| format!("{stack}_s{i}")).collect();
    for service in &services {
        create(service);
    }
    let dir = std::env::temp_dir().join(&stack);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plan.kdl"), plan(&stack, &services)).unwrap();
    let proxy = DockerProxy::start();
    let mut current = "v1";
    let mut totals: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for round in 1..=rounds {
        for tool in ["docker", "planrun"] {
            let next = if current == "v1" { "v2" } else { "v1" };
            let image = format!("planrun-test/app:{next}");
            let (requests, secs) = update(tool, &proxy, &services, &image, &dir);
            println!(
                "{label:<10} {round:>5}  {tool:<7}  {current}->{next}  {secs:>6.2} s  {:>4} requests ({:.0} per service): {}",
                requests.len(),
                requests.len() as f64 / count as f64,
                summary(&requests)
            );
            totals.entry(tool).or_default().push(requests.len());
            current = next;
            // Replaced tasks stop a few seconds after an update converges: start each update
            // from the same state.
            std::thread::sleep(std::time::Duration::from_secs(4));
        }
    }
    for (tool, counts) in totals {
        let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
        println!("{label:<10} {tool:<7} mean {mean:.0} requests, {:.0} per service", mean / count as f64);
    }
    for service in &services {
        let _ = Command::new("docker").args(["service", "rm", service]).output();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("PLANRUN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2);
    let many: usize = std::env::var("PLANRUN_BENCH_SERVICES").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    println!("services   round  tool     from->to  wall      requests");
    measure("1 service", 1, rounds);
    measure(&format!("{many} services"), many, rounds);
}
