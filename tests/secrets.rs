//! Secrets never leave the swarm (issue 21), against the real local swarm: a service whose env
//! holds a marker secret goes through `plan` in every format, a saved plan, a release, a release
//! that fails and is rolled back, a rollback from a journal alone, and a saved plan refused
//! because the env changed since, with notifications (a webhook and Slack) on a loopback
//! receiver. Every byte planrun printed, every file it wrote and every notification it sent is
//! then searched for the secret: none holds it, what planrun wrote is its owner's alone, and each
//! rollback put the exact env back.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::receiver::{Answer, Receiver};
use support::{LockGuard, Run, Service, Workdir, forget_stack, run, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";
const NEVER_HEALTHY: &str = "planrun-test/app:never-healthy";

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn env_of(service: &Service) -> serde_json::Value {
    service.spec()["TaskTemplate"]["ContainerSpec"]["Env"].clone()
}

#[test]
fn a_secret_in_a_service_env_is_never_printed_nor_written_and_rollback_puts_it_back() {
    let secret = format!("s3cr3t-{}", unique("marker"));
    let later = format!("l4ter-{}", unique("marker"));
    let web = Service::create_with(
        &unique("web"),
        V1,
        2,
        &[
            "--env",
            &format!("API_KEY={secret}"),
            "--env",
            &format!("DATABASE_URL=postgres://app:{secret}@db:5432/shop?sslmode=require"),
            "--env",
            "MODE=prod",
        ],
    );
    let env_before = env_of(&web);
    assert!(env_before.to_string().contains(&secret), "the test's service holds the secret");
    let stack = unique("secrets");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("secrets");
    // The notification path (issue 23): a webhook and a Slack target on a loopback receiver.
    let receiver = Receiver::start(Answer::Ok);
    for (file, text) in
        [("hook-url", format!("{}/hook", receiver.base)), ("slack-url", format!("{}/slack", receiver.base))]
    {
        std::fs::write(work.dir.join(file), text).unwrap();
        std::fs::set_permissions(work.dir.join(file), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let notify = "    notify hook {\n        webhook url-file=\"hook-url\"\n    }\n    notify team {\n        slack url-file=\"slack-url\"\n    }\n";
    let gate =
        format!("    var image\n    gate once {{ swarm {} }}\n    log \"DEPLOYMENT_LOG.md\"\n{notify}", web.name);
    let plan = work.plan(&support::rolling_plan(
        &stack,
        &[("web", &web.name, "${image}", "        gates once\n")],
        false,
        &gate,
    ));
    let state = work.dir.join("state");
    let (plan_s, state_s) = (plan.to_str().unwrap(), state.to_str().unwrap());
    let saved = work.dir.join("release.plan");
    let mut printed: Vec<Run> = Vec::new();

    // Review: every format, and a saved plan.
    for format in ["human", "markdown", "json"] {
        let p = run(&["plan", plan_s, "--var", &format!("image={V2}"), "--format", format]);
        assert_eq!(p.code, 0, "{}", p.stderr);
        printed.push(p);
    }
    let p = run(&["plan", plan_s, "--var", &format!("image={V2}"), "-o", saved.to_str().unwrap()]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    printed.push(p);
    // Applied without the --var it was reviewed with: refused, the saved plan keeps its hash only.
    let refused = run(&["apply", saved.to_str().unwrap(), "--output", "json", "--state-dir", state_s]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("give the same `--var image=...` again"), "{}", refused.stderr);
    printed.push(refused);

    // The release, from the saved plan, given the --var it was reviewed with.
    let apply_saved = || {
        let var = format!("image={V2}");
        run(&["apply", saved.to_str().unwrap(), "--var", &var, "--output", "json", "--state-dir", state_s])
    };
    let released = apply_saved();
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert_eq!(released.outcome(), "succeeded");
    assert_eq!(web.image(), V2);
    let release_run = released.events_of("run-started")[0]["run_id"].as_str().unwrap().to_owned();
    let recorded = released.events_of("step-recorded");
    let env_recorded = recorded[0]["undo"]["previous_spec"]["TaskTemplate"]["ContainerSpec"]["Env"].to_string();
    assert!(env_recorded.contains("API_KEY=<redacted:"), "the record shows that API_KEY is there: {env_recorded}");
    printed.push(released);
    let env_released = env_of(&web);
    assert_eq!(env_released, env_before, "a rolling step leaves env alone");

    // A release that fails: rolled back to the exact spec, env and all.
    let spec_before = web.spec();
    let failed = work.apply(&plan, &["--var", &format!("image={NEVER_HEALTHY}")]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.outcome(), "rolled-back");
    assert_eq!(web.spec(), spec_before, "the exact spec is back");
    printed.push(failed);

    // A rollback with the swarm's record of the runs gone (a planrun before it kept one): the
    // journal keeps env values as hashes only, and they are put back from the swarm.
    forget_stack(&stack);
    let rolled =
        run(&["rollback", "--stack", &stack, "--run", &release_run, "--state-dir", state_s, "--output", "json"]);
    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert_eq!(web.image(), V1);
    assert_eq!(env_of(&web), env_before, "the exact env is back, read from the swarm");
    printed.push(rolled);

    // A saved plan refused because the env changed since it was reviewed: the change is
    // shown, the values are not.
    let p = run(&["plan", plan_s, "--var", &format!("image={V2}"), "-o", saved.to_str().unwrap()]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    printed.push(p);
    support::docker_by_hand(&["service", "update", "--detach", "--env-add", &format!("API_KEY={later}"), &web.name]);
    let moved = apply_saved();
    assert_eq!(moved.code, 1, "{}", moved.stderr);
    assert!(moved.stdout.contains("env.API_KEY <redacted:"), "the change is named: {}", moved.stdout);
    printed.push(moved);

    // The notifications of the release and of the failed release, the failure with its step.
    let hook: Vec<serde_json::Value> =
        receiver.received().iter().filter(|r| r.path == "/hook").map(|r| r.json()).collect();
    let events: Vec<&str> = hook.iter().map(|m| m["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["started", "succeeded", "started", "failed", "rolled-back"]);
    assert_eq!(hook[3]["step"], "web");
    assert!(hook[3]["reason"].as_str().unwrap().contains(NEVER_HEALTHY), "{}", hook[3]);
    assert_eq!(receiver.received().iter().filter(|r| r.path == "/slack").count(), 5);
    for r in receiver.received() {
        for value in [&secret, &later] {
            assert!(!r.text().contains(value.as_str()), "a notification to {} holds a secret: {}", r.path, r.text());
        }
    }

    // Nothing printed holds either secret.
    for (n, r) in printed.iter().enumerate() {
        for value in [&secret, &later] {
            assert!(!r.stdout.contains(value.as_str()), "stdout of invocation {n} holds a secret:\n{}", r.stdout);
            assert!(!r.stderr.contains(value.as_str()), "stderr of invocation {n} holds a secret:\n{}", r.stderr);
        }
    }
    // Nor any file written, and each is its owner's alone.
    let written = files(&work.dir);
    assert!(written.len() >= 5, "journals, the saved plan, the log: {written:?}");
    for file in &written {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for value in [&secret, &later] {
            assert!(!text.contains(value.as_str()), "{} holds a secret", file.display());
        }
        if file == &plan {
            continue;
        }
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is readable by others (mode {mode:o})", file.display());
    }
    for dir in [state.clone(), state.join("runs"), state.join("runs").join(&stack)] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} (mode {mode:o})", dir.display());
    }
}
