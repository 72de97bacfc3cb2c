//! `prometheus`: an instant query and a condition on its value, or a comparison of its series
//! with a baseline (`baseline.rs`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::baseline::{self, Baseline};
use super::credentials::{self, Credentials};
use crate::condition::Condition;
use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;
use crate::spanned::Spanned;

/// A Prometheus check: a query whose single value must meet `pass` (and not meet `fail`), or
/// whose series must be no worse than a baseline's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct PrometheusGate {
    /// The server; when absent, the environment's `prometheus` from `planrun.toml`.
    pub server: Option<String>,
    /// The PromQL query; it must return one sample.
    pub query: String,
    /// The value passes when this holds.
    pub pass: Option<Condition>,
    /// The value fails when this holds.
    pub fail: Option<Condition>,
    /// What an empty result means.
    pub on_empty: Outcome,
    /// What a NaN result means.
    pub on_nan: Outcome,
    /// How queries authenticate (to the gate's server or the environment's), and their extra
    /// headers.
    #[serde(default, skip_serializing_if = "Credentials::is_empty")]
    pub credentials: Credentials,
    /// Instead of `pass` and `fail`: the series it is compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
}

/// The verdict of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The measurement passed.
    Pass,
    /// The measurement failed.
    Fail,
    /// Neither: counts toward `inconclusive-limit`.
    Inconclusive,
    /// The measurement could not be taken: counts toward `error-limit`.
    Error,
}

const OUTCOMES: &[(&str, Outcome)] = &[
    ("pass", Outcome::Pass),
    ("fail", Outcome::Fail),
    ("inconclusive", Outcome::Inconclusive),
    ("error", Outcome::Error),
];

impl super::Definition for PrometheusGate {
    const KEYWORD: &'static str = "prometheus";
    const EXAMPLE: &'static str = "prometheus { query \"...\"; pass \"result < 1\" }";

    /// Reads a prometheus gate.
    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<PrometheusGate> {
        d.no_more_args(f, 1);
        let server = d.args(f.node()).first().and_then(|v| d.as_string("prometheus", *v));
        if let Some(s) = &server
            && !(s.value.starts_with("http://") || s.value.starts_with("https://"))
        {
            d.push(Diagnostic::new(GateProblem::PrometheusNotAUrl { url: &s.value }, s.span));
        }
        let query = d.string(f, "query", true);
        let pass = condition(d, f, "pass");
        let fail = condition(d, f, "fail");
        let on_empty = outcome(d, f, "on-empty");
        let on_nan = outcome(d, f, "on-nan");
        let credentials = credentials::decode(d, f, server.as_ref());
        let threshold = pass.as_ref().or(fail.as_ref()).map(|c| c.span);
        let baseline = baseline::decode(d, f, threshold);
        // A condition or baseline that was written but does not read has its own error already.
        let written = ["pass", "fail"].iter().chain(baseline::SETTINGS).any(|k| f.sets(k));
        if pass.is_none() && fail.is_none() && !f.is_defaults && !written {
            d.push(Diagnostic::new(GateProblem::NoCondition, f.name_span()));
        }
        Some(PrometheusGate {
            server: server.map(|s| s.value),
            query: query?.value,
            pass: pass.map(|c| c.value),
            fail: fail.map(|c| c.value),
            on_empty,
            on_nan,
            credentials,
            baseline: baseline?,
        })
    }
}

fn condition(d: &mut Decoder<'_>, f: &mut Fields<'_>, key: &'static str) -> Option<Spanned<Condition>> {
    let text = d.string(f, key, false)?;
    match Condition::parse(&text.value) {
        Ok(c) => Some(Spanned::new(c, text.span)),
        Err(why) => {
            d.push(Diagnostic::new(GateProblem::BadCondition { key, text: &text.value, why: &why }, text.span));
            None
        }
    }
}

fn outcome(d: &mut Decoder<'_>, f: &mut Fields<'_>, key: &'static str) -> Outcome {
    d.choice(f, key, OUTCOMES).map_or(Outcome::Error, |w| w.value)
}
