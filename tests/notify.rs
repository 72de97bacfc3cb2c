//! Notifications (issue 23) end to end: `planrun apply` against the real swarm, telling a
//! loopback receiver the test starts. A release that waits for approval and succeeds, then one
//! that fails and is rolled back: the messages, their order, the exact `planrun promote`
//! command, the webhook's signature, and no secret in any of them. Then receivers that answer
//! 500 or never answer: the run succeeds, says so in a warning that holds no URL, and is slowed
//! by no more than the stated bound (5 s), and the journal keeps what was not delivered.
//! Targets in planrun.toml's environment: used by apply (replacing a plan's target of the
//! same name) and by `planrun rollback`, which has no plan.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use support::receiver::{Answer, Received, Receiver};
use support::{Background, LockGuard, Run, Service, Workdir, planrun, run, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";
const NEVER_HEALTHY: &str = "planrun-test/app:never-healthy";
const KEY: &str = "hook-signing-key";

/// Waits (at most 20 s) until `receiver` holds `n` requests on `path`.
fn wait_for(receiver: &Receiver, path: &str, n: usize) -> Vec<Received> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let got: Vec<Received> = receiver.received().into_iter().filter(|r| r.path == path).collect();
        if got.len() >= n || Instant::now() > until {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn verify_signature(r: &Received) {
    let ts = r.headers.get("x-planrun-timestamp").expect("a timestamp");
    let unix: u64 = ts.parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(unix) < 600, "a fresh timestamp: {unix} vs {now}");
    let expected = engine::notify::webhook::signature(KEY.as_bytes(), unix, &r.body);
    assert_eq!(r.headers.get("x-planrun-signature"), Some(&expected), "{}", r.text());
}

#[test]
fn a_release_tells_the_team_in_order_with_the_promote_command_and_a_failure_with_its_step() {
    let secret = format!("s3cr3t-{}", unique("marker"));
    let web = Service::create_with(&unique("web"), V1, 1, &["--env", &format!("API_KEY={secret}")]);
    let stack = unique("notify");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("notify");
    let receiver = Receiver::start(Answer::Ok);
    std::fs::write(work.dir.join("slack-url"), format!("{}/slack\n", receiver.base)).unwrap();
    std::fs::write(work.dir.join("hook-url"), format!("{}/hook", receiver.base)).unwrap();
    std::fs::write(work.dir.join("hook-key"), KEY).unwrap();
    let plan = |with_pause: bool| {
        let (pause, after) = if with_pause { ("    pause approve manual\n", " after=approve") } else { ("", "") };
        format!(
            "plan e2e {{\n    stack {stack}\n    on-failure rollback\n    var image\n    gate once {{ swarm {svc} }}\n\
             \x20   notify team {{\n        slack url-file=\"slack-url\"\n    }}\n\
             \x20   notify hook {{\n        webhook url-file=\"hook-url\" secret-file=\"hook-key\"\n    }}\n\
             {pause}    rolling web{after} {{\n        service {svc}\n        image \"${{image}}\"\n        \
             monitor \"2s\"\n        deadline \"60s\"\n        gates once\n    }}\n}}\n",
            svc = web.name
        )
    };
    let plan_path = work.plan(&plan(true));

    // A release that waits for approval, answered with the command the message gives.
    let mut release = Background::apply(&work, &plan_path, &["--var", &format!("image={V2}")]);
    release.wait_for("awaiting-approval", "approve");
    let so_far = wait_for(&receiver, "/hook", 2);
    assert_eq!(so_far.len(), 2, "{so_far:?}");
    let approval = so_far[1].json();
    assert_eq!(approval["event"], "approval");
    assert_eq!(approval["step"], "approve");
    let promote = approval["command"].as_str().unwrap().to_owned();
    assert_eq!(promote, format!("planrun promote {stack}"));
    let args: Vec<&str> = promote.split(' ').skip(1).collect();
    let promoted = run(&args);
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    let released = release.finish();
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert_eq!(released.outcome(), "succeeded");
    assert_eq!(web.image(), V2);

    // A release that fails: rolled back.
    work.plan(&plan(false));
    let failed = work.apply(&plan_path, &["--var", &format!("image={NEVER_HEALTHY}")]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.outcome(), "rolled-back");
    let step_failed = failed.events_of("step-finished").into_iter().find(|e| e["outcome"] == "failed").cloned();
    let step_failed = step_failed.expect("a failed step");

    // Every message arrived before apply returned, in order, on both targets.
    let hook: Vec<Received> = receiver.received().into_iter().filter(|r| r.path == "/hook").collect();
    let slack: Vec<Received> = receiver.received().into_iter().filter(|r| r.path == "/slack").collect();
    let events: Vec<String> = hook.iter().map(|r| r.json()["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(events, ["started", "approval", "succeeded", "started", "failed", "rolled-back"]);
    assert_eq!(slack.len(), 6, "{slack:?}");
    for (h, s) in hook.iter().zip(&slack) {
        verify_signature(h);
        let body = h.json();
        assert_eq!(body["version"], 1);
        assert_eq!(body["stack"], stack.as_str());
        assert_eq!(body["plan"], "e2e");
        assert_eq!(s.json()["text"], body["text"], "Slack shows the same text");
        assert_eq!(s.json()["blocks"][0]["type"], "section");
        assert_eq!(h.headers.get("content-type").map(String::as_str), Some("application/json"));
    }
    let runs: Vec<String> = hook.iter().map(|r| r.json()["run_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(runs[0], released.events_of("run-started")[0]["run_id"].as_str().unwrap());
    assert_eq!(runs[3], failed.events_of("run-started")[0]["run_id"].as_str().unwrap());
    let slack_approval = slack[1].json()["text"].as_str().unwrap().to_owned();
    assert!(slack_approval.contains(&format!("To go on, run: `planrun promote {stack}`")), "{slack_approval}");
    assert!(slack_approval.contains(&format!("To stop and roll back: `planrun abort {stack}`")), "{slack_approval}");
    let failure = hook[4].json();
    assert_eq!(failure["step"], "web");
    assert_eq!(failure["title"], format!("`{stack}`: step `web` failed"));
    assert_eq!(failure["reason"], step_failed["reason"], "the failing step's error, as the journal has it");
    assert!(failure["reason"].as_str().unwrap().contains(NEVER_HEALTHY), "{failure}");
    assert_eq!(hook[5].json()["title"], format!("`{stack}`: release rolled back: every change was undone"));
    for r in receiver.received() {
        assert!(!r.text().contains(&secret), "a notification holds the service's secret: {}", r.text());
        assert!(!r.text().contains(KEY), "a notification holds the signing key");
    }
    for out in [&released, &failed] {
        assert!(!out.stderr.contains("warning: notify"), "{}", out.stderr);
    }
}

/// `planrun apply PLAN` with `env` set, timed.
fn apply_with_env(work: &Workdir, plan: &Path, env: &[(&str, &str)]) -> (Run, Duration) {
    let state = work.dir.join("state");
    let mut cmd = planrun();
    cmd.args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir", state.to_str().unwrap()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out: Output = cmd.output().unwrap();
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let events = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("planrun apply ({took:?}) -> {:?}\n{stderr}", out.status.code());
    (Run { code: out.status.code().unwrap_or(-1), stderr, events, stdout }, took)
}

#[test]
fn a_receiver_that_fails_or_hangs_slows_apply_by_no_more_than_the_bound_and_its_url_is_never_shown() {
    let stack = unique("notifyslow");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("notifyslow");
    let step = "    run noop {\n        command \"true\"\n    }\n";
    let bare = work.dir.join("bare.kdl");
    std::fs::write(&bare, format!("plan e2e {{\n    stack {stack}\n{step}}}\n")).unwrap();
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n    notify hook {{\n        webhook url-env=\"PLANRUN_E2E_HOOK_URL\"\n    }}\n{step}}}\n"
    ));

    // Without its variable, apply refuses before the lock, naming the variable only.
    let (refused, _) = apply_with_env(&work, &plan, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let refusal = &refused.events_of("run-refused")[0];
    assert_eq!(refusal["message"], "preflight found problems with the plan's notifications: nothing was changed");
    let problem = refusal["problems"][0]["message"].as_str().unwrap();
    assert!(problem.starts_with("notify `hook`: url-env: "), "{problem}");
    assert!(problem.contains("PLANRUN_E2E_HOOK_URL"), "{problem}");
    // Neither validate nor plan needs it; plan says who apply would tell.
    assert_eq!(run(&["validate", plan.to_str().unwrap()]).code, 0);
    let planned = run(&["plan", plan.to_str().unwrap()]);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let line = "notify `hook`: webhook, its URL from url-env `PLANRUN_E2E_HOOK_URL`; on started, approval, succeeded, \
                failed, rolled-back, rollback-failed";
    assert!(planned.stdout.contains(line), "{}", planned.stdout);

    let (baseline, base) = apply_with_env(&work, &bare, &[]);
    assert_eq!(baseline.code, 0, "{}", baseline.stderr);
    let mut figures = vec![("no notify", base)];
    for answer in [Answer::Ok, Answer::Error, Answer::Hang] {
        let receiver = Receiver::start(answer);
        let url = format!("{}/hook/T0KEN-{}", receiver.base, unique("path"));
        let (ran, took) = apply_with_env(&work, &plan, &[("PLANRUN_E2E_HOOK_URL", &url)]);
        assert_eq!(ran.code, 0, "{answer:?}: {}", ran.stderr);
        assert_eq!(ran.outcome(), "succeeded");
        assert!(!ran.stderr.contains("T0KEN") && !ran.stdout.contains("T0KEN"), "the URL shows: {}", ran.stderr);
        let got = receiver.received();
        match answer {
            Answer::Ok => {
                let events: Vec<String> = got.iter().map(|r| r.json()["event"].as_str().unwrap().to_owned()).collect();
                assert_eq!(events, ["started", "succeeded"]);
                assert!(got[0].headers.contains_key("x-planrun-timestamp"));
                assert!(!got[0].headers.contains_key("x-planrun-signature"), "no key, no signature");
                assert!(!ran.stderr.contains("warning: notify"), "{}", ran.stderr);
            }
            Answer::Error => {
                assert_eq!(got.len(), 6, "each of two messages tried 3 times: {got:?}");
                // The run's journal keeps what was not delivered.
                let run_id = ran.events_of("run-started")[0]["run_id"].as_str().unwrap().to_owned();
                let journal = work.dir.join("state/runs").join(&stack).join(format!("{run_id}.jsonl"));
                let journal = std::fs::read_to_string(&journal).unwrap();
                let last = journal.lines().last().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
                let last = last.expect("a journal line");
                assert_eq!(last["event"], "warning", "{journal}");
                assert!(
                    last["problem"]["message"].as_str().unwrap().contains("message was not delivered"),
                    "{journal}"
                );
                assert!(!journal.contains("T0KEN"), "the URL is in the journal");
                for event in ["started", "succeeded"] {
                    let line = format!(
                        "warning: notify `hook` (webhook): the `{event}` message was not delivered: the receiver \
                         answered 500 Internal Server Error (tried 3 times)"
                    );
                    assert!(ran.stderr.contains(&line), "{}", ran.stderr);
                }
            }
            Answer::Hang => {
                assert!(!got.is_empty());
                let line = "warning: notify `hook` (webhook): 2 message(s) still unsent after waiting 5s at the \
                            end of the run; given up";
                assert!(ran.stderr.contains(line), "{}", ran.stderr);
            }
        }
        let extra = took.saturating_sub(base);
        figures.push((
            match answer {
                Answer::Ok => "200",
                Answer::Error => "500",
                Answer::Hang => "hang",
            },
            took,
        ));
        // The stated bound is 5 s; a second for the two runs' own jitter on 2 busy cores.
        assert!(extra < Duration::from_secs(6), "{answer:?}: apply took {took:?}, {extra:?} more than without");
    }
    eprintln!("apply durations: {figures:?}");
}

#[test]
fn an_environments_targets_hear_apply_and_rollback() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("notifyenv");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("notifyenv");
    let receiver = Receiver::start(Answer::Ok);
    let project = work.dir.join("planrun.toml");
    std::fs::write(
        &project,
        "[environments.staging.notify.hook]\nkind = \"webhook\"\nurl-env = \"PLANRUN_E2E_ENV_HOOK\"\n\
         on = [\"started\", \"failed\", \"rolled-back\"]\n",
    )
    .unwrap();
    // The plan's own `hook` reads a variable nobody sets: the environment's replaces it.
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n    on-failure pause\n    notify hook {{\n        \
         webhook url-env=\"PLANRUN_E2E_NEVER_SET\"\n    }}\n    rolling web {{\n        service {svc}\n        \
         image \"{V2}\"\n        monitor \"1s\"\n    }}\n    run broken after=web {{\n        command \"false\"\n    }}\n}}\n",
        svc = web.name
    ));
    let url = format!("{}/env-hook", receiver.base);
    let state = work.dir.join("state");
    let state = state.to_str().unwrap();
    let with_hook = |args: &[&str]| {
        let out = planrun().args(args).env("PLANRUN_E2E_ENV_HOOK", &url).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let events = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        Run { code: out.status.code().unwrap_or(-1), stderr, events, stdout }
    };
    let paused =
        with_hook(&["apply", plan.to_str().unwrap(), "--env", "staging", "--output", "json", "--state-dir", state]);
    assert_eq!(paused.outcome(), "paused", "{}", paused.stderr);
    assert_eq!(web.image(), V2);
    let run_id = paused.events_of("run-started")[0]["run_id"].as_str().unwrap().to_owned();

    let project = project.to_str().unwrap();
    let undone =
        with_hook(&["rollback", "--stack", &stack, "--env", "staging", "--project", project, "--state-dir", state]);
    assert_eq!(undone.code, 0, "{}", undone.stderr);
    assert_eq!(web.image(), V1);

    let got = wait_for(&receiver, "/env-hook", 3);
    let said: Vec<(String, String)> = got
        .iter()
        .map(|r| (r.json()["event"].as_str().unwrap().to_owned(), r.json()["run_id"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("started", &run_id), ("failed", &run_id), ("rolled-back", &run_id)];
    assert_eq!(said, expected.map(|(e, r)| (e.to_owned(), r.clone())), "only the events the environment asks for");
    assert_eq!(got[2].json()["title"], format!("`{stack}`: release rolled back: every change was undone"));
    assert_eq!(got[2].json()["plan"], "planrun rollback");

    // A target of the environment whose variable is not set refuses rollback before any change.
    let refused = run(&["rollback", "--stack", &stack, "--env", "staging", "--project", project, "--state-dir", state]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("environment `staging` of planrun.toml: notify `hook`: url-env: "),
        "{}",
        refused.stderr
    );
}
