//! Gate kinds: one file per kind, named as users write them; `analysis.rs` holds the settings
//! they share.

pub mod analysis;
pub mod command;
pub mod http;
pub mod prometheus;
pub mod swarm;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::Decoder;
use crate::diagnostic::{Code, Diagnostic};
use crate::duration::Duration;
use crate::kdl_fast::Node;
use crate::keywords::keyword_enum;
use crate::spanned::Spanned;
use analysis::Analysis;

pub use command::CommandGate;
pub use http::HttpGate;
pub use prometheus::{Outcome, PrometheusGate};
pub use swarm::SwarmGate;

/// A named health gate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Gate {
    /// The name steps use.
    pub name: Spanned<String>,
    /// What is measured.
    pub kind: GateKind,
    /// How measurements are taken and judged.
    pub analysis: Analysis,
}

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

keyword_enum! {
    /// A gate kind as written in a plan: one variant per [`GateKind`].
    pub enum GateKeyword {
        /// `http`
        Http = "http",
        /// `prometheus`
        Prometheus = "prometheus",
        /// `swarm`
        Swarm = "swarm",
        /// `command`
        Command = "command",
    }
}

/// The gate kinds, as written in a plan.
pub const KINDS: &[&str] = GateKeyword::NAMES;

impl GateKind {
    /// The keyword of this kind.
    pub fn keyword(&self) -> &'static str {
        let kind = match self {
            GateKind::Http(_) => GateKeyword::Http,
            GateKind::Prometheus(_) => GateKeyword::Prometheus,
            GateKind::Swarm(_) => GateKeyword::Swarm,
            GateKind::Command(_) => GateKeyword::Command,
        };
        kind.keyword()
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
    for &kind in GateKeyword::ALL {
        let Some(kind_node) = d.child(&mut fields, kind.keyword()) else { continue };
        let decoded = decode_kind(d, kind, kind_node, &what);
        kinds.push((
            kind_node.name().span(),
            decoded.map(|(k, t)| {
                timeout = t;
                k
            }),
        ));
    }
    let analysis = analysis::decode_analysis(d, &mut fields, timeout);
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

fn decode_kind(
    d: &mut Decoder<'_>,
    kind: GateKeyword,
    node: &Node,
    what: &str,
) -> Option<(GateKind, Option<Duration>)> {
    let mut f = d.fields(node, format!("the `{}` of {what}", kind.keyword()));
    let timeout = d.duration(&mut f, "timeout").map(|t| t.value);
    let decoded = match kind {
        GateKeyword::Http => HttpGate::decode(d, &mut f).map(GateKind::Http),
        GateKeyword::Prometheus => PrometheusGate::decode(d, &mut f).map(GateKind::Prometheus),
        GateKeyword::Swarm => SwarmGate::decode(d, &mut f).map(GateKind::Swarm),
        GateKeyword::Command => CommandGate::decode(d, &mut f).map(GateKind::Command),
    };
    d.finish(f);
    Some((decoded?, timeout))
}
