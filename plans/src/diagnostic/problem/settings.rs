//! Problems with a node's settings and the values written in them (`decoder/`): settings given
//! twice, missing or unknown, values of the wrong type or out of their range, names, arguments
//! and `${name}`.

use super::Words;
use crate::diagnostic::Code;
use crate::span::Span;
use crate::suggest;

/// A problem with a setting or its value. `what` names the node in the user's words
/// ("rolling step `backend`"), `key` the setting.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingProblem<'a> {
    /// A setting given twice; the second one is the place.
    SetTwice { key: &'a str, what: &'a str, first: Span },
    /// A setting that must be a child node, written as a property.
    NotAChild { key: &'a str, what: &'a str },
    /// A property on a setting written as a child node.
    PropertyOnSetting { key: &'a str, what: &'a str },
    /// A block on a setting written as a child node.
    BlockOnSetting { key: &'a str, what: &'a str },
    /// A setting written as a child node without a value.
    NoValue { key: &'a str, what: &'a str },
    /// A second value of a setting that takes one.
    ExtraValue { key: &'a str, what: &'a str },
    /// A required setting that is not there; the node's name is the place.
    Missing { key: &'a str, what: &'a str },
    /// A setting nobody asked for, with the closest asked-for name, if any is close.
    Unknown { key: &'a str, what: &'a str, property: bool, best: Option<&'a str>, asked: &'a [&'a str] },
    /// A list setting (`after`, `gates`) that names nothing.
    NamesNothing { key: &'a str, what: &'a str },
    /// A value of the wrong type; `expected` and `found` are type names ("a string").
    WrongType { key: &'a str, expected: &'a str, found: &'a str },
    /// A count that is not a whole number, 0 or more.
    NotACount { key: &'a str, number: f64 },
    /// A number from `${name}` that is no number once interpolated.
    NotANumberAfterInterpolation { key: &'a str, expected: &'a str, text: &'a str },
    /// `"true"` or `"false"` where a boolean belongs.
    BooleanAsString { key: &'a str, text: &'a str },
    /// A duration written as a bare number.
    DurationWithoutUnit { key: &'a str, number: i128 },
    /// A duration that does not parse, and why.
    BadDuration { text: &'a str, why: &'a str },
    /// A percentage written as a bare number.
    PercentageAsNumber { key: &'a str, written: &'a str },
    /// A percentage that does not parse, and why.
    BadPercentage { text: &'a str, why: &'a str },
    /// A word that is not one of the allowed ones.
    NotAChoice { key: &'a str, text: &'a str, words: &'a [&'a str] },
    /// The name of a step, gate, variable, ... that is not a string; `node` is its keyword.
    NameNotAString { kind: &'a str, node: &'a str, found: &'a str },
    /// A step, gate, variable, ... without a name; `node` is its keyword.
    NoName { kind: &'a str, node: &'a str },
    /// A positional argument past the ones `node` takes.
    UnexpectedArgument { what: &'a str, node: &'a str, allowed: usize, found: &'a str },
    /// `${` without its `}`.
    UnclosedInterpolation,
    /// `${name}` naming no variable, with the closest declared one, if any is close.
    UnknownVariable { name: &'a str, best: Option<&'a str> },
}

impl SettingProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use SettingProblem::*;
        match *self {
            SetTwice { key, what, first } => {
                Words::error(Code::DuplicateField, format!("`{key}` is set twice in {what}"), "set again here")
                    .note(first, "first set here")
                    .help(format!("remove one of the two `{key}` settings"))
            }
            NotAChild { key, what } => Words::error(
                Code::WrongType,
                format!("`{key}` must be a child node, not a property"),
                "written as a property",
            )
            .help(format!("write `{key} ...` on its own line inside {what}")),
            PropertyOnSetting { key, what } => Words::error(
                Code::UnknownProperty,
                format!("`{key}` takes no properties in {what}"),
                "unexpected property",
            )
            .help(format!("write the value as an argument: `{key} VALUE`")),
            BlockOnSetting { key, what } => {
                Words::error(Code::UnknownNode, format!("`{key}` takes no block in {what}"), "unexpected block")
                    .help(format!("write the value as an argument: `{key} VALUE`"))
            }
            NoValue { key, what } => {
                Words::error(Code::MissingField, format!("`{key}` has no value in {what}"), "value missing")
                    .help(format!("write `{key} VALUE`"))
            }
            ExtraValue { key, what } => {
                Words::error(Code::WrongType, format!("`{key}` takes one value in {what}"), "extra value")
                    .help(format!("remove the extra values after `{key}`"))
            }
            Missing { key, what } => {
                Words::error(Code::MissingField, format!("{what} has no `{key}`"), format!("`{key}` missing"))
                    .help(format!("add `{key} VALUE` inside {what}"))
            }
            Unknown { key, what, property, best, asked } => {
                let (code, kind) =
                    if property { (Code::UnknownProperty, "property") } else { (Code::UnknownNode, "setting") };
                let help = match best {
                    Some(best) => Some(format!("did you mean `{best}`?")),
                    None => suggest::help_for(key, &format!("{what} takes"), asked),
                };
                Words::error(code, format!("unknown {kind} `{key}` in {what}"), format!("unknown {kind}"))
                    .optional_help(help)
            }
            NamesNothing { key, what } => {
                Words::error(Code::MissingField, format!("`{key}` names nothing in {what}"), "no names")
                    .help(format!("write `{key} NAME...` or remove it"))
            }
            WrongType { key, expected, found } => {
                let example = match expected {
                    "a string" => format!("`{key} \"...\"`"),
                    "an integer" => format!("`{key} 3`"),
                    "a number" => format!("`{key} 0.5`"),
                    "a boolean" => format!("`{key} #true` or `{key} #false`"),
                    "a duration" => format!("`{key} \"30s\"`"),
                    _ => format!("`{key} VALUE`"),
                };
                Words::error(Code::WrongType, format!("`{key}` must be {expected}"), format!("found {found}"))
                    .help(format!("write {example}"))
            }
            NotACount { key, number } => Words::error(
                Code::BadValue,
                format!("`{key}` must be a whole number, 0 or more"),
                format!("{number} is not allowed"),
            )
            .help(format!("write `{key} 1`")),
            NotANumberAfterInterpolation { key, expected, text } => Words::error(
                Code::WrongType,
                format!("`{key}` must be {expected}"),
                format!("`{text}` after interpolation"),
            )
            .help("give the variable a numeric value"),
            BooleanAsString { key, text } => {
                Words::error(Code::WrongType, format!("`{key}` must be a boolean"), "found a string")
                    .help(format!("KDL 2 writes booleans as #{text}"))
            }
            DurationWithoutUnit { key, number } => {
                Words::error(Code::BadDuration, format!("`{key}` needs a unit"), "a bare number")
                    .help(format!("write `{key} \"{number}s\"` (units: ms, s, m, h)"))
            }
            BadDuration { text, why } => Words::error(Code::BadDuration, format!("`{text}` is not a duration"), why)
                .help("write a number and a unit: \"500ms\", \"30s\", \"5m\", \"1h30m\""),
            PercentageAsNumber { key, written } => {
                Words::error(Code::BadPercentage, format!("`{key}` must be a percentage string"), "a bare number")
                    .help(format!("write `{key}=\"{written}%\"`"))
            }
            BadPercentage { text, why } => {
                Words::error(Code::BadPercentage, format!("`{text}` is not a percentage"), why)
                    .help("write a number from 0 to 100 followed by %: \"25%\"")
            }
            NotAChoice { key, text, words } => {
                Words::error(Code::BadValue, format!("`{text}` is not a valid `{key}`"), "not allowed here")
                    .optional_help(suggest::help_for(text, "expected one of", words))
            }
            NameNotAString { kind, node, found } => Words::error(
                Code::WrongType,
                format!("the name of a {kind} must be a string"),
                format!("found {found}"),
            )
            .help(format!("write `{node} my-name`")),
            NoName { kind, node } => {
                Words::error(Code::MissingField, format!("this {kind} has no name"), "name missing")
                    .help(format!("write `{node} my-name {{ ... }}`"))
            }
            UnexpectedArgument { what, node, allowed, found } => {
                let help = match allowed {
                    0 => format!("`{node}` takes no arguments; settings are written as `key=value` or as child nodes"),
                    1 => format!("`{node}` takes one argument; settings are written as `key=value` or as child nodes"),
                    n => format!("`{node}` takes {n} arguments"),
                };
                Words::error(
                    Code::UnknownProperty,
                    format!("unexpected argument in {what}"),
                    format!("unexpected {found}"),
                )
                .help(help)
            }
            UnclosedInterpolation => Words::error(Code::UnknownVariable, "`${` is not closed", "no closing `}`")
                .help("close it: `${name}`, or write `$${` for a literal `${`"),
            UnknownVariable { name, best } => {
                let help = match best {
                    Some(best) => format!("did you mean `${{{best}}}`?"),
                    None => format!("declare it: `var {name} default=\"...\"`"),
                };
                Words::error(Code::UnknownVariable, format!("unknown variable `{name}`"), "not declared").help(help)
            }
        }
    }
}
