//! `run`: a command on the machine running planrun, as a hook between steps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::duration::Duration;
use crate::spanned::Spanned;
use crate::steps::{Definition, Resource};

/// A command step.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Run {
    /// Program and arguments; no shell unless you name one.
    pub command: Vec<Spanned<String>>,
    /// A command that undoes this one, run on rollback.
    pub undo: Vec<Spanned<String>>,
    /// The step fails when the command runs longer.
    pub timeout: Duration,
}

impl Definition for Run {
    const KEYWORD: &'static str = "run";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = false;
    const DEPLOYS: bool = false;
    const CHANGES_ELSEWHERE: bool = true;

    /// Reads a run step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Run> {
        let command = d.command(fields, "command");
        let undo = d.command(fields, "undo");
        let timeout = d.duration(fields, "timeout").map(|v| v.value).unwrap_or(Duration::from_secs(600));
        if command.is_empty() && !fields.is_defaults {
            d.push(Diagnostic::new(StepProblem::RunWithoutCommand { what: fields.what() }, fields.name_span()));
            return None;
        }
        Some(Run { command, undo, timeout })
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        Vec::new()
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
