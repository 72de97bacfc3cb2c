//! `planrun explain CODE`: the long explanation of a diagnostic code, as `rustc --explain`
//! gives one. The text is the code's section of docs/language.md, built into the binary, so the
//! two can never disagree (plans/tests/language_doc.rs checks every code has its section).

use std::process::ExitCode;

use plans::Code;

use crate::cli::args::ExplainArgs;
use crate::cli::{EXIT_USAGE, fail};

/// The language reference, whose `### planrun::CODE` sections are the explanations.
const LANGUAGE: &str = include_str!("../../../docs/language.md");

/// The section of `code` (without `planrun::`), from its heading to the next heading of the same
/// or a higher level, with the docs' HTML comments (test markers) left out.
pub fn explanation(code: &str) -> Option<String> {
    let heading = format!("### planrun::{code}\n");
    let start = LANGUAGE.find(&heading)?;
    let body = &LANGUAGE[start..];
    let end = body[heading.len()..].find("\n## ").into_iter().chain(body[heading.len()..].find("\n### ")).min();
    let section = match end {
        Some(at) => &body[..heading.len() + at],
        None => body,
    };
    let text: Vec<&str> = section.lines().filter(|l| !l.trim_start().starts_with("<!--")).collect();
    Some(format!("{}\n", text.join("\n").trim_end()))
}

/// Runs `planrun explain`.
pub fn explain(a: ExplainArgs) -> ExitCode {
    let code = a.code.trim().trim_start_matches("planrun::");
    if let Some(text) = Code::ALL.iter().find(|c| c.name() == code).and_then(|c| explanation(c.name())) {
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    let names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
    let hint = plans::suggest::did_you_mean(code, names.iter().copied())
        .map(|s| format!(": did you mean `{s}`?"))
        .unwrap_or_else(|| format!("; the codes are: {}", names.join(", ")));
    fail(EXIT_USAGE, format!("no diagnostic code `{code}`{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_explanation_that_is_its_own_section() {
        for code in Code::ALL {
            let text = explanation(code.name()).unwrap_or_else(|| panic!("no section for {}", code.name()));
            assert!(text.starts_with(&format!("### planrun::{}\n", code.name())), "{text}");
            assert!(!text[4..].contains("\n### "), "one section only: {text}");
            assert!(!text.contains("<!--"), "{text}");
            assert!(text.lines().count() > 2, "{text}");
        }
    }
}
