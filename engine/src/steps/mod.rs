//! Steps at run time: one file per kind, each implementing [`Behavior`].
//!
//! Adding a step kind: add its variant to `plans::steps::StepKind` (the compiler then points
//! at every match over kinds in both crates), implement [`Behavior`] for its model in a file
//! here named as users write the kind (the compiler lists every method it must have), add it
//! to [`behavior`], and, if it changes anything, an [`Undo`] variant (the compiler then asks
//! for its arm in [`undo`]).
//!
//! Every kind that changes something records how to undo it (`StepContext::record`) before
//! it changes anything; `undo` works from that record alone, so `planrun rollback` can undo a
//! run from its journal without the plan.

pub mod backup;
pub mod batches;
pub mod blue_green;
pub mod canary;
pub mod check;
pub mod compose;
pub mod migrate;
pub mod pause;
pub mod refusal;
pub mod rolling;
pub mod run;
pub mod switch;

use std::fmt;

use async_trait::async_trait;
use plans::steps::StepKind;

use crate::approval::AskError;
use crate::cluster::{Cluster, ClusterError};
use crate::commands::CommandError;
use crate::context::{RunContext, StepContext};
use crate::database::DbError;
use crate::events::{StepOutcome, UndoOutcome};
use crate::gates::GateReport;
use crate::services::ServiceError;
use crate::services::failure::Failure;
use crate::services::failure_report::{self, FailureReport};
use crate::services::job::JobError;
use crate::services::watch::Watch;
use crate::undo::Undo;
pub use migrate::Irreversible;
pub use refusal::{Refusal, SwarmObject};

/// What preflight found about one step, before anything changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Problems that stop the run.
    pub problems: Vec<String>,
    /// Things worth knowing that do not stop it.
    pub warnings: Vec<String>,
}

/// What `planrun plan` reads of the live swarm for a step, besides the services it names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveFacts {
    /// Networks the step names (an alias switch's network).
    pub networks: Vec<String>,
    /// A blue-green step's live colour, or why it cannot be told.
    pub colour: Option<Result<String, switch::ColourError>>,
    /// Canaries of the step's service still on the swarm: (canary service, stable service, stage).
    pub canaries: Vec<(String, String, Option<String>)>,
    /// Whether the step makes the stack's configs and secrets (a compose step): every one the
    /// stack has is then read.
    pub stack_objects: bool,
}

/// What a step kind does at run time, and what `planrun plan` says of it: one implementation
/// per kind, in `steps/<kind>.rs`. No method has a default, so a new kind that forgets one does
/// not compile.
#[async_trait]
pub trait Behavior: Sync {
    /// Checks the live state before the run changes anything: what the step needs exists and
    /// is in a state it can start from. Reads only.
    async fn preflight(&self, ctx: &StepContext) -> Findings;
    /// Runs the step, judging its own gates where its work calls for them, and records how to
    /// undo it before changing anything.
    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError>;
    /// What the step does besides changing services (the simulation shows those), one line
    /// each, for `planrun plan`.
    fn preview(&self) -> Vec<String>;
    /// What `planrun plan` reads of the live swarm for this step. Reads only.
    async fn live(&self, cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError>;
    /// Why `planrun plan --fail STEP` cannot make this step fail, if it cannot.
    fn drill(&self) -> Result<(), &'static str>;
    /// After a drilled run, what the step changed besides services (a database) and its
    /// state: given how the step finished and how its undo ended, if they did.
    fn drilled(&self, finished: Option<StepOutcome>, undone: Option<UndoOutcome>) -> Option<(String, String)>;
}

/// The behaviour of a step kind.
pub fn behavior(kind: &StepKind) -> &dyn Behavior {
    match kind {
        StepKind::Rolling(k) => k,
        StepKind::Canary(k) => k,
        StepKind::BlueGreen(k) => k,
        StepKind::Backup(k) => k,
        StepKind::Migrate(k) => k,
        StepKind::Check(k) => k,
        StepKind::Run(k) => k,
        StepKind::Pause(k) => k,
        StepKind::Compose(k) => k,
    }
}

/// Undoes a step from the record it made before changing anything.
pub async fn undo(step: &str, record: &Undo, ctx: &RunContext) -> Result<(), StepError> {
    match record {
        Undo::Rolling(r) => rolling::undo(step, r, ctx).await,
        Undo::Run(r) => run::undo(r, ctx).await,
        Undo::Canary(r) => canary::undo(step, r, ctx).await,
        Undo::BlueGreen(r) => blue_green::undo(step, r, ctx).await,
        Undo::Migrate(r) => migrate::undo(step, r, ctx).await,
        Undo::Compose(r) => compose::undo(step, r, ctx).await,
    }
}

/// Why a step failed, in words that name the cause (the tasks' own errors, the gate).
#[derive(Debug, Clone, PartialEq)]
pub enum StepError {
    /// Reading or changing a service failed.
    Service(ServiceError),
    /// The service did not converge, or its new tasks failed; with what the swarm says of
    /// those tasks, when it was asked ([`reported`]).
    Converge(Failure, Option<Box<FailureReport>>),
    /// Gates did not pass.
    Gates(Vec<GateReport>),
    /// A command could not run or ran too long.
    Command(CommandError),
    /// A command exited with a failure.
    CommandFailed {
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines it wrote.
        output: String,
    },
    /// A one-off job failed.
    Job(JobError),
    /// A person said no.
    NotApproved {
        /// Who.
        by: String,
    },
    /// Nobody could be asked, or nobody answered in time.
    CannotAsk(AskError),
    /// A database could not be reached, or its tools failed.
    Database(DbError),
    /// The server refused a statement of a migration.
    Sql {
        /// `migrations/expand.sql:12:5`.
        at: String,
        /// SQLSTATE.
        sqlstate: String,
        /// The server's message.
        message: String,
        /// The statement's line with a caret under the position.
        excerpt: String,
    },
    /// A step refused to start: what is wrong and what to do.
    Refused(Refusal),
    /// The change would take from running services what the plan does not allow.
    Removes {
        /// The step.
        step: String,
        /// What it would take.
        removals: Vec<crate::services::removal::Removal>,
    },
    /// An undo that cannot be done (a migration without `down`): the rollback stops here and
    /// leaves this step and every older one as they are, for a person.
    Irreversible(Irreversible),
    /// The swarm could not keep the step's undo record, so the step changed nothing.
    NotRecorded(crate::run_state::StateError),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Service(e) => e.fmt(f),
            // The report is shown on its own (the summary, the event's `report`), not in the reason.
            StepError::Converge(e, _) => e.fmt(f),
            StepError::Gates(reports) => {
                let bad: Vec<String> = reports
                    .iter()
                    .map(|r| format!("gate `{}` {}: {}", r.gate, verdict_words(r.verdict), r.summary))
                    .collect();
                f.write_str(&bad.join("; "))
            }
            StepError::Command(e) => e.fmt(f),
            StepError::CommandFailed { command, status, output } => {
                write!(f, "`{command}` exited with {status}: {}", output.replace('\n', " / "))
            }
            StepError::Job(e) => e.fmt(f),
            StepError::NotApproved { by } => write!(f, "not approved ({by} said no)"),
            StepError::CannotAsk(why) => write!(f, "cannot ask for approval: {why}"),
            StepError::Database(e) => e.fmt(f),
            StepError::Sql { at, sqlstate, message, excerpt } => {
                write!(f, "{at}: ERROR {sqlstate}: {message}")?;
                if !excerpt.is_empty() {
                    write!(f, "\n{excerpt}")?;
                }
                Ok(())
            }
            StepError::Refused(why) => why.fmt(f),
            StepError::Irreversible(why) => why.fmt(f),
            StepError::NotRecorded(why) => {
                write!(f, "cannot record how to undo this step in the swarm ({why}): nothing was changed")
            }
            StepError::Removes { step, removals } => f.write_str(&crate::services::removal::refusal(removals, step)),
        }
    }
}

impl StepError {
    /// What the swarm said of the failed tasks, if this is a release whose tasks failed and it
    /// was asked.
    pub fn report(&self) -> Option<&FailureReport> {
        match self {
            StepError::Converge(_, report) => report.as_deref(),
            _ => None,
        }
    }
}

/// `result`, with a failure report of the tasks `watches` follow added when the release's tasks
/// failed or did not come up (`services::failure_report`; it takes at most a few seconds).
pub async fn reported<T>(
    cluster: &dyn Cluster,
    watches: &[&Watch],
    result: Result<T, StepError>,
) -> Result<T, StepError> {
    match result {
        Err(StepError::Converge(failure, None)) if failure.is_of_tasks() => {
            let report = failure_report::gather(cluster, watches).await.map(Box::new);
            Err(StepError::Converge(failure, report))
        }
        other => other,
    }
}

fn verdict_words(v: crate::gates::Verdict) -> &'static str {
    use crate::gates::Verdict;
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Inconclusive => "was inconclusive",
        Verdict::Error => "errored",
    }
}

impl std::error::Error for StepError {}

impl From<ServiceError> for StepError {
    fn from(e: ServiceError) -> Self {
        StepError::Service(e)
    }
}

impl From<Failure> for StepError {
    fn from(e: Failure) -> Self {
        StepError::Converge(e, None)
    }
}

impl From<CommandError> for StepError {
    fn from(e: CommandError) -> Self {
        StepError::Command(e)
    }
}

impl From<DbError> for StepError {
    fn from(e: DbError) -> Self {
        StepError::Database(e)
    }
}

impl From<Refusal> for StepError {
    fn from(e: Refusal) -> Self {
        StepError::Refused(e)
    }
}

impl From<AskError> for StepError {
    fn from(e: AskError) -> Self {
        StepError::CannotAsk(e)
    }
}

impl From<crate::run_state::StateError> for StepError {
    fn from(e: crate::run_state::StateError) -> Self {
        StepError::NotRecorded(e)
    }
}

impl From<JobError> for StepError {
    fn from(e: JobError) -> Self {
        StepError::Job(e)
    }
}
