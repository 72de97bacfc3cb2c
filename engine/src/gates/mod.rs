//! Gates at run time: the analysis loop (`analysis.rs`), the probe seam that takes
//! measurements (`probe.rs`), and one file per kind with its meter; `http` and `prometheus`
//! share their client and bounded reads (`client.rs`) and credentials (`credentials.rs`).
//!
//! Invariant: judging a gate never fails with an error value; everything that goes wrong
//! becomes an `Error` measurement and, in the end, a verdict. A gate passes only when at
//! least one measurement passed.

pub mod analysis;
pub mod client;
pub mod command;
pub mod compare;
pub mod credentials;
pub mod http;
pub mod probe;
pub mod prometheus;
pub mod swarm;

use std::path::Path;
use std::pin::Pin;
use std::task::Poll;

use plans::gates::Outcome;
use plans::model::Gate;

use crate::events::{Comparison, Events};
pub use probe::{LiveProbe, Meter, Probe, ScriptedProbe};

/// A gate's verdict after all its measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Enough measurements passed and none of the limits was exceeded.
    Passed,
    /// More measurements failed than `failure-limit` allows.
    Failed,
    /// More measurements were inconclusive than `inconclusive-limit` allows: a human decides.
    Inconclusive,
    /// The gate could not be measured (too many consecutive errors, or nothing but errors).
    Error,
}

impl Verdict {
    /// The word used in events: passed, failed, inconclusive or error.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Error => "error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of judging one gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateReport {
    /// The gate's name.
    pub gate: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Counts and the reason, e.g. `2 failed (limit 1): 0.034 >= 0.001 at #2, ...`.
    pub summary: String,
}

/// The verdict a meter gives over a whole series (a gate that compares with a baseline).
#[derive(Debug, Clone, PartialEq)]
pub struct Conclusion {
    /// Passed, failed, or error when there was nothing to compare.
    pub verdict: Verdict,
    /// The medians, the margin and the test, in one line.
    pub summary: String,
    /// The numbers, for the journal.
    pub comparison: Comparison,
}

/// One measurement of a gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Pass, fail, inconclusive or error.
    pub outcome: Outcome,
    /// What was measured: the resolved query, URL, service or command.
    pub target: String,
    /// The measured value, if one was taken.
    pub value: Option<String>,
    /// The condition it was judged against.
    pub condition: String,
    /// Why, for errors and failures.
    pub detail: Option<String>,
}

impl Measurement {
    /// A measurement that could not be taken.
    pub fn error(target: impl Into<String>, condition: impl Into<String>, detail: impl Into<String>) -> Self {
        Measurement {
            outcome: Outcome::Error,
            target: target.into(),
            value: None,
            condition: condition.into(),
            detail: Some(detail.into()),
        }
    }
}

/// The word used in `Measurement` events: pass, fail, inconclusive or error.
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
        Outcome::Error => "error",
    }
}

/// Takes the gate's measurements for `step` with `probe` and returns its verdict; every
/// measurement and the verdict are emitted as events. `dir` is the plan's directory.
pub async fn judge(gate: &Gate, step: &str, dir: &Path, probe: &dyn Probe, events: &Events) -> GateReport {
    let mut meter = probe.meter(gate, dir);
    meter.prepare(&gate.analysis).await;
    let report = analysis::run(gate, step, events, meter.as_mut()).await;
    meter.finish().await;
    report
}

/// Judges several gates concurrently, each to its verdict; the reports come back in the order
/// of `gates`.
pub async fn judge_all(gates: &[&Gate], step: &str, dir: &Path, probe: &dyn Probe, events: &Events) -> Vec<GateReport> {
    judge_together(gates, step, dir, probe, events, false).await
}

/// Judges several gates concurrently until one does not pass: the judgements still running are
/// stopped there (a failed release is not kept running while the other gates finish their
/// windows). Returns the finished reports, in the order of `gates`; every one passed when all
/// of them are there.
pub async fn judge_until_failure(
    gates: &[&Gate],
    step: &str,
    dir: &Path,
    probe: &dyn Probe,
    events: &Events,
) -> Vec<GateReport> {
    judge_together(gates, step, dir, probe, events, true).await
}

async fn judge_together(
    gates: &[&Gate],
    step: &str,
    dir: &Path,
    probe: &dyn Probe,
    events: &Events,
    stop_at_failure: bool,
) -> Vec<GateReport> {
    let mut running: Vec<Pin<Box<_>>> = gates.iter().map(|g| Box::pin(judge(g, step, dir, probe, events))).collect();
    let mut reports: Vec<Option<GateReport>> = vec![None; gates.len()];
    // A tiny join_all: poll every unfinished judgement on each wake-up (a handful of gates).
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, report) in running.iter_mut().zip(reports.iter_mut()) {
            if report.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(r) => {
                        let failed = r.verdict != Verdict::Passed;
                        *report = Some(r);
                        if failed && stop_at_failure {
                            return Poll::Ready(());
                        }
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    reports.into_iter().flatten().collect()
}

pub use crate::cause::excerpt;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn judging_until_failure_stops_the_other_gates_at_the_first_that_fails() {
        let (plan, _) = crate::simulation::Simulation::plan(
            "plan p {\n    stack s\n    gate slow {\n        http \"http://x/\"\n        interval \"10s\"\n        count 10\n    }\n    \
             gate bad {\n        http \"http://y/\"\n        interval \"1s\"\n        count 3\n    }\n    check c { gates slow bad; }\n}\n",
        );
        let probe = ScriptedProbe::new();
        probe.script("bad", &[Outcome::Pass, Outcome::Fail]);
        let gates: Vec<&Gate> = plan.gates.iter().collect();
        let started = tokio::time::Instant::now();
        let reports = judge_until_failure(&gates, "c", Path::new("."), &probe, &Events::new(Vec::new())).await;
        assert_eq!(started.elapsed(), std::time::Duration::from_secs(1), "stopped at bad's second measurement");
        assert_eq!(reports.len(), 1);
        assert_eq!((reports[0].gate.as_str(), reports[0].verdict), ("bad", Verdict::Failed));
    }
}
