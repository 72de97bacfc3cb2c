//! The run journal: one JSON-lines file per run recording every event, so a person or a later
//! `planrun rollback` can see exactly what happened and undo it. Every line is synced to disk
//! before the run goes on: a step's undo record is on disk before the step changes anything.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::events::{Event, Events, Problem, Record, Sink, UndoOutcome};
use crate::undo::{Recorded, Undo};

/// Appends records to a run's journal file, syncing each line.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// Where a line that cannot be written is reported (the run's output, never this journal).
    warnings: Option<Events>,
}

/// Where a stack's journals live under a state directory.
pub fn stack_dir(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join("runs").join(stack)
}

impl Journal {
    /// Creates `<state_dir>/runs/<stack>/<run_id>.jsonl`.
    pub fn create(state_dir: &Path, stack: &str, run_id: &str) -> std::io::Result<Journal> {
        let dir = stack_dir(state_dir, stack);
        crate::private::create_dir_all(&dir)?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = crate::private::create_new(&path)?;
        Ok(Journal { path, file: Mutex::new(file), warnings: None })
    }

    /// Opens an existing journal to add to it (`planrun rollback` records its undos there).
    pub fn append(path: &Path) -> std::io::Result<Journal> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Journal { path: path.to_path_buf(), file: Mutex::new(file), warnings: None })
    }

    /// Reports a line that cannot be written to `output` (the run's output sinks, without this
    /// journal) as a warning.
    pub fn warning_to(mut self, output: Events) -> Journal {
        self.warnings = Some(output);
        self
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
        // A journal that cannot be written must not stop a rollback; the error is a warning.
        if let Err(e) = writeln!(file, "{line}").and_then(|_| file.sync_data())
            && let Some(output) = &self.warnings
        {
            let message = format!("cannot write the journal {}: {e}", self.path.display());
            output.emit(Event::Warning { problem: Problem { step: None, at: None, message } });
        }
    }
}

/// The largest journal [`read`] reads.
pub const MAX_BYTES: u64 = 64 << 20;

/// Reads a journal. Only its last line may be torn (a crash while writing it); any other line
/// that does not parse is an error, not something to skip: skipping an undo record would
/// silently leave a change in place.
pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
    let file = File::open(path)?;
    // A run writes kilobytes; a file far bigger is not a journal planrun wrote, and is not
    // read into memory.
    let bytes = file.metadata()?.len();
    if bytes > MAX_BYTES {
        return Err(std::io::Error::other(format!(
            "{} is {bytes} bytes, more than a journal planrun reads ({} MiB): not a run journal",
            path.display(),
            MAX_BYTES >> 20
        )));
    }
    let lines: Vec<String> = BufReader::new(file).lines().collect::<Result<_, _>>()?;
    let mut records = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(_) if n + 1 == lines.len() => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line {} is not a journal record ({e}); was it written by another planrun version?", n + 1),
                ));
            }
        }
    }
    Ok(records)
}

/// Steps recorded in a journal that have not been undone yet, newest first, with their records.
pub fn pending_undo(records: &[Record]) -> Vec<(String, Undo)> {
    let recorded = Recorded::default();
    for r in records {
        match &r.event {
            Event::StepRecorded { step, undo } => recorded.push(step, undo.clone()),
            Event::StepUndone { step, outcome: UndoOutcome::Succeeded, .. } => recorded.remove(step),
            _ => {}
        }
    }
    recorded.newest_first()
}

/// The run id a journal belongs to (its `run-started` event), if it says.
pub fn run_id(records: &[Record]) -> Option<String> {
    records.iter().find_map(|r| match &r.event {
        Event::RunStarted { run_id, .. } => Some(run_id.clone()),
        _ => None,
    })
}

/// The stack the journal's run deployed, from its first event.
pub fn stack(records: &[Record]) -> Option<String> {
    records.iter().find_map(|r| match &r.event {
        Event::RunStarted { stack, .. } => Some(stack.clone()),
        _ => None,
    })
}

/// The stack's journals, newest first (run ids sort by time).
pub fn all(state_dir: &Path, stack: &str) -> std::io::Result<Vec<PathBuf>> {
    let dir = stack_dir(state_dir, stack);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files.reverse();
    Ok(files)
}

/// The newest journal of the stack whose run left changes that are not undone (a run that
/// changed nothing, such as a check-only plan, or one already rolled back, is skipped), with
/// its records.
pub fn latest_with_changes(state_dir: &Path, stack: &str) -> std::io::Result<Option<(PathBuf, Vec<Record>)>> {
    for path in all(state_dir, stack)? {
        let records = read(&path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if !pending_undo(&records).is_empty() {
            return Ok(Some((path, records)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Events, StepOutcome};
    use crate::undo::RunUndo;

    fn run_undo(command: &str) -> Undo {
        Undo::Run(RunUndo { command: vec![command.into()], timeout_ms: 1000 })
    }

    fn journal(dir: &Path, stack: &str, run_id: &str, events: &[Event]) -> PathBuf {
        let journal = Journal::create(dir, stack, run_id).unwrap();
        let path = journal.path().to_path_buf();
        let events_out = Events::new(vec![Box::new(journal)]);
        events_out.emit(Event::RunStarted {
            run_id: run_id.into(),
            plan: "p".into(),
            stack: stack.into(),
            file: "plan.kdl".into(),
            on_failure: "rollback".into(),
        });
        for e in events {
            events_out.emit(e.clone());
        }
        path
    }

    fn recorded(step: &str, command: &str) -> Event {
        Event::StepRecorded { step: step.into(), undo: run_undo(command) }
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("planrun-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn pending_undo_is_newest_first_and_forgets_what_was_undone() {
        let events = [
            recorded("a", "undo-a"),
            recorded("b", "undo-b"),
            recorded("c", "undo-c"),
            Event::StepUndone { step: "c".into(), outcome: UndoOutcome::Succeeded, reason: None, took_ms: 1 },
            Event::StepUndone { step: "b".into(), outcome: UndoOutcome::Failed, reason: None, took_ms: 1 },
        ];
        let dir = tempdir("pending");
        let records = read(&journal(&dir, "s", "r-1", &events)).unwrap();
        let pending: Vec<String> = pending_undo(&records).into_iter().map(|(s, _)| s).collect();
        assert_eq!(pending, ["b", "a"]);
        assert_eq!(run_id(&records).as_deref(), Some("r-1"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_latest_run_with_changes_skips_runs_that_changed_nothing_or_were_undone() {
        let dir = tempdir("latest");
        let deployed = journal(&dir, "s", "r-20261201T100000Z-1", &[recorded("web", "undo-web")]);
        let check_only = Event::StepFinished {
            step: "c".into(),
            outcome: StepOutcome::Succeeded,
            reason: None,
            report: None,
            took_ms: 1,
        };
        journal(&dir, "s", "r-20261201T110000Z-2", &[check_only]);
        let undone = Event::StepUndone { step: "x".into(), outcome: UndoOutcome::Succeeded, reason: None, took_ms: 1 };
        journal(&dir, "s", "r-20261201T120000Z-3", &[recorded("x", "undo-x"), undone]);

        let (path, _) = latest_with_changes(&dir, "s").unwrap().unwrap();
        assert_eq!(path, deployed);
        assert!(latest_with_changes(&dir, "other").unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_file_too_big_to_be_a_journal_is_not_read() {
        let dir = tempdir("big");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r-big.jsonl");
        // Sparse: 65 MiB that take no disk and would take 65 MiB of memory to read.
        std::fs::File::create(&path).unwrap().set_len(MAX_BYTES + 1).unwrap();
        let error = read(&path).unwrap_err().to_string();
        assert!(error.ends_with("bytes, more than a journal planrun reads (64 MiB): not a run journal"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_a_torn_last_line_is_skipped() {
        let dir = tempdir("torn");
        let path = journal(&dir, "s", "r-1", &[recorded("web", "undo-web")]);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"at\":\"2026-12-01T10:0");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(pending_undo(&read(&path).unwrap()).len(), 1, "a torn last line is a crash while writing");

        let broken = text.replacen("step-recorded", "step-recorded-by-another-version", 1) + "\n{}\n";
        std::fs::write(&path, broken).unwrap();
        let error = read(&path).unwrap_err().to_string();
        assert!(error.starts_with("line 2 is not a journal record"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
