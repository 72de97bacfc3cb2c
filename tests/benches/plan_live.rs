//! `planrun plan examples/prodstack/plan.kdl` against the local swarm, as a whole process: the
//! live read (every service the plan names, the lock, approvals, colours, canaries) and the
//! simulations. Creates the prodstack services the example names if they are missing (v1 images,
//! an nginx router sending traffic to blue) and removes what it created.
//!
//! `cargo bench -p planrun-tests --bench plan_live` (needs `tests/env/swarm-up`). Prints the median
//! of 10 runs and the report's figures.

#[path = "../support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use support::{Router, Service, docker};

fn exists(name: &str) -> bool {
    Command::new("docker").args(["service", "inspect", name]).output().is_ok_and(|o| o.status.success())
}

fn main() {
    let mut created: Vec<Service> = Vec::new();
    let mut router = None;
    for (name, replicas) in [
        ("prodstack_backend", 2),
        ("prodstack_worker", 4),
        ("prodstack_frontend_blue", 2),
        ("prodstack_frontend_green", 0),
    ] {
        if !exists(name) {
            created.push(Service::create(name, "planrun-test/app:v1", replicas));
        }
    }
    if !exists("prodstack_nginx") {
        router = Some(Router::create("prodstack_nginx", "prodstack_frontend_blue"));
    }
    let planrun = env!("CARGO_BIN_EXE_planrun-e2e");
    let plan = support::repo().join("examples/prodstack/plan.kdl");
    let mut times = Vec::new();
    let mut last = String::new();
    for _ in 0..10 {
        let started = Instant::now();
        let out =
            Command::new(planrun).arg("plan").arg(&plan).args(["--format", "json"]).output().expect("planrun runs");
        times.push(started.elapsed().as_secs_f64());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        last = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    times.sort_by(f64::total_cmp);
    let report: serde_json::Value = serde_json::from_str(&last).expect("a JSON report");
    println!(
        "planrun plan examples/prodstack/plan.kdl (live, {} steps): median {:.3} s (min {:.3}, max {:.3}, 10 runs); \
         live mode {}, {} changes, simulated best {} ms, worst {} ms",
        report["steps"].as_array().map_or(0, Vec::len),
        times[5],
        times[0],
        times[9],
        report["live"]["mode"],
        report["summary"]["change"],
        report["timeline"]["best_ms"],
        report["timeline"]["worst_ms"],
    );
    drop(router);
    drop(created);
    let _ = docker(&["service", "ls", "--quiet"]);
}
