//! The same rolling update through `docker service update` and through `planrun apply`,
//! alternately, several times; prints each wall time and planrun's median as a ratio of docker's.
//! Needs the local swarm (tests/env/swarm-up). Run: cargo bench -p planrun-tests --bench apply_vs_docker
//! Rounds: PLANRUN_BENCH_ROUNDS (default 5).

use std::process::Command;
use std::time::Instant;

const UPDATE: &[&str] = &[
    "--update-parallelism",
    "1",
    "--update-delay",
    "1s",
    "--update-order",
    "start-first",
    "--update-failure-action",
    "rollback",
    "--update-monitor",
    "3s",
    "--update-max-failure-ratio",
    "0",
];

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("PLANRUN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let service = format!("prbench{}", std::process::id());
    let mut create = vec![
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
    create.extend_from_slice(UPDATE);
    create.push("planrun-test/app:v1");
    docker(&create);
    let dir = std::env::temp_dir().join(format!("prbench{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.kdl");
    std::fs::write(
        &plan,
        format!(
            "plan bench {{\n    stack {service}\n    var image default=\"planrun-test/app:v2\"\n    rolling web {{\n        service {service}\n        \
             image \"${{image}}\"\n        parallelism 1\n        delay \"1s\"\n        order start-first\n        failure-action rollback\n        \
             monitor \"3s\"\n        deadline \"5m\"\n    }}\n}}\n"
        ),
    )
    .unwrap();
    let planrun = env!("CARGO_BIN_EXE_planrun-e2e");
    let (mut docker_s, mut planrun_s) = (Vec::new(), Vec::new());
    let mut current = "v1";
    println!("round  tool     from->to  seconds");
    for round in 1..=rounds {
        for tool in ["docker", "planrun"] {
            let next = if current == "v1" { "v2" } else { "v1" };
            let image = format!("planrun-test/app:{next}");
            let started = Instant::now();
            if tool == "docker" {
                let mut args =
                    vec!["service", "update", "--quiet", "--detach=false", "--no-resolve-image", "--image", &image];
                args.extend_from_slice(UPDATE);
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
            println!("{round:>5}  {tool:<7}  {current}->{next}    {secs:>6.2}");
            if tool == "docker" {
                docker_s.push(secs)
            } else {
                planrun_s.push(secs)
            }
            current = next;
        }
    }
    let _ = Command::new("docker").args(["service", "rm", &service]).output();
    let _ = std::fs::remove_dir_all(&dir);
    let (d, p) = (median(docker_s), median(planrun_s));
    println!(
        "median docker service update: {d:.2}s; median planrun apply: {p:.2}s; ratio planrun/docker: {:.3}",
        p / d
    );
}
