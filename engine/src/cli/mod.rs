//! The command line: flags in `args`, one function per command (here, `validate`, `apply`),
//! output formats in `report`.

pub mod apply;
pub mod args;
pub mod progress;
pub mod report;
pub mod validate;

use std::process::ExitCode;

use clap::Parser;
use plans::graph::render;

use crate::load::{self, LoadError, LoadOptions, Loaded};
use args::{Cli, Command, GraphFormat, MessageFormat, PlanInputs};

/// Exit code for a plan with errors (or a failed deployment).
pub const EXIT_INVALID: u8 = 1;
/// Exit code for usage and I/O errors.
pub const EXIT_USAGE: u8 = 2;

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return report::usage_error(e),
    };
    match cli.command {
        Command::Validate(a) => validate::validate(a),
        Command::Graph(a) => graph(a),
        Command::Show(a) => show(a),
        Command::Apply(a) => apply::apply(a),
        Command::Rollback(a) => apply::rollback(a),
        Command::Unlock(a) => apply::unlock(a),
    }
}

fn options(inputs: &PlanInputs) -> LoadOptions {
    LoadOptions { vars: inputs.vars.clone(), env: inputs.env.clone(), project: inputs.project.clone() }
}

/// Loads a plan; on failure prints why and returns the exit code.
pub(crate) fn load_or_report(path: &std::path::Path, inputs: &PlanInputs, format: MessageFormat) -> Result<Loaded, u8> {
    let stdin_filename = inputs.stdin_filename.as_deref();
    match load::load_as(path, stdin_filename, &options(inputs)) {
        Ok(l) => Ok(l),
        Err(LoadError::Io(message)) => {
            let file = load::shown_name(path, stdin_filename).display().to_string();
            report::print_failure(Some(&file), "planrun::io", &message, None, format);
            Err(EXIT_USAGE)
        }
        Err(LoadError::Project(boxed)) => {
            let (file, d) = *boxed;
            report::print_all(std::slice::from_ref(&d), &file, format);
            Err(EXIT_USAGE)
        }
    }
}

/// Loads a plan that must be valid; prints diagnostics (errors and warnings) to stderr.
pub(crate) fn load_valid(path: &std::path::Path, inputs: &PlanInputs) -> Result<Loaded, ExitCode> {
    let loaded = load_or_report(path, inputs, MessageFormat::Human).map_err(ExitCode::from)?;
    let c = &loaded.checked;
    report::print_all(&c.diagnostics, &c.file, MessageFormat::Human);
    if c.plan.is_none() {
        // The same inputs, so `validate` reports the same problems.
        let mut again = format!("planrun validate {}", path.display());
        for (k, v) in &inputs.vars {
            again.push_str(&format!(" --var {k}={v}"));
        }
        if let Some(env) = &inputs.env {
            again.push_str(&format!(" --env {env}"));
        }
        if let Some(project) = &inputs.project {
            again.push_str(&format!(" --project {}", project.display()));
        }
        let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
        let text = format!(
            "{}: invalid ({errors} {}); `{again}` checks it again\n",
            c.file.name,
            validate::plural(errors, "error")
        );
        report::write(report::Stream::Stderr, &text);
        return Err(ExitCode::from(EXIT_INVALID));
    }
    Ok(loaded)
}

fn graph(a: args::GraphArgs) -> ExitCode {
    let loaded = match load_valid(&a.plan, &a.inputs) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (Some(plan), Some(g)) = (&loaded.checked.plan, &loaded.checked.graph) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let out = match a.format {
        GraphFormat::Text => render::text(plan, g),
        GraphFormat::Dot => render::dot(plan, g),
        GraphFormat::Mermaid => render::mermaid(plan, g),
    };
    report::write(report::Stream::Stdout, &out);
    ExitCode::SUCCESS
}

fn show(a: args::ShowArgs) -> ExitCode {
    let loaded = match load_valid(&a.plan, &a.inputs) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some(plan) = &loaded.checked.plan else { return ExitCode::from(EXIT_INVALID) };
    // JSON is the only format today; `--json` is accepted so scripts say what they expect.
    let _ = a.json;
    match serde_json::to_string_pretty(plan) {
        Ok(s) => {
            report::write(report::Stream::Stdout, &format!("{s}\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot print the plan as JSON: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
