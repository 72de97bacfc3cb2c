//! `planrun repair STACK`: finish what dead or stopped runs left, and say what needs a person.

use std::process::ExitCode;

use crate::cli::apply::output_sinks;
use crate::cli::args::{OutputFormat, RepairArgs};
use crate::cli::{EXIT_INVALID, refusal_code, run_async, seams_without_a_plan, signals};
use crate::events::Events;
use crate::executor::Interrupts;
use crate::repair::{self, RepairRequest};
use crate::session::Refused;

/// Runs `planrun repair`.
pub fn repair(a: RepairArgs) -> ExitCode {
    run_async(repair_async(a))
}

async fn repair_async(a: RepairArgs) -> ExitCode {
    let output = Events::new(output_sinks(a.output));
    let said = |refused: Refused| {
        if a.output == OutputFormat::Json {
            eprintln!("error: {}", refused.message);
        }
        ExitCode::from(refusal_code(refused.refusal))
    };
    let seams = match seams_without_a_plan(a.env.as_deref(), a.project.as_deref(), &output).await {
        Ok(seams) => seams,
        Err(refused) => return said(refused),
    };
    let interrupts = Interrupts::default();
    signals::watch(interrupts.clone());
    let request = RepairRequest { stack: a.stack.clone(), state_dir: a.state_dir.clone(), dry_run: a.dry_run };
    let findings = match repair::repair(request, seams, output, interrupts).await {
        Ok(findings) => findings,
        Err(refused) => return said(refused),
    };
    if a.output == OutputFormat::Json {
        let value = serde_json::json!({ "repair": a.stack, "dry_run": a.dry_run, "findings": findings });
        println!("{value}");
    }
    if findings.is_empty() {
        eprintln!("stack {}: nothing left by a dead or stopped run", a.stack);
    } else {
        eprintln!("stack {}:", a.stack);
    }
    for f in &findings {
        let done = f.done.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        eprintln!("  {}{done}", f.what);
        if let Some(command) = &f.command {
            eprintln!("    to resolve: {command}");
        }
    }
    if findings.iter().any(|f| f.command.is_some()) { ExitCode::from(EXIT_INVALID) } else { ExitCode::SUCCESS }
}
