//! `command`: a program whose exit status decides.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;

/// A command check: `command "sh" "-c" "pg_isready"`; exit status 0 passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CommandGate {
    /// Program and arguments.
    pub argv: Vec<String>,
}

impl super::Definition for CommandGate {
    const KEYWORD: &'static str = "command";
    const EXAMPLE: &'static str = "command \"sh\" \"-c\" \"...\"";

    /// Reads a command gate.
    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<CommandGate> {
        let args = d.args(f.node());
        if args.is_empty() {
            d.push(Diagnostic::new(GateProblem::CommandWithoutProgram, f.name_span()));
            return None;
        }
        let argv: Vec<String> = d.argv("command", &args).into_iter().map(|s| s.value).collect();
        Some(CommandGate { argv })
    }
}
