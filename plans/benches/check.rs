//! Criterion benchmark of `plans::check` end to end (parse, decode, check, graph) on generated
//! plans of 1,000, 10,000 and 50,000 rolling steps, chained and fan-out.
//!
//! `cargo bench -p planrun-plans --bench check`; `--bench check -- chained/10000` runs one.
//! Throughput is reported in steps per second.

mod common;

use std::time::Duration;

use common::{SIZES, Shape};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use plans::{Inputs, SourceFile};

fn check(c: &mut Criterion) {
    let inputs = Inputs::default();
    for shape in Shape::ALL {
        let mut group = c.benchmark_group(format!("check/{}", shape.name()));
        // Large plans take a while per run: few samples keep the whole bench near a minute or two.
        group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        for n in SIZES {
            let text = common::plan(n, shape);
            let checked = plans::check(SourceFile::new("plan.kdl", text.clone()), &inputs);
            assert!(!checked.has_errors(), "generated plan has errors: {:?}", &checked.diagnostics[..1]);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
                b.iter_batched(
                    || SourceFile::new("plan.kdl", text.clone()),
                    |file| plans::check(file, &inputs),
                    BatchSize::LargeInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, check);
criterion_main!(benches);
