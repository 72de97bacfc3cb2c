//! `planrun validate`: check plan files and report every problem in the chosen format.

use std::process::ExitCode;

use super::args::{self, MessageFormat};
use super::{EXIT_INVALID, load_or_report, report};

/// Checks every plan named on the command line; the worst file decides the exit code.
pub fn validate(a: args::ValidateArgs) -> ExitCode {
    let mut worst = 0u8;
    if a.plans.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        let message = "`-` (standard input) is named more than once";
        report::print_failure(
            None,
            "planrun::usage",
            message,
            Some("standard input can be read once"),
            a.message_format,
        );
        return ExitCode::from(super::EXIT_USAGE);
    }
    for path in &a.plans {
        let loaded = match load_or_report(path, &a.inputs, a.message_format) {
            Ok(l) => l,
            Err(code) => {
                worst = worst.max(code);
                continue;
            }
        };
        let c = &loaded.checked;
        report::print_all(&c.diagnostics, &c.file, a.message_format);
        let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = c.diagnostics.len() - errors;
        let failed = errors > 0 || (a.deny_warnings && warnings > 0);
        if a.message_format == MessageFormat::Human {
            let verdict = if failed { "invalid" } else { "valid" };
            let summary = format!(
                "{}: {verdict} ({errors} {}, {warnings} {})\n",
                c.file.name,
                plural(errors, "error"),
                plural(warnings, "warning")
            );
            report::write(report::Stream::Stderr, &summary);
        }
        if failed {
            worst = worst.max(EXIT_INVALID);
        }
        // The process ends soon: freeing a large plan's tree node by node would only cost time.
        std::mem::forget(loaded);
    }
    ExitCode::from(worst)
}

/// `word`, with an `s` unless `n` is 1.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_owned() } else { format!("{word}s") }
}
