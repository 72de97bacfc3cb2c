//! The failure report (issue 23) end to end: `planrun apply` of a release whose tasks fail on the
//! real swarm, and what the summary, the journal, the JSON events and a notification say of
//! them. Three releases over a healthy v1: one killed by the kernel for going over a 32 MiB
//! memory limit, one that prints why it gives up a few seconds after its health check passed,
//! and one whose health check prints why it fails. Each is rolled back; the report names the OOM
//! with the limit, shows the message, shows the health check's output, and holds no secret from
//! the service's environment.
//!
//! The images are built here the way tests/env/swarm-up builds `planrun-test/app`: busybox-static
//! and the test app's scripts fed to `docker import`, each with its own start command.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use support::receiver::{Answer, Received, Receiver};
use support::{Run, Service, Workdir, repo, unique};

const V1: &str = "planrun-test/app:v1";
/// Goes over any small memory limit at once: `tail` keeps a whole line of /dev/zero, which has
/// no newline, in memory.
const OOM: &str = "planrun-test/failrep:oom";
/// Serves (so its health check passes), then gives up after 3 s with a message naming a token.
const CRASH_LATE: &str = "planrun-test/failrep:crash-late";
const NEVER_HEALTHY: &str = "planrun-test/app:never-healthy";

/// What the OOM image prints before it allocates.
const OOM_MESSAGE: &str = "failrep: loading the whole catalogue into memory";
/// What the crash-late image prints before it exits 3 (its token follows).
const CRASH_MESSAGE: &str = "failrep: FATAL: the payment gateway refused token";
/// What the health check of the health-check case prints when it fails.
const CHECK_MESSAGE: &str = "failrep-check: the order queue is not reachable";

/// Builds the test images once per process, unless they are there already from the same
/// busybox, scripts and commands (a hash of them is kept in each image's env, as swarm-up does).
fn images() {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        let oom = format!("echo '{OOM_MESSAGE}' >&2; exec tail /dev/zero");
        let crash = format!("/app/serve & sleep 3; echo \"{CRASH_MESSAGE} $PAYMENT_TOKEN\" >&2; exit 3");
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for file in ["/bin/busybox", "tests/env/app/serve", "tests/env/app/handle"] {
                let path = if file.starts_with('/') { PathBuf::from(file) } else { repo().join(file) };
                std::fs::read(path).unwrap_or_default().hash(&mut h);
            }
            (&oom, &crash).hash(&mut h);
            format!("{:016x}", h.finish())
        };
        let current = [OOM, CRASH_LATE].iter().all(|tag| {
            let env = Command::new("docker").args(["image", "inspect", "-f", "{{json .Config.Env}}", tag]).output();
            env.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("PLANRUN_FAILREP_HASH={hash}")))
        });
        if current {
            return;
        }
        let root = std::env::temp_dir().join(unique("failrep-rootfs"));
        for dir in ["bin", "app", "etc", "tmp", "proc", "sys", "dev", "root"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| Path::new(p).exists());
        let busybox = busybox.expect("busybox-static is installed (tests/env/swarm-up)");
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        let applets = Command::new(busybox).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&applets.stdout).lines().filter(|a| *a != "busybox") {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        for script in ["serve", "handle"] {
            std::fs::copy(repo().join("tests/env/app").join(script), root.join("app").join(script)).unwrap();
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        import(&root, OOM, &oom, &hash);
        import(&root, CRASH_LATE, &crash, &hash);
        let _ = std::fs::remove_dir_all(&root);
    });
}

/// `docker import`s `root` as `tag`, running `script` with sh, `hash` in its env.
fn import(root: &Path, tag: &str, script: &str, hash: &str) {
    let cmd = serde_json::json!(["/bin/sh", "-c", script]).to_string();
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(root)
        .args(["-cf", "-", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let imported = Command::new("docker")
        .args(["import", "--change", "ENV PATH=/bin", "--change", &format!("ENV PLANRUN_FAILREP_HASH={hash}")])
        .args(["--change", &format!("CMD {cmd}"), "-", tag])
        .stdin(tar.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(tar.wait().unwrap().success(), "tar of the rootfs");
    assert!(imported.status.success(), "docker import {tag}: {}", String::from_utf8_lossy(&imported.stderr));
}

/// A plan rolling `service` to `image` with a swarm gate, and `extra` in the plan.
fn plan(stack: &str, service: &str, image: &str, monitor: &str, extra: &str) -> String {
    format!(
        "plan e2e {{\n    stack {stack}\n    on-failure rollback\n    gate once {{ swarm {service} }}\n{extra}\
         \x20   rolling web {{\n        service {service}\n        image \"{image}\"\n        \
         monitor \"{monitor}\"\n        deadline \"90s\"\n        gates once\n    }}\n}}\n"
    )
}

/// The journal the summary names.
fn journal(run: &Run) -> String {
    let path = run
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("journal: "))
        .unwrap_or_else(|| panic!("the summary names no journal:\n{}", run.stderr));
    std::fs::read_to_string(PathBuf::from(path)).unwrap()
}

/// Asserts the run failed and rolled back `web` to v1, and returns the failed step's report
/// as the JSON events, and the same line of the journal, carry it.
fn report_of(run: &Run, web: &Service) -> serde_json::Value {
    assert_eq!(run.code, 1, "the release should fail: {}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    web.assert_converged(V1, 1);
    let failed: Vec<&serde_json::Value> =
        run.events_of("step-finished").into_iter().filter(|e| e["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let report = failed[0]["report"].clone();
    assert!(report.is_object(), "the failed step carries a report: {}", failed[0]);
    let from_journal = journal(run)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "step-finished" && e["outcome"] == "failed")
        .expect("the journal has the failed step");
    assert_eq!(from_journal["report"], report, "the journal keeps the same report");
    assert!(run.stderr.contains("  what the failed tasks of `web` said:\n"), "{}", run.stderr);
    let took = report["took_ms"].as_u64().unwrap();
    eprintln!("the failure report of {} took {took} ms to gather", report["tasks"][0]["image"]);
    assert!(took <= 5_000, "gathering is bounded by 5 s: {took} ms");
    report
}

#[test]
fn a_release_killed_for_memory_is_reported_with_its_limit_and_its_last_words() {
    images();
    let web = Service::create_with(&unique("web"), V1, 1, &["--limit-memory", "32M"]);
    let work = Workdir::new("failrep-oom");
    let plan_path = work.plan(&plan(&unique("stack"), &web.name, OOM, "3s", ""));

    let run = work.apply(&plan_path, &[]);

    let report = report_of(&run, &web);
    let task = &report["tasks"][0];
    assert_eq!(task["oom"], "killed", "Docker's OOMKilled, read on this node: {report:#}");
    assert_eq!(task["memory_limit_bytes"], 32 << 20, "{report:#}");
    assert_eq!(task["exit_code"], 137, "{report:#}");
    assert_eq!(task["image"], OOM, "{report:#}");
    assert!(task["logs"].as_array().unwrap().iter().any(|l| l == OOM_MESSAGE), "{report:#}");
    let headline = format!(
        "    {}.1 on {} (task ",
        web.name,
        support::docker(&["node", "inspect", "self", "--format", "{{.Description.Hostname}}"])
    );
    assert!(run.stderr.contains(&headline), "the task and its node's name: {}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{OOM}): out of memory: killed by the kernel at its 32 MiB memory limit (Docker: OOMKilled; exit 137)\n"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!("        | {OOM_MESSAGE}\n")), "{}", run.stderr);
}

#[test]
fn a_release_that_gives_up_after_starting_shows_its_message_without_its_secret() {
    images();
    let token = format!("tok-{}", unique("secret"));
    let web = Service::create_with(&unique("web"), V1, 1, &["--env", &format!("PAYMENT_TOKEN={token}")]);
    let work = Workdir::new("failrep-crash");
    let receiver = Receiver::start(Answer::Ok);
    std::fs::write(work.dir.join("hook-url"), format!("{}/hook", receiver.base)).unwrap();
    let notify = "    notify hook {\n        webhook url-file=\"hook-url\"\n    }\n";
    // A monitor window longer than the 3 s it runs: planrun watches it until the gate passed.
    let plan_path = work.plan(&plan(&unique("stack"), &web.name, CRASH_LATE, "10s", notify));
    let started = Instant::now();

    let run = work.apply(&plan_path, &[]);

    let report = report_of(&run, &web);
    let task = &report["tasks"][0];
    assert_eq!(task["exit_code"], 3, "{report:#}");
    assert_eq!(task["oom"], "no", "{report:#}");
    assert_eq!(task["error"], "task: non-zero exit (3)", "{report:#}");
    let logs: Vec<&str> = task["logs"].as_array().unwrap().iter().filter_map(|l| l.as_str()).collect();
    let said = logs.iter().find(|l| l.starts_with(CRASH_MESSAGE)).unwrap_or_else(|| panic!("{report:#}"));
    assert!(said.starts_with(&format!("{CRASH_MESSAGE} <redacted:")), "the token is redacted: {said}");
    assert!(
        run.stderr.contains(&format!("{CRASH_LATE}): failed (exit 3)\n      error: task: non-zero exit (3)\n")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!("        | {CRASH_MESSAGE} <redacted:")), "{}", run.stderr);
    for (what, text) in [("stderr", &run.stderr), ("stdout", &run.stdout), ("journal", &journal(&run))] {
        assert!(!text.contains(&token), "the service's token reached the {what}");
    }

    // The failure and the rollback the team is told of carry the report too.
    let hooks = wait_for_hooks(&receiver, 3, started);
    let events: Vec<String> = hooks.iter().map(|h| h.json()["event"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(events, ["started", "failed", "rolled-back"], "{hooks:?}");
    for hook in &hooks[1..] {
        let body = hook.json();
        assert_eq!(body["failure_report"], report, "{body:#}");
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("What the failed tasks said:\n"), "{text}");
        assert!(text.contains(&format!("    | {CRASH_MESSAGE} <redacted:")), "{text}");
        assert!(!hook.text().contains(&token), "the token reached a notification: {}", hook.text());
    }
}

#[test]
fn a_release_whose_health_check_fails_shows_what_the_check_printed() {
    let check = format!(
        "timeout 2 wget -q -O- http://127.0.0.1:8080/health >/dev/null 2>&1 || {{ echo '{CHECK_MESSAGE}'; exit 1; }}"
    );
    let web = Service::create_with(&unique("web"), V1, 1, &["--health-cmd", &check]);
    let work = Workdir::new("failrep-health");
    let plan_path = work.plan(&plan(&unique("stack"), &web.name, NEVER_HEALTHY, "3s", ""));

    let run = work.apply(&plan_path, &[]);

    let report = report_of(&run, &web);
    let task = &report["tasks"][0];
    assert_eq!(task["health_check"]["exit_code"], 1, "{report:#}");
    assert_eq!(task["health_check"]["output"], CHECK_MESSAGE, "{report:#}");
    assert!(
        run.stderr
            .contains(&format!("{NEVER_HEALTHY}): unhealthy: its health check fails (Swarm still says starting)\n"))
            || run.stderr.contains(&format!("{NEVER_HEALTHY}): stopped as unhealthy: its health check failed (exit ")),
        "unhealthy while Swarm still calls it starting, or stopped by Swarm as unhealthy: {}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!("      last health check: exit 1: {CHECK_MESSAGE}\n")), "{}", run.stderr);
    assert!(run.stderr.contains("mode=never-healthy listening on :8080"), "its log: {}", run.stderr);
}

/// The webhook's requests once `n` arrived (waiting at most 30 s more).
fn wait_for_hooks(receiver: &Receiver, n: usize, since: Instant) -> Vec<Received> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got: Vec<Received> = receiver.received().into_iter().filter(|r| r.path == "/hook").collect();
        if got.len() >= n || Instant::now() > until {
            eprintln!("{} webhook requests in {:?}", got.len(), since.elapsed());
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
