//! Generates large, realistic plans for the benchmarks.
//!
//! Every generated plan is valid: the benchmarks assert it checks without errors, so they time
//! the path a real deployment takes (parse, decode, name checks, graph, safety warnings).

use std::fmt::Write as _;

/// How steps depend on each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Each step runs `after` the previous one: one long path.
    Chained,
    /// One root, every other step `after` it; every 100th step also waits for the 99 before it
    /// (fan-in), so there are about two edges per step.
    FanOut,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::Chained, Shape::FanOut];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Chained => "chained",
            Shape::FanOut => "fan-out",
        }
    }
}

/// The plan sizes measured.
pub const SIZES: [usize; 3] = [1_000, 10_000, 50_000];

fn step_name(i: usize) -> String {
    format!("svc{i:05}")
}

/// A plan of `steps` rolling steps in the given shape.
pub fn plan(steps: usize, shape: Shape) -> String {
    let mut s = String::with_capacity(steps * 260 + 2_000);
    s.push_str(
        r##"// Generated for benchmarks.
plan bench {
    stack bench
    on-failure rollback
    log "DEPLOYMENT_LOG.md"

    var version env=BENCH_VERSION default=v2.0.0
    var registry env=BENCH_REGISTRY default="registry.example.com/bench"

    defaults {
        rolling parallelism=1 delay="10s" order=start-first failure-action=rollback monitor="30s" deadline="10m"
        gate interval="30s"
    }

    gate error-rate {
        prometheus {
            query #"sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))"#
            pass "result < 0.001"
            on-empty inconclusive
        }
        initial-delay "1m"
        count 10
        failure-limit 1
    }

    gate api-health {
        http "http://bench_frontend:8080/api/v1/health" status=200 body="ok" timeout="5s"
        interval "5s"
        count 3
    }

"##,
    );
    for i in 0..steps {
        let name = step_name(i);
        let after = match (shape, i) {
            (_, 0) => String::new(),
            (Shape::Chained, _) => format!(" after={}", step_name(i - 1)),
            (Shape::FanOut, i) if i % 100 == 0 => {
                // Fan-in: wait for the root and the 99 steps before this one.
                let mut a = String::from("\n        after");
                if i > 100 {
                    write!(a, " {}", step_name(0)).unwrap();
                }
                for j in i - 99..i {
                    write!(a, " {}", step_name(j)).unwrap();
                }
                // Written as a child node, so the line goes inside the block below.
                a
            }
            (Shape::FanOut, _) => format!(" after={}", step_name(0)),
        };
        let (inline_after, block_after) =
            if after.starts_with('\n') { (String::new(), after) } else { (after, String::new()) };
        let gates = if i % 2 == 0 { "error-rate api-health" } else { "error-rate" };
        write!(
            s,
            r#"    rolling {name}{inline_after} {{{block_after}
        service bench_{name}
        image "${{registry}}/{name}:${{version}}"
        replicas {replicas}
        gates {gates}
    }}
"#,
            replicas = 2 + i % 3,
        )
        .unwrap();
    }
    s.push_str("}\n");
    s
}
