//! Gates at run time: the analysis loop (`analysis.rs`) and one file per kind that takes a
//! single measurement.
//!
//! Invariant: judging a gate never fails with an error value; everything that goes wrong
//! becomes an `Error` measurement and, in the end, a verdict. A gate passes only when at
//! least one measurement passed.

pub mod analysis;
pub mod command;
pub mod http;
pub mod prometheus;
pub mod swarm;

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use plans::gates::{GateKind, Outcome};
use plans::model::Gate;

use crate::cluster::Cluster;
use crate::events::Events;

/// What a gate needs to take measurements.
#[derive(Clone)]
pub struct GateEnv {
    /// The swarm, for `swarm` gates.
    pub cluster: Arc<dyn Cluster>,
    /// The HTTP client for `http` and `prometheus` gates.
    pub http: reqwest::Client,
    /// The default Prometheus server (`prometheus` in `planrun.toml`).
    pub prometheus: Option<String>,
    /// Where measurements and verdicts go.
    pub events: Events,
}

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

/// Takes the gate's measurements for `step` and returns its verdict; every measurement and
/// the verdict are emitted as events.
pub async fn judge(gate: &Gate, step: &str, env: &GateEnv) -> GateReport {
    let analysis = &gate.analysis;
    let timeout = analysis.timeout.to_std();
    match &gate.kind {
        GateKind::Http(g) => {
            let (target, condition) = (http::target(g), http::condition(g));
            analysis::run(gate, step, &env.events, &target, &condition, || http::measure(g, &env.http, timeout)).await
        }
        GateKind::Prometheus(g) => {
            let (target, condition) = (g.query.clone(), prometheus::condition(g));
            let server = g.server.as_deref().or(env.prometheus.as_deref());
            analysis::run(gate, step, &env.events, &target, &condition, || {
                prometheus::measure(g, server, &env.http, timeout)
            })
            .await
        }
        GateKind::Swarm(g) => {
            let (target, condition) = (g.service.clone(), swarm::CONDITION.to_owned());
            analysis::run(gate, step, &env.events, &target, &condition, || swarm::measure(g, env.cluster.as_ref()))
                .await
        }
        GateKind::Command(g) => {
            let (target, condition) = (command::target(g), command::CONDITION.to_owned());
            analysis::run(gate, step, &env.events, &target, &condition, || command::measure(g)).await
        }
    }
}

/// Judges several gates concurrently; the reports come back in the order of `gates`.
pub async fn judge_all(gates: &[&Gate], step: &str, env: &GateEnv) -> Vec<GateReport> {
    let mut running: Vec<Pin<Box<_>>> = gates.iter().map(|g| Box::pin(judge(g, step, env))).collect();
    let mut reports: Vec<Option<GateReport>> = vec![None; gates.len()];
    // A tiny join_all: poll every unfinished judgement on each wake-up (a handful of gates).
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, report) in running.iter_mut().zip(reports.iter_mut()) {
            if report.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(r) => *report = Some(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    reports.into_iter().map(|r| r.expect("every judgement finished")).collect()
}

/// The error and every cause below it, joined: reqwest's own message hides the reason
/// ("error sending request") in its sources ("Connection refused").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
