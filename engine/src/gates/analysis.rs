//! The measurement loop: an initial delay, then one measurement every `interval`, for a count
//! or a window, each bounded by `timeout`; and the pure rules that turn the outcomes into a
//! verdict (Argo Rollouts' rules, except that a gate with no passing measurement never passes).
//!
//! Invariant: waits use tokio's clock only, so the loop runs unchanged in virtual time.

use plans::gates::Outcome;
use plans::model::{Analysis, Gate, Sampling};
use tokio::time::Instant;

use super::{GateReport, Measurement, Meter, Verdict, excerpt, outcome_word};
use crate::events::{Event, Events};

/// How much longer than its `timeout` a measurement may take before the loop gives up on it.
const BACKSTOP: std::time::Duration = std::time::Duration::from_millis(100);

/// The limits a gate's outcomes are judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The gate fails when more measurements than this fail.
    pub failures: u64,
    /// The gate is inconclusive when more measurements than this are inconclusive.
    pub inconclusive: u64,
    /// The gate errors when more consecutive measurements than this error.
    pub consecutive_errors: u64,
}

impl From<&Analysis> for Limits {
    fn from(a: &Analysis) -> Self {
        Limits { failures: a.failure_limit, inconclusive: a.inconclusive_limit, consecutive_errors: a.error_limit }
    }
}

/// How many measurements of each outcome were taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed.
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Inconclusive.
    pub inconclusive: u64,
    /// Errored.
    pub errored: u64,
    /// The longest run of consecutive errors.
    pub consecutive_errors: u64,
}

impl Tally {
    /// Counts `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut t = Tally::default();
        let mut run = 0;
        for outcome in outcomes {
            match outcome {
                Outcome::Pass => t.passed += 1,
                Outcome::Fail => t.failed += 1,
                Outcome::Inconclusive => t.inconclusive += 1,
                Outcome::Error => t.errored += 1,
            }
            run = if *outcome == Outcome::Error { run + 1 } else { 0 };
            t.consecutive_errors = t.consecutive_errors.max(run);
        }
        t
    }

    /// All measurements.
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.inconclusive + self.errored
    }
}

/// Which rule decided the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// More failures than `failure-limit`.
    FailureLimit,
    /// More inconclusive results than `inconclusive-limit`.
    InconclusiveLimit,
    /// More consecutive errors than `error-limit`.
    ErrorLimit,
    /// All measurements taken, none passed: the worst outcome seen decides (never Passed).
    NothingPassed,
    /// All measurements taken, some passed, but the last errored: the source was not
    /// answering when the gate ended, so it says nothing of the release now (never Passed).
    EndedInError,
    /// All measurements taken, at least one passed and every limit held.
    WithinLimits,
}

/// What to do after a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The verdict is not certain yet: take the next measurement.
    Continue,
    /// The verdict is certain: stop measuring.
    Stop(Verdict, Rule),
}

/// Judges the outcomes so far; `finished` says whether every planned measurement was taken.
///
/// In order: more failures than the limit => Failed; more inconclusive results than the
/// limit => Inconclusive; more consecutive errors than the limit => Error. Each of these stops
/// the gate at once (as in Argo Rollouts). Once finished: with no passing measurement the
/// verdict is Failed if any failed, else Inconclusive if any was inconclusive, else Error (all
/// errored); with the last measurement an error, Error (the source went away: errors within
/// the limit are forgiven between answers, never at the end); otherwise Passed.
pub fn decide(outcomes: &[Outcome], limits: &Limits, finished: bool) -> Decision {
    let t = Tally::of(outcomes);
    if t.failed > limits.failures {
        return Decision::Stop(Verdict::Failed, Rule::FailureLimit);
    }
    if t.inconclusive > limits.inconclusive {
        return Decision::Stop(Verdict::Inconclusive, Rule::InconclusiveLimit);
    }
    if t.consecutive_errors > limits.consecutive_errors {
        return Decision::Stop(Verdict::Error, Rule::ErrorLimit);
    }
    if !finished {
        return Decision::Continue;
    }
    if t.passed == 0 {
        let verdict = if t.failed > 0 {
            Verdict::Failed
        } else if t.inconclusive > 0 {
            Verdict::Inconclusive
        } else {
            Verdict::Error
        };
        return Decision::Stop(verdict, Rule::NothingPassed);
    }
    if outcomes.last() == Some(&Outcome::Error) {
        return Decision::Stop(Verdict::Error, Rule::EndedInError);
    }
    Decision::Stop(Verdict::Passed, Rule::WithinLimits)
}

/// How many measurements the sampling asks for (at least one): a window takes one at its
/// start and one every interval up to and including its end.
pub fn planned_measurements(analysis: &Analysis) -> u64 {
    match analysis.sampling {
        Sampling::Count(n) => n.max(1),
        Sampling::Window(window) => window.as_millis() / analysis.interval.as_millis().max(1) + 1,
    }
}

/// Takes the gate's measurements with `meter`, emits each as an event, stops as soon as the
/// verdict is certain, and emits and returns the verdict.
pub async fn run(gate: &Gate, step: &str, events: &Events, meter: &mut dyn Meter) -> GateReport {
    let analysis = &gate.analysis;
    let limits = Limits::from(analysis);
    let planned = planned_measurements(analysis);
    tokio::time::sleep(analysis.initial_delay.to_std()).await;
    let start = Instant::now();
    let mut taken: Vec<Measurement> = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let (mut verdict, rule) = loop {
        let number = taken.len() as u64 + 1;
        // Meters that bound their own work (a command killed with its process group, a request
        // with its own timeout) say what happened themselves; this bound is the backstop.
        let measuring = Instant::now();
        let m = match tokio::time::timeout(analysis.timeout.to_std() + BACKSTOP, meter.measure()).await {
            Ok(m) => m,
            Err(_) => {
                Measurement::error(meter.target(), meter.condition(), format!("no result within {}", analysis.timeout))
            }
        };
        outcomes.push(m.outcome);
        let decided = decide(&outcomes, &limits, number >= planned);
        // A fixed rate from the first measurement: a slow measurement does not shift the rest.
        let next = start + analysis.interval.to_std() * number as u32;
        let next_in = matches!(decided, Decision::Continue).then(|| next.saturating_duration_since(Instant::now()));
        events.emit(Event::Measurement {
            step: step.to_owned(),
            gate: gate.name.value.clone(),
            number,
            target: m.target.clone(),
            value: m.value.clone(),
            condition: m.condition.clone(),
            verdict: outcome_word(m.outcome).to_owned(),
            detail: m.detail.clone(),
            took_ms: Some(measuring.elapsed().as_millis() as u64),
            of: Some(planned),
            next_in_ms: next_in.map(|d| d.as_millis() as u64),
        });
        taken.push(m);
        if let Decision::Stop(verdict, rule) = decided {
            break (verdict, rule);
        }
        tokio::time::sleep_until(next).await;
    };
    let mut summary = summarize(&taken, &limits, planned, rule);
    // A gate that compares with a baseline is judged on its whole series, once it is taken.
    let mut comparison = None;
    if verdict == Verdict::Passed
        && let Some(c) = meter.conclude()
    {
        (verdict, summary, comparison) = (c.verdict, c.summary, Some(Box::new(c.comparison)));
    }
    events.emit(Event::GateFinished {
        step: step.to_owned(),
        gate: gate.name.value.clone(),
        verdict: verdict.as_str().to_owned(),
        summary: summary.clone(),
        comparison,
    });
    GateReport { gate: gate.name.value.clone(), verdict, summary }
}

/// The one-line summary: counts, the limit that decided, and the measurements that count
/// against the gate (`0.034 >= 0.001 at #2`).
pub fn summarize(taken: &[Measurement], limits: &Limits, planned: u64, rule: Rule) -> String {
    let outcomes: Vec<Outcome> = taken.iter().map(|m| m.outcome).collect();
    let t = Tally::of(&outcomes);
    let of = |wanted: Outcome| list(taken, 0, |m| m.outcome == wanted);
    match rule {
        Rule::FailureLimit => format!("{} failed (limit {}): {}", t.failed, limits.failures, of(Outcome::Fail)),
        Rule::InconclusiveLimit => {
            format!("{} inconclusive (limit {}): {}", t.inconclusive, limits.inconclusive, of(Outcome::Inconclusive))
        }
        Rule::ErrorLimit => {
            let run = taken.iter().rev().take_while(|m| m.outcome == Outcome::Error).count();
            let errors = list(&taken[taken.len() - run..], taken.len() - run, |_| true);
            format!("{run} consecutive errors (limit {}): {errors}", limits.consecutive_errors)
        }
        Rule::EndedInError => {
            let run = taken.iter().rev().take_while(|m| m.outcome == Outcome::Error).count();
            let errors = list(&taken[taken.len() - run..], taken.len() - run, |_| true);
            format!(
                "{} of {} measurements passed, but the last {run} errored: the source stopped answering before \
                 the gate ended: {errors}",
                t.passed,
                t.total()
            )
        }
        Rule::NothingPassed if t.total() == t.errored => {
            format!("all {} measurements errored, none passed: {}", t.total(), of(Outcome::Error))
        }
        Rule::NothingPassed => {
            format!("none of {} measurements passed ({}): {}", t.total(), counts(&t), list(taken, 0, |_| true))
        }
        Rule::WithinLimits => {
            let mut text = format!("{} of {} measurements passed", t.passed, planned.max(t.total()));
            if t.passed < t.total() {
                text.push_str(&format!("; {}: {}", counts(&t), list(taken, 0, |m| m.outcome != Outcome::Pass)));
            }
            text
        }
    }
}

fn counts(t: &Tally) -> String {
    let parts = [(t.failed, "failed"), (t.inconclusive, "inconclusive"), (t.errored, "errored")];
    parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect::<Vec<_>>().join(", ")
}

/// `what at #n, #m; other at #k` for the measurements that match: equal reasons are listed
/// once with all their numbers (up to five), at most three reasons, then `and N more`.
/// `skipped` measurements came before `taken` (numbers count from the run's first).
fn list(taken: &[Measurement], skipped: usize, wanted: impl Fn(&Measurement) -> bool) -> String {
    const REASONS: usize = 3;
    const NUMBERS: usize = 5;
    let mut reasons: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, m) in taken.iter().enumerate().filter(|(_, m)| wanted(m)) {
        let what = m.detail.as_deref().or(m.value.as_deref()).unwrap_or(outcome_word(m.outcome));
        match reasons.iter_mut().find(|(w, _)| *w == what) {
            Some((_, numbers)) => numbers.push(skipped + i + 1),
            None => reasons.push((what, vec![skipped + i + 1])),
        }
    }
    let mut items: Vec<String> = reasons
        .iter()
        .take(REASONS)
        .map(|(what, numbers)| {
            let mut at: Vec<String> = numbers.iter().take(NUMBERS).map(|n| format!("#{n}")).collect();
            if numbers.len() > NUMBERS {
                at.push(format!("{} more", numbers.len() - NUMBERS));
            }
            format!("{} at {}", excerpt(what, 200), at.join(", "))
        })
        .collect();
    if reasons.len() > REASONS {
        items.push(format!("and {} more", reasons.len() - REASONS));
    }
    items.join("; ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration as StdDuration;

    use plans::duration::Duration;
    use plans::gates::{CommandGate, GateKind};
    use plans::span::Span;
    use plans::spanned::Spanned;

    use super::*;
    use crate::events::{Memory, Record};

    use Outcome::{Error as E, Fail as F, Inconclusive as I, Pass as P};

    const LIMITS: Limits = Limits { failures: 0, inconclusive: 0, consecutive_errors: 4 };

    fn limits(failures: u64, inconclusive: u64, consecutive_errors: u64) -> Limits {
        Limits { failures, inconclusive, consecutive_errors }
    }

    fn stop(verdict: Verdict, rule: Rule) -> Decision {
        Decision::Stop(verdict, rule)
    }

    #[test]
    fn all_passed_passes_once_finished() {
        assert_eq!(decide(&[P, P], &LIMITS, false), Decision::Continue);
        assert_eq!(decide(&[P, P, P], &LIMITS, true), stop(Verdict::Passed, Rule::WithinLimits));
    }

    #[test]
    fn failures_beyond_the_limit_fail_at_once() {
        assert_eq!(decide(&[F], &LIMITS, false), stop(Verdict::Failed, Rule::FailureLimit));
        assert_eq!(decide(&[P, F], &limits(1, 0, 4), false), Decision::Continue);
        assert_eq!(decide(&[P, F, P], &limits(1, 0, 4), true), stop(Verdict::Passed, Rule::WithinLimits));
        assert_eq!(decide(&[F, P, F], &limits(1, 0, 4), false), stop(Verdict::Failed, Rule::FailureLimit));
    }

    #[test]
    fn inconclusive_beyond_the_limit_stops() {
        assert_eq!(decide(&[P, I], &LIMITS, false), stop(Verdict::Inconclusive, Rule::InconclusiveLimit));
        assert_eq!(decide(&[P, I], &limits(0, 1, 4), true), stop(Verdict::Passed, Rule::WithinLimits));
        // A failure beyond its limit outranks inconclusive results beyond theirs.
        assert_eq!(decide(&[I, I, F], &limits(0, 1, 4), true), stop(Verdict::Failed, Rule::FailureLimit));
    }

    #[test]
    fn only_consecutive_errors_count_against_the_error_limit() {
        assert_eq!(decide(&[E, E, E, E], &LIMITS, false), Decision::Continue);
        assert_eq!(decide(&[E, E, E, E, E], &LIMITS, false), stop(Verdict::Error, Rule::ErrorLimit));
        assert_eq!(decide(&[E, E, P, E, E, E], &limits(0, 0, 3), false), Decision::Continue);
        // Errors within the limit are forgiven between answers, never at the end: a source that
        // stopped answering says nothing of the release now.
        assert_eq!(decide(&[E, E, P, E, P], &limits(0, 0, 3), true), stop(Verdict::Passed, Rule::WithinLimits));
        assert_eq!(decide(&[E, E, P, E, E], &limits(0, 0, 3), true), stop(Verdict::Error, Rule::EndedInError));
        assert_eq!(decide(&[P, E], &LIMITS, true), stop(Verdict::Error, Rule::EndedInError));
        assert_eq!(decide(&[E], &limits(0, 0, 0), false), stop(Verdict::Error, Rule::ErrorLimit));
    }

    #[test]
    fn all_errors_never_pass() {
        // Argo Rollouts reports "Successful" here; planrun does not.
        assert_eq!(decide(&[E, E, E], &LIMITS, true), stop(Verdict::Error, Rule::NothingPassed));
        assert_eq!(decide(&[E], &LIMITS, true), stop(Verdict::Error, Rule::NothingPassed));
        assert_eq!(decide(&[], &LIMITS, true), stop(Verdict::Error, Rule::NothingPassed));
    }

    #[test]
    fn nothing_passed_takes_the_worst_real_outcome() {
        assert_eq!(decide(&[E, F], &limits(1, 0, 4), true), stop(Verdict::Failed, Rule::NothingPassed));
        assert_eq!(decide(&[F], &limits(1, 0, 4), true), stop(Verdict::Failed, Rule::NothingPassed));
        assert_eq!(decide(&[E, I], &limits(0, 1, 4), true), stop(Verdict::Inconclusive, Rule::NothingPassed));
        assert_eq!(decide(&[I, F], &limits(1, 1, 4), true), stop(Verdict::Failed, Rule::NothingPassed));
    }

    #[test]
    fn tally_counts_the_longest_error_run() {
        let t = Tally::of(&[E, E, P, E, F, I, E, E, E]);
        assert_eq!(t, Tally { passed: 1, failed: 1, inconclusive: 1, errored: 6, consecutive_errors: 3 });
        assert_eq!(t.total(), 9);
    }

    fn analysis(sampling: Sampling, interval_s: u64) -> Analysis {
        Analysis { sampling, interval: Duration::from_secs(interval_s), ..Analysis::default() }
    }

    #[test]
    fn planned_measurements_per_sampling() {
        assert_eq!(planned_measurements(&analysis(Sampling::Count(3), 10)), 3);
        assert_eq!(planned_measurements(&analysis(Sampling::Count(0), 10)), 1);
        assert_eq!(planned_measurements(&analysis(Sampling::Window(Duration::from_secs(30)), 10)), 4);
        assert_eq!(planned_measurements(&analysis(Sampling::Window(Duration::from_secs(35)), 10)), 4);
        assert_eq!(planned_measurements(&analysis(Sampling::Window(Duration::from_secs(5)), 10)), 1);
        assert_eq!(planned_measurements(&analysis(Sampling::Window(Duration::from_secs(5)), 0)), 5001);
    }

    fn m(outcome: Outcome, value: Option<&str>, detail: Option<&str>) -> Measurement {
        Measurement {
            outcome,
            target: "q".into(),
            value: value.map(Into::into),
            condition: "result < 0.001".into(),
            detail: detail.map(Into::into),
        }
    }

    #[test]
    fn summaries_name_the_measurements_that_count() {
        let pass = || m(P, Some("0"), None);
        let fail = |v: &str| m(F, Some(v), Some(&format!("{v} >= 0.001")));
        let err = || m(E, None, Some("Prometheus at http://127.0.0.1:1: connection refused"));
        let l = limits(1, 0, 4);
        assert_eq!(summarize(&[pass(), pass(), pass()], &l, 3, Rule::WithinLimits), "3 of 3 measurements passed");
        assert_eq!(
            summarize(&[pass(), fail("0.034"), fail("0.05")], &l, 5, Rule::FailureLimit),
            "2 failed (limit 1): 0.034 >= 0.001 at #2; 0.05 >= 0.001 at #3"
        );
        assert_eq!(
            summarize(&[pass(), fail("0.034"), pass()], &l, 3, Rule::WithinLimits),
            "2 of 3 measurements passed; 1 failed: 0.034 >= 0.001 at #2"
        );
        assert_eq!(
            summarize(&[err(), err(), err()], &l, 3, Rule::NothingPassed),
            "all 3 measurements errored, none passed: Prometheus at http://127.0.0.1:1: connection refused at #1, #2, #3"
        );
        let l0 = limits(0, 0, 1);
        assert_eq!(
            summarize(&[pass(), err(), err()], &l0, 5, Rule::ErrorLimit),
            "2 consecutive errors (limit 1): Prometheus at http://127.0.0.1:1: connection refused at #2, #3"
        );
        let many: Vec<Measurement> = (0..7).map(|_| fail("1")).collect();
        assert_eq!(
            summarize(&many, &limits(6, 0, 4), 7, Rule::FailureLimit),
            "7 failed (limit 6): 1 >= 0.001 at #1, #2, #3, #4, #5, 2 more"
        );
        let distinct: Vec<Measurement> = (1..=5).map(|i| fail(&i.to_string())).collect();
        assert_eq!(
            summarize(&distinct, &limits(4, 0, 4), 5, Rule::FailureLimit),
            "5 failed (limit 4): 1 >= 0.001 at #1; 2 >= 0.001 at #2; 3 >= 0.001 at #3; and 2 more"
        );
        assert_eq!(
            summarize(&[m(I, Some("0.005"), None)], &l, 1, Rule::InconclusiveLimit),
            "1 inconclusive (limit 0): 0.005 at #1"
        );
        assert_eq!(
            summarize(&[err(), fail("2")], &l, 2, Rule::NothingPassed),
            "none of 2 measurements passed (1 failed, 1 errored): \
             Prometheus at http://127.0.0.1:1: connection refused at #1; 2 >= 0.001 at #2"
        );
    }

    // The measurement loop, in virtual time.

    fn gate(a: Analysis) -> Gate {
        Gate {
            name: Spanned::new("errors".into(), Span::default()),
            kind: GateKind::Command(CommandGate { argv: vec!["true".into()] }),
            analysis: a,
        }
    }

    fn events() -> (Events, Arc<Memory>) {
        let memory = Arc::new(Memory::default());
        (Events::new(vec![Box::new(memory.clone())]), memory)
    }

    fn recorded(memory: &Memory) -> Vec<Record> {
        memory.records()
    }

    /// A meter whose measurements return the scripted outcomes in turn (then Pass), each
    /// taking `took`, noting when each started.
    struct Script {
        started: Instant,
        times: Vec<f64>,
        outcomes: Vec<Outcome>,
        took: StdDuration,
    }

    #[async_trait::async_trait]
    impl Meter for Script {
        fn target(&self) -> String {
            "q".into()
        }

        fn condition(&self) -> String {
            "result < 1".into()
        }

        async fn measure(&mut self) -> Measurement {
            self.times.push(self.started.elapsed().as_secs_f64());
            let outcome = self.outcomes.get(self.times.len() - 1).copied().unwrap_or(P);
            tokio::time::sleep(self.took).await;
            m(outcome, Some("0.5"), (outcome != P).then_some("why"))
        }
    }

    /// Runs a gate whose measurements return `outcomes` in turn (then Pass), each taking `took`;
    /// returns the report and when each measurement started (seconds since the call).
    async fn run_script(a: Analysis, outcomes: &[Outcome], took: StdDuration) -> (GateReport, Vec<f64>, Vec<Record>) {
        let (events, memory) = events();
        let mut meter = Script { started: Instant::now(), times: Vec::new(), outcomes: outcomes.to_vec(), took };
        let report = run(&gate(a), "canary", &events, &mut meter).await;
        (report, meter.times, recorded(&memory))
    }

    #[tokio::test(start_paused = true)]
    async fn waits_the_initial_delay_then_measures_every_interval() {
        let a = Analysis {
            initial_delay: Duration::from_secs(5),
            interval: Duration::from_secs(10),
            sampling: Sampling::Count(3),
            ..Analysis::default()
        };
        let (report, times, records) = run_script(a, &[], StdDuration::from_secs(2)).await;
        assert_eq!(times, [5.0, 15.0, 25.0], "a 2 s measurement does not shift the schedule");
        assert_eq!(
            report,
            GateReport {
                gate: "errors".into(),
                verdict: Verdict::Passed,
                summary: "3 of 3 measurements passed".into()
            }
        );
        assert_eq!(records.len(), 4);
        assert_eq!(
            records[1].event,
            Event::Measurement {
                step: "canary".into(),
                gate: "errors".into(),
                number: 2,
                target: "q".into(),
                value: Some("0.5".into()),
                condition: "result < 0.001".into(),
                verdict: "pass".into(),
                detail: None,
                took_ms: Some(2000),
                of: Some(3),
                next_in_ms: Some(8000),
            }
        );
        assert_eq!(records[1].elapsed_ms, 17_000);
        let Event::Measurement { next_in_ms, .. } = &records[2].event else { panic!("{:?}", records[2]) };
        assert_eq!(*next_in_ms, None, "the last measurement has no next");
        assert_eq!(
            records[3].event,
            Event::GateFinished {
                step: "canary".into(),
                gate: "errors".into(),
                verdict: "passed".into(),
                summary: "3 of 3 measurements passed".into(),
                comparison: None,
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stops_as_soon_as_the_gate_has_failed() {
        let a = Analysis { sampling: Sampling::Count(10), failure_limit: 1, ..Analysis::default() };
        let (report, times, records) = run_script(a, &[F, P, F, P], StdDuration::ZERO).await;
        assert_eq!(times, [0.0, 10.0, 20.0]);
        assert_eq!(report.verdict, Verdict::Failed);
        assert_eq!(report.summary, "2 failed (limit 1): why at #1, #3");
        assert_eq!(records.len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_measures_up_to_its_end() {
        let a = Analysis {
            interval: Duration::from_secs(10),
            sampling: Sampling::Window(Duration::from_secs(30)),
            ..Analysis::default()
        };
        let (report, times, _) = run_script(a, &[], StdDuration::ZERO).await;
        assert_eq!(times, [0.0, 10.0, 20.0, 30.0]);
        assert_eq!(report.summary, "4 of 4 measurements passed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_measurement_past_the_timeout_is_an_error() {
        let a = Analysis {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            sampling: Sampling::Count(3),
            ..Analysis::default()
        };
        let (report, times, records) = run_script(a, &[], StdDuration::from_secs(60)).await;
        assert_eq!(times, [0.0, 10.0, 20.0]);
        assert_eq!(report.verdict, Verdict::Error);
        assert_eq!(report.summary, "all 3 measurements errored, none passed: no result within 2s at #1, #2, #3");
        let Event::Measurement { target, condition, verdict, value, .. } = &records[0].event else { panic!() };
        assert_eq!((target.as_str(), condition.as_str(), verdict.as_str()), ("q", "result < 1", "error"));
        assert_eq!(value, &None);
        assert_eq!(records[0].elapsed_ms, 2_100);
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_errors_beyond_the_limit_stop_the_gate() {
        let a = Analysis { sampling: Sampling::Count(20), error_limit: 2, ..Analysis::default() };
        let (report, times, _) = run_script(a, &[E, E, P, E, E, E], StdDuration::ZERO).await;
        assert_eq!(times.len(), 6);
        assert_eq!(report.verdict, Verdict::Error);
        assert_eq!(report.summary, "3 consecutive errors (limit 2): why at #4, #5, #6");
    }
}
