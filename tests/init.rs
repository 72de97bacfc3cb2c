//! `planrun init --stack` against the real local swarm (tests/env/swarm-up): a stack deployed by
//! `docker stack deploy` becomes a plan that validates and applies without changing a task.
//! The stack is named uniquely and removed at the end, pass or fail.

mod support;

use std::process::Command;

use support::{Workdir, docker, run, unique};

/// A stack deployed with `docker stack deploy`, removed on drop.
struct Stack {
    name: String,
}

impl Stack {
    /// Deploys `compose` (a compose file's path) as `name` and waits until it converges.
    fn deploy(name: &str, compose: &std::path::Path) -> Stack {
        let stack = Stack { name: name.to_owned() };
        let file = compose.to_str().unwrap();
        // The test images are not in a registry: nothing to resolve.
        docker(&["stack", "deploy", "--detach=false", "--resolve-image", "never", "-c", file, name]);
        stack
    }

    /// The ids of the tasks that should be running, sorted.
    fn running_tasks(&self) -> Vec<String> {
        let filter = format!("label=com.docker.stack.namespace={}", self.name);
        let services = docker(&["service", "ls", "-q", "--filter", &filter]);
        let mut ids: Vec<String> = services
            .lines()
            .flat_map(|s| {
                docker(&["service", "ps", "-q", "--filter", "desired-state=running", s])
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["stack", "rm", &self.name]).output();
        support::forget_stack(&self.name);
    }
}

/// Two services on the test network: `web` with a health check and its own update config,
/// `worker` with neither (so Swarm's defaults).
const COMPOSE: &str = r#"
services:
  web:
    image: planrun-test/app:v1
    healthcheck:
      test: ["CMD-SHELL", "timeout 2 wget -q -O- http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 3s
      retries: 1
    networks: [planrun-test]
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      labels:
        planrun-test: "1"
      update_config:
        parallelism: 1
        delay: 1s
        order: start-first
        failure_action: rollback
        monitor: 3s
  worker:
    image: planrun-test/app:v1
    networks: [planrun-test]
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      labels:
        planrun-test: "1"
networks:
  planrun-test:
    external: true
"#;

#[test]
fn a_live_stack_becomes_a_plan_that_validates_and_applies_without_changing_a_task() {
    let work = Workdir::new("init");
    let compose = work.dir.join("stack.yml");
    std::fs::write(&compose, COMPOSE).unwrap();
    let stack = Stack::deploy(&unique("init"), &compose);
    let before = stack.running_tasks();
    assert_eq!(before.len(), 3, "{before:?}");

    let plan = work.dir.join("plan.kdl");
    let init = run(&["init", "--stack", &stack.name, "-o", plan.to_str().unwrap()]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let text = std::fs::read_to_string(&plan).unwrap();
    let web = format!(
        "    rolling web {{\n        service {0}_web\n        image \"planrun-test/app:v1\"\n        replicas 2\n        \
         parallelism 1\n        delay \"1s\"\n        order start-first\n        failure-action rollback\n        \
         monitor \"3s\"\n        max-failure-ratio 0.0\n        gates web-healthy\n    }}\n",
        stack.name
    );
    assert!(text.contains(&web), "{web}\nnot in\n{text}");
    assert!(text.contains("count 3\n        interval \"2s\""), "web has a health check: {text}");
    // worker has Swarm's own update settings, and the one warning they give is the only one.
    assert!(text.contains("order stop-first\n        failure-action pause\n        monitor \"5s\""), "{text}");
    assert!(init.stderr.contains("planrun::stop-first-single-replica"), "{}", init.stderr);

    let validate = run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    assert!(validate.stderr.contains("valid (0 errors, 1 warning)"), "{}", validate.stderr);

    let apply = work.apply(&plan, &[]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(apply.outcome(), "succeeded");
    assert_eq!(stack.running_tasks(), before, "the plan runs what is live: no task is replaced");

    // Once more, over the existing file: refused without --force.
    let again = run(&["init", "--stack", &stack.name, "-o", plan.to_str().unwrap()]);
    assert_eq!(again.code, 2, "{}", again.stderr);
}

#[test]
fn a_stack_without_services_is_named_with_how_to_find_the_right_one() {
    let name = unique("nothing");
    let init = run(&["init", "--stack", &name]);
    assert_eq!(init.code, 1, "{}", init.stderr);
    assert_eq!(
        init.stderr,
        format!(
            "error: no services labelled com.docker.stack.namespace={name}; is the name right? `docker stack ls` lists stacks\n"
        )
    );
}

/// The quickstart's service, made exactly as examples/quickstart-run makes it (with its stack's
/// label, so `docker stack ls` and `planrun init --stack` see it), under a unique stack name.
#[test]
fn the_quickstart_stack_becomes_a_plan_that_validates_and_applies_without_changing_a_task() {
    let stack = unique("quickstart");
    let _forget = support::LockGuard(stack.clone());
    let name = format!("{stack}_web");
    let script = std::fs::read_to_string(support::repo().join("examples/quickstart-run")).unwrap();
    assert!(script.contains("--label com.docker.stack.namespace=quickstart"), "the quickstart labels its stack");
    // The quickstart's flags: 3 dnsrr replicas on the test network with its 1 s health check.
    let label = format!("com.docker.stack.namespace={stack}");
    let service = support::Service::create_with(&name, "planrun-test/app:v1", 3, &["--label", &label]);
    let tasks = || docker(&["service", "ps", "-q", "--filter", "desired-state=running", &name]);
    let before = tasks();

    let work = Workdir::new("init-quickstart");
    let plan = work.dir.join("plan.kdl");
    let init = run(&["init", "--stack", &stack, "-o", plan.to_str().unwrap()]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let validate = run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let apply = work.apply(&plan, &[]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(apply.outcome(), "succeeded");
    assert_eq!(tasks(), before, "no task is replaced");
    drop(service);
}
