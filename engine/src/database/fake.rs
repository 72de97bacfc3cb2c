//! An in-memory database for unit tests and simulations: statements take a set time on
//! tokio's clock, chosen statements fail (a lock timeout a number of times, a syntax error
//! always), the ledger is a map, a dump is a few bytes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use plans::database::Database;

use super::ledger::{Applied, Entry};
use super::{Batch, Databases, DbError, Dump, LedgerWrite, Postgres, Ran, SqlError, sha256_of};

/// The fake database (one, whatever a step names).
#[derive(Clone, Default)]
pub struct FakePostgres {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Statements that took effect, in order.
    applied: Vec<String>,
    ledger: HashMap<String, Applied>,
    /// (text in the statement, SQLSTATE, times left; `usize::MAX` = always).
    failures: Vec<(String, String, usize)>,
    statement_time: Duration,
    dumps: usize,
    /// Whether dumps come out cut short.
    bad_dumps: bool,
    /// How long a dump takes.
    dump_time: Duration,
}

impl FakePostgres {
    /// A database where every statement succeeds at once.
    pub fn new() -> FakePostgres {
        FakePostgres::default()
    }

    /// Each statement takes this long.
    pub fn statement_time(&self, takes: Duration) {
        self.state.lock().unwrap().statement_time = takes;
    }

    /// A statement containing `text` fails with `sqlstate` the next `times` times.
    pub fn fail(&self, text: &str, sqlstate: &str, times: usize) {
        self.state.lock().unwrap().failures.push((text.into(), sqlstate.into(), times));
    }

    /// Each dump takes this long.
    pub fn dump_time(&self, takes: Duration) {
        self.state.lock().unwrap().dump_time = takes;
    }

    /// Dumps come out unreadable.
    pub fn bad_dumps(&self) {
        self.state.lock().unwrap().bad_dumps = true;
    }

    /// Statements that took effect.
    pub fn applied_statements(&self) -> Vec<String> {
        self.state.lock().unwrap().applied.clone()
    }

    /// How many dumps were taken.
    pub fn dumps(&self) -> usize {
        self.state.lock().unwrap().dumps
    }

    fn failure(&self, statement: &str) -> Option<String> {
        let mut state = self.state.lock().unwrap();
        let f = state.failures.iter_mut().find(|(text, _, left)| statement.contains(text.as_str()) && *left > 0)?;
        if f.2 != usize::MAX {
            f.2 -= 1;
        }
        Some(f.1.clone())
    }

    fn write(&self, ledger: &LedgerWrite, completed: usize) {
        let mut state = self.state.lock().unwrap();
        match ledger {
            LedgerWrite::Progress { entry, .. } => {
                let Entry { file, sha256, phase, run_id, statements } = entry.clone();
                state.ledger.insert(file, Applied { sha256, phase, run_id, statements, completed });
            }
            LedgerWrite::Forget(file) => {
                state.ledger.remove(file);
            }
        }
    }
}

#[async_trait]
impl Postgres for FakePostgres {
    fn describe(&self) -> String {
        "the fake database".into()
    }

    async fn dump(&self, file: &Path) -> Result<Dump, DbError> {
        let (bad, takes) = {
            let mut state = self.state.lock().unwrap();
            state.dumps += 1;
            (state.bad_dumps, state.dump_time)
        };
        let body: &[u8] = if bad { b"PGDMP-cut" } else { b"PGDMP-fake-dump-complete" };
        // Written at once and finished after `takes`, as pg_dump fills its file as it goes.
        tokio::fs::write(file, &body[..4]).await.map_err(|e| DbError::File(e.to_string()))?;
        tokio::time::sleep(takes).await;
        tokio::fs::write(file, body).await.map_err(|e| DbError::File(e.to_string()))?;
        let (bytes, sha256) = sha256_of(file).await?;
        Ok(Dump { path: file.to_owned(), bytes, sha256 })
    }

    async fn verify(&self, file: &Path) -> Result<(), DbError> {
        let body = tokio::fs::read(file).await.map_err(|e| DbError::File(e.to_string()))?;
        if body.ends_with(b"complete") { Ok(()) } else { Err(DbError::BadDump("cut short".into())) }
    }

    async fn restore(&self, file: &Path) -> Result<(), DbError> {
        self.verify(file).await
    }

    async fn run(&self, batch: &Batch) -> Result<Ran, DbError> {
        let takes = self.state.lock().unwrap().statement_time;
        let mut done = Vec::new();
        for (index, statement) in batch.statements.iter().enumerate() {
            tokio::time::sleep(takes).await;
            if let Some(sqlstate) = self.failure(statement) {
                let error = SqlError { index, sqlstate, message: "fake failure".into(), position: Some(1) };
                if batch.transactional {
                    return Ok(Ran { completed: 0, error: Some(error) });
                }
                return Ok(Ran { completed: index, error: Some(error) });
            }
            if batch.transactional {
                done.push(statement.clone());
            } else {
                self.state.lock().unwrap().applied.push(statement.clone());
                if let Some(ledger) = &batch.ledger
                    && ledger.after(index, batch.statements.len()).is_some()
                {
                    let already = match ledger {
                        LedgerWrite::Progress { already, .. } => *already,
                        LedgerWrite::Forget(_) => 0,
                    };
                    self.write(ledger, already + index + 1);
                }
            }
        }
        if batch.transactional {
            self.state.lock().unwrap().applied.extend(done);
            if let Some(ledger) = &batch.ledger {
                let already = match ledger {
                    LedgerWrite::Progress { already, .. } => *already,
                    LedgerWrite::Forget(_) => 0,
                };
                self.write(ledger, already + batch.statements.len());
            }
        }
        Ok(Ran { completed: batch.statements.len(), error: None })
    }

    async fn query(&self, _sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        Ok(Vec::new())
    }

    async fn end_sessions(&self, _tag: &str) -> Result<(), DbError> {
        Ok(())
    }

    async fn applied(&self, file: &str) -> Result<Option<Applied>, DbError> {
        Ok(self.state.lock().unwrap().ledger.get(file).cloned())
    }
}

#[async_trait]
impl Databases for FakePostgres {
    async fn open_target(&self, _target: &super::Target, _run_id: &str) -> Result<Arc<dyn Postgres>, DbError> {
        Ok(Arc::new(self.clone()))
    }

    fn target(&self, db: &Database) -> Result<super::Target, super::TargetError> {
        let defaults = plans::project::DatabaseConfig { service: Some("fake".into()), ..Default::default() };
        super::Target::resolve(db, Some(&defaults))
    }
}
