//! The worst case beside the best: the worst case fails the last judgement of a gate that the
//! run where all goes well finishes, so it depends on that run; but both runs are the same up
//! to that judgement, so the worst case can run at the same time, one judgement behind.
//!
//! [`Follower`] watches the best run's events (it is one of its sinks) and decides, for the
//! worst case, each judgement as it begins: it passes as in the best run once the best run has
//! finished a later judgement, and fails late when the best run ended with it as its last.
//! Until it knows, the worst case's thread waits (its clock is paused, so its virtual times do
//! not move). The best run never waits for the worst.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use plans::gates::Outcome;

use crate::events::{Event, Record, Sink};
use crate::gates::probe::Decider;

/// Numbers the judgements of a run as the scripted probe does: per gate, from 0, in the order
/// they begin (their first measurement). `plan::worst_case`, `simulate::pinned` and the
/// [`Follower`] all number them with this, so they name the same judgements.
#[derive(Default)]
pub(super) struct Numbering {
    /// Per gate, how many judgements of it began.
    count: BTreeMap<String, u64>,
    /// Per (step, gate), the numbers of its judgements that began and did not finish, oldest
    /// first.
    begun: BTreeMap<(String, String), Vec<u64>>,
}

/// What an event was to a judgement.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Judged<'a> {
    /// Judgement `k` of `gate` began, for `step`.
    Began { step: &'a str, gate: &'a str, k: u64 },
    /// Judgement `k` of `gate` finished.
    Finished { gate: &'a str, k: u64 },
}

impl Numbering {
    /// Counts `event`, and says which judgement it began or finished, if any.
    pub(super) fn see<'a>(&mut self, event: &'a Event) -> Option<Judged<'a>> {
        match event {
            Event::Measurement { step, gate, number: 1, .. } => {
                let n = self.count.entry(gate.clone()).or_default();
                let k = *n;
                *n += 1;
                self.begun.entry((step.clone(), gate.clone())).or_default().push(k);
                Some(Judged::Began { step, gate, k })
            }
            Event::GateFinished { step, gate, .. } => {
                let k = self
                    .begun
                    .get_mut(&(step.clone(), gate.clone()))
                    .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
                    .unwrap_or(0);
                Some(Judged::Finished { gate, k })
            }
            _ => None,
        }
    }
}

/// What the best run has done so far.
#[derive(Default)]
struct Progress {
    /// Numbers its judgements.
    numbering: Numbering,
    /// Judgements (gate, number) in the order they finished.
    finished: Vec<(String, u64)>,
    /// Per judgement, where it is in `finished`.
    at: BTreeMap<(String, u64), usize>,
    /// The best run has ended.
    done: bool,
    /// The judgement the worst case was made to fail, if one.
    failed: Option<(String, u64)>,
}

/// Follows the best run, and decides the worst case's judgements (`decider`).
pub struct Follower {
    progress: Mutex<Progress>,
    moved: Condvar,
    /// Per gate, the outcomes that make one of its judgements fail late.
    failing: BTreeMap<String, Vec<Outcome>>,
}

impl Follower {
    /// A follower for a plan whose gates fail late with `failing`'s outcomes.
    pub fn new(failing: BTreeMap<String, Vec<Outcome>>) -> Arc<Follower> {
        Arc::new(Follower { progress: Mutex::default(), moved: Condvar::new(), failing })
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        // A panic elsewhere while holding it leaves plain data: go on with it.
        self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The best run has ended (also when it panicked: see [`Ended`]).
    pub fn end(&self) {
        self.progress().done = true;
        self.moved.notify_all();
    }

    /// The judgement the worst case failed, once it has ended: `None` when it reached none the
    /// best run finished last (then it is no worst case, and is run again the usual way).
    pub fn failed(&self) -> Option<(String, u64)> {
        self.progress().failed.clone()
    }

    /// For the worst case's probe.
    pub fn decider(self: &Arc<Follower>) -> Decider {
        let me = self.clone();
        Arc::new(move |gate: &str, k: u64| me.decide(gate, k))
    }

    fn decide(&self, gate: &str, k: u64) -> Option<Vec<Outcome>> {
        let key = (gate.to_owned(), k);
        let mut p = self.progress();
        loop {
            let later = p.at.get(&key).is_some_and(|&i| i + 1 < p.finished.len());
            if later {
                return None;
            }
            if p.done {
                if p.finished.last() != Some(&key) {
                    return None;
                }
                p.failed = Some(key);
                return Some(self.failing.get(gate).cloned().unwrap_or_else(|| vec![Outcome::Fail]));
            }
            p = self.moved.wait(p).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl Sink for Follower {
    fn record(&self, record: &Record) {
        let mut p = self.progress();
        if let Some(Judged::Finished { gate, k }) = p.numbering.see(&record.event) {
            let at = p.finished.len();
            p.finished.push((gate.to_owned(), k));
            p.at.insert((gate.to_owned(), k), at);
            drop(p);
            self.moved.notify_all();
        }
    }
}

/// Ends the follower when dropped: the worst case never waits for a best run that is gone.
pub struct Ended(pub Arc<Follower>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event: Event) -> Record {
        Record { at: String::new(), elapsed_ms: 0, event }
    }

    fn begins(step: &str, gate: &str) -> Record {
        record(Event::Measurement {
            step: step.into(),
            gate: gate.into(),
            number: 1,
            target: String::new(),
            value: None,
            condition: String::new(),
            verdict: "pass".into(),
            detail: None,
            took_ms: None,
            of: None,
            next_in_ms: None,
        })
    }

    fn finishes(step: &str, gate: &str) -> Record {
        record(Event::GateFinished {
            step: step.into(),
            gate: gate.into(),
            verdict: "passed".into(),
            summary: String::new(),
            comparison: None,
        })
    }

    fn follower() -> Arc<Follower> {
        Follower::new([("ok".to_owned(), vec![Outcome::Pass, Outcome::Fail])].into())
    }

    #[test]
    fn a_judgement_passes_once_a_later_one_finished_and_the_last_fails_late() {
        let f = follower();
        let decide = f.decider();
        // Two steps judge `ok` at once; the second to begin finishes first.
        f.record(&begins("a", "ok"));
        f.record(&begins("b", "ok"));
        f.record(&finishes("b", "ok"));
        f.record(&finishes("a", "ok"));
        assert_eq!(decide("ok", 1), None, "judgement 1 (b's) finished before another");
        f.end();
        assert_eq!(decide("ok", 0), Some(vec![Outcome::Pass, Outcome::Fail]), "a's finished last");
        assert_eq!(f.failed(), Some(("ok".to_owned(), 0)));
        assert_eq!(decide("ok", 7), None, "never finished in the best run");
    }

    #[test]
    fn the_worst_case_waits_for_the_best_run_and_never_past_its_end() {
        let f = follower();
        let decide = f.decider();
        f.record(&begins("a", "ok"));
        let waiting = std::thread::spawn(move || decide("ok", 0));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiting.is_finished(), "it cannot know before the best run finishes a later judgement");
        f.record(&finishes("a", "ok"));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiting.is_finished(), "the last so far may stay the last");
        drop(Ended(f.clone()));
        assert_eq!(waiting.join().expect("no panic"), Some(vec![Outcome::Pass, Outcome::Fail]));
    }
}
