//! KDL 2 text to a document; syntax errors become planrun diagnostics.
//!
//! `kdl_fast` reports every syntax error in one pass, in planrun's words. A construct that KDL 1
//! spelled differently (`true`, `r"raw"`, `"\/"`, newlines in `"..."`) is `planrun::kdl-v1`, with
//! the KDL 2 spelling; everything else is `planrun::syntax`.

use crate::diagnostic::{Code, Diagnostic};
use crate::kdl_fast::{self, Document, ParseError};

/// Parses KDL 2; every syntax error becomes a diagnostic.
pub fn parse(text: &str) -> Result<Document, Vec<Diagnostic>> {
    kdl_fast::parse(text).map_err(|errors| errors.into_iter().map(diagnostic).collect())
}

fn diagnostic(e: ParseError) -> Diagnostic {
    let (code, message, help) = if e.kdl_v1 {
        let help = e.help.map(|h| format!("{h}; every change from KDL 1 is listed at https://kdl.dev/"));
        (Code::KdlV1, format!("{}; planrun reads KDL 2", e.message), help)
    } else {
        (Code::Syntax, e.message, e.help)
    };
    let mut d = Diagnostic::error(code, message, e.span, e.label).with_optional_help(help);
    for (span, text) in e.related {
        d = d.with_label(span, text);
    }
    d.fix = e.fix;
    d
}
