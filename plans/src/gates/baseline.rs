//! What a `prometheus` gate compares the new release with, instead of a fixed threshold: the
//! same query before the run changed anything (`baseline before`), or another query measured at
//! the same instants (`baseline-query`, the stable service beside a canary); `margin` is how
//! much worse the new one may be, `better` which way is better.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;
use crate::percentage::Percentage;
use crate::span::Span;

/// A comparison of the new release's series with a baseline series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Baseline {
    /// What the new release is compared with.
    pub against: Against,
    /// How much worse than the baseline the new release may be.
    pub margin: Percentage,
    /// Which way is better.
    pub better: Better,
    /// The new release is worse when the U test's p-value is below this (default 0.05).
    #[serde(default = "default_significance")]
    pub significance: f64,
    /// Samples needed on each side for the U test; with fewer, the medians are compared
    /// (default 8).
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
}

/// The default `significance`.
pub const SIGNIFICANCE: f64 = 0.05;
/// The default `min-samples`: with 8 and 8, a one-sided test can reach p = 1/12870 when every
/// new value is worse.
pub const MIN_SAMPLES: u64 = 8;

fn default_significance() -> f64 {
    SIGNIFICANCE
}

fn default_min_samples() -> u64 {
    MIN_SAMPLES
}

/// Where the baseline series comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Against {
    /// The gate's own query, evaluated over a window as long as the gate's, ending when the run
    /// started (before it changed anything).
    Before,
    /// Another query (the stable service beside a canary), evaluated at the same instants.
    Query(String),
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    /// Lower is better: latency, error rate.
    Lower,
    /// Higher is better: throughput, success ratio.
    Higher,
}

impl Better {
    /// The word as written in a plan.
    pub fn word(self) -> &'static str {
        match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }
    }
}

/// The settings that only mean something with a baseline.
pub const SETTINGS: &[&str] = &["baseline", "baseline-query", "margin", "better", "significance", "min-samples"];

const BEFORE: &[(&str, ())] = &[("before", ())];
const BETTER: &[(&str, Better)] = &[("lower", Better::Lower), ("higher", Better::Higher)];

/// Reads `baseline`, `baseline-query`, `margin` and `better`. `condition` is where the gate's
/// first `pass` or `fail` is, if it has one: a gate judges against a threshold or a baseline.
/// The outer `None` is a setting in error; `Some(None)` a gate without a baseline.
pub fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>, condition: Option<Span>) -> Option<Option<Baseline>> {
    let before = d.choice(f, "baseline", BEFORE);
    let query = d.string(f, "baseline-query", false);
    let margin = d.value(f, "margin", false).and_then(|value| d.as_percentage("margin", value));
    let better = d.choice(f, "better", BETTER);
    let significance = d.number(f, "significance");
    let min_samples = d.count(f, "min-samples", false);
    let mut bad = false;
    if let Some(s) = &significance
        && !(s.value > 0.0 && s.value < 0.5)
    {
        d.push(Diagnostic::new(GateProblem::BadSignificance { value: s.value }, s.span));
        bad = true;
    }
    if let Some(m) = &min_samples
        && m.value < 3
    {
        d.push(Diagnostic::new(GateProblem::FewSamples { value: m.value }, m.span));
        bad = true;
    }
    let against = match (before, query) {
        (Some(b), Some(q)) => {
            d.push(Diagnostic::new(GateProblem::TwoBaselines { first: b.span }, q.span));
            return None;
        }
        (Some(b), None) => Some((Against::Before, b.span)),
        (None, Some(q)) => Some((Against::Query(q.value), q.span)),
        (None, None) => None,
    };
    let Some((against, span)) = against else {
        // `margin`, `better` and the test's settings without a baseline: the gate would ignore them.
        let settings = [
            ("margin", margin.map(|m| m.span)),
            ("better", better.map(|b| b.span)),
            ("significance", significance.map(|s| s.span)),
            ("min-samples", min_samples.map(|m| m.span)),
        ];
        for (key, at) in settings {
            if let Some(at) = at {
                d.push(Diagnostic::new(GateProblem::WithoutBaseline { key }, at));
            }
        }
        return Some(None);
    };
    if let Some(threshold) = condition {
        d.push(Diagnostic::new(GateProblem::ThresholdAndBaseline { baseline: span }, threshold));
        return None;
    }
    let Some(better) = better else {
        d.push(Diagnostic::new(GateProblem::NoBetter, span));
        return None;
    };
    if bad {
        return None;
    }
    let margin = margin.map_or(Percentage::parse("0%").expect("0% is a percentage"), |m| m.value);
    Some(Some(Baseline {
        against,
        margin,
        better: better.value,
        significance: significance.map_or(SIGNIFICANCE, |s| s.value),
        min_samples: min_samples.map_or(MIN_SAMPLES, |m| m.value),
    }))
}
