//! Statements through `psql`, for databases reached by `exec` or by a job: the batch becomes a
//! psql script that marks each completed statement on stdout, and the output is read back
//! into a [`Ran`]. One script and one reader for both routes.
//!
//! psql stops at the first error (`ON_ERROR_STOP`), and with `VERBOSITY verbose` writes it as
//! `psql:<stdin>:12: ERROR:  55P03: canceling statement due to lock timeout`, followed by
//! `LINE 1: ...` and a caret under the position the server gave.

use super::{Batch, Ran, SqlError, ledger};

/// What a completed statement's marker starts with.
const DONE: &str = "planrun-done ";
/// The marker after the transaction committed.
const COMMITTED: &str = "planrun-committed";

/// The options psql runs a script with: no `.psqlrc`, stop at the first error, quiet.
pub fn script_args() -> Vec<String> {
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-f", "-"].iter().map(|s| s.to_string()).collect()
}

/// The options psql runs a query with: unaligned, tuples only, unit and record separators, a
/// marker for NULL.
pub fn query_args(sql: &str) -> Vec<String> {
    let mut args: Vec<String> = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\u{1f}", "-R", "\u{1e}", "-P"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(format!("null={NULL}"));
    args.push("-c".into());
    args.push(sql.into());
    args
}

/// How psql shows NULL in query output.
const NULL: &str = "\u{1d}";

/// The psql script for a batch.
pub fn script(batch: &Batch) -> String {
    let mut s = String::new();
    s.push_str(&format!("SET lock_timeout = '{}ms';\n", batch.lock_timeout.as_millis().max(1)));
    s.push_str(&format!("SET statement_timeout = '{}ms';\n", batch.statement_timeout.as_millis().max(1)));
    if batch.migration_lock {
        s.push_str(&ledger::take_lock(batch.statement_timeout.as_millis(), batch.lock_timeout.as_millis()));
        s.push_str(";\n");
        if let Some(ledger) = &batch.ledger {
            s.push_str(&ledger.guard());
            s.push_str(";\n");
        }
    }
    if batch.transactional {
        s.push_str("BEGIN;\n");
    }
    for (i, statement) in batch.statements.iter().enumerate() {
        let write = if batch.transactional {
            None
        } else {
            batch.ledger.as_ref().and_then(|l| l.after(i, batch.statements.len()))
        };
        let paired = write.is_some() && batch.pairing.paired(i);
        if paired {
            s.push_str("BEGIN;\n");
        }
        s.push_str(statement.trim_end());
        // A statement ending in a `--` comment would swallow the `;` on its own line.
        s.push_str("\n;\n");
        if let Some(write) = write {
            s.push_str(&write);
            s.push_str(";\n");
        }
        if paired {
            s.push_str("COMMIT;\n");
        }
        s.push_str(&format!("\\echo {DONE}{i}\n"));
    }
    if batch.transactional {
        if let Some(ledger) = &batch.ledger {
            s.push_str(&ledger.at_commit(batch.statements.len()));
            s.push_str(";\n");
        }
        s.push_str("COMMIT;\n");
    }
    s.push_str(&format!("\\echo {COMMITTED}\n"));
    s
}

/// Reads psql's output (stdout and stderr, in any order) for `batch` back into a [`Ran`];
/// `None` when psql did not get as far as running anything (it could not connect): the caller
/// reports the tool's failure.
pub fn read(batch: &Batch, output: &str) -> Option<Ran> {
    let done = output.lines().filter_map(|l| l.trim().strip_prefix(DONE)).filter_map(|n| n.parse::<usize>().ok());
    let done = done.map(|n| n + 1).max().unwrap_or(0);
    let committed = output.lines().any(|l| l.trim() == COMMITTED);
    if committed {
        return Some(Ran { completed: batch.statements.len(), error: None });
    }
    let (sqlstate, message) = output.lines().find_map(error_line)?;
    let index = done.min(batch.statements.len().saturating_sub(1));
    let position = batch.statements.get(index).and_then(|s| caret_position(s, output));
    let completed = if batch.transactional { 0 } else { done };
    Some(Ran { completed, error: Some(SqlError { index, sqlstate, message, position }) })
}

/// `psql:<stdin>:12: ERROR:  55P03: message` → (`55P03`, `message`).
fn error_line(line: &str) -> Option<(String, String)> {
    let at = line.find("ERROR:")?;
    let rest = line[at + "ERROR:".len()..].trim_start();
    let (code, message) = rest.split_once(": ")?;
    let valid = code.len() == 5 && code.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    valid.then(|| (code.to_owned(), message.trim().to_owned()))
}

/// The server's error position (1-based characters into `statement`) from psql's
/// `LINE n: text` and the caret line under it.
fn caret_position(statement: &str, output: &str) -> Option<usize> {
    let lines: Vec<&str> = output.lines().collect();
    let i = lines.iter().position(|l| l.starts_with("LINE "))?;
    let (head, shown) = lines[i].split_once(": ")?;
    let line_no: usize = head.strip_prefix("LINE ")?.trim().parse().ok()?;
    let caret = lines.get(i + 1)?.find('^')?;
    let prefix = head.chars().count() + 2;
    let (shown, skipped) = match shown.strip_prefix("...") {
        Some(rest) => (rest, 3),
        None => (shown, 0),
    };
    let shown = shown.strip_suffix("...").unwrap_or(shown);
    let statement_lines: Vec<&str> = statement.split('\n').collect();
    let actual = statement_lines.get(line_no.checked_sub(1)?)?;
    let start = actual.find(shown.get(..shown.len().min(20))?)?;
    let column = actual[..start].chars().count() + caret.checked_sub(prefix + skipped)?;
    let before: usize = statement_lines[..line_no - 1].iter().map(|l| l.chars().count() + 1).sum();
    Some(before + column + 1)
}

/// Rows of a query run with [`query_args`].
pub fn rows(stdout: &str) -> Vec<Vec<Option<String>>> {
    stdout
        .split('\u{1e}')
        .map(|r| r.trim_matches('\n'))
        .filter(|r| !r.is_empty())
        .map(|r| r.split('\u{1f}').map(|c| (c != NULL).then(|| c.to_owned())).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn batch(statements: &[&str], transactional: bool) -> Batch {
        Batch {
            statements: statements.iter().map(|s| s.to_string()).collect(),
            transactional,
            lock_timeout: Duration::from_millis(500),
            statement_timeout: Duration::from_secs(60),
            ledger: None,
            pairing: super::super::Pairing::Unpaired,
            migration_lock: false,
        }
    }

    #[test]
    fn one_by_one_each_statement_shares_a_transaction_with_its_ledger_write_unless_it_cannot() {
        use super::super::{LedgerWrite, Pairing, ledger::Entry};
        let statements: Vec<String> =
            ["ALTER TABLE a ADD b int", "CREATE INDEX CONCURRENTLY i ON a (b)"].iter().map(|s| s.to_string()).collect();
        let entry = Entry {
            file: "f.sql".into(),
            sha256: "x".into(),
            phase: "expand".into(),
            run_id: "r".into(),
            statements: 2,
        };
        let b = Batch {
            pairing: Pairing::of(&statements),
            statements,
            ledger: Some(LedgerWrite::Progress { entry: entry.clone(), already: 0 }),
            migration_lock: true,
            ..batch(&[], false)
        };
        let s = script(&b);
        let lock = s.find("pg_advisory_lock").unwrap();
        let first =
            format!("BEGIN;\nALTER TABLE a ADD b int\n;\n{};\nCOMMIT;\n\\echo planrun-done 0\n", entry.upsert(1));
        let second = format!("CREATE INDEX CONCURRENTLY i ON a (b)\n;\n{};\n\\echo planrun-done 1\n", entry.upsert(2));
        assert!(lock < s.find(&first).unwrap(), "{s}");
        assert!(s.contains(&second), "the concurrent index runs alone: {s}");
        assert_eq!(Pairing::of(&["BEGIN".to_string(), "SELECT 1".to_string()]), Pairing::Unpaired);
    }

    #[test]
    fn a_script_sets_the_timeouts_and_marks_every_statement() {
        let s = script(&batch(&["CREATE TABLE a (id int)", "ALTER TABLE a ADD b int -- note"], true));
        assert_eq!(
            s,
            "SET lock_timeout = '500ms';\nSET statement_timeout = '60000ms';\nBEGIN;\n\
             CREATE TABLE a (id int)\n;\n\\echo planrun-done 0\n\
             ALTER TABLE a ADD b int -- note\n;\n\\echo planrun-done 1\n\
             COMMIT;\n\\echo planrun-committed\n"
        );
    }

    #[test]
    fn a_failure_names_its_statement_sqlstate_and_position() {
        let b = batch(&["CREATE TABLE a (id int)", "SELECT 1", "ALTER TABLE a\n  ADD COLUMN b nosuchtype"], false);
        let output = "planrun-done 0\nplanrun-done 1\n\
            psql:<stdin>:9: ERROR:  42704: type \"nosuchtype\" does not exist\n\
            LINE 2:   ADD COLUMN b nosuchtype\n\
            \x20                      ^\n\
            LOCATION:  typenameType, parse_type.c:270\n";
        let ran = read(&b, output).unwrap();
        assert_eq!(ran.completed, 2);
        let e = ran.error.unwrap();
        assert_eq!((e.index, e.sqlstate.as_str()), (2, "42704"));
        assert_eq!(e.message, "type \"nosuchtype\" does not exist");
        // "ALTER TABLE a\n" is 14 characters; `nosuchtype` starts at column 16 of line 2.
        assert_eq!(e.position, Some(14 + 15 + 1));
        assert_eq!(&b.statements[2][e.position.unwrap() - 1..], "nosuchtype");
    }

    #[test]
    fn a_failed_transaction_completed_nothing_and_a_committed_one_everything() {
        let b = batch(&["UPDATE a SET b = 1", "ALTER TABLE a DROP x"], true);
        let failed =
            read(&b, "planrun-done 0\npsql:<stdin>:6: ERROR:  55P03: canceling statement due to lock timeout\n");
        let failed = failed.unwrap();
        assert_eq!(failed.completed, 0);
        assert!(failed.error.as_ref().unwrap().is_lock_timeout());
        assert_eq!(failed.error.unwrap().index, 1);
        let ok = read(&b, "planrun-done 0\nplanrun-done 1\nplanrun-committed\n").unwrap();
        assert_eq!(ok, Ran { completed: 2, error: None });
        assert_eq!(read(&b, "psql: error: connection to server failed"), None);
    }

    #[test]
    fn query_rows_keep_nulls_apart_from_empty_strings() {
        let out = "a.sql\u{1f}abc\u{1f}\u{1d}\u{1e}b.sql\u{1f}\u{1f}7\u{1e}";
        assert_eq!(
            rows(out),
            vec![
                vec![Some("a.sql".into()), Some("abc".into()), None],
                vec![Some("b.sql".into()), Some(String::new()), Some("7".into())]
            ]
        );
    }
}
