//! What a run leaves in the swarm, so `rollback`, `status` and `history` work from any machine
//! that reaches a manager, with an empty state directory (the CI runner that deployed may be
//! gone): the run's start, every undo record a step makes (written before the step changes
//! anything), every undo done, and how the run ended.
//!
//! Each entry is its own config object, named `planrun-state.<run hash>.<seq>`: creating a
//! config is atomic, and a config cannot change, so an entry is either wholly there or absent.
//! An entry bigger than a config may hold (Swarm refuses 1,024,000 bytes and more, measured on
//! dockerd 20.10) is cut into parts: the parts are written first and the head, which names how
//! many there are, last; a reader ignores a head whose parts are not all there (a crash while
//! writing them, before the step changed anything).
//!
//! The local journal stays the full log of a run (progress, gate measurements); this is what
//! undoing needs. Old runs are collected by [`collect`]: a stack keeps its newest runs, as many
//! as `[runs] keep` of planrun.toml says.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::cluster::{Cluster, ClusterError, ConfigObject, NewObject};
use crate::events::RunOutcome;
use crate::history::RunSummary;
use crate::undo::{Recorded, Undo};

/// The most a part holds: under Swarm's limit for a config's data, with room to spare.
pub const PART_BYTES: usize = 900_000;

/// How many runs of a stack are kept when planrun.toml does not say.
pub const KEEP_RUNS: usize = 20;

const STACK: &str = "planrun.state.stack";
const RUN: &str = "planrun.state.run-id";
const SEQ: &str = "planrun.state.seq";
const PARTS: &str = "planrun.state.parts";
const PART: &str = "planrun.state.part";

/// One thing a run did that undoing needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "kebab-case")]
pub enum Entry {
    /// The run started.
    Started {
        /// Who ran what, when.
        summary: RunSummary,
    },
    /// A step recorded how to undo itself (again: its newest record replaces the older).
    Recorded {
        /// The step.
        step: String,
        /// What undoing it needs.
        undo: Undo,
    },
    /// A step was undone.
    Undone {
        /// The step.
        step: String,
        /// By which run (the run itself, or a `planrun rollback`).
        by_run: String,
    },
    /// A watch of the release started (the plan's `watch`): what the watch service reads.
    Watching {
        /// When the window ends, RFC 3339.
        until: String,
        /// The gates it judges, as the plan declared them.
        gates: Gates,
        /// What a gate that does not pass does.
        on_regression: plans::model::OnRegression,
        /// The default Prometheus server of the environment the release used.
        prometheus: Option<String>,
    },
    /// The watch ended.
    Watched {
        /// How.
        end: WatchEnd,
        /// Why, when a gate did not pass.
        reason: Option<String>,
        /// When the regression was seen (the rollback started then), RFC 3339 with milliseconds.
        regression_at: Option<String>,
        /// When, RFC 3339.
        at: String,
    },
    /// The run ended, or a rollback of it did.
    Finished {
        /// How.
        outcome: RunOutcome,
        /// Why, when it did not succeed.
        reason: Option<String>,
        /// When, RFC 3339.
        at: String,
    },
}

/// Gates as a plan declared them, compared by what they serialize to (a gate has no `==`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Gates(pub Vec<plans::model::Gate>);

impl PartialEq for Gates {
    fn eq(&self, other: &Gates) -> bool {
        serde_json::to_value(&self.0).ok() == serde_json::to_value(&other.0).ok()
    }
}

/// How a watch after a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchEnd {
    /// Every gate kept passing until the window ended.
    Passed,
    /// A gate did not pass and the release was undone.
    RolledBack,
    /// A gate did not pass and undoing the release failed (or was refused).
    RollbackFailed,
    /// A gate did not pass; the plan said `on-regression notify`, so nothing was changed.
    Regressed,
}

impl WatchEnd {
    /// The word shown and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEnd::Passed => "passed",
            WatchEnd::RolledBack => "rolled-back",
            WatchEnd::RollbackFailed => "rollback-failed",
            WatchEnd::Regressed => "regressed",
        }
    }
}

/// Why an entry could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The swarm refused or did not answer.
    Cluster(ClusterError),
    /// A stored entry is not one this planrun reads.
    Unreadable {
        /// The config object.
        name: String,
        /// Why.
        why: String,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Cluster(e) => e.fmt(f),
            StateError::Unreadable { name, why } => {
                write!(f, "the run state {name} is unreadable ({why}); was it written by another planrun version?")
            }
        }
    }
}

impl std::error::Error for StateError {}

impl From<ClusterError> for StateError {
    fn from(e: ClusterError) -> Self {
        StateError::Cluster(e)
    }
}

/// Writes one run's entries.
pub struct RunState {
    cluster: Arc<dyn Cluster>,
    stack: String,
    run_id: String,
    next: AtomicU32,
}

impl RunState {
    /// The entries of `run_id` of `stack`, written after `after` entries already there (a
    /// rollback adds to the run it undoes).
    pub fn new(cluster: Arc<dyn Cluster>, stack: &str, run_id: &str, after: u32) -> RunState {
        RunState { cluster, stack: stack.to_owned(), run_id: run_id.to_owned(), next: AtomicU32::new(after) }
    }

    /// The run.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Writes `entry` after the ones before it. A name already taken (another process wrote
    /// to the same run: a rollback of a run that still ends) moves on to the next number.
    pub async fn write(&self, entry: &Entry) -> Result<(), StateError> {
        let data = serde_json::to_vec(entry).map_err(|e| StateError::Unreadable {
            name: object_prefix(&self.stack, &self.run_id),
            why: e.to_string(),
        })?;
        let parts: Vec<&[u8]> = if data.is_empty() { vec![&data[..]] } else { data.chunks(PART_BYTES).collect() };
        'numbers: loop {
            let seq = self.next.fetch_add(1, Ordering::SeqCst);
            let head = format!("{}.{seq}", object_prefix(&self.stack, &self.run_id));
            // Parts after the first go first, so a head is never there without them.
            for (k, part) in parts.iter().enumerate().skip(1) {
                let mut labels = self.labels(seq);
                labels.insert(PART.into(), k.to_string());
                match self.cluster.create_config(NewObject::new(&format!("{head}.{k}"), labels, part)).await {
                    Ok(_) => {}
                    // Another writer has this number: its parts are not ours.
                    Err(ClusterError::Conflict(_)) => continue 'numbers,
                    Err(e) => return Err(e.into()),
                }
            }
            let mut labels = self.labels(seq);
            labels.insert(PARTS.into(), parts.len().to_string());
            match self.cluster.create_config(NewObject::new(&head, labels, parts[0])).await {
                Ok(_) => return Ok(()),
                Err(ClusterError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn labels(&self, seq: u32) -> HashMap<String, String> {
        HashMap::from([
            (STACK.to_string(), self.stack.clone()),
            (RUN.to_string(), self.run_id.clone()),
            (SEQ.to_string(), seq.to_string()),
        ])
    }
}

/// Where a run's objects are named from: `planrun-state.` and a hash of the stack and run (a
/// config name holds at most 64 characters; stack names may be long).
fn object_prefix(stack: &str, run_id: &str) -> String {
    let hash = sha2::Sha256::digest(format!("{stack}\n{run_id}").as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("planrun-state.{hex}")
}

/// A run as the swarm remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// Its id.
    pub run_id: String,
    /// Who ran what, when (none if its start entry is gone).
    pub summary: Option<RunSummary>,
    /// How it (or the last rollback of it) ended; none while it runs, or if it died.
    pub finished: Option<(RunOutcome, Option<String>, String)>,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
    /// The number the next entry gets.
    pub next_seq: u32,
    /// Its config objects' ids (to collect them).
    objects: Vec<String>,
}

impl StoredRun {
    /// What is recorded and not undone, newest first: the order to undo it in.
    pub fn pending(&self) -> Vec<(String, Undo)> {
        let recorded = Recorded::default();
        for entry in &self.entries {
            match entry {
                Entry::Recorded { step, undo } => recorded.push(step, undo.clone()),
                Entry::Undone { step, .. } => recorded.remove(step),
                _ => {}
            }
        }
        recorded.newest_first()
    }
}

/// The stack's runs the swarm remembers, newest first (run ids sort by time). Entries that
/// are not whole (a head without all its parts) are left out.
pub async fn runs(cluster: &dyn Cluster, stack: &str) -> Result<Vec<StoredRun>, StateError> {
    let objects = cluster.configs(&format!("{STACK}={stack}")).await?;
    let mut by_run: BTreeMap<String, Vec<ConfigObject>> = BTreeMap::new();
    for object in objects {
        if let Some(run) = object.labels.get(RUN) {
            by_run.entry(run.clone()).or_default().push(object);
        }
    }
    let mut runs = Vec::with_capacity(by_run.len());
    for (run_id, objects) in by_run.into_iter().rev() {
        runs.push(read_run(run_id, objects)?);
    }
    Ok(runs)
}

/// One run of the stack, if the swarm remembers it.
pub async fn run(cluster: &dyn Cluster, stack: &str, run_id: &str) -> Result<Option<StoredRun>, StateError> {
    Ok(runs(cluster, stack).await?.into_iter().find(|r| r.run_id == run_id))
}

fn read_run(run_id: String, objects: Vec<ConfigObject>) -> Result<StoredRun, StateError> {
    let seq_of = |o: &ConfigObject| o.labels.get(SEQ).and_then(|s| s.parse::<u32>().ok());
    let mut heads: BTreeMap<u32, &ConfigObject> = BTreeMap::new();
    let mut parts: HashMap<(u32, usize), &ConfigObject> = HashMap::new();
    let mut next_seq = 0;
    for object in &objects {
        let Some(seq) = seq_of(object) else { continue };
        next_seq = next_seq.max(seq + 1);
        match object.labels.get(PART).and_then(|p| p.parse::<usize>().ok()) {
            Some(k) => {
                parts.insert((seq, k), object);
            }
            None => {
                heads.insert(seq, object);
            }
        }
    }
    let mut entries = Vec::with_capacity(heads.len());
    'heads: for (seq, head) in heads {
        let count = head.labels.get(PARTS).and_then(|p| p.parse::<usize>().ok()).unwrap_or(1);
        let mut data = head.data.clone();
        for k in 1..count {
            match parts.get(&(seq, k)) {
                Some(part) => data.extend_from_slice(&part.data),
                None => continue 'heads,
            }
        }
        let entry: Entry = serde_json::from_slice(&data)
            .map_err(|e| StateError::Unreadable { name: head.name.clone(), why: e.to_string() })?;
        entries.push(entry);
    }
    let summary = entries.iter().find_map(|e| match e {
        Entry::Started { summary } => Some(summary.clone()),
        _ => None,
    });
    let finished = entries.iter().rev().find_map(|e| match e {
        Entry::Finished { outcome, reason, at } => Some((*outcome, reason.clone(), at.clone())),
        _ => None,
    });
    let objects = objects.iter().map(|o| o.id.clone()).collect();
    Ok(StoredRun { run_id, summary, finished, entries, next_seq, objects })
}

/// Removes the objects of the stack's runs past the newest `keep` (never the run `current`),
/// and says how many runs went.
pub async fn collect(cluster: &dyn Cluster, stack: &str, keep: usize, current: &str) -> Result<usize, StateError> {
    let runs = runs(cluster, stack).await?;
    let mut collected = 0;
    for run in runs.iter().skip(keep.max(1)).filter(|r| r.run_id != current) {
        for id in &run.objects {
            match cluster.remove_config(id).await {
                Ok(()) | Err(ClusterError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        collected += 1;
    }
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fake::FakeCluster;
    use crate::undo::RunUndo;

    fn recorded(step: &str, command: &str) -> Entry {
        Entry::Recorded {
            step: step.into(),
            undo: Undo::Run(RunUndo { command: vec![command.into()], timeout_ms: 1000 }),
        }
    }

    #[tokio::test]
    async fn a_run_is_read_back_with_what_is_left_to_undo() {
        let fake = Arc::new(FakeCluster::new());
        let state = RunState::new(fake.clone(), "shop", "r-1", 0);
        for entry in [recorded("a", "undo-a"), recorded("b", "undo-b"), recorded("a", "undo-a2")] {
            state.write(&entry).await.unwrap();
        }
        state.write(&Entry::Undone { step: "b".into(), by_run: "r-1".into() }).await.unwrap();
        RunState::new(fake.clone(), "other", "r-2", 0).write(&recorded("x", "undo-x")).await.unwrap();

        let runs = runs(fake.as_ref(), "shop").await.unwrap();
        assert_eq!(runs.len(), 1, "another stack's runs are not this stack's");
        let pending = runs[0].pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1.describe(), "run `undo-a2`", "the newest record of a step counts");
        assert_eq!(runs[0].next_seq, 4);
    }

    #[tokio::test]
    async fn a_big_entry_is_cut_into_parts_and_one_without_all_its_parts_is_ignored() {
        let fake = Arc::new(FakeCluster::new());
        let state = RunState::new(fake.clone(), "shop", "r-1", 0);
        let big = "x".repeat(PART_BYTES * 2 + 10);
        state.write(&recorded("big", &big)).await.unwrap();
        let objects = fake.configs(&format!("{STACK}=shop")).await.unwrap();
        assert_eq!(objects.len(), 3, "a head and two parts");
        assert!(objects.iter().all(|o| o.data.len() <= PART_BYTES));
        let pending = runs(fake.as_ref(), "shop").await.unwrap()[0].pending();
        assert_eq!(pending[0].1.describe(), format!("run `{big}`"));

        let part = objects.iter().find(|o| o.labels.get(PART).map(String::as_str) == Some("2")).unwrap();
        fake.remove_config(&part.id).await.unwrap();
        let run = runs(fake.as_ref(), "shop").await.unwrap().remove(0);
        assert!(run.pending().is_empty(), "a head without its parts is a write that never finished");
    }

    #[tokio::test]
    async fn a_taken_name_moves_to_the_next_number() {
        let fake = Arc::new(FakeCluster::new());
        let first = RunState::new(fake.clone(), "shop", "r-1", 0);
        first.write(&recorded("a", "undo-a")).await.unwrap();
        // A rollback that read the run before `first` wrote again starts at the same number.
        let second = RunState::new(fake.clone(), "shop", "r-1", 1);
        first.write(&recorded("b", "undo-b")).await.unwrap();
        second.write(&Entry::Undone { step: "b".into(), by_run: "r-2".into() }).await.unwrap();
        let run = runs(fake.as_ref(), "shop").await.unwrap().remove(0);
        assert_eq!(run.entries.len(), 3);
        assert_eq!(run.pending().len(), 1);
    }

    #[tokio::test]
    async fn collecting_keeps_the_newest_runs_and_the_current_one() {
        let fake = Arc::new(FakeCluster::new());
        for run in ["r-1", "r-2", "r-3", "r-4"] {
            RunState::new(fake.clone(), "shop", run, 0).write(&recorded("a", "undo-a")).await.unwrap();
        }
        assert_eq!(collect(fake.as_ref(), "shop", 2, "r-1").await.unwrap(), 1);
        let left: Vec<String> = runs(fake.as_ref(), "shop").await.unwrap().into_iter().map(|r| r.run_id).collect();
        assert_eq!(left, ["r-4", "r-3", "r-1"]);
    }
}
