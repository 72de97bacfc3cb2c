//! `backup` at run time: `pg_dump -Fc` into a timestamped file on the machine running planrun
//! (so it survives the database's node), read back in full, its SHA-256 journalled. A later
//! `migrate` of the same database starts only after such a dump.
//!
//! A backup changes nothing, so it records no undo; its dump is what a full restore uses
//! (`planrun restore STACK FILE`).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use plans::steps::Backup;

use super::LiveFacts;
use super::{Behavior, Findings, Refusal, StepError};
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::StepContext;
use crate::database::{self, DbError, Postgres};
use crate::events::Event;
use crate::events::StepOutcome;
use crate::events::UndoOutcome;

/// How to let a dump take longer.
const RAISE: &str = "raise the step's `timeout` if the database needs longer";

#[async_trait]
impl Behavior for Backup {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let mut findings = Findings::default();
        match ctx.run.databases.target(&self.database) {
            Err(why) => findings.problems.push(why.to_string()),
            Ok(target) => findings.warnings.extend(target.unverified()),
        }
        let dir = directory(ctx, &self.to.value);
        if let Err(e) = crate::private::create_dir_all(&dir) {
            findings.problems.push(Refusal::BackupDirectory { dir: dir.clone(), error: e.into() }.to_string());
        } else if std::fs::metadata(&dir).is_ok_and(|m| m.permissions().readonly()) {
            findings.problems.push(format!("the backup directory {} is read-only", dir.display()));
        }
        findings
    }

    async fn apply(&self, ctx: &StepContext) -> Result<(), StepError> {
        let db = ctx.run.databases.open(&self.database, &ctx.run.run_id).await?;
        let target = ctx.run.databases.target(&self.database).map_err(Refusal::Database)?;
        let dir = directory(ctx, &self.to.value);
        crate::private::create_dir_all(&dir)
            .map_err(|e| Refusal::BackupDirectory { dir: dir.clone(), error: e.into() })?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let file = dir.join(database::dump_name(&ctx.step, &target, now_ms));
        // Written as NAME.partial and renamed when whole (and read back): a run killed in the
        // middle leaves a file that says it is partial, never one that looks like a backup.
        let partial = partial_name(&file);
        // planrun's ledger goes into every dump, so a restore puts back what was applied then
        // along with the schema.
        db.applied("").await?;
        ctx.progress(format!("dumping {} to {}", db.describe(), file.display()));
        let dumped = dump_and_verify(self, ctx, db.as_ref(), &partial, &file).await;
        let mut dump = match dumped {
            Ok(dump) => dump,
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(e);
            }
        };
        if let Err(e) = tokio::fs::rename(&partial, &file).await {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(DbError::File(format!("rename {} to {}: {e}", partial.display(), file.display())).into());
        }
        dump.path = file.clone();
        ctx.run.events.emit(Event::BackupTaken {
            step: ctx.step.clone(),
            database: target.describe(),
            target: target.clone(),
            path: file.display().to_string(),
            bytes: dump.bytes,
            sha256: dump.sha256.clone(),
            verified: self.verify,
        });
        if self.verify {
            ctx.run.backups.lock().expect("backups lock").push((target.describe(), dump));
        }
        Ok(())
    }

    fn preview(&self) -> Vec<String> {
        let verify = if self.verify { ", then reads the dump back" } else { "" };
        vec![format!("dumps {} into {}{verify}", self.database.key(), self.to.value)]
    }

    async fn live(&self, _cluster: &dyn Cluster) -> Result<LiveFacts, ClusterError> {
        Ok(LiveFacts::default())
    }

    fn drill(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn drilled(&self, finished: Option<StepOutcome>, _undone: Option<UndoOutcome>) -> Option<(String, String)> {
        let state = finished.map_or_else(|| "not reached".to_owned(), |o| format!("dump {o}"));
        Some((self.database.key(), state))
    }
}

/// The backup directory: as written when absolute, else beside the plan; always absolute, so
/// the journal names the dump wherever `planrun restore` is run from.
/// `NAME.dump.partial`: where a dump is written until it is whole.
pub fn partial_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Dumps into `into`, each part bounded by the step's timeout, and reads it back when the step
/// verifies (messages name the dump as `shown`, the name it gets once whole). Dropping the dump stops it (pg_dump is killed, an exec or job stream is dropped):
/// a dump stuck behind a lock must not hold the deploy (and its lock) forever.
async fn dump_and_verify(
    step: &Backup,
    ctx: &StepContext,
    db: &dyn Postgres,
    into: &Path,
    shown: &Path,
) -> Result<database::Dump, StepError> {
    let after = step.timeout.to_std();
    let dump = match tokio::time::timeout(after, db.dump(into)).await {
        Ok(dump) => dump?,
        Err(_) => return Err(DbError::TimedOut { what: "pg_dump -Fc".into(), after, fix: RAISE }.into()),
    };
    if step.verify {
        ctx.progress(format!("reading {} back in full ({} bytes)", shown.display(), dump.bytes));
        match tokio::time::timeout(after, db.verify(into)).await {
            Ok(read) => read?,
            Err(_) => {
                return Err(DbError::TimedOut { what: "reading the dump back".into(), after, fix: RAISE }.into());
            }
        }
    }
    Ok(dump)
}

fn directory(ctx: &StepContext, to: &str) -> PathBuf {
    let to = PathBuf::from(to);
    let dir = if to.is_absolute() { to } else { ctx.plan_dir.join(to) };
    std::path::absolute(&dir).unwrap_or(dir)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::events::{Event, Memory};
    use crate::simulation::Simulation;
    use crate::steps::Behavior;

    #[tokio::test(start_paused = true)]
    async fn a_dump_that_takes_longer_than_the_timeout_is_stopped_and_its_file_removed() {
        let dir = crate::private::temp_dir("planrun-backup-test-").unwrap();
        let plan = format!(
            "plan t {{\n    stack s\n    backup db {{\n        postgres service=s_db\n        to \"{}\"\n        timeout \"5s\"\n    }}\n}}\n",
            dir.path().join("dumps").display()
        );
        let sim = Simulation::new();
        sim.database.dump_time(Duration::from_secs(600));
        let memory = std::sync::Arc::new(Memory::default());
        let ctx = sim.context("s", "r-test", vec![Box::new(memory.clone())]);
        let (plan, _) = Simulation::plan(&plan);
        let step = sim.step(&ctx, &plan, "db");
        let plans::steps::StepKind::Backup(backup) = &plan.steps[0].kind else { panic!("a backup step") };
        let started = tokio::time::Instant::now();

        let error = backup.apply(&step).await.unwrap_err().to_string();

        assert_eq!(
            error,
            "pg_dump -Fc took longer than 5s and was stopped; raise the step's `timeout` if the database needs longer"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        let dumps = dir.path().join("dumps");
        assert_eq!(std::fs::read_dir(&dumps).unwrap().count(), 0, "the partial dump is removed");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dumps).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(!memory.events().iter().any(|e| matches!(e, Event::BackupTaken { .. })));
    }
}
