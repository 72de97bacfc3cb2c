//! `planrun plan --calibrate-from RUN`: the knobs the fake swarm cannot know, measured by a
//! real run's journal. Each gate's measurement time and each `run` step's command time are
//! read off directly; the task start time is the one that makes the simulated service steps
//! last as long, together, as they did for real (found by bisection: simulated time grows with
//! the start time).

use std::path::Path;
use std::time::Duration;

use plans::PlanGraph;
use plans::model::Plan;

use super::live::LiveState;
use super::simulate::{self, Failure, Knobs};
use crate::events::{Event, Record, StepOutcome};

/// The knobs `records` (a journal) measured, on top of `knobs`; with what was measured, in
/// words.
pub fn from_journal(
    plan: &Plan,
    graph: &PlanGraph,
    plan_dir: &Path,
    live: &LiveState,
    knobs: &Knobs,
    records: &[Record],
) -> (Knobs, Vec<String>) {
    let mut knobs = knobs.clone();
    let mut said = Vec::new();
    let mut per_gate: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for r in records {
        if let Event::Measurement { gate, took_ms: Some(ms), .. } = &r.event {
            let e = per_gate.entry(gate).or_default();
            e.0 += ms;
            e.1 += 1;
        }
    }
    for (gate, (sum, n)) in per_gate {
        let mean = Duration::from_millis(sum / n);
        knobs.gate_measurement.insert(gate.to_owned(), mean);
        said.push(format!("gate `{gate}`: {} per measurement ({n} measured)", crate::clock::seconds(mean)));
    }
    let finished = |name: &str| {
        records.iter().find_map(|r| match &r.event {
            Event::StepFinished { step, outcome: StepOutcome::Succeeded, took_ms, .. } if step == name => {
                Some(*took_ms)
            }
            _ => None,
        })
    };
    for step in &plan.steps {
        if let plans::steps::StepKind::Run(_) = step.kind
            && let Some(ms) = finished(&step.name.value)
        {
            knobs.command.insert(step.name.value.clone(), Duration::from_millis(ms));
            said.push(format!("step `{}`: command takes {}", step.name.value, crate::clock::millis(ms)));
        }
    }
    // Task start: the service steps that succeeded for real, all together.
    let services: Vec<(&str, u64)> = plan
        .steps
        .iter()
        .filter(|s| s.kind.is_deployment())
        .filter_map(|s| finished(&s.name.value).map(|ms| (s.name.value.as_str(), ms)))
        .collect();
    if !services.is_empty() {
        let real: u64 = services.iter().map(|(_, ms)| ms).sum();
        let simulated = |start: Duration| {
            let k = Knobs { task_start: start, ..knobs.clone() };
            let sim = simulate::run(plan, graph, plan_dir, live, &k, &Failure::Nothing);
            services
                .iter()
                .filter_map(|(name, _)| {
                    let s = sim.steps.iter().find(|s| s.step == *name)?;
                    Some(s.finished_ms? - s.started_ms)
                })
                .sum::<u64>()
        };
        let (mut low, mut high) = (0u64, 60_000u64);
        for _ in 0..16 {
            let mid = (low + high) / 2;
            if simulated(Duration::from_millis(mid)) < real {
                low = mid;
            } else {
                high = mid;
            }
        }
        knobs.task_start = Duration::from_millis(high);
        said.push(format!(
            "tasks take {} to start (fitted to {} of service steps)",
            crate::clock::millis(high),
            crate::clock::millis(real)
        ));
    }
    (knobs, said)
}
