//! Run output for people and machines: how each event reads, plain timestamped lines (off a
//! terminal), or one JSON event per line. The live view on a terminal is `live.rs`.

use std::io::Write;

use crate::clock;
use crate::events::{Event, Record, Refusal, Sink};

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

/// Timestamped lines on stderr, one per event (logs, CI, and any stderr that is not a
/// terminal; a terminal gets `live::Live`).
pub struct Lines;

impl Lines {
    /// Plain timestamped lines.
    pub fn plain() -> Self {
        Lines
    }
}

/// How one event reads, or `None` for events not worth a line.
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::RunStarted { run_id, plan, stack, file, on_failure } => {
            format!("run {run_id}: plan `{plan}` ({file}) on stack `{stack}`, on failure: {on_failure}")
        }
        // Nothing to do is an answer, not a refusal (exit 0).
        Event::RunRefused { refusal: Refusal::NothingToDo, message, .. } => message.clone(),
        Event::RunRefused { message, problems, .. } => {
            let mut text = format!("refused: {message}");
            for p in problems {
                text.push_str(&format!("\n  - {p}"));
            }
            text
        }
        Event::Warning { problem } => format!("warning: {problem}"),
        Event::StepStarted { step, kind } => format!("{step}: {kind} started"),
        Event::StepRecorded { step, undo } => format!("{step}: recorded how to undo ({})", undo.describe()),
        Event::StepProgress { step, message, updated, .. } => match updated {
            Some((done, of)) => format!("{step}: {done}/{of} tasks on the new spec - {message}"),
            None => format!("{step}: {message}"),
        },
        Event::BackupTaken { step, database, path, bytes, sha256, verified, .. } => {
            let read = if *verified { ", read back in full" } else { ", not verified" };
            format!("{step}: dumped {database} to {path} ({bytes} bytes, SHA-256 {sha256}{read})")
        }
        Event::Measurement { step, gate, number, target, value, condition, verdict, detail, .. } => {
            let value = value.as_deref().unwrap_or("no value");
            let detail = detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            format!("{step}: gate {gate} #{number}: {target} = {value}; {condition} -> {verdict}{detail}")
        }
        Event::GateFinished { step, gate, verdict, summary, .. } => format!("{step}: gate {gate} {verdict}: {summary}"),
        Event::AwaitingApproval { step, question, how } => format!("{step}: {question} (waiting; {how})"),
        Event::Answered { step, approved, by } => {
            format!("{step}: {} by {by}", if *approved { "approved" } else { "aborted" })
        }
        Event::StepFinished { step, outcome, reason, took_ms, .. } => {
            let reason = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("{step}: {outcome} in {}{reason}", clock::span(*took_ms))
        }
        Event::Interrupted { second: false } => {
            "interrupted: stopping the running steps and undoing what the run changed \
             (interrupt again to stop at once)"
                .into()
        }
        Event::Interrupted { second: true } => "interrupted again: stopping at once".into(),
        Event::RollbackStarted { reason, .. } => format!("rolling back: {reason}"),
        Event::StepUndone { step, outcome, reason, took_ms } => {
            let reason = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("{step}: undo {outcome} in {}{reason}", clock::span(*took_ms))
        }
        Event::RunFinished { outcome, reason } => match reason {
            Some(r) => format!("run {outcome}: {r}"),
            None => format!("run {outcome}"),
        },
    })
}

/// The plain line of one record (`16:23:19 +   3.0s web: ...`), or `None` for events not worth
/// a line. The transcripts in docs/transcripts/ are these lines, rebuilt from a run's JSON.
pub fn line(record: &Record) -> Option<String> {
    let text = describe(&record.event)?;
    let time = record.at.get(11..19).unwrap_or(&record.at);
    Some(format!("{time} +{:>7} {text}", clock::millis(record.elapsed_ms)))
}

impl Sink for Lines {
    fn record(&self, record: &Record) {
        let Some(line) = line(record) else { return };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}
