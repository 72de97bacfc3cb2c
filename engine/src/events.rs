//! Everything that happens during a run, as events: written to the journal (JSON lines),
//! printed with `--output json`, and rendered for people by `cli::progress`.

use serde::{Deserialize, Serialize};

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
        /// Kind-specific undo data (a rolling step keeps the service's full previous spec).
        undo: serde_json::Value,
    },
    /// A step made progress.
    StepProgress {
        /// Step name.
        step: String,
        /// What is happening.
        message: String,
        /// Tasks on the new spec and running, out of the desired count.
        updated: Option<(u64, u64)>,
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
    },
    /// A step finished.
    StepFinished {
        /// Step name.
        step: String,
        /// succeeded, failed or cancelled.
        outcome: String,
        /// Why it failed.
        reason: Option<String>,
        /// Milliseconds it took.
        took_ms: u64,
    },
    /// Rollback began.
    RollbackStarted {
        /// Why.
        reason: String,
    },
    /// A step's undo finished.
    StepUndone {
        /// Step name.
        step: String,
        /// succeeded or failed.
        outcome: String,
        /// Why it failed.
        reason: Option<String>,
        /// Milliseconds it took.
        took_ms: u64,
    },
    /// The run ended.
    RunFinished {
        /// succeeded, rolled-back, rollback-failed, paused or cancelled.
        outcome: String,
        /// Why, when not succeeded.
        reason: Option<String>,
    },
}

impl Event {
    /// The step this event is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepStarted { step, .. }
            | Event::StepRecorded { step, .. }
            | Event::StepProgress { step, .. }
            | Event::Measurement { step, .. }
            | Event::GateFinished { step, .. }
            | Event::StepFinished { step, .. }
            | Event::StepUndone { step, .. } => Some(step),
            Event::RunStarted { .. } | Event::RollbackStarted { .. } | Event::RunFinished { .. } => None,
        }
    }
}

/// Where events go: the journal, the terminal, or both. Must be quick: it is called inline.
pub trait Sink: Send + Sync {
    /// Receives one record.
    fn record(&self, record: &Record);
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
            event,
        };
        for sink in self.sinks.iter() {
            sink.record(&record);
        }
    }
}

/// A sink that keeps every record in memory (tests, summaries).
#[derive(Default)]
pub struct Memory(pub std::sync::Mutex<Vec<Record>>);

impl Sink for Memory {
    fn record(&self, record: &Record) {
        self.0.lock().expect("memory sink poisoned").push(record.clone());
    }
}

impl Sink for std::sync::Arc<Memory> {
    fn record(&self, record: &Record) {
        self.as_ref().record(record)
    }
}
