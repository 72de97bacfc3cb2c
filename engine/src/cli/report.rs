//! Printing diagnostics: human (miette), JSON lines, GitHub workflow commands.

use std::io::IsTerminal;

use miette::{GraphicalReportHandler, GraphicalTheme};
use plans::{Diagnostic, Severity, SourceFile};
use serde_json::json;

use crate::cli::args::MessageFormat;

/// Renders one diagnostic for a person. Colour only on a terminal without NO_COLOR.
pub fn human(d: &Diagnostic, file: &SourceFile) -> String {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if colour { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100);
    let handler = GraphicalReportHandler::new_themed(theme).with_width(width).with_links(false);
    let mut out = String::new();
    let _ = handler.render_report(&mut out, &d.in_file(file));
    out
}

/// One JSON object for a diagnostic.
pub fn json(d: &Diagnostic, file: &SourceFile) -> serde_json::Value {
    let span = d.primary_span();
    let (line, column) = file.line_col(span.offset);
    let (end_line, end_column) = file.line_col(span.end());
    let labels: Vec<_> = d
        .labels
        .iter()
        .map(|l| {
            let (line, column) = file.line_col(l.span.offset);
            json!({"line": line, "column": column, "offset": l.span.offset, "length": l.span.len, "text": l.text, "primary": l.primary})
        })
        .collect();
    json!({
        "file": file.name,
        "code": d.code.to_string(),
        "severity": d.severity,
        "message": d.message,
        "line": line, "column": column, "end_line": end_line, "end_column": end_column,
        "labels": labels,
        "help": d.help,
    })
}

/// A GitHub Actions workflow command.
pub fn github(d: &Diagnostic, file: &SourceFile) -> String {
    let span = d.primary_span();
    let (line, col) = file.line_col(span.offset);
    let (end_line, end_col) = file.line_col(span.end());
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\n\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{level} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}",
        escape_property(&file.name),
        escape_property(&d.code.to_string()),
        escape_data(&message)
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Prints every diagnostic of a file in the chosen format (human to stderr, machine formats to stdout).
pub fn print_all(diagnostics: &[Diagnostic], file: &SourceFile, format: MessageFormat) {
    for d in diagnostics {
        match format {
            MessageFormat::Human => eprint!("{}", human(d, file)),
            MessageFormat::Json => println!("{}", json(d, file)),
            MessageFormat::Github => println!("{}", github(d, file)),
        }
    }
}
