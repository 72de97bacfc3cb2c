//! `migrate`: apply one phase of an expand/contract schema change.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::database::Database;
use crate::decoder::{Decoder, Fields};
use crate::duration::Duration;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::steps::{Definition, Resource};

/// A schema migration.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Migrate {
    /// The database to change.
    pub database: Database,
    /// Which phase of expand/contract this is.
    pub phase: Phase,
    /// The SQL file to apply.
    pub file: Spanned<String>,
    /// The SQL file that undoes it, run on rollback.
    pub down: Option<Spanned<String>>,
    /// Run the file in one transaction (off for `CREATE INDEX CONCURRENTLY`).
    pub transactional: bool,
    /// Give up on a lock after this long instead of queueing traffic behind it.
    pub lock_timeout: Duration,
    /// Cancel a statement that runs longer than this.
    pub statement_timeout: Duration,
    /// Refuse to start unless a backup of the same database verified earlier in the run.
    pub require_backup: bool,
    /// Where the phase was written.
    #[serde(skip)]
    #[schemars(skip)]
    pub phase_span: Span,
    /// The SQL files as the checker read and split them, so a run never reads or splits them
    /// again; `None` until the plan is checked with its files (`Inputs::files`).
    #[serde(skip)]
    #[schemars(skip)]
    pub resolved: Option<std::sync::Arc<Resolved>>,
}

/// The SQL files of a migrate step, read and split with the plan.
#[derive(Debug)]
pub struct Resolved {
    /// The file to apply.
    pub file: SqlFile,
    /// The file that undoes it, if the step names one.
    pub down: Option<SqlFile>,
}

/// One SQL file, read and split into statements.
#[derive(Debug)]
pub struct SqlFile {
    /// Its text, as read.
    pub text: String,
    /// Its statements, in order, as the engine sends them.
    pub statements: Vec<crate::sql::Statement>,
}

/// The phases of a zero-downtime schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Add what the new release needs, compatible with the old one.
    Expand,
    /// Move data.
    Migrate,
    /// Remove what only the old release needed; after every deployment.
    Contract,
}

/// The phases as written.
const PHASES: &[(&str, Phase)] =
    &[("expand", Phase::Expand), ("migrate", Phase::Migrate), ("contract", Phase::Contract)];

impl Definition for Migrate {
    const KEYWORD: &'static str = "migrate";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = false;
    const DEPLOYS: bool = false;
    const CHANGES_ELSEWHERE: bool = true;

    /// Reads a migrate step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Migrate> {
        let database = Database::decode(d, fields);
        let phase = d.value(fields, "phase", true).and_then(|v| d.as_choice("phase", v, PHASES));
        let file = d.string(fields, "file", true);
        let down = d.string(fields, "down", false);
        let transactional = d.boolean(fields, "transactional").map(|v| v.value).unwrap_or(true);
        let lock_timeout = d.duration(fields, "lock-timeout").map(|v| v.value).unwrap_or(Duration::from_secs(1));
        let statement_timeout =
            d.duration(fields, "statement-timeout").map(|v| v.value).unwrap_or(Duration::from_secs(600));
        let require_backup = d.boolean(fields, "require-backup").map(|v| v.value).unwrap_or(true);
        let phase = phase?;
        Some(Migrate {
            database,
            phase: phase.value,
            file: file?,
            down,
            transactional,
            lock_timeout,
            statement_timeout,
            require_backup,
            phase_span: phase.span,
            resolved: None,
        })
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn resources(&self) -> Vec<Resource> {
        vec![Resource::Database(self.database.key())]
    }

    fn asks_a_person(&self) -> bool {
        false
    }

    fn image(&self) -> Option<&str> {
        None
    }

    fn replicas_of(&self, _service: &str) -> Option<u64> {
        None
    }

    fn allow_removing_mut(&mut self) -> Option<&mut Vec<crate::steps::allow_removing::Removable>> {
        None
    }
}
