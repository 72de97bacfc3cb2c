//! Whether what planrun prints for people gets colour: anstream's rules, the ones clap prints its
//! help by (a terminal, `TERM` not `dumb`, `NO_COLOR` set to anything but nothing turns colour
//! off, `CLICOLOR=0` too, `CLICOLOR_FORCE` turns it on even in a pipe).

use anstream::{AutoStream, ColorChoice};

/// Colour on standard output (`plan`, `explain`).
pub fn colour_on_stdout() -> bool {
    AutoStream::choice(&std::io::stdout()) != ColorChoice::Never
}

/// Colour on standard error (diagnostics).
pub fn colour_on_stderr() -> bool {
    AutoStream::choice(&std::io::stderr()) != ColorChoice::Never
}
