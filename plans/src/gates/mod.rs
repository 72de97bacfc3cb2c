//! Gate kinds: one file per kind, named as users write them; `analysis.rs` holds the settings
//! they share, `credentials.rs` what `http` and `prometheus` send to authenticate.

pub mod analysis;
pub mod baseline;
pub mod command;
pub mod credentials;
pub mod http;
pub mod prometheus;
pub mod swarm;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;
use crate::duration::Duration;
use crate::kdl_fast::Node;
use crate::spanned::Spanned;
use analysis::Analysis;

pub use baseline::{Against, Baseline, Better};
pub use command::CommandGate;
pub use credentials::{Auth, Credentials, Header, HeaderValue, Secret};
pub use http::{FromNetwork, HttpGate};
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

/// What a gate kind is, defined once, in its own file (`gates/<kind>.rs`). `gate_kinds!` below
/// derives [`GateKind`], [`GateKeyword`] and every dispatch over kinds from the implementations.
pub trait Definition: Sized {
    /// The keyword users write inside `gate NAME { ... }`.
    const KEYWORD: &'static str;
    /// How to write it, shown when a gate says nothing about what to measure.
    const EXAMPLE: &'static str;
    /// Reads the kind's settings.
    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<Self>;
}

/// The gate kinds: one line each, the variant and its model.
macro_rules! gate_kinds {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty), )*) => {
        /// What a gate measures.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "kind", rename_all = "kebab-case")]
        pub enum GateKind {
            $( $(#[$doc])* $variant($ty), )*
        }

        /// A gate kind as written in a plan: one variant per [`GateKind`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum GateKeyword {
            $( $(#[$doc])* $variant, )*
        }

        impl GateKeyword {
            /// Every kind, in the order the language reference lists them.
            pub const ALL: &'static [GateKeyword] = &[$(GateKeyword::$variant,)*];

            /// Every keyword, in the same order.
            pub const NAMES: &'static [&'static str] = &[$(<$ty as Definition>::KEYWORD,)*];

            /// The keyword as written in a plan.
            pub fn keyword(self) -> &'static str {
                match self { $( GateKeyword::$variant => <$ty as Definition>::KEYWORD, )* }
            }

            /// The kind a keyword names.
            pub fn from_keyword(word: &str) -> Option<GateKeyword> {
                Self::ALL.iter().copied().find(|k| k.keyword() == word)
            }

            /// How to write it.
            pub fn example(self) -> &'static str {
                match self { $( GateKeyword::$variant => <$ty as Definition>::EXAMPLE, )* }
            }
        }

        impl GateKind {
            /// The kind, without its settings.
            pub fn kind(&self) -> GateKeyword {
                match self { $( GateKind::$variant(_) => GateKeyword::$variant, )* }
            }
        }

        fn decode_settings(d: &mut Decoder<'_>, kind: GateKeyword, f: &mut Fields<'_>) -> Option<GateKind> {
            match kind {
                $( GateKeyword::$variant => <$ty as Definition>::decode(d, f).map(GateKind::$variant), )*
            }
        }
    };
}

gate_kinds! {
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
pub const KINDS: &[&str] = GateKeyword::NAMES;

impl GateKind {
    /// The keyword of this kind.
    pub fn keyword(&self) -> &'static str {
        self.kind().keyword()
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
        let examples: Vec<&str> = GateKeyword::ALL.iter().map(|k| k.example()).collect();
        let problem = GateProblem::NoMeasurement { what: &what, kinds: GateKeyword::NAMES, examples: &examples };
        d.push(Diagnostic::new(problem, fields.name_span()));
    }
    if kinds.len() > 1 {
        d.push(Diagnostic::new(GateProblem::TwoMeasurements { what: &what, first: kinds[0].0 }, kinds[1].0));
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
    let decoded = decode_settings(d, kind, &mut f);
    d.finish(f);
    Some((decoded?, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde names a kind from its variant; the keyword comes from its definition: they agree.
    #[test]
    fn every_kinds_serde_tag_is_its_keyword() {
        let schema = serde_json::to_string(&schemars::schema_for!(GateKind)).unwrap();
        for keyword in GateKeyword::NAMES {
            assert!(schema.contains(&format!("\"const\":\"{keyword}\"")), "no tag `{keyword}` in {schema}");
        }
    }
}
