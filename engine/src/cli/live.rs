//! The live view of `apply` on a terminal (indicatif): one line per running step under the
//! lines that stay (warnings, gate verdicts, finished steps), each running step showing what
//! it does now: a Swarm update's tasks as a bar, a timed pause counting down, a gate's
//! measurements ("3 of 10 measurements, next in 12s"). Steps running at once each keep their
//! own line. Off a terminal, `progress::Lines::plain` writes timestamped lines instead.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::progress::describe;
use crate::clock;
use crate::events::{Event, Record, Sink};

/// How often a running step's line is redrawn (its spinner and countdown).
const TICK: Duration = Duration::from_millis(200);

/// The live view.
pub struct Live {
    multi: MultiProgress,
    running: Mutex<HashMap<String, ProgressBar>>,
}

impl Live {
    /// Drawn on stderr.
    pub fn stderr() -> Live {
        Live::on(ProgressDrawTarget::stderr())
    }

    /// Drawn on `target` (a test's in-memory terminal).
    pub fn on(target: ProgressDrawTarget) -> Live {
        Live { multi: MultiProgress::with_draw_target(target), running: Mutex::new(HashMap::new()) }
    }

    /// The line of a running step, made when it has none yet (an undo's progress).
    fn line(&self, running: &mut HashMap<String, ProgressBar>, step: &str) -> ProgressBar {
        running
            .entry(step.to_owned())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner());
                bar.set_prefix(step.to_owned());
                bar.enable_steady_tick(TICK);
                bar
            })
            .clone()
    }

    /// A line that stays, above the running steps.
    fn stays(&self, elapsed_ms: u64, text: &str) {
        let _ = self.multi.println(format!("[{:>7}] {text}", clock::span(elapsed_ms)));
    }
}

/// A running step: spinner, name, what it does.
fn spinner() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// A Swarm update: tasks on the new spec of those wanted.
fn tasks() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix}: [{bar:20}] {pos}/{len} tasks - {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// A wait of `len` milliseconds from the last reset: the message, then `{left}` counting down.
fn countdown(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()).with_key(
        "left",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let len = state.len().unwrap_or(0);
            let left = len.saturating_sub(state.elapsed().as_millis() as u64);
            // Whole seconds, rounded up: a wait of 5m shows 5m 00s first, never 0s early.
            let _ = w.write_str(&clock::span(left.div_ceil(1000) * 1000));
        },
    )
}

impl Sink for Live {
    fn record(&self, record: &Record) {
        let Some(text) = describe(&record.event) else { return };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match &record.event {
            Event::StepStarted { step, .. } => {
                self.line(&mut running, step).set_message(text);
            }
            Event::StepProgress { step, message, updated, wait_ms } => {
                let bar = self.line(&mut running, step);
                if let Some((done, of)) = updated {
                    bar.set_style(tasks());
                    bar.set_length(*of);
                    bar.set_position(*done);
                } else if let Some(ms) = wait_ms {
                    bar.set_style(countdown("{spinner} {prefix}: {msg}, {left} left"));
                    bar.set_length(*ms);
                    bar.reset_elapsed();
                } else {
                    bar.set_style(spinner());
                }
                bar.set_message(message.clone());
            }
            Event::Measurement { step, gate, number, of, next_in_ms, value, verdict, .. } => {
                let bar = self.line(&mut running, step);
                let mut message = format!("gate {gate}: {number}");
                if let Some(of) = of {
                    let _ = write!(message, " of {of}");
                }
                let value = value.as_deref().unwrap_or("no value");
                let _ = write!(message, " measurements, last {value} -> {verdict}");
                match next_in_ms {
                    Some(ms) => {
                        bar.set_style(countdown("{spinner} {prefix}: {msg}, next in {left}"));
                        bar.set_length(*ms);
                        bar.reset_elapsed();
                    }
                    None => bar.set_style(spinner()),
                }
                bar.set_message(message);
                if verdict != "pass" {
                    self.stays(record.elapsed_ms, &text);
                }
            }
            Event::StepFinished { step, .. } | Event::StepUndone { step, .. } => {
                if let Some(bar) = running.remove(step.as_str()) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.stays(record.elapsed_ms, &text);
            }
            Event::RunFinished { .. } => {
                for (_, bar) in running.drain() {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.stays(record.elapsed_ms, &text);
            }
            Event::RunStarted { .. }
            | Event::RunRefused { .. }
            | Event::Warning { .. }
            | Event::StepRecorded { .. }
            | Event::BackupTaken { .. }
            | Event::GateFinished { .. }
            | Event::AwaitingApproval { .. }
            | Event::Answered { .. }
            | Event::Interrupted { .. }
            | Event::RollbackStarted { .. } => self.stays(record.elapsed_ms, &text),
        }
    }
}

#[cfg(test)]
mod tests {
    use indicatif::InMemoryTerm;

    use super::*;

    fn record(elapsed_ms: u64, event: Event) -> Record {
        Record { at: "2026-12-06T12:00:00.000Z".into(), elapsed_ms, event }
    }

    fn progress(step: &str, message: &str, updated: Option<(u64, u64)>, wait_ms: Option<u64>) -> Event {
        Event::StepProgress { step: step.into(), message: message.into(), updated, wait_ms }
    }

    /// What the terminal shows once indicatif has drawn.
    fn screen(term: &InMemoryTerm) -> String {
        std::thread::sleep(TICK * 2);
        term.contents()
    }

    #[test]
    fn each_running_step_has_its_own_line_with_tasks_countdowns_and_gate_measurements() {
        let term = InMemoryTerm::new(20, 100);
        let live = Live::on(ProgressDrawTarget::term_like(Box::new(term.clone())));
        live.record(&record(0, Event::StepStarted { step: "backend".into(), kind: "rolling".into() }));
        live.record(&record(0, Event::StepStarted { step: "soak".into(), kind: "pause".into() }));
        live.record(&record(100, progress("backend", "updating shop_backend to app:v2", Some((1, 3)), None)));
        live.record(&record(100, progress("soak", "pausing for 5m", None, Some(300_000))));
        let shown = screen(&term);
        assert!(
            shown.contains("backend: [======>             ] 1/3 tasks - updating shop_backend to app:v2"),
            "{shown}"
        );
        assert!(shown.contains("soak: pausing for 5m, 5m 00s left"), "{shown}");

        live.record(&record(
            2_000,
            Event::Measurement {
                step: "backend".into(),
                gate: "errors".into(),
                number: 3,
                target: "rate(errors[1m])".into(),
                value: Some("0.001".into()),
                condition: "result < 0.01".into(),
                verdict: "pass".into(),
                detail: None,
                took_ms: Some(20),
                of: Some(10),
                next_in_ms: Some(12_000),
            },
        ));
        let shown = screen(&term);
        assert!(
            shown.contains("backend: gate errors: 3 of 10 measurements, last 0.001 -> pass, next in 12s"),
            "{shown}"
        );
        assert!(shown.contains("soak: pausing for 5m, "), "the other step keeps its line: {shown}");

        live.record(&record(
            2_500,
            Event::StepFinished {
                step: "soak".into(),
                outcome: crate::events::StepOutcome::Succeeded,
                reason: None,
                report: None,
                took_ms: 125_000,
            },
        ));
        let shown = screen(&term);
        assert!(shown.contains("[   2.5s] soak: succeeded in 2m 05s"), "a finished step stays as a line: {shown}");
        assert!(!shown.contains("left"), "its countdown is gone: {shown}");
        assert!(shown.contains("backend: gate errors"), "{shown}");
    }
}
