//! The same rolling update through `docker service update --detach=false` and through
//! `planrun apply`, alternately, for several update configs; prints each wall time, and per
//! config the medians and planrun's median as a ratio of docker's.
//!
//! Needs the local swarm (tests/env/swarm-up). Run:
//!   cargo bench -p planrun-tests --bench apply_vs_docker
//! Env: PLANRUN_BENCH_ROUNDS (rounds per config, default 4; monitor-30s configs use at most 3),
//!      PLANRUN_BENCH_CONFIGS (comma-separated names from the table below, default all).

use std::process::Command;
use std::time::Instant;

/// An update config, as docker flags and as plan settings.
struct Config {
    name: &'static str,
    parallelism: u32,
    delay_s: u32,
    monitor_s: u32,
    order: &'static str,
}

const CONFIGS: &[Config] = &[
    Config { name: "p1-d1-m5-start", parallelism: 1, delay_s: 1, monitor_s: 5, order: "start-first" },
    Config { name: "p1-d1-m30-start", parallelism: 1, delay_s: 1, monitor_s: 30, order: "start-first" },
    Config { name: "p3-d0-m5-start", parallelism: 3, delay_s: 0, monitor_s: 5, order: "start-first" },
    Config { name: "p1-d1-m5-stop", parallelism: 1, delay_s: 1, monitor_s: 5, order: "stop-first" },
    Config { name: "p3-d1-m30-stop", parallelism: 3, delay_s: 1, monitor_s: 30, order: "stop-first" },
];

impl Config {
    fn docker_flags(&self) -> Vec<String> {
        [
            ("--update-parallelism", self.parallelism.to_string()),
            ("--update-delay", format!("{}s", self.delay_s)),
            ("--update-order", self.order.to_string()),
            ("--update-failure-action", "rollback".into()),
            ("--update-monitor", format!("{}s", self.monitor_s)),
            ("--update-max-failure-ratio", "0".into()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    fn plan(&self, service: &str) -> String {
        format!(
            "plan bench {{\n    stack {service}\n    var image default=\"planrun-test/app:v2\"\n    rolling web {{\n        \
             service {service}\n        image \"${{image}}\"\n        parallelism {}\n        delay \"{}s\"\n        \
             order {}\n        failure-action rollback\n        monitor \"{}s\"\n        deadline \"10m\"\n    }}\n}}\n",
            self.parallelism, self.delay_s, self.order, self.monitor_s
        )
    }
}

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Runs `config` for `rounds` alternating rounds; returns the median seconds of docker and planrun.
fn bench(config: &Config, rounds: usize) -> (f64, f64) {
    let service = format!("prbench{}-{}", std::process::id(), config.name);
    let flags = config.docker_flags();
    let mut create: Vec<&str> = vec![
        "service",
        "create",
        "--quiet",
        "--detach=false",
        "--no-resolve-image",
        "--name",
        &service,
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
    create.extend(flags.iter().map(String::as_str));
    create.push("planrun-test/app:v1");
    docker(&create);
    let dir = std::env::temp_dir().join(&service);
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.kdl");
    std::fs::write(&plan, config.plan(&service)).unwrap();
    let planrun = env!("CARGO_BIN_EXE_planrun-e2e");
    let (mut docker_s, mut planrun_s) = (Vec::new(), Vec::new());
    let mut current = "v1";
    for round in 1..=rounds {
        for tool in ["docker", "planrun"] {
            let next = if current == "v1" { "v2" } else { "v1" };
            let image = format!("planrun-test/app:{next}");
            let started = Instant::now();
            if tool == "docker" {
                let mut args = vec!["service", "update", "--quiet", "--detach=false", "--no-resolve-image", "--image"];
                args.push(&image);
                args.extend(flags.iter().map(String::as_str));
                args.push(&service);
                docker(&args);
            } else {
                let var = format!("image={image}");
                let out = Command::new(planrun)
                    .args(["apply", plan.to_str().unwrap(), "--output", "json", "--var", &var, "--state-dir"])
                    .arg(dir.join("state"))
                    .output()
                    .expect("planrun runs");
                assert!(out.status.success(), "planrun apply failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let secs = started.elapsed().as_secs_f64();
            println!("{:<16} {round:>5}  {tool:<7}  {current}->{next}    {secs:>6.2}", config.name);
            if tool == "docker" {
                docker_s.push(secs)
            } else {
                planrun_s.push(secs)
            }
            current = next;
            // Replaced tasks stop a few seconds after an update converges: start each update
            // from the same state.
            std::thread::sleep(std::time::Duration::from_secs(4));
        }
    }
    let _ = Command::new("docker").args(["service", "rm", &service]).output();
    let _ = std::fs::remove_dir_all(&dir);
    (median(docker_s), median(planrun_s))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("PLANRUN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(4);
    let wanted: Option<Vec<String>> =
        std::env::var("PLANRUN_BENCH_CONFIGS").ok().map(|c| c.split(',').map(str::to_owned).collect());
    println!("config           round  tool     from->to  seconds");
    let mut results = Vec::new();
    for config in CONFIGS.iter().filter(|c| wanted.as_ref().is_none_or(|w| w.iter().any(|n| n == c.name))) {
        let rounds = if config.monitor_s >= 30 { rounds.min(3) } else { rounds };
        results.push((config.name, bench(config, rounds)));
    }
    println!("\nconfig            docker median  planrun median  ratio planrun/docker");
    for (name, (d, p)) in results {
        println!("{name:<16}  {d:>12.2}s  {p:>13.2}s  {:>8.3}", p / d);
    }
}
