//! Printing diagnostics: human (miette), JSON lines, GitHub workflow commands.
//!
//! Every error reaches the user in the format they chose, including the ones that are not about
//! a place in a plan (an unreadable file, a bad flag): machine readers never get plain text.
//! Output that cannot be written because the reader went away (`planrun validate ... | head`)
//! ends the process quietly with [`EXIT_CLOSED`], as a process killed by SIGPIPE would.

use std::io::{ErrorKind, Write};

use miette::{GraphicalReportHandler, GraphicalTheme};
use plans::diagnostic::MAX_SHOWN_LABELS;
use plans::{Diagnostic, Severity, SourceFile};
use serde::Serialize;
use serde_json::json;

use crate::cli::args::MessageFormat;

/// Exit code when stdout or stderr is closed before everything is written: 128 + SIGPIPE, what a
/// shell reports for a process the closed pipe killed.
pub const EXIT_CLOSED: i32 = 141;

/// Where a piece of output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: machine formats.
    Stdout,
    /// Standard error: text for people.
    Stderr,
}

/// Writes `text` to `stream`. A closed pipe ends the process with [`EXIT_CLOSED`]; other write
/// errors are ignored (there is nowhere left to report them).
pub fn write(stream: Stream, text: &str) {
    let result = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
    };
    if let Err(e) = result
        && e.kind() == ErrorKind::BrokenPipe
    {
        std::process::exit(EXIT_CLOSED);
    }
}

/// The renderer for people: colour as `cli::terminal` says for stderr, `COLUMNS` wide.
pub fn human_renderer() -> GraphicalReportHandler {
    let colour = crate::cli::terminal::colour_on_stderr();
    let theme = if colour { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100);
    // Lines wrap at spaces: Unicode line breaking costs more than the rest of the rendering, and
    // diagnostics are ASCII prose around code in backquotes.
    GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false)
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
}

/// Renders one diagnostic for a person.
pub fn human(d: &Diagnostic, file: &SourceFile, renderer: &GraphicalReportHandler) -> String {
    let mut out = String::new();
    let _ = renderer.render_report(&mut out, &d.in_file(file));
    out
}

/// One diagnostic as a JSON object (keys in alphabetical order; a struct, not a map, so ten
/// thousand diagnostics serialize without building ten thousand maps).
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: String,
    column: usize,
    end_column: usize,
    end_line: usize,
    file: &'a str,
    fix: Vec<JsonEdit<'a>>,
    help: Option<&'a str>,
    labels: Vec<JsonLabel<'a>>,
    line: usize,
    message: &'a str,
    /// Where the plan names the file, for a diagnostic in a file the plan names (a SQL file).
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<JsonPlace<'a>>,
    severity: Severity,
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    column: usize,
    file: &'a str,
    length: usize,
    line: usize,
    offset: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    column: usize,
    length: usize,
    line: usize,
    offset: usize,
    primary: bool,
    text: &'a str,
}

#[derive(Serialize)]
struct JsonEdit<'a> {
    column: usize,
    end_column: usize,
    end_line: usize,
    length: usize,
    line: usize,
    offset: usize,
    replacement: &'a str,
}

/// One JSON line (without the newline) for a diagnostic.
pub fn json(d: &Diagnostic, plan: &SourceFile) -> String {
    let file = d.source(plan);
    let span = d.primary_span();
    let (line, column) = file.line_col(span.offset);
    let (end_line, end_column) = file.line_col(span.end());
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let (line, column) = file.line_col(l.span.offset);
            JsonLabel { column, length: l.span.len, line, offset: l.span.offset, primary: l.primary, text: &l.text }
        })
        .collect();
    let fix = d
        .fix
        .iter()
        .map(|e| {
            let (line, column) = file.line_col(e.span.offset);
            let (end_line, end_column) = file.line_col(e.span.end());
            JsonEdit {
                column,
                end_column,
                end_line,
                length: e.span.len,
                line,
                offset: e.span.offset,
                replacement: &e.replacement,
            }
        })
        .collect();
    let out = JsonDiagnostic {
        code: d.code.to_string(),
        column,
        end_column,
        end_line,
        file: &file.name,
        fix,
        help: d.help.as_deref(),
        labels,
        line,
        message: &d.message,
        plan: d.named_file.as_ref().map(|n| {
            let (line, column) = plan.line_col(n.named_at.offset);
            JsonPlace { column, file: &plan.name, length: n.named_at.len, line, offset: n.named_at.offset }
        }),
        severity: d.severity,
    };
    serde_json::to_string(&out).unwrap_or_default()
}

/// A GitHub Actions workflow command. GitHub shows one place per annotation, so the other
/// places of the diagnostic are named in its text.
pub fn github(d: &Diagnostic, plan: &SourceFile) -> String {
    let file = d.source(plan);
    let span = d.primary_span();
    let (line, col) = file.line_col(span.offset);
    let (end_line, end_col) = file.line_col(span.end());
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = d.message.clone();
    let others: Vec<_> = d.labels.iter().filter(|l| l.span != span).take(MAX_SHOWN_LABELS).collect();
    for l in &others {
        let (line, col) = file.line_col(l.span.offset);
        message.push_str(&format!("\n{}: {}:{line}:{col}", l.text, file.name));
    }
    if let Some(n) = &d.named_file {
        let (line, col) = plan.line_col(n.named_at.offset);
        message.push_str(&format!("\nnamed by the plan: {}:{line}:{col}", plan.name));
    }
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

/// Diagnostics of one file shown with a snippet in human output; the rest get one line each
/// (`file:line:col: error[code]: message`). Nobody reads ten thousand snippets, and rendering
/// them would make a plan with an error in every step several times slower to check than a
/// valid one; `--format json` has every detail of every diagnostic.
pub const FULL_SNIPPETS: usize = 100;

/// How one diagnostic is written.
#[derive(Clone, Copy)]
enum Style<'r> {
    /// miette's report with its snippet.
    Full(&'r GraphicalReportHandler),
    /// One line for a person.
    Short,
    /// One JSON line.
    Json,
    /// One GitHub workflow command.
    Github,
}

/// Prints every diagnostic of a file in the chosen format (human to stderr, machine formats to
/// stdout). Many diagnostics are rendered in chunks, every other chunk on a second thread, and
/// written in order, holding only a few chunks of text at once.
pub fn print_all(diagnostics: &[Diagnostic], file: &SourceFile, format: MessageFormat) {
    let renderer = human_renderer();
    let (full, rest, style) = match format {
        MessageFormat::Human => {
            let (full, rest) = diagnostics.split_at(diagnostics.len().min(FULL_SNIPPETS));
            (full, rest, Style::Short)
        }
        MessageFormat::Json => (&[][..], diagnostics, Style::Json),
        MessageFormat::Github => (&[][..], diagnostics, Style::Github),
    };
    let stream = match format {
        MessageFormat::Human => Stream::Stderr,
        MessageFormat::Json | MessageFormat::Github => Stream::Stdout,
    };
    render_all(full, file, Style::Full(&renderer), |text| write(stream, text));
    render_in_parallel(rest, file, style, stream);
    if !rest.is_empty() && format == MessageFormat::Human {
        let note = format!(
            "({} more diagnostics shown on one line each: the first {FULL_SNIPPETS} have snippets; \
             --format json gives every detail)\n",
            rest.len()
        );
        write(stream, &note);
    }
}

/// Renders in chunks, every other chunk on a second thread, and writes them in order.
fn render_in_parallel(diagnostics: &[Diagnostic], file: &SourceFile, style: Style<'_>, stream: Stream) {
    const CHUNK: usize = 256;
    // A second thread costs memory of its own (its stack, its allocator pages): only worth it
    // for many diagnostics.
    if diagnostics.len() <= 16 * CHUNK {
        render_all(diagnostics, file, style, |text| write(stream, text));
        return;
    }
    let chunks: Vec<&[Diagnostic]> = diagnostics.chunks(CHUNK).collect();
    std::thread::scope(|scope| {
        let (rendered, received) = std::sync::mpsc::sync_channel::<String>(2);
        let odd: Vec<&[Diagnostic]> = chunks.iter().skip(1).step_by(2).copied().collect();
        scope.spawn(move || {
            for chunk in odd {
                let mut out = String::new();
                render_all(chunk, file, style, |text| out.push_str(text));
                if rendered.send(out).is_err() {
                    return;
                }
            }
        });
        for (i, chunk) in chunks.iter().enumerate().step_by(2) {
            render_all(chunk, file, style, |text| write(stream, text));
            if i + 1 < chunks.len()
                && let Ok(text) = received.recv()
            {
                write(stream, &text);
            }
        }
    });
}

/// Renders diagnostics in one style, handing the text to `emit` in pieces of 64 KiB.
fn render_all(diagnostics: &[Diagnostic], file: &SourceFile, style: Style<'_>, mut emit: impl FnMut(&str)) {
    let mut buffer = String::new();
    for d in diagnostics {
        match style {
            Style::Full(renderer) => buffer.push_str(&human(d, file, renderer)),
            Style::Short => {
                buffer.push_str(&short(d, file));
                buffer.push('\n');
            }
            Style::Json => {
                buffer.push_str(&json(d, file));
                buffer.push('\n');
            }
            Style::Github => {
                buffer.push_str(&github(d, file));
                buffer.push('\n');
            }
        }
        if buffer.len() > 1 << 16 {
            emit(&buffer);
            buffer.clear();
        }
    }
    emit(&buffer);
}

/// One line for a person: `file:line:col: error[planrun::code]: message`.
pub fn short(d: &Diagnostic, plan: &SourceFile) -> String {
    let file = d.source(plan);
    let (line, col) = file.line_col(d.primary_span().offset);
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!("{}:{line}:{col}: {level}[{}]: {}", file.name, d.code, d.message)
}

/// An error that is not about a place in a plan (an unreadable file, a bad flag), with its code
/// (`planrun::io`, `planrun::usage`), printed in the chosen format.
pub fn print_failure(file: Option<&str>, code: &str, message: &str, help: Option<&str>, format: MessageFormat) {
    match format {
        MessageFormat::Human => {
            let mut text = format!("error: {message}\n");
            if let Some(help) = help {
                text.push_str(&format!("  help: {help}\n"));
            }
            write(Stream::Stderr, &text);
        }
        MessageFormat::Json => {
            let line = json!({
                "file": file, "code": code, "severity": "error", "message": message,
                "line": null, "column": null, "end_line": null, "end_column": null,
                "labels": [], "help": help, "fix": [],
            });
            write(Stream::Stdout, &format!("{line}\n"));
        }
        MessageFormat::Github => {
            let mut text = message.to_owned();
            if let Some(help) = help {
                text.push_str("\n\nhelp: ");
                text.push_str(help);
            }
            let file = file.map(|f| format!("file={},", escape_property(f))).unwrap_or_default();
            write(Stream::Stdout, &format!("::error {file}title={}::{}\n", escape_property(code), escape_data(&text)));
        }
    }
}

/// Reports a command line clap rejected, in the format the command line asked for (if it got
/// that far), and returns the exit code; help and version requests print as usual.
pub fn usage_error(e: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind as Kind;
    let format = requested_format(std::env::args().skip(1));
    if matches!(e.kind(), Kind::DisplayHelp | Kind::DisplayVersion | Kind::DisplayHelpOnMissingArgumentOrSubcommand)
        || format == MessageFormat::Human
    {
        e.exit();
    }
    // clap's text: the error (perhaps over several lines), a blank line, tips and usage.
    let rendered = e.render().to_string();
    let mut paragraphs = rendered.split("\n\n").map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "));
    let message = paragraphs.next().unwrap_or_default().trim_start_matches("error: ").to_owned();
    let rest: Vec<String> = paragraphs.filter(|p| !p.is_empty()).collect();
    let help = (!rest.is_empty()).then(|| rest.join("; "));
    print_failure(None, "planrun::usage", &message, help.as_deref(), format);
    std::process::ExitCode::from(crate::cli::EXIT_USAGE)
}

/// The `--format` (or `--message-format`) a command line asks for, read before clap accepts it.
fn requested_format(args: impl Iterator<Item = String>) -> MessageFormat {
    let args: Vec<String> = args.collect();
    let value = args.iter().enumerate().find_map(|(i, a)| {
        match a.strip_prefix("--message-format").or_else(|| a.strip_prefix("--format")) {
            Some(v) if v.starts_with('=') => Some(v[1..].to_owned()),
            Some("") => args.get(i + 1).cloned(),
            _ => None,
        }
    });
    match value.as_deref() {
        Some("json") => MessageFormat::Json,
        Some("github") => MessageFormat::Github,
        _ => MessageFormat::Human,
    }
}
