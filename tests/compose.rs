//! The `compose` step against the real local swarm: examples/compose/docker-compose.yml (three
//! services, one global; two networks; a config and a secret) brought up, updated and rolled
//! back by `planrun apply`, and compared field by field with what `docker stack deploy` makes
//! of the same file. Every stack is named uniquely and removed at the end, pass or fail.

mod support;

use std::path::Path;

use support::compose::{StackGuard as Stack, diff, network_names, normalized, spec};
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

/// `docker stack deploy` and planrun make the same service specs from the same file. The only
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
        let a = normalized(&spec(&format!("{ours}_{service}")), &ours, &names);
        let b = normalized(&spec(&format!("{theirs}_{service}")), &theirs, &names);
        diff(&a, &b, service, &mut differences);
    }
    assert!(differences.is_empty(), "planrun and docker stack deploy differ:\n{}", differences.join("\n"));
    // The comparison can fail: a changed field is found.
    let mut changed = normalized(&spec(&format!("{ours}_web")), &ours, &names);
    changed["TaskTemplate"]["ContainerSpec"]["Env"] = serde_json::json!(["X=1"]);
    let mut found = Vec::new();
    diff(&changed, &normalized(&spec(&format!("{theirs}_web")), &theirs, &names), "web", &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
}
