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
    let cli = Cli::parse();
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
    match load::load(path, &options(inputs)) {
        Ok(l) => Ok(l),
        Err(LoadError::Io(message)) => {
            eprintln!("error: {message}");
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
        eprintln!("{}: invalid; run `planrun validate {}` for details", c.file.name, c.file.name);
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
    print!("{out}");
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
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot print the plan as JSON: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
