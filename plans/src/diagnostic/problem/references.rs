//! Problems with names and the order they make (`check/`): two steps or gates with one name, an
//! `after` or `gates` naming nothing declared, and a dependency cycle.

use super::Words;
use crate::diagnostic::Code;
use crate::span::Span;

/// A problem with the names a plan declares and refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceProblem<'a> {
    /// A second step named `name`; the first is at `first`.
    DuplicateStep { name: &'a str, first: Span },
    /// A second gate named `name`; the first is at `first`.
    DuplicateGate { name: &'a str, first: Span },
    /// `after` naming no step; `from` is the step that waits, when known, `best` the closest step.
    UnknownStep { name: &'a str, from: Option<&'a str>, best: Option<&'a str> },
    /// `gates` naming no gate; `best` is the closest gate.
    UnknownGate { name: &'a str, best: Option<&'a str> },
    /// Steps that wait for each other in a circle: `path` names them in order (the first again
    /// at the end), `waits` has each wait after the first, with where it is written.
    Cycle { path: &'a [&'a str], waits: &'a [Span] },
}

impl ReferenceProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use ReferenceProblem::*;
        match *self {
            DuplicateStep { name, first } => duplicate(
                Code::DuplicateStep,
                "step",
                name,
                first,
                "rename one of them; `after` refers to steps by name",
            ),
            DuplicateGate { name, first } => {
                duplicate(Code::DuplicateGate, "gate", name, first, "rename or remove one of them")
            }
            UnknownStep { name, from, best } => {
                let message = match from {
                    Some(from) => format!("`{from}` waits for `{name}`, which is not a step"),
                    None => format!("`{name}` is not a step"),
                };
                let help = best
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| "`after` names steps of this plan".into());
                Words::error(Code::UnknownStep, message, "no such step").help(help)
            }
            UnknownGate { name, best } => {
                let help = best
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("declare it: `gate {name} {{ http \"http://...\" }}`"));
                Words::error(Code::UnknownGate, format!("unknown gate `{name}`"), "not declared").help(help)
            }
            Cycle { path, waits } => {
                let n = path.len() - 1;
                let wait = |k: usize| format!("`{}` waits for `{}`", path[k], path[k + 1]);
                let mut words = Words::error(Code::Cycle, format!("dependency cycle: {}", path.join(" -> ")), wait(0));
                for (k, span) in waits.iter().enumerate() {
                    words = words.note(*span, wait(k + 1));
                }
                let help = if n == 1 {
                    format!("remove `{}` from its own `after`", path[0])
                } else {
                    "remove one of these `after` entries so the steps can run in some order".into()
                };
                words.help(help)
            }
        }
    }
}

fn duplicate(code: Code, what: &str, name: &str, first: Span, help: &str) -> Words {
    Words::error(code, format!("two {what}s are named `{name}`"), format!("second {what}"))
        .note(first, format!("first {what} with this name"))
        .help(help)
}
