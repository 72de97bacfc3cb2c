//! examples/prodstack, end to end on the real swarm: `examples/prodstack/up` deploys release 1.0
//! with `docker stack deploy` (PostgreSQL seeded with 5,000 orders, backend, worker, frontend
//! blue and green, the nginx router, the edge, Prometheus scraping every app task), then
//! `planrun apply plan.kdl --env local` releases 2.0: backup, expand, the backend rolling behind
//! Prometheus gates on the apps' own metrics, the worker canary (its manual stage answered with
//! `planrun promote` from another process), the frontend's blue-green switch, contract, check.
//!
//! Each release runs on a copy of the example under a unique stack name (`support::prodstack`),
//! which `examples/prodstack/down` removes. Both releases, and the runs killed inside each
//! kind of step, run in one test, one after the other: the machine has 2 cores, and each stack
//! has 15 to 20 containers with load on them.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::prodstack::{KillPoint, Stack, finish_promoting, kill_at, sha256};
use support::{Probe, Workdir, docker, transcript};

#[test]
fn prodstack_releases_2_0_rolls_back_a_broken_2_0_and_survives_a_killed_runner() {
    let transcript = release_2_0();
    broken_release_rolls_back();
    killed_inside_each_step_kind_is_rolled_back_from_an_empty_state_dir();
    // Last: a transcript that reads differently now must not keep the releases above from
    // being tested.
    transcript.unwrap_or_else(|e| panic!("{e}"));
}

/// The good release: every step, real metrics, zero failed requests, the data kept. Its output
/// compared with docs/transcripts/prodstack.md (`support::transcript`).
fn release_2_0() -> Result<(), String> {
    let stack = Stack::up(Workdir::new("prodstack"));
    assert_eq!(stack.psql("SELECT count(*) FROM orders"), "5000");
    let before = stack.orders_columns();
    assert!(before.contains("legacy_status") && !before.contains("currency"), "{before}");

    let probes = [stack.probe("/"), stack.probe("/api/v1/orders"), stack.probe("/jobs/run")];
    let run = finish_promoting(&stack, stack.apply(&[]));
    let seen: Vec<_> = probes.into_iter().map(Probe::stop).collect();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.outcome(), "succeeded");
    // The canary's second stage waited for a person, who answered from another process.
    let asked = run.events_of("awaiting-approval");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["step"], "worker");
    assert!(run.events_of("answered").iter().any(|e| e["step"] == "worker" && e["approved"] == true));

    // Every service runs 2.0; the frontend's traffic goes to green; no canary is left.
    assert_eq!(stack.image("backend"), "prodstack-demo/backend:v2");
    assert_eq!(stack.replicas("backend"), "3/3");
    assert_eq!(stack.image("worker"), "prodstack-demo/worker:v2");
    assert_eq!(stack.replicas("worker"), "4/4");
    assert_eq!(stack.image("frontend_green"), "prodstack-demo/frontend:v2");
    assert_eq!(stack.replicas("frontend_green"), "2/2");
    assert!(
        docker(&["service", "ls", "-q", "--filter", &format!("name={}-canary", stack.service("worker"))])
            .trim()
            .is_empty()
    );
    let front = Command::new("curl").args(["-fsS", &format!("http://127.0.0.1:{}/", stack.edge)]).output().unwrap();
    let front = String::from_utf8_lossy(&front.stdout);
    assert!(front.contains("role=frontend version=v2"), "{front}");

    // Users saw 1.0, then 2.0, and not one failed request on any path.
    for (path, seen) in ["/", "/api/v1/orders", "/jobs/run"].iter().zip(&seen) {
        assert_eq!(seen.failed, 0, "{path}: {:?}", seen.failures);
        assert!(seen.versions.contains_key("v1") && seen.versions.contains_key("v2"), "{path}: {:?}", seen.versions);
    }

    // The gates judged the apps' own metrics, through the stack's Prometheus.
    let measured = |gate: &str| -> Vec<f64> {
        run.events_of("measurement")
            .into_iter()
            .filter(|e| e["gate"] == gate && e["verdict"] == "pass")
            .filter_map(|e| e["value"].as_str().and_then(|v| v.parse().ok()))
            .collect()
    };
    assert!(measured("error-rate").len() >= 10, "{:#?}", run.events_of("measurement"));
    assert!(measured("worker-errors").len() >= 18);
    let p95 = measured("p95-latency");
    assert!(p95.len() >= 10 && p95.iter().all(|v| *v > 0.0 && *v < 0.5), "{p95:?}");
    let served = stack.query(r#"sum(http_requests_total{job="backend",version="v2"})"#).unwrap_or(0.0);
    assert!(served > 100.0, "the v2 backend's own counter: {served}");

    // The data: every order kept, the 2.0 schema, the backup verified against its journal entry.
    assert_eq!(stack.psql("SELECT count(*) FROM orders"), "5000");
    assert_eq!(stack.psql("SELECT count(*) FROM orders WHERE currency = 'EUR'"), "5000");
    let after = stack.orders_columns();
    assert!(after.contains("currency:NO") && !after.contains("legacy_status"), "{after}");
    assert_eq!(
        stack.psql(
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated AND connamespace = 'public'::regnamespace"
        ),
        "0"
    );
    let backup = run.events_of("backup-taken");
    let backup = backup.first().expect("a backup-taken event");
    assert_eq!(backup["verified"], true);
    let dump = PathBuf::from(backup["path"].as_str().unwrap());
    assert!(dump.starts_with(stack.dir.join("backups")), "{dump:?}");
    assert_eq!(backup["sha256"].as_str().unwrap(), sha256(&dump));
    let log = std::fs::read_to_string(stack.dir.join("DEPLOYMENT_LOG.md")).unwrap();
    assert!(log.contains("succeeded"), "{log}");

    // The summary names every change the run made.
    let s = |n: &str| stack.service(n);
    for change in [
        format!("changed: {}: prodstack-demo/backend:v1 -> prodstack-demo/backend:v2\n", s("backend")),
        format!("changed: {}: prodstack-demo/worker:v1 -> prodstack-demo/worker:v2\n", s("worker")),
        format!("changed: traffic ({}): {} -> {}\n", s("nginx"), s("frontend_blue"), s("frontend_green")),
        format!("changed: {}/prodstack: migrations/contract.sql applied\n", s("postgres")),
    ] {
        assert!(run.stderr.contains(&change), "{change}in:\n{}", run.stderr);
    }

    // What it printed, as docs/transcripts/prodstack.md shows it: the copy's names put back.
    let (dir, work) = (stack.dir.display().to_string(), stack.work.dir.display().to_string());
    let transcript = transcript::renamed(
        &transcript::from_events(&run.events, &run.stderr),
        &[
            (&format!("{dir}/backups"), "/var/backups/prodstack"),
            (&format!("{work}/state"), ".planrun"),
            (&dir, "examples/prodstack"),
            (&format!("127.0.0.1:{}", stack.edge), "127.0.0.1:18080"),
            (&format!("127.0.0.1:{}", stack.prometheus), "127.0.0.1:19190"),
            (&stack.name, "prodstack"),
        ],
    );
    assert!(!transcript.contains(&work), "{transcript}");
    let transcript =
        transcript::check("prodstack", "planrun apply examples/prodstack/plan.kdl --env local", &transcript);

    // `up` again puts the services back on 1.0 and keeps the released database as it is.
    stack.deploy();
    assert_eq!(stack.image("backend"), "prodstack-demo/backend:v1");
    assert_eq!(stack.replicas("frontend_green"), "0/0");
    assert_eq!(stack.orders_columns(), after);
    assert_eq!(stack.psql("SELECT count(*) FROM orders"), "5000");
    transcript
}

/// A 2.0 that answers 500 to real requests while its health checks pass: Swarm sees nothing
/// wrong, the gates do, and the whole release goes back, schema included.
fn broken_release_rolls_back() {
    let stack = Stack::up(Workdir::new("prodstack-broken"));
    let schema = stack.schema();
    let columns = stack.orders_columns();
    // The load the gates measure (these two probes see the errors until the rollback).
    let load = [stack.probe("/api/v1/orders"), stack.probe("/jobs/run")];
    let front = stack.probe("/");

    let run = stack.apply(&["--var", "version=v2-errors"]).finish();
    let front = front.stop();
    drop(load);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    let undone =
        format!("changed: {}/prodstack: migrations/expand.sql applied (rolled back)\n", stack.service("postgres"));
    assert!(run.stderr.contains(&undone), "{undone}in:\n{}", run.stderr);
    let failed: Vec<_> = run
        .events_of("gate-finished")
        .into_iter()
        .filter(|e| e["verdict"] != "passed")
        .map(|e| e["gate"].as_str().unwrap_or_default().to_owned())
        .collect();
    // The new tasks' own answers (asked from inside the stack's network) or the error rates in
    // Prometheus: whichever sees the 500s first.
    let gates = ["api-answers", "canary-answers", "error-rate", "worker-errors"];
    assert!(
        failed.iter().any(|g| gates.contains(&g.as_str())),
        "a gate that sees the 500s stopped it: {failed:?}\n{}",
        run.stderr
    );

    // Back on 1.0: the backend rolled back, the canary gone, the frontend untouched, the expand
    // undone by its down file, every order kept.
    assert_eq!(stack.image("backend"), "prodstack-demo/backend:v1");
    assert_eq!(stack.replicas("backend"), "3/3");
    assert_eq!(stack.image("worker"), "prodstack-demo/worker:v1");
    assert_eq!(stack.replicas("worker"), "4/4");
    assert!(
        docker(&["service", "ls", "-q", "--filter", &format!("name={}-canary", stack.service("worker"))])
            .trim()
            .is_empty()
    );
    assert_eq!(stack.replicas("frontend_green"), "0/0");
    assert_eq!(stack.schema(), schema);
    assert_eq!(stack.orders_columns(), columns);
    assert_eq!(stack.psql("SELECT count(*) FROM orders"), "5000");
    assert_eq!(front.failed, 0, "the frontend was never touched: {:?}", front.failures);
}

/// SIGKILL inside each kind of step of the release (the backup as its dump starts, a migration,
/// a rolling update, a canary, a blue-green switch, the contract migration), right after the
/// step recorded how to undo itself, and at two step boundaries, as a CI runner dies; then `planrun rollback` from another machine (an empty state
/// directory) puts everything back: every service on 1.0, no canary, the frontend's traffic
/// on blue, the schema as `pg_dump --schema-only` showed it, every order, no lock.
///
/// About 30 s a kill point. CI runs ten of them; `PLANRUN_KILL_POINTS=all` runs all seventeen
/// (docs/reliability.md).
fn killed_inside_each_step_kind_is_rolled_back_from_an_empty_state_dir() {
    let stack = Stack::up(Workdir::new("prodstack-kills"));
    let schema = stack.schema_dump();
    assert!(schema.contains("CREATE TABLE public.orders"), "{schema}");
    let project = stack.dir.join("planrun.toml");
    let all = std::env::var("PLANRUN_KILL_POINTS").is_ok_and(|v| v == "all");
    let at = KillPoint::at;
    let secs = std::time::Duration::from_secs;
    // (the point, whether CI runs it)
    let points = [
        // Inside the backup, as the dump starts: nothing changed yet.
        (at("step-progress", "db"), true),
        (at("step-finished", "db"), false),
        (at("step-recorded", "expand"), true),
        // In the middle of the expand migration's transaction: its statements ran and it sleeps
        // before committing (below), so the killed run's psql is still in it.
        (KillPoint { message: Some("applying"), after: secs(3), ..at("step-progress", "expand") }, true),
        // Between steps: the expand migration done, nothing else started or just started.
        (at("step-finished", "expand"), true),
        (at("step-recorded", "backend"), true),
        // The backend's rolling update with one of three replicas replaced.
        (KillPoint { updated: Some(1), ..at("step-progress", "backend") }, false),
        (at("step-finished", "backend"), false),
        (at("step-recorded", "worker"), true),
        // The worker's canary taking traffic, in its timed soak, then at its manual pause.
        (KillPoint { message: Some("pausing for"), ..at("step-progress", "worker") }, false),
        (at("awaiting-approval", "worker"), false),
        (at("step-finished", "worker"), true),
        (at("step-recorded", "frontend"), true),
        // In the middle of the nginx switch: the router's update written, not yet converged.
        (KillPoint { message: Some("switching"), after: secs(1), ..at("step-progress", "frontend") }, true),
        // Switched, its gates judging the new colour.
        (KillPoint { gate: Some("api-health"), ..at("measurement", "frontend") }, false),
        (at("step-finished", "frontend"), false),
        (at("step-started", "contract"), true),
    ];
    let expand = stack.dir.join("migrations/expand.sql");
    let expand_text = std::fs::read_to_string(&expand).unwrap();
    for (point, in_ci) in points {
        if !(in_ci || all) {
            continue;
        }
        // A transaction that outlives the kill by far, so that it is still open when
        // `rollback` comes: it must end it (the transaction rolls back), not wait for it.
        let slow = point.step == "expand" && point.kind == "step-progress";
        let text = if slow { format!("{expand_text}\nSELECT pg_sleep(60);\n") } else { expand_text.clone() };
        std::fs::write(&expand, text).unwrap();
        let kind = point.to_string();
        eprintln!("=== SIGKILL at {kind}");
        // The load the Prometheus gates measure, as in the release above.
        let load = [stack.probe("/api/v1/orders"), stack.probe("/jobs/run")];
        let killed = kill_at(&stack, stack.apply(&[]), point);
        drop(load);
        assert_ne!(killed.code, 0, "killed at {kind}");
        let sleeping =
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()";
        if slow {
            assert_eq!(stack.psql(sleeping), "1", "the killed run's transaction is still open");
        }
        let elsewhere = Workdir::new("elsewhere");
        let rollback_started = std::time::Instant::now();
        let empty = elsewhere.dir.join("state");
        let rolled = support::run(&[
            "rollback",
            "--stack",
            &stack.name,
            "--state-dir",
            empty.to_str().unwrap(),
            "--env",
            "local",
            "--project",
            project.to_str().unwrap(),
        ]);
        assert_eq!(rolled.code, 0, "rollback after a kill at {kind}: {}", rolled.stderr);
        if slow {
            // Ended, not waited for: the transaction would sleep for a minute.
            assert_eq!(stack.psql(sleeping), "0", "the killed run's transaction is left open");
            assert!(rollback_started.elapsed() < secs(50), "rollback waited for the killed run's transaction");
        }
        assert_eq!(stack.image("backend"), "prodstack-demo/backend:v1", "after {kind}");
        assert_eq!(stack.replicas("backend"), "3/3", "after {kind}");
        assert_eq!(stack.image("worker"), "prodstack-demo/worker:v1", "after {kind}");
        assert_eq!(stack.replicas("worker"), "4/4", "after {kind}");
        let canary = format!("name={}-canary", stack.service("worker"));
        assert!(docker(&["service", "ls", "-q", "--filter", &canary]).trim().is_empty(), "canary left after {kind}");
        assert_eq!(stack.replicas("frontend_green"), "0/0", "after {kind}");
        let front = Command::new("curl").args(["-fsS", &format!("http://127.0.0.1:{}/", stack.edge)]).output().unwrap();
        let front = String::from_utf8_lossy(&front.stdout);
        assert!(front.contains("role=frontend version=v1"), "traffic on blue after {kind}: {front}");
        assert_eq!(stack.schema_dump(), schema, "the schema after a kill at {kind}");
        assert_eq!(stack.psql("SELECT count(*) FROM orders"), "5000");
        assert!(!support::lock_exists(&stack.name), "the lock is left after {kind}");
        assert!(!support::question_left(&stack.name), "a question is left after {kind}");
        // A dump cut short is named NAME.partial; anything named as a dump is whole.
        for entry in std::fs::read_dir(stack.dir.join("backups")).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "dump") {
                let listed = Command::new("pg_restore").args(["-l"]).arg(&path).output().unwrap();
                assert!(listed.status.success(), "{} is named as a dump but is not whole", path.display());
            } else {
                assert!(path.to_string_lossy().ends_with(".dump.partial"), "{}", path.display());
            }
        }
    }
}
