//! Command-line flags (clap): the raw layer, turned into commands by `cli::main`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cli::examples;

/// Declarative zero-downtime deployments to Docker Swarm.
#[derive(Debug, Parser)]
#[command(name = "planrun", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plan files and report every problem at once.
    ///
    /// Exits 0 when every plan is valid (warnings allowed unless --deny-warnings),
    /// 1 when a plan has errors, 2 for usage or I/O errors (reported in the --message-format
    /// too), 141 when its output is closed early (`| head`).
    #[command(after_help = examples::help(examples::VALIDATE))]
    Validate(ValidateArgs),
    /// Rewrite plan files in the canonical layout, keeping every comment.
    ///
    /// Four-space indentation, one node per line, arguments before properties, names without
    /// needless quotes, one blank line at most (docs/language.md, "Canonical layout"); the plan means
    /// exactly what it meant. Only files that change are written. With --check nothing is
    /// written: a diff is printed for each file that would change. A file with syntax errors is
    /// left as it is and its errors are reported.
    ///
    /// Exits 0 when every file is formatted (or now is); 1 when --check found a file to change or
    /// a file has syntax errors; 2 for usage or I/O errors.
    #[command(after_help = examples::help(examples::FMT))]
    Fmt(FmtArgs),
    /// Write a starting plan from a compose file or from a live stack.
    ///
    /// From a compose file (--compose): a compose step that deploys the whole file as the stack
    /// (named STACK, default the file's directory), or with --rolling one rolling step per
    /// service taking its image and replicas from the file. From a live stack (STACK alone): one
    /// rolling step per service with the image, replicas and update settings it runs now (one-off
    /// jobs commented out: rolling steps update services, not jobs). Either
    /// way a swarm gate per service. The plan is in the canonical layout and validates as it is;
    /// paths in it are relative to its directory. Printed on standard output unless -o.
    ///
    /// Exits 0 when written; 1 when the compose file has errors (each printed at its line) or the
    /// stack has no services; 2 for usage or I/O errors, an existing -o file without --force, or
    /// when Docker cannot be reached.
    #[command(after_help = examples::help(examples::INIT))]
    Init(InitArgs),
    /// Print the dependency graph of a plan's steps.
    #[command(after_help = examples::help(examples::GRAPH))]
    Graph(GraphArgs),
    /// Print the resolved plan (variables substituted, defaults applied).
    #[command(after_help = examples::help(examples::SHOW))]
    Show(ShowArgs),
    /// Show what applying a plan would do: what changes against the live swarm, in which
    /// order, how long it takes (simulated by the executor that deploys, best and worst case)
    /// and what is rolled back if a step fails. Reads the swarm only.
    ///
    /// Exits 0 when planned, 1 when the plan is invalid or names services that do not exist,
    /// 2 for usage errors; with --detailed-exitcode: 0 no changes, 1 error, 2 changes present.
    #[command(after_help = examples::help(examples::PLAN))]
    Plan(PlanArgs),
    /// Deploy a plan to the swarm; on failure, undo every change (or pause, as the plan says).
    ///
    /// Before the first change, preflight checks that every service, gate and program the plan
    /// names exists and that no update is in progress or paused; all problems are reported at
    /// once. Ctrl-C (or SIGTERM) stops the running steps at once and rolls back; a second one
    /// stops the rollback too, keeps the deploy lock and prints the command that finishes it.
    ///
    /// A plan's `watch` starts after a successful run, as a Swarm service (`planrun watch`).
    ///
    /// Exits 0 when every step and gate succeeded; 1 when the run failed (rolled back, paused,
    /// rollback failed) or was refused before changing anything (invalid plan, steps apply
    /// cannot run yet, deploy lock held, preflight problems), or its watch could not start; 2 for usage errors, an unwritable
    /// state directory, or when Docker cannot be reached; 130 when a second interrupt stopped
    /// it with changes left in place.
    #[command(after_help = examples::help(examples::APPLY))]
    Apply(ApplyArgs),
    /// Undo what a stack's last run left changed, from the state the swarm keeps of it.
    ///
    /// Takes the newest run of the stack that left changes not yet undone (a run that changed
    /// nothing, or was rolled back already, is skipped). Works from any machine that reaches
    /// a manager, with an empty state directory; `--journal FILE` undoes the run of that
    /// journal instead. A service changed since the run changed it is left alone, by name. Exits 0 when everything is undone or
    /// there was nothing to undo, 1 when an undo failed or the stack is locked, 2 for usage
    /// errors or when Docker cannot be reached, 130 when a second interrupt stopped it.
    #[command(after_help = examples::help(examples::ROLLBACK))]
    Rollback(RollbackArgs),
    /// Approve the step a run of STACK waits on (`pause NAME manual`), from any machine.
    #[command(after_help = examples::help(examples::PROMOTE))]
    Promote(AnswerArgs),
    /// Refuse the step a run of STACK waits on: that run fails and rolls back.
    #[command(after_help = examples::help(examples::ABORT))]
    Abort(AnswerArgs),
    /// Show what is live on a stack: services, blue-green colours, canaries, a run waiting for
    /// approval, the deploy lock and the last run. Reads the swarm only.
    #[command(after_help = examples::help(examples::STATUS))]
    Status(StatusArgs),
    /// List a stack's last runs as the swarm keeps them: who ran which plan when, how each
    /// ended, and what each left to undo. Reads the swarm only.
    #[command(after_help = examples::help(examples::HISTORY))]
    History(StatusArgs),
    /// Scale a stack's old blue-green colours whose keep-old has passed to zero (the next
    /// `apply` on the stack does it too).
    #[command(after_help = examples::help(examples::FINISH))]
    Finish(AnswerArgs),
    /// End the watch a release left running on STACK (`--stop`), or be that watch (`--run
    /// RUN`, what the `planrun-watch-STACK` service runs).
    ///
    /// A plan's `watch "2h" { gates ... }` keeps judging gates after a successful release, in
    /// a Swarm service, and undoes the release when one fails. `--stop` removes that service;
    /// with none running it says so and exits 0. Exits 2 when Docker cannot be reached.
    #[command(after_help = examples::help(examples::WATCH))]
    Watch(WatchArgs),
    /// Remove a stack's deploy lock left by a run that died.
    #[command(after_help = examples::help(examples::UNLOCK))]
    Unlock(UnlockArgs),
    /// Finish what runs that died or were stopped left on a stack, from the swarm alone.
    ///
    /// Undoes the changes of a run that died (a lost CI runner) or was stopped, takes over its
    /// lock, removes the job services, SQL configs and canaries such runs left, and scales old
    /// blue-green colours whose keep-old passed to 0. A paused run or a failed rollback is named
    /// with the command that resolves it. Refused while the lock's holder is alive. Exits 0 when
    /// nothing is left for a person, 1 when something is (or the stack is busy), 2 for usage
    /// errors or when Docker cannot be reached.
    #[command(after_help = examples::help(examples::REPAIR))]
    Repair(RepairArgs),
    /// Restore a dump a backup step of STACK took, into the database it came from.
    ///
    /// Finds the dump in the stack's journals, checks its SHA-256 against the one journalled
    /// when it was taken, takes the stack's deploy lock, then runs `pg_restore --clean
    /// --if-exists --exit-on-error --single-transaction` (all or nothing). Exits 0 when
    /// restored; 1 when the dump is unknown, changed or the restore failed (nothing restored),
    /// or the stack is locked; 2 for usage errors or when Docker cannot be reached.
    #[command(after_help = examples::help(examples::RESTORE))]
    Restore(RestoreArgs),
    /// Explain a diagnostic code: what is wrong, an example with the problem and the same
    /// example fixed (its section of docs/language.md, rendered for a terminal).
    ///
    /// Colour on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE=1 forces it.
    #[command(after_help = examples::help(examples::EXPLAIN))]
    Explain(ExplainArgs),
    /// Print a shell completion script: `planrun completions bash > /etc/bash_completion.d/planrun`.
    #[command(after_help = examples::help(examples::COMPLETIONS))]
    Completions(CompletionsArgs),
    /// Print a man page (roff), or write them all: `planrun man --dir /usr/local/share/man/man1`.
    ///
    /// One page for planrun and one per command (planrun-apply(1), ...), from the same
    /// definitions as --help, examples included.
    #[command(after_help = examples::help(examples::MAN))]
    Man(ManArgs),
}

/// `planrun explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The code, with or without `planrun::`.
    #[arg(value_name = "CODE")]
    pub code: String,
}

/// `planrun man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`planrun man apply` prints planrun-apply(1)); without
    /// it, planrun(1).
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write every page (planrun.1, planrun-COMMAND.1) into DIR, created if missing, and print
    /// their paths.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `planrun completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `planrun restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The stack whose run took the dump.
    #[arg(value_name = "STACK", required = true)]
    first: Option<String>,
    /// The dump, as the backup step wrote it.
    #[arg(value_name = "FILE", required = true)]
    second: Option<PathBuf>,
    /// The older spelling, `restore FILE --stack STACK` (it stands in for FILE's place: clap
    /// lets a required argument be missing when one that conflicts with it is given).
    #[arg(long = "stack", value_name = "STACK", value_parser = parse_stack, hide = true, conflicts_with = "second")]
    stack_flag: Option<String>,
    /// The stack, as [`Cli::settle`] reads it from either spelling.
    #[arg(skip)]
    pub stack: String,
    /// The dump, as [`Cli::settle`] reads it from either spelling.
    #[arg(skip)]
    pub file: PathBuf,
    /// Where run journals are kept.
    #[arg(long, value_name = "DIR", default_value = ".planrun")]
    pub state_dir: PathBuf,
    /// Use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
    /// Stop the restore after this long (it is one transaction: nothing is restored then).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// `planrun status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The stack.
    #[arg(value_name = "STACK", value_parser = parse_stack)]
    pub stack: String,
    /// `auto` and `plain` print for people; `json` prints one JSON object on stdout.
    #[arg(long = "format", alias = "output", value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Auto)]
    pub output: OutputFormat,
    /// Use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
}

/// Flags every command that reads a plan takes.
#[derive(Debug, Args, Clone)]
pub struct PlanInputs {
    /// Set a variable, overriding its environment variable and default (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Use this environment from planrun.toml.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml beside the plan).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
    /// With `-` as the plan (read from standard input): the path to name in messages and to find
    /// planrun.toml beside, as an editor or pre-commit hook knows it.
    #[arg(long = "stdin-filename", value_name = "PATH")]
    pub stdin_filename: Option<PathBuf>,
}

/// `planrun validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Plan files to check, or directories (every `*.kdl` under them); `-` reads one plan from
    /// standard input (see --stdin-filename).
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Apply the fixes the diagnostics offer (the edits `--format json` lists) to the files,
    /// then check them again.
    #[arg(long)]
    pub fix: bool,
    /// How to print diagnostics (`--message-format` is an older spelling).
    #[arg(long = "format", alias = "message-format", value_name = "FORMAT", value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
    #[command(flatten)]
    pub inputs: PlanInputs,
}

/// `planrun fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Plan files to format in place, or directories (every `*.kdl` under them); `-` formats
    /// standard input to standard output.
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
    /// Write nothing: print a unified diff for each file that would change, and exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// How to print syntax errors (`--message-format` is an older spelling).
    #[arg(long = "format", alias = "message-format", value_name = "FORMAT", value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
    /// With `-` as the plan: the path to name in messages and diffs.
    #[arg(long = "stdin-filename", value_name = "PATH")]
    pub stdin_filename: Option<PathBuf>,
}

/// `planrun init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// With --compose, the stack's name (default: the compose file's directory name); alone,
    /// the live stack to write the plan from.
    #[arg(value_name = "STACK", value_parser = parse_stack)]
    stack: Option<String>,
    /// The older spelling, `--stack STACK`.
    #[arg(long = "stack", value_name = "STACK", value_parser = parse_stack, hide = true, conflicts_with = "stack")]
    stack_flag: Option<String>,
    /// The compose file to write the plan from (the format `docker stack deploy` reads).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["stack", "stack_flag"])]
    pub compose: Option<PathBuf>,
    /// With --compose: a rolling step per service instead of one compose step (the services
    /// must exist already).
    #[arg(long, requires = "compose")]
    pub rolling: bool,
    /// Write the plan to PLAN instead of standard output.
    #[arg(short = 'o', long = "out", value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Replace PLAN if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// With STACK alone: use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME", conflicts_with = "compose")]
    pub env: Option<String>,
    /// With STACK alone: the project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE", conflicts_with = "compose")]
    pub project: Option<PathBuf>,
}

impl InitArgs {
    /// The stack named, in either spelling.
    pub fn stack(&self) -> Option<&str> {
        self.stack.as_deref().or(self.stack_flag.as_deref())
    }
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Source snippets with labels (miette).
    Human,
    /// One JSON object per diagnostic per line.
    Json,
    /// GitHub Actions workflow commands (`::error file=..,line=..::`), for code review.
    Github,
}

/// `planrun plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The plan file; `-` reads it from standard input.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Do not read the swarm: plan from the plan file alone.
    #[arg(long, conflicts_with = "require_live")]
    pub offline: bool,
    /// Refuse to plan when the swarm cannot be reached, instead of planning from the file
    /// alone. The default when the `CI` environment variable is set (to anything but `false`
    /// or `0`): in CI, a plan of nothing is an error, not a review.
    #[arg(long, conflicts_with = "allow_offline")]
    pub require_live: bool,
    /// Plan from the file alone when the swarm cannot be reached, even in CI (a pull request
    /// from a fork has no credentials).
    #[arg(long)]
    pub allow_offline: bool,
    /// A failure drill: simulate with this step or gate failing and show what is rolled back
    /// and how every service and database ends.
    #[arg(long, value_name = "STEP_OR_GATE")]
    pub fail: Option<String>,
    /// `human` (colour on a terminal unless NO_COLOR is set), `markdown` (a pull-request
    /// comment) or `json` (schema/plan-report.schema.json).
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Exit 0 when applying would change nothing, 2 when it would change something, 1 on
    /// errors (as `terraform plan -detailed-exitcode`).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan and what was live into FILE; `planrun apply FILE` applies exactly that
    /// and refuses if the swarm moved on since.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Take timings measured by an earlier run (a run id or a journal file) instead of the
    /// defaults and planrun.toml's [simulation].
    #[arg(long, value_name = "RUN")]
    pub calibrate_from: Option<String>,
    /// Where run journals are kept (for --calibrate-from).
    #[arg(long, value_name = "DIR", default_value = ".planrun")]
    pub state_dir: PathBuf,
    /// Simulate at most this many steps at once: the `--parallelism` the plan will be applied with.
    #[arg(long, default_value_t = crate::executor::PARALLELISM as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    #[command(flatten)]
    pub inputs: PlanInputs,
}

/// `planrun plan` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For people on a terminal.
    Human,
    /// A pull-request comment, under 65,535 characters.
    Markdown,
    /// One JSON object (schema/plan-report.schema.json).
    Json,
}

/// `planrun graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The plan file; `-` reads it from standard input.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
    #[command(flatten)]
    pub inputs: PlanInputs,
}

/// Graph output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Layers of steps that may run at once.
    Text,
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// `planrun show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The plan file; `-` reads it from standard input.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Print JSON (the only format for now; the schema is in schema/plan.schema.json).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub inputs: PlanInputs,
}

// ---- Consistent stack arguments
//
// Every command names its stack as its first argument (`planrun rollback shop`), as `docker
// stack rm shop` does; seven commands always did. `rollback`, `restore` and `init` took
// `--stack STACK`, which they still take (hidden) so scripts keep working.

impl Cli {
    /// Parses the command line, then settles what clap cannot: `restore`'s two spellings
    /// (`restore STACK FILE`, and the older `restore FILE --stack STACK`).
    pub fn parse_settled() -> Result<Cli, clap::Error> {
        Cli::try_parse()?.settle()
    }

    /// [`Cli::parse_settled`] of the given words (the first is the program).
    pub fn parse_settled_from<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(
        words: I,
    ) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(words)?.settle()
    }

    fn settle(mut self) -> Result<Cli, clap::Error> {
        if let Command::Restore(a) = &mut self.command {
            let error = |message: String| {
                let mut command = <Cli as clap::CommandFactory>::command();
                command.build();
                let mut restore = command.find_subcommand("restore").expect("restore is a command").clone();
                restore.error(clap::error::ErrorKind::InvalidValue, message)
            };
            let (stack, file) = match (a.first.take(), a.second.take(), a.stack_flag.take()) {
                (Some(file), None, Some(stack)) => (stack, PathBuf::from(file)),
                (Some(stack), Some(file), None) => {
                    parse_stack(&stack).map_err(|e| error(format!("invalid value '{stack}' for '<STACK>': {e}")))?;
                    (stack, file)
                }
                // clap refuses the rest (STACK and FILE are required, --stack conflicts with FILE).
                _ => return Err(error("`planrun restore STACK FILE` names the stack and the dump".into())),
            };
            (a.stack, a.file) = (stack, file);
        }
        Ok(self)
    }
}

/// Reads `--var NAME=VALUE`. The error stays a `String`: clap's `value_parser` takes any
/// function returning an error it can display, and shows that text after its own words.
fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

/// Reads a stack name, refusing one Docker would refuse (and `../x`) before any command names a
/// file, a directory or a Swarm object after it; clap shows the error's words after its own.
fn parse_stack(s: &str) -> Result<String, plans::stack_name::StackNameError> {
    plans::stack_name::check(s).map(|()| s.to_owned())
}

/// How a run reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A live view on a terminal, plain lines otherwise.
    Auto,
    /// Plain timestamped lines.
    Plain,
    /// One JSON event per line on stdout (the journal's format).
    Json,
}

/// `planrun apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Steps running at once, at most.
    #[arg(long, default_value_t = crate::executor::PARALLELISM as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// How to report progress (`--output` is an older spelling).
    #[arg(long = "format", alias = "output", value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Auto)]
    pub output: OutputFormat,
    /// Where run journals are kept.
    #[arg(long, value_name = "DIR", default_value = ".planrun")]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub inputs: PlanInputs,
}

/// `planrun rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The stack whose last run to undo.
    #[arg(value_name = "STACK", value_parser = parse_stack, required = true)]
    stack: Option<String>,
    /// The older spelling, `--stack STACK` (clap lets STACK be missing when it is given, as
    /// they conflict).
    #[arg(long = "stack", value_name = "STACK", value_parser = parse_stack, hide = true, conflicts_with = "stack")]
    stack_flag: Option<String>,
    /// Undo this journal instead of the stack's newest.
    #[arg(long, value_name = "FILE", conflicts_with = "run")]
    pub journal: Option<PathBuf>,
    /// Undo this run (an id `planrun history` lists) instead of the stack's newest.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// How to report progress (`--output` is an older spelling).
    #[arg(long = "format", alias = "output", value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Auto)]
    pub output: OutputFormat,
    /// Where run journals are kept.
    #[arg(long, value_name = "DIR", default_value = ".planrun")]
    pub state_dir: PathBuf,
    /// Use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
}

impl RollbackArgs {
    /// The stack, in either spelling (clap requires one).
    pub fn stack(&self) -> &str {
        self.stack.as_deref().or(self.stack_flag.as_deref()).unwrap_or_default()
    }
}

/// `planrun repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The stack.
    #[arg(value_name = "STACK", value_parser = parse_stack)]
    pub stack: String,
    /// Only say what would be done.
    #[arg(long)]
    pub dry_run: bool,
    /// How to report progress (`json`: events, then one `repair` object).
    #[arg(long = "format", alias = "output", value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Auto)]
    pub output: OutputFormat,
    /// Where run journals are kept (an undo is added to a run's journal when it is here).
    #[arg(long, value_name = "DIR", default_value = ".planrun")]
    pub state_dir: PathBuf,
    /// Use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
}

/// `planrun promote`, `planrun abort` and `planrun finish`.
#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// The stack.
    #[arg(value_name = "STACK", value_parser = parse_stack)]
    pub stack: String,
    /// Use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
}

/// `planrun watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The stack whose watch to end, or to be.
    #[arg(value_name = "STACK", value_parser = parse_stack)]
    pub stack: String,
    /// Remove the watch running on STACK.
    #[arg(long, conflicts_with = "run", required_unless_present = "run")]
    pub stop: bool,
    /// Be the watch of run RUN of STACK (what the watch service runs).
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
}

/// `planrun unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The stack whose deploy lock to remove.
    #[arg(value_name = "STACK", value_parser = parse_stack)]
    pub stack: String,
    /// Required: remove the lock if run RUN holds it (the run id that `planrun status` and
    /// the refusal of a second apply show), and nothing if another run took it since.
    #[arg(long, value_name = "RUN")]
    pub force: Option<String>,
    /// Use this environment's Docker host from the project file.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The project file (default: planrun.toml in the current directory, if any).
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The stack each spelling of a command line names.
    fn stack_of(words: &[&str]) -> String {
        let cli = Cli::parse_settled_from(words).unwrap_or_else(|e| panic!("{}: {e}", words.join(" ")));
        match cli.command {
            Command::Rollback(a) => a.stack().to_owned(),
            Command::Restore(a) => format!("{} {}", a.stack, a.file.display()),
            Command::Init(a) => a.stack().unwrap_or_default().to_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_stack_is_the_first_argument_and_the_older_stack_flag_still_works() {
        for (new, old, stack) in [
            (&["planrun", "rollback", "shop"][..], &["planrun", "rollback", "--stack", "shop"][..], "shop"),
            (
                &["planrun", "restore", "shop", "db.dump"],
                &["planrun", "restore", "db.dump", "--stack", "shop"],
                "shop db.dump",
            ),
            (
                &["planrun", "restore", "shop", "db.dump"],
                &["planrun", "restore", "--stack=shop", "db.dump"],
                "shop db.dump",
            ),
            (&["planrun", "init", "shop"], &["planrun", "init", "--stack", "shop"], "shop"),
            (
                &["planrun", "init", "shop", "--compose", "c.yml"],
                &["planrun", "init", "--compose", "c.yml", "--stack", "shop"],
                "shop",
            ),
        ] {
            assert_eq!(stack_of(new), stack, "{new:?}");
            assert_eq!(stack_of(old), stack, "{old:?}");
        }
        // Named twice, or not at all, is a usage error.
        for words in [
            &["planrun", "rollback", "shop", "--stack", "shop"][..],
            &["planrun", "rollback"],
            &["planrun", "restore", "shop", "db.dump", "--stack", "shop"],
            &["planrun", "restore", "db.dump"],
            &["planrun", "init", "shop", "--stack", "shop"],
        ] {
            assert!(Cli::parse_settled_from(words).is_err(), "{words:?}");
        }
        // `restore STACK FILE` checks the name as every command does.
        let e = Cli::parse_settled_from(["planrun", "restore", "../x", "db.dump"]).unwrap_err().to_string();
        assert!(e.contains("invalid value '../x' for '<STACK>': it holds '.'"), "{e}");
    }

    #[test]
    fn every_command_that_names_a_stack_takes_it_first_and_hides_the_flag() {
        let mut cli = Cli::command();
        cli.build();
        let mut named = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments().filter(|a| a.get_value_names().is_some_and(|v| v == ["STACK"])) {
                match arg.get_long() {
                    Some(long) => assert!(arg.is_hide_set(), "`planrun {} --{long}` is not hidden", sub.get_name()),
                    None => {
                        assert_eq!(arg.get_index(), Some(1), "{}: STACK comes first", sub.get_name());
                        named.push(sub.get_name().to_owned());
                    }
                }
            }
        }
        let expected = [
            "rollback", "promote", "abort", "status", "history", "finish", "unlock", "repair", "restore", "init",
            "watch",
        ];
        for name in expected {
            assert!(named.contains(&name.to_owned()), "{name} does not take STACK first: {named:?}");
        }
    }
}
