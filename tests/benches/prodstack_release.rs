//! The whole prodstack release (examples/prodstack, `--env local`), good and broken, on fresh
//! stacks: how long it takes, how many requests failed on each path through the edge, what
//! stopped a broken release and how long putting everything back took.
//!
//! Per run: `up` deploys release 1.0 under a unique stack name, three probes request `/`
//! (frontend), `/api/v1/orders` (backend) and `/jobs/run` (worker) through the edge, ~4 requests
//! a second each, and `planrun apply plan.kdl --env local --var version=VERSION` runs, its
//! manual canary stage answered by `planrun promote` from another process. Then `down`.
//!
//! Versions: `v2` (good), `v2-errors` (500 to every request, health checks pass), `v2-slow`
//! (600 ms a request), `v2-exit` (exits at start: Swarm itself sees it).
//!
//! Needs tests/env/swarm-up and tests/env/postgres-up (the `up` script runs them too). Run:
//!   cargo bench -p planrun-tests --bench prodstack_release
//! Env: PRODSTACK_RUNS (per version, default 2), PRODSTACK_VERSIONS (default
//! `v2,v2-errors,v2-slow,v2-exit`), PRODSTACK_VARS (more `--var`s, comma-separated, e.g.
//! `update-delay=0s,update-monitor=1s`).

#[path = "../support/mod.rs"]
mod support;

use support::Workdir;
use support::prodstack::{Stack, finish_promoting};

fn main() {
    let runs: usize = std::env::var("PRODSTACK_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let versions = std::env::var("PRODSTACK_VERSIONS").unwrap_or_else(|_| "v2,v2-errors,v2-slow,v2-exit".into());
    let mut lines = Vec::new();
    for version in versions.split(',') {
        for round in 1..=runs {
            let line = release(version);
            eprintln!("{version} #{round}: {line}");
            lines.push(format!("| {version} | {round} | {line} |"));
        }
    }
    println!(
        "| version | run | exit | outcome | took | stopped by | rollback | failed / requests: `/`, `/api`, `/jobs` | backend after |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for line in lines {
        println!("{line}");
    }
}

/// One release on a fresh stack; the table row's cells after the run number.
fn release(version: &str) -> String {
    let stack = Stack::up(Workdir::new("prodstack-bench"));
    let probes = [stack.probe("/"), stack.probe("/api/v1/orders"), stack.probe("/jobs/run")];
    let var = format!("version={version}");
    let extra = std::env::var("PRODSTACK_VARS").unwrap_or_default();
    let mut args = vec!["--var", var.as_str()];
    for v in extra.split(',').filter(|v| !v.is_empty()) {
        args.extend(["--var", v]);
    }
    let run = finish_promoting(&stack, stack.apply(&args));
    let seen: Vec<_> = probes.into_iter().map(support::Probe::stop).collect();

    let at = |e: &serde_json::Value| e["elapsed_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
    let total = run.events_of("run-finished").last().map(|e| at(e)).unwrap_or(0.0);
    let first_failure = run.events_of("step-finished").into_iter().find(|e| e["outcome"] == "failed").cloned();
    let (stopped_by, rollback) = match &first_failure {
        Some(e) => {
            let gate = run
                .events_of("gate-finished")
                .into_iter()
                .find(|g| g["step"] == e["step"] && g["verdict"] != "passed")
                .map(|g| format!("gate {}", g["gate"].as_str().unwrap_or("?")))
                .unwrap_or_else(|| "Swarm: tasks failed".to_owned());
            (
                format!("{} ({gate}) at {:.1} s", e["step"].as_str().unwrap_or("?"), at(e)),
                format!("{:.1} s", total - at(e)),
            )
        }
        None => ("-".to_owned(), "-".to_owned()),
    };
    let failed = seen.iter().map(|s| format!("{} / {}", s.failed, s.requests)).collect::<Vec<_>>().join(", ");
    format!(
        "{} | {} | {total:.1} s | {stopped_by} | {rollback} | {failed} | {} {}",
        run.code,
        run.outcome(),
        stack.image("backend"),
        stack.replicas("backend")
    )
}
