//! Every problem the checker finds, as a typed value, and the one place each is worded.
//!
//! A site that finds a problem says which problem it is and with what data (names, what was
//! expected and found, suggestions); the problem's `words` give its code, severity, message,
//! labels and help. So a code's wording lives here, in the file of its area, not where it is
//! found (as just keeps every message in `CompileErrorKind`'s one `Display`). Fixes stay at the
//! sites: they are edits computed from the source, not words.

mod compose;
mod compose_objects;
mod compose_service;
mod files;
mod inputs;
mod kinds;
mod notify;
mod plan;
mod references;
mod safety;
mod settings;
mod sql;

pub use compose::ComposeProblem;
pub use compose_objects::ComposeObjectProblem;
pub use compose_service::ComposeServiceProblem;
pub use files::FileProblem;
pub use inputs::{InputProblem, Setter};
pub use kinds::{GateProblem, StepProblem};
pub use notify::NotifyProblem;
pub use plan::PlanProblem;
pub use references::ReferenceProblem;
pub use safety::{AddAfter, SafetyProblem};
pub use settings::SettingProblem;
pub use sql::SqlProblem;

use super::{Code, Diagnostic, Severity};
use crate::span::Span;

/// What a diagnostic says about one problem: its code and severity, its message, the text at
/// its primary place, secondary places with their texts, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    /// Stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One line saying what is wrong.
    pub message: String,
    /// The text at the primary place.
    pub label: String,
    /// Other places and what to say there.
    pub notes: Vec<(Span, String)>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Words {
    fn error(code: Code, message: impl Into<String>, label: impl Into<String>) -> Words {
        Words {
            code,
            severity: Severity::Error,
            message: message.into(),
            label: label.into(),
            notes: Vec::new(),
            help: None,
        }
    }

    fn warning(code: Code, message: impl Into<String>, label: impl Into<String>) -> Words {
        Words { severity: Severity::Warning, ..Words::error(code, message, label) }
    }

    fn help(mut self, help: impl Into<String>) -> Words {
        self.help = Some(help.into());
        self
    }

    fn optional_help(mut self, help: Option<String>) -> Words {
        self.help = help;
        self
    }

    fn note(mut self, span: Span, text: impl Into<String>) -> Words {
        self.notes.push((span, text.into()));
        self
    }
}

macro_rules! areas {
    ($( $(#[$doc:meta])* $variant:ident($area:ty), )*) => {
        /// A problem, by the area of the language it is in.
        #[derive(Debug)]
        pub enum Problem<'a> {
            $( $(#[$doc])* $variant($area), )*
        }

        impl Problem<'_> {
            /// What a diagnostic of this problem says.
            pub fn words(&self) -> Words {
                match self { $( Problem::$variant(p) => p.words(), )* }
            }
        }

        $(
            impl<'a> From<$area> for Problem<'a> {
                fn from(p: $area) -> Self {
                    Problem::$variant(p)
                }
            }
        )*
    };
}

areas! {
    /// A node's settings and the values written in them.
    Setting(SettingProblem<'a>),
    /// The `plan` node, its header and its `defaults`.
    Plan(PlanProblem<'a>),
    /// What one step kind needs.
    Step(StepProblem<'a>),
    /// What one gate kind needs.
    Gate(GateProblem<'a>),
    /// Where a `notify` sends and what.
    Notify(NotifyProblem<'a>),
    /// The names a plan declares and refers to, and the order they make.
    Reference(ReferenceProblem<'a>),
    /// The text, the variables and the project file.
    Input(InputProblem<'a>),
    /// The files a plan names.
    File(FileProblem<'a>),
    /// A valid plan that would probably cause downtime or run in an unsafe order.
    Safety(SafetyProblem<'a>),
    /// A compose file as a whole: reading it, its keys and values, what its services refer to.
    Compose(ComposeProblem<'a>),
    /// A compose file's services.
    ComposeService(ComposeServiceProblem<'a>),
    /// A compose file's networks, volumes, configs and secrets, and the mounts of services.
    ComposeObject(ComposeObjectProblem<'a>),
    /// A migration's SQL file (its problems own their data: the lint collects them first).
    Sql(SqlProblem),
}

impl Diagnostic {
    /// The diagnostic of `problem`, found at `span`.
    pub fn new<'a>(problem: impl Into<Problem<'a>>, span: Span) -> Diagnostic {
        let words = problem.into().words();
        let mut d = Diagnostic::error(words.code, words.message, span, words.label);
        d.severity = words.severity;
        d.help = words.help;
        for (span, text) in words.notes {
            d = d.with_label(span, text);
        }
        d
    }
}
