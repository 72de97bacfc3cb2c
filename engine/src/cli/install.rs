//! `planrun completions SHELL` and `planrun man`: generated from the clap definitions, so they
//! list exactly the commands and flags the binary has.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::args::{Cli, CompletionsArgs};
use crate::cli::{EXIT_INVALID, fail};

/// Prints the completion script for a shell.
pub fn completions(a: CompletionsArgs) -> ExitCode {
    let mut command = Cli::command();
    clap_complete::generate(a.shell, &mut command, "planrun", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// Prints the man page (its SUBCOMMANDS section lists every command with its summary).
pub fn man() -> ExitCode {
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
        return fail(EXIT_INVALID, e);
    }
    let mut stdout = std::io::stdout().lock();
    match std::io::Write::write_all(&mut stdout, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(EXIT_INVALID, e),
    }
}
