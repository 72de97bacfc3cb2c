//! Gate kinds: one file per kind, named as users write them.

pub mod command;
pub mod http;
pub mod prometheus;
pub mod swarm;

use crate::kdl_fast::Node;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::{Code, Diagnostic};
use crate::duration::Duration;
use crate::model::{Analysis, Gate, Sampling};

pub use command::CommandGate;
pub use http::HttpGate;
pub use prometheus::{Outcome, PrometheusGate};
pub use swarm::SwarmGate;

/// What a gate measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GateKind {
    /// An HTTP request and its status and body.
    Http(HttpGate),
    /// A Prometheus query and a condition on its result.
    Prometheus(PrometheusGate),
    /// A Swarm service converged with every task healthy.
    Swarm(SwarmGate),
    /// A command's exit status.
    Command(CommandGate),
}

/// The gate kinds, as written in a plan.
pub const KINDS: &[&str] = &["http", "prometheus", "swarm", "command"];

impl GateKind {
    /// The keyword of this kind.
    pub fn keyword(&self) -> &'static str {
        match self {
            GateKind::Http(_) => "http",
            GateKind::Prometheus(_) => "prometheus",
            GateKind::Swarm(_) => "swarm",
            GateKind::Command(_) => "command",
        }
    }
}

/// Decodes `gate NAME { KIND ...; analysis settings }`.
pub fn decode(d: &mut Decoder<'_>, node: &Node, defaults: Option<&Node>) -> Option<Gate> {
    let name = d.name_arg(node, "gate");
    let what = name.as_ref().map(|n| format!("gate `{}`", n.value)).unwrap_or_else(|| "this gate".into());
    let mut fields = d.with_defaults(d.fields(node, what.clone()), defaults);
    d.no_more_args(&fields, 1);
    let mut kinds = Vec::new();
    let mut timeout = None;
    for keyword in KINDS {
        let Some(kind_node) = d.child(&mut fields, keyword) else { continue };
        let decoded = decode_kind(d, kind_node, &what);
        kinds.push((
            kind_node.name().span(),
            decoded.map(|(k, t)| {
                timeout = t;
                k
            }),
        ));
    }
    let analysis = decode_analysis(d, &mut fields, timeout);
    if kinds.is_empty() {
        d.push(
            Diagnostic::error(Code::MissingField, format!("{what} does not say what to measure"), fields.name_span(), "no http, prometheus, swarm or command")
                .with_help("add one of `http \"URL\"`, `prometheus { query \"...\"; pass \"result < 1\" }`, `swarm SERVICE`, `command \"sh\" \"-c\" \"...\"`"),
        );
    }
    if kinds.len() > 1 {
        let mut d2 = Diagnostic::error(
            Code::DuplicateField,
            format!("{what} measures more than one thing"),
            kinds[1].0,
            "second measurement",
        )
        .with_label(kinds[0].0, "first measurement")
        .with_help("declare one gate per measurement and list both where they are used");
        d2.labels.truncate(2);
        d.push(d2);
    }
    d.finish(fields);
    let kind = kinds.into_iter().next()?.1?;
    Some(Gate { name: name?, kind, analysis: analysis? })
}

fn decode_kind(d: &mut Decoder<'_>, node: &Node, what: &str) -> Option<(GateKind, Option<Duration>)> {
    let mut f = d.fields(node, format!("the `{}` of {what}", node.name().value()));
    let timeout = d.duration(&mut f, "timeout").map(|t| t.value);
    let kind = match node.name().value() {
        "http" => HttpGate::decode(d, &mut f).map(GateKind::Http),
        "prometheus" => PrometheusGate::decode(d, &mut f).map(GateKind::Prometheus),
        "swarm" => SwarmGate::decode(d, &mut f).map(GateKind::Swarm),
        _ => CommandGate::decode(d, &mut f).map(GateKind::Command),
    };
    d.finish(f);
    Some((kind?, timeout))
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
            d.push(
                Diagnostic::error(Code::BadValue, "a gate's `interval` cannot be zero", v.span, "zero")
                    .with_help("write a pause between measurements, such as `interval \"10s\"`"),
            );
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
            d.push(
                Diagnostic::error(Code::BadValue, "a gate takes `count` or `window`, not both", w.span, "window")
                    .with_label(c.span, "count")
                    .with_help("`count N` takes N measurements; `window \"5m\"` measures every interval for that long"),
            );
            return None;
        }
        (Some(c), None) => {
            if c.value == 0 {
                d.push(
                    Diagnostic::error(
                        Code::BadValue,
                        "`count 0` takes no measurement, so the gate could never fail",
                        c.span,
                        "zero",
                    )
                    .with_help("write `count 1` or more"),
                );
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
