//! `planrun apply`, `planrun rollback` and `planrun unlock`: the commands that change a swarm.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use plans::model::Plan;
use plans::project::Environment;
use tokio_util::sync::CancellationToken;

use crate::cli::args::{ApplyArgs, OutputFormat, RollbackArgs, UnlockArgs};
use crate::cli::progress::{self, JsonLines, Lines};
use crate::cli::{EXIT_INVALID, EXIT_USAGE, load_valid};
use crate::cluster::Cluster;
use crate::cluster::swarm::Swarm;
use crate::events::{Event, Events, Memory, Record, Sink};
use crate::executor::{self, Executor, Outcome, UndoLog};
use crate::gates::GateEnv;
use crate::journal::{self, Journal};
use crate::lock::{self, Holder, Lock};
use crate::steps::{self, StepEnv};

/// Runs `planrun apply`.
pub fn apply(a: ApplyArgs) -> ExitCode {
    let loaded = match load_valid(&a.plan, &a.inputs) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (Some(plan), Some(graph)) = (loaded.checked.plan, loaded.checked.graph) else {
        return ExitCode::from(EXIT_INVALID);
    };
    // Refuse before touching anything if a step kind cannot run yet.
    let unsupported: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| !steps::supported(&s.kind))
        .map(|s| {
            let (line, _) = loaded.checked.file.line_col(s.keyword_span.offset);
            format!("{}:{line}: {} step `{}`", loaded.checked.file.name, s.kind.keyword(), s.name.value)
        })
        .collect();
    if !unsupported.is_empty() {
        eprintln!(
            "error: planrun apply cannot run these steps yet (rolling, check, run and pause can):\n  {}",
            unsupported.join("\n  ")
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let environment = loaded.environment.map(|(_, e)| e);
    let plan_dir = a.plan.parent().map(Path::to_path_buf).unwrap_or_default();
    runtime().block_on(apply_async(Arc::new(plan), graph, environment, a, plan_dir))
}

/// Prints `error: WHY` and gives the exit code.
fn fail(code: u8, why: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {why}");
    ExitCode::from(code)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("cannot start the tokio runtime")
}

async fn connect(environment: Option<&Environment>) -> Result<Arc<dyn Cluster>, String> {
    let swarm = match environment.and_then(|e| e.docker_host.as_deref()) {
        Some(host) => {
            let env = environment.expect("checked above");
            let tls = env.cert_path.as_deref().map(|p| (Path::new(p), env.tls_verify));
            Swarm::connect_to(host, tls).await
        }
        None => Swarm::connect().await,
    };
    swarm.map(|s| Arc::new(s) as Arc<dyn Cluster>).map_err(|e| e.to_string())
}

/// The environment `--env`/`--project` name for commands without a plan (rollback, unlock):
/// the project file given, or planrun.toml in the current directory.
fn project_environment(env: Option<&str>, project: Option<&Path>) -> Result<Option<Environment>, String> {
    let path = match project {
        Some(p) => p.to_path_buf(),
        None if Path::new("planrun.toml").is_file() => PathBuf::from("planrun.toml"),
        None if env.is_some() => {
            return Err("--env needs a project file: no planrun.toml here (use --project FILE)".into());
        }
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = plans::SourceFile::new(path.display().to_string(), text);
    let project = plans::project::Project::parse(&file).map_err(|d| d.message)?;
    let chosen = project.environment(env).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(chosen.map(|(_, e)| e.clone()))
}

/// A run id that sorts by time: `r-20261126T120000Z-12345`.
fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("r-{compact}-{}", std::process::id())
}

fn sinks(output: OutputFormat) -> Vec<Box<dyn Sink>> {
    match output {
        OutputFormat::Json => vec![Box::new(JsonLines)],
        OutputFormat::Plain => vec![Box::new(Lines::plain())],
        OutputFormat::Auto if std::io::stderr().is_terminal() => vec![Box::new(Lines::live())],
        OutputFormat::Auto => vec![Box::new(Lines::plain())],
    }
}

/// Cancels `token` on Ctrl-C or SIGTERM.
fn watch_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!(
            "planrun: interrupted; finishing the running steps, then rolling back per the plan and releasing the lock"
        );
        token.cancel();
    });
}

async fn apply_async(
    plan: Arc<Plan>,
    graph: plans::PlanGraph,
    environment: Option<Environment>,
    a: ApplyArgs,
    plan_dir: PathBuf,
) -> ExitCode {
    let cluster = match connect(environment.as_ref()).await {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let run_id = new_run_id();
    let stack = plan.stack.value.clone();
    let lock = match Lock::acquire(cluster.clone(), &stack, Holder::this_process(&run_id)).await {
        Ok(l) => l,
        Err(e) => return fail(EXIT_INVALID, e),
    };
    let journal = match Journal::create(&a.state_dir, &stack, &run_id) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: cannot create the run journal under {}: {e}", a.state_dir.display());
            let _ = lock.release().await;
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let journal_path = journal.path().to_path_buf();
    let memory = Arc::new(Memory::default());
    let undo_log = Arc::new(UndoLog::default());
    let mut all: Vec<Box<dyn Sink>> = vec![Box::new(journal), Box::new(memory.clone()), Box::new(undo_log.clone())];
    all.extend(sinks(a.output));
    let events = Events::new(all);
    events.emit(Event::RunStarted {
        run_id: run_id.clone(),
        plan: plan.name.value.clone(),
        stack: stack.clone(),
        file: a.plan.display().to_string(),
        on_failure: format!("{:?}", plan.on_failure).to_lowercase(),
    });
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone());
    let gates = Arc::new(GateEnv {
        cluster: cluster.clone(),
        http: reqwest::Client::new(),
        prometheus: environment.as_ref().and_then(|e| e.prometheus.clone()),
        events: events.clone(),
    });
    let executor = Executor {
        env: StepEnv { cluster: cluster.clone(), events: events.clone(), plan: plan.clone() },
        gates,
        undo_log,
        parallelism: usize::from(a.parallelism),
        cancel,
    };
    let outcome = executor.run(&plan, &graph).await;
    events.emit(Event::RunFinished { outcome: outcome.word().into(), reason: outcome.reason().map(str::to_owned) });
    if let Err(e) = lock.release().await {
        eprintln!("warning: could not release the deploy lock: {e}\n  clear it with: planrun unlock {stack} --force");
    }
    let records = memory.0.lock().expect("memory sink poisoned").clone();
    let changes = changes(&plan, &records);
    let summary = summary(&records, &outcome, &run_id, &journal_path, &changes);
    if a.output == OutputFormat::Json {
        eprint!("{summary}");
    } else {
        eprint!("\n{summary}");
    }
    if let Some(log) = &plan.log {
        append_deployment_log(&plan_dir.join(&log.value), &plan, &run_id, &outcome, &records);
    }
    match outcome {
        Outcome::Succeeded => ExitCode::SUCCESS,
        Outcome::Paused(_) => {
            eprintln!(
                "paused: nothing was undone. To undo what this run changed: planrun rollback {} --stack {stack}\n\
                 To go on: fix the cause and run planrun apply again.",
                a.plan.display()
            );
            ExitCode::from(EXIT_INVALID)
        }
        _ => ExitCode::from(EXIT_INVALID),
    }
}

/// What the run changed on the swarm, one line per rolling step that got as far as recording
/// the service: `service: old image -> new image`, and whether that was undone.
fn changes(plan: &Plan, records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        let Event::StepRecorded { step, undo } = &r.event else { continue };
        let Some(plans::steps::StepKind::Rolling(rolling)) = plan.step(step).map(|s| &s.kind) else { continue };
        let old = undo["previous_spec"]["TaskTemplate"]["ContainerSpec"]["Image"].as_str().unwrap_or("?");
        let undone = records.iter().any(
            |u| matches!(&u.event, Event::StepUndone { step: s, outcome, .. } if s == step && outcome == "succeeded"),
        );
        let state = if undone { " (rolled back)" } else { "" };
        out.push_str(&format!("  changed: {}: {old} -> {}{state}\n", rolling.service.value, rolling.image.value));
    }
    out
}

/// The end-of-run summary: each step's outcome and time, and what was rolled back.
pub fn summary(records: &[Record], outcome: &Outcome, run_id: &str, journal: &Path, changes: &str) -> String {
    let mut out = String::new();
    let total = records.last().map(|r| r.elapsed_ms).unwrap_or(0);
    out.push_str(&format!("Summary: run {run_id} {} in {}\n", outcome.word(), progress::seconds(total)));
    if let Some(reason) = outcome.reason() {
        out.push_str(&format!("  cause: {reason}\n"));
    }
    for r in records {
        match &r.event {
            Event::StepFinished { step, outcome, took_ms, .. } => {
                out.push_str(&format!("  {step:<24} {outcome:<10} {:>8}\n", progress::seconds(*took_ms)))
            }
            Event::StepUndone { step, outcome, took_ms, .. } => out.push_str(&format!(
                "  {step:<24} {:<10} {:>8}\n",
                format!("undo {outcome}"),
                progress::seconds(*took_ms)
            )),
            _ => {}
        }
    }
    out.push_str(changes);
    out.push_str(&format!("  journal: {}\n", journal.display()));
    out
}

fn append_deployment_log(path: &Path, plan: &Plan, run_id: &str, outcome: &Outcome, records: &[Record]) {
    let total = records.last().map(|r| r.elapsed_ms).unwrap_or(0);
    let when = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let who = Holder::this_process(run_id).holder;
    let mut line = format!(
        "- {when} {} `{}` by {who}: {} in {}",
        plan.stack.value,
        run_id,
        outcome.word(),
        progress::seconds(total)
    );
    if let Some(reason) = outcome.reason() {
        line.push_str(&format!(" ({reason})"));
    }
    let written =
        std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        eprintln!("warning: cannot append to the deployment log {}: {e}", path.display());
    }
}

/// Runs `planrun rollback`: undoes what the stack's last run changed and has not been undone.
pub fn rollback(a: RollbackArgs) -> ExitCode {
    runtime().block_on(rollback_async(a))
}

async fn rollback_async(a: RollbackArgs) -> ExitCode {
    let path = match &a.journal {
        Some(p) => p.clone(),
        None => match journal::latest(&a.state_dir, &a.stack) {
            Ok(Some(p)) => p,
            Ok(None) => {
                eprintln!("error: no run journal for stack `{}` under {}", a.stack, a.state_dir.display());
                return ExitCode::from(EXIT_USAGE);
            }
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", a.state_dir.display());
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    let records = match journal::read(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read the journal {}: {e}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let pending = journal::pending_undo(&records);
    if pending.is_empty() {
        eprintln!("nothing to roll back: every change recorded in {} is already undone", path.display());
        return ExitCode::SUCCESS;
    }
    let environment = match project_environment(a.env.as_deref(), a.project.as_deref()) {
        Ok(e) => e,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let cluster = match connect(environment.as_ref()).await {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let run_id = new_run_id();
    let lock = match Lock::acquire(cluster.clone(), &a.stack, Holder::this_process(&run_id)).await {
        Ok(l) => l,
        Err(e) => return fail(EXIT_INVALID, e),
    };
    // Undo events go to the same journal, so a second rollback knows what is done.
    let mut all: Vec<Box<dyn Sink>> = Vec::new();
    match std::fs::OpenOptions::new().append(true).open(&path) {
        Ok(_) => all.push(Box::new(AppendJournal(path.clone()))),
        Err(e) => eprintln!("warning: cannot append to {}: {e}", path.display()),
    }
    all.extend(sinks(a.output));
    let events = Events::new(all);
    let plan = Arc::new(placeholder_plan(&a.stack));
    let env = StepEnv { cluster, events: events.clone(), plan };
    let result = executor::undo_records(&env, &pending).await;
    let outcome = match &result {
        Ok(()) => "rolled-back",
        Err(_) => "rollback-failed",
    };
    events.emit(Event::RunFinished { outcome: outcome.into(), reason: result.as_ref().err().cloned() });
    let _ = lock.release().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Appends records to an existing journal file.
struct AppendJournal(PathBuf);

impl Sink for AppendJournal {
    fn record(&self, record: &Record) {
        let Ok(line) = serde_json::to_string(record) else { return };
        let written = std::fs::OpenOptions::new().append(true).open(&self.0).and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("warning: cannot write the journal {}: {e}", self.0.display());
        }
    }
}

/// Undo needs no plan: records carry everything. Steps still get a plan for their environment.
fn placeholder_plan(stack: &str) -> Plan {
    use plans::spanned::Spanned;
    Plan {
        name: Spanned::new(format!("rollback of {stack}"), Default::default()),
        stack: Spanned::new(stack.to_owned(), Default::default()),
        on_failure: plans::model::OnFailure::Rollback,
        log: None,
        variables: Vec::new(),
        gates: Vec::new(),
        steps: Vec::new(),
    }
}

/// Runs `planrun unlock`.
pub fn unlock(a: UnlockArgs) -> ExitCode {
    if !a.force {
        eprintln!(
            "error: removing a deploy lock needs --force: first make sure no planrun apply is running for `{}`",
            a.stack
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let environment = match project_environment(a.env.as_deref(), a.project.as_deref()) {
        Ok(e) => e,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    runtime().block_on(async {
        let cluster = match connect(environment.as_ref()).await {
            Ok(c) => c,
            Err(e) => return fail(EXIT_USAGE, e),
        };
        match lock::force_unlock(cluster.as_ref(), &a.stack).await {
            Ok(h) => {
                eprintln!("unlocked `{}` (was held by {} for run {} since {})", a.stack, h.holder, h.run_id, h.started);
                ExitCode::SUCCESS
            }
            Err(lock::LockError::NotHeld(s)) => {
                eprintln!("stack `{s}` is not locked");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_INVALID)
            }
        }
    })
}
