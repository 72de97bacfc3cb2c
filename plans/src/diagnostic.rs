//! Diagnostics: every problem the checker finds, as a value with spans.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, SourceCode};
use serde::Serialize;

use crate::fix::Edit;
pub use crate::source_file::SourceFile;
use crate::span::Span;

pub mod problem;

pub use problem::{Problem, Words};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The plan is invalid and cannot run.
    Error,
    /// The plan is valid but would probably cause downtime or run in an unsafe order.
    Warning,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, )*) => {
        /// The stable code of a diagnostic, shown as `planrun::<code>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as users see it, without the `planrun::` prefix.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $text, )* }
            }
        }
    };
}

codes! {
    /// The file is not valid KDL 2.
    Syntax = "syntax",
    /// The file is KDL 1, which planrun does not read.
    KdlV1 = "kdl-v1",
    /// A node that is not part of the language at this place.
    UnknownNode = "unknown-node",
    /// A property or setting that this node does not take.
    UnknownProperty = "unknown-property",
    /// A value of the wrong type (a string where a number belongs, ...).
    WrongType = "wrong-type",
    /// A value of the right type that is not allowed (an unknown enum word, a negative count, ...).
    BadValue = "bad-value",
    /// A duration that does not parse (`"30s"`, `"1m30s"`, `"500ms"` do).
    BadDuration = "bad-duration",
    /// A percentage that does not parse or is out of range.
    BadPercentage = "bad-percentage",
    /// A gate condition that does not parse (`"result < 0.001"` does).
    BadCondition = "bad-condition",
    /// A required setting is missing.
    MissingField = "missing-field",
    /// A setting is given twice.
    DuplicateField = "duplicate-field",
    /// Two steps share a name.
    DuplicateStep = "duplicate-step",
    /// Two gates share a name.
    DuplicateGate = "duplicate-gate",
    /// Two variables share a name.
    DuplicateVariable = "duplicate-variable",
    /// `after` names a step that does not exist.
    UnknownStep = "unknown-step",
    /// The dependencies between steps form a cycle.
    Cycle = "cycle",
    /// A step names a gate that is not declared.
    UnknownGate = "unknown-gate",
    /// `${name}` names a variable that is not declared.
    UnknownVariable = "unknown-variable",
    /// A required variable has no value.
    MissingVariable = "missing-variable",
    /// A `--var` override or an environment names something the plan does not have.
    BadInput = "bad-input",
    /// `planrun.toml` is invalid.
    Project = "project",
    /// Warning: stop-first on a service with one replica takes it down.
    StopFirstSingleReplica = "stop-first-single-replica",
    /// Warning: a rolling or canary step without any health gate.
    UngatedRollout = "ungated-rollout",
    /// Warning: a contract migration that is not after every deployment step.
    ContractBeforeDeploy = "contract-before-deploy",
    /// Warning: a migration without an earlier backup of its database.
    MigrationWithoutBackup = "migration-without-backup",
    /// Warning: a canary percentage that the replica count cannot express.
    CanaryPercentage = "canary-percentage",
    /// Warning: start-first on a service with a host-mode published port hangs.
    StartFirstHostPort = "start-first-host-port",
    /// Warning: `${name}` interpolated into the script a shell runs (`sh -c "... ${name} ..."`).
    ShellInjection = "shell-injection",
    /// A file the plan names (an nginx template) cannot be read or lacks what it must have.
    Template = "template",
    /// A migration's SQL file cannot be read.
    SqlFile = "sql-file",
    /// A migration's SQL file is not valid SQL (PostgreSQL's parser refuses it).
    SqlSyntax = "sql-syntax",
    /// A migration drops a column or table outside the contract phase.
    SqlDropOutsideContract = "sql-drop-outside-contract",
    /// A migration renames a column or table outside the contract phase.
    SqlRenameOutsideContract = "sql-rename-outside-contract",
    /// `ADD COLUMN ... NOT NULL` without a default, or with a volatile one.
    SqlNotNullWithoutDefault = "sql-not-null-without-default",
    /// `CREATE INDEX` or `DROP INDEX` on an existing table without CONCURRENTLY.
    SqlIndexWithoutConcurrently = "sql-index-without-concurrently",
    /// CONCURRENTLY in a step that runs its file in one transaction.
    SqlConcurrentlyInTransaction = "sql-concurrently-in-transaction",
    /// A CHECK or FOREIGN KEY constraint added without NOT VALID.
    SqlConstraintWithoutNotValid = "sql-constraint-without-not-valid",
    /// A column type change that rewrites the table (a warning when it may be a safe widening).
    SqlColumnTypeChange = "sql-column-type-change",
    /// The file turns off the lock_timeout planrun sets.
    SqlLockTimeoutDisabled = "sql-lock-timeout-disabled",
    /// Warning: an UPDATE or DELETE of a whole existing table in one statement.
    SqlUnbatchedWrite = "sql-unbatched-write",
    /// `SET NOT NULL` in an expand step.
    SqlSetNotNullInExpand = "sql-set-not-null-in-expand",
    /// A compose file cannot be read, is not valid YAML, or holds a value docker would refuse.
    ComposeFile = "compose-file",
    /// Warning: a compose key that planrun does not apply (`build`, `depends_on`, ...).
    ComposeUnsupported = "compose-unsupported",
    /// Warning: a gate that no step uses.
    UnusedGate = "unused-gate",
    /// Warning: a gate URL or header value holds a credential written in the plan.
    CredentialsInPlan = "credentials-in-plan",
    /// Warning: the selected `planrun.toml` environment sets a variable the plan does not declare.
    UnusedProjectVariable = "unused-project-variable",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "planrun::{}", self.name())
    }
}

/// A span in the file with a short text saying what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there.
    pub text: String,
    /// The primary label is the place to fix.
    pub primary: bool,
}

/// One problem found in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One line saying what is wrong.
    pub message: String,
    /// Places in the file; the first primary one is where to fix it.
    pub labels: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// Edits that do what the help says, when the fix is certain.
    pub fix: Vec<Edit>,
    /// The file the labels and edits point into when it is not the plan (a migration's SQL
    /// file), and where the plan names it.
    pub named_file: Option<Box<NamedFile>>,
}

/// A file the plan names (a migration's SQL file) that a diagnostic points into.
#[derive(Debug, Clone)]
pub struct NamedFile {
    /// The file, named as the user would open it (relative to where the plan was named from).
    pub file: Arc<SourceFile>,
    /// Where the plan names it (the `file` or `down` setting's value).
    pub named_at: Span,
}

impl PartialEq for NamedFile {
    fn eq(&self, other: &Self) -> bool {
        self.named_at == other.named_at
            && (Arc::ptr_eq(&self.file, &other.file)
                || (self.file.name == other.file.name && self.file.text == other.file.text))
    }
}

impl Eq for NamedFile {}

impl Diagnostic {
    /// An error with a primary label, worded here. The checker words nothing itself: it makes
    /// diagnostics with [`Diagnostic::new`] from a [`Problem`], whose words are in `problem/`.
    pub(crate) fn error(code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: vec![Label { span, text: label.into(), primary: true }],
            help: None,
            fix: Vec::new(),
            named_file: None,
        }
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: text.into(), primary: false });
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds an edit that fixes the problem.
    pub fn with_fix(mut self, edit: Edit) -> Self {
        self.fix.push(edit);
        self
    }

    /// Adds an edit that fixes the problem, if there is one.
    pub fn with_fix_opt(mut self, edit: Option<Edit>) -> Self {
        self.fix.extend(edit);
        self
    }

    /// Sets the help text if there is one.
    pub fn with_optional_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Points the labels into `file`, a file the plan names at `named_at`, instead of the plan.
    pub fn in_named_file(mut self, file: Arc<SourceFile>, named_at: Span) -> Self {
        self.named_file = Some(Box::new(NamedFile { file, named_at }));
        self
    }

    /// The file the labels point into: the named file, else `plan`.
    pub fn source<'a>(&'a self, plan: &'a SourceFile) -> &'a SourceFile {
        self.named_file.as_ref().map_or(plan, |n| &n.file)
    }

    /// Where in the plan this diagnostic is: the primary span, or where the plan names the file
    /// the diagnostic is in. Diagnostics are sorted by it.
    pub fn plan_offset(&self) -> usize {
        self.named_file.as_ref().map_or_else(|| self.primary_span().offset, |n| n.named_at.offset)
    }

    /// The primary span, where the fix goes.
    pub fn primary_span(&self) -> Span {
        self.labels.iter().find(|l| l.primary).or(self.labels.first()).map(|l| l.span).unwrap_or_default()
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Attaches the file, so the diagnostic renders with miette.
    pub fn in_file<'a>(&'a self, file: &'a SourceFile) -> FileDiagnostic<'a> {
        let named = self.named_file.as_ref().map(|n| NamedHere { plan: file, named: n });
        FileDiagnostic { diagnostic: self, file, named }
    }
}

/// Labels shown per diagnostic in a snippet; the rest are counted in the help.
pub const MAX_SHOWN_LABELS: usize = 8;

/// A diagnostic together with its file: what miette renders.
#[derive(Debug)]
pub struct FileDiagnostic<'a> {
    /// The problem.
    pub diagnostic: &'a Diagnostic,
    /// The plan it was found in.
    pub file: &'a SourceFile,
    /// Where the plan names the file the diagnostic is in, if it is in another file.
    named: Option<NamedHere<'a>>,
}

/// The place in the plan that names the file a diagnostic is in: shown after the diagnostic.
#[derive(Debug)]
struct NamedHere<'a> {
    plan: &'a SourceFile,
    named: &'a NamedFile,
}

impl fmt::Display for NamedHere<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is named by the plan", self.named.file.name)
    }
}

impl std::error::Error for NamedHere<'_> {}

impl miette::Diagnostic for NamedHere<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.plan)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.named.named_at;
        Some(Box::new(std::iter::once(LabeledSpan::new_primary_with_span(
            Some("here".into()),
            (span.offset, span.len),
        ))))
    }
}

impl fmt::Display for FileDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for FileDiagnostic<'_> {}

impl miette::Diagnostic for FileDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let hidden = self.diagnostic.labels.len().saturating_sub(MAX_SHOWN_LABELS);
        match (&self.diagnostic.help, hidden) {
            (help, 0) => help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>),
            (None, n) => Some(Box::new(format!("({n} more places not shown)"))),
            (Some(h), n) => Some(Box::new(format!("{h}\n({n} more places not shown)"))),
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.diagnostic.source(self.file))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        let named = self.named.as_ref()?;
        Some(Box::new(std::iter::once(named as &dyn miette::Diagnostic)))
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let text = &self.diagnostic.source(self.file).text;
        Some(Box::new(self.diagnostic.labels.iter().take(MAX_SHOWN_LABELS).map(move |l| {
            // Clamp so a label can never point past the end of the file.
            let offset = l.span.offset.min(text.len());
            let mut len = l.span.len.min(text.len() - offset);
            // miette shows every line a label covers: a label over many lines is cut to its
            // first line, so one diagnostic never prints a whole file.
            let covered = &text.as_bytes()[offset..offset + len];
            if let Some(nl) = covered.iter().position(|&b| b == b'\n')
                && covered[nl + 1..].contains(&b'\n')
            {
                len = nl;
            }
            let text = (!l.text.is_empty()).then(|| l.text.clone());
            if l.primary {
                LabeledSpan::new_primary_with_span(text, (offset, len))
            } else {
                LabeledSpan::new_with_span(text, (offset, len))
            }
        })))
    }
}
