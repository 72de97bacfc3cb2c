//! `backup` at run time: `pg_dump -Fc` into a timestamped file on the machine running planrun
//! (so it survives the database's node), read back in full, its SHA-256 journalled. A later
//! `migrate` of the same database starts only after such a dump.
//!
//! A backup changes nothing, so it records no undo; its dump is what a full restore uses
//! (`planrun restore FILE --stack S`).

use std::path::PathBuf;

use async_trait::async_trait;
use plans::steps::Backup;

use super::LiveFacts;
use super::{Behavior, Findings, Refusal, StepError};
use crate::cluster::Cluster;
use crate::cluster::ClusterError;
use crate::context::StepContext;
use crate::database;
use crate::events::Event;
use crate::events::StepOutcome;
use crate::events::UndoOutcome;

#[async_trait]
impl Behavior for Backup {
    async fn preflight(&self, ctx: &StepContext) -> Findings {
        let mut findings = Findings::default();
        if let Err(why) = ctx.run.databases.target(&self.database) {
            findings.problems.push(why.to_string());
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
        // planrun's ledger goes into every dump, so a restore puts back what was applied then
        // along with the schema.
        db.applied("").await?;
        ctx.progress(format!("dumping {} to {}", db.describe(), file.display()));
        let dump = db.dump(&file).await?;
        if self.verify {
            ctx.progress(format!("reading {} back in full ({} bytes)", file.display(), dump.bytes));
            db.verify(&file).await?;
        }
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
fn directory(ctx: &StepContext, to: &str) -> PathBuf {
    let to = PathBuf::from(to);
    let dir = if to.is_absolute() { to } else { ctx.plan_dir.join(to) };
    std::path::absolute(&dir).unwrap_or(dir)
}
