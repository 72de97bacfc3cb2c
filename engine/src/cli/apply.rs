//! `planrun apply`: load and check the plan, connect, hand the run to `session::apply`, render
//! the outcome and choose the exit code.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::approval::Approver;
use crate::cli::args::{ApplyArgs, OutputFormat};
use crate::cli::progress::{JsonLines, Lines};
use crate::cli::prompt::TerminalPrompt;
use crate::cli::{EXIT_INVALID, EXIT_STOPPED, connect, options, refusal_code, report, run_async, signals, summary};
use crate::commands;
use crate::events::{Events, Problem, Refusal, RunOutcome, Sink};
use crate::executor::Interrupts;
use crate::load::{self, LoadError};
use crate::notify;
use crate::plan::live::{self, ReadOnly};
use crate::plan::saved::{self, SavedPlan};
use crate::session::{self, ApplyRequest, Refused, Seams};

/// The output sinks `--output` asks for.
pub fn output_sinks(output: OutputFormat) -> Vec<Box<dyn Sink>> {
    match output {
        OutputFormat::Json => vec![Box::new(JsonLines)],
        OutputFormat::Plain => vec![Box::new(Lines::plain())],
        OutputFormat::Auto if std::io::stderr().is_terminal() => vec![Box::new(super::live::Live::stderr())],
        OutputFormat::Auto => vec![Box::new(Lines::plain())],
    }
}

/// The exact command that undoes what a run of `stack` left, with the flags that reach the
/// same journals and Docker host.
pub fn rollback_command(stack: &str, state_dir: &Path, env: Option<&str>, project: Option<&Path>) -> String {
    let mut argv = vec!["planrun".to_string(), "rollback".into(), stack.to_owned()];
    if state_dir != Path::new(".planrun") {
        argv.extend(["--state-dir".into(), state_dir.display().to_string()]);
    }
    if let Some(env) = env {
        argv.extend(["--env".into(), env.to_owned()]);
    }
    if let Some(project) = project {
        argv.extend(["--project".into(), project.display().to_string()]);
    }
    commands::display(&argv)
}

/// The exact `planrun promote STACK` (or `abort`) that answers a run of `stack` waiting for
/// approval, with the flags that reach the same Docker host.
pub fn answer_command(verb: &str, stack: &str, env: Option<&str>, project: Option<&Path>) -> String {
    let mut argv = vec!["planrun".to_string(), verb.to_owned(), stack.to_owned()];
    if let Some(env) = env {
        argv.extend(["--env".into(), env.to_owned()]);
    }
    if let Some(project) = project {
        argv.extend(["--project".into(), project.display().to_string()]);
    }
    commands::display(&argv)
}

/// The saved plan at `path`, if it is one (`planrun plan -o`); `None` for a KDL plan.
fn saved_plan(path: &Path) -> Result<Option<SavedPlan>, String> {
    if path.as_os_str() == "-" {
        return Ok(None);
    }
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
    if !SavedPlan::sniff(&text) {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: not a saved plan planrun can read: {e}", path.display()))
}

/// Runs `planrun apply`.
pub fn apply(a: ApplyArgs) -> ExitCode {
    run_async(apply_async(a))
}

async fn apply_async(a: ApplyArgs) -> ExitCode {
    // On a terminal, the live view, which also shows how long is left by the plan's estimate.
    let live_view = (a.output == OutputFormat::Auto && std::io::stderr().is_terminal())
        .then(|| Arc::new(super::live::Live::stderr()));
    let output = match &live_view {
        Some(view) => Events::new(vec![Box::new(view.clone())]),
        None => Events::new(output_sinks(a.output)),
    };
    let refuse = |refusal: Refusal, message: String, problems: Vec<Problem>| {
        let refused = Refused::emit(refusal, message, problems, &output);
        if a.output == OutputFormat::Json {
            // The JSON event is on stdout; people reading stderr still get the reason.
            eprintln!("error: {}", refused.message);
        }
        ExitCode::from(refusal_code(refused.refusal))
    };
    let stdin_filename = a.inputs.stdin_filename.as_deref();
    // A saved plan (`planrun plan -o`) carries its text, variables and environment.
    let saved = match saved_plan(&a.plan) {
        Ok(s) => s,
        Err(message) => return refuse(Refusal::Usage, message, Vec::new()),
    };
    if saved.is_some() && a.inputs.env.is_some() {
        let message = format!(
            "{} is a saved plan: it carries the environment it was planned with; plan again to change it",
            a.plan.display()
        );
        return refuse(Refusal::Usage, message, Vec::new());
    }
    let loading = match &saved {
        Some(s) => {
            let name = Path::new(&s.file).file_name().map(Path::new).unwrap_or(Path::new("plan.kdl"));
            let vars = match s.vars_from(&a.inputs.vars) {
                Ok(v) => v,
                Err(why) => return refuse(Refusal::Usage, format!("{}: {why}", a.plan.display()), Vec::new()),
            };
            let opts = load::LoadOptions { vars, env: s.env.clone(), project: a.inputs.project.clone() };
            load::load_text(&Path::new(&s.dir).join(name), s.text.clone(), &opts)
        }
        None => load::load_as(&a.plan, stdin_filename, &options(&a.inputs)),
    };
    let loaded = match loading {
        Ok(l) => l,
        Err(LoadError::Io(message)) => return refuse(Refusal::Usage, message, Vec::new()),
        Err(LoadError::Project(boxed)) => {
            let (file, d) = *boxed;
            report::print_all(std::slice::from_ref(&d), &file, crate::cli::args::MessageFormat::Human);
            return refuse(Refusal::Usage, format!("{}: {}", file.name, d.message), Vec::new());
        }
    };
    let checked = loaded.checked;
    report::print_all(&checked.diagnostics, &checked.file, crate::cli::args::MessageFormat::Human);
    let (Some(plan), Some(graph)) = (checked.plan, checked.graph) else {
        let problems = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let file = d.source(&checked.file);
                let (line, col) = file.line_col(d.primary_span().offset);
                Problem {
                    step: None,
                    at: Some(format!("{}:{line}:{col}", file.name)),
                    message: format!("{} [planrun::{}]", d.message, d.code.name()),
                }
            })
            .collect();
        let message =
            format!("{} is invalid; run `planrun validate {}` for details", checked.file.name, checked.file.name);
        return refuse(Refusal::InvalidPlan, message, problems);
    };
    let environment_name = loaded.environment.as_ref().map(|(n, _)| n.clone());
    let environment = loaded.environment.map(|(_, e)| e);
    let runs = loaded.runs;
    let simulation = loaded.simulation;
    // Files the plan names are relative to it (to where --stdin-filename says it is).
    let plan_dir = match &saved {
        Some(s) => Path::new(&s.dir).to_path_buf(),
        None => load::shown_name(&a.plan, stdin_filename).parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    // Notifications: their URLs and keys are read now, so a missing one refuses the run.
    let project_dir = loaded.project_dir.unwrap_or_default();
    let env_notify = environment_name.as_deref().zip(environment.as_ref()).map(|(n, e)| (n, &e.notify, &*project_dir));
    let targets = match notify::resolve_with_environment(&plan.notify, &plan_dir, env_notify).await {
        Ok(t) => t,
        Err(found) => {
            let problems = found.into_iter().map(|message| Problem { step: None, at: None, message }).collect();
            let message = "preflight found problems with the plan's notifications: nothing was changed".to_owned();
            return refuse(Refusal::Preflight, message, problems);
        }
    };
    let cluster = match connect(environment.as_ref()).await {
        Ok(c) => c,
        Err(e) => return refuse(Refusal::DockerUnavailable, e.to_string(), Vec::new()),
    };
    if let Some(saved) = &saved {
        let now = match live::read(&ReadOnly(cluster.clone()), &plan).await {
            Ok(now) => now,
            Err(e) => return refuse(Refusal::DockerUnavailable, format!("cannot read the swarm: {e}"), Vec::new()),
        };
        let moved = saved::moved_on(&saved.live, &now);
        if !moved.is_empty() {
            let problems = moved.into_iter().map(|m| Problem { step: None, at: None, message: m }).collect();
            let message = format!(
                "the swarm moved on since {} was planned (at {}): nothing was changed; run `planrun plan` again and review it",
                a.plan.display(),
                saved.live.read_at
            );
            return refuse(Refusal::StalePlan, message, problems);
        }
    }
    let prompt: Option<Arc<dyn Approver>> =
        std::io::stdin().is_terminal().then(|| Arc::new(TerminalPrompt) as Arc<dyn Approver>);
    // A release replaces the watch an earlier release of the stack left running, once it holds
    // the lock and passed preflight: a refused run ends nothing.
    let before_changes: crate::session::BeforeChanges = {
        let (cluster, stack) = (cluster.clone(), plan.stack.value.clone());
        Box::new(move || {
            Box::pin(async move {
                match crate::watch::stop(cluster.as_ref(), &stack).await {
                    Ok(Some(run)) => {
                        eprintln!("stopped the watch of run {run}: this release replaces it");
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(format!("cannot stop the earlier watch: {e}; nothing was changed")),
                }
            })
        })
    };
    let watch_from = (cluster.clone(), environment.as_ref().and_then(|e| e.prometheus.clone()));
    let seams = Seams::live(
        cluster,
        environment.as_ref().and_then(|e| e.prometheus.clone()),
        environment.as_ref().and_then(|e| e.database.clone()),
        prompt,
    );
    let interrupts = Interrupts::default();
    signals::watch(interrupts.clone());
    let stack = plan.stack.value.clone();
    let rollback = rollback_command(&stack, &a.state_dir, a.inputs.env.as_deref(), a.inputs.project.as_deref());
    let notifier = (!targets.is_empty()).then(|| {
        let commands = notify::Commands {
            promote: answer_command("promote", &stack, a.inputs.env.as_deref(), a.inputs.project.as_deref()),
            rollback: rollback.clone(),
        };
        notify::Notifier::start(targets, Arc::new(notify::Http::new()), commands)
    });
    let output = match &notifier {
        Some(n) => Events::new(vec![Box::new(output), Box::new(n.clone())]),
        None => output,
    };
    let plan = Arc::new(plan);
    if let Some(view) = live_view {
        // The estimate runs as many steps at once as this apply does.
        let (knobs, _) = super::plan::knobs_of(&simulation);
        let knobs = crate::plan::simulate::Knobs { parallelism: usize::from(a.parallelism), ..knobs };
        estimate_for(view, seams.cluster.clone(), plan.clone(), graph.clone(), plan_dir.clone(), knobs);
    }
    let request = ApplyRequest {
        plan: plan.clone(),
        graph,
        file: checked.file,
        plan_dir,
        state_dir: a.state_dir.clone(),
        parallelism: usize::from(a.parallelism),
        keep_runs: runs.keep.map_or(crate::run_state::KEEP_RUNS, usize::from),
        before_changes: Some(before_changes),
    };
    let ran = session::apply(request, seams, output, interrupts).await;
    // Messages still queued get at most notify::FINISH_BOUND; a failed one is a warning only,
    // also written to the run's journal.
    finish_notifying(notifier.as_deref(), ran.as_ref().ok().map(|r| r.journal.as_path())).await;
    let ran = match ran {
        Ok(ran) => ran,
        Err(refused) => {
            if a.output == OutputFormat::Json {
                eprintln!("error: {}", refused.message);
            }
            return ExitCode::from(refusal_code(refused.refusal));
        }
    };
    let stack = &plan.stack.value;
    // The report's reason is a step's error, worded before any sink redacted it.
    let text = summary::render(&plan, &ran.records, &ran.report, &ran.run_id, &ran.journal);
    let text = crate::redact::text(&text);
    eprint!("{}{text}", if a.output == OutputFormat::Json { "" } else { "\n" });
    if let Some(e) = &ran.lock_error {
        eprintln!(
            "warning: could not release the deploy lock: {e}\n  clear it with: planrun unlock {stack} --force {}",
            ran.run_id
        );
    }
    if let Some(next) = summary::next_steps(&ran.report, stack, &rollback, ran.lost_lock) {
        eprint!("{next}");
    }
    if ran.report.outcome == RunOutcome::Succeeded
        && let Some(watch) = &plan.watch
    {
        let (cluster, prometheus) = watch_from;
        match crate::watch::start(cluster, &plan, &ran.run_id, prometheus).await {
            Ok(started) => eprintln!(
                "watching {stack} until {} (gates {}; on regression {}) in service {}; `planrun watch {stack} --stop` ends it",
                started.until,
                watch.gates.iter().map(|g| g.value.as_str()).collect::<Vec<_>>().join(" "),
                watch.on_regression.word(),
                started.service,
            ),
            Err(e) => {
                eprintln!("error: the release succeeded, but its watch could not start: {e}");
                return ExitCode::from(EXIT_INVALID);
            }
        }
    }
    match ran.report.outcome {
        RunOutcome::Succeeded => ExitCode::SUCCESS,
        RunOutcome::Stopped => ExitCode::from(EXIT_STOPPED),
        RunOutcome::RolledBack | RunOutcome::RollbackFailed | RunOutcome::Paused => ExitCode::from(EXIT_INVALID),
    }
}

/// Simulates the plan against the swarm as it is, in the background (a read of the swarm, then
/// the simulator on a blocking thread), and gives the live view its estimate when done. The run
/// does not wait for it; an estimate that cannot be made is simply not shown.
fn estimate_for(
    view: Arc<super::live::Live>,
    cluster: Arc<dyn crate::cluster::Cluster>,
    plan: Arc<plans::model::Plan>,
    graph: plans::graph::PlanGraph,
    plan_dir: std::path::PathBuf,
    knobs: crate::plan::simulate::Knobs,
) {
    tokio::spawn(async move {
        let Ok(now) = live::read(&ReadOnly(cluster), &plan).await else { return };
        let simulated = tokio::task::spawn_blocking(move || {
            crate::plan::simulate::run(&plan, &graph, &plan_dir, &now, &knobs, &crate::plan::simulate::Failure::Nothing)
        })
        .await;
        if let Ok(simulated) = simulated {
            view.expect(super::live::Estimate::of(&simulated));
        }
    });
}

/// Waits (at most [`notify::FINISH_BOUND`]) for the messages still queued, prints a warning for
/// each one not delivered and adds it to `journal` when there is one. Returns the warnings.
pub(crate) async fn finish_notifying(notifier: Option<&notify::Notifier>, journal: Option<&Path>) -> Vec<String> {
    let Some(n) = notifier else { return Vec::new() };
    let warnings: Vec<String> =
        n.finish(notify::FINISH_BOUND).await.iter().map(|w| crate::redact::text(w).into_owned()).collect();
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(path) = journal.filter(|_| !warnings.is_empty()) {
        match crate::journal::Journal::append(path) {
            Ok(journal) => {
                let events = Events::new(vec![Box::new(journal)]);
                for message in &warnings {
                    let problem = crate::events::Problem { step: None, at: None, message: message.clone() };
                    events.emit(crate::events::Event::Warning { problem });
                }
            }
            Err(e) => eprintln!("warning: cannot add the undelivered notifications to {}: {e}", path.display()),
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::EXIT_USAGE;

    #[test]
    fn the_rollback_command_carries_the_flags_that_reach_the_same_run() {
        assert_eq!(rollback_command("shop", Path::new(".planrun"), None, None), "planrun rollback shop");
        assert_eq!(
            rollback_command("shop", Path::new("/tmp/my state"), Some("prod"), Some(Path::new("ops/planrun.toml"))),
            "planrun rollback shop --state-dir '/tmp/my state' --env prod --project ops/planrun.toml"
        );
    }

    #[test]
    fn the_rollback_command_parses() {
        use clap::Parser;
        let line = rollback_command("shop", Path::new("/tmp/s"), Some("prod"), None);
        let argv: Vec<&str> = line.split(' ').collect();
        let parsed = crate::cli::args::Cli::try_parse_from(argv);
        assert!(parsed.is_ok(), "{line}: {:?}", parsed.err());
    }

    #[test]
    fn the_promote_command_parses_and_reaches_the_same_swarm() {
        use clap::Parser;
        let line = answer_command("promote", "shop", Some("prod"), Some(Path::new("ops/planrun.toml")));
        assert_eq!(line, "planrun promote shop --env prod --project ops/planrun.toml");
        let parsed = crate::cli::args::Cli::try_parse_from(line.split(' '));
        assert!(parsed.is_ok(), "{line}: {:?}", parsed.err());
        assert_eq!(answer_command("promote", "shop", None, None), "planrun promote shop");
    }

    #[test]
    fn an_unused_exit_code_is_not_usage() {
        assert_eq!(refusal_code(Refusal::DockerUnavailable), EXIT_USAGE);
    }
}
