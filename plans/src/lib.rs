//! The planrun plan language: KDL 2 text to a checked dependency graph.
//!
//! Invariant: this crate does no network I/O. Checking never stops at the first problem: it
//! returns the model (when there are no errors), the graph and every diagnostic.

pub mod check;
pub mod compose;
pub mod condition;
pub mod database;
pub mod decoder;
pub mod diagnostic;
pub mod duration;
pub mod fix;
pub mod fmt;
pub mod gates;
pub mod graph;
pub mod kdl_fast;
mod keywords;
pub mod model;
pub mod notify;
pub mod outline;
pub mod percentage;
pub mod plan_decoder;
pub mod project;
pub mod shell;
pub mod source_file;
pub mod span;
pub mod spanned;
pub mod sql;
pub mod stack_name;
pub mod steps;
pub mod suggest;
pub mod syntax;
pub mod variables;
pub mod watch;

pub use diagnostic::{Code, Diagnostic, Severity, SourceFile};
pub use graph::PlanGraph;
pub use model::Plan;
pub use variables::Inputs;

/// The result of checking one plan file.
#[derive(Debug)]
pub struct Checked {
    /// The file.
    pub file: SourceFile,
    /// The plan, when it has no errors.
    pub plan: Option<Plan>,
    /// The dependency graph, when the plan has no errors.
    pub graph: Option<PlanGraph>,
    /// Every error and warning, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Whether any diagnostic is a warning.
    pub fn has_warnings(&self) -> bool {
        self.diagnostics.iter().any(|d| !d.is_error())
    }
}

/// Parses, decodes and checks a plan file.
pub fn check(file: SourceFile, inputs: &Inputs) -> Checked {
    let (plan, graph, mut diagnostics) = match syntax::parse(&file.text) {
        Err(diagnostics) => (None, None, diagnostics),
        Ok(doc) => {
            let mut d = decoder::Decoder::new(&file.text);
            let mut plan = plan_decoder::decode(&mut d, &doc, inputs);
            let mut diagnostics = std::mem::take(&mut d.diagnostics);
            if let (Some(plan), Some(dir)) = (&mut plan, &inputs.files) {
                check::compose::resolve(plan, dir, &inputs.env, &mut diagnostics);
            }
            let graph = check::check_outlined(plan.as_ref(), &d.outline, &mut diagnostics);
            if let (Some(plan), Some(dir)) = (&mut plan, &inputs.files) {
                check::files::check(plan, dir, &mut diagnostics);
            }
            (plan, graph, diagnostics)
        }
    };
    diagnostics.sort_by_key(|d| (d.plan_offset(), d.named_file.is_some(), d.primary_span().offset, d.severity));
    let ok = !diagnostics.iter().any(Diagnostic::is_error);
    Checked { file, plan: plan.filter(|_| ok), graph: graph.filter(|_| ok), diagnostics }
}
