//! Backup and migrate steps against real PostgreSQL: a database that is a Swarm service
//! (reached by `exec` into its task) and one on loopback (reached by URL). Needs
//! tests/env/swarm-up and tests/env/postgres-up (tests/run-all runs both).

mod support;

use std::path::Path;

use support::postgres::{LoopbackDatabase, PostgresService};
use support::{LockGuard, Service, Workdir, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/migrations"))
}

fn sha256(path: &str) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_owned()
}

/// The schema of a loopback database, without planrun's own ledger.
fn schema(db: &LoopbackDatabase) -> String {
    let out = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--exclude-schema=planrun", &db.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // pg_dump 15.14+ wraps its output in `\restrict KEY` / `\unrestrict KEY` with a random key.
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn backup_expand_deploy_backfill_contract_through_exec_keeps_every_row() {
    let pg = PostgresService::create("pg");
    pg.exec_psql(
        "CREATE TABLE invoices (id serial PRIMARY KEY, issued_on date NOT NULL, terms_days integer NOT NULL); \
         INSERT INTO invoices (issued_on, terms_days) SELECT date '2026-01-01' + (i % 300), 30 FROM generate_series(1, 12000) i;",
    );
    let web = Service::create(&unique("web"), V1, 2);
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-exec");
    for f in ["expand.sql", "expand_down.sql", "backfill.sql", "contract.sql"] {
        std::fs::copy(examples().join(f), work.dir.join(f)).unwrap();
    }
    let db = format!("postgres service={} database=postgres user=postgres", pg.name);
    let plan = work.plan(&format!(
        r#"plan e2e {{
    stack {stack}
    backup db {{
        {db}
        to "backups"
    }}
    migrate expand {{
        {db}
        phase expand
        file "expand.sql"
        down "expand_down.sql"
        transactional #false
        lock-timeout "500ms"
    }}
    rolling web after=expand {{
        service {web}
        image "{V2}"
    }}
    migrate backfill after=web {{
        {db}
        phase migrate
        file "backfill.sql"
        transactional #false
    }}
    migrate contract after=backfill {{
        {db}
        phase contract
        file "contract.sql"
    }}
}}
"#,
        web = web.name
    ));

    let run = work.apply(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.outcome(), "succeeded");
    let backup = run.events_of("backup-taken");
    assert_eq!(backup.len(), 1, "{:?}", run.events);
    let path = backup[0]["path"].as_str().unwrap();
    assert!(path.starts_with(work.dir.join("backups").to_str().unwrap()), "{path}");
    assert_eq!(backup[0]["sha256"].as_str().unwrap(), sha256(path), "the journalled SHA-256 is the file's");
    assert_eq!(backup[0]["verified"], true);
    // The dump is its owner's alone, and so is the directory planrun made for it.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(Path::new(path)), 0o600, "{path}");
    assert_eq!(mode(&work.dir.join("backups")), 0o700);
    // Written as NAME.partial and renamed once whole and read back: only the dump is left.
    let files: Vec<String> =
        std::fs::read_dir(work.dir.join("backups")).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    assert_eq!(files, [path], "the backup directory holds the dump alone");
    let restore_check = std::process::Command::new("pg_restore").args(["-l", path]).output().unwrap();
    assert!(String::from_utf8_lossy(&restore_check.stdout).contains("TABLE DATA public invoices"));

    // Every row written before the run is there, with the new schema.
    assert_eq!(pg.exec_psql("SELECT count(*) FROM invoices WHERE due_on = issued_on + 30").trim(), "12000");
    assert_eq!(
        pg.exec_psql("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'invoices' AND column_name = 'due_on'")
            .trim(),
        "NO"
    );
    assert_eq!(
        pg.exec_psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'invoices' AND column_name = 'terms_days'")
            .trim(),
        "0"
    );
    let ledger = pg.exec_psql("SELECT file, phase, statements = completed FROM planrun.migrations ORDER BY file");
    assert_eq!(ledger.trim(), "backfill.sql|migrate|t\ncontract.sql|contract|t\nexpand.sql|expand|t", "{ledger}");
    web.assert_converged(V2, 2);

    // A re-run skips what is applied.
    let again = work.apply(&plan, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let skipped = again
        .events_of("step-progress")
        .iter()
        .filter(|e| e["message"].as_str().unwrap_or("").contains("already applied"))
        .count();
    assert_eq!(skipped, 3, "{}", again.stderr);

    // An applied file that changed is refused, and nothing runs after it.
    let expand = work.dir.join("expand.sql");
    let mut text = std::fs::read_to_string(&expand).unwrap();
    text.push_str("\nALTER TABLE invoices ADD COLUMN IF NOT EXISTS note text;\n");
    std::fs::write(&expand, text).unwrap();
    let edited = work.apply(&plan, &[]);
    assert_eq!(edited.code, 1, "{}", edited.stderr);
    assert!(edited.stderr.contains("expand.sql changed since run"), "{}", edited.stderr);
    assert_eq!(
        pg.exec_psql(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'invoices' AND column_name = 'note'"
        )
        .trim(),
        "0"
    );
}

fn url_plan(stack: &str, db: &str, second: &str, on_failure: &str, transactional: bool) -> String {
    // The password is not in the plan: planrun reads PGPASSWORD (see `with_password`).
    let url = format!("postgresql://postgres@127.0.0.1:15432/{db}");
    format!(
        r#"plan e2e {{
    stack {stack}
    on-failure {on_failure}
    backup db {{
        postgres url="{url}"
        to "backups"
    }}
    migrate one {{
        postgres url="{url}"
        phase expand
        file "one.sql"
        down "one_down.sql"
    }}
    migrate two after=one {{
        postgres url="{url}"
        phase expand
        file "{second}"
        transactional #{transactional}
        lock-timeout "300ms"
    }}
}}
"#
    )
}

/// Gives planrun the loopback password the way a user would: PGPASSWORD in its environment.
fn with_password() {
    // SAFETY: every test of this file sets the same value before starting planrun; nothing
    // reads the environment concurrently in a way a torn write could affect.
    unsafe { std::env::set_var("PGPASSWORD", support::postgres::password()) };
}

#[test]
fn a_failing_transactional_migration_by_url_leaves_the_schema_as_it_was() {
    with_password();
    let db = LoopbackDatabase::create("dburl");
    db.psql("CREATE TABLE accounts (id serial PRIMARY KEY, name text); INSERT INTO accounts (name) SELECT 'a' || i FROM generate_series(1, 500) i;");
    let before = schema(&db);
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-url");
    std::fs::write(work.dir.join("one.sql"), "CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz);\n")
        .unwrap();
    std::fs::write(work.dir.join("one_down.sql"), "DROP TABLE IF EXISTS audit;\n").unwrap();
    std::fs::write(
        work.dir.join("two.sql"),
        "ALTER TABLE accounts ADD COLUMN city text;\n\nALTER TABLE accounts\n  ADD COLUMN phone nosuchtype;\n",
    )
    .unwrap();
    let plan = work.plan(&url_plan(&stack, &db.name, "two.sql", "rollback", true));

    let failed = work.apply(&plan, &[]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.outcome(), "rolled-back", "{}", failed.stderr);
    // The server's position, mapped back into the file: line 4, column 20 is `nosuchtype`.
    assert!(failed.stderr.contains("two.sql:4:20: ERROR 42704"), "{}", failed.stderr);
    assert!(failed.stderr.contains("type \"nosuchtype\" does not exist"), "{}", failed.stderr);
    assert_eq!(
        schema(&db),
        before,
        "the failed transaction and the undone migration before it leave the schema as it was"
    );
    assert_eq!(db.psql("SELECT count(*) FROM accounts").trim(), "500");
    let password = support::postgres::password();
    assert!(!failed.stderr.contains(&password), "the password is never printed");
    for entry in std::fs::read_dir(work.dir.join("state").join("runs").join(&stack)).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(&password), "the password is never journalled");
    }
}

#[test]
fn a_statement_by_statement_migration_resumes_after_its_last_completed_statement() {
    with_password();
    let db = LoopbackDatabase::create("dbresume");
    db.psql("CREATE TABLE accounts (id serial PRIMARY KEY, name text); INSERT INTO accounts (name) SELECT 'a' || i FROM generate_series(1, 500) i;");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-resume");
    std::fs::write(work.dir.join("one.sql"), "CREATE TABLE audit (id bigserial PRIMARY KEY);\n").unwrap();
    std::fs::write(work.dir.join("one_down.sql"), "DROP TABLE IF EXISTS audit;\n").unwrap();
    // The second statement needs a table someone else creates: it fails the first time.
    std::fs::write(
        work.dir.join("two.sql"),
        "ALTER TABLE accounts ADD COLUMN email text;\nALTER TABLE regions ADD COLUMN code text;\n",
    )
    .unwrap();
    let plan = work.plan(&url_plan(&stack, &db.name, "two.sql", "pause", false));

    let paused = work.apply(&plan, &[]);
    assert_eq!(paused.code, 1, "{}", paused.stderr);
    assert_eq!(paused.outcome(), "paused", "{}", paused.stderr);
    assert_eq!(db.psql("SELECT completed, statements FROM planrun.migrations WHERE file = 'two.sql'").trim(), "1|2");

    db.psql("CREATE TABLE regions (id serial PRIMARY KEY)");
    let resumed = work.apply(&plan, &[]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let messages: Vec<String> =
        resumed.events_of("step-progress").iter().filter_map(|e| e["message"].as_str().map(str::to_owned)).collect();
    assert!(messages.iter().any(|m| m.contains("one.sql is already applied")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("two.sql stopped after 1 of 2 statements")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("applying two.sql (1 statements")), "{messages:?}");
    assert_eq!(db.psql("SELECT completed, statements FROM planrun.migrations WHERE file = 'two.sql'").trim(), "2|2");
    assert_eq!(
        db.psql("SELECT count(*) FROM information_schema.columns WHERE column_name IN ('email', 'code')").trim(),
        "2"
    );
}

#[test]
fn a_migration_without_down_stops_the_rollback_with_the_restore_command() {
    with_password();
    let db = LoopbackDatabase::create("dbnodown");
    db.psql("CREATE TABLE accounts (id serial PRIMARY KEY);");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-nodown");
    std::fs::write(work.dir.join("one.sql"), "CREATE TABLE audit (id bigserial PRIMARY KEY);\n").unwrap();
    std::fs::write(work.dir.join("one_down.sql"), "DROP TABLE IF EXISTS audit;\n").unwrap();
    std::fs::write(work.dir.join("two.sql"), "ALTER TABLE accounts ADD COLUMN email text;\nSELECT 1/0;\n").unwrap();
    let plan = work.plan(&url_plan(&stack, &db.name, "two.sql", "rollback", false));
    let failed = work.apply(&plan, &[]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("ERROR 22012"), "{}", failed.stderr);
    assert!(failed.stderr.contains("two.sql has no down file"), "{}", failed.stderr);
    assert_eq!(failed.outcome(), "rollback-failed");
    // The rollback stopped at two: one (older) is left as it is, with two's first statement.
    assert_eq!(db.psql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'audit'").trim(), "1");
    assert_eq!(db.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'").trim(), "1");
    let restore = failed.stderr.find("planrun restore ").map(|at| &failed.stderr[at..]).expect("the restore command");
    // `planrun restore STACK FILE`, as the command prints it.
    let printed: Vec<&str> = restore.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(printed[2], stack, "the command names the stack first: {}", failed.stderr);
    let dump = printed[3];
    assert!(dump.contains("/backups/"), "the command names this run's dump: {}", failed.stderr);

    // The restore it names puts the database back as the dump has it, ledger included.
    let restored =
        support::run(&["restore", dump, "--stack", &stack, "--state-dir", work.dir.join("state").to_str().unwrap()]);
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert_eq!(db.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'").trim(), "0");
    assert_eq!(db.psql("SELECT count(*) FROM planrun.migrations").trim(), "0", "the ledger as it was when dumped");

    // A dump that changed since (a flipped byte) is refused before the database is touched.
    let mut bytes = std::fs::read(dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(dump, &bytes).unwrap();
    db.psql("CREATE TABLE kept (id int)");
    let refused =
        support::run(&["restore", dump, "--stack", &stack, "--state-dir", work.dir.join("state").to_str().unwrap()]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("changed since it was taken"), "{}", refused.stderr);
    assert_eq!(db.psql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'kept'").trim(), "1");
}

#[test]
fn a_held_lock_makes_the_migration_retry_until_it_is_released() {
    with_password();
    let db = LoopbackDatabase::create("dblock");
    db.psql("CREATE TABLE orders (id serial PRIMARY KEY); INSERT INTO orders SELECT FROM generate_series(1, 100);");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-lock");
    std::fs::write(work.dir.join("one.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(work.dir.join("one_down.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(work.dir.join("add.sql"), "ALTER TABLE orders ADD COLUMN total numeric;\n").unwrap();
    // No backup step here: pg_dump would itself wait for the lock (it takes ACCESS SHARE).
    let plan = work.plan(&format!(
        r#"plan e2e {{
    stack {stack}
    migrate add {{
        postgres url="postgresql://postgres@127.0.0.1:15432/{}"
        phase expand
        file "add.sql"
        lock-timeout "300ms"
        require-backup #false
    }}
}}
"#,
        db.name
    ));

    // Another session reads the table in a transaction that stays open 2.5 s (ACCESS SHARE):
    // the ALTER (ACCESS EXCLUSIVE) waits behind it, and every later SELECT would queue behind
    // the ALTER for as long as it waits, were it not for lock_timeout.
    let url = db.url();
    let holder = std::thread::spawn(move || {
        std::process::Command::new("psql")
            .args([&url, "-c", "BEGIN; SELECT count(*) FROM orders; SELECT pg_sleep(2.5); COMMIT;"])
            .output()
            .unwrap()
    });
    // Meanwhile a reader, each SELECT its own transaction, for 4 s.
    let url = db.url();
    let reader = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let mut worst = std::time::Duration::ZERO;
        let mut reads = 0;
        while started.elapsed() < std::time::Duration::from_secs(4) {
            let t = std::time::Instant::now();
            let out = std::process::Command::new("psql")
                .args([&url, "-Atc", "SELECT count(*) FROM orders"])
                .output()
                .unwrap();
            assert!(out.status.success());
            worst = worst.max(t.elapsed());
            reads += 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        (worst, reads)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let run = work.apply(&plan, &[]);
    holder.join().unwrap();
    let (worst, reads) = reader.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let retries = run
        .events_of("step-progress")
        .iter()
        .filter(|e| e["message"].as_str().unwrap_or("").starts_with("lock timeout"))
        .count();
    assert!(retries >= 1, "the migration waited on the lock and retried: {}", run.stderr);
    eprintln!(
        "lock discipline: {reads} SELECTs during the migration, the slowest took {worst:.2?} (lock-timeout 300ms)"
    );
    // psql's own start and connection take part of it; without lock_timeout it is about 2.5 s.
    assert!(worst < std::time::Duration::from_millis(300 + 600), "a SELECT waited {worst:?}");
    assert_eq!(db.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'total'").trim(), "1");
}

/// `planrun-test/postgres:15-TAG`: the test image with its `pg_dump` replaced by `script`
/// (the real one is `pg_dump.real`), for failure drills. Built once, kept like the other test
/// images.
fn image_with_pg_dump(tag: &str, script: &str) -> String {
    let image = format!("{}-{tag}", support::postgres::IMAGE);
    let have = std::process::Command::new("docker").args(["image", "inspect", &image]).output().unwrap();
    if have.status.success() {
        return image;
    }
    let bin = "/usr/lib/postgresql/15/bin";
    let setup = format!("mv {bin}/pg_dump {bin}/pg_dump.real && cat > {bin}/pg_dump && chmod 755 {bin}/pg_dump");
    let name = unique("pgdump-variant");
    let mut child = std::process::Command::new("docker")
        .args([
            "run",
            "-i",
            "--name",
            &name,
            "--user",
            "root",
            "--entrypoint",
            "sh",
            support::postgres::IMAGE,
            "-c",
            &setup,
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    support::docker(&[
        "commit",
        "--change",
        "ENTRYPOINT [\"/usr/local/bin/postgres-start\"]",
        "--change",
        "USER postgres",
        &name,
        &image,
    ]);
    support::docker(&["rm", &name]);
    image
}

/// A table of `rows` events in `pg`, and a plan in a new work dir that backs `pg` up and then
/// adds a column `kind`: (stack, its lock guard, the work dir, the plan).
fn events_and_backup_plan(
    pg: &PostgresService,
    rows: u32,
    name: &str,
) -> (String, LockGuard, Workdir, std::path::PathBuf) {
    pg.exec_psql(&format!(
        "CREATE TABLE events (id serial PRIMARY KEY, body text); \
         INSERT INTO events (body) SELECT md5(i::text) FROM generate_series(1, {rows}) i;"
    ));
    let stack = unique("stack");
    let lock = LockGuard(stack.clone());
    let work = Workdir::new(name);
    std::fs::write(work.dir.join("expand.sql"), "ALTER TABLE events ADD COLUMN kind text;\n").unwrap();
    let db = format!("postgres service={} database=postgres user=postgres", pg.name);
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n    backup db {{\n        {db}\n        to \"backups\"\n    }}\n    \
         migrate expand {{\n        {db}\n        phase expand\n        file \"expand.sql\"\n    }}\n}}\n"
    ));
    (stack, lock, work, plan)
}

#[test]
fn a_truncated_or_bit_flipped_dump_is_caught_and_the_migration_after_it_never_runs() {
    let truncating =
        image_with_pg_dump("truncating", "#!/bin/sh\n/usr/lib/postgresql/15/bin/pg_dump.real \"$@\" | head -c 4000\n");
    let flipping = image_with_pg_dump(
        "flipping",
        "#!/bin/sh\nf=/tmp/planrun-flip.dump\n/usr/lib/postgresql/15/bin/pg_dump.real \"$@\" -f $f || exit $?\n\
         n=$(wc -c < $f)\nprintf 'Z' | dd of=$f bs=1 seek=$((n / 2)) count=1 conv=notrunc 2>/dev/null\ncat $f\nrm -f $f\n",
    );
    for (what, image) in [("truncated", truncating), ("bit-flipped", flipping)] {
        let pg = PostgresService::create_from("pgbad", &image, &[]);
        let (_stack, _lock, work, plan) = events_and_backup_plan(&pg, 50_000, "db-bad");
        let run = work.apply(&plan, &[]);
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        assert!(run.stderr.contains("the dump is not usable: pg_restore could not read"), "{what}: {}", run.stderr);
        let started: Vec<&str> = run.events_of("step-started").iter().filter_map(|e| e["step"].as_str()).collect();
        assert_eq!(started, ["db"], "{what}: the migration never starts");
        assert_eq!(
            pg.exec_psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'kind'").trim(),
            "0",
            "{what}"
        );
    }
}

#[test]
fn a_dump_through_a_swarm_job_arrives_whole_and_verified() {
    let pg = PostgresService::create("pgjob");
    let (_stack, _lock, work, plan) = events_and_backup_plan(&pg, 20_000, "db-job");
    let since = support::docker(&["system", "info", "--format", "{{.SystemTime}}"]);
    // As when no task of the database runs on the node planrun talks to.
    let out = support::planrun()
        .args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir"])
        .arg(work.dir.join("state"))
        .env("PLANRUN_DATABASE_ROUTE", "job")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let progress: Vec<&str> = events.iter().filter_map(|e| e["message"].as_str()).collect();
    assert!(progress.iter().any(|m| m.contains("by Swarm job")), "{progress:?}");
    let backup = events.iter().find(|e| e["event"] == "backup-taken").expect("a backup-taken event");
    let path = backup["path"].as_str().unwrap();
    assert_eq!(backup["sha256"].as_str().unwrap(), sha256(path));
    let listed = std::process::Command::new("pg_restore").args(["-f", "/dev/null", path]).output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert_eq!(pg.exec_psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'kind'").trim(), "1");
    // This run's jobs and its scripts' configs are gone (a run killed in another test may
    // have left its gates' probe jobs, which `planrun repair` removes: not this run's).
    let run_id = events.iter().find(|e| e["event"] == "run-started").and_then(|e| e["run_id"].as_str()).unwrap();
    let label = format!("label=planrun.job.run-id={run_id}");
    let jobs = support::docker(&["service", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    assert_eq!(jobs, "", "no job service is left");
    let configs = support::docker(&["config", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    assert_eq!(configs, "", "no script config is left");
    // pg_dump ran by exec in a job container that kept no log (the dump, a copy of the
    // database, passed through no log driver), and that container is gone.
    let until = support::docker(&["system", "info", "--format", "{{.SystemTime}}"]);
    let events = support::docker(&[
        "events",
        "--since",
        since.trim(),
        "--until",
        until.trim(),
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{index .Actor.Attributes \"name\"}} {{.Actor.ID}}",
    ]);
    let dumps: Vec<&str> = events.lines().filter(|l| l.starts_with("exec_start") && l.contains("pg_dump")).collect();
    assert_eq!(dumps.len(), 1, "{events}");
    let container = dumps[0].rsplit(' ').next().unwrap();
    assert!(events.lines().any(|l| l.starts_with("destroy") && l.ends_with(container)), "{events}");
}

#[test]
fn examples_migrations_kdl_runs_end_to_end() {
    // The example as written, with this test's unique service names, its backup directory and a
    // test image for the release.
    let pg = PostgresService::create_with("billingpg", &["--env", "POSTGRES_DB=billing"]);
    pg.exec_psql_in(
        "billing",
        "CREATE TABLE invoices (id serial PRIMARY KEY, issued_on date NOT NULL, terms_days integer NOT NULL); \
         INSERT INTO invoices (issued_on, terms_days) SELECT date '2026-01-01' + (i % 300), 14 + i % 3 * 16 FROM generate_series(1, 20000) i;",
    );
    let invoices = Service::create(&unique("invoices"), V1, 2);
    let stack = unique("billing");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-example");
    let example = std::fs::read_to_string(examples().join("../migrations.kdl")).unwrap();
    let text = example
        .replace("stack billing", &format!("stack {stack}"))
        .replace("billing_postgres", &pg.name)
        .replace("billing_invoices", &invoices.name)
        .replace("registry.example.com/billing/invoices:${version}", V2)
        .replace("\"/backups/billing\"", "\"backups\"");
    assert_ne!(text, example);
    std::fs::create_dir_all(work.dir.join("migrations")).unwrap();
    for f in ["expand.sql", "expand_down.sql", "backfill.sql", "contract.sql"] {
        std::fs::copy(examples().join(f), work.dir.join("migrations").join(f)).unwrap();
    }
    let plan = work.plan(&text);

    let mut apply = support::Background::apply(&work, &plan, &[]);
    apply.wait_for("awaiting-approval", "sign-off");
    // The backfill is done before anyone is asked.
    assert_eq!(
        pg.exec_psql_in("billing", "SELECT count(*) FROM invoices WHERE due_on = issued_on + terms_days").trim(),
        "20000"
    );
    assert_eq!(support::run(&["promote", &stack]).code, 0);
    let run = apply.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.outcome(), "succeeded");
    assert_eq!(pg.exec_psql_in("billing", "SELECT count(*) FROM invoices WHERE due_on IS NOT NULL").trim(), "20000");
    let columns = pg.exec_psql_in(
        "billing",
        "SELECT column_name || ':' || is_nullable FROM information_schema.columns WHERE table_name = 'invoices' ORDER BY 1",
    );
    assert_eq!(columns.trim(), "due_on:NO\nid:NO\nissued_on:NO", "contracted: terms_days gone, due_on required");
    invoices.assert_converged(V2, 2);
    let notify = run.events_of("step-finished").iter().filter(|e| e["step"] == "notify").count();
    assert_eq!(notify, 1);
}

#[test]
fn a_runaway_statement_is_cancelled_by_the_statement_timeout_and_a_migration_without_backup_is_refused() {
    with_password();
    let db = LoopbackDatabase::create("dbtimeout");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-timeout");
    std::fs::write(work.dir.join("slow.sql"), "CREATE TABLE t (id int);\nSELECT pg_sleep(30);\n").unwrap();
    let url = format!("postgresql://postgres@127.0.0.1:15432/{}", db.name);
    let plan = |extra: &str| {
        format!(
            "plan e2e {{\n    stack {stack}\n    migrate slow {{\n        postgres url=\"{url}\"\n        phase expand\n        \
             file \"slow.sql\"\n        statement-timeout \"1s\"\n{extra}    }}\n}}\n"
        )
    };

    let refused = work.apply(&work.plan(&plan("")), &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("no backup of"), "{}", refused.stderr);
    assert!(refused.stderr.contains("require-backup #false"), "the fix is named: {}", refused.stderr);

    let started = std::time::Instant::now();
    let cancelled = work.apply(&work.plan(&plan("        require-backup #false\n")), &[]);
    assert_eq!(cancelled.code, 1, "{}", cancelled.stderr);
    assert!(cancelled.stderr.contains("slow.sql:2:1: ERROR 57014"), "{}", cancelled.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "cancelled, not waited out: {:?}",
        started.elapsed()
    );
    assert_eq!(db.psql("SELECT count(*) FROM information_schema.tables WHERE table_name = 't'").trim(), "0");
}

#[test]
fn ctrl_c_in_the_middle_of_a_migration_ends_its_session_before_the_rollback_judges_it() {
    // The migration's psql in the database's task goes on by itself when planrun stops reading
    // it: unless the rollback ends that session, it would commit seconds after planrun said
    // "rolled back".
    let pg = PostgresService::create("pgcancel");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-cancel");
    std::fs::write(work.dir.join("slow.sql"), "CREATE TABLE late (id int);\nSELECT pg_sleep(8);\n").unwrap();
    let db = format!("postgres service={} database=postgres user=postgres", pg.name);
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n    migrate slow {{\n        {db}\n        phase expand\n        \
         file \"slow.sql\"\n        require-backup #false\n    }}\n}}\n"
    ));
    let mut apply = support::Background::apply(&work, &plan, &[]);
    loop {
        let e = apply.wait_for("step-progress", "slow");
        if e["message"].as_str().unwrap_or("").starts_with("applying") {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    apply.signal("INT");
    let run = apply.finish();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back", "{}", run.stderr);
    // Past the moment the abandoned transaction would have committed.
    std::thread::sleep(std::time::Duration::from_secs(8));
    assert_eq!(pg.exec_psql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'late'").trim(), "0");
    assert_eq!(
        pg.exec_psql("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'planrun-%'").trim(),
        "0",
        "no session of the run is left"
    );
}

#[test]
fn sslmode_means_what_it_means_to_libpq() {
    // The loopback server offers TLS with a self-signed certificate for 127.0.0.1
    // (tests/env/postgres-up), which is also the CA file /var/lib/planrun-test/pg-ca.crt.
    with_password();
    let db = LoopbackDatabase::create("dbtls");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-tls");
    std::fs::write(
        work.dir.join("seen.sql"),
        "CREATE TABLE IF NOT EXISTS tls_seen (ssl boolean);\nINSERT INTO tls_seen SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n",
    )
    .unwrap();
    let apply = |query: &str| {
        let url = format!("postgresql://postgres@127.0.0.1:15432/{}?{query}", db.name);
        let plan = work.plan(&format!(
            "plan e2e {{\n    stack {stack}\n    backup db {{\n        postgres url=\"{url}\"\n        to \"backups\"\n    }}\n    \
             migrate seen {{\n        postgres url=\"{url}\"\n        phase migrate\n        file \"seen.sql\"\n    }}\n}}\n"
        ));
        let run = work.apply(&plan, &[]);
        db.psql("DELETE FROM planrun.migrations WHERE file = 'seen.sql'");
        run
    };

    // require: encrypted, the certificate not checked (libpq does not check it either).
    let run = apply("sslmode=require");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // verify-full against the right CA: checked, and pg_dump checks it too.
    let run = apply("sslmode=verify-full&sslrootcert=/var/lib/planrun-test/pg-ca.crt");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(db.psql("SELECT string_agg(ssl::text, ',') FROM tls_seen").trim(), "true,true", "both over TLS");
    // verify-full without that CA: the self-signed certificate is refused.
    let run = apply("sslmode=verify-full");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.to_lowercase().contains("certificate"), "{}", run.stderr);
}

#[test]
fn a_concurrent_index_left_invalid_by_a_stopped_run_is_dropped_and_built_again_on_resume() {
    with_password();
    let db = LoopbackDatabase::create("dbcic");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-cic");
    std::fs::write(work.dir.join("one.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(work.dir.join("one_down.sql"), "SELECT 1;\n").unwrap();
    // The unique index fails on the duplicate the first time, and PostgreSQL leaves it INVALID.
    std::fs::write(
        work.dir.join("two.sql"),
        "CREATE TABLE codes (x int);\nINSERT INTO codes VALUES (1), (1);\nCREATE UNIQUE INDEX CONCURRENTLY codes_x ON codes (x);\n",
    )
    .unwrap();
    let plan = work.plan(&url_plan(&stack, &db.name, "two.sql", "pause", false));
    let paused = work.apply(&plan, &[]);
    assert_eq!(paused.outcome(), "paused", "{}", paused.stderr);
    assert!(paused.stderr.contains("ERROR 23505"), "{}", paused.stderr);
    assert_eq!(db.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'codes_x'::regclass").trim(), "f");
    assert_eq!(db.psql("SELECT completed FROM planrun.migrations WHERE file = 'two.sql'").trim(), "2");

    db.psql("DELETE FROM codes; INSERT INTO codes VALUES (1)");
    let resumed = work.apply(&plan, &[]);

    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let said = resumed
        .events_of("step-progress")
        .iter()
        .any(|e| e["message"].as_str().unwrap_or("").contains("index \"codes_x\" was left INVALID by the stopped run"));
    assert!(said, "{}", resumed.stderr);
    assert_eq!(db.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'codes_x'::regclass").trim(), "t");
    assert_eq!(db.psql("SELECT completed, statements FROM planrun.migrations WHERE file = 'two.sql'").trim(), "3|3");
}

/// planrun's session-level advisory lock on the database (key `planrun` in bytes): another
/// holder of it (a run of another stack sharing the database) makes a migration wait, and no
/// statement of it runs before the lock is released.
#[test]
fn a_migration_waits_for_another_runs_migration_lock_on_the_same_database() {
    with_password();
    let db = LoopbackDatabase::create("dbadvisory");
    db.psql("CREATE TABLE released (at timestamptz); CREATE TABLE ran (at timestamptz);");
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("db-advisory");
    std::fs::write(work.dir.join("mark.sql"), "INSERT INTO ran VALUES (clock_timestamp());\n").unwrap();
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n    migrate mark {{\n        postgres url=\"postgresql://postgres@127.0.0.1:15432/{}\"\n        \
         phase expand\n        file \"mark.sql\"\n        require-backup #false\n    }}\n}}\n",
        db.name
    ));
    let url = db.url();
    let holder = std::thread::spawn(move || {
        std::process::Command::new("psql")
            .args([
                &url,
                "-c",
                "SELECT pg_advisory_lock(31644363112215918)",
                "-c",
                "SELECT pg_sleep(2)",
                "-c",
                "INSERT INTO released VALUES (clock_timestamp())",
                "-c",
                "SELECT pg_advisory_unlock(31644363112215918)",
            ])
            .output()
            .unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let applied = work.apply(&plan, &[]);
    assert!(holder.join().unwrap().status.success());

    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(
        db.psql("SELECT (SELECT at FROM ran) >= (SELECT at FROM released)").trim(),
        "t",
        "the migration's statement ran only once the other holder released the lock"
    );
}

/// SIGKILL of planrun in the middle of a statement-by-statement (`transactional #false`)
/// migration, on a database reached by URL and on one that is a Swarm service (reached by
/// `exec`): the first statement is done and recorded, the second still runs in the killed
/// run's session. `planrun rollback` from another machine (an empty state directory) ends that
/// session, so the third statement never runs, runs the `down` file and forgets the migration;
/// the next `apply` runs it whole.
#[test]
fn a_run_killed_inside_a_statement_by_statement_migration_is_undone_from_another_machine() {
    with_password();
    let loopback = LoopbackDatabase::create("dbkillnt");
    let pg = PostgresService::create("pgkillnt");
    let by_url = |sql: &str| loopback.psql(sql);
    let by_exec = |sql: &str| pg.exec_psql(sql);
    let url = format!("postgres url=\"postgresql://postgres@127.0.0.1:15432/{}\"", loopback.name);
    let service = format!("postgres service={} database=postgres user=postgres", pg.name);
    type Psql<'a> = &'a dyn Fn(&str) -> String;
    let routes: [(&str, &str, Psql); 2] = [("url", &url, &by_url), ("exec", &service, &by_exec)];
    let work = Workdir::new("db-killnt");
    // The second statement sleeps while the table `slow_flag` exists.
    std::fs::write(
        work.dir.join("slow.sql"),
        "CREATE TABLE audit (id bigserial PRIMARY KEY);\n\
         SELECT pg_sleep(CASE WHEN EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'slow_flag') THEN 60 ELSE 0 END);\n\
         ALTER TABLE accounts ADD COLUMN email text;\n",
    )
    .unwrap();
    std::fs::write(
        work.dir.join("slow_down.sql"),
        "ALTER TABLE accounts DROP COLUMN IF EXISTS email;\nDROP TABLE IF EXISTS audit;\n",
    )
    .unwrap();
    let columns = "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name) \
                   FROM information_schema.columns WHERE table_schema = 'public'";
    // This database's only: the loopback server serves the other tests' databases too.
    let sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'planrun-%' AND datname = current_database()";
    for (route, database, psql) in routes {
        psql("CREATE TABLE accounts (id serial PRIMARY KEY, name text); CREATE TABLE slow_flag (x int);");
        let before = psql(columns);
        let stack = unique("stack");
        let _lock = LockGuard(stack.clone());
        let plan = work.plan(&format!(
            "plan e2e {{\n    stack {stack}\n    migrate slow {{\n        {database}\n        phase expand\n        \
             file \"slow.sql\"\n        down \"slow_down.sql\"\n        transactional #false\n        \
             require-backup #false\n    }}\n}}\n"
        ));
        let apply = support::Background::apply(&work, &plan, &[]);
        let waiting = std::time::Instant::now();
        while psql(&format!("{sessions} AND query LIKE '%pg_sleep%' AND state = 'active'")).trim() != "1" {
            assert!(waiting.elapsed() < std::time::Duration::from_secs(60), "{route}: the second statement never ran");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        apply.signal("KILL");
        let _ = apply.finish();
        assert_eq!(psql("SELECT completed, statements FROM planrun.migrations WHERE file = 'slow.sql'").trim(), "1|3");
        assert_ne!(psql(sessions).trim(), "0", "{route}: the killed run's statement still runs");

        let empty = work.dir.join(format!("elsewhere-{route}"));
        let started = std::time::Instant::now();
        let rolled = support::run(&["rollback", &stack, "--state-dir", empty.to_str().unwrap()]);

        assert_eq!(rolled.code, 0, "{route}: {}", rolled.stderr);
        eprintln!("{route}: the rollback took {:?}", started.elapsed());
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{route}: the sleep was not waited out");
        assert_eq!(psql(sessions).trim(), "0", "{route}: no session of the killed run is left");
        assert_eq!(psql(columns), before, "{route}: the schema as before the run");
        assert_eq!(psql("SELECT count(*) FROM pg_tables WHERE tablename = 'audit'").trim(), "0", "{route}");
        assert_eq!(psql("SELECT count(*) FROM planrun.migrations WHERE file = 'slow.sql'").trim(), "0", "{route}");
        assert!(!support::lock_exists(&stack), "{route}: the lock is released");

        psql("DROP TABLE slow_flag");
        let again = work.apply(&plan, &[]);
        assert_eq!(again.code, 0, "{route}: {}", again.stderr);
        assert_eq!(psql("SELECT completed, statements FROM planrun.migrations WHERE file = 'slow.sql'").trim(), "3|3");
        assert_eq!(psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'").trim(), "1");
        support::forget_stack(&stack);
    }
}
