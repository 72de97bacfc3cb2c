//! Run output for people and machines: a live view on a terminal, plain timestamped lines
//! otherwise, or one JSON event per line.

use std::io::Write;
use std::sync::Mutex;

use crate::events::{Event, Record, Sink};

/// One JSON record per line on stdout.
pub struct JsonLines;

impl Sink for JsonLines {
    fn record(&self, record: &Record) {
        if let Ok(line) = serde_json::to_string(record) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// Human-readable lines on stderr. `live` rewrites a step's progress line in place (terminals).
pub struct Lines {
    live: bool,
    last_progress: Mutex<Option<String>>,
}

impl Lines {
    /// Plain timestamped lines (logs, CI).
    pub fn plain() -> Self {
        Lines { live: false, last_progress: Mutex::new(None) }
    }

    /// A live view for a terminal.
    pub fn live() -> Self {
        Lines { live: true, last_progress: Mutex::new(None) }
    }
}

/// How one event reads, or `None` for events not worth a line.
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::RunStarted { run_id, plan, stack, file, on_failure } => {
            format!("run {run_id}: plan `{plan}` ({file}) on stack `{stack}`, on failure: {on_failure}")
        }
        Event::StepStarted { step, kind } => format!("{step}: {kind} started"),
        Event::StepRecorded { step, .. } => format!("{step}: recorded the current state for rollback"),
        Event::StepProgress { step, message, updated } => match updated {
            Some((done, of)) => format!("{step}: {done}/{of} tasks updated - {message}"),
            None => format!("{step}: {message}"),
        },
        Event::Measurement { step, gate, number, target, value, condition, verdict, detail } => {
            let value = value.as_deref().unwrap_or("no value");
            let detail = detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            format!("{step}: gate {gate} #{number}: {target} = {value}; {condition} -> {verdict}{detail}")
        }
        Event::GateFinished { step, gate, verdict, summary } => format!("{step}: gate {gate} {verdict}: {summary}"),
        Event::StepFinished { step, outcome, reason, took_ms } => {
            let reason = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("{step}: {outcome} in {}{reason}", seconds(*took_ms))
        }
        Event::RollbackStarted { reason } => format!("rolling back: {reason}"),
        Event::StepUndone { step, outcome, reason, took_ms } => {
            let reason = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("{step}: undo {outcome} in {}{reason}", seconds(*took_ms))
        }
        Event::RunFinished { outcome, reason } => match reason {
            Some(r) => format!("run {outcome}: {r}"),
            None => format!("run {outcome}"),
        },
    })
}

/// Milliseconds as `12.3s`.
pub fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

impl Sink for Lines {
    fn record(&self, record: &Record) {
        let Some(text) = describe(&record.event) else { return };
        let mut err = std::io::stderr().lock();
        if !self.live {
            let time = record.at.get(11..19).unwrap_or(&record.at);
            let _ = writeln!(err, "{time} +{:>7} {text}", seconds(record.elapsed_ms));
            return;
        }
        let mut last = self.last_progress.lock().expect("progress lock poisoned");
        let is_progress = matches!(record.event, Event::StepProgress { .. });
        let step = record.event.step().map(str::to_owned);
        // Consecutive progress lines of one step overwrite each other; anything else starts a new line.
        if last.is_some() {
            if is_progress && *last == step {
                let _ = write!(err, "\r\x1b[K");
            } else {
                let _ = writeln!(err);
            }
        }
        let _ = write!(err, "[{:>6}] {text}", seconds(record.elapsed_ms));
        if is_progress {
            *last = step;
        } else {
            let _ = writeln!(err);
            *last = None;
        }
        let _ = err.flush();
    }
}
