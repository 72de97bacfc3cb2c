//! `check`: wait until named gates pass.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::spanned::Spanned;
use crate::steps::{Definition, Resource};

/// A step that only judges gates.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Check {
    /// The gates to judge, all at once.
    pub gates: Vec<Spanned<String>>,
}

impl Definition for Check {
    const KEYWORD: &'static str = "check";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = false;
    const DEPLOYS: bool = false;
    const CHANGES_ELSEWHERE: bool = false;

    /// Reads a check step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Check> {
        let gates = d.gate_names(fields, "gates");
        if gates.is_empty() && !fields.is_defaults {
            d.missing(fields, "gates");
            return None;
        }
        Some(Check { gates })
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        self.gates.iter().collect()
    }

    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }

    fn asks_a_person(&self) -> bool {
        false
    }

    fn image(&self) -> Option<&str> {
        None
    }

    fn replicas_of(&self, _service: &str) -> Option<u64> {
        None
    }

    fn allow_removing_mut(&mut self) -> Option<&mut Vec<crate::steps::allow_removing::Removable>> {
        None
    }
}
