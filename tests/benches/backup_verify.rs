//! Backup and verify of a database of at least 1 GB by `planrun apply` (a plan of one `backup`
//! step): how long the dump takes, how long reading it back in full takes, and the ratio
//! (target: verify under 20% of the dump). Both routes: the loopback server by URL (pg_dump and
//! pg_restore beside planrun) and a database service by exec (its own tools in its task).
//!
//! Two databases of about 1.1 GB each, made once on the loopback server and kept for later runs:
//! `planrun_bench_1g` by pgbench (scale 70: its rows are mostly blank filler, so the dump is
//! small, about 20 MB) and `planrun_bench_1g_random` (md5 text, which compresses little, so the
//! dump is large): the verify/dump ratio depends on it. The database service gets a copy through
//! `pg_dump | psql` and is removed at the end.
//!
//! Needs tests/env/swarm-up and tests/env/postgres-up. Run:
//!   cargo bench -p planrun-tests --bench backup_verify
//! Env: PLANRUN_BENCH_ROUNDS (default 3), PLANRUN_BENCH_SCALE (pgbench scale, default 70),
//! PLANRUN_BENCH_ROUTES (`url,exec` by default), PLANRUN_BENCH_DATA (`pgbench,random` by default).

use std::process::{Command, Stdio};

const PASSWORD_FILE: &str = "/var/lib/planrun-test/pg-password";

fn password() -> String {
    std::fs::read_to_string(PASSWORD_FILE).expect("run tests/env/postgres-up").trim().to_owned()
}

fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", "15432", "-U", "postgres", "-d", db, "-Atc", sql])
        .env("PGPASSWORD", password())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The elapsed milliseconds of the step-progress event whose message starts with `prefix`.
fn at(events: &[serde_json::Value], prefix: &str) -> f64 {
    events
        .iter()
        .find(|e| e["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
        .and_then(|e| e["elapsed_ms"].as_f64())
        .unwrap_or_else(|| panic!("no `{prefix}` event"))
}

fn backup(dir: &std::path::Path, stack: &str, postgres: &str) -> (u64, f64, f64) {
    let plan = dir.join("plan.kdl");
    std::fs::write(
        &plan,
        format!(
            "plan bench {{\n    stack {stack}\n    backup db {{\n        {postgres}\n        to \"dumps\"\n    }}\n}}\n"
        ),
    )
    .unwrap();
    let planrun = env!("CARGO_BIN_EXE_planrun-e2e");
    let out = Command::new(planrun)
        .args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir"])
        .arg(dir.join("state"))
        .env("PGPASSWORD", password())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let dumping = at(&events, "dumping");
    let reading = at(&events, "reading");
    let taken = events.iter().find(|e| e["event"] == "backup-taken").expect("backup-taken");
    let done = taken["elapsed_ms"].as_f64().unwrap();
    let bytes = taken["bytes"].as_u64().unwrap();
    std::fs::remove_file(taken["path"].as_str().unwrap()).unwrap();
    (bytes, (reading - dumping) / 1000.0, (done - reading) / 1000.0)
}

fn main() {
    let data = std::env::var("PLANRUN_BENCH_DATA").unwrap_or_else(|_| "pgbench,random".into());
    for kind in data.split(',') {
        bench(kind);
    }
}

/// Makes the database of `kind` if it is missing; returns its name.
fn database(kind: &str) -> String {
    let scale = std::env::var("PLANRUN_BENCH_SCALE").unwrap_or_else(|_| "70".into());
    let db = match kind {
        "pgbench" => "planrun_bench_1g".to_string(),
        "random" => "planrun_bench_1g_random".to_string(),
        other => panic!("unknown data {other}"),
    };
    if psql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'")) != "0" {
        return db;
    }
    psql("postgres", &format!("CREATE DATABASE {db}"));
    if kind == "pgbench" {
        eprintln!("making {db} with pgbench -i -s {scale} (once)");
        let status = Command::new("/usr/lib/postgresql/15/bin/pgbench")
            .args(["-i", "-q", "-s", &scale, "-h", "127.0.0.1", "-p", "15432", "-U", "postgres", &db])
            .env("PGPASSWORD", password())
            .status()
            .unwrap();
        assert!(status.success());
    } else {
        eprintln!("making {db}: 8 million rows of md5 text (once)");
        psql(&db, "CREATE TABLE events (id bigint PRIMARY KEY, a text, b text, c text)");
        for part in 0..8 {
            psql(
                &db,
                &format!(
                    "INSERT INTO events SELECT i, md5(i::text), md5((i * 7)::text), md5((i * 13)::text) \
                     FROM generate_series({} + 1, {} + 1000000) i",
                    part * 1_000_000,
                    part * 1_000_000
                ),
            );
        }
    }
    db
}

fn bench(kind: &str) {
    let rounds: usize = std::env::var("PLANRUN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let routes = std::env::var("PLANRUN_BENCH_ROUTES").unwrap_or_else(|_| "url,exec".into());
    let db = database(kind);
    let db = db.as_str();
    let size = psql(db, &format!("SELECT pg_database_size('{db}')"));
    let dir = std::env::temp_dir().join(format!("planrun-bench-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("database {db}: {:.2} GB on disk", size.parse::<f64>().unwrap() / 1e9);

    for route in routes.split(',') {
        let (postgres, service) = match route {
            "url" => (format!("postgres url=\"postgresql://postgres@127.0.0.1:15432/{db}\""), None),
            "exec" => {
                let name = format!("planrun-bench-pg-{}", std::process::id());
                let secret = format!("{name}-pw");
                let mut child = Command::new("docker")
                    .args(["secret", "create", "--label", "planrun-test=1", &secret, "-"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap();
                std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"bench").unwrap();
                assert!(child.wait().unwrap().success());
                #[rustfmt::skip]
                docker(&["service", "create", "--quiet", "--detach", "--name", &name, "--label", "planrun-test=1",
                    "--network", "planrun-test", "--endpoint-mode", "dnsrr",
                    "--secret", &format!("source={secret},target=pg-password"),
                    "--env", "POSTGRES_PASSWORD_FILE=/run/secrets/pg-password",
                    "--health-cmd", "pg_isready -q -h 127.0.0.1 -U postgres", "--health-interval", "1s",
                    "--health-start-period", "60s", "planrun-test/postgres:15"]);
                let container = loop {
                    let id = docker(&[
                        "ps",
                        "-q",
                        "--filter",
                        &format!("label=com.docker.swarm.service.name={name}"),
                        "--filter",
                        "health=healthy",
                    ]);
                    if !id.is_empty() {
                        break id;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(500));
                };
                eprintln!("copying {db} into the service {name}");
                let copy = format!(
                    "PGPASSWORD='{}' pg_dump -h 127.0.0.1 -p 15432 -U postgres {db} | docker exec -i {container} psql -q -U postgres -d postgres > /dev/null",
                    password()
                );
                assert!(Command::new("sh").args(["-c", &copy]).status().unwrap().success());
                (format!("postgres service={name} database=postgres user=postgres"), Some((name, secret)))
            }
            other => panic!("unknown route {other}"),
        };
        let mut ratios = Vec::new();
        for round in 1..=rounds {
            let (bytes, dump, verify) = backup(&dir, &format!("bench{}", std::process::id()), &postgres);
            let ratio = verify / dump;
            ratios.push(ratio);
            println!(
                "{kind} {route} round {round}: dump {:.0} MB in {dump:.2} s, verify {verify:.2} s, verify/dump {ratio:.3}",
                bytes as f64 / 1e6
            );
        }
        ratios.sort_by(f64::total_cmp);
        println!("{kind} {route}: median verify/dump {:.3} over {rounds} rounds", ratios[rounds / 2]);
        if let Some((name, secret)) = service {
            docker(&["service", "rm", &name]);
            std::thread::sleep(std::time::Duration::from_secs(3));
            let _ = Command::new("docker").args(["secret", "rm", &secret]).output();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
