//! KDL 2 text to a document; syntax errors become planrun diagnostics.
//!
//! `kdl_fast` reports every syntax error in one pass, in planrun's words. A construct that KDL 1
//! spelled differently (`true`, `r"raw"`, `"\/"`, newlines in `"..."`) is `planrun::kdl-v1`, with
//! the KDL 2 spelling; everything else is `planrun::syntax`.

use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::InputProblem;
use crate::kdl_fast::{self, Document, ParseError};

/// Parses KDL 2; every syntax error becomes a diagnostic.
pub fn parse(text: &str) -> Result<Document, Vec<Diagnostic>> {
    kdl_fast::parse(text).map_err(|errors| errors.into_iter().map(diagnostic).collect())
}

fn diagnostic(e: ParseError) -> Diagnostic {
    let problem = InputProblem::Syntax {
        message: &e.message,
        label: &e.label,
        help: e.help.as_deref(),
        related: &e.related,
        kdl_v1: e.kdl_v1,
    };
    let mut d = Diagnostic::new(problem, e.span);
    d.fix = e.fix;
    d
}
