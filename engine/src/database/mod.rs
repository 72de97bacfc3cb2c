//! PostgreSQL behind a seam: backup and migrate steps talk to a [`Postgres`], whichever way
//! the database is reached.
//!
//! - `postgres service=..` ([`service`]): the database's own tools (`psql`, `pg_dump`,
//!   `pg_restore`) run with its own image, so versions match: by `exec` into a running task
//!   container when one is on the node planrun talks to, otherwise as a one-off Swarm job on
//!   the database's networks, its output brought back through the service's logs.
//! - `postgres url=..` ([`url`]): a direct connection (`tokio-postgres`) for statements, and
//!   the `pg_dump`/`pg_restore` installed beside planrun for dumps.
//! - [`fake`]: in memory, for unit tests and simulations.
//!
//! Passwords never come from the plan: `PGPASSWORD` in planrun's environment, or, for a
//! service, the file its own `POSTGRES_PASSWORD_FILE` names (a Docker secret). They are never
//! printed, journalled or put in a job's spec (a job mounts the same secret).
//!
//! Statements run in [`Batch`]es: in one transaction, or one by one, with `lock_timeout` and
//! `statement_timeout` set by planrun. A batch reports how many statements completed and the
//! first error with its SQLSTATE, so the migrate step can retry a lock timeout or resume.

pub mod fake;
pub mod ledger;
pub mod psql;
pub mod service;
pub mod tls;
pub mod url;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use plans::database::Database;
use plans::project::DatabaseConfig;

use crate::cluster::Cluster;

/// SQLSTATE of a statement cancelled by `lock_timeout`.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";
/// SQLSTATE of a statement cancelled by `statement_timeout`.
pub const QUERY_CANCELED: &str = "57014";

/// Why a step's `postgres` names no database planrun can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The url's TLS settings are wrong.
    Tls(tls::TlsError),
    /// The url carries a password (shown redacted).
    PasswordInUrl {
        /// The url, its password hidden.
        url: String,
    },
    /// The url does not parse as the driver reads it.
    Unparsable {
        /// The url, its password hidden.
        url: String,
        /// The driver's message.
        message: String,
    },
    /// Both a service and a url.
    ServiceAndUrl,
    /// Neither the step nor the environment names a database.
    NoDatabase,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Tls(e) => e.fmt(f),
            TargetError::PasswordInUrl { url } => write!(
                f,
                "the database url {url} carries a password: plans and planrun.toml are checked in, \
                 so give it in PGPASSWORD instead and leave it out of the url"
            ),
            TargetError::Unparsable { url, message } => write!(f, "the database url {url} does not parse: {message}"),
            TargetError::ServiceAndUrl => f.write_str("`postgres` names both a service and a url: keep one"),
            TargetError::NoDatabase => f.write_str(
                "no database: give the step `postgres service=..` or `postgres url=..`, \
                 or the environment a `database` in planrun.toml",
            ),
        }
    }
}

impl std::error::Error for TargetError {}

impl From<tls::TlsError> for TargetError {
    fn from(e: tls::TlsError) -> Self {
        TargetError::Tls(e)
    }
}

/// Which database, resolved: the step's `postgres` filled in from the environment's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// How it is reached.
    pub via: Via,
    /// The database name.
    pub database: String,
    /// The user to connect as.
    pub user: String,
}

/// How a database is reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// A Swarm service running PostgreSQL.
    Service(String),
    /// A connection URL (its password, if any, is never shown).
    Url(String),
}

impl Target {
    /// The step's `postgres`, with what it leaves out taken from the environment's `database`.
    pub fn resolve(db: &Database, defaults: Option<&DatabaseConfig>) -> Result<Target, TargetError> {
        let d = defaults.cloned().unwrap_or_default();
        // A step naming its own service or URL does not inherit the other one.
        let (service, url) = match (&db.service, &db.url) {
            (None, None) => (d.service.clone(), d.url.clone()),
            (s, u) => (s.clone(), u.clone()),
        };
        let step_url = db.url.is_some();
        let via = match (service, url) {
            (Some(s), None) => Via::Service(s),
            (None, Some(u)) => {
                // Read as the driver reads it: a password may also hide in `?password=` or in a
                // `key=value` connection string.
                let (plain, _) = tls::split(&u)?;
                match plain.parse::<tokio_postgres::Config>() {
                    Ok(c) if c.get_password().is_some() => {
                        return Err(TargetError::PasswordInUrl { url: crate::redact::database_url(&u) });
                    }
                    Ok(_) => Via::Url(u),
                    Err(e) => {
                        return Err(TargetError::Unparsable {
                            url: crate::redact::database_url(&u),
                            message: e.to_string(),
                        });
                    }
                }
            }
            (Some(_), Some(_)) => return Err(TargetError::ServiceAndUrl),
            (None, None) => return Err(TargetError::NoDatabase),
        };
        let url_part = |part: fn(&::url::Url) -> Option<String>| match &via {
            Via::Url(u) => ::url::Url::parse(u).ok().and_then(|u| part(&u)),
            Via::Service(_) => None,
        };
        let url_database = url_part(|u| Some(u.path().trim_start_matches('/').to_owned()).filter(|p| !p.is_empty()));
        let url_user = url_part(|u| Some(u.username().to_owned()).filter(|p| !p.is_empty()));
        // What the step says wins over the environment, and a step's own url is part of what
        // the step says (its database is not replaced by the environment's).
        let (database, user) = if step_url {
            (db.database.clone().or(url_database).or(d.database), db.user.clone().or(url_user).or(d.user))
        } else {
            (db.database.clone().or(d.database).or(url_database), db.user.clone().or(d.user).or(url_user))
        };
        let database = database.unwrap_or_else(|| "postgres".into());
        let user = user.unwrap_or_else(|| "postgres".into());
        Ok(Target { via, database, user })
    }

    /// This target as planrun may write it (journals, events): a URL's password redacted
    /// (`crate::redact::database_url`).
    pub fn redact(&mut self) {
        if let Via::Url(u) = &mut self.via {
            *u = crate::redact::database_url(u);
        }
    }

    /// A warning when the connection to this database is not verified (a URL whose sslmode
    /// does not check the server's certificate), with the fix. A service is reached inside the
    /// swarm and nothing crosses a network from planrun.
    pub fn unverified(&self) -> Option<String> {
        let Via::Url(url) = &self.via else { return None };
        let (_, tls) = tls::split(url).ok()?;
        let why = tls::unverified(&tls)?;
        Some(format!(
            "database {}: {why}; add `sslmode=verify-full` (and `sslrootcert=FILE` for a private CA) to the URL",
            self.describe()
        ))
    }

    /// `shop_postgres/shop` or `postgres://db.internal:5432/shop`, never with a password.
    pub fn describe(&self) -> String {
        match &self.via {
            Via::Service(s) => format!("{s}/{}", self.database),
            Via::Url(u) => crate::redact::database_url(u),
        }
    }
}

/// The `application_name` of every session a run opens, so its sessions can be found (and
/// ended, when the run stops in the middle of a migration).
pub fn session_tag(run_id: &str) -> String {
    let run: String = run_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(48).collect();
    format!("planrun-{run}")
}

/// A dump written and checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dump {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// Statements to run together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The statements, each without a trailing `;`.
    pub statements: Vec<String>,
    /// All in one transaction (all or nothing), or one by one.
    pub transactional: bool,
    /// `lock_timeout` for the session.
    pub lock_timeout: Duration,
    /// `statement_timeout` for the session.
    pub statement_timeout: Duration,
    /// What to write in planrun's ledger as statements complete.
    pub ledger: Option<LedgerWrite>,
    /// Outside one transaction, how each statement and its ledger write go together.
    pub pairing: Pairing,
    /// Whether the session first takes planrun's migration lock ([`ledger::LOCK`]), so two
    /// runs (of two stacks sharing the database, say) never migrate it at once. It waits at
    /// most `statement_timeout`, and is released when the session ends.
    pub migration_lock: bool,
}

/// Outside one transaction, how each statement and its ledger write go together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Pairing {
    /// Each statement and its ledger write in a transaction of their own, except the statements
    /// listed (PostgreSQL refuses them in a transaction block: `CREATE INDEX CONCURRENTLY`),
    /// so a crash between the two cannot make a re-run repeat a statement.
    Paired {
        /// The statements that run alone, by index.
        alone: Vec<usize>,
    },
    /// Statement, then ledger write, each on its own (the file manages its own transactions).
    #[default]
    Unpaired,
}

impl Pairing {
    /// For `statements`, as PostgreSQL will take them.
    pub fn of(statements: &[String]) -> Pairing {
        if statements.iter().any(|s| plans::sql::controls_transaction(s)) {
            return Pairing::Unpaired;
        }
        let alone = (0..statements.len()).filter(|&i| plans::sql::refuses_transaction_block(&statements[i])).collect();
        Pairing::Paired { alone }
    }

    /// Whether statement `i` and its ledger write share a transaction.
    pub fn paired(&self, i: usize) -> bool {
        match self {
            Pairing::Paired { alone } => !alone.contains(&i),
            Pairing::Unpaired => false,
        }
    }
}

/// What a batch writes in the ledger ([`ledger`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerWrite {
    /// Record progress: `already` statements of the file were done before this batch.
    Progress {
        /// The file's entry.
        entry: ledger::Entry,
        /// Statements done before the batch's first.
        already: usize,
    },
    /// Forget the file once the batch is done (its `down` ran).
    Forget(String),
}

impl LedgerWrite {
    /// The ledger statement after the batch's statement `i` (0-based) completed, when not in a
    /// transaction; `None` when nothing is written then.
    pub fn after(&self, i: usize, total: usize) -> Option<String> {
        match self {
            LedgerWrite::Progress { entry, already } => Some(entry.upsert(already + i + 1)),
            LedgerWrite::Forget(file) => (i + 1 == total).then(|| ledger::forget(file)),
        }
    }

    /// Run under the migration lock, before the first statement: fails with
    /// [`ledger::MOVED_ON`] when another run changed the file's ledger entry since this batch
    /// was planned (it waited for the lock while that run migrated), so nothing runs twice.
    pub fn guard(&self) -> String {
        let (condition, what) = match self {
            LedgerWrite::Progress { entry, already } => (
                format!(
                    "coalesce((SELECT completed FROM planrun.migrations WHERE file = {} AND sha256 = {}), 0) <> {already}",
                    ledger::literal(&entry.file),
                    ledger::literal(&entry.sha256)
                ),
                format!("applied {}", entry.file),
            ),
            LedgerWrite::Forget(file) => (
                format!("NOT EXISTS (SELECT 1 FROM planrun.migrations WHERE file = {})", ledger::literal(file)),
                format!("undid {file}"),
            ),
        };
        format!(
            "DO $$ BEGIN IF {condition} THEN RAISE EXCEPTION USING ERRCODE = '{}', MESSAGE = {}; END IF; END $$",
            ledger::MOVED_ON,
            ledger::literal(&format!("another run {what} while this one waited for the migration lock"))
        )
        .replace("$$", "$planrun$")
    }

    /// The ledger statement at the end of a transaction.
    pub fn at_commit(&self, total: usize) -> String {
        match self {
            LedgerWrite::Progress { entry, already } => entry.upsert(already + total),
            LedgerWrite::Forget(file) => ledger::forget(file),
        }
    }
}

/// How a batch ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ran {
    /// How many statements completed (and, in a transaction, were committed): all of them
    /// unless `error` says otherwise. In a transaction that failed, 0.
    pub completed: usize,
    /// The statement that failed, if one did.
    pub error: Option<SqlError>,
}

/// A statement the server refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// Which statement of the batch (0-based).
    pub index: usize,
    /// The SQLSTATE, such as `55P03`.
    pub sqlstate: String,
    /// The server's message.
    pub message: String,
    /// Where in the statement, as the server counts (1-based characters), if it said.
    pub position: Option<usize>,
}

impl SqlError {
    /// Whether a lock timeout cancelled it (worth retrying).
    pub fn is_lock_timeout(&self) -> bool {
        self.sqlstate == LOCK_NOT_AVAILABLE
    }
}

/// Why talking to a database failed (not a statement's own error: see [`SqlError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// It cannot be reached or its tools did not run.
    Unreachable(String),
    /// A tool ran and failed.
    Tool {
        /// What was run, such as `pg_dump -Fc`.
        tool: String,
        /// Its exit status.
        status: String,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// A file on the machine running planrun.
    File(String),
    /// A dump that does not read back in full, or whose checksum differs.
    BadDump(String),
    /// The step's `postgres` names no database planrun can use.
    Target(TargetError),
    /// The url's TLS settings cannot be used.
    Tls(tls::TlsError),
    /// A dump, or reading it back, took longer than the step allows.
    TimedOut {
        /// What: `pg_dump -Fc`, `reading the dump back`.
        what: String,
        /// The allowance.
        after: std::time::Duration,
        /// How to allow more.
        fix: &'static str,
    },
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unreachable(why) => write!(f, "cannot reach the database: {why}"),
            DbError::Tool { tool, status, stderr } => {
                write!(f, "`{tool}` failed ({status}): {}", stderr.trim().replace('\n', " / "))
            }
            DbError::File(why) => f.write_str(why),
            DbError::BadDump(why) => write!(f, "the dump is not usable: {why}"),
            DbError::Target(e) => write!(f, "cannot reach the database: {e}"),
            DbError::Tls(e) => write!(f, "cannot reach the database: {e}"),
            DbError::TimedOut { what, after, fix } => {
                write!(f, "{what} took longer than {} and was stopped; {fix}", crate::clock::seconds(*after))
            }
        }
    }
}

impl std::error::Error for DbError {}

/// One database, reached one way.
#[async_trait]
pub trait Postgres: Send + Sync {
    /// How it is reached, for progress: `shop_postgres/shop by exec on this node`.
    fn describe(&self) -> String;
    /// Dumps the whole database (`pg_dump -Fc`) into `file` on the machine running planrun.
    async fn dump(&self, file: &Path) -> Result<Dump, DbError>;
    /// Reads a dump back in full (`pg_restore -f /dev/null`), with the database's own
    /// `pg_restore` where it can.
    async fn verify(&self, file: &Path) -> Result<(), DbError>;
    /// Restores a dump (`pg_restore --clean --if-exists --exit-on-error`).
    async fn restore(&self, file: &Path) -> Result<(), DbError>;
    /// Runs statements.
    async fn run(&self, batch: &Batch) -> Result<Ran, DbError>;
    /// Runs one query and returns its rows, each column as text (`NULL` as `None`).
    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError>;
    /// Ends every other session tagged `tag` ([`session_tag`]) and waits, at most 10 s, until
    /// they are gone: a run stopped in the middle of a migration may have left its statements
    /// running (an `exec`'d psql goes on when planrun stops reading it).
    async fn end_sessions(&self, tag: &str) -> Result<(), DbError> {
        let others = format!(
            "FROM pg_stat_activity WHERE application_name = {} AND pid <> pg_backend_pid()",
            ledger::literal(tag)
        );
        let end = Batch {
            statements: vec![format!("SELECT pg_terminate_backend(pid) {others}")],
            transactional: false,
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            ledger: None,
            pairing: Pairing::Unpaired,
            migration_lock: false,
        };
        self.run(&end).await?;
        for _ in 0..50 {
            let left = self.query(&format!("SELECT count(*) {others}")).await?;
            if left.first().and_then(|r| r.first()).cloned().flatten().as_deref() == Some("0") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(DbError::Unreachable(format!("sessions of {tag} are still running after 10 s")))
    }
    /// What planrun's ledger says of `file` (creating the ledger when missing).
    async fn applied(&self, file: &str) -> Result<Option<ledger::Applied>, DbError> {
        let ensure = Batch {
            statements: vec![ledger::ENSURE.to_owned()],
            transactional: true,
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(60),
            ledger: None,
            pairing: Pairing::Unpaired,
            migration_lock: false,
        };
        if let Some(e) = self.run(&ensure).await?.error {
            return Err(DbError::Tool {
                tool: "create planrun.migrations".into(),
                status: e.sqlstate,
                stderr: e.message,
            });
        }
        Ok(ledger::parse(&self.query(&ledger::select(file)).await?))
    }
}

/// Opens databases for a run.
#[async_trait]
pub trait Databases: Send + Sync {
    /// The database a step names, filled in from the environment's; `run_id` names any jobs.
    async fn open(&self, db: &Database, run_id: &str) -> Result<Arc<dyn Postgres>, DbError> {
        let target = self.target(db).map_err(DbError::Target)?;
        self.open_target(&target, run_id).await
    }
    /// A database already resolved.
    async fn open_target(&self, target: &Target, run_id: &str) -> Result<Arc<dyn Postgres>, DbError>;
    /// Which database a step names, resolved (without reaching it).
    fn target(&self, db: &Database) -> Result<Target, TargetError>;
}

/// The real databases: services on the swarm, URLs over the network.
pub struct RealDatabases {
    /// The swarm (for `service=`).
    pub cluster: Arc<dyn Cluster>,
    /// The selected environment's `database`.
    pub defaults: Option<DatabaseConfig>,
}

#[async_trait]
impl Databases for RealDatabases {
    async fn open_target(&self, target: &Target, run_id: &str) -> Result<Arc<dyn Postgres>, DbError> {
        let target = target.clone();
        match &target.via {
            Via::Service(_) => {
                Ok(Arc::new(service::ServicePostgres::open(self.cluster.clone(), target, run_id).await?))
            }
            Via::Url(_) => Ok(Arc::new(url::UrlPostgres::new(target, run_id)?)),
        }
    }

    fn target(&self, db: &Database) -> Result<Target, TargetError> {
        Target::resolve(db, self.defaults.as_ref())
    }
}

/// The SHA-256 of a file, hex, read in chunks.
pub async fn sha256_of(path: &Path) -> Result<(u64, String), DbError> {
    use sha2::{Digest, Sha256};
    use tokio::io::AsyncReadExt;
    let mut file =
        tokio::fs::File::open(path).await.map_err(|e| DbError::File(format!("cannot read {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(|e| DbError::File(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hex(&hasher.finalize())))
}

/// The SHA-256 of some bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of a dump of `target` taken by `step` at `unix_ms`:
/// `db-shop-20261201T181530.123Z.dump` (two steps, or two databases of the same name, never
/// share one).
pub fn dump_name(step: &str, target: &Target, unix_ms: u64) -> String {
    let secs = (unix_ms / 1000) as i64;
    let (y, mo, d, h, mi, s) = civil(secs);
    let ms = unix_ms % 1000;
    let clean = |t: &str| -> String {
        t.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
    };
    format!("{}-{}-{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{ms:03}Z.dump", clean(step), clean(&target.database))
}

/// UTC calendar fields of a Unix time (Howard Hinnant's days-from-civil, inverted).
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(service: Option<&str>, url: Option<&str>) -> Database {
        Database { service: service.map(Into::into), url: url.map(Into::into), database: None, user: None }
    }

    #[test]
    fn a_step_fills_in_from_the_environment_and_its_own_service_wins() {
        let env = DatabaseConfig {
            service: Some("shop_postgres".into()),
            url: None,
            database: Some("shop".into()),
            user: Some("deploy".into()),
        };
        let t = Target::resolve(&db(None, None), Some(&env)).unwrap();
        assert_eq!(
            t,
            Target { via: Via::Service("shop_postgres".into()), database: "shop".into(), user: "deploy".into() }
        );
        let t = Target::resolve(&db(None, Some("postgres://app@127.0.0.1:5432")), Some(&env)).unwrap();
        assert_eq!(t.via, Via::Url("postgres://app@127.0.0.1:5432".into()));
        assert_eq!(t.database, "shop", "the environment's database name fills what the step leaves out");
        for hidden in
            ["postgres://app:secret@db/orders", "postgres://app@db/orders?password=secret", "host=db password=secret"]
        {
            let e = Target::resolve(&db(None, Some(hidden)), None).unwrap_err();
            assert!(matches!(&e, TargetError::PasswordInUrl { url } if !url.contains("secret")), "{e:?}");
            assert!(e.to_string().contains("PGPASSWORD") && !e.to_string().contains("secret"), "{e}");
        }
        // A step's own url names its database; the environment's name does not replace it.
        let t = Target::resolve(&db(None, Some("postgres://app@db/orders")), Some(&env)).unwrap();
        assert_eq!(t.database, "orders");
        let e = Target::resolve(&db(None, None), None).unwrap_err();
        assert_eq!(e, TargetError::NoDatabase);
        assert!(e.to_string().contains("planrun.toml"), "{e}");
    }

    #[test]
    fn a_url_gives_database_and_user_when_nothing_else_does() {
        let t = Target::resolve(&db(None, Some("postgres://app@db:5432/orders")), None).unwrap();
        assert_eq!((t.database.as_str(), t.user.as_str()), ("orders", "app"));
        let shown = Target { via: Via::Url("postgres://app:pw@db:5432/orders?sslmode=require".into()), ..t }.describe();
        assert!(
            shown.starts_with("postgres://app:%3Credacted%3A") && shown.ends_with("@db:5432/orders?sslmode=require"),
            "{shown}"
        );
    }

    #[test]
    fn dump_names_carry_the_utc_time() {
        let t = Target { via: Via::Service("s".into()), database: "shop db".into(), user: "u".into() };
        // 2026-12-01T18:15:30.042Z
        assert_eq!(dump_name("db", &t, 1_796_148_930_042), "db-shop_db-20261201T181530.042Z.dump");
    }
}
