//! The EXAMPLES of each command's `--help` (clap's `after_help`) and of its man page (the same
//! text, `install::man`): a `# what it does` line, then the command, as a shell takes it.
//! A test parses every example command with the real parser, so none can go stale.

use clap::builder::StyledStr;
use clap::builder::styling::{AnsiColor, Effects, Style};

/// The heading the examples go under (styled as clap styles its own headings on a terminal).
pub const HEADING: &str = "Examples:";

/// `text` under the heading, for `after_help`.
pub fn help(text: &str) -> StyledStr {
    let style = Style::new().bold().underline();
    let comment = Style::new().fg_color(Some(AnsiColor::BrightBlack.into())).effects(Effects::new());
    let mut out = format!("{style}{HEADING}{style:#}\n");
    for line in text.lines() {
        match line.trim_start().strip_prefix('#') {
            Some(_) => out.push_str(&format!("  {comment}{}{comment:#}\n", line.trim_start())),
            None => out.push_str(&format!("  {line}\n")),
        }
    }
    StyledStr::from(out)
}

/// The command lines of an `after_help` text: what follows `planrun`, up to a pipe, a
/// redirection or a comment.
pub fn commands(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("planrun "))
        .map(|l| {
            let command = [" | ", " > ", " # "].iter().fold(l, |l, cut| l.split(cut).next().unwrap_or(l));
            command.split_whitespace().map(str::to_owned).collect()
        })
        .collect()
}

pub const VALIDATE: &str = "\
# Check a plan: every problem at once, each with a fix; exit 1 if it has errors
planrun validate deploy/plan.kdl
# Every plan under deploy/, warnings failing too, as annotations on a pull request
planrun validate deploy/ --deny-warnings --format github
# Apply the fixes the diagnostics offer, then check again
planrun validate deploy/plan.kdl --fix
# From an editor or a pre-commit hook: the text on standard input, named as its file
planrun validate - --stdin-filename deploy/plan.kdl";

pub const FMT: &str = "\
# Lay out every plan under deploy/ in place
planrun fmt deploy/
# In CI: write nothing, print a diff and exit 1 if a file would change
planrun fmt --check deploy/plan.kdl
# From an editor: standard input to standard output
planrun fmt - --stdin-filename deploy/plan.kdl";

pub const INIT: &str = "\
# A plan for the stack shop that deploys its compose file, gates included
planrun init shop --compose docker-compose.yml -o plan.kdl
# A rolling step per service of the compose file instead (the services exist already)
planrun init --compose docker-compose.yml --rolling -o plan.kdl
# A plan of what the live stack shop runs now: applying it changes no task
planrun init shop -o plan.kdl";

pub const GRAPH: &str = "\
# The steps in layers: the steps of one layer may run together
planrun graph plan.kdl
# A picture, with Graphviz
planrun graph plan.kdl --format dot | dot -Tsvg > plan.svg
# For a markdown page (GitHub draws mermaid)
planrun graph plan.kdl --format mermaid";

pub const SHOW: &str = "\
# The plan as planrun reads it, variables substituted and defaults applied
planrun show plan.kdl --json
# As the production environment of planrun.toml and a variable make it
planrun show plan.kdl --json --env production --var version=v2.1.0";

pub const PLAN: &str = "\
# What applying would change on the production swarm, in which order, how long it takes
planrun plan deploy/plan.kdl --env production
# A pull-request comment; exit 2 when something would change
planrun plan deploy/plan.kdl --env production --format markdown --detailed-exitcode > plan.md
# A drill: what is rolled back, and how everything ends, if the step backend fails
planrun plan deploy/plan.kdl --fail backend
# From the file alone, without reading the swarm
planrun plan deploy/plan.kdl --offline
# Save what was reviewed; `planrun apply release.plan` applies exactly that
planrun plan deploy/plan.kdl --env production -o release.plan";

pub const APPLY: &str = "\
# Deploy to the swarm of the production environment of planrun.toml
planrun apply deploy/plan.kdl --env production
# Deploy another release than the plan's default
planrun apply deploy/plan.kdl --var version=v2.1.0
# Apply the plan `planrun plan -o` saved; refused if the swarm moved on since
planrun apply release.plan
# In CI: every event as one JSON line on standard output, the summary on standard error
planrun apply deploy/plan.kdl --format json > events.jsonl";

pub const ROLLBACK: &str = "\
# Undo what the newest run of the stack shop left changed
planrun rollback shop
# Undo one run (`planrun history shop` lists them)
planrun rollback shop --run r-20261206T162319Z-31780";

pub const PROMOTE: &str = "\
# Approve the step the run on the stack shop waits on
planrun promote shop
# The same, on the production swarm
planrun promote shop --env production";

pub const ABORT: &str = "\
# Refuse the step the run on the stack shop waits on: the run rolls back
planrun abort shop";

pub const STATUS: &str = "\
# What runs on the stack shop, its lock, and how its last run ended
planrun status shop
# For a script
planrun status shop --format json";

pub const HISTORY: &str = "\
# The last runs of the stack shop on the production swarm
planrun history shop --env production";

pub const FINISH: &str = "\
# Scale the old blue-green colours of the stack shop to 0 once their keep-old has passed
planrun finish shop";

pub const WATCH: &str = "\
# End the watch the last release of the stack shop left running (its gates are judged no more)
planrun watch shop --stop";

pub const UNLOCK: &str = "\
# Remove the lock the run that died left on the stack shop (`planrun status shop` names it)
planrun unlock shop --force r-20261206T162319Z-31780";

pub const REPAIR: &str = "\
# Say what runs that died or were stopped left on the stack shop, and change nothing
planrun repair shop --dry-run
# Finish it: undo their changes, remove what they left, take over their lock
planrun repair shop";

pub const RESTORE: &str = "\
# Put back the dump a backup step of the stack shop took
planrun restore shop backups/db-shop-20261206T162319.042Z.dump
# A large database: allow four hours
planrun restore shop backups/db-shop-20261206T162319.042Z.dump --timeout 4h";

pub const EXPLAIN: &str = "\
# What a diagnostic code means, with a wrong and a fixed example
planrun explain unknown-property
# The code as `planrun validate` prints it works too
planrun explain planrun::cycle";

pub const COMPLETIONS: &str = "\
# bash
planrun completions bash > /etc/bash_completion.d/planrun
# zsh
planrun completions zsh > /usr/local/share/zsh/site-functions/_planrun
# fish
planrun completions fish > ~/.config/fish/completions/planrun.fish";

pub const MAN: &str = "\
# Install every page, then `man planrun`, `man planrun-apply`
planrun man --dir /usr/local/share/man/man1
# Print the page of one command
planrun man apply";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::args::Cli;

    #[test]
    fn every_command_has_examples_and_each_parses_with_the_real_parser() {
        let cli = Cli::command();
        let mut checked = 0;
        for sub in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
            let name = sub.get_name();
            let text = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(text.starts_with(&format!("{HEADING}\n")), "`planrun {name} --help` has no examples:\n{text}");
            let commands = commands(&text);
            assert!(!commands.is_empty(), "`planrun {name} --help`: no example command in\n{text}");
            // Each command has its comment, and the comment comes first.
            let lines: Vec<&str> = text.lines().skip(1).map(str::trim).collect();
            for pair in lines.chunks(2) {
                assert!(pair[0].starts_with("# ") && pair[1].starts_with("planrun "), "{name}: {pair:?}");
            }
            for argv in commands {
                assert_eq!(argv[1], name, "an example of `planrun {name}` runs `planrun {name}`: {argv:?}");
                if let Err(e) = Cli::parse_settled_from(&argv) {
                    panic!("`{}` does not parse:\n{e}", argv.join(" "));
                }
                checked += 1;
            }
        }
        assert!(checked >= 30, "{checked}");
    }

    #[test]
    fn a_command_ends_at_a_pipe_or_redirection() {
        let text = "# x\nplanrun graph p.kdl --format dot | dot -Tsvg > p.svg\n# y\nplanrun man > planrun.1\n";
        assert_eq!(commands(text), [vec!["planrun", "graph", "p.kdl", "--format", "dot"], vec!["planrun", "man"]]);
    }
}
