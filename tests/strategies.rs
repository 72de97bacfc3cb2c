//! Canary and blue-green deployments against the real swarm, with a probe container asking
//! through the nginx router (or the alias) the whole time: every test prints the probe's counts
//! and asserts 0 failed of at least 500 requests where the switch can reach zero.
//!
//! Gates here are commands reading a file the test writes (`exit $(cat FILE)`), so a test can
//! make a gate fail at the moment it chooses.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Background, LockGuard, Probe, Router, Seen, Service, Workdir, docker, run, unique, uptime};

/// One test at a time: each runs a probe and several rolling updates, and their timings are
/// part of what they check (two at once on two cores make a switch look slower than it is).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What answered after `since`, with when: for assertion messages.
fn answers_after(seen: &Seen, since: f64) -> String {
    let after: Vec<String> = seen
        .log
        .iter()
        .filter(|(t, _)| *t >= since)
        .map(|(t, v)| format!("{:+.2}s {}", t - since, v.as_deref().unwrap_or("FAIL")))
        .collect();
    after.iter().take(40).cloned().collect::<Vec<_>>().join(", ")
}

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

/// A gate passing while `file` holds `0`.
fn file_gate(name: &str, file: &Path, count: u32) -> String {
    format!(
        "    gate {name} {{\n        command \"sh\" \"-c\" \"exit $(cat {})\"\n        interval \"1s\"\n        count {count}\n    }}\n",
        file.display()
    )
}

/// A file holding `0`: the gate reading it passes until the test writes `1`.
fn gate_file(work: &Workdir, name: &str) -> PathBuf {
    let path = work.dir.join(name);
    std::fs::write(&path, "0").unwrap();
    path
}

fn fail_gate(file: &Path) {
    std::fs::write(file, "1").unwrap();
}

/// The canary service's replica count as `docker service ls` shows it (`1/1`), waited for.
fn canary_shows(name: &str, replicas: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out =
            docker(&["service", "ls", "--filter", &format!("name={name}"), "--format", "{{.Name}} {{.Replicas}}"]);
        if out.lines().any(|l| l == format!("{name} {replicas}")) {
            return;
        }
        assert!(Instant::now() < deadline, "`docker service ls` never showed {name} at {replicas}: {out}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn service_exists(name: &str) -> bool {
    std::process::Command::new("docker").args(["service", "inspect", name]).output().unwrap().status.success()
}

/// Asserts the probe saw enough requests and none failed; prints the counts.
fn no_request_failed(what: &str, seen: &Seen) {
    eprintln!("{what}: {} requests, {} failed, versions {:?}", seen.requests, seen.failed, seen.versions);
    for (t, why) in seen.failures.iter().take(10) {
        eprintln!("  failed at uptime {t:.2}: {why}");
    }
    assert!(seen.requests >= 500, "{what}: only {} requests", seen.requests);
    assert_eq!(seen.failed, 0, "{what}: failed requests");
}

fn canary_plan(stack: &str, web: &str, gate: &str, promote: &str) -> String {
    format!(
        "plan e2e {{\n    stack {stack}\n    on-failure rollback\n{gate}    canary web {{\n        service {web}\n        \
         image \"{V2}\"\n        stage replicas=1 {{\n            pause \"3s\"\n            gates ok\n        }}\n        \
         stage traffic=\"50%\" {{ gates ok; }}\n        promote {promote}\n        parallelism 1\n        delay \"1s\"\n        \
         order start-first\n        monitor \"2s\"\n        deadline \"3m\"\n        gates ok\n    }}\n}}\n"
    )
}

#[test]
fn canary_stages_take_their_share_of_traffic_and_promote_with_no_failed_request() {
    let _serial = serial();
    let web = Service::create(&unique("web"), V1, 3);
    let router = Router::create(&unique("rt"), &web.name);
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("canary");
    let ok = gate_file(&work, "ok");
    let plan = work.plan(&canary_plan(&stack, &web.name, &file_gate("ok", &ok, 3), "auto"));
    let canary = format!("{}-canary", web.name);
    let probe = Probe::start(&format!("http://{}:8080/", router.name), 240);

    let mut apply = Background::apply(&work, &plan, &[]);
    apply.wait_for("step-progress", "web");
    canary_shows(&canary, "1/1");
    loop {
        let e = apply.wait_for("step-progress", "web");
        if e["message"].as_str().unwrap_or("").starts_with("stage 2/2") {
            break;
        }
    }
    canary_shows(&canary, "3/3");
    let run = apply.finish();
    let seen = probe.stop();

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!service_exists(&canary), "the canary is gone");
    assert_eq!(web.image(), V2);
    web.assert_converged(V2, 3);
    no_request_failed("canary stages and promotion", &seen);
    assert!(seen.versions.get("v2").copied().unwrap_or(0) > 0, "the canary took traffic: {:?}", seen.versions);
}

#[test]
fn a_failing_gate_at_stage_two_removes_the_canary_and_leaves_the_stable_spec_as_it_was() {
    let _serial = serial();
    let web = Service::create(&unique("web"), V1, 3);
    let before = web.spec();
    let router = Router::create(&unique("rt"), &web.name);
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("canarybad");
    let ok = gate_file(&work, "ok");
    let plan = work.plan(&canary_plan(&stack, &web.name, &file_gate("ok", &ok, 3), "auto"));
    let canary = format!("{}-canary", web.name);
    let probe = Probe::start(&format!("http://{}:8080/", router.name), 240);

    let mut apply = Background::apply(&work, &plan, &[]);
    loop {
        let e = apply.wait_for("step-progress", "web");
        if e["message"].as_str().unwrap_or("").starts_with("stage 2/2") {
            break;
        }
    }
    fail_gate(&ok);
    apply.wait_for("rollback-started", "");
    let started = Instant::now();
    while service_exists(&canary) && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let gone_after = started.elapsed();
    let run = apply.finish();
    let seen = probe.stop();

    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    assert!(run.stderr.contains("gate `ok` failed"), "{}", run.stderr);
    eprintln!("canary abort: the canary service was gone {gone_after:.2?} after the rollback started");
    assert!(!service_exists(&canary), "the canary is gone");
    assert_eq!(web.spec(), before, "the stable service's spec is exactly as before");
    no_request_failed("canary aborted at stage two", &seen);
}

#[test]
fn manual_promotion_is_answered_from_another_process() {
    let _serial = serial();
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("canarymanual");
    let ok = gate_file(&work, "ok");
    let plan = work.plan(&canary_plan(&stack, &web.name, &file_gate("ok", &ok, 1), "manual"));
    let canary = format!("{}-canary", web.name);

    // Aborted: the canary goes, the stable service is untouched.
    let mut apply = Background::apply(&work, &plan, &[]);
    let asked = apply.wait_for("awaiting-approval", "web");
    assert!(asked["question"].as_str().unwrap().starts_with(&format!("promote {canary} to {V2}")), "{asked}");
    assert_eq!(run(&["abort", &stack]).code, 0);
    let aborted = apply.finish();
    assert_eq!(aborted.code, 1, "{}", aborted.stderr);
    assert!(!service_exists(&canary));
    assert_eq!(web.spec(), before);
    assert!(!support::question_left(&stack), "the question and its answer go with the run");

    // Promoted.
    let mut apply = Background::apply(&work, &plan, &[]);
    apply.wait_for("awaiting-approval", "web");
    assert_eq!(run(&["promote", &stack]).code, 0);
    let promoted = apply.finish();
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    assert!(!service_exists(&canary));
    assert_eq!(web.image(), V2);
    assert!(!support::question_left(&stack), "the question and its answer go with the run");
}

#[test]
fn rollback_after_a_sigkill_mid_canary_removes_the_canary() {
    let _serial = serial();
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("canarykill");
    let ok = gate_file(&work, "ok");
    let plan = work.plan(&canary_plan(&stack, &web.name, &file_gate("ok", &ok, 1), "manual"));
    let canary = format!("{}-canary", web.name);
    let mut apply = Background::apply(&work, &plan, &[]);
    apply.wait_for("awaiting-approval", "web");

    apply.signal("KILL");
    let _ = apply.finish();
    assert!(service_exists(&canary), "the canary is left behind");
    let status = support::planrun().args(["status", &stack]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(text.contains(&format!("canary of {}, stage 2/2", web.name)), "{text}");
    assert!(text.contains("no outcome recorded"), "the killed run never recorded an outcome: {text}");

    let state = work.dir.join("state");
    let rolled = run(&["rollback", "--stack", &stack, "--state-dir", state.to_str().unwrap()]);

    assert_eq!(rolled.code, 0, "the rollback takes the dead run's lock over: {}", rolled.stderr);
    assert!(!service_exists(&canary));
    assert_eq!(web.spec(), before);
    // Nobody can answer the dead run's question any more.
    assert!(!support::question_left(&stack), "the killed run's question is left in the swarm");
    assert_ne!(run(&["promote", &stack]).code, 0, "promote answers a run that is gone");
}

/// blue (v1, 3 replicas) live behind the router; green idle at 0 replicas.
struct Colours {
    blue: Service,
    green: Service,
    router: Router,
    work: Workdir,
    stack: String,
    _lock: LockGuard,
}

impl Colours {
    fn new(what: &str) -> Colours {
        Colours::behind(what, Router::create, Router::template())
    }

    /// Behind the Caddy router (`switch caddy`).
    fn behind_caddy(what: &str) -> Colours {
        Colours::behind(what, Router::create_caddy, Router::caddy_template())
    }

    fn behind(what: &str, router: fn(&str, &str) -> Router, template: String) -> Colours {
        let blue = Service::create(&unique("blue"), V1, 3);
        let green = Service::create(&unique("green"), V1, 0);
        let router = router(&unique("rt"), &blue.name);
        let work = Workdir::new(what);
        std::fs::write(work.dir.join("router.conf.template"), template).unwrap();
        let stack = unique("stack");
        Colours { blue, green, router, work, _lock: LockGuard(stack.clone()), stack }
    }

    fn plan(&self, preview: &Path, live: &Path, switch: &str) -> PathBuf {
        let gates = format!("{}{}", file_gate("preview", preview, 1), file_gate("live", live, 3));
        self.work.plan(&format!(
            "plan e2e {{\n    stack {}\n    on-failure rollback\n{gates}    blue-green front {{\n        blue {}\n        \
             green {}\n        image \"{V2}\"\n        {switch}\n        preview-gates preview\n        gates live\n        \
             keep-old \"10m\"\n        deadline \"3m\"\n    }}\n}}\n",
            self.stack, self.blue.name, self.green.name
        ))
    }

    fn nginx(&self) -> String {
        format!("switch nginx router={} template=\"router.conf.template\"", self.router.name)
    }

    fn caddy(&self) -> String {
        format!("switch caddy router={} template=\"router.conf.template\"", self.router.name)
    }
}

#[test]
fn blue_green_through_nginx_switches_with_no_failed_request_and_keeps_the_old_colour() {
    let _serial = serial();
    let c = Colours::new("bgnginx");
    let (preview, live) = (gate_file(&c.work, "preview"), gate_file(&c.work, "live"));
    let plan = c.plan(&preview, &live, &c.nginx());
    let probe = Probe::start(&format!("http://{}:8080/", c.router.name), 240);

    let run = c.work.apply(&plan, &[]);
    let after = uptime();
    std::thread::sleep(Duration::from_secs(3));
    let seen = probe.stop();

    assert_eq!(run.code, 0, "{}", run.stderr);
    no_request_failed("blue-green nginx switch", &seen);
    assert_eq!(
        seen.versions_after(after),
        ["v2".to_string()].into(),
        "only v2 after the switch: {}",
        answers_after(&seen, after)
    );
    assert_eq!(c.green.image(), V2);
    c.green.assert_converged(V2, 3);
    c.blue.assert_converged(V1, 3);
    assert!(c.blue.spec()["Labels"]["planrun.retire-after"].is_string(), "the old colour waits keep-old");
    let status = support::planrun().args(["status", &c.stack]).output().unwrap();
    assert!(status.status.success());
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    let green_line = text.lines().find(|l| l.contains(&c.green.name)).unwrap_or_default();
    assert!(green_line.contains("live colour of `front`"), "{text}");
}

#[test]
fn blue_green_never_switches_on_a_failing_preview_gate_or_a_config_nginx_rejects() {
    let c = Colours::new("bgnoswitch");
    let (switch, template) = (c.nginx(), Router::template().replace("location /", "locashun /"));
    never_switches(c, &switch, &template, "nginx", "unknown directive");
}

#[test]
fn blue_green_never_switches_on_a_failing_preview_gate_or_a_config_caddy_rejects() {
    let c = Colours::behind_caddy("bgcaddyno");
    // As a user's router would be: without the sysctl docs/language.md asks for.
    #[rustfmt::skip]
    docker(&[
        "service", "update", "--quiet", "--detach=false", "--sysctl-rm", "net.ipv4.tcp_migrate_req", &c.router.name,
    ]);
    let (switch, template) = (c.caddy(), Router::caddy_template().replace("reverse_proxy", "reverse_proxi"));
    let warned = never_switches(c, &switch, &template, "caddy", "unrecognized directive: reverse_proxi");
    assert!(
        warned.contains("does not set net.ipv4.tcp_migrate_req=1")
            && warned.contains("docker service update --sysctl-add net.ipv4.tcp_migrate_req=1"),
        "preflight warns that a config load may reset a connection: {warned}"
    );
}

/// A failing preview gate, then a `bad` template `program` rejects saying `says`: the router
/// never moves, only the old colour answers. Returns the first apply's warnings.
fn never_switches(c: Colours, switch: &str, bad: &str, program: &str, says: &str) -> String {
    let _serial = serial();
    let (preview, live) = (gate_file(&c.work, "preview"), gate_file(&c.work, "live"));
    let plan = c.plan(&preview, &live, switch);
    let initial = c.router.config();
    let probe = Probe::start(&format!("http://{}:8080/", c.router.name), 240);

    fail_gate(&preview);
    let failed_preview = c.work.apply(&plan, &[]);
    std::fs::write(&preview, "0").unwrap();
    std::fs::write(c.work.dir.join("router.conf.template"), bad).unwrap();
    let rejected = c.work.apply(&plan, &[]);
    let seen = probe.stop();

    assert_eq!(failed_preview.code, 1, "{}", failed_preview.stderr);
    assert!(failed_preview.stderr.contains("gate `preview` failed"), "{}", failed_preview.stderr);
    assert_eq!(rejected.code, 1, "{}", rejected.stderr);
    assert!(
        rejected.stderr.contains(&format!("{program} rejects the config rendered from router.conf.template")),
        "{}",
        rejected.stderr
    );
    assert!(rejected.stderr.contains(says), "{program}'s own message: {}", rejected.stderr);
    assert_eq!(c.router.config(), initial, "the router never left its config");
    assert_eq!(seen.versions.keys().collect::<Vec<_>>(), ["v1"], "only the old colour ever answered");
    no_request_failed("blue-green that never switched", &seen);
    assert_eq!(c.green.spec()["Mode"]["Replicated"]["Replicas"], 0, "green is back at 0");
    warnings(&failed_preview).join("\n")
}

/// The warnings a run emitted.
fn warnings(run: &support::Run) -> Vec<String> {
    run.events_of("warning").iter().filter_map(|e| e["problem"]["message"].as_str()).map(str::to_owned).collect()
}

#[test]
fn a_failing_live_gate_switches_straight_back_to_the_old_colour() {
    let c = Colours::new("bgback");
    let switch = c.nginx();
    switches_back(c, &switch, "nginx");
}

/// The switch back through a Caddy router loads the old config into the running router tasks
/// (no task replaced first). Prints the time from the failing measurement to the new colour's
/// last answer: the figure in docs/benchmarks.md, measured over 10 runs of this test.
#[test]
fn a_failing_live_gate_switches_a_caddy_router_back_in_place() {
    let c = Colours::behind_caddy("bgcaddy");
    let switch = c.caddy();
    let run = switches_back(c, &switch, "caddy");
    let said = |text: &str| {
        run.events.iter().any(|e| e["event"] == "step-progress" && e["message"].as_str().unwrap_or("").contains(text))
    };
    let progress: Vec<&str> =
        run.events.iter().filter(|e| e["event"] == "step-progress").filter_map(|e| e["message"].as_str()).collect();
    assert!(said("loaded into 2 tasks"), "the switch loaded the config live: {progress:#?}");
    assert!(said("is back on config"), "the switch back loaded the old config live: {progress:#?}");
    let warned = warnings(&run);
    assert!(!warned.iter().any(|w| w.contains("tcp_migrate_req")), "no warning for a router that sets it: {warned:?}");
    let run_id = run.events_of("run-started")[0]["run_id"].as_str().unwrap().to_owned();
    let helpers = docker(&["service", "ls", "-q", "--filter", &format!("label=planrun.job.run-id={run_id}")]);
    assert_eq!(helpers, "", "the run removed its helper jobs");
}

/// Switches to green, fails the live gate after its first pass: traffic goes back to blue with no
/// failed request; prints how long the new colour still answered.
fn switches_back(c: Colours, switch: &str, how: &str) -> support::Run {
    let _serial = serial();
    let (preview, live) = (gate_file(&c.work, "preview"), gate_file(&c.work, "live"));
    let plan = c.plan(&preview, &live, switch);
    let router_before = c.router.config();
    let probe = Probe::start(&format!("http://{}:8080/", c.router.name), 240);

    let mut apply = Background::apply(&c.work, &plan, &[]);
    loop {
        let e = apply.wait_for("measurement", "front");
        if e["gate"] == "live" {
            break;
        }
    }
    fail_gate(&live);
    apply.wait_for("rollback-started", "");
    let failed_at = uptime();
    let run = apply.finish();
    std::thread::sleep(Duration::from_secs(2));
    let seen = probe.stop();

    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    let last_new = seen.log.iter().filter(|(_, v)| v.as_deref() == Some("v2")).map(|(t, _)| *t).fold(0.0, f64::max);
    // From the failing measurement to the rollback's start, on the run's own clock.
    let at = |event: &str, pick: &dyn Fn(&serde_json::Value) -> bool| {
        run.events.iter().filter(|e| e["event"] == event && pick(e)).filter_map(|e| e["elapsed_ms"].as_u64()).next()
    };
    let failing = at("measurement", &|e| e["gate"] == "live" && e["verdict"] != "pass");
    let started = at("rollback-started", &|_| true);
    let judged = failing.zip(started).map(|(f, s)| s.saturating_sub(f) as f64 / 1000.0).unwrap_or(f64::NAN);
    eprintln!(
        "{how} switch back: the new colour answered last {:.2} s after the rollback started, {:.2} s after the \
         failing measurement",
        last_new - failed_at,
        last_new - failed_at + judged
    );
    let failures: Vec<String> = seen.failures.iter().map(|(t, why)| format!("{:+.2}s {why}", t - failed_at)).collect();
    if !failures.is_empty() {
        eprintln!("failed requests (after the rollback started): {}", failures.join("; "));
        for e in &run.events {
            if let Some(ms) = e["elapsed_ms"].as_u64() {
                eprintln!("  {:>7} {} {} {}", ms, e["event"], e["step"], e["message"].as_str().unwrap_or(""));
            }
        }
    }
    assert!(seen.versions.get("v2").copied().unwrap_or(0) > 0, "traffic had switched");
    assert_eq!(seen.versions_after(last_new + 0.001), ["v1".to_string()].into());
    no_request_failed(&format!("blue-green {how} switch and switch back"), &seen);
    assert_eq!(c.router.config(), router_before, "the router is back on its config");
    assert_eq!(c.green.spec()["Mode"]["Replicated"]["Replicas"], 0);
    run
}

#[test]
fn blue_green_by_alias_moves_the_name_to_the_new_colour() {
    let _serial = serial();
    let alias = unique("front");
    // Blue carries the alias on the overlay network.
    let blue_name = unique("blue");
    #[rustfmt::skip]
    docker(&[
        "service", "create", "--quiet", "--detach=false", "--no-resolve-image", "--name", &blue_name,
        "--label", "planrun-test=1", "--replicas", "3", "--endpoint-mode", "dnsrr",
        "--network", &format!("name={},alias={alias}", support::NETWORK),
        "--health-cmd", "timeout 2 wget -q -O- http://127.0.0.1:8080/health",
        "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "1", V1,
    ]);
    let blue = Service { name: blue_name };
    let green = Service::create(&unique("green"), V1, 0);
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("bgalias");
    let (preview, live) = (gate_file(&work, "preview"), gate_file(&work, "live"));
    let gates = format!("{}{}", file_gate("preview", &preview, 1), file_gate("live", &live, 3));
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n{gates}    blue-green front {{\n        blue {}\n        green {}\n        image \"{V2}\"\n        \
         switch alias network={} alias={alias}\n        preview-gates preview\n        gates live\n        keep-old \"0s\"\n    }}\n}}\n",
        blue.name,
        green.name,
        support::NETWORK
    ));
    let probe = Probe::start(&format!("http://{alias}:8080/"), 240);

    let run = work.apply(&plan, &[]);
    let after = uptime();
    std::thread::sleep(Duration::from_secs(3));
    let seen = probe.stop();

    assert_eq!(run.code, 0, "{}", run.stderr);
    eprintln!(
        "blue-green alias switch: {} requests, {} failed (an alias move redeploys both colours' tasks)",
        seen.requests, seen.failed
    );
    assert!(seen.requests >= 500, "{}", seen.requests);
    assert_eq!(seen.versions_after(after), ["v2".to_string()].into(), "{}", answers_after(&seen, after));
    assert_eq!(blue.spec()["Mode"]["Replicated"]["Replicas"], 0, "keep-old 0s retires the old colour at once");
    green.assert_converged(V2, 3);
}

#[test]
fn rollback_after_a_sigkill_mid_blue_green_puts_traffic_back_on_the_old_colour() {
    let c = Colours::new("bgkill");
    let switch = c.nginx();
    rollback_after_a_sigkill(c, &switch);
}

/// `planrun rollback` from another process loads the old config into the Caddy router's tasks.
#[test]
fn rollback_after_a_sigkill_mid_blue_green_loads_the_old_config_into_a_caddy_router() {
    let c = Colours::behind_caddy("bgkillcaddy");
    let switch = c.caddy();
    let rolled = rollback_after_a_sigkill(c, &switch);
    assert!(rolled.stderr.contains("is back on config"), "the old config was loaded live: {}", rolled.stderr);
    let helpers = docker(&["service", "ls", "-q", "--filter", "label=planrun.job=caddy-load"]);
    assert_eq!(helpers, "", "neither the dead run nor the rollback left a helper job");
}

fn rollback_after_a_sigkill(c: Colours, switch: &str) -> support::Run {
    let _serial = serial();
    let (preview, live) = (gate_file(&c.work, "preview"), gate_file(&c.work, "live"));
    let plan = c.plan(&preview, &live, switch);
    let initial = c.router.config();
    let mut apply = Background::apply(&c.work, &plan, &[]);
    loop {
        let e = apply.wait_for("measurement", "front");
        if e["gate"] == "live" {
            break;
        }
    }
    assert_ne!(c.router.config(), initial, "the router was switched");
    apply.signal("KILL");
    let _ = apply.finish();

    let status = support::planrun().args(["status", &c.stack, "--output", "json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status as JSON");
    let green = status["services"].as_array().unwrap().iter().find(|s| s["name"] == c.green.name.as_str()).unwrap();
    assert!(green["role"].as_str().unwrap().starts_with("live colour of `front`"), "{status}");
    assert_eq!(status["lock"]["run_id"].as_str().map(|r| r.starts_with("r-")), Some(true), "the dead run's lock");
    assert_eq!(status["last_run"]["outcome"], serde_json::Value::Null, "it never finished: {status}");

    let probe = Probe::start(&format!("http://{}:8080/", c.router.name), 240);
    let state = c.work.dir.join("state");
    let rolled = run(&["rollback", "--stack", &c.stack, "--state-dir", state.to_str().unwrap()]);
    let after = uptime();
    std::thread::sleep(Duration::from_secs(2));
    let seen = probe.stop();

    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert_eq!(c.router.config(), initial, "the router is back on its first config");
    assert_eq!(seen.versions_after(after), ["v1".to_string()].into(), "{}", answers_after(&seen, after));
    no_request_failed("switch back by planrun rollback", &seen);
    assert_eq!(c.green.spec()["Mode"]["Replicated"]["Replicas"], 0);
    rolled
}
