//! Which database a backup or migration talks to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};

/// A PostgreSQL database: reached inside a Swarm service's container, by URL, or through the
/// selected environment's `database` in `planrun.toml` when the step names none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Database {
    /// The Swarm service running PostgreSQL (tools run inside its container, so versions match).
    pub service: Option<String>,
    /// A connection URL, instead of a service.
    pub url: Option<String>,
    /// The database name.
    pub database: Option<String>,
    /// The user to connect as.
    pub user: Option<String>,
}

impl Database {
    /// Reads the optional `postgres service=.. database=.. user=..` (or `url=..`) child.
    pub fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Database {
        let Some(node) = d.child(fields, "postgres") else {
            return Database { service: None, url: None, database: None, user: None };
        };
        let mut f = d.fields(node, "`postgres`");
        d.no_more_args(&f, 0);
        let db = Database {
            service: d.string(&mut f, "service", false).map(|s| s.value),
            url: d.string(&mut f, "url", false).map(|s| s.value),
            database: d.string(&mut f, "database", false).map(|s| s.value),
            user: d.string(&mut f, "user", false).map(|s| s.value),
        };
        d.finish(f);
        db
    }

    /// A key identifying the database, for ordering steps that touch it.
    pub fn key(&self) -> String {
        let host = self.service.as_deref().or(self.url.as_deref()).unwrap_or("(environment)");
        format!("{host}/{}", self.database.as_deref().unwrap_or(""))
    }
}
