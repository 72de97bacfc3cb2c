//! planrun's own record of applied migrations, kept in the database it changed
//! (`planrun.migrations`), so a re-run anywhere knows what is applied: file, SHA-256, phase,
//! run id, time, and how many of its statements completed (a statement-by-statement
//! migration resumes after the last one).
//!
//! The record is written in the same transaction as a transactional migration, and after each
//! statement of one that is not, so it never says more than the database holds.

/// The key of planrun's session-level advisory lock on a database it migrates
/// (`pg_advisory_lock`): the bytes of `planrun`.
pub const LOCK: i64 = 0x70_6c61_6e72_756e;

/// Takes [`LOCK`], waiting at most `wait_ms`, then goes back to `lock_timeout_ms` (a DO block,
/// so psql prints nothing; a session-level lock outlives the block's transaction).
pub fn take_lock(wait_ms: u128, lock_timeout_ms: u128) -> String {
    format!(
        "SET lock_timeout = '{}ms'; DO $$ BEGIN PERFORM pg_advisory_lock({LOCK}); END $$; SET lock_timeout = '{}ms'",
        wait_ms.max(1),
        lock_timeout_ms.max(1)
    )
}

/// The SQLSTATE of a batch that found, under the migration lock, that another run got there
/// first ([`super::LedgerWrite::guard`]).
pub const MOVED_ON: &str = "PRL01";

/// Creates the schema and table when missing.
pub const ENSURE: &str = "CREATE SCHEMA IF NOT EXISTS planrun; \
CREATE TABLE IF NOT EXISTS planrun.migrations (\
file text PRIMARY KEY, sha256 text NOT NULL, phase text NOT NULL, run_id text NOT NULL, \
statements integer NOT NULL, completed integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";

/// What the ledger says of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The SHA-256 of the file as applied.
    pub sha256: String,
    /// Its phase.
    pub phase: String,
    /// The run that applied it.
    pub run_id: String,
    /// How many statements it has.
    pub statements: usize,
    /// How many completed.
    pub completed: usize,
}

impl Applied {
    /// Whether every statement completed.
    pub fn complete(&self) -> bool {
        self.completed >= self.statements
    }
}

/// The entry a migration writes as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file, as the plan names it.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its phase.
    pub phase: String,
    /// This run.
    pub run_id: String,
    /// How many statements it has.
    pub statements: usize,
}

impl Entry {
    /// The statement recording that `completed` statements are done.
    pub fn upsert(&self, completed: usize) -> String {
        format!(
            "INSERT INTO planrun.migrations (file, sha256, phase, run_id, statements, completed) \
             VALUES ({}, {}, {}, {}, {}, {completed}) ON CONFLICT (file) DO UPDATE SET \
             sha256 = EXCLUDED.sha256, phase = EXCLUDED.phase, run_id = EXCLUDED.run_id, \
             statements = EXCLUDED.statements, completed = EXCLUDED.completed, applied_at = now()",
            literal(&self.file),
            literal(&self.sha256),
            literal(&self.phase),
            literal(&self.run_id),
            self.statements
        )
    }
}

/// The query reading one file's entry.
pub fn select(file: &str) -> String {
    format!(
        "SELECT sha256, phase, run_id, statements, completed FROM planrun.migrations WHERE file = {}",
        literal(file)
    )
}

/// The statement forgetting a file (its `down` ran).
pub fn forget(file: &str) -> String {
    format!("DELETE FROM planrun.migrations WHERE file = {}", literal(file))
}

/// Reads [`select`]'s rows.
pub fn parse(rows: &[Vec<Option<String>>]) -> Option<Applied> {
    let row = rows.first()?;
    let col = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    Some(Applied {
        sha256: col(0),
        phase: col(1),
        run_id: col(2),
        statements: col(3).parse().ok()?,
        completed: col(4).parse().ok()?,
    })
}

/// A SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_round_trips_through_its_row() {
        let e = Entry {
            file: "migrations/it's.sql".into(),
            sha256: "ab".into(),
            phase: "expand".into(),
            run_id: "r1".into(),
            statements: 3,
        };
        assert!(e.upsert(2).contains("'migrations/it''s.sql'"));
        let row = vec![Some("ab".into()), Some("expand".into()), Some("r1".into()), Some("3".into()), Some("2".into())];
        let applied = parse(&[row]).unwrap();
        assert_eq!((applied.completed, applied.complete()), (2, false));
        assert_eq!(parse(&[]), None);
    }
}
