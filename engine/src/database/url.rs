//! A database reached by URL: statements over a direct connection (`tokio-postgres`, TLS as
//! the URL's `sslmode` says), dumps with the `pg_dump` and `pg_restore` installed beside
//! planrun (Debian: `postgresql-client`; pg_dump refuses a server of a newer major version,
//! and says so).
//!
//! The password: the URL's own, or `PGPASSWORD`. It reaches the tools through their
//! environment, never their command line.

use std::path::Path;
use std::process::Stdio;

use async_trait::async_trait;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, SimpleQueryMessage};

use super::{Batch, DbError, Dump, Postgres, Ran, SqlError, Target, Via, ledger, sha256_of};

/// How long a connection may take unless the URL says (`connect_timeout=`).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `url` without a password a journal redacted (`crate::redact::database_url`): a target read
/// back from a journal has no password, and `PGPASSWORD` applies as for a URL without one.
fn without_redacted_password(url: &str) -> String {
    let redacted = |p: &str| {
        let decoded: String = ::url::form_urlencoded::parse(format!("p={p}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        crate::redact::hash_of(&decoded).is_some()
    };
    match ::url::Url::parse(url) {
        Ok(mut u) if u.password().is_some_and(redacted) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A database at a URL.
pub struct UrlPostgres {
    target: Target,
    config: Config,
    tls: super::tls::Tls,
}

impl UrlPostgres {
    /// Reads the URL; connects only when there is work.
    pub fn new(target: Target, run_id: &str) -> Result<UrlPostgres, DbError> {
        let Via::Url(url) = &target.via else { return Err(DbError::Unreachable("not a url".into())) };
        let (url, tls) = super::tls::split(&without_redacted_password(url)).map_err(DbError::Tls)?;
        let mut config: Config = url.parse().map_err(|e| {
            DbError::Unreachable(format!("{}: not a PostgreSQL URL: {e}", crate::redact::database_url(&url)))
        })?;
        config.dbname(&target.database).user(&target.user).ssl_mode(tls.mode.driver());
        if config.get_password().is_none()
            && let Ok(p) = std::env::var("PGPASSWORD")
        {
            config.password(p);
        }
        config.application_name(super::session_tag(run_id));
        // A database that does not answer fails the step in seconds, not at the OS's TCP timeout.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        Ok(UrlPostgres { target, config, tls })
    }

    async fn connect(&self) -> Result<Client, DbError> {
        // The driver's message alone ("error performing TLS handshake") hides the cause.
        let unreachable = |e: tokio_postgres::Error| {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why.push_str(&format!(": {s}"));
                source = s.source();
            }
            DbError::Unreachable(format!("{}: {why}", self.target.describe()))
        };
        let client = if self.config.get_ssl_mode() == SslMode::Disable {
            let (client, connection) = self.config.connect(tokio_postgres::NoTls).await.map_err(unreachable)?;
            tokio::spawn(connection);
            client
        } else {
            let connector = super::tls::connector(&self.tls).map_err(DbError::Tls)?;
            let (client, connection) = self.config.connect(connector).await.map_err(unreachable)?;
            tokio::spawn(connection);
            client
        };
        Ok(client)
    }

    /// The environment for pg_dump and pg_restore: where and as whom, the password apart.
    fn tool_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("PGDATABASE".to_string(), self.target.database.clone())];
        env.push(("PGUSER".into(), self.target.user.clone()));
        if let Some(tokio_postgres::config::Host::Tcp(h)) = self.config.get_hosts().first() {
            env.push(("PGHOST".into(), h.clone()));
        }
        if let Some(p) = self.config.get_ports().first() {
            env.push(("PGPORT".into(), p.to_string()));
        }
        if let Some(p) = self.config.get_password() {
            env.push(("PGPASSWORD".into(), String::from_utf8_lossy(p).into_owned()));
        }
        if let Some(name) = self.config.get_application_name() {
            env.push(("PGAPPNAME".into(), name.to_owned()));
        }
        env.push(("PGSSLMODE".into(), self.tls.mode.word().into()));
        if std::env::var_os("PGCONNECT_TIMEOUT").is_none() {
            env.push(("PGCONNECT_TIMEOUT".into(), CONNECT_TIMEOUT.as_secs().to_string()));
        }
        if let Some(root) = &self.tls.root {
            env.push(("PGSSLROOTCERT".into(), root.display().to_string()));
        }
        env
    }
}

/// Runs a PostgreSQL tool here; its stderr on failure.
async fn tool(program: &str, args: &[&str], env: &[(String, String)], what: &str) -> Result<(), DbError> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    // A dump or restore stops with the run that started it, even a killed one.
    crate::commands::dies_with_planrun(&mut command);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().await.map_err(|e| {
        DbError::Unreachable(if e.kind() == std::io::ErrorKind::NotFound {
            format!("{program} is not installed beside planrun (Debian: apt-get install postgresql-client)")
        } else {
            format!("cannot run {program}: {e}")
        })
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last: Vec<&str> = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
    Err(DbError::Tool { tool: what.into(), status: output.status.to_string(), stderr: last.join("\n") })
}

/// Reads a dump in full with the `pg_restore` installed here.
pub async fn verify_here(file: &Path) -> Result<(), DbError> {
    let path = file.to_string_lossy();
    match tool("pg_restore", &["-f", "/dev/null", &path], &[], "pg_restore -f /dev/null").await {
        Err(DbError::Tool { stderr, .. }) => {
            Err(DbError::BadDump(format!("pg_restore could not read {} in full: {stderr}", file.display())))
        }
        other => other,
    }
}

#[async_trait]
impl Postgres for UrlPostgres {
    fn describe(&self) -> String {
        self.target.describe()
    }

    async fn dump(&self, file: &Path) -> Result<Dump, DbError> {
        let path = file.to_string_lossy();
        // Made 0600 first: pg_dump writes into it and keeps its mode, whatever the umask.
        crate::private::create(file).map_err(|e| DbError::File(format!("{}: {e}", file.display())))?;
        tool("pg_dump", &["-Fc", "-f", &path], &self.tool_env(), "pg_dump -Fc").await?;
        let (bytes, sha256) = sha256_of(file).await?;
        Ok(Dump { path: file.to_owned(), bytes, sha256 })
    }

    async fn verify(&self, file: &Path) -> Result<(), DbError> {
        verify_here(file).await
    }

    async fn restore(&self, file: &Path) -> Result<(), DbError> {
        let path = file.to_string_lossy();
        let args =
            ["--clean", "--if-exists", "--exit-on-error", "--single-transaction", "-d", &self.target.database, &path];
        tool("pg_restore", &args, &self.tool_env(), "pg_restore --exit-on-error").await
    }

    async fn run(&self, batch: &Batch) -> Result<Ran, DbError> {
        let client = self.connect().await?;
        let settings = format!(
            "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'",
            batch.lock_timeout.as_millis().max(1),
            batch.statement_timeout.as_millis().max(1)
        );
        client.batch_execute(&settings).await.map_err(|e| DbError::Unreachable(e.to_string()))?;
        if batch.migration_lock {
            let lock = ledger::take_lock(batch.statement_timeout.as_millis(), batch.lock_timeout.as_millis());
            let guard = batch.ledger.as_ref().map(|l| l.guard());
            for statement in std::iter::once(lock).chain(guard) {
                if let Err(e) = client.batch_execute(&statement).await {
                    let Some(db) = e.as_db_error() else { return Err(DbError::Unreachable(e.to_string())) };
                    let error = SqlError {
                        index: 0,
                        sqlstate: db.code().code().to_owned(),
                        message: db.message().to_owned(),
                        position: None,
                    };
                    return Ok(Ran { completed: 0, error: Some(error) });
                }
            }
        }
        if batch.transactional {
            client.batch_execute("BEGIN").await.map_err(|e| DbError::Unreachable(e.to_string()))?;
        }
        for (index, statement) in batch.statements.iter().enumerate() {
            let paired = !batch.transactional
                && batch.pairing.paired(index)
                && batch.ledger.as_ref().and_then(|l| l.after(index, batch.statements.len())).is_some();
            if paired {
                client.batch_execute("BEGIN").await.map_err(|e| DbError::Unreachable(e.to_string()))?;
            }
            if let Err(e) = client.simple_query(statement).await {
                let Some(db) = e.as_db_error() else {
                    return Err(DbError::Unreachable(format!("{}: {e}", self.target.describe())));
                };
                let position = match db.position() {
                    Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
                    _ => None,
                };
                if batch.transactional || paired {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                let error = SqlError {
                    index,
                    sqlstate: db.code().code().to_owned(),
                    message: db.message().to_owned(),
                    position,
                };
                return Ok(Ran { completed: if batch.transactional { 0 } else { index }, error: Some(error) });
            }
            if !batch.transactional
                && let Some(write) = batch.ledger.as_ref().and_then(|l| l.after(index, batch.statements.len()))
            {
                client
                    .batch_execute(&write)
                    .await
                    .map_err(|e| DbError::Unreachable(format!("planrun.migrations: {e}")))?;
            }
            if paired {
                client.batch_execute("COMMIT").await.map_err(|e| DbError::Unreachable(format!("commit: {e}")))?;
            }
        }
        if batch.transactional {
            if let Some(ledger) = &batch.ledger {
                let write = ledger.at_commit(batch.statements.len());
                client
                    .batch_execute(&write)
                    .await
                    .map_err(|e| DbError::Unreachable(format!("planrun.migrations: {e}")))?;
            }
            if let Err(e) = client.batch_execute("COMMIT").await {
                let Some(db) = e.as_db_error() else { return Err(DbError::Unreachable(e.to_string())) };
                let index = batch.statements.len().saturating_sub(1);
                let error = SqlError {
                    index,
                    sqlstate: db.code().code().to_owned(),
                    message: db.message().to_owned(),
                    position: None,
                };
                return Ok(Ran { completed: 0, error: Some(error) });
            }
        }
        Ok(Ran { completed: batch.statements.len(), error: None })
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let client = self.connect().await?;
        let messages = client.simple_query(sql).await.map_err(|e| DbError::Unreachable(e.to_string()))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect()),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_a_journal_redacted_is_no_password() {
        let redacted = crate::redact::database_url("postgres://app:hunter2@db:5432/shop?sslmode=require");
        assert_eq!(without_redacted_password(&redacted), "postgres://app@db:5432/shop?sslmode=require");
        let real = "postgres://app:hunter2@db:5432/shop";
        assert_eq!(without_redacted_password(real), real, "a real password stays");
    }
}
