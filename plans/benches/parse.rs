//! Parse throughput: `plans::kdl_fast::parse` against `kdl::KdlDocument::parse_v2`.
//!
//! `cargo bench -p planrun-plans --bench parse` generates a plan-like document of 10,000 steps
//! (~1.7 MB: properties, children, `${var}` strings, durations, comments, a raw and a multi-line
//! string now and then) and prints the median time and MB/s of each parser.
//! `PLANRUN_BENCH_STEPS=N` picks another size.

use std::fmt::Write;
use std::hint::black_box;
use std::time::Instant;

fn plan(steps: usize) -> String {
    let mut s = String::with_capacity(steps * 180);
    s.push_str(
        "/- kdl-version 2\n// A generated plan.\nplan big {\n    stack shop\n    var version default=\"v1.4.0\"\n",
    );
    for i in 0..steps {
        let after = if i == 0 { String::new() } else { format!(" after=s{}", i - 1) };
        let _ = write!(
            s,
            "    rolling s{i} parallelism=2 delay=\"10s\"{after} {{\n        service \"svc_{i}\"\n        \
             image \"${{registry}}/app:${{version}}\" pull=#true\n        replicas {r} ratio=0.25 /* c */\n",
            r = i % 7 + 1,
        );
        if i % 10 == 0 {
            s.push_str("        query #\"sum(rate(x{service=\"api\"}[1m]))\"#\n");
        }
        if i % 50 == 0 {
            s.push_str("        note \"\"\"\n            multi-line\n              text\n            \"\"\"\n");
        }
        s.push_str("    } // step\n");
    }
    s.push_str("}\n");
    s
}

/// The median time of `runs` calls of `f`; what `f` returns is dropped after the clock stops.
fn median_secs<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = f();
            let elapsed = start.elapsed().as_secs_f64();
            drop(black_box(out));
            elapsed
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let steps = std::env::var("PLANRUN_BENCH_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let text = plan(steps);
    let mb = text.len() as f64 / 1e6;
    assert!(plans::kdl_fast::parse(&text).is_ok(), "generated plan must parse");
    let fast_only = std::env::var_os("PLANRUN_BENCH_FAST_ONLY").is_some();
    assert!(fast_only || kdl::KdlDocument::parse_v2(&text).is_ok(), "generated plan must parse with kdl");
    println!("{steps} steps, {:.2} MB", mb);
    // Parsing alone (the tree is dropped outside the timing), then parsing and dropping.
    let fast = median_secs(21, || plans::kdl_fast::parse(black_box(&text)));
    println!("kdl_fast::parse     {:8.2} ms  {:8.1} MB/s", fast * 1e3, mb / fast);
    let fast_drop = median_secs(21, || drop(plans::kdl_fast::parse(black_box(&text))));
    println!("  with drop         {:8.2} ms  {:8.1} MB/s", fast_drop * 1e3, mb / fast_drop);
    if fast_only {
        return;
    }
    let slow = median_secs(3, || kdl::KdlDocument::parse_v2(black_box(&text)));
    println!("kdl parse_v2        {:8.2} ms  {:8.1} MB/s", slow * 1e3, mb / slow);
    println!("speed-up            {:8.1}x", slow / fast);
}
