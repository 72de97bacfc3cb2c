//! `migrate` at run time: one SQL file, one phase of an expand/contract change.
//!
//! - It starts only after a backup of the same database verified earlier in this run, unless
//!   the step says `require-backup #false`.
//! - planrun's ledger (`planrun.migrations`, in the database) says what is applied: a file
//!   applied in full is skipped, a file whose content changed since is refused, a
//!   statement-by-statement file resumes after its last completed statement.
//! - planrun sets `lock_timeout` (the step's `lock-timeout`) and `statement_timeout` itself.
//!   A statement cancelled by the lock timeout is retried with backoff, a bounded number of
//!   times, so traffic never queues behind the migration for longer than the lock timeout.
//! - Before its first statement it records its `down` statements (read now, so `planrun
//!   rollback` needs neither the plan nor the file) and the newest verified dump.
//! - A statement the server refuses is reported at its file, line and column with SQLSTATE and
//!   message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use plans::spanned::Spanned;
use plans::sql::{self, Statement};
use plans::steps::Migrate;
use plans::steps::migrate::SqlFile as ResolvedFile;

use super::LiveFacts;
use super::{Behavior, Findings, Refusal, StepError};
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::{RunContext, StepContext};
use crate::database::ledger::Entry;
use crate::database::{Batch, LedgerWrite, Pairing, Postgres, Ran, SqlError};
use crate::events::StepOutcome;
use crate::events::UndoOutcome;
use crate::undo::{DownFile, MigrateUndo, Undo};

/// How many times a statement cancelled by the lock timeout is tried again.
pub const LOCK_RETRIES: usize = 5;
/// The first wait before a retry; it doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// A SQL file as the plan's checker read and split it, with where it is.
struct SqlFile<'a> {
    name: String,
    path: PathBuf,
    text: &'a str,
    statements: &'a [Statement],
    sha256: String,
}

/// The step's files, `up` and `down`, as the plan's checker read and split them: a run never
/// reads or splits them again. A plan checked without its files is refused.
fn files<'a>(plan_dir: &Path, step: &'a Migrate) -> Result<(SqlFile<'a>, Option<SqlFile<'a>>), Refusal> {
    let not_read = |name: &Spanned<String>| Refusal::SqlNotRead { file: name.value.clone() };
    let resolved = step.resolved.as_deref().ok_or_else(|| not_read(&step.file))?;
    let up = sql_file(plan_dir, &step.file.value, &resolved.file)?;
    let down = match (&step.down, &resolved.down) {
        (Some(name), Some(file)) => Some(sql_file(plan_dir, &name.value, file)?),
        (Some(name), None) => return Err(not_read(name)),
        (None, _) => None,
    };
    Ok((up, down))
}

/// One file, refused when it holds a psql command (`\set`), which the server does not know.
fn sql_file<'a>(plan_dir: &Path, name: &str, file: &'a ResolvedFile) -> Result<SqlFile<'a>, Refusal> {
    if let Some(meta) = file.statements.iter().find(|s| s.text.starts_with('\\')) {
        return Err(Refusal::PsqlCommand {
            file: name.to_owned(),
            line: meta.line,
            command: meta.text.lines().next().unwrap_or("").to_owned(),
        });
    }
    Ok(SqlFile {
        name: name.to_owned(),
        path: plan_dir.join(name),
        text: &file.text,
        statements: &file.statements,
        sha256: crate::database::sha256_hex(file.text.as_bytes()),
    })
}

#[async_trait]
impl Behavior for Migrate {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let mut findings = Findings::default();
        match ctx.run.databases.target(&self.database) {
            Err(why) => findings.problems.push(why.to_string()),
            Ok(target) => findings.warnings.extend(target.unverified()),
        }
        if let Err(e) = files(&ctx.plan_dir, self) {
            findings.problems.push(e.to_string());
        }
        findings
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        let target = ctx.run.databases.target(&self.database).map_err(Refusal::Database)?;
        let newest_dump = {
            let backups = ctx.run.backups.lock().expect("backups lock");
            backups.iter().rev().find(|(db, _)| *db == target.describe()).map(|(_, d)| d.path.display().to_string())
        };
        if self.require_backup && newest_dump.is_none() {
            return Err(Refusal::NoBackup { database: target.describe() }.into());
        }
        let (up, down) = files(&ctx.plan_dir, self)?;
        let db = ctx.run.databases.open(&self.database, &ctx.run.run_id).await?;
        let applied = db.applied(&up.name).await?;
        let already = match applied {
            Some(a) if a.sha256 != up.sha256 => {
                return Err(Refusal::AppliedFileChanged {
                    file: up.name,
                    partial: (!a.complete()).then_some((a.completed, a.statements)),
                    run_id: a.run_id,
                }
                .into());
            }
            Some(a) if a.complete() => {
                ctx.progress(format!("{} is already applied (run {}): nothing to do", up.name, a.run_id));
                return Ok(());
            }
            Some(a) => {
                ctx.progress(format!(
                    "{} stopped after {} of {} statements (run {}): resuming",
                    up.name, a.completed, a.statements, a.run_id
                ));
                a.completed
            }
            None => 0,
        };
        ctx.record(Undo::Migrate(Box::new(MigrateUndo {
            target: target.clone(),
            database_name: target.describe(),
            run_id: ctx.run.run_id.clone(),
            file: up.name.clone(),
            down: down.map(|d| DownFile {
                file: d.name,
                statements: d.statements.iter().map(|s| s.text.clone()).collect(),
                transactional: self.transactional,
            }),
            restore_from: newest_dump,
            lock_timeout_ms: self.lock_timeout.as_millis(),
            statement_timeout_ms: self.statement_timeout.as_millis(),
        })))
        .await?;
        let entry = Entry {
            file: up.name.clone(),
            sha256: up.sha256.clone(),
            phase: phase_word(self.phase).into(),
            run_id: ctx.run.run_id.clone(),
            statements: up.statements.len(),
        };
        let mut statements: Vec<String> = up.statements[already..].iter().map(|s| s.text.clone()).collect();
        if already > 0 && !self.transactional {
            resume_concurrent_index(ctx, db.as_ref(), &mut statements, self.lock_timeout.to_std()).await?;
        }
        let batch = Batch {
            pairing: Pairing::of(&statements),
            statements,
            transactional: self.transactional,
            lock_timeout: self.lock_timeout.to_std(),
            statement_timeout: self.statement_timeout.to_std(),
            ledger: Some(LedgerWrite::Progress { entry, already }),
            migration_lock: true,
        };
        ctx.progress(format!(
            "applying {} ({} statements{}) to {}",
            up.name,
            batch.statements.len(),
            if self.transactional { ", one transaction" } else { ", one by one" },
            db.describe()
        ));
        let error = run_with_retries(ctx.run.as_ref(), &ctx.step, db.as_ref(), batch).await?;
        match error {
            None => Ok(()),
            Some((e, _)) if e.sqlstate == crate::database::ledger::MOVED_ON => Err(StepError::Sql {
                at: up.name.clone(),
                sqlstate: e.sqlstate,
                message: format!("{}: nothing ran; `planrun apply` again finds what it applied", e.message),
                excerpt: String::new(),
            }),
            Some((e, offset)) => Err(sql_error(&up, &up.statements[already + offset + e.index], &e)),
        }
    }

    fn preview(&self) -> Vec<String> {
        let undo =
            self.down.as_ref().map(|d| format!("; undo runs {}", d.value)).unwrap_or_else(|| "; no down file".into());
        let phase = format!("{:?}", self.phase).to_lowercase();
        vec![format!("runs {} on {} ({phase} phase{undo})", self.file.value, self.database.key())]
    }

    async fn live(&self, _cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        Ok(LiveFacts::default())
    }

    fn drill(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn drilled(&self, finished: Option<StepOutcome>, undone: Option<UndoOutcome>) -> Option<(String, String)> {
        let state = match (finished, undone) {
            (None, _) => "not reached".to_owned(),
            (Some(o), None) => format!("migration {o}, left applied"),
            (Some(o), Some(u)) => format!("migration {o}, then undone ({u})"),
        };
        Some((self.database.key(), state))
    }
}

/// A run that stopped (crashed) during a `CREATE INDEX CONCURRENTLY` leaves the index behind,
/// INVALID: running the statement again would fail ("already exists"), and with `IF NOT
/// EXISTS` would keep the broken index. So when a resumed migration starts with one, an
/// INVALID index of that name is dropped first, and a VALID one (the build finished, only the
/// ledger write was lost) counts the statement as done.
async fn resume_concurrent_index(
    ctx: &StepContext,
    db: &dyn crate::database::Postgres,
    statements: &mut [String],
    lock_timeout: Duration,
) -> Result<(), StepError> {
    let Some(index) = statements.first().and_then(|s| plans::sql::concurrent_index(s)) else { return Ok(()) };
    let literal = crate::database::ledger::literal(&index);
    let rows = db.query(&format!("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass({literal})")).await?;
    match rows.first().and_then(|r| r.first().cloned().flatten()).as_deref() {
        Some("t") => {
            ctx.progress(format!("index {index} was built by the stopped run: its statement counts as done"));
            statements[0] = format!("SELECT 'index {} already built'", index.replace('\'', "''"));
        }
        Some(_) => {
            ctx.progress(format!("index {index} was left INVALID by the stopped run: dropping it to build it again"));
            let drop = vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {index}")];
            let batch = Batch {
                pairing: Pairing::of(&drop),
                statements: drop,
                transactional: false,
                lock_timeout,
                statement_timeout: Duration::from_secs(600),
                ledger: None,
                migration_lock: false,
            };
            if let Some(e) = db.run(&batch).await?.error {
                return Err(StepError::Sql {
                    at: format!("dropping the INVALID index {index}"),
                    sqlstate: e.sqlstate,
                    message: e.message,
                    excerpt: String::new(),
                });
            }
        }
        None => {}
    }
    Ok(())
}

/// Runs `batch`, retrying lock timeouts with backoff; the final error, if any, with the number
/// of statements completed by earlier attempts (so its statement is `offset + index`).
async fn run_with_retries(
    run: &RunContext,
    step: &str,
    db: &dyn Postgres,
    mut batch: Batch,
) -> Result<Option<(SqlError, usize)>, StepError> {
    let mut offset = 0;
    let mut backoff = FIRST_BACKOFF;
    for attempt in 0..=LOCK_RETRIES {
        let Ran { completed, error } = db.run(&batch).await?;
        let Some(error) = error else { return Ok(None) };
        if !error.is_lock_timeout() || attempt == LOCK_RETRIES {
            return Ok(Some((error, offset)));
        }
        // Statement by statement: what completed stays done; go on from the one that waited.
        // The ledger, written with each statement, is the truth of what completed (the
        // output's markers are only what planrun saw).
        let completed = match batch.ledger.as_ref() {
            Some(LedgerWrite::Progress { entry, already }) if !batch.transactional => {
                db.applied(&entry.file).await?.map(|a| a.completed.saturating_sub(*already)).unwrap_or(completed)
            }
            _ => completed,
        };
        if !batch.transactional && completed > 0 {
            let completed = completed.min(batch.statements.len());
            batch.statements.drain(..completed);
            offset += completed;
            if let Some(LedgerWrite::Progress { already, .. }) = batch.ledger.as_mut() {
                *already += completed;
            }
        }
        run.progress(
            step,
            format!(
                "lock timeout ({}): retry {} of {LOCK_RETRIES} in {}",
                error.message,
                attempt + 1,
                crate::clock::seconds(backoff)
            ),
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    unreachable!("the last attempt returns")
}

/// The server's error at its place in the file, with the file's lines around it rendered as a
/// diagnostic (no colour: it goes into the journal too).
fn sql_error(file: &SqlFile, statement: &Statement, e: &SqlError) -> StepError {
    let offset = e.position.map(|p| sql::position_to_offset(statement, p)).unwrap_or(statement.span.start);
    let (line, column) = line_column(file.text, offset);
    let word = file.text[offset..].find(|c: char| c.is_whitespace() || c == ';').unwrap_or(file.text.len() - offset);
    let label = if e.position.is_some() { "the server stopped here" } else { "in this statement" };
    let diagnostic = miette::MietteDiagnostic::new(e.message.clone())
        .with_code(format!("SQLSTATE {}", e.sqlstate))
        .with_label(miette::LabeledSpan::at(offset..offset + word.max(1), label));
    let report = miette::Report::new(diagnostic)
        .with_source_code(miette::NamedSource::new(file.path.display().to_string(), file.text.to_owned()));
    let mut excerpt = String::new();
    let renderer = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_links(false)
        .with_width(100);
    let _ = renderer.render_report(&mut excerpt, report.as_ref());
    StepError::Sql {
        at: format!("{}:{line}:{column}", file.path.display()),
        sqlstate: e.sqlstate.clone(),
        message: e.message.clone(),
        excerpt: excerpt.trim_end().to_owned(),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn phase_word(phase: plans::steps::migrate::Phase) -> &'static str {
    match phase {
        plans::steps::migrate::Phase::Expand => "expand",
        plans::steps::migrate::Phase::Migrate => "migrate",
        plans::steps::migrate::Phase::Contract => "contract",
    }
}

/// A migration without a `down` file, met by a rollback: planrun cannot undo it, so the
/// rollback stops there and says how to restore the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Irreversible {
    /// The migration's SQL file.
    pub file: String,
    /// The database, described.
    pub database: String,
    /// The dump this run took before the migration, if it took one.
    pub dump: Option<String>,
    /// The stack, for the restore command.
    pub stack: String,
}

impl std::fmt::Display for Irreversible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Irreversible { file, database, dump, stack } = self;
        write!(f, "{file} has no down file, so planrun cannot undo it on {database} and stops the rollback here: ")?;
        match dump {
            Some(dump) => write!(f, "restore the dump this run took: planrun restore {stack} {dump}"),
            None => f.write_str("restore it from your own backup (this run took none)"),
        }
    }
}

/// Runs the recorded `down` statements and forgets the migration in the ledger; without a
/// `down`, stops the rollback here with the restore command.
pub async fn undo(step: &str, record: &MigrateUndo, ctx: &RunContext) -> Result<(), StepError> {
    let db = ctx.databases.open_target(&record.target, &ctx.run_id).await?;
    // What the stopped run may have left running ends first (a transaction in flight rolls
    // back), so the ledger below says what stays.
    db.end_sessions(&crate::database::session_tag(&record.run_id)).await?;
    // A transaction that failed, or a first statement that did, left nothing to undo.
    if db.applied(&record.file).await?.is_none() {
        return Ok(());
    }
    let Some(down) = &record.down else {
        return Err(StepError::Irreversible(Irreversible {
            file: record.file.clone(),
            database: record.database_name.clone(),
            dump: record.restore_from.clone(),
            stack: ctx.stack.clone(),
        }));
    };
    let batch = Batch {
        statements: down.statements.clone(),
        transactional: down.transactional,
        lock_timeout: Duration::from_millis(record.lock_timeout_ms.max(1)),
        statement_timeout: Duration::from_millis(record.statement_timeout_ms.max(1)),
        pairing: Pairing::of(&down.statements),
        ledger: Some(LedgerWrite::Forget(record.file.clone())),
        migration_lock: true,
    };
    match run_with_retries(ctx, step, db.as_ref(), batch).await? {
        None => Ok(()),
        Some((e, offset)) => Err(StepError::Sql {
            at: format!("{} (statement {})", down.file, offset + e.index + 1),
            sqlstate: e.sqlstate,
            message: e.message,
            excerpt: String::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use plans::steps::StepKind;

    use super::*;

    #[test]
    fn a_server_error_points_into_the_sql_file() {
        let text = "-- expand\nALTER TABLE accounts ADD COLUMN city text;\n\nALTER TABLE accounts\n  ADD COLUMN phone nosuchtype;\n";
        let statements = sql::statements(text).unwrap();
        let file = SqlFile {
            name: "two.sql".into(),
            path: "migrations/two.sql".into(),
            text,
            statements: &statements,
            sha256: String::new(),
        };
        // PostgreSQL's position: 1-based characters into the statement as sent.
        let position = statements[1].text.find("nosuchtype").unwrap() + 1;
        let e = SqlError {
            index: 1,
            sqlstate: "42704".into(),
            message: "type \"nosuchtype\" does not exist".into(),
            position: Some(position),
        };
        let StepError::Sql { at, excerpt, .. } = sql_error(&file, &statements[1], &e) else { panic!() };
        assert_eq!(at, "migrations/two.sql:5:20");
        assert!(excerpt.contains("SQLSTATE 42704"), "{excerpt}");
        assert!(excerpt.contains("[migrations/two.sql:5:20]"), "{excerpt}");
        assert!(excerpt.contains("ADD COLUMN phone nosuchtype"), "{excerpt}");
        assert!(excerpt.contains("the server stopped here"), "{excerpt}");
    }

    #[test]
    fn a_psql_command_in_a_migration_file_is_refused_naming_its_line() {
        let text = "ALTER TABLE t ADD a int;\n\\set ON_ERROR_STOP off\nALTER TABLE t ADD b int;\n";
        let file = ResolvedFile { text: text.into(), statements: sql::statements(text).unwrap() };
        let Err(refusal) = sql_file(Path::new("."), "meta.sql", &file) else { panic!("refused") };
        let Refusal::PsqlCommand { line, command, .. } = &refusal else { panic!("{refusal:?}") };
        assert_eq!((*line, command.as_str()), (2, "\\set ON_ERROR_STOP off"));
        assert_eq!(
            refusal.to_string(),
            "meta.sql:2: `\\set ON_ERROR_STOP off` is a psql command, not SQL: planrun sends statements to the server itself"
        );
    }

    #[test]
    fn a_plan_checked_without_its_files_is_refused_not_read_again() {
        let text = "plan p {\n    stack shop\n    migrate m {\n        postgres service=db\n        phase expand\n        file \"up.sql\"\n    }\n}\n";
        let (plan, _) = crate::simulation::Simulation::plan(text);
        let StepKind::Migrate(step) = &plan.steps[0].kind else { panic!("a migrate step") };
        assert!(step.resolved.is_none(), "checked without its files");
        let Err(refusal) = files(Path::new("."), step) else { panic!("refused") };
        assert_eq!(refusal, Refusal::SqlNotRead { file: "up.sql".into() });
    }

    #[test]
    fn an_irreversible_migration_says_how_to_restore() {
        let mut irreversible = Irreversible {
            file: "contract.sql".into(),
            database: "shop_postgres/shop".into(),
            dump: Some("backups/db.dump".into()),
            stack: "shop".into(),
        };
        assert_eq!(
            irreversible.to_string(),
            "contract.sql has no down file, so planrun cannot undo it on shop_postgres/shop and stops the rollback \
             here: restore the dump this run took: planrun restore shop backups/db.dump"
        );
        irreversible.dump = None;
        assert!(irreversible.to_string().ends_with("here: restore it from your own backup (this run took none)"));
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "SELECT 1;\nALTER TABLE é ADD x;";
        let at = text.find("ADD").unwrap();
        assert_eq!(line_column(text, at), (2, 15));
    }
}
