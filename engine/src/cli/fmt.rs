//! `planrun fmt`: plan files in the canonical layout (`plans::fmt`), written in place, or with
//! `--check` a unified diff of what would change.

use std::path::Path;
use std::process::ExitCode;

use plans::SourceFile;
use plans::fmt::{FormatError, format};

use super::args::{FmtArgs, MessageFormat};
use super::{EXIT_INVALID, EXIT_USAGE, report, validate};
use crate::load;

/// Formats (or checks) every file named; the worst file decides the exit code.
pub fn fmt(a: FmtArgs) -> ExitCode {
    if a.plans.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        let help = Some("standard input can be read once");
        report::print_failure(
            None,
            "planrun::usage",
            "`-` (standard input) is named more than once",
            help,
            a.message_format,
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let plans = match super::plan_files(&a.plans) {
        Ok(plans) => plans,
        Err(message) => {
            report::print_failure(None, "planrun::io", &message, None, a.message_format);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut worst = 0;
    for path in &plans {
        worst = worst.max(fmt_one(path, &a));
    }
    ExitCode::from(worst)
}

/// Formats one file; returns its exit code.
fn fmt_one(path: &Path, a: &FmtArgs) -> u8 {
    let from_stdin = path.as_os_str() == "-";
    let shown = load::shown_name(path, a.stdin_filename.as_deref());
    let name = shown.display().to_string();
    let text = match load::read_text(path, &shown) {
        Ok(Ok(text)) => text,
        Ok(Err(checked)) => return not_formatted(&checked.diagnostics, &checked.file, a.message_format),
        Err(message) => {
            report::print_failure(Some(&name), "planrun::io", &message, None, a.message_format);
            return EXIT_USAGE;
        }
    };
    let formatted = match format(&text) {
        Ok(formatted) => formatted,
        Err(FormatError::Syntax(diagnostics)) => {
            return not_formatted(&diagnostics, &SourceFile::new(name, text), a.message_format);
        }
        Err(FormatError::Unsafe(why)) => {
            let message = format!(
                "error: {name}: left as it is: its layout would change the plan ({why}); a bug in planrun fmt\n"
            );
            report::write(report::Stream::Stderr, &message);
            return EXIT_INVALID;
        }
    };
    if a.check {
        if formatted == text {
            return 0;
        }
        report::write(report::Stream::Stdout, &diff(&text, &formatted, &name));
        return EXIT_INVALID;
    }
    if from_stdin {
        report::write(report::Stream::Stdout, &formatted);
        return 0;
    }
    if formatted == text {
        return 0;
    }
    match super::replace_file(path, &formatted) {
        Ok(()) => 0,
        Err(e) => {
            let message = format!("cannot write {}: {e}", path.display());
            report::print_failure(Some(&name), "planrun::io", &message, None, a.message_format);
            EXIT_USAGE
        }
    }
}

/// Reports the syntax errors of a file left unformatted; returns the exit code.
fn not_formatted(diagnostics: &[plans::Diagnostic], file: &SourceFile, format: MessageFormat) -> u8 {
    report::print_all(diagnostics, file, format);
    if format == MessageFormat::Human {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let text = format!("{}: not formatted ({errors} {})\n", file.name, validate::plural(errors, "error"));
        report::write(report::Stream::Stderr, &text);
    }
    EXIT_INVALID
}

/// A unified diff from `before` to `after`, both named `name`.
fn diff(before: &str, after: &str, name: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(name, &format!("{name} (formatted)"))
        .to_string()
}
