//! Problems with the file's shape (`plan_decoder.rs`): the `plan` node, its header settings
//! (`stack`, `on-failure`, `log`) and `defaults`.

use super::Words;
use crate::diagnostic::Code;
use crate::span::Span;
use crate::suggest;

/// A problem with the `plan` node, its header or its `defaults`.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanProblem<'a> {
    /// A second `plan` node; the first is at `first`.
    SecondPlan { first: Span },
    /// A node beside `plan` at the top level.
    UnknownTopLevel { node: &'a str },
    /// A file without a `plan` node.
    NoPlan,
    /// A property on `plan`.
    PlanProperty,
    /// A header setting (`stack`, `on-failure`, `log`) given twice.
    HeaderTwice { keyword: &'a str, first: Span },
    /// A node in a plan that is no setting or step; `known` is what a plan holds.
    UnknownInPlan { node: &'a str, known: &'a [&'a str] },
    /// A plan without `stack`.
    NoStack { plan: &'a str },
    /// A `stack` that Docker would refuse to name services after, or that is no safe path
    /// component: `fault` says what is wrong, `rule` what is allowed.
    BadStackName { name: &'a str, fault: &'a str, rule: &'a str },
    /// A header setting without a value.
    HeaderWithoutValue { keyword: &'a str },
    /// A property on `defaults`.
    DefaultsProperty,
    /// Defaults for something that takes none; `allowed` is what takes them.
    NoDefaultsFor { keyword: &'a str, allowed: &'a [&'a str] },
    /// Defaults for the same kind given twice.
    DefaultsTwice { keyword: &'a str, first: Span },
    /// A `watch` without its window (`watch "2h" { ... }`).
    WatchWithoutWindow,
    /// A `watch` of `"0s"`.
    WatchOfNothing,
    /// A `watch` that names no gates; `declared` is how many the plan declares.
    WatchWithoutGates { declared: usize },
}

impl PlanProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use PlanProblem::*;
        match self {
            SecondPlan { first } => Words::error(Code::UnknownNode, "a file holds one plan", "second plan")
                .note(*first, "first plan")
                .help("put each plan in a file of its own"),
            UnknownTopLevel { node } => {
                let help = match suggest::did_you_mean(node, ["plan"]) {
                    Some(_) => "did you mean `plan`?",
                    None => "everything goes inside `plan NAME { ... }`",
                };
                Words::error(Code::UnknownNode, format!("unknown node `{node}` at the top level"), "not allowed here")
                    .help(help)
            }
            NoPlan => Words::error(Code::MissingField, "this file has no plan", "")
                .help("write `plan my-app { stack my-app ... }`"),
            PlanProperty => Words::error(Code::UnknownProperty, "`plan` takes no properties", "unexpected property")
                .help("write settings inside the block: `plan NAME { stack NAME }`"),
            HeaderTwice { keyword, first } => {
                Words::error(Code::DuplicateField, format!("`{keyword}` is set twice"), "set again here")
                    .note(*first, "first set here")
                    .help(format!("remove one of the two `{keyword}` lines"))
            }
            UnknownInPlan { node, known } => {
                Words::error(Code::UnknownNode, format!("unknown node `{node}` in a plan"), "not a setting or step")
                    .optional_help(suggest::help_for(node, "a plan holds", known))
            }
            NoStack { plan } => {
                Words::error(Code::MissingField, format!("plan `{plan}` has no `stack`"), "`stack` missing")
                    .help("add `stack NAME`: the Swarm stack this plan deploys, which names its deploy lock")
            }
            BadStackName { name, fault, rule } => Words::error(
                Code::BadValue,
                format!("`{}` is not a stack name: {fault}", name.escape_debug()),
                "not a stack name",
            )
            .help(format!("a stack name is {rule}")),
            HeaderWithoutValue { keyword } => {
                Words::error(Code::MissingField, format!("`{keyword}` has no value"), "value missing")
                    .help(format!("write `{keyword} VALUE`"))
            }
            DefaultsProperty => {
                Words::error(Code::UnknownProperty, "`defaults` takes no properties", "unexpected property")
                    .help("write `defaults { rolling parallelism=1 order=start-first }`")
            }
            NoDefaultsFor { keyword, allowed } => {
                Words::error(Code::UnknownNode, format!("no defaults for `{keyword}`"), "not allowed here")
                    .optional_help(suggest::help_for(keyword, "defaults can be set for", allowed))
            }
            DefaultsTwice { keyword, first } => {
                Words::error(Code::DuplicateField, format!("defaults for `{keyword}` are set twice"), "set again here")
                    .note(*first, "first set here")
                    .help("merge the two into one line")
            }
            WatchWithoutWindow => Words::error(Code::MissingField, "`watch` has no window", "how long?")
                .help("write how long to keep watching after the release: `watch \"2h\" { gates NAME }`"),
            WatchOfNothing => Words::error(Code::BadValue, "a watch of no time watches nothing", "zero").help(
                "give the time to keep judging the gates after the release, such as `\"30m\"`, or remove `watch`",
            ),
            WatchWithoutGates { declared: 0 } => {
                Words::error(Code::MissingField, "`watch` names no gates, and this plan declares none", "no gates")
                    .help("declare a gate (`gate NAME { ... }`) and name it here: `watch \"2h\" { gates NAME }`")
            }
            WatchWithoutGates { .. } => Words::error(Code::MissingField, "`watch` names no gates", "no gates")
                .help("name the gates to keep judging after the release: `watch \"2h\" { gates NAME... }`"),
        }
    }
}
