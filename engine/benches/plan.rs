//! `planrun plan`'s simulation: how long planning takes, in real time, for the examples and for
//! generated plans, offline (planning against the live swarm is measured as a whole process by
//! tests/benches/plan_live.rs).
//!
//! `cargo bench -p planrun-engine --bench plan` prints one line per case: the median of `runs`
//! runs of `plan::build` (best case, worst case and, for the examples, a drill of their last
//! gate), the simulated times, and the process's peak memory. `PLANRUN_BENCH_SIZES=100,1000`
//! picks the generated sizes (default 100, 1000); `PLANRUN_BENCH_RUNS` overrides the runs per case;
//! `PLANRUN_BENCH_PARALLELISM` the steps simulated at once (default 4, as `plan` and `apply`).

use std::path::Path;
use std::time::Instant;

use engine::plan::simulate::Knobs;
use engine::plan::{self, Request};

// The allocator of the planrun binary (engine/src/main.rs), so that this measures what
// `planrun plan` takes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn checked(name: &str, text: String, dir: &Path) -> (plans::model::Plan, plans::PlanGraph) {
    let inputs = plans::Inputs { files: Some(dir.to_path_buf()), ..Default::default() };
    let checked = plans::check(plans::SourceFile::new(name, text), &inputs);
    match (checked.plan, checked.graph) {
        (Some(p), Some(g)) => (p, g),
        _ => panic!("{name} has errors: {:?}", checked.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()),
    }
}

/// `n` canary steps, each on its own service, with ten stages that each judge a gate.
fn canaries(n: usize) -> String {
    let mut t = String::from(
        "plan canaries {\n    stack big\n    gate ok {\n        http \"http://big:8080/health\"\n        interval \"10s\"\n        count 3\n    }\n",
    );
    for i in 0..n {
        t.push_str(&format!("    canary c{i} {{\n        service big_{i}\n        image \"registry.example.com/big/{i}:v2\"\n        replicas 20\n"));
        for stage in 1..=10 {
            t.push_str(&format!(
                "        stage replicas={stage} {{\n            pause \"30s\"\n            gates ok\n        }}\n"
            ));
        }
        t.push_str("        gates ok\n    }\n");
    }
    t.push_str("}\n");
    t
}

/// `n` rolling steps on their own services, each after the previous one in a chain of ten.
fn rolling(n: usize) -> String {
    let mut t =
        String::from("plan rolling {\n    stack big\n    gate ok {\n        http \"http://big:8080/health\"\n    }\n");
    for i in 0..n {
        let after = if i % 10 == 0 { String::new() } else { format!(" after=r{}", i - 1) };
        t.push_str(&format!(
            "    rolling r{i}{after} {{\n        service big_r{i}\n        image \"registry.example.com/big/r{i}:v2\"\n        gates ok\n    }}\n"
        ));
    }
    t.push_str("}\n");
    t
}

fn measure(
    name: &str,
    plan: &plans::model::Plan,
    graph: &plans::PlanGraph,
    dir: &Path,
    fail: Option<&str>,
    runs: usize,
) {
    let mut times = Vec::new();
    let mut report = None;
    let runs = std::env::var("PLANRUN_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(runs);
    // Steps at once, as `plan --parallelism` (default: apply's).
    let parallelism = std::env::var("PLANRUN_BENCH_PARALLELISM")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(engine::executor::PARALLELISM);
    for _ in 0..runs {
        let request = Request {
            plan,
            graph,
            file: name.to_owned(),
            plan_dir: dir,
            live: Err(plan::Offline::Asked),
            knobs: Knobs { parallelism, ..Knobs::default() },
            knob_sources: Vec::new(),
            offline_replicas: 2,
            fail: fail.map(|f| plan::simulate::can_fail(plan, f).expect("a failable step or gate")),
            environment: None,
        };
        let started = Instant::now();
        report = Some(plan::build(&request));
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let r = report.expect("at least one run");
    println!(
        "{name:<34} {:>5} steps  median {:>8.3} s (min {:.3}, max {:.3}, {runs} runs)  simulated best {} ({} ms)  worst {} ({} ms)  peak RSS {} MiB",
        plan.steps.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        engine::clock::span(r.timeline.best_ms),
        r.timeline.best_ms,
        engine::clock::span(r.timeline.worst_ms),
        r.timeline.worst_ms,
        peak_rss_mib()
    );
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn main() {
    engine::allocator::keep_freed_memory();
    // `cargo bench` passes `--bench`; any other argument filters cases by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (example, fail) in [
        ("examples/quickstart.kdl", "answers"),
        ("examples/rolling.kdl", "p99-latency"),
        ("examples/canary.kdl", "error-rate"),
        ("examples/blue-green.kdl", "live-health"),
        ("examples/migrations.kdl", "invoices-health"),
        ("examples/prodstack/plan.kdl", "error-rate"),
    ] {
        if !wanted(example) {
            continue;
        }
        let path = root.join(example);
        let dir = path.parent().expect("a directory").to_path_buf();
        let (plan, graph) = checked(example, std::fs::read_to_string(&path).expect("the example"), &dir);
        measure(&format!("{example} --fail {fail}"), &plan, &graph, &dir, Some(fail), 5);
    }
    let sizes: Vec<usize> = std::env::var("PLANRUN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000]);
    for &n in &sizes {
        let name = format!("{n} rolling, chains of 10");
        if wanted(&name) {
            let (plan, graph) = checked("rolling.kdl", rolling(n), Path::new("."));
            measure(&name, &plan, &graph, Path::new("."), None, 3);
        }
        let name = format!("{n} canaries x 10 stages");
        if wanted(&name) {
            let (plan, graph) = checked("canaries.kdl", canaries(n), Path::new("."));
            measure(&name, &plan, &graph, Path::new("."), None, 3);
        }
    }
}
