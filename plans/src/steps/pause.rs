//! `pause`: wait for a time, or until a person approves.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Arg, Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::duration::Duration;
use crate::spanned::Spanned;
use crate::steps::{Definition, Resource};

/// A pause step: `pause soak "10m"` or `pause sign-off manual timeout="4h"`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Pause {
    /// How long, or until whom.
    pub wait: Wait,
    /// How long a manual pause waits for an answer before the step fails (and the run rolls
    /// back, or pauses, as `on-failure` says); without it, until answered or interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
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
        let timeout = d.duration(fields, "timeout");
        match args.get(1) {
            Some(value) => {
                let wait = Wait::from_value(d, "pause", *value)?;
                if let (Wait::Duration(_), Some(timeout)) = (wait, &timeout) {
                    d.push(Diagnostic::new(StepProblem::TimeoutOnTimedPause { what: fields.what() }, timeout.span));
                    return None;
                }
                Some(Pause { wait, timeout: timeout.map(|t| t.value) })
            }
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
