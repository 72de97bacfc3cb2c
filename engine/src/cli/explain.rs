//! `planrun explain CODE`: the long explanation of a diagnostic code, as `rustc --explain`
//! gives one. The text is the code's section of docs/language.md, built into the binary, so the
//! two can never disagree (plans/tests/language_doc.rs checks every code has its section, an
//! example that has the problem and the same example fixed).
//!
//! It is rendered for a terminal, not printed as markdown: the heading, the prose with its
//! inline code, then each example under `Wrong:` or `Fixed:`, indented, with the file a block
//! is and the flags it was checked with. Colour only where anstream allows it (a terminal,
//! not with `NO_COLOR`; `CLICOLOR_FORCE` forces it); without colour, inline code keeps its
//! backticks.

use std::io::Write;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use plans::Code;

use crate::cli::args::ExplainArgs;
use crate::cli::{EXIT_USAGE, fail};

/// The language reference, whose `### planrun::CODE` sections are the explanations.
const LANGUAGE: &str = include_str!("../../../docs/language.md");

/// The section of `code` (without `planrun::`) as docs/language.md has it, from its heading to
/// the next heading of the same or a higher level, directives included.
fn section(code: &str) -> Option<&'static str> {
    let heading = format!("### planrun::{code}\n");
    let start = LANGUAGE.find(&heading)?;
    let body = &LANGUAGE[start..];
    let end = body[heading.len()..].find("\n## ").into_iter().chain(body[heading.len()..].find("\n### ")).min();
    Some(match end {
        Some(at) => &body[..heading.len() + at],
        None => body,
    })
}

/// The section of `code` (without `planrun::`) as markdown, with the docs' HTML comments (test
/// markers) left out.
pub fn explanation(code: &str) -> Option<String> {
    let text: Vec<&str> = section(code)?.lines().filter(|l| !l.trim_start().starts_with("<!--")).collect();
    Some(format!("{}\n", text.join("\n").trim_end()))
}

/// What a code block of the section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// An example with the problem (`fails:` or `warns:` this code).
    Wrong,
    /// The same example fixed (`fixes:` this code).
    Fixed,
    /// Any other block (a file an example names, another code's example).
    Other,
}

/// One part of a section.
#[derive(Debug)]
enum Part {
    Prose(String),
    Block { text: String, role: Role, file: Option<String>, flags: Vec<String> },
}

/// The section's paragraphs and blocks, the blocks with what their directives say.
fn parts(code: &str, section: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut directive: Option<&str> = None;
    let mut lines = section.lines().skip(1);
    let flush = |paragraph: &mut Vec<&str>, parts: &mut Vec<Part>| {
        if !paragraph.is_empty() {
            parts.push(Part::Prose(paragraph.join("\n")));
            paragraph.clear();
        }
    };
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("<!--") {
            flush(&mut paragraph, &mut parts);
            directive = Some(line.trim().trim_start_matches("<!--").trim_end_matches("-->"));
        } else if line.starts_with("```") {
            flush(&mut paragraph, &mut parts);
            let text: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            let (mut role, mut file, mut flags) = (Role::Other, None, Vec::new());
            for d in directive.take().unwrap_or_default().split(';').map(str::trim) {
                match d.split_once(':').map(|(k, v)| (k.trim(), v.trim().trim_start_matches("planrun::"))) {
                    Some(("fails" | "warns", c)) if c == code => role = Role::Wrong,
                    Some(("fixes", c)) if c == code => role = Role::Fixed,
                    Some(("file", path)) => file = Some(path.to_owned()),
                    Some(("var", kv)) => flags.push(format!("--var {kv}")),
                    Some(("project-var", kv)) => {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        flags.push(format!("`{k} = \"{v}\"` in planrun.toml's vars"));
                    }
                    _ => {}
                }
            }
            parts.push(Part::Block { text: text.join("\n"), role, file, flags });
        } else if line.trim().is_empty() {
            flush(&mut paragraph, &mut parts);
        } else {
            paragraph.push(line);
        }
    }
    flush(&mut paragraph, &mut parts);
    parts
}

/// The styles of a rendering; all plain without colour.
struct Styles {
    colour: bool,
    heading: Style,
    code: Style,
    wrong: Style,
    fixed: Style,
    label: Style,
}

impl Styles {
    fn new(colour: bool) -> Styles {
        let style = |s: Style| if colour { s } else { Style::new() };
        Styles {
            colour,
            heading: style(Style::new().bold().underline()),
            code: style(AnsiColor::Cyan.on_default()),
            wrong: style(AnsiColor::Red.on_default().bold()),
            fixed: style(AnsiColor::Green.on_default().bold()),
            label: style(Style::new().dimmed()),
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        format!("{style}{text}{style:#}")
    }
}

/// Markdown's inline marks in one paragraph: `code` in the code style (its backticks kept
/// without colour), `[text](#anchor)` as its text, `[text](url)` as `text (url)`, `**bold**`
/// as its text.
fn inline(text: &str, styles: &Styles) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['`', '[', '*']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(body) = rest.strip_prefix('`')
            && let Some(end) = body.find('`')
        {
            let code = &body[..end];
            out.push_str(&if styles.colour { styles.paint(styles.code, code) } else { format!("`{code}`") });
            rest = &body[end + 1..];
        } else if let Some(body) = rest.strip_prefix('[')
            && let Some(close) = body.find("](")
            && let Some(end) = body[close..].find(')')
        {
            let (label, target) = (&body[..close], &body[close + 2..close + end]);
            out.push_str(&inline(label, styles));
            if !target.starts_with('#') {
                out.push_str(&format!(" ({target})"));
            }
            rest = &body[close + end + 1..];
        } else if let Some(body) = rest.strip_prefix("**")
            && let Some(end) = body.find("**")
        {
            out.push_str(&body[..end]);
            rest = &body[end + 2..];
        } else {
            out.push_str(&rest[..1]);
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The section of `code` rendered for a terminal (styled when `colour`).
pub fn render(code: &str, colour: bool) -> Option<String> {
    let styles = Styles::new(colour);
    let parts = parts(code, section(code)?);
    let mut out = format!("{}\n", styles.paint(styles.heading, &format!("planrun::{code}")));
    let mut labelled = false;
    for (i, part) in parts.iter().enumerate() {
        match part {
            // The docs say "Fixed:" before a fixed example; here the label says it.
            Part::Prose(p) if p.trim() == "Fixed:" => {}
            Part::Prose(p) => {
                out.push('\n');
                for line in p.lines() {
                    out.push_str(&format!("{}\n", inline(line, &styles)));
                }
            }
            Part::Block { text, role, file, flags } => {
                // A file an example names goes under the example's label.
                let role = match (role, parts.get(i + 1)) {
                    (Role::Other, Some(Part::Block { role: next, .. })) if file.is_some() => *next,
                    _ => *role,
                };
                let label = match role {
                    Role::Wrong => Some(styles.paint(styles.wrong, "Wrong:")),
                    Role::Fixed => Some(styles.paint(styles.fixed, "Fixed:")),
                    Role::Other => None,
                };
                out.push('\n');
                if let Some(label) = label.filter(|_| !labelled) {
                    out.push_str(&format!("{label}\n"));
                }
                // The next block is this one's example: its label is said.
                labelled = file.is_some() && role != Role::Other;
                if let Some(file) = file {
                    out.push_str(&format!("  {}\n", styles.paint(styles.label, &format!("{file}:"))));
                }
                for flag in flags {
                    out.push_str(&format!("  {}\n", styles.paint(styles.label, &format!("(checked with {flag})"))));
                }
                for line in text.lines() {
                    out.push_str(&format!("    {line}\n").replace("    \n", "\n"));
                }
            }
        }
    }
    Some(out)
}

/// Runs `planrun explain`.
pub fn explain(a: ExplainArgs) -> ExitCode {
    let code = a.code.trim().trim_start_matches("planrun::");
    if let Some(text) = Code::ALL
        .iter()
        .find(|c| c.name() == code)
        .and_then(|c| render(c.name(), crate::cli::terminal::colour_on_stdout()))
    {
        let mut stdout = std::io::stdout().lock();
        return match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            // A reader that stopped reading (`| head`) has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => fail(EXIT_USAGE, e),
        };
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

    #[test]
    fn every_code_is_explained_with_a_wrong_and_a_fixed_example_in_that_order() {
        for code in Code::ALL {
            let text = render(code.name(), false).unwrap();
            let wrong = text.find("\nWrong:\n").unwrap_or_else(|| panic!("no wrong example:\n{text}"));
            let fixed = text.find("\nFixed:\n").unwrap_or_else(|| panic!("no fixed example:\n{text}"));
            assert!(wrong < fixed, "{text}");
            assert!(!text.contains("```") && !text.contains("###") && !text.contains("<!--"), "{text}");
            assert!(!text.contains('\x1b'), "{text}");
        }
    }

    #[test]
    fn a_code_reads_as_it_is_written_for_a_terminal() {
        assert_eq!(
            render("unknown-property", false).unwrap(),
            "planrun::unknown-property\n\
             \n\
             A property this node does not take, or an argument too many (settings are `key=value` or child\n\
             nodes).\n\
             \n\
             Wrong:\n    gate g { swarm s_web }\n    rolling web service=s_web image=\"app:v2\" paralelism=2 gates=g\n\
             \n\
             Fixed:\n    gate g { swarm s_web }\n    rolling web service=s_web image=\"app:v2\" parallelism=2 gates=g\n"
        );
        // A file an example names is under the example's label, with its name; flags are said.
        let sql = render("sql-syntax", false).unwrap();
        assert!(sql.contains("\nWrong:\n  lint/syntax.sql:\n    ALTER TABLE orders ADD COLUMN note text;\n"), "{sql}");
        assert!(sql.contains("\nFixed:\n  lint/syntax-fixed.sql:\n"), "{sql}");
        assert_eq!(sql.matches("Wrong:").count(), 1, "{sql}");
        let input = render("bad-input", false).unwrap();
        assert!(input.contains("Wrong:\n  (checked with --var verison=v3)\n    var version default=v2\n"), "{input}");
        let link = render("bad-value", false).unwrap();
        assert!(link.contains("a stack name Docker would refuse (stack names)."), "{link}");
    }

    #[test]
    fn colour_marks_headings_labels_and_code_and_drops_the_backticks() {
        let text = render("unknown-property", true).unwrap();
        assert!(text.starts_with("\x1b[1m\x1b[4mplanrun::unknown-property\x1b[0m\n"), "{text:?}");
        assert!(text.contains("(settings are \x1b[36mkey=value\x1b[0m or child"), "{text:?}");
        assert!(
            text.contains("\x1b[1m\x1b[31mWrong:\x1b[0m") && text.contains("\x1b[1m\x1b[32mFixed:\x1b[0m"),
            "{text:?}"
        );
        let plain = anstream::adapter::strip_str(&text).to_string();
        assert_eq!(plain, render("unknown-property", false).unwrap().replace("`key=value`", "key=value"));
    }
}
