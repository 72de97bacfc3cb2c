//! `check`: wait until named gates pass.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::spanned::Spanned;

/// A step that only judges gates.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Check {
    /// The gates to judge, all at once.
    pub gates: Vec<Spanned<String>>,
}

impl Check {
    /// Reads a check step's settings.
    pub fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Check> {
        let gates = d.gate_names(fields, "gates");
        if gates.is_empty() && !fields.is_defaults {
            d.missing(fields, "gates");
            return None;
        }
        Some(Check { gates })
    }
}
