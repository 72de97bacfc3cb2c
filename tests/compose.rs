//! The `compose` step against the real local swarm: examples/compose/docker-compose.yml (three
//! services, one global; two networks; a config and a secret) brought up, updated and rolled
//! back by `planrun apply`, and compared field by field with what `docker stack deploy` makes
//! of the same file. Every stack is named uniquely and removed at the end, pass or fail.

mod support;

use std::path::Path;

use support::compose::{StackGuard as Stack, diff, network_names, normalized, spec, stored_spec};
use support::{Workdir, docker, repo, unique};

/// A work directory with the example's compose file and files, and its plan for `stack`.
fn example(stack: &str) -> (Workdir, std::path::PathBuf) {
    let work = Workdir::new("compose");
    let from = repo().join("examples/compose");
    std::fs::create_dir_all(work.dir.join("compose")).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, work.dir.join("compose").join(path.file_name().unwrap())).unwrap();
    }
    let text = std::fs::read_to_string(repo().join("examples/compose.kdl"))
        .unwrap()
        .replace("stack shop", &format!("stack {stack}"))
        .replace("swarm shop_", &format!("swarm {stack}_"));
    let plan = work.plan(&text);
    (work, plan)
}

/// `planrun apply` with `env` set for the compose file's interpolation.
fn apply(work: &Workdir, plan: &Path, env: &[(&str, &str)]) -> support::Run {
    let state = work.dir.join("state");
    let mut cmd = support::planrun();
    cmd.args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir", state.to_str().unwrap()]);
    for var in ["WEB_TAG", "API_TAG", "AGENT_TAG"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("planrun runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r = support::Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        events: stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect(),
        stdout: stdout.clone().into_owned(),
    };
    eprintln!("planrun apply {env:?} -> exit {}\n{}", r.code, r.stderr);
    r
}

fn version(service: &str) -> u64 {
    docker(&["service", "inspect", service, "--format", "{{.Version.Index}}"]).parse().unwrap()
}

fn image(service: &str) -> String {
    spec(service)["TaskTemplate"]["ContainerSpec"]["Image"].as_str().unwrap_or_default().to_owned()
}

/// Running tasks of `service` and their images, once they have settled (at most 60 s).
fn running_images(service: &str) -> Vec<String> {
    docker(&["service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Image}} {{.CurrentState}}"])
        .lines()
        .filter(|l| l.contains("Running"))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

fn labelled(kind: &str, stack: &str) -> usize {
    docker(&[kind, "ls", "-q", "--filter", &format!("label=com.docker.stack.namespace={stack}")]).lines().count()
}

#[test]
fn a_compose_stack_comes_up_then_rolls_only_what_changed() {
    let stack = unique("shop");
    let _guard = Stack(stack.clone());
    let (work, plan) = example(&stack);

    let first = apply(&work, &plan, &[]);
    assert_eq!(first.code, 0, "the stack comes up: {}", first.stderr);
    assert_eq!(first.outcome(), "succeeded");
    let listed = docker(&["stack", "services", &stack, "--format", "{{.Name}} {{.Mode}} {{.Replicas}}"]);
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(listed.len(), 3, "docker stack services lists the stack: {listed:?}");
    assert!(listed.contains(&format!("{stack}_agent global 1/1").as_str()), "{listed:?}");
    assert!(listed.contains(&format!("{stack}_web replicated 2/2").as_str()), "{listed:?}");
    assert_eq!(labelled("network", &stack), 2, "two overlay networks");
    assert_eq!(labelled("config", &stack), 1);
    assert_eq!(labelled("secret", &stack), 1);
    assert!(docker(&["stack", "ls", "--format", "{{.Name}}"]).lines().any(|l| l == stack), "docker stack ls lists it");

    let (web, api, agent) = (format!("{stack}_web"), format!("{stack}_api"), format!("{stack}_agent"));
    let (api_version, agent_version) = (version(&api), version(&agent));
    let second = apply(&work, &plan, &[("WEB_TAG", "v2")]);
    assert_eq!(second.code, 0, "web rolls to v2: {}", second.stderr);
    assert_eq!(second.outcome(), "succeeded");
    assert_eq!(image(&web), "planrun-test/app:v2");
    assert_eq!(running_images(&web), vec!["planrun-test/app:v2"; 2]);
    let update = &spec(&web)["UpdateConfig"];
    assert_eq!(update["Order"], "start-first", "the compose file's update_config");
    assert_eq!(update["FailureAction"], "rollback");
    assert_eq!(update["Delay"], 1_000_000_000u64);
    assert_eq!(version(&api), api_version, "an unchanged service is not touched");
    assert_eq!(version(&agent), agent_version, "an unchanged global service is not touched");
    let progress: Vec<String> =
        second.events_of("step-progress").iter().map(|e| e["message"].as_str().unwrap_or("").to_owned()).collect();
    assert!(progress.iter().any(|m| m == &format!("{api} unchanged")), "{progress:?}");
    let gates: Vec<&serde_json::Value> = second.events_of("gate-finished");
    assert_eq!(gates.len(), 2, "both gates judged the release: {gates:?}");
}

#[test]
fn one_failing_service_of_three_puts_all_three_back() {
    let stack = unique("shop");
    let _guard = Stack(stack.clone());
    let (work, plan) = example(&stack);
    let first = apply(&work, &plan, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let names = ["web", "api", "agent"].map(|s| format!("{stack}_{s}"));
    let before: Vec<serde_json::Value> = names.iter().map(|n| spec(n)).collect();

    let failed = apply(&work, &plan, &[("WEB_TAG", "v2"), ("API_TAG", "never-healthy"), ("AGENT_TAG", "v2")]);

    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.outcome(), "rolled-back");
    assert!(failed.stderr.contains("never-healthy"), "the cause names the failing release: {}", failed.stderr);
    for (name, before) in names.iter().zip(&before) {
        assert_eq!(&spec(name), before, "{name} is back on its previous spec");
        assert!(running_images(name).iter().all(|i| i == "planrun-test/app:v1"), "{name} runs v1 again");
    }
}

#[test]
fn a_new_stack_that_fails_leaves_nothing_behind() {
    let stack = unique("shop");
    let _guard = Stack(stack.clone());
    let (work, plan) = example(&stack);

    let failed = apply(&work, &plan, &[("API_TAG", "exit")]);

    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.outcome(), "rolled-back");
    for kind in ["service", "network", "config", "secret"] {
        assert_eq!(labelled(kind, &stack), 0, "no {kind} of the stack is left");
    }
}

/// A run killed (SIGKILL, as a CI runner dies) in the middle of a compose step is undone by
/// `planrun rollback` from another machine (an empty state directory): first while it updates a
/// stack (one new task up), which goes back to its exact previous specs; then while it creates
/// one, which leaves nothing behind.
#[test]
fn a_run_killed_inside_a_compose_step_is_undone_from_an_empty_state_dir() {
    let stack = unique("shop");
    let _guard = Stack(stack.clone());
    let (work, plan) = example(&stack);
    let first = apply(&work, &plan, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let names = ["web", "api", "agent"].map(|s| format!("{stack}_{s}"));
    let before: Vec<serde_json::Value> = names.iter().map(|n| spec(n)).collect();
    let rollback = |stack: &str| {
        let elsewhere = Workdir::new("compose-elsewhere");
        let empty = elsewhere.dir.join("state");
        support::run(&["rollback", stack, "--state-dir", empty.to_str().unwrap()])
    };
    let text = std::fs::read_to_string(&plan).unwrap();

    // Every service to v2 (the plan's own variables win over the environment's).
    let v2 = work.plan(&text.replace(
        "    on-failure rollback\n",
        "    on-failure rollback\n    var WEB_TAG default=v2\n    var API_TAG default=v2\n    var AGENT_TAG default=v2\n",
    ));
    let mut run = support::Background::apply(&work, &v2, &[]);
    let at = run.wait_until("a new task of the update running", |e| {
        e["event"] == "step-progress" && e["step"] == "shop" && e["updated"][0].as_u64().is_some_and(|n| n >= 1)
    });
    run.signal("KILL");
    let killed = run.finish();
    assert_ne!(killed.code, 0);
    eprintln!("killed at: {at}");
    assert!(names.iter().zip(&before).any(|(n, b)| &spec(n) != b), "the kill came after the update was written");
    let rolled = rollback(&stack);
    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    for (name, before) in names.iter().zip(&before) {
        assert_eq!(&spec(name), before, "{name} is back on its exact previous spec");
    }
    for name in &names[..2] {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !running_images(name).iter().all(|i| i == "planrun-test/app:v1") {
            assert!(std::time::Instant::now() < until, "{name} runs v1 again: {:?}", running_images(name));
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    assert!(!support::lock_exists(&stack), "the dead run's lock is released");

    // A stack being created: everything it made is removed.
    let new = unique("shop");
    let _new_guard = Stack(new.clone());
    let created = work.plan(
        &text
            .replace(&format!("stack {stack}"), &format!("stack {new}"))
            .replace(&format!("swarm {stack}_"), &format!("swarm {new}_")),
    );
    let mut run = support::Background::apply(&work, &created, &[]);
    // "creating NAME (IMAGE)" comes before each service's create: at the second, one exists.
    let services_begun = std::cell::Cell::new(0);
    run.wait_until("a second service begun", |e| {
        let service = e["event"] == "step-progress"
            && e["message"].as_str().is_some_and(|m| m.starts_with("creating ") && m.ends_with(')'));
        services_begun.set(services_begun.get() + usize::from(service));
        services_begun.get() == 2
    });
    run.signal("KILL");
    let _ = run.finish();
    assert!(labelled("service", &new) > 0, "the kill came after a service was created");
    let rolled = rollback(&new);
    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    for kind in ["service", "network", "config", "secret"] {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while labelled(kind, &new) != 0 {
            assert!(std::time::Instant::now() < until, "a {kind} of the stack is left");
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
}

/// `docker stack deploy` and planrun make the same service specs from the same file, as the
/// daemon keeps them (not through `docker service inspect`, which fills Swarm's defaults in). The only
/// differences allowed are the stack's own name (in names and the namespace label) and the ids
/// of the networks, configs and secrets, which are compared by name instead.
#[test]
fn planrun_and_docker_stack_deploy_write_equal_service_specs() {
    let ours = unique("ours");
    let theirs = unique("theirs");
    let (_g1, _g2) = (Stack(ours.clone()), Stack(theirs.clone()));
    let (work, plan) = example(&ours);
    let applied = apply(&work, &plan, &[]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let compose = work.dir.join("compose/docker-compose.yml");
    let out = std::process::Command::new("docker")
        .args(["stack", "deploy", "--resolve-image", "never", "-c", compose.to_str().unwrap(), &theirs])
        .env_remove("WEB_TAG")
        .env_remove("API_TAG")
        .env_remove("AGENT_TAG")
        .output()
        .unwrap();
    assert!(out.status.success(), "docker stack deploy: {}", String::from_utf8_lossy(&out.stderr));

    let mut differences = Vec::new();
    let names = network_names();
    for service in ["web", "api", "agent"] {
        let a = normalized(&stored_spec(&format!("{ours}_{service}")), &ours, &names);
        let b = normalized(&stored_spec(&format!("{theirs}_{service}")), &theirs, &names);
        diff(&a, &b, service, &mut differences);
    }
    assert!(differences.is_empty(), "planrun and docker stack deploy differ:\n{}", differences.join("\n"));
    // The comparison can fail: a changed field is found.
    let mut changed = normalized(&stored_spec(&format!("{ours}_web")), &ours, &names);
    changed["TaskTemplate"]["ContainerSpec"]["Env"] = serde_json::json!(["X=1"]);
    let mut found = Vec::new();
    diff(&changed, &normalized(&stored_spec(&format!("{theirs}_web")), &theirs, &names), "web", &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
}

/// The stack of issue 18's report, as a team has it: `docker stack deploy` runs PostgreSQL on a
/// named volume beside a web service. A compose plan that changes only web's image leaves the
/// database's task and data alone; the same file without the volume is refused before any
/// change, naming the mount, and `planrun plan` shows it.
#[test]
fn a_database_volume_docker_deployed_is_kept_and_a_file_that_drops_it_is_refused() {
    const FILE: &str = "\
services:
  db:
    image: planrun-test/postgres:15
    user: root
    environment:
      POSTGRES_PASSWORD: test-only
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: [\"CMD-SHELL\", \"pg_isready -q -h 127.0.0.1 -U postgres\"]
      interval: 1s
      timeout: 3s
      retries: 3
      start_period: 60s
    deploy:
      endpoint_mode: dnsrr
  web:
    image: planrun-test/app:${WEB_TAG:-v1}
    healthcheck:
      test: [\"CMD-SHELL\", \"timeout 2 wget -q -O- http://127.0.0.1:8080/health\"]
      interval: 1s
      timeout: 3s
      retries: 1
    deploy:
      endpoint_mode: dnsrr
      update_config: {order: start-first, failure_action: rollback, delay: 1s, monitor: 2s}
volumes:
  pgdata: {}
";
    let stack = unique("keep");
    let _guard = Stack(stack.clone());
    let work = Workdir::new("compose-volume");
    let file = work.dir.join("docker-compose.yml");
    std::fs::write(&file, FILE).unwrap();
    let out = std::process::Command::new("docker")
        .args(["stack", "deploy", "--detach=false", "--resolve-image", "never", "-c", file.to_str().unwrap(), &stack])
        .env_remove("WEB_TAG")
        .output()
        .unwrap();
    assert!(out.status.success(), "docker stack deploy: {}", String::from_utf8_lossy(&out.stderr));
    let db = format!("{stack}_db");
    let container = || {
        let label = format!("label=com.docker.swarm.service.name={db}");
        docker(&["ps", "-q", "--filter", &label, "--filter", "status=running"])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let psql = |sql: &str| {
        let c = container();
        docker(&["exec", "-u", "postgres", &c, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while support::healthy_containers(&db) == 0 {
        assert!(std::time::Instant::now() < until, "{db} not healthy within 90 s");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    psql("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('written before planrun');");
    let task = |service: &str| docker(&["service", "ps", "-q", "--filter", "desired-state=running", service]);
    let (db_task, db_version) = (task(&db), version(&db));

    let plan = work.plan(&format!(
        "plan keep {{\n    stack {stack}\n    on-failure rollback\n    gate web-up {{\n        swarm {stack}_web\n        count 1\n    }}\n    compose stack {{\n        file \"docker-compose.yml\"\n        deadline \"3m\"\n        gates web-up\n    }}\n}}\n"
    ));
    let released = apply(&work, &plan, &[("WEB_TAG", "v2")]);
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert_eq!(image(&format!("{stack}_web")), "planrun-test/app:v2");
    assert_eq!((task(&db), version(&db)), (db_task.clone(), db_version), "the database's task and spec are untouched");
    assert_eq!(psql("SELECT note FROM kept"), "written before planrun", "its data is where it was");
    let mounts = &spec(&db)["TaskTemplate"]["ContainerSpec"]["Mounts"];
    assert_eq!(mounts[0]["Source"], format!("{stack}_pgdata"));

    // The volume is gone from the file (and web goes back to v1): refused before any change.
    std::fs::write(&file, FILE.replace("    volumes:\n      - pgdata:/var/lib/postgresql/data\n", "")).unwrap();
    // Swarm's own `completed` write (after the monitor window) moves the version index: wait.
    let web = format!("{stack}_web");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while docker(&["service", "inspect", &web, "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"])
        == "updating"
    {
        assert!(std::time::Instant::now() < until, "{web} still updating after 30 s");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let web_version = version(&web);
    let shown = support::planrun()
        .args(["plan", plan.to_str().unwrap(), "--state-dir", work.dir.join("state").to_str().unwrap()])
        .env_remove("WEB_TAG")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned() + &String::from_utf8_lossy(&shown.stderr);
    eprintln!("planrun plan:\n{shown}");
    assert!(shown.contains("mount /var/lib/postgresql/data"), "the diff shows the mount: {shown}");
    assert!(shown.contains(&format!("the mount volume {stack}_pgdata at /var/lib/postgresql/data of {db}")), "{shown}");
    let refused = apply(&work, &plan, &[]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(refused.stderr.contains("preflight found problems: nothing was changed"), "{}", refused.stderr);
    let problems: Vec<String> = refused.events_of("run-refused")[0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains(&format!("the mount volume {stack}_pgdata at /var/lib/postgresql/data of {db}"))
            && problems[0].contains("allow-removing mounts"),
        "the refusal names the mount and the fix: {problems:?}"
    );
    assert_eq!(version(&format!("{stack}_web")), web_version, "nothing was changed, web included");
    assert_eq!((task(&db), version(&db)), (db_task, db_version));
    assert_eq!(psql("SELECT note FROM kept"), "written before planrun");
}
