//! A run from its first to its last step, in one place that `apply` and `rollback` share (and
//! `plan` will): take the stack's deploy lock, open the journal, preflight, wire the executor,
//! release the lock, append the deployment log. The command line only parses flags, builds the
//! seams and renders what comes back.

use plans::project::DatabaseConfig;

use crate::database::{Databases, RealDatabases};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plans::model::Plan;
use plans::{PlanGraph, SourceFile};

use crate::approval::{Approver, FirstAnswer, SwarmApprovals};
use crate::cluster::Cluster;
use crate::commands::{Commands, LocalCommands};
use crate::context::{RunContext, StepContext};
use crate::events::{Event, Events, Memory, Problem, Record, Refusal, RunOutcome, Sink};
use crate::executor::{self, Executor, Interrupts};
use crate::gates::{LiveProbe, Probe};
use crate::journal::{self, Journal};
use crate::lock::{Holder, Lock, LockError};
use crate::run_state::{self, Entry, RunState};
use crate::undo::{Recorded, Undo};
use crate::{clock, history, preflight};

/// The run's connections to the world.
#[derive(Clone)]
pub struct Seams {
    /// The swarm.
    pub cluster: Arc<dyn Cluster>,
    /// Measures gates.
    pub probe: Arc<dyn Probe>,
    /// Runs commands.
    pub commands: Arc<dyn Commands>,
    /// Asks a person.
    pub approver: Arc<dyn Approver>,
    /// Opens databases.
    pub databases: Arc<dyn Databases>,
}

impl Seams {
    /// The real world: the connected swarm, HTTP and Prometheus over reqwest, commands on this
    /// machine, approvals kept in the swarm (answered by `planrun promote`/`abort` from
    /// anywhere) or given at `prompt`, whichever comes first.
    pub fn live(
        cluster: Arc<dyn Cluster>,
        prometheus: Option<String>,
        database: Option<DatabaseConfig>,
        prompt: Option<Arc<dyn Approver>>,
    ) -> Seams {
        let commands: Arc<dyn Commands> = Arc::new(LocalCommands);
        let probe = LiveProbe::new(cluster.clone(), prometheus, commands.clone());
        let mut approvers: Vec<Arc<dyn Approver>> = vec![Arc::new(SwarmApprovals::new(cluster.clone()))];
        approvers.extend(prompt);
        let databases = Arc::new(RealDatabases { cluster: cluster.clone(), defaults: database });
        Seams { cluster, probe: Arc::new(probe), commands, approver: Arc::new(FirstAnswer(approvers)), databases }
    }

    /// A run context over these seams, keeping its undo records in `state`.
    pub fn context(&self, events: Events, stack: &str, run_id: &str, state: Option<Arc<RunState>>) -> Arc<RunContext> {
        Arc::new(RunContext {
            cluster: self.cluster.clone(),
            events,
            probe: self.probe.for_run(run_id),
            commands: self.commands.clone(),
            approver: self.approver.clone(),
            stack: stack.to_owned(),
            run_id: run_id.to_owned(),
            recorded: Arc::new(Recorded::default()),
            databases: self.databases.clone(),
            backups: Arc::default(),
            state,
        })
    }
}

/// Why a run did not start: nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Why, as a word.
    pub refusal: Refusal,
    /// What to do.
    pub message: String,
    /// Every problem, when there are several.
    pub problems: Vec<Problem>,
}

impl Refused {
    /// A refusal, emitted to `output` as a `run-refused` event.
    pub fn emit(refusal: Refusal, message: impl Into<String>, problems: Vec<Problem>, output: &Events) -> Refused {
        // Redacted as the event is, since the command line prints the message too.
        let mut message = message.into();
        crate::redact::scrub(&mut message);
        let refused = Refused { refusal, message, problems };
        output.emit(Event::RunRefused {
            refusal: refused.refusal,
            message: refused.message.clone(),
            problems: refused.problems.clone(),
        });
        refused
    }
}

/// A run that happened.
#[derive(Debug)]
pub struct Ran {
    /// Its id.
    pub run_id: String,
    /// How it ended.
    pub report: executor::Report,
    /// Its journal.
    pub journal: PathBuf,
    /// Everything it recorded.
    pub records: Vec<Record>,
    /// Why the deploy lock could not be released, if so; a stopped run keeps it on purpose.
    pub lock_error: Option<String>,
    /// Whether the run lost its lock (removed or taken over) and stopped for it.
    pub lost_lock: bool,
}

/// What `apply` needs.
pub struct ApplyRequest {
    /// The checked plan.
    pub plan: Arc<Plan>,
    /// Its graph.
    pub graph: PlanGraph,
    /// Its file (for `FILE:LINE` in problems).
    pub file: SourceFile,
    /// The plan file's directory.
    pub plan_dir: PathBuf,
    /// Where journals are kept.
    pub state_dir: PathBuf,
    /// Steps running at once, at most.
    pub parallelism: usize,
    /// How many runs of the stack the swarm keeps the state of (`[runs] keep`).
    pub keep_runs: usize,
    /// Runs once the run holds the stack's lock and preflight passed, before anything changes
    /// (`apply` ends the watch an earlier release left running, so a refused run ends none); an
    /// error refuses the run.
    pub before_changes: Option<BeforeChanges>,
}

/// What [`ApplyRequest::before_changes`] runs.
pub type BeforeChanges =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> + Send>;

/// A run id that sorts by time: `r-20261126T120000Z-12345`.
pub fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("r-{compact}-{}", std::process::id())
}

/// Deploys a plan: lock, journal, preflight, run, release. Refusals and every event go to
/// `output` too.
pub async fn apply(
    request: ApplyRequest,
    seams: Seams,
    output: Events,
    interrupts: Interrupts,
) -> Result<Ran, Refused> {
    let plan = request.plan.clone();
    let stack = plan.stack.value.clone();
    let run_id = new_run_id();
    let mut lock = match Lock::acquire(seams.cluster.clone(), &stack, Holder::this_process(&run_id)).await {
        Ok(lock) => lock,
        Err(e @ LockError::Held { .. }) => {
            return Err(Refused::emit(Refusal::Locked, e.to_string(), Vec::new(), &output));
        }
        Err(e) => return Err(Refused::emit(Refusal::DockerUnavailable, e.to_string(), Vec::new(), &output)),
    };
    let journal = match Journal::create(&request.state_dir, &stack, &run_id) {
        Ok(j) => j.warning_to(output.clone()),
        Err(e) => {
            let _ = lock.release().await;
            let message = format!("cannot create the run journal under {}: {e}", request.state_dir.display());
            return Err(Refused::emit(Refusal::Journal, message, Vec::new(), &output));
        }
    };
    let journal_path = journal.path().to_path_buf();
    let memory = Arc::new(Memory::default());
    let events = Events::new(vec![Box::new(journal), Box::new(memory.clone()), Box::new(output)]);
    events.emit(Event::RunStarted {
        run_id: run_id.clone(),
        plan: plan.name.value.clone(),
        stack: stack.clone(),
        file: request.file.name.clone(),
        on_failure: format!("{:?}", plan.on_failure).to_lowercase(),
    });
    let fenced = fence(&mut lock, &events, &interrupts);
    let state = Arc::new(RunState::new(seams.cluster.clone(), &stack, &run_id, 0));
    let ctx = seams.context(events.clone(), &stack, &run_id, Some(state.clone()));
    let plan_dir = Arc::new(request.plan_dir.clone());
    let step_ctx =
        StepContext { run: ctx.clone(), plan: plan.clone(), plan_dir: plan_dir.clone(), step: String::new() };
    let found = preflight::check(&step_ctx, &request.file).await;
    for warning in found.warnings {
        events.emit(Event::Warning { problem: warning });
    }
    if !found.problems.is_empty() {
        let message = "preflight found problems: nothing was changed";
        let refused = Refused::emit(Refusal::Preflight, message, found.problems, &events);
        let _ = lock.release().await;
        return Err(refused);
    }
    if let Some(before) = request.before_changes
        && let Err(message) = before().await
    {
        let refused = Refused::emit(Refusal::DockerUnavailable, message, Vec::new(), &events);
        let _ = lock.release().await;
        return Err(refused);
    }
    // Old blue-green colours whose keep-old has passed retire now (nobody waited for them).
    match crate::steps::blue_green::retire_due(seams.cluster.as_ref(), &stack, std::time::SystemTime::now()).await {
        Ok(retired) if !retired.is_empty() => events.emit(Event::Warning {
            problem: Problem {
                step: None,
                at: None,
                message: format!("scaled to 0, their keep-old having passed: {}", retired.join(", ")),
            },
        }),
        Ok(_) => {}
        Err(e) => events.emit(Event::Warning {
            problem: Problem { step: None, at: None, message: format!("could not retire old colours: {e}") },
        }),
    }
    let mut last = history::LastRun {
        run: history::RunSummary {
            run_id: run_id.clone(),
            plan: plan.name.value.clone(),
            by: Holder::this_process(&run_id).holder,
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            finished: None,
            outcome: None,
            reason: None,
        },
        steps: plan.steps.clone(),
    };
    // Before anything changes, the swarm knows the run: its undo records follow.
    if let Err(e) = state.write(&Entry::Started { summary: last.run.clone() }).await {
        let message = format!("cannot keep the run's state in the swarm ({e}): nothing was changed");
        let refused = Refused::emit(Refusal::DockerUnavailable, message, Vec::new(), &events);
        fenced.abort();
        let _ = lock.release().await;
        return Err(refused);
    }
    if let Err(e) = run_state::collect(seams.cluster.as_ref(), &stack, request.keep_runs, &run_id).await {
        warn(&events, format!("could not collect the state of old runs of `{stack}`: {e}"));
    }
    if let Err(e) = history::save(seams.cluster.as_ref(), &stack, &last).await {
        events.emit(Event::Warning {
            problem: Problem { step: None, at: None, message: format!("cannot record the run in the swarm: {e}") },
        });
    }
    let executor = Executor { ctx, parallelism: request.parallelism, interrupts };
    let mut report = executor.run(&plan, &request.graph, &plan_dir).await;
    // What a stopped step dropped midway (a gate's probe container) is removed before the run ends.
    crate::services::job::settle(std::time::Duration::from_secs(5)).await;
    fenced.abort();
    // A question answered on the terminal (or left by a step that failed) goes with the run.
    if let Err(e) = crate::approval::withdraw(seams.cluster.as_ref(), &stack, &run_id).await {
        warn(&events, format!("cannot remove this run's question from the swarm: {e}"));
    }
    if let Some(lost) = lost_lock(&lock) {
        report.reason = Some(lost);
    }
    last.run.finished = Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
    last.run.outcome = Some(report.outcome);
    last.run.reason = report.reason.clone();
    let finished = Entry::Finished {
        outcome: report.outcome,
        reason: report.reason.clone(),
        at: last.run.finished.clone().unwrap_or_default(),
    };
    if let Err(e) = state.write(&finished).await {
        warn(&events, format!("cannot record in the swarm how the run ended: {e}"));
    }
    if let Err(e) = history::save(seams.cluster.as_ref(), &stack, &last).await {
        warn(&events, format!("cannot record the run's outcome in the swarm: {e}"));
    }
    // A run stopped halfway, or whose rollback failed, keeps the stack locked until a person
    // looks: its `planrun rollback` takes the lock over.
    let lost_lock = lock.is_lost();
    let lock_error = if matches!(report.outcome, RunOutcome::Stopped | RunOutcome::RollbackFailed) {
        drop(lock);
        None
    } else {
        lock.release().await.err().map(|e| e.to_string())
    };
    let records = memory.records();
    if let Some(log) = &plan.log {
        let path = request.plan_dir.join(&log.value);
        if let Err(e) = append_deployment_log(&path, &plan, &run_id, &report, &records) {
            warn(&events, format!("cannot append to the deployment log {}: {e}", path.display()));
        }
    }
    Ok(Ran { run_id, report, journal: journal_path, records, lock_error, lost_lock })
}

/// Beats the run's lock while it runs; a beat that finds the lock removed or taken over (a
/// person ran `unlock --force`, or another run holds the stack) says so and stops the run at
/// once, as a second interrupt does: the stack is someone else's now, so nothing more is
/// changed, not even undone. The returned task ends that watch.
fn fence(lock: &mut Lock, events: &Events, interrupts: &Interrupts) -> tokio::task::JoinHandle<()> {
    let (said, stack) = (events.clone(), lock.stack.clone());
    let lost = lock.keep(crate::lock::BEAT, move |why| {
        warn(&said, format!("this run lost the deploy lock of `{stack}`: {why}; it stops changing things now"));
    });
    let interrupts = interrupts.clone();
    tokio::spawn(async move {
        lost.cancelled().await;
        interrupts.first.cancel();
        interrupts.second.cancel();
    })
}

/// Why the run stopped, when it lost its lock.
fn lost_lock(lock: &Lock) -> Option<String> {
    let why = lock.lost()?;
    Some(format!("this run lost the deploy lock of `{}`: {why}; it stopped at once and undid nothing", lock.stack))
}

/// Removes the job services and script configs `run` left, saying what it removed.
async fn remove_jobs_left(cluster: Arc<dyn Cluster>, run: &str, events: &Events) {
    let left = match crate::database::service::left_by(cluster.as_ref(), &[run]).await {
        Ok(left) => left,
        Err(e) => return warn(events, format!("cannot look for the jobs run {run} left: {e}")),
    };
    for job in left {
        match job.remove(cluster.clone()).await {
            Ok(()) => warn(events, format!("removed {}, left when that run ended", job.describe())),
            Err(e) => warn(events, format!("cannot remove {}: {e}; `planrun repair` removes it", job.describe())),
        }
    }
}

/// A warning after the run, for the journal and the output.
fn warn(events: &Events, message: String) {
    events.emit(Event::Warning { problem: Problem { step: None, at: None, message } });
}

fn append_deployment_log(
    path: &Path,
    plan: &Plan,
    run_id: &str,
    report: &executor::Report,
    records: &[Record],
) -> std::io::Result<()> {
    let total = records.last().map(|r| r.elapsed_ms).unwrap_or(0);
    let when = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let who = Holder::this_process(run_id).holder;
    let mut line = format!(
        "- {when} {} `{run_id}` by {who}: {} in {}",
        plan.stack.value,
        report.outcome.word(),
        clock::millis(total)
    );
    if let Some(reason) = &report.reason {
        line.push_str(&format!(" ({})", crate::redact::text(reason)));
    }
    crate::private::append(path).and_then(|mut f| writeln!(f, "{line}"))
}

/// What `rollback` needs.
pub struct RollbackRequest {
    /// The stack.
    pub stack: String,
    /// A journal to undo, instead of the stack's newest run with changes left.
    pub journal: Option<PathBuf>,
    /// A run to undo (its id), instead of the stack's newest run with changes left.
    pub run: Option<String>,
    /// Where journals are kept.
    pub state_dir: PathBuf,
}

/// What a rollback did.
#[derive(Debug)]
pub struct RolledBack {
    /// The journal its undos were added to, if this machine has the run's journal.
    pub journal: Option<PathBuf>,
    /// The run it undid.
    pub run_id: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// What is still not undone, newest first.
    pub left: Vec<(String, Undo)>,
    /// Why undoing failed, if it did.
    pub reason: Option<String>,
    /// Whether the rollback lost its lock (removed or taken over) and stopped for it.
    pub lost_lock: bool,
}

/// The run a rollback undoes and what is left of it.
struct Target {
    /// The run.
    run_id: String,
    /// Its journal on this machine, if there is one.
    journal: Option<PathBuf>,
    /// What the swarm keeps of it, if anything (then it says what is pending).
    stored: Option<run_state::StoredRun>,
    /// What is left to undo, newest first.
    pending: Vec<(String, Undo)>,
}

/// A journal whose records rollback undoes (and whose commands it runs) must be this user's
/// alone: one another user could write is refused, naming why.
fn trusted(path: &Path) -> Result<(), (Refusal, String)> {
    match crate::private::not_trusted(path) {
        None => Ok(()),
        Some(why) => Err((
            Refusal::Journal,
            format!(
                "{} is not trusted: {why}; rollback runs what a journal records, so it reads only journals no other \
                 user can write: nothing was changed",
                path.display()
            ),
        )),
    }
}

/// Finds the run `rollback` undoes. The swarm's record of the stack's runs comes first (any
/// machine has it); a journal named with `--journal`, or, for runs the swarm has no record of
/// (made by a planrun before it kept one), the newest local journal with changes left.
async fn rollback_target(request: &RollbackRequest, cluster: &dyn Cluster) -> Result<Target, (Refusal, String)> {
    let runs = run_state::runs(cluster, &request.stack)
        .await
        .map_err(|e| (Refusal::DockerUnavailable, format!("cannot read the stack's runs from the swarm: {e}")))?;
    let journal_of = |run_id: &str| {
        let path = journal::stack_dir(&request.state_dir, &request.stack).join(format!("{run_id}.jsonl"));
        path.is_file().then_some(path)
    };
    if let Some(path) = &request.journal {
        let records =
            journal::read(path).map_err(|e| (Refusal::Journal, format!("cannot read {}: {e}", path.display())))?;
        // Undoing another stack's run under this stack's lock would change what that lock
        // does not guard.
        if let Some(stack) = journal::stack(&records).filter(|stack| *stack != request.stack) {
            return Err((
                Refusal::Usage,
                format!(
                    "{} is a journal of stack `{stack}`, not `{}`: nothing was changed\n\
                     to undo that run, name its stack: planrun rollback {stack} --journal {}",
                    path.display(),
                    request.stack,
                    path.display()
                ),
            ));
        }
        let run_id = journal::run_id(&records).unwrap_or_default();
        let stored = runs.into_iter().find(|r| r.run_id == run_id);
        let pending = match &stored {
            Some(run) => run.pending(),
            None => trusted(path).map(|()| journal::pending_undo(&records))?,
        };
        return Ok(Target { run_id, journal: Some(path.clone()), stored, pending });
    }
    if let Some(run_id) = &request.run {
        if let Some(run) = runs.into_iter().find(|r| r.run_id == *run_id) {
            return Ok(Target {
                run_id: run_id.clone(),
                journal: journal_of(run_id),
                pending: run.pending(),
                stored: Some(run),
            });
        }
        let Some(path) = journal_of(run_id) else {
            return Err((
                Refusal::NothingToDo,
                format!(
                    "nothing to roll back: neither the swarm nor {} keeps run {run_id} of stack `{}`",
                    request.state_dir.display(),
                    request.stack
                ),
            ));
        };
        let records =
            journal::read(&path).map_err(|e| (Refusal::Journal, format!("cannot read {}: {e}", path.display())))?;
        trusted(&path)?;
        let pending = journal::pending_undo(&records);
        return Ok(Target { run_id: run_id.clone(), journal: Some(path), stored: None, pending });
    }
    if runs.is_empty() {
        let found = journal::latest_with_changes(&request.state_dir, &request.stack)
            .map_err(|e| (Refusal::Journal, format!("cannot read the run journals: {e}")))?;
        let Some((path, records)) = found else {
            return Err((
                Refusal::NothingToDo,
                format!(
                    "nothing to roll back: the swarm keeps no run of stack `{}`, and no journal under {} has changes left",
                    request.stack,
                    request.state_dir.display()
                ),
            ));
        };
        trusted(&path)?;
        let run_id = journal::run_id(&records).unwrap_or_default();
        return Ok(Target { run_id, journal: Some(path), stored: None, pending: journal::pending_undo(&records) });
    }
    match runs.into_iter().find(|r| !r.pending().is_empty()) {
        Some(run) => Ok(Target {
            run_id: run.run_id.clone(),
            journal: journal_of(&run.run_id),
            pending: run.pending(),
            stored: Some(run),
        }),
        None => Err((
            Refusal::NothingToDo,
            format!("nothing to roll back: no run of stack `{}` left changes that are not undone", request.stack),
        )),
    }
}

/// Puts back what a journal's records lost to redaction (`crate::redact`): each env value
/// from the service's spec in the swarm whose value the marker stands for.
/// What the swarm no longer holds is an error naming it, before anything is undone.
async fn unredact(pending: &mut [(String, Undo)], cluster: &dyn Cluster) -> Result<(), String> {
    let mut missing = Vec::new();
    for (step, undo) in pending.iter_mut() {
        if let Undo::Run(r) = undo
            && r.command.iter().any(|a| a.contains(crate::redact::OPEN))
        {
            missing.push(format!(
                "step `{step}`: its undo command held a URL's credentials, which a journal keeps only as a hash"
            ));
        }
        for record in undo.services_mut() {
            if !crate::redact::is_redacted(&record.previous_spec)
                && !record.written.as_ref().is_some_and(crate::redact::is_redacted)
            {
                continue;
            }
            let live = cluster.service(&record.service_id).await;
            let live = match live {
                Ok(s) => s,
                Err(_) => cluster.service(&record.service_name).await.map_err(|e| {
                    format!("cannot read service {} to put back its env values: {e}", record.service_name)
                })?,
            };
            // Docker's API answers the spec before the last update too, but bollard's model
            // drops it: the current spec is the source.
            let sources: Vec<&bollard::models::ServiceSpec> = live.spec.iter().collect();
            let mut lost = crate::redact::restore_env(&mut record.previous_spec, &sources);
            if let Some(w) = record.written.as_mut() {
                lost.extend(crate::redact::restore_env(w, &sources));
            }
            let mut keys: Vec<String> = lost.into_iter().map(|u| u.key).collect();
            keys.dedup();
            if !keys.is_empty() {
                missing.push(format!(
                    "service {}: the swarm no longer holds the value of {} (a journal keeps env values only as hashes)",
                    record.service_name,
                    keys.join(", ")
                ));
            }
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(missing.join("; ")) }
}

/// When there is nothing to roll back: the lock a run that died before it changed anything
/// left (its process gone from this machine, or its lease expired), released as a rollback of
/// that run would have taken it over; says so. A lock a live run holds is left alone.
async fn release_left_lock(cluster: Arc<dyn Cluster>, stack: &str) -> Option<String> {
    let (_, held) = crate::lock::current(cluster.as_ref(), stack).await.ok()??;
    let run_id = held.run_id;
    let holder = Holder { undoing: Some(run_id.clone()), ..Holder::this_process(&new_run_id()) };
    let lock = Lock::acquire_or_take_over(cluster.clone(), stack, holder, &run_id).await.ok()?;
    // Its question too, if it died waiting for a person.
    let _ = crate::approval::withdraw(cluster.as_ref(), stack, &run_id).await;
    // And its one-off jobs (a gate's probe, say).
    let mut removed = Vec::new();
    for job in crate::database::service::left_by(cluster.as_ref(), &[&run_id]).await.unwrap_or_default() {
        if job.remove(cluster.clone()).await.is_ok() {
            removed.push(job.describe());
        }
    }
    lock.release().await.ok()?;
    let jobs = if removed.is_empty() { String::new() } else { format!(", and removed its {}", removed.join(", ")) };
    Some(format!("released the deploy lock run {run_id} left (its process no longer runs){jobs}"))
}

/// Undoes what a run left changed, newest first, recording each undo in the swarm and in the
/// run's journal when this machine has it.
pub async fn rollback(
    request: RollbackRequest,
    seams: Seams,
    output: Events,
    interrupts: Interrupts,
) -> Result<RolledBack, Refused> {
    let refuse = |(refusal, message): (Refusal, String)| Refused::emit(refusal, message, Vec::new(), &output);
    let first = match rollback_target(&request, seams.cluster.as_ref()).await {
        Ok(first) if first.pending.is_empty() => {
            let message = format!("nothing to roll back: every change run {} recorded is already undone", first.run_id);
            Err((Refusal::NothingToDo, message))
        }
        other => other,
    };
    let first = match first {
        Ok(first) => first,
        Err((Refusal::NothingToDo, mut message)) => {
            if let Some(released) = release_left_lock(seams.cluster.clone(), &request.stack).await {
                message.push_str(&format!("; {released}"));
            }
            return Err(refuse((Refusal::NothingToDo, message)));
        }
        Err(other) => return Err(refuse(other)),
    };
    let undone_run = first.run_id.clone();
    let run_id = new_run_id();
    let holder = Holder { undoing: Some(undone_run.clone()), ..Holder::this_process(&run_id) };
    let mut lock = match Lock::acquire_or_take_over(seams.cluster.clone(), &request.stack, holder, &undone_run).await {
        Ok(lock) => lock,
        Err(e @ LockError::Held { .. }) => return Err(refuse((Refusal::Locked, e.to_string()))),
        Err(e) => return Err(refuse((Refusal::DockerUnavailable, e.to_string()))),
    };
    // What is left to undo, read again under the lock: a rollback that ran meanwhile (it held
    // the lock then) has recorded its undos.
    let target = match rollback_target(&request, seams.cluster.as_ref()).await {
        Ok(target) if target.run_id == undone_run && !target.pending.is_empty() => target,
        Ok(_) => {
            let _ = lock.release().await;
            let message = format!("nothing to roll back: another rollback undid run {undone_run} meanwhile");
            return Err(refuse((Refusal::NothingToDo, message)));
        }
        Err(e) => {
            let _ = lock.release().await;
            return Err(refuse(e));
        }
    };
    let mut target = target;
    if target.stored.is_none()
        && let Err(why) = unredact(&mut target.pending, seams.cluster.as_ref()).await
    {
        let _ = lock.release().await;
        let journal = target.journal.as_deref().unwrap_or(Path::new("the journal")).display().to_string();
        return Err(refuse((Refusal::Journal, format!("{journal}: {why}: nothing was changed"))));
    }
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let unjournalled = match target.journal.as_deref().map(Journal::append) {
        Some(Ok(journal)) => {
            sinks.push(Box::new(journal.warning_to(output.clone())));
            None
        }
        Some(Err(e)) => Some(format!(
            "cannot append to {}: {e}; this rollback is recorded in the swarm only",
            target.journal.as_deref().unwrap_or(Path::new("")).display()
        )),
        None => None,
    };
    sinks.push(Box::new(output));
    let events = Events::new(sinks);
    if let Some(message) = unjournalled {
        warn(&events, message);
    }
    // Undos are recorded with the run they undo, so any machine sees what is left of it.
    let state = target
        .stored
        .as_ref()
        .map(|stored| Arc::new(RunState::new(seams.cluster.clone(), &request.stack, &undone_run, stored.next_seq)));
    let ctx = seams.context(events.clone(), &request.stack, &run_id, state.clone());
    let pending = target.pending;
    for (step, undo) in pending.iter().rev() {
        ctx.recorded.push(step, undo.clone());
    }
    events.emit(Event::RollbackStarted {
        reason: format!("planrun rollback of run {undone_run}"),
        undoing: Some(undone_run.clone()),
    });
    // A run killed while it waited for a person leaves its question: nobody is asked now.
    if let Err(e) = crate::approval::withdraw(seams.cluster.as_ref(), &request.stack, &undone_run).await {
        warn(&events, format!("cannot remove the question run {undone_run} left in the swarm: {e}"));
    }
    // Its one-off jobs (a dump, a SQL script, a gate's probe) die with it: no process of it is
    // left to end them (the lock is ours), and a SQL job ended here ends its transaction.
    remove_jobs_left(seams.cluster.clone(), &undone_run, &events).await;
    let fenced = fence(&mut lock, &events, &interrupts);
    let executor = Executor { ctx, parallelism: 1, interrupts };
    let undone = executor.undo_all(pending).await;
    // What the undo started and kept (the helper that loads a Caddy router's old config) is
    // removed before the rollback ends.
    crate::services::job::settle(std::time::Duration::from_secs(5)).await;
    fenced.abort();
    let (outcome, reason) = if let Some(lost) = lost_lock(&lock) {
        (RunOutcome::Stopped, Some(lost))
    } else if undone.stopped {
        (RunOutcome::Stopped, Some("rollback stopped by a second interrupt".to_string()))
    } else if !undone.failed.is_empty() {
        let failed: Vec<String> = undone.failed.iter().map(|(s, e)| format!("undo of `{s}`: {e}")).collect();
        (RunOutcome::RollbackFailed, Some(failed.join("; ")))
    } else {
        (RunOutcome::RolledBack, None)
    };
    events.emit(Event::RunFinished { outcome, reason: reason.clone() });
    let finished = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let by_rollback = format!(
        "undone by planrun rollback (run {run_id}){}",
        reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    );
    if let Some(state) = &state {
        let entry = Entry::Finished { outcome, reason: Some(by_rollback.clone()), at: finished.clone() };
        if let Err(e) = state.write(&entry).await {
            warn(&events, format!("cannot record in the swarm how the rollback ended: {e}"));
        }
    }
    if let Ok(Some(mut last)) = history::load(seams.cluster.as_ref(), &request.stack).await
        && last.run.run_id == undone_run
    {
        last.run.finished = Some(finished);
        last.run.outcome = Some(outcome);
        last.run.reason = Some(by_rollback);
        let _ = history::save(seams.cluster.as_ref(), &request.stack, &last).await;
    }
    let lost_lock = lock.is_lost();
    if matches!(outcome, RunOutcome::Stopped | RunOutcome::RollbackFailed) {
        drop(lock);
    } else if let Err(e) = lock.release().await {
        warn(&events, format!("could not release the deploy lock: {e}"));
    }
    Ok(RolledBack { journal: target.journal, run_id: undone_run, outcome, left: undone.left, reason, lost_lock })
}
