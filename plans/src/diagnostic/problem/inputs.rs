//! Problems with what the plan reads besides its settings: the KDL text itself (`syntax.rs`), its
//! variables and the values given them from outside (`variables.rs`), and `planrun.toml`
//! (`project.rs`).

use super::Words;
use crate::diagnostic::Code;
use crate::span::Span;

/// Who set a variable from outside the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setter<'a> {
    /// `--var KEY=VALUE` on the command line.
    CommandLine,
    /// The named environment of `planrun.toml`.
    Project { env: &'a str },
}

/// A problem with the text, the variables or the project file.
#[derive(Debug, Clone, PartialEq)]
pub enum InputProblem<'a> {
    /// A syntax error, in the words of planrun's KDL parser (`kdl_fast`), which knows the
    /// grammar; `kdl_v1` when it is KDL 1 that KDL 2 spells differently.
    Syntax { message: &'a str, label: &'a str, help: Option<&'a str>, related: &'a [(Span, String)], kdl_v1: bool },
    /// A variable declared twice; the first is at `first`.
    DuplicateVariable { name: &'a str, first: Span },
    /// A variable with no value from anywhere; `env` is the environment variable it reads.
    NoValue { name: &'a str, required: bool, env: Option<&'a str> },
    /// A variable set from outside that the plan does not declare; `best` is the declared one
    /// it probably means, `declared` every declared one.
    Undeclared { key: &'a str, setter: Setter<'a>, best: Option<&'a str>, declared: &'a [&'a str] },
    /// `planrun.toml` that does not parse, in the TOML parser's words.
    Project { file: &'a str, message: &'a str },
    /// A plan file whose bytes are not UTF-8 (the span is the first bad byte).
    NotUtf8,
}

impl InputProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use InputProblem::*;
        match *self {
            NotUtf8 => Words::error(Code::Syntax, "the file is not valid UTF-8", "invalid byte")
                .help("KDL files are UTF-8: save the plan as UTF-8"),
            Syntax { message, label, help, related, kdl_v1 } => {
                let mut words = if kdl_v1 {
                    Words::error(Code::KdlV1, format!("{message}; planrun reads KDL 2"), label).optional_help(
                        help.map(|h| format!("{h}; every change from KDL 1 is listed at https://kdl.dev/")),
                    )
                } else {
                    Words::error(Code::Syntax, message, label).optional_help(help.map(str::to_owned))
                };
                for (span, text) in related {
                    words = words.note(*span, text.as_str());
                }
                words
            }
            DuplicateVariable { name, first } => {
                Words::error(Code::DuplicateVariable, format!("variable `{name}` is declared twice"), "declared again")
                    .note(first, "first declared here")
                    .help("remove one of the declarations")
            }
            NoValue { name, required, env } => {
                let message = if required {
                    format!("required variable `{name}` has no value")
                } else {
                    format!("variable `{name}` has no value and no default")
                };
                let how = match env {
                    Some(e) => format!("set the environment variable {e} or pass `--var {name}=VALUE`"),
                    None => format!("pass `--var {name}=VALUE`, or give it a `default=`"),
                };
                Words::error(Code::MissingVariable, message, "no value").help(how)
            }
            Undeclared { key, setter, best, declared } => {
                let (words, remove) = match setter {
                    Setter::CommandLine => (
                        Words::error(
                            Code::BadInput,
                            format!("`--var {key}=...` sets `{key}`, which the plan does not declare"),
                            "",
                        ),
                        "the --var",
                    ),
                    Setter::Project { env } => (
                        Words::warning(
                            Code::UnusedProjectVariable,
                            format!(
                                "planrun.toml environment `{env}` sets variable `{key}`, which the plan does not declare"
                            ),
                            "",
                        ),
                        "it from planrun.toml",
                    ),
                };
                let names = declared.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                let (label, help) = match best {
                    Some(best) => {
                        (format!("did you mean `{best}`?"), format!("did you mean `{best}`? The plan declares {names}"))
                    }
                    None if !declared.is_empty() => (
                        "the plan's variables start here".to_owned(),
                        format!("the plan declares {names}; remove {remove}, or declare `var {key} default=\"...\"`"),
                    ),
                    None => (
                        "declares no variables".to_owned(),
                        format!(
                            "this plan declares no variables: remove {remove}, or declare `var {key} default=\"...\"`"
                        ),
                    ),
                };
                Words { label, ..words }.help(help)
            }
            Project { file, message } => Words::error(Code::Project, format!("invalid {file}: {message}"), "here")
                .help("see docs/language.md#project-file for the settings planrun.toml takes"),
        }
    }
}
