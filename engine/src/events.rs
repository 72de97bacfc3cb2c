//! Everything that happens during a run, as events: written to the journal (JSON lines),
//! printed with `--output json`, and rendered for people by `cli::progress`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::services::failure_report::FailureReport;
use crate::undo::Undo;

/// One thing that happened, with when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Wall-clock time, RFC 3339.
    pub at: String,
    /// Milliseconds since the run started (tokio's clock, so virtual in simulations).
    pub elapsed_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// It did its work and every gate it judges passed.
    Succeeded,
    /// It failed (the reason says why).
    Failed,
    /// It was stopped: Ctrl-C, SIGTERM, or another step failed.
    Cancelled,
}

/// How undoing a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UndoOutcome {
    /// The step's change is undone and the old state verified.
    Succeeded,
    /// Undoing failed: the step's change may still be live.
    Failed,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// Every step finished and every gate passed.
    Succeeded,
    /// A step failed (or the run was interrupted) and every change was undone.
    RolledBack,
    /// A step failed and undoing failed too: the cluster needs a person.
    RollbackFailed,
    /// A step failed and the plan says pause: nothing was undone.
    Paused,
    /// Stopped at once by a second interrupt: changes may be left as they were.
    Stopped,
}

impl RunOutcome {
    /// The word used in events and summaries.
    pub fn word(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::RolledBack => "rolled-back",
            RunOutcome::RollbackFailed => "rollback-failed",
            RunOutcome::Paused => "paused",
            RunOutcome::Stopped => "stopped",
        }
    }
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepOutcome::Succeeded => "succeeded",
            StepOutcome::Failed => "failed",
            StepOutcome::Cancelled => "cancelled",
        })
    }
}

impl fmt::Display for UndoOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UndoOutcome::Succeeded => "succeeded",
            UndoOutcome::Failed => "failed",
        })
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Something that stops a run before it changes anything, or a warning about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The step it is about, if any.
    pub step: Option<String>,
    /// Where in the plan, as `FILE:LINE`, if known.
    pub at: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.at, &self.step) {
            (Some(at), Some(step)) => write!(f, "{at}: step `{step}`: {}", self.message),
            (Some(at), None) => write!(f, "{at}: {}", self.message),
            (None, Some(step)) => write!(f, "step `{step}`: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// Why a run was refused before it changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    /// The plan has errors.
    InvalidPlan,
    /// No Docker daemon answers, or it is not a swarm manager.
    DockerUnavailable,
    /// Another run holds the stack's deploy lock.
    Locked,
    /// The journal cannot be written.
    Journal,
    /// Preflight found problems on the swarm or this machine.
    Preflight,
    /// Nothing to do (rollback with nothing recorded).
    NothingToDo,
    /// Bad command-line input.
    Usage,
    /// A saved plan no longer matches the swarm: it moved on since the plan was reviewed.
    StalePlan,
}

/// How a gate that compares with a baseline (`gates::compare`) judged the two series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `mann-whitney` (enough samples on each side) or `medians`.
    pub method: String,
    /// The new release's values, in the order measured.
    pub new: Vec<f64>,
    /// The baseline's values, each measured with the new value at the same place.
    pub baseline: Vec<f64>,
    /// The median of `new`.
    pub new_median: Option<f64>,
    /// The median of `baseline`.
    pub baseline_median: Option<f64>,
    /// How much worse the new release may be (`10%`).
    pub margin: String,
    /// Which way is better: `lower` or `higher`.
    pub better: String,
    /// Mann-Whitney U of the new series against the baseline moved by the margin.
    pub u: Option<f64>,
    /// The test's one-sided p-value: how likely a U this far towards worse is by chance.
    pub p_value: Option<f64>,
    /// `worse`, `no-worse`, or `error` (nothing to compare).
    pub verdict: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A run began.
    RunStarted {
        /// Unique id of this run.
        run_id: String,
        /// The plan's name.
        plan: String,
        /// The stack.
        stack: String,
        /// The plan file.
        file: String,
        /// Rollback or pause.
        on_failure: String,
    },
    /// The run was refused before it changed anything.
    RunRefused {
        /// Why, as a word.
        refusal: Refusal,
        /// What to do about it.
        message: String,
        /// Every problem found, when there are several.
        problems: Vec<Problem>,
    },
    /// Something worth knowing that does not stop the run.
    Warning {
        /// What, and what to do.
        problem: Problem,
    },
    /// A step began.
    StepStarted {
        /// Step name.
        step: String,
        /// Step kind keyword.
        kind: String,
    },
    /// A step recorded what it needs to be undone, before changing anything.
    StepRecorded {
        /// Step name.
        step: String,
        /// The record (a rolling step keeps the service's full previous spec).
        undo: Undo,
    },
    /// A step made progress.
    StepProgress {
        /// Step name.
        step: String,
        /// What is happening.
        message: String,
        /// Tasks on the new spec and running, out of the desired count.
        updated: Option<(u64, u64)>,
        /// How long the step now waits (a timed pause), so a live view can count down.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_ms: Option<u64>,
    },
    /// A backup step wrote a dump (and read it back in full, when `verified`).
    BackupTaken {
        /// Step name.
        step: String,
        /// The database (`Target::describe`, never a password).
        database: String,
        /// How to reach it again (`planrun restore`).
        target: crate::database::Target,
        /// The dump on the machine that ran planrun.
        path: String,
        /// Its size.
        bytes: u64,
        /// Its SHA-256, hex (`planrun restore` checks it).
        sha256: String,
        /// Whether it was read back in full.
        verified: bool,
    },
    /// One gate measurement.
    Measurement {
        /// Step that asked.
        step: String,
        /// Gate name.
        gate: String,
        /// Measurement number, from 1.
        number: u64,
        /// What was measured: the resolved query, URL, service or command.
        target: String,
        /// The measured value, if any.
        value: Option<String>,
        /// The condition it was judged against.
        condition: String,
        /// pass, fail, inconclusive or error.
        verdict: String,
        /// Why, for errors and failures.
        detail: Option<String>,
        /// Milliseconds the measurement took (absent in journals written before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        took_ms: Option<u64>,
        /// How many measurements the gate plans (it may stop sooner, once its verdict is certain).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        of: Option<u64>,
        /// Milliseconds until the next measurement; absent after the last.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_in_ms: Option<u64>,
    },
    /// A gate reached its verdict.
    GateFinished {
        /// Step that asked.
        step: String,
        /// Gate name.
        gate: String,
        /// passed, failed, inconclusive or error.
        verdict: String,
        /// Counts and reason.
        summary: String,
        /// For a gate that compares with a baseline: both series and how they compared.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comparison: Option<Box<Comparison>>,
    },
    /// A step waits for a person.
    AwaitingApproval {
        /// Step name.
        step: String,
        /// What is asked.
        question: String,
        /// How to answer from another shell or machine.
        how: String,
    },
    /// A person answered.
    Answered {
        /// Step name.
        step: String,
        /// Whether to go on.
        approved: bool,
        /// Who answered, and from where.
        by: String,
    },
    /// A step finished.
    StepFinished {
        /// Step name.
        step: String,
        /// How it ended.
        outcome: StepOutcome,
        /// Why it failed or was cancelled.
        reason: Option<String>,
        /// When a release's tasks failed: what the swarm says of them (their errors, killed
        /// for memory or not and the limit, the health check's last output, their last log
        /// lines), redacted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report: Option<Box<FailureReport>>,
        /// Milliseconds it took.
        took_ms: u64,
    },
    /// Ctrl-C or SIGTERM arrived.
    Interrupted {
        /// Whether it is the second one (stop at once, undo nothing more).
        second: bool,
    },
    /// Rollback began.
    RollbackStarted {
        /// Why.
        reason: String,
        /// The run being undone, when it is another one (`planrun rollback`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undoing: Option<String>,
    },
    /// A step's undo finished.
    StepUndone {
        /// Step name.
        step: String,
        /// How it ended.
        outcome: UndoOutcome,
        /// Why it failed.
        reason: Option<String>,
        /// Milliseconds it took.
        took_ms: u64,
    },
    /// The run ended.
    RunFinished {
        /// How.
        outcome: RunOutcome,
        /// Why, when not succeeded.
        reason: Option<String>,
    },
}

impl Event {
    /// This event as planrun may write it anywhere (`crate::redact`): env values in undo
    /// records, URL credentials and queries in every text, a database URL's password.
    pub fn redacted(mut self) -> Event {
        use crate::redact::{scrub, scrub_opt};
        match &mut self {
            Event::StepRecorded { undo, .. } => undo.redact(),
            Event::RunRefused { message, problems, .. } => {
                scrub(message);
                for p in problems {
                    scrub(&mut p.message);
                }
            }
            Event::Warning { problem } => scrub(&mut problem.message),
            Event::StepProgress { message, .. } => scrub(message),
            Event::BackupTaken { target, .. } => target.redact(),
            Event::Measurement { target, value, detail, .. } => {
                scrub(target);
                scrub_opt(value);
                scrub_opt(detail);
            }
            Event::GateFinished { summary, .. } => scrub(summary),
            Event::AwaitingApproval { question, .. } => scrub(question),
            Event::StepFinished { reason, report, .. } => {
                scrub_opt(reason);
                if let Some(report) = report {
                    report.scrub();
                }
            }
            Event::StepUndone { reason, .. } | Event::RunFinished { reason, .. } => scrub_opt(reason),
            Event::RollbackStarted { reason, .. } => scrub(reason),
            Event::RunStarted { .. }
            | Event::StepStarted { .. }
            | Event::Answered { .. }
            | Event::Interrupted { .. } => {}
        }
        self
    }

    /// The step this event is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepStarted { step, .. }
            | Event::StepRecorded { step, .. }
            | Event::StepProgress { step, .. }
            | Event::BackupTaken { step, .. }
            | Event::Measurement { step, .. }
            | Event::GateFinished { step, .. }
            | Event::AwaitingApproval { step, .. }
            | Event::Answered { step, .. }
            | Event::StepFinished { step, .. }
            | Event::StepUndone { step, .. } => Some(step),
            Event::RunStarted { .. }
            | Event::RunRefused { .. }
            | Event::Warning { .. }
            | Event::Interrupted { .. }
            | Event::RollbackStarted { .. }
            | Event::RunFinished { .. } => None,
        }
    }
}

/// Where events go: the journal, the terminal, or both. Must be quick: it is called inline.
pub trait Sink: Send + Sync {
    /// Receives one record.
    fn record(&self, record: &Record);

    /// Receives one record to own: the last sink of [`Events`] gets each record this way, so a
    /// sink that keeps records ([`Memory`]) takes it without a copy.
    fn keep(&self, record: Record) {
        self.record(&record);
    }
}

/// Stamps events with the time and hands them to every sink.
#[derive(Clone)]
pub struct Events {
    sinks: std::sync::Arc<Vec<Box<dyn Sink>>>,
    started: tokio::time::Instant,
}

impl Events {
    /// Events going to `sinks`; elapsed time counts from now.
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        Events { sinks: std::sync::Arc::new(sinks), started: tokio::time::Instant::now() }
    }

    /// Records an event.
    pub fn emit(&self, event: Event) {
        let record = Record {
            at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            // Redacted once here, so no sink (journal, stdout, a notification) can forget.
            event: event.redacted(),
        };
        self.hand_over(record);
    }

    /// Hands an already stamped record to every sink.
    pub fn forward(&self, record: &Record) {
        for sink in self.sinks.iter() {
            sink.record(record);
        }
    }

    /// Hands a record to every sink, the last one taking it (see [`Sink::keep`]).
    fn hand_over(&self, record: Record) {
        let Some((last, others)) = self.sinks.split_last() else { return };
        for sink in others {
            sink.record(&record);
        }
        last.keep(record);
    }
}

/// Events inside other events: a run's events carry the command line's output sinks this way.
impl Sink for Events {
    fn record(&self, record: &Record) {
        self.forward(record);
    }

    fn keep(&self, record: Record) {
        self.hand_over(record);
    }
}

/// A sink that keeps every record in memory (tests, summaries, `planrun plan`'s simulations).
///
/// Records are kept in chunks of a fixed size: keeping hundreds of thousands of them (a
/// simulated plan of 1,000 canaries keeps 158,000) never copies those kept before into a larger
/// buffer of fresh pages, as a growing `Vec` does (an eighth of that plan's time went to the
/// kernel zeroing those pages: docs/benchmarks.md).
#[derive(Default)]
pub struct Memory(std::sync::Mutex<Vec<Vec<Record>>>);

/// Records per chunk of a [`Memory`].
const CHUNK: usize = 4096;

impl Memory {
    /// Every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.0.lock().expect("memory sink poisoned").iter().flatten().cloned().collect()
    }

    /// Every record so far, taken out: the memory is left empty.
    pub fn take(&self) -> Vec<Record> {
        let chunks = std::mem::take(&mut *self.0.lock().expect("memory sink poisoned"));
        let mut all = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            all.extend(chunk);
        }
        all
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("memory sink poisoned").iter().flatten().map(|r| r.event.clone()).collect()
    }
}

impl Sink for Memory {
    fn record(&self, record: &Record) {
        self.keep(record.clone());
    }

    fn keep(&self, record: Record) {
        let mut chunks = self.0.lock().expect("memory sink poisoned");
        match chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(record);
                chunks.push(chunk);
            }
        }
    }
}

impl<S: Sink + ?Sized> Sink for std::sync::Arc<S> {
    fn record(&self, record: &Record) {
        self.as_ref().record(record)
    }

    fn keep(&self, record: Record) {
        self.as_ref().keep(record)
    }
}
