//! Problems with a `notify` node (`notify/`): where its messages go and which ones.

use super::Words;
use crate::diagnostic::Code;
use crate::span::Span;
use crate::suggest;

/// A problem with a `notify`. `what` names it ("notify `team`").
#[derive(Debug, Clone, PartialEq)]
pub enum NotifyProblem<'a> {
    /// A `notify` without a target; `kinds` and `examples` are the target kinds'.
    NoTarget { what: &'a str, kinds: &'a [&'a str], examples: &'a [&'a str] },
    /// Two targets in one `notify`; the first is at `first`.
    TwoTargets { what: &'a str, first: Span },
    /// A webhook URL written in the plan.
    UrlInPlan { what: &'a str },
    /// A second `notify` named `name`; the first is at `first`.
    Duplicate { name: &'a str, first: Span },
}

impl NotifyProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use NotifyProblem::*;
        match *self {
            NoTarget { what, kinds, examples } => Words::error(
                Code::MissingField,
                format!("{what} does not say where to send"),
                format!("no {}", suggest::either(kinds)),
            )
            .help(format!("add one of {}", examples.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", "))),
            TwoTargets { what, first } => {
                Words::error(Code::DuplicateField, format!("{what} sends to more than one place"), "second target")
                    .note(first, "first target")
                    .help("declare one `notify` per target, each with its own name")
            }
            UrlInPlan { what } => Words::error(
                Code::CredentialsInPlan,
                format!("{what} writes its webhook URL in the plan"),
                "a secret in the plan",
            )
            .help(
                "a webhook URL lets whoever holds it post to the channel, and the plan file is in the repository, \
                 its saved copies and `planrun show`: put the URL in an environment variable or a file on the \
                 deploying machine and write `url-env=\"SLACK_WEBHOOK_URL\"` or `url-file=\"secrets/slack-url\"`",
            ),
            Duplicate { name, first } => {
                Words::error(Code::DuplicateField, format!("two notifications are named `{name}`"), "second one")
                    .note(first, "first one")
                    .help("rename or remove one of them")
            }
        }
    }
}
