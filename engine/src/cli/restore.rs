//! `planrun restore STACK FILE`: put back a dump a backup step took, for the full-rollback
//! path (a contract that went wrong, a migration without `down`).
//!
//! Only a dump the stack's journals know is restored, and only when its SHA-256 is still the
//! one journalled when it was taken: a dump that changed on disk (cut short, a flipped bit) is
//! refused before anything touches the database. The restore runs under the stack's deploy
//! lock (taken over from the run that took the dump, once it is gone), in one transaction with
//! `--exit-on-error`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::args::RestoreArgs;
use crate::cli::{EXIT_INVALID, EXIT_USAGE, connect, fail, project_environment, run_async};
use crate::database::{Databases, RealDatabases, Target, sha256_of};
use crate::events::Event;
use crate::journal;
use crate::lock::{Holder, Lock};

/// What the journals say of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The database it came from.
    pub target: Target,
    /// Its SHA-256 when taken.
    pub sha256: String,
    /// The journal of the run that took it.
    pub run: PathBuf,
    /// That run's id.
    pub run_id: String,
}

/// Finds `file` among the dumps the stack's runs took.
pub fn find(state_dir: &Path, stack: &str, file: &Path) -> Result<Option<Known>, String> {
    let wanted = std::fs::canonicalize(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let journals = journal::all(state_dir, stack).map_err(|e| format!("cannot read the journals: {e}"))?;
    for path in journals {
        let records = journal::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let run_id = journal::run_id(&records).unwrap_or_default();
        for r in records {
            if let Event::BackupTaken { path: dump, target, sha256, .. } = r.event
                && std::fs::canonicalize(&dump).is_ok_and(|d| d == wanted)
            {
                return Ok(Some(Known { target, sha256, run: path.clone(), run_id }));
            }
        }
    }
    Ok(None)
}

/// Runs `planrun restore`.
pub fn restore(a: RestoreArgs) -> ExitCode {
    run_async(async move {
        let known = match find(&a.state_dir, &a.stack, &a.file) {
            Ok(Some(k)) => k,
            Ok(None) => {
                return fail(
                    EXIT_INVALID,
                    format!(
                        "{} is not a dump a run of `{}` took (no backup-taken event for it in {}): \
                         planrun restores only dumps whose SHA-256 it journalled; check --state-dir and the stack",
                        a.file.display(),
                        a.stack,
                        journal::stack_dir(&a.state_dir, &a.stack).display()
                    ),
                );
            }
            Err(e) => return fail(EXIT_USAGE, e),
        };
        let (bytes, sha256) = match sha256_of(&a.file).await {
            Ok(s) => s,
            Err(e) => return fail(EXIT_USAGE, e),
        };
        if sha256 != known.sha256 {
            return fail(
                EXIT_INVALID,
                format!(
                    "{} changed since it was taken: its SHA-256 is {sha256} ({bytes} bytes), the journal {} says {}; \
                     nothing was restored",
                    a.file.display(),
                    known.run.display(),
                    known.sha256
                ),
            );
        }
        let environment = match project_environment(a.env.as_deref(), a.project.as_deref()) {
            Ok(e) => e,
            Err(e) => return fail(EXIT_USAGE, e),
        };
        let cluster = match connect(environment.as_ref()).await {
            Ok(c) => c,
            Err(e) => return fail(EXIT_USAGE, e),
        };
        let run_id = format!("restore-{}", std::process::id());
        // The run that took the dump may have kept the lock (its rollback stopped at a
        // migration without `down`): a restore is what that run asked for, so it takes the
        // lock over once that run is gone.
        let holder = Holder { undoing: Some(known.run_id.clone()), ..Holder::this_process(&run_id) };
        let lock = match Lock::acquire_or_take_over(cluster.clone(), &a.stack, holder, &known.run_id).await {
            Ok(l) => l,
            Err(e) => return fail(EXIT_INVALID, e),
        };
        let databases = RealDatabases { cluster, defaults: environment.and_then(|e| e.database) };
        eprintln!("restoring {} ({bytes} bytes, SHA-256 {sha256}) into {}", a.file.display(), known.target.describe());
        let result = match databases.open_target(&known.target, &run_id).await {
            // Dropping the restore stops pg_restore, whose one transaction then rolls back.
            Ok(db) => match tokio::time::timeout(a.timeout, db.restore(&a.file)).await {
                Ok(restored) => restored,
                Err(_) => Err(crate::database::DbError::TimedOut {
                    what: "pg_restore".into(),
                    after: a.timeout,
                    fix: "give `--timeout` more time if the database needs longer",
                }),
            },
            Err(e) => Err(e),
        };
        let _ = lock.release().await;
        match result {
            Ok(()) => {
                eprintln!("restored {} into {}", a.file.display(), known.target.describe());
                ExitCode::SUCCESS
            }
            Err(e) => fail(EXIT_INVALID, format!("{e} (in one transaction: nothing was restored)")),
        }
    })
}
