//! How a gate takes measurements and turns them into a verdict: the settings every gate kind
//! shares (`interval`, `count` or `window`, limits), also settable in `defaults { gate ... }`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;
use crate::duration::Duration;

/// How a gate takes measurements and turns them into a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Analysis {
    /// Wait this long before the first measurement.
    pub initial_delay: Duration,
    /// Time between measurements.
    pub interval: Duration,
    /// How many measurements, or for how long.
    pub sampling: Sampling,
    /// The gate fails when more measurements than this fail.
    pub failure_limit: u64,
    /// The gate is inconclusive when more measurements than this are inconclusive.
    pub inconclusive_limit: u64,
    /// The gate errors when more consecutive measurements than this error.
    pub error_limit: u64,
    /// Time allowed for one measurement.
    pub timeout: Duration,
}

/// How many measurements a gate takes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Exactly this many measurements.
    Count(u64),
    /// Measurements every interval until this much time has passed.
    Window(Duration),
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            initial_delay: Duration::ZERO,
            interval: Duration::from_secs(10),
            sampling: Sampling::Count(1),
            failure_limit: 0,
            inconclusive_limit: 0,
            error_limit: 4,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Reads the analysis settings; also used for `defaults { gate { ... } }`.
pub fn decode_analysis(d: &mut Decoder<'_>, fields: &mut Fields<'_>, timeout: Option<Duration>) -> Option<Analysis> {
    let mut a = Analysis::default();
    if let Some(t) = timeout {
        a.timeout = t;
    }
    if let Some(v) = d.duration(fields, "initial-delay") {
        a.initial_delay = v.value;
    }
    if let Some(v) = d.duration(fields, "interval") {
        if v.value == Duration::ZERO {
            d.push(Diagnostic::new(GateProblem::ZeroInterval, v.span));
        }
        a.interval = v.value;
    }
    let mut count = d.count(fields, "count", false);
    let mut window = d.duration(fields, "window");
    // A gate's own `count` or `window` replaces the other one from `defaults`.
    match (fields.sets("count"), fields.sets("window")) {
        (true, false) => window = None,
        (false, true) => count = None,
        _ => {}
    }
    match (count, window) {
        (Some(c), Some(w)) => {
            d.push(Diagnostic::new(GateProblem::CountAndWindow { count: c.span }, w.span));
            return None;
        }
        (Some(c), None) => {
            if c.value == 0 {
                d.push(Diagnostic::new(GateProblem::ZeroCount, c.span));
            }
            a.sampling = Sampling::Count(c.value);
        }
        (None, Some(w)) => a.sampling = Sampling::Window(w.value),
        (None, None) => {}
    }
    if let Some(v) = d.count(fields, "failure-limit", false) {
        a.failure_limit = v.value;
    }
    if let Some(v) = d.count(fields, "inconclusive-limit", false) {
        a.inconclusive_limit = v.value;
    }
    if let Some(v) = d.count(fields, "error-limit", false) {
        a.error_limit = v.value;
    }
    Some(a)
}
