//! `planrun completions SHELL` and `planrun man`: generated from the clap definitions, so they
//! list exactly the commands and flags the binary has. The man pages are clap_mangen's (NAME,
//! SYNOPSIS, DESCRIPTION, OPTIONS, SUBCOMMANDS) with two sections it does not write: EXAMPLES,
//! from each command's `--help` examples, and SEE ALSO; one page for planrun and one per
//! command (`planrun-apply(1)`), as the SUBCOMMANDS section of `man planrun` names them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use roff::{Roff, bold, roman};

use crate::cli::args::{Cli, CompletionsArgs, ManArgs};
use crate::cli::{EXIT_INVALID, EXIT_USAGE, fail};

/// Prints the completion script for a shell.
pub fn completions(a: CompletionsArgs) -> ExitCode {
    crate::cli::report::write(crate::cli::report::Stream::Stdout, &completion_script(a.shell));
    ExitCode::SUCCESS
}

/// The completion script for a shell: the commands and flags `--help` shows, nothing hidden.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut built = Cli::command();
    built.build();
    let mut command = offered(&Cli::command(), &built);
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "planrun", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `command` as completion scripts should offer it: without its hidden flags and commands.
/// clap_complete's generators offer every flag and command, hidden or not (clap#1335, #3951),
/// and clap cannot remove an argument, so the command is rebuilt from what it shows. Where a
/// hidden flag is left out, the relations that may name it (requires, required unless, the
/// derived groups) go, and the conflicts between shown flags are put back as clap resolved
/// them in `built` (zsh stops offering a flag that conflicts with one typed). Parsing never
/// uses this command.
fn offered(command: &clap::Command, built: &clap::Command) -> clap::Command {
    use clap::builder::Resettable::Reset;
    let hides_a_flag = command.get_arguments().any(clap::Arg::is_hide_set);
    let args = command.get_arguments().filter(|a| !a.is_hide_set()).map(|a| {
        if !hides_a_flag {
            return a.clone();
        }
        let resolved = built.get_arguments().find(|b| b.get_id() == a.get_id()).expect("built from the same command");
        let conflicts = built.get_arg_conflicts_with(resolved).into_iter().filter(|c| !c.is_hide_set());
        a.clone()
            .conflicts_with(Reset)
            .requires(Reset)
            .required_unless_present(Reset)
            .conflicts_with_all(conflicts.map(|c| c.get_id().clone()))
    });
    let subcommands = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|sub| offered(sub, built.find_subcommand(sub.get_name()).expect("built from the same command")));
    let mut shown = clap::Command::new(command.get_name().to_owned())
        .visible_aliases(command.get_visible_aliases().map(str::to_owned))
        .args(args)
        .subcommands(subcommands);
    if let Some(about) = command.get_about() {
        shown = shown.about(about.clone());
    }
    if let Some(about) = command.get_long_about() {
        shown = shown.long_about(about.clone());
    }
    if let Some(version) = command.get_version() {
        shown = shown.version(version.to_owned());
    }
    if !hides_a_flag {
        shown = shown.groups(command.get_groups().cloned());
    }
    shown
}

/// The commands each command's page sends a reader on to, besides planrun(1).
const SEE_ALSO: &[(&str, &[&str])] = &[
    ("validate", &["fmt", "explain"]),
    ("fmt", &["validate"]),
    ("init", &["validate", "plan"]),
    ("graph", &["plan", "show"]),
    ("show", &["graph"]),
    ("plan", &["apply", "validate"]),
    ("apply", &["plan", "rollback", "status", "promote"]),
    ("rollback", &["apply", "history", "repair"]),
    ("promote", &["abort", "status"]),
    ("abort", &["promote", "status"]),
    ("status", &["history", "unlock"]),
    ("history", &["status", "rollback"]),
    ("finish", &["status"]),
    ("watch", &["status", "rollback"]),
    ("unlock", &["status", "repair"]),
    ("repair", &["rollback", "unlock"]),
    ("restore", &["history"]),
    ("explain", &["validate"]),
    ("completions", &["man"]),
    ("man", &["completions"]),
];

/// Every man page: its file name (`planrun.1`, `planrun-apply.1`, ...) and its roff text.
pub fn pages() -> Result<Vec<(String, String)>, std::io::Error> {
    // `planrun help` is clap's, not a command with a page.
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let mut pages = vec![("planrun.1".to_owned(), page(cli.clone(), &[])?)];
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let related = SEE_ALSO.iter().find(|(name, _)| *name == sub.get_name()).map_or(&[][..], |(_, r)| *r);
        let mut see_also = vec!["planrun".to_owned()];
        see_also.extend(related.iter().map(|r| format!("planrun-{r}")));
        pages.push((format!("planrun-{}.1", sub.get_name()), page(sub.clone(), &see_also)?));
    }
    Ok(pages)
}

/// No arguments to a roff request.
const NONE: [&str; 0] = [];

/// One page: clap_mangen's sections, then EXAMPLES and SEE ALSO before VERSION.
fn page(command: clap::Command, see_also: &[String]) -> Result<String, std::io::Error> {
    let examples = command.get_after_help().map(|h| h.to_string()).unwrap_or_default();
    // clap_mangen would print the examples as one filled paragraph under EXTRA.
    let command = command.after_help(None::<&str>);
    let mut out = Vec::new();
    clap_mangen::Man::new(command).render(&mut out)?;
    let text = String::from_utf8(out).map_err(std::io::Error::other)?;

    let mut extra = Roff::new();
    let lines: Vec<&str> = examples.lines().skip(1).map(str::trim).filter(|l| !l.is_empty()).collect();
    if !lines.is_empty() {
        extra.control("SH", ["EXAMPLES"]);
        for line in lines {
            match line.strip_prefix("# ") {
                Some(comment) => extra.control("PP", NONE).text([roman(comment)]),
                None => extra
                    .control("RS", ["4"])
                    .control("nf", NONE)
                    .text([bold(line)])
                    .control("fi", NONE)
                    .control("RE", NONE),
            };
        }
    }
    if !see_also.is_empty() {
        extra.control("SH", ["SEE ALSO"]);
        let names: Vec<String> = see_also.iter().map(|p| format!("{p}(1)")).collect();
        extra.text([roman(names.join(", "))]);
    }
    let extra = extra.to_roff();
    Ok(match text.find("\n.SH VERSION") {
        Some(at) => format!("{}\n{}{}", &text[..at], extra, &text[at + 1..]),
        None => format!("{text}{extra}"),
    })
}

/// Prints a man page (planrun's, or a command's), or writes every page into a directory.
pub fn man(a: ManArgs) -> ExitCode {
    let pages = match pages() {
        Ok(p) => p,
        Err(e) => return fail(EXIT_INVALID, e),
    };
    if let Some(dir) = &a.dir {
        return match write_pages(dir, &pages) {
            Ok(written) => {
                let listed: String = written.iter().map(|p| format!("{}\n", p.display())).collect();
                crate::cli::report::write(crate::cli::report::Stream::Stdout, &listed);
                ExitCode::SUCCESS
            }
            Err(e) => fail(EXIT_USAGE, format!("cannot write the man pages into {}: {e}", dir.display())),
        };
    }
    let file = match &a.command {
        Some(command) => format!("planrun-{command}.1"),
        None => "planrun.1".to_owned(),
    };
    let Some((_, text)) = pages.iter().find(|(name, _)| *name == file) else {
        let names: Vec<&str> =
            pages.iter().filter_map(|(n, _)| n.strip_prefix("planrun-")?.strip_suffix(".1")).collect();
        let command = a.command.as_deref().unwrap_or_default();
        return fail(
            EXIT_USAGE,
            format!("no command `{command}` has a man page; the commands are: {}", names.join(", ")),
        );
    };
    crate::cli::report::write(crate::cli::report::Stream::Stdout, text);
    ExitCode::SUCCESS
}

/// Writes the pages into `dir` (created if missing); their paths.
fn write_pages(dir: &Path, pages: &[(String, String)]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, text) in pages {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `NAME(1)` pages a roff text names (`planrun\-apply(1)` is `planrun-apply(1)`).
    fn named(text: &str) -> Vec<String> {
        let text = text.replace("\\-", "-");
        let mut out = Vec::new();
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).map_or(0, |s| s + 1);
            out.push(text[start..at].to_owned());
        }
        out
    }

    #[test]
    fn every_page_a_page_names_is_generated_and_every_command_has_one() {
        let pages = pages().unwrap();
        let files: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        let commands: Vec<String> =
            Cli::command().get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_owned()).collect();
        assert_eq!(files.len(), commands.len() + 1, "{files:?}");
        for command in &commands {
            assert!(files.contains(&format!("planrun-{command}.1").as_str()), "no page for {command}: {files:?}");
            assert!(SEE_ALSO.iter().any(|(n, _)| n == command), "{command} has no SEE ALSO entry");
        }
        let mut references = 0;
        for (file, text) in &pages {
            for name in named(text) {
                assert!(
                    files.contains(&format!("{name}.1").as_str()),
                    "{file} names {name}(1), which is not generated"
                );
                references += 1;
            }
        }
        // planrun(1) names every command; each command's page names planrun(1) and more.
        assert!(references >= 2 * commands.len() + commands.len(), "{references}");
        let main = &pages[0].1;
        assert!(named(main).contains(&"planrun-apply".to_owned()) && !main.contains("planrun\\-help"), "{main}");
    }

    /// The words bash completion offers after `planrun COMMAND`.
    fn bash_offers<'a>(script: &'a str, command: &str) -> Vec<&'a str> {
        let case = format!("planrun__subcmd__{command})");
        let at = script.find(&case).unwrap_or_else(|| panic!("no `{case}` in\n{script}"));
        let opts = script[at..].lines().find_map(|l| l.trim().strip_prefix("opts=\"")).unwrap();
        opts.trim_end_matches('"').split_whitespace().collect()
    }

    #[test]
    fn completions_offer_every_shown_flag_and_no_hidden_one() {
        let bash = completion_script(clap_complete::Shell::Bash);
        let mut cli = Cli::command();
        cli.build();
        let mut hidden = 0;
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            let offered = bash_offers(&bash, sub.get_name());
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let flag = format!("--{long}");
                assert_eq!(offered.contains(&flag.as_str()), !arg.is_hide_set(), "planrun {} {flag}", sub.get_name());
                hidden += usize::from(arg.is_hide_set());
                let visible = arg.get_visible_aliases().unwrap_or_default();
                for alias in arg.get_all_aliases().unwrap_or_default() {
                    let offers = offered.contains(&format!("--{alias}").as_str());
                    assert_eq!(offers, visible.contains(&alias), "planrun {} --{alias}", sub.get_name());
                }
            }
        }
        // The older `--stack` spelling of init, restore and rollback.
        assert_eq!(hidden, 3);
        assert!(!bash.contains("--stack"), "{bash}");
        let rollback = bash_offers(&bash, "rollback");
        for flag in ["--state-dir", "--journal", "--run", "--env", "--project", "--help"] {
            assert!(rollback.contains(&flag), "{rollback:?}");
        }
        // Conflicts between shown flags stay: zsh stops offering --journal once --run is typed.
        assert!(completion_script(clap_complete::Shell::Zsh).contains("'(--run)--journal=["));
        for shell in [clap_complete::Shell::Zsh, clap_complete::Shell::Fish, clap_complete::Shell::Elvish] {
            let script = completion_script(shell);
            assert!(script.contains("state-dir") && !script.contains("The older spelling"), "{shell}:\n{script}");
        }
    }

    #[test]
    fn a_commands_page_has_its_examples_and_see_also_before_version() {
        let pages = pages().unwrap();
        let (_, apply) = pages.iter().find(|(n, _)| n == "planrun-apply.1").unwrap();
        let at = |s: &str| apply.find(s).unwrap_or_else(|| panic!("no `{s}` in\n{apply}"));
        assert!(at(".SH OPTIONS") < at(".SH EXAMPLES") && at(".SH EXAMPLES") < at(".SH \"SEE ALSO\""));
        let (_, main) = &pages[0];
        assert!(main.find(".SH SUBCOMMANDS") < main.find(".SH VERSION"), "{main}");
        assert!(apply.contains("\\fBplanrun apply deploy/plan.kdl \\-\\-env production\\fR"), "{apply}");
        assert!(!apply.contains(".SH EXTRA"), "{apply}");
    }
}
