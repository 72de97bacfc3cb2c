//! The whole prodstack release (examples/prodstack, `--env local`), good and broken, on fresh
//! stacks: how long it takes, how many requests failed on each path through the edge, what
//! stopped a broken release and how long putting everything back took.
//!
//! Per run: `up` deploys release 1.0 under a unique stack name, three probes request `/`
//! (frontend), `/api/v1/orders` (backend) and `/jobs/run` (worker) through the edge, ~6 requests
//! a second each for a fixed 90 s from the apply's start (so shares compare between runs), and `planrun apply plan.kdl --env local --var version=VERSION` runs, its
//! manual canary stage answered by `planrun promote` from another process. Then `down`.
//!
//! Versions: `v2` (good), `v2-errors` (500 to every request, health checks pass), `v2-slow`
//! (600 ms a request), `v2-exit` (exits at start: Swarm itself sees it), `v2-backend-errors`
//! (only the backend answers 500: its rolling step alone must catch it).
//!
//! Needs tests/env/swarm-up and tests/env/postgres-up (the `up` script runs them too). Run:
//!   cargo bench -p planrun-tests --bench prodstack_release
//! Env: PRODSTACK_RUNS (per version, default 2), PRODSTACK_VERSIONS (default
//! `v2,v2-errors,v2-slow,v2-exit,v2-backend-errors`), PRODSTACK_VARS (more `--var`s,
//! comma-separated, e.g. `update-delay=0s,update-monitor=1s`), PRODSTACK_PROBE_SECONDS (the
//! probes' fixed window from just before the apply, default 90), PRODSTACK_PROBE_INTERVAL_MS
//! (the pause between a probe's requests, default 150: about 6 requests a second).

#[path = "../support/mod.rs"]
mod support;

use support::Workdir;
use support::prodstack::{Stack, finish_promoting};

fn main() {
    let runs: usize = std::env::var("PRODSTACK_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let versions =
        std::env::var("PRODSTACK_VERSIONS").unwrap_or_else(|_| "v2,v2-errors,v2-slow,v2-exit,v2-backend-errors".into());
    let mut lines = Vec::new();
    for version in versions.split(',') {
        for round in 1..=runs {
            let line = release(version);
            eprintln!("{version} #{round}: {line}");
            lines.push(format!("| {version} | {round} | {line} |"));
        }
    }
    println!(
        "| version | run | exit | outcome | took | stopped by | rollback | failed / requests in the probes' window: `/`, `/api`, `/jobs` | requests a second per path | first failed request to rollback start | backend after |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for line in lines {
        println!("{line}");
    }
}

/// One release on a fresh stack; the table row's cells after the run number.
fn release(version: &str) -> String {
    let stack = Stack::up(Workdir::new("prodstack-bench"));
    let seconds = env_number("PRODSTACK_PROBE_SECONDS", 90);
    let interval = env_number("PRODSTACK_PROBE_INTERVAL_MS", 150);
    let probes = ["/", "/api/v1/orders", "/jobs/run"].map(|path| stack.probe_for(path, seconds, interval));
    let var = format!("version={version}");
    let extra = std::env::var("PRODSTACK_VARS").unwrap_or_default();
    let mut args = vec!["--var", var.as_str()];
    for v in extra.split(',').filter(|v| !v.is_empty()) {
        args.extend(["--var", v]);
    }
    let started = uptime();
    let run = finish_promoting(&stack, stack.apply(&args));
    let seen: Vec<_> = probes.into_iter().map(support::Probe::finish).collect();

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
    let failed = seen
        .iter()
        .map(|s| format!("{} / {} ({:.1} %)", s.failed, s.requests, 100.0 * s.failed as f64 / s.requests.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ");
    let rate = seen.iter().map(|s| s.requests as f64).sum::<f64>() / 3.0 / f64::from(seconds);
    // From the first failed request any probe saw to the rollback starting (both on the
    // host's uptime clock; the run's elapsed time counts from just before its process began).
    for (path, s) in ["/", "/api", "/jobs"].iter().zip(&seen) {
        if !s.failures.is_empty() {
            let at: Vec<String> = s.failures.iter().map(|(t, why)| format!("{:.2} ({why})", t - started)).collect();
            eprintln!("{version}: {path} failed at +s {}", at.join(", "));
        }
    }
    for e in run.events.iter().filter(|e| {
        ["step-progress", "gate-finished", "rollback-started", "step-undone", "step-finished"]
            .contains(&e["event"].as_str().unwrap_or(""))
    }) {
        eprintln!(
            "{version}: +{:.1} {} {} {} {}",
            at(e),
            e["event"].as_str().unwrap_or(""),
            e["step"].as_str().unwrap_or(""),
            e["message"].as_str().or(e["verdict"].as_str()).unwrap_or(""),
            e["gate"].as_str().unwrap_or("")
        );
    }
    let first_bad = seen.iter().flat_map(|s| s.failures.iter().map(|(t, _)| *t)).reduce(f64::min);
    let undo = run.events_of("rollback-started").first().map(|e| started + at(e));
    let bad_to_undo = match (first_bad, undo) {
        (Some(bad), Some(undo)) => format!("{:.1} s", undo - bad),
        (Some(_), None) => "no rollback".to_owned(),
        (None, _) => "-".to_owned(),
    };
    format!(
        "{} | {} | {total:.1} s | {stopped_by} | {rollback} | {failed} | {rate:.1}/s | {bad_to_undo} | {} {}",
        run.code,
        run.outcome(),
        stack.image("backend"),
        stack.replicas("backend")
    )
}

/// The host's uptime in seconds (the probes' clock).
fn uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").expect("/proc/uptime");
    text.split_whitespace().next().and_then(|t| t.parse().ok()).expect("an uptime")
}

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
