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
    /// What the simulator expects, and where the run is against it.
    plan: Mutex<Against>,
}

/// What `planrun plan`'s simulator expects of this run: when each step starts and ends, in
/// milliseconds from the run's start, and when the run ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    /// Per step, its simulated start and end.
    pub steps: HashMap<String, (u64, u64)>,
    /// The simulated run's length.
    pub total_ms: u64,
}

impl Estimate {
    /// From a simulated run where nothing fails.
    pub fn of(simulated: &crate::plan::simulate::Simulated) -> Estimate {
        let steps = simulated
            .steps
            .iter()
            .map(|s| (s.step.clone(), (s.started_ms, s.finished_ms.unwrap_or(simulated.total_ms))))
            .collect();
        Estimate { steps, total_ms: simulated.total_ms }
    }

    /// How much of the simulated run is left, when the steps in `started` began at those real
    /// times (ms from the run's start), those in `finished` are done, and it is now `now_ms`:
    /// the furthest point any step has reached on the simulated timeline (a running step
    /// advances with the clock up to its simulated end), from the simulated end.
    pub fn left(&self, started: &HashMap<String, u64>, finished: &[String], now_ms: u64) -> u64 {
        let reached = started
            .iter()
            .filter_map(|(step, real_start)| {
                let (start, end) = *self.steps.get(step)?;
                Some(if finished.contains(step) { end } else { (start + now_ms.saturating_sub(*real_start)).min(end) })
            })
            .max()
            .unwrap_or(0);
        self.total_ms.saturating_sub(reached)
    }
}

/// The run against the estimate: when each step started (real ms from the run's start), which
/// ended, and the line that shows what is left.
#[derive(Default)]
struct Against {
    estimate: Option<Estimate>,
    started: HashMap<String, u64>,
    finished: Vec<String>,
    /// Steps waiting for a person: the simulator counts no time for answers, so the countdown
    /// stops while one waits.
    waiting: Vec<String>,
    line: Option<ProgressBar>,
    /// The last record's time, and when it came (the countdown runs from there).
    last_ms: u64,
    at: Option<std::time::Instant>,
}

impl Live {
    /// Drawn on stderr.
    pub fn stderr() -> Live {
        Live::on(ProgressDrawTarget::stderr())
    }

    /// Drawn on `target` (a test's in-memory terminal).
    pub fn on(target: ProgressDrawTarget) -> Live {
        Live {
            multi: MultiProgress::with_draw_target(target),
            running: Mutex::new(HashMap::new()),
            plan: Mutex::new(Against::default()),
        }
    }

    /// Shows, below the running steps, how long the run has left by the simulator's estimate
    /// (it arrives once the simulation ran, a moment after the run started).
    /// An estimate under a second (a plan that only waits for people, whose answers the
    /// simulator counts no time for) has nothing to count down, and is not shown.
    pub fn expect(&self, estimate: Estimate) {
        if estimate.total_ms < 1_000 {
            return;
        }
        let mut plan = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let line = self.multi.add(ProgressBar::new_spinner());
        line.enable_steady_tick(TICK);
        plan.line = Some(line);
        plan.estimate = Some(estimate);
        // Between records the clock moves on: the time since the last one counts.
        let now = plan.last_ms + plan.at.map_or(0, |at| at.elapsed().as_millis() as u64);
        update_left(&mut plan, now);
    }

    /// Follows the run against the estimate.
    fn against(&self, record: &Record) {
        let mut plan = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        plan.last_ms = record.elapsed_ms;
        plan.at = Some(std::time::Instant::now());
        match &record.event {
            Event::StepStarted { step, .. } => {
                plan.started.entry(step.clone()).or_insert(record.elapsed_ms);
            }
            Event::StepFinished { step, .. } => {
                plan.waiting.retain(|w| w != step);
                plan.finished.push(step.clone());
            }
            Event::AwaitingApproval { step, .. } => plan.waiting.push(step.clone()),
            Event::Answered { step, .. } => plan.waiting.retain(|w| w != step),
            Event::RunFinished { .. } => {
                if let Some(line) = plan.line.take() {
                    line.finish_and_clear();
                    self.multi.remove(&line);
                }
                plan.estimate = None;
                return;
            }
            _ => {}
        }
        update_left(&mut plan, record.elapsed_ms);
    }

    /// The line of a running step, made when it has none yet (an undo's progress).
    fn line(&self, running: &mut HashMap<String, ProgressBar>, step: &str) -> ProgressBar {
        running
            .entry(step.to_owned())
            .or_insert_with(|| {
                // Above the estimate's line, which stays at the bottom.
                let plan = self.plan.lock().unwrap_or_else(|e| e.into_inner());
                let bar = match &plan.line {
                    Some(last) => self.multi.insert_before(last, ProgressBar::new_spinner()),
                    None => self.multi.add(ProgressBar::new_spinner()),
                };
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

/// Sets the estimate's line to count down from what is left at `now_ms`.
fn update_left(plan: &mut Against, now_ms: u64) {
    let (Some(estimate), Some(line)) = (&plan.estimate, &plan.line) else { return };
    let left = estimate.left(&plan.started, &plan.finished, now_ms);
    let total = clock::span(estimate.total_ms.div_ceil(1000) * 1000);
    if !plan.waiting.is_empty() {
        line.set_style(spinner_only());
        line.set_message(format!(
            "waiting for a person; then about {} left, by the plan's estimate of {total} (it counts no time for answers)",
            clock::span(left.div_ceil(1000) * 1000)
        ));
        return;
    }
    line.set_style(countdown("{spinner} {left} the plan's estimate of {msg}").with_key(
        "left",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let left = state.len().unwrap_or(0).saturating_sub(state.elapsed().as_millis() as u64);
            let _ = match left {
                0 => w.write_str("running past"),
                _ => write!(w, "about {} left, by", clock::span(left.div_ceil(1000) * 1000)),
            };
        },
    ));
    line.set_length(left);
    line.reset_elapsed();
    line.set_message(total);
}

/// A line of its own: spinner and message.
fn spinner_only() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
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
        self.against(record);
        let Some(text) = describe(&record.event) else { return };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match &record.event {
            Event::StepStarted { step, .. } => {
                // The line starts with the step's name already.
                let text = text.strip_prefix(&format!("{step}: ")).map_or(text.clone(), str::to_owned);
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

    /// What the terminal shows once it shows all of `wanted` (indicatif draws at its own pace, later
    /// on a loaded machine), or after 5 s.
    fn screen_showing(term: &InMemoryTerm, wanted: &[&str]) -> String {
        let until = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let shown = screen(term);
            if wanted.iter().all(|w| shown.contains(w)) || std::time::Instant::now() > until {
                return shown;
            }
        }
    }

    #[test]
    fn each_running_step_has_its_own_line_with_tasks_countdowns_and_gate_measurements() {
        let term = InMemoryTerm::new(20, 100);
        let live = Live::on(ProgressDrawTarget::term_like(Box::new(term.clone())));
        live.record(&record(0, Event::StepStarted { step: "backend".into(), kind: "rolling".into() }));
        live.record(&record(0, Event::StepStarted { step: "soak".into(), kind: "pause".into() }));
        live.record(&record(100, progress("backend", "updating shop_backend to app:v2", Some((1, 3)), None)));
        live.record(&record(100, progress("soak", "pausing for 5m", None, Some(300_000))));
        let shown =
            screen_showing(&term, &["backend: [======>             ] 1/3 tasks", "soak: pausing for 5m, 5m 00s left"]);
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
        let shown = screen_showing(&term, &["backend: gate errors: 3 of 10", "soak: pausing for 5m, "]);
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
        let shown = screen_showing(&term, &["[   2.5s] soak: succeeded in 2m 05s", "backend: gate errors"]);
        assert!(shown.contains("[   2.5s] soak: succeeded in 2m 05s"), "a finished step stays as a line: {shown}");
        assert!(!shown.contains("left"), "its countdown is gone: {shown}");
        assert!(shown.contains("backend: gate errors"), "{shown}");
    }

    #[test]
    fn what_is_left_follows_the_furthest_step_on_the_simulated_timeline() {
        // backend 0-60 s, then frontend 60-100 s; the run 100 s.
        let estimate = Estimate {
            steps: HashMap::from([("backend".into(), (0, 60_000)), ("frontend".into(), (60_000, 100_000))]),
            total_ms: 100_000,
        };
        let mut started = HashMap::new();
        assert_eq!(estimate.left(&started, &[], 0), 100_000, "nothing started");
        started.insert("backend".to_string(), 0);
        assert_eq!(estimate.left(&started, &[], 20_000), 80_000, "a running step moves with the clock");
        assert_eq!(estimate.left(&started, &[], 90_000), 40_000, "slower than planned: no further than its end");
        started.insert("frontend".to_string(), 30_000);
        let finished = vec!["backend".to_string()];
        assert_eq!(estimate.left(&started, &finished, 40_000), 30_000, "faster than planned: the next step counts");
        assert_eq!(estimate.left(&started, &["backend".into(), "frontend".into()], 41_000), 0);
    }

    #[test]
    fn the_estimate_stops_counting_while_a_person_is_asked() {
        let term = InMemoryTerm::new(20, 140);
        let live = Live::on(ProgressDrawTarget::term_like(Box::new(term.clone())));
        live.record(&record(0, Event::StepStarted { step: "sign-off".into(), kind: "pause".into() }));
        live.expect(Estimate {
            steps: HashMap::from([("sign-off".into(), (0, 0)), ("backend".into(), (0, 30_000))]),
            total_ms: 30_000,
        });
        live.record(&record(
            0,
            Event::AwaitingApproval { step: "sign-off".into(), question: "go on?".into(), how: String::new() },
        ));
        let shown = screen_showing(&term, &["waiting for a person"]);
        let last = shown.lines().last().unwrap_or_default();
        assert!(last.contains("waiting for a person; then about 30s left, by the plan's estimate of 30s"), "{shown}");
        assert!(!shown.contains("running past"), "{shown}");
        live.record(&record(
            90_000,
            Event::Answered { step: "sign-off".into(), approved: true, by: "root at the terminal".into() },
        ));
        live.record(&record(90_000, Event::StepStarted { step: "backend".into(), kind: "rolling".into() }));
        let shown = screen_showing(&term, &["about 30s left, by"]);
        assert!(!shown.contains("waiting for a person"), "counting again once answered: {shown}");
    }

    #[test]
    fn an_estimate_under_a_second_is_not_shown() {
        let term = InMemoryTerm::new(20, 140);
        let live = Live::on(ProgressDrawTarget::term_like(Box::new(term.clone())));
        live.record(&record(0, Event::StepStarted { step: "sign-off".into(), kind: "pause".into() }));
        live.expect(Estimate { steps: HashMap::from([("sign-off".into(), (0, 0))]), total_ms: 0 });
        live.record(&record(5_000, progress("sign-off", "waiting", None, None)));
        let shown = screen_showing(&term, &["sign-off: waiting"]);
        assert!(!shown.contains("estimate"), "{shown}");
        assert!(!shown.contains("running past"), "{shown}");
    }

    #[test]
    fn the_estimate_stays_below_the_running_steps_and_counts_down() {
        let term = InMemoryTerm::new(20, 100);
        let live = Live::on(ProgressDrawTarget::term_like(Box::new(term.clone())));
        live.record(&record(0, Event::StepStarted { step: "backend".into(), kind: "rolling".into() }));
        live.expect(Estimate { steps: HashMap::from([("backend".into(), (0, 90_000))]), total_ms: 90_000 });
        live.record(&record(30_000, Event::StepStarted { step: "soak".into(), kind: "pause".into() }));
        let shown = screen_showing(&term, &["estimate of 90s", "soak:"]);
        let lines: Vec<&str> = shown.lines().collect();
        let last = lines.last().copied().unwrap_or_default();
        assert!(last.contains("about 60s left, by the plan's estimate of 90s"), "{shown}");
        assert!(lines.iter().any(|l| l.contains("soak:")), "a step started later is drawn above: {shown}");
        live.record(&record(
            31_000,
            Event::RunFinished { outcome: crate::events::RunOutcome::Succeeded, reason: None },
        ));
        let shown = screen_showing(&term, &["run succeeded"]);
        assert!(!shown.contains("estimate"), "gone when the run ends: {shown}");

        // A run slower than the estimate says so instead of counting below zero.
        let term = InMemoryTerm::new(20, 100);
        let live = Live::on(ProgressDrawTarget::term_like(Box::new(term.clone())));
        live.record(&record(0, Event::StepStarted { step: "backend".into(), kind: "rolling".into() }));
        live.record(&record(95_000, progress("backend", "updating", Some((2, 3)), None)));
        live.expect(Estimate { steps: HashMap::from([("backend".into(), (0, 90_000))]), total_ms: 90_000 });
        let shown = screen_showing(&term, &["running past"]);
        assert!(shown.contains("running past the plan's estimate of 90s"), "{shown}");
    }
}
