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
pub const SETTINGS: &[&str] = &["baseline", "baseline-query", "margin", "better"];

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
        // `margin` and `better` without a baseline: the gate would ignore them.
        for (key, at) in [("margin", margin.map(|m| m.span)), ("better", better.map(|b| b.span))] {
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
    let margin = margin.map_or(Percentage::parse("0%").expect("0% is a percentage"), |m| m.value);
    Some(Some(Baseline { against, margin, better: better.value }))
}
