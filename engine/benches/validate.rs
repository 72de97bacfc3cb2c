//! `planrun validate` as a whole process, on valid plans and on the same plans broken in bigger
//! ways: time and peak memory, so error paths can be held to the happy path's cost.
//!
//! `cargo bench -p planrun-engine --bench validate` prints one line per plan and format: the
//! median wall time of `runs` runs of the release binary (the cases of one size run round-robin,
//! so a busy machine slows them alike), its peak resident memory (`wait4`), and both as a ratio to
//! the valid plan of the same size. `PLANRUN_BENCH_SIZES=1000,10000` picks
//! other sizes. Plans are generated as in `plans/benches` (realistic rolling steps, chained).

// The plan generator of the plans benchmarks; only its chained shape is used here.
#[allow(dead_code)]
#[path = "../../plans/benches/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::Shape;

/// The ways a plan is broken.
const VARIANTS: &[&str] =
    &["valid", "missing last brace", "one error per step", "unknown after per step", "syntax error per 100 lines"];

fn variant(valid: &str, name: &str) -> String {
    match name {
        "valid" => valid.to_owned(),
        // The last `}` of the file, which closes `plan`.
        "missing last brace" => valid.trim_end().strip_suffix('}').expect("ends with }").to_owned(),
        // A misspelt setting in every step (an unknown setting, with a "did you mean").
        "one error per step" => valid.replace("        replicas ", "        replica "),
        // A misspelt step name in every `after` (reference errors, each with a "did you mean").
        "unknown after per step" => valid.replace(" after=svc", " after=svx"),
        // An unterminated string on the first `service` line of every 100 lines.
        "syntax error per 100 lines" => {
            let mut out = String::with_capacity(valid.len() + 4096);
            let mut due = false;
            for (i, line) in valid.lines().enumerate() {
                due |= i % 100 == 0;
                if due && line.starts_with("        service ") {
                    out.push_str("        service \"unterminated");
                    due = false;
                } else {
                    out.push_str(line);
                }
                out.push('\n');
            }
            out
        }
        other => unreachable!("variant {other}"),
    }
}

/// Runs `planrun validate FILE --message-format FORMAT` once: seconds and peak RSS in KiB.
// The child is reaped by `wait4`, which also gives its own peak memory.
#[allow(clippy::zombie_processes)]
fn run_once(bin: &Path, file: &Path, format: &str) -> (f64, i64) {
    let start = Instant::now();
    let child = Command::new(bin)
        .args(["validate", "--message-format", format])
        .arg(file)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("planrun runs");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let secs = start.elapsed().as_secs_f64();
    // Exit 0 for a valid plan, 1 for one with errors: anything else is a bug.
    let code = libc::WEXITSTATUS(status);
    assert!(libc::WIFEXITED(status) && code <= 1, "{}: status {status}", file.display());
    (secs, usage.ru_maxrss)
}

fn main() {
    let bin = Path::new(env!("CARGO_BIN_EXE_planrun"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("validate-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let sizes: Vec<usize> = match std::env::var("PLANRUN_BENCH_SIZES") {
        Ok(s) => s.split(',').filter_map(|n| n.trim().replace('_', "").parse().ok()).collect(),
        Err(_) => vec![1_000, 10_000, 50_000],
    };
    println!(
        "| steps | plan | format | KiB | runs | median ms | min ms | max RSS MiB | time vs valid | memory vs valid |"
    );
    println!(
        "|------:|:-----|:-------|----:|-----:|----------:|-------:|------------:|--------------:|----------------:|"
    );
    for &n in &sizes {
        let valid = common::plan(n, Shape::Chained);
        // Every case of one size, run round-robin, so a busy machine slows them alike.
        let mut cases = Vec::new();
        for &name in VARIANTS {
            let text = variant(&valid, name);
            let file = dir.join(format!("{n}-{}.kdl", name.replace(' ', "-")));
            std::fs::write(&file, &text).unwrap();
            let formats: &[&str] = if name == "valid" { &["json"] } else { &["json", "human"] };
            for &format in formats {
                cases.push((name, format, file.clone(), text.len() / 1024, Vec::new()));
            }
        }
        let runs = if n >= 50_000 { 7 } else { 15 };
        for round in 0..=runs {
            for (_, format, file, _, samples) in cases.iter_mut() {
                let sample = run_once(bin, file, format);
                // The first round warms the page cache and is not counted.
                if round > 0 {
                    samples.push(sample);
                }
            }
        }
        let mut baseline: Option<(f64, i64)> = None;
        for (name, format, _, kib, mut samples) in cases {
            samples.sort_by(|a: &(f64, i64), b| a.0.total_cmp(&b.0));
            let median = samples[runs / 2].0;
            let rss = samples.iter().map(|s| s.1).max().unwrap_or(0);
            let (base_t, base_m) = *baseline.get_or_insert((median, rss));
            println!(
                "| {n} | {name} | {format} | {kib} | {runs} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
                median * 1e3,
                samples[0].0 * 1e3,
                rss as f64 / 1024.0,
                median / base_t,
                rss as f64 / base_m as f64,
            );
        }
    }
}
