//! `pause`: wait for a time, or until a person approves.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Arg, Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::duration::Duration;
use crate::spanned::Spanned;
use crate::steps::{Definition, Resource};

/// A pause step: `pause soak "10m"` or `pause sign-off manual`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Pause {
    /// How long, or until whom.
    pub wait: Wait,
}

/// A timed or manual wait.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    /// Wait this long.
    Duration(Duration),
    /// Wait until a person approves.
    Manual,
}

impl Wait {
    /// Reads a duration string or the word `manual`.
    pub fn from_value(d: &mut Decoder<'_>, key: &str, value: Arg<'_>) -> Option<Wait> {
        if matches!(value.0, crate::kdl_fast::Value::String(s) if s == "manual") {
            return Some(Wait::Manual);
        }
        d.as_duration(key, value).map(|v| Wait::Duration(v.value))
    }
}

impl Definition for Pause {
    const KEYWORD: &'static str = "pause";
    const ARGUMENTS: usize = 2;
    const DEFAULTS: bool = false;
    const DEPLOYS: bool = false;
    const CHANGES_ELSEWHERE: bool = false;

    /// Reads a pause step: its second argument is the wait.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Pause> {
        let args = d.args(fields.node());
        match args.get(1) {
            Some(value) => Wait::from_value(d, "pause", *value).map(|wait| Pause { wait }),
            None if fields.is_defaults => None,
            None => {
                d.push(Diagnostic::new(StepProblem::PauseWithoutDuration { what: fields.what() }, fields.name_span()));
                None
            }
        }
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }

    fn asks_a_person(&self) -> bool {
        self.wait == Wait::Manual
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
