//! KDL 2 text to a document, with syntax errors re-wrapped as planrun diagnostics.
//!
//! Valid files go through `kdl_fast`, a hand-written parser about 50 times faster than the `kdl`
//! crate's. Only a file that fails is parsed again with `kdl`, whose error recovery reports
//! every syntax error at once and can tell a KDL 1 file.

use kdl::KdlDocument;

use crate::kdl_fast::{self, Document};

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

/// Parses KDL 2; every syntax error becomes a diagnostic. A KDL 1 file gets one migration hint.
pub fn parse(text: &str) -> Result<Document, Vec<Diagnostic>> {
    let fast_error = match kdl_fast::parse(text) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    let err = match KdlDocument::parse_v2(text) {
        Err(err) => err,
        // Where the spec is stricter than the `kdl` crate, only our parser has something to say.
        Ok(_) => {
            return Err(vec![
                Diagnostic::error(Code::Syntax, fast_error.message.clone(), fast_error.span, "here")
                    .with_help("this is not valid KDL 2 (https://kdl.dev/spec/)"),
            ]);
        }
    };
    let first = err.diagnostics.first().map(|d| Span::from(d.span)).unwrap_or_default();
    if KdlDocument::parse_v1(text).is_ok() {
        return Err(vec![
            Diagnostic::error(
                Code::KdlV1,
                "this file is KDL 1; planrun reads KDL 2",
                first,
                "KDL 2 does not accept this",
            )
            .with_help(
                "migrate to KDL 2: write booleans and null as #true, #false, #null, raw strings as #\"...\"#, \
                     and keep quotes on strings that are not plain identifiers (https://kdl.dev/ lists every change)",
            ),
        ]);
    }
    let mut out: Vec<Diagnostic> = err
        .diagnostics
        .iter()
        .map(|k| {
            let span = Span::from(k.span);
            let message = k.message.clone().unwrap_or_else(|| "invalid KDL".into());
            let label = k.label.clone().unwrap_or_else(|| "here".into());
            let word = text.get(span.offset..).map(leading_word).unwrap_or("");
            let help = match word {
                "true" | "false" | "null" => Some(format!("KDL 2 writes `{word}` as `#{word}` (KDL 1 syntax)")),
                _ => k.help.clone(),
            };
            let mut d = Diagnostic::error(Code::Syntax, message, span, label);
            d.help = help;
            d
        })
        .collect();
    out.dedup();
    if out.is_empty() {
        out.push(Diagnostic::error(Code::Syntax, "invalid KDL", first, "here"));
    }
    Err(out)
}

fn leading_word(s: &str) -> &str {
    let end = s.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(s.len());
    &s[..end]
}
