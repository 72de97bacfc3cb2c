//! Criterion benchmark of the SQL lint: `plans::check` of a plan whose migrate step names a
//! file of 1,000 statements (a mix of the statements migrations hold), minus nothing: the plan
//! itself is one step, so the figure is the lint's time per 1,000 statements.
//!
//! `cargo bench -p planrun-plans --bench sql_lint`.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plans::{Inputs, SourceFile};

const STATEMENTS: usize = 1_000;

/// Ten statements, repeated: what expand, migrate and contract files hold.
fn sql() -> String {
    let mut out = String::new();
    for i in 0..STATEMENTS / 10 {
        out.push_str(&format!(
            "-- batch {i}\n\
             ALTER TABLE orders ADD COLUMN IF NOT EXISTS c{i} text DEFAULT 'x';\n\
             ALTER TABLE orders ADD CONSTRAINT k{i} CHECK (c{i} <> '') NOT VALID;\n\
             ALTER TABLE orders VALIDATE CONSTRAINT k{i};\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS i{i} ON orders (c{i});\n\
             CREATE TABLE IF NOT EXISTS t{i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body jsonb NOT NULL DEFAULT '{{}}');\n\
             UPDATE orders SET c{i} = 'y' WHERE id IN (SELECT id FROM orders WHERE c{i} IS NULL LIMIT 5000);\n\
             DO $$ BEGIN PERFORM 1; END $$;\n\
             COMMENT ON COLUMN orders.c{i} IS 'it''s; fine';\n\
             ALTER TABLE orders ALTER COLUMN c{i} SET DEFAULT 'z';\n\
             SET lock_timeout = '2s';\n"
        ));
    }
    out
}

fn lint(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("planrun-bench-sql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("expand.sql"), sql()).unwrap();
    let plan = "plan p {\n    stack s\n    backup db { to \"/backups\" }\n    migrate m {\n        phase expand\n        file \"expand.sql\"\n        transactional #false\n    }\n}\n";
    let inputs = Inputs { files: Some(dir.clone()), ..Inputs::default() };
    let checked = plans::check(SourceFile::new("plan.kdl", plan), &inputs);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics.first());
    let mut group = c.benchmark_group("sql_lint");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(STATEMENTS as u64));
    group.bench_function("1000_statements", |b| b.iter(|| plans::check(SourceFile::new("plan.kdl", plan), &inputs)));
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, lint);
criterion_main!(benches);
