//! How checking time grows with plan size: a plain table, quick to read.
//!
//! `cargo bench -p planrun-plans --bench scale` prints, for each generated plan, the median time
//! of `plans::check` end to end and of its phases (parse, decode, check + graph), and the cost per
//! 1,000 steps: that column stays flat when growth is linear.
//!
//! Each size is timed end to end for about two seconds (at least 1, at most 30 runs), then each
//! phase for half as many runs. Large plans get a single run, so the medians there are one sample.
//! `PLANRUN_BENCH_SIZES=1000,10000` picks other sizes.

mod common;

// The same allocator as the planrun binary (engine/src/main.rs), so the figures are the CLI's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{SIZES, Shape};
use plans::{Inputs, SourceFile};

const BUDGET: Duration = Duration::from_secs(2);
const MIN_RUNS: usize = 1;
const MAX_RUNS: usize = 30;

/// `runs` timings of `f`, in milliseconds.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = f();
            let elapsed = start.elapsed();
            drop(black_box(out));
            elapsed.as_secs_f64() * 1e3
        })
        .collect()
}

/// The median of some timings.
fn median(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn sizes() -> Vec<usize> {
    match std::env::var("PLANRUN_BENCH_SIZES") {
        Ok(s) => s.split(',').filter_map(|n| n.trim().replace('_', "").parse().ok()).collect(),
        Err(_) => SIZES.to_vec(),
    }
}

fn main() {
    let inputs = Inputs::default();
    println!(
        "{:>7} {:<8} {:>6} {:>5} {:>9} {:>9} {:>17} {:>9} {:>9} {:>9}",
        "steps", "shape", "KiB", "runs", "time_ms", "min_ms", "ms_per_1000_steps", "parse_ms", "decode_ms", "check_ms"
    );
    for shape in Shape::ALL {
        for n in sizes() {
            let text = common::plan(n, shape);

            // The first run checks the plan is valid and sizes the number of runs; it counts as one.
            let start = Instant::now();
            let checked = plans::check(SourceFile::new("plan.kdl", text.clone()), &inputs);
            let first = start.elapsed().as_secs_f64() * 1e3;
            assert!(!checked.has_errors(), "generated plan has errors: {:?}", &checked.diagnostics[..1]);
            assert_eq!(checked.plan.as_ref().map(|p| p.steps.len()), Some(n));
            assert!(checked.graph.is_some());
            drop(checked);
            let runs = ((BUDGET.as_secs_f64() * 1e3 / first.max(1e-3)) as usize).clamp(MIN_RUNS, MAX_RUNS);

            // End to end, as the CLI calls it (the file is built outside the timing).
            let mut files = (1..runs).map(|_| SourceFile::new("plan.kdl", text.clone())).collect::<Vec<_>>();
            let mut results = Vec::with_capacity(runs);
            let mut samples = vec![first];
            samples.extend(time(runs - 1, || {
                let file = files.pop().expect("one file per run");
                results.push(plans::check(file, &inputs));
            }));
            drop(results);
            samples.sort_by(f64::total_cmp);
            let (time_ms, min_ms) = (samples[samples.len() / 2], samples[0]);

            // Phases, each on the output of the one before.
            let phase_runs = runs.div_ceil(2);
            let parse_ms = median(time(phase_runs, || plans::syntax::parse(&text).map(|_| ())));
            let doc = plans::syntax::parse(&text).expect("generated plan parses");
            let decode_ms = median(time(phase_runs, || {
                let mut d = plans::decoder::Decoder::new(&text);
                plans::plan_decoder::decode(&mut d, &doc, &inputs)
            }));
            let mut d = plans::decoder::Decoder::new(&text);
            let plan = plans::plan_decoder::decode(&mut d, &doc, &inputs).expect("generated plan decodes");
            let check_ms = median(time(phase_runs, || {
                let mut diagnostics = Vec::new();
                plans::check::check(&plan, &mut diagnostics)
            }));

            println!(
                "{:>7} {:<8} {:>6} {:>5} {:>9.2} {:>9.2} {:>17.2} {:>9.2} {:>9.2} {:>9.2}",
                n,
                shape.name(),
                text.len() / 1024,
                runs,
                time_ms,
                min_ms,
                time_ms * 1000.0 / n as f64,
                parse_ms,
                decode_ms,
                check_ms,
            );
        }
    }
}
