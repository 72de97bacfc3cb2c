//! `swarm`: a service converged with every task running and healthy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;

/// A Swarm health check: `swarm prodstack_backend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct SwarmGate {
    /// The service, by its full name.
    pub service: String,
}

impl super::Definition for SwarmGate {
    const KEYWORD: &'static str = "swarm";
    const EXAMPLE: &'static str = "swarm SERVICE";

    /// Reads a swarm gate.
    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<SwarmGate> {
        d.no_more_args(f, 1);
        match d.args(f.node()).first() {
            Some(v) => d.as_string("swarm", *v).map(|s| SwarmGate { service: s.value }),
            None => {
                d.push(Diagnostic::new(GateProblem::SwarmWithoutService, f.name_span()));
                None
            }
        }
    }
}
