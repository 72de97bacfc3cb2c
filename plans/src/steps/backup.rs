//! `backup`: dump a database, then verify the dump can be read back in full.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::database::Database;
use crate::decoder::{Decoder, Fields};
use crate::duration::Duration;
use crate::spanned::Spanned;
use crate::steps::{Definition, Resource};

/// A database backup.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Backup {
    /// The database to dump.
    pub database: Database,
    /// The directory dumps are written to.
    pub to: Spanned<String>,
    /// Read the whole dump back before going on (`pg_restore -f /dev/null`).
    pub verify: bool,
    /// How long the dump, and then reading it back, may each take.
    pub timeout: Duration,
}

impl Definition for Backup {
    const KEYWORD: &'static str = "backup";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = false;
    const DEPLOYS: bool = false;
    const CHANGES_ELSEWHERE: bool = true;

    /// Reads a backup step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Backup> {
        let database = Database::decode(d, fields);
        let to = d.string(fields, "to", true);
        let verify = d.boolean(fields, "verify").map(|v| v.value).unwrap_or(true);
        let timeout = d.duration(fields, "timeout").map(|v| v.value).unwrap_or(Duration::from_secs(3600));
        Some(Backup { database, to: to?, verify, timeout })
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
