//! The run journal: one JSON-lines file per run recording every event, so a person or a later
//! `planrun rollback` can see exactly what happened and undo it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::events::{Event, Record, Sink};

/// Appends records to a run's journal file, flushing each line.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

/// Where a stack's journals live under a state directory.
pub fn stack_dir(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join("runs").join(stack)
}

impl Journal {
    /// Creates `<state_dir>/runs/<stack>/<run_id>.jsonl`.
    pub fn create(state_dir: &Path, stack: &str, run_id: &str) -> std::io::Result<Journal> {
        let dir = stack_dir(state_dir, stack);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = OpenOptions::new().create_new(true).append(true).open(&path)?;
        Ok(Journal { path, file: Mutex::new(file) })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Sink for Journal {
    fn record(&self, record: &Record) {
        let Ok(line) = serde_json::to_string(record) else { return };
        let mut file = self.file.lock().expect("journal lock poisoned");
        // A journal that cannot be written must not stop a rollback; the error goes to stderr.
        if let Err(e) = writeln!(file, "{line}").and_then(|_| file.sync_data()) {
            eprintln!("warning: cannot write the journal {}: {e}", self.path.display());
        }
    }
}

/// Reads a journal; lines that do not parse (a torn last line after a crash) are skipped.
pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
    let file = File::open(path)?;
    Ok(BufReader::new(file).lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect())
}

/// The newest run journal of a stack that changed something, by file name (run ids sort by time).
pub fn latest(state_dir: &Path, stack: &str) -> std::io::Result<Option<PathBuf>> {
    let dir = stack_dir(state_dir, stack);
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    Ok(files.pop())
}

/// Steps recorded in a journal that have not been undone yet, newest first, with their undo data.
pub fn pending_undo(records: &[Record]) -> Vec<(String, String, serde_json::Value)> {
    let mut pending: Vec<(String, String, serde_json::Value)> = Vec::new();
    let mut kinds: std::collections::HashMap<String, String> = Default::default();
    for r in records {
        match &r.event {
            Event::StepStarted { step, kind } => {
                kinds.insert(step.clone(), kind.clone());
            }
            Event::StepRecorded { step, undo } => {
                pending.retain(|(s, _, _)| s != step);
                pending.push((step.clone(), kinds.get(step).cloned().unwrap_or_default(), undo.clone()));
            }
            Event::StepUndone { step, outcome, .. } if outcome == "succeeded" => {
                pending.retain(|(s, _, _)| s != step);
            }
            _ => {}
        }
    }
    pending.reverse();
    pending
}
