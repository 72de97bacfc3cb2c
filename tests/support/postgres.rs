//! PostgreSQL for the end-to-end tests, both made by `tests/env/postgres-up`: the loopback server
//! on 127.0.0.1:15432 (driven with the host's psql) and services of the image
//! `planrun-test/postgres:15` on the test swarm, removed with their secret when the test ends.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{NETWORK, docker, healthy_containers, unique};

/// The loopback server's address and port.
pub const LOOPBACK_HOST: &str = "127.0.0.1";
pub const LOOPBACK_PORT: u16 = 15432;

/// Where postgres-up writes the loopback superuser's password (the only copy the tests read).
pub const PASSWORD_FILE: &str = "/var/lib/planrun-test/pg-password";

/// The image (Debian's PostgreSQL 15, `docker import`ed).
pub const IMAGE: &str = "planrun-test/postgres:15";

/// The host's psql of the same major version as both servers.
pub const PSQL: &str = "/usr/lib/postgresql/15/bin/psql";

/// The health check for services of the image; the start period covers initdb.
pub const HEALTH: &[&str] = &[
    "--health-cmd",
    "pg_isready -q -h 127.0.0.1 -U postgres",
    "--health-interval",
    "1s",
    "--health-timeout",
    "3s",
    "--health-retries",
    "3",
    "--health-start-period",
    "60s",
];

/// The loopback superuser's password, read from [`PASSWORD_FILE`].
pub fn password() -> String {
    let text = std::fs::read_to_string(PASSWORD_FILE)
        .unwrap_or_else(|e| panic!("{PASSWORD_FILE}: {e} (run tests/env/postgres-up as root)"));
    text.trim_end_matches(['\n', '\r']).to_owned()
}

/// `postgresql://postgres:PASSWORD@127.0.0.1:15432/DB` for the loopback server.
pub fn loopback_url(db: &str) -> String {
    format!("postgresql://postgres:{}@{LOOPBACK_HOST}:{LOOPBACK_PORT}/{}", encode(&password()), encode(db))
}

/// Runs `sql` in `db` on the loopback server with the host's psql (unaligned, tuples only, stops
/// at the first error) and returns its output; panics with psql's message when it fails.
pub fn loopback_psql(db: &str, sql: &str) -> String {
    let out = Command::new(PSQL)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", LOOPBACK_HOST, "-p"])
        .arg(LOOPBACK_PORT.to_string())
        .args(["-U", "postgres", "-d", db, "-c", sql])
        .env("PGPASSWORD", password())
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql on the loopback server ({db}): {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Creates the database `name` on the loopback server.
pub fn create_database(name: &str) {
    loopback_psql("postgres", &format!("CREATE DATABASE {}", ident(name)));
}

/// Drops the database `name` on the loopback server if it exists (ending its sessions).
pub fn drop_database(name: &str) {
    loopback_psql("postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name)));
}

/// A database on the loopback server, dropped on drop.
pub struct LoopbackDatabase {
    /// Its name.
    pub name: String,
}

impl LoopbackDatabase {
    /// Creates a database named `unique(name)`.
    pub fn create(name: &str) -> LoopbackDatabase {
        let db = LoopbackDatabase { name: unique(name) };
        create_database(&db.name);
        db
    }

    /// Its URL (see [`loopback_url`]).
    pub fn url(&self) -> String {
        loopback_url(&self.name)
    }

    /// Runs `sql` in it (see [`loopback_psql`]).
    pub fn psql(&self, sql: &str) -> String {
        loopback_psql(&self.name, sql)
    }
}

impl Drop for LoopbackDatabase {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| drop_database(&self.name));
    }
}

/// A PostgreSQL service of [`IMAGE`] on the test swarm (1 replica, dnsrr on [`NETWORK`]), its
/// password a Docker secret (`POSTGRES_PASSWORD_FILE`), with [`HEALTH`]. Removed with the secret
/// on drop.
pub struct PostgresService {
    /// The service's name (also its DNS name on the network): `unique(name)` of `create`.
    pub name: String,
    /// The secret holding the password.
    pub secret: String,
    password: String,
}

impl PostgresService {
    /// Creates the service `unique(name)` and waits (at most 90 s) until its task is healthy.
    pub fn create(name: &str) -> PostgresService {
        PostgresService::create_with(name, &[])
    }

    /// Like [`PostgresService::create`], with more `docker service create` flags (such as
    /// `--env POSTGRES_DB=app`).
    pub fn create_with(name: &str, extra: &[&str]) -> PostgresService {
        PostgresService::create_from(name, IMAGE, extra)
    }

    /// Like [`PostgresService::create_with`], from another image built on [`IMAGE`] (a
    /// variant whose tools misbehave, for a failure drill).
    pub fn create_from(name: &str, image: &str, extra: &[&str]) -> PostgresService {
        let name = unique(name);
        let secret = format!("{name}-pw");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let password = format!("pw-{}-{nanos:x}", std::process::id());
        let mut create = Command::new("docker")
            .args(["secret", "create", "--label", "planrun-test=1", &secret, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("docker runs");
        std::io::Write::write_all(&mut create.stdin.take().unwrap(), password.as_bytes()).unwrap();
        assert!(create.wait().unwrap().success(), "docker secret create {secret}");
        // From here on, drop removes whatever exists.
        let service = PostgresService { name, secret, password };
        let secret_flag = format!("source={},target=pg-password", service.secret);
        #[rustfmt::skip]
        let mut args = vec![
            "service", "create", "--quiet", "--detach", "--no-resolve-image", "--name", &service.name,
            "--label", "planrun-test=1", "--network", NETWORK, "--endpoint-mode", "dnsrr",
            "--secret", &secret_flag, "--env", "POSTGRES_PASSWORD_FILE=/run/secrets/pg-password",
        ];
        args.extend_from_slice(HEALTH);
        args.extend_from_slice(extra);
        args.push(image);
        docker(&args);
        let deadline = Instant::now() + Duration::from_secs(90);
        while healthy_containers(&service.name) == 0 {
            assert!(Instant::now() < deadline, "{} not healthy within 90 s", service.name);
            std::thread::sleep(Duration::from_millis(200));
        }
        service
    }

    /// The superuser's password (the secret's content).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Its URL for a database, valid on the overlay network only (the host cannot resolve it).
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres:{}@{}:5432/{}", encode(&self.password), self.name, encode(db))
    }

    /// The id of its running task's container on this daemon.
    pub fn container(&self) -> String {
        let label = format!("label=com.docker.swarm.service.name={}", self.name);
        let out = docker(&["ps", "-q", "--filter", &label, "--filter", "status=running"]);
        let id = out.lines().next().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "{} has no running container", self.name);
        id
    }

    /// Runs `sql` in the database `postgres` with psql inside the task's container (see
    /// [`PostgresService::exec_psql_in`]).
    pub fn exec_psql(&self, sql: &str) -> String {
        self.exec_psql_in("postgres", sql)
    }

    /// Runs `sql` in `db` with psql inside the task's container (`docker exec`, unix socket,
    /// unaligned, tuples only, stops at the first error) and returns its output; panics with
    /// psql's message when it fails.
    pub fn exec_psql_in(&self, db: &str, sql: &str) -> String {
        let container = self.container();
        let out = Command::new("docker")
            .args(["exec", &container, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres"])
            .args(["-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("docker runs");
        assert!(out.status.success(), "psql in {} ({db}): {sql}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PostgresService {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["service", "rm", &self.name]).output();
        // The secret can go once no service names it; retry briefly while the removal settles.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rm = Command::new("docker").args(["secret", "rm", &self.secret]).output();
            let gone = Command::new("docker")
                .args(["secret", "inspect", &self.secret])
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true);
            if rm.map(|o| o.status.success()).unwrap_or(false) || gone || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for URL user info and path).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
