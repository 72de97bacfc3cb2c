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
    let plans = match super::plan_files(&a.plans) {
        Ok(plans) => plans,
        Err(message) => {
            report::print_failure(None, "planrun::io", &message, None, a.message_format);
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    for path in &plans {
        if a.fix && path.as_os_str() != "-" {
            match fix(path, &a) {
                Ok(0) => {}
                Ok(n) => {
                    let fixes = if n == 1 { "fix" } else { "fixes" };
                    report::write(report::Stream::Stderr, &format!("{}: applied {n} {fixes}\n", path.display()));
                }
                Err(message) => {
                    let file = path.display().to_string();
                    report::print_failure(Some(&file), "planrun::io", &message, None, a.message_format);
                    worst = worst.max(super::EXIT_USAGE);
                    continue;
                }
            }
        }
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

/// Applies the fixes the plan at `path` offers, as many rounds as they keep coming (a fix can
/// uncover the next problem), at most a few; returns how many were applied. Edits that
/// overlap an earlier one wait for the next round. The file is replaced at once.
fn fix(path: &std::path::Path, a: &args::ValidateArgs) -> Result<usize, String> {
    let mut applied = 0;
    for _ in 0..4 {
        let loaded = match crate::load::load_as(path, None, &super::options(&a.inputs)) {
            Ok(loaded) => loaded,
            // Reported when the file is checked right after.
            Err(_) => return Ok(applied),
        };
        let text = &loaded.checked.file.text;
        let mut edits: Vec<plans::fix::Edit> = Vec::new();
        // Only edits of the plan itself: one pointing into a migration's SQL file is left to a person.
        for d in loaded.checked.diagnostics.iter().filter(|d| d.named_file.is_none()) {
            // Touching edits count as overlapping (two inserts at one place would be ordered by chance).
            let reach = |e: &plans::fix::Edit| (e.span.offset, e.span.end().max(e.span.offset + 1));
            let overlaps = d.fix.iter().any(|e| {
                let (start, end) = reach(e);
                edits.iter().map(reach).any(|(s, t)| start < t && s < end)
            });
            if !d.fix.is_empty() && !overlaps {
                edits.extend(d.fix.iter().cloned());
                applied += 1;
            }
        }
        if edits.is_empty() {
            break;
        }
        let fixed = plans::fix::apply(text, &edits);
        super::replace_file(path, &fixed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(applied)
}

/// `word`, with an `s` unless `n` is 1.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_owned() } else { format!("{word}s") }
}
