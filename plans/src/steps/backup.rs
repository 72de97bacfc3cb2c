//! `backup`: dump a database, then verify the dump can be read back in full.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::database::Database;
use crate::decoder::{Decoder, Fields};
use crate::spanned::Spanned;

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
}

impl Backup {
    /// Reads a backup step's settings.
    pub fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Backup> {
        let database = Database::decode(d, fields);
        let to = d.string(fields, "to", true);
        let verify = d.boolean(fields, "verify").map(|v| v.value).unwrap_or(true);
        Some(Backup { database, to: to?, verify })
    }
}
