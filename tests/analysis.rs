//! Analysis during the rollout (issue 22) on the real local swarm: a rolling step whose new
//! image answers 500 while its health checks pass is caught by its gate on the first batch,
//! and its undo starts while the later replicas still run the old release.
//!
//! The backend (3 replicas, dnsrr) sits behind the test nginx router, published on a host port
//! of 127.0.0.1; the step's `http` gate and this test's own probe both ask the router, which
//! sends each request to one of the backend's tasks. Every service is named uniquely and
//! removed at the end, pass or fail.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Background, LockGuard, Router, Service, Workdir, docker, unique};

const V1: &str = "planrun-test/app:v1";
/// Answers 500 on `/` while `/health` (its health check) passes.
const ERRORS: &str = "planrun-test/app:5xx";
const RUNS: usize = 3;

/// The status of `GET /` on 127.0.0.1:`port`, if it answered (each request bounded to 2 s).
fn status(port: u16) -> Option<u16> {
    support::local_status(port, "/")
}

/// `run`'s step `step` failed on the 500 its gate `answers` saw, in a judgement begun with the
/// first new task.
fn stopped_on_the_first_batch(run: &support::Run, step: &str) {
    let cause = format!("cause: step `{step}` failed: gate `answers` failed: 1 failed (limit 0): status 500");
    assert!(run.stderr.contains(&cause), "{}", run.stderr);
    let judged: Vec<String> = run
        .events_of("step-progress")
        .iter()
        .filter_map(|e| e["message"].as_str().filter(|m| m.starts_with("judging")).map(str::to_owned))
        .collect();
    assert_eq!(judged.first().map(String::as_str), Some("judging answers with 1 of 3 tasks on the new release"));
}

/// When a probe asked, and the status it got (none: no answer).
type Answer = (Instant, Option<u16>);

/// What this test's probe saw: every answer, every 50 ms.
struct Probe {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Answer>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Probe {
    /// Asks 127.0.0.1:`port` every 50 ms, for at most 180 s, until stopped.
    fn start(port: u16) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = std::thread::spawn({
            let (stop, seen) = (stop.clone(), seen.clone());
            move || {
                let until = Instant::now() + Duration::from_secs(180);
                while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                    let answer = status(port);
                    seen.lock().unwrap().push((Instant::now(), answer));
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        Probe { stop, seen, thread: Some(thread) }
    }

    fn stop(mut self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The ids of the tasks of `image` the swarm lists for `service` (its history included).
fn tasks_of(service: &str, image: &str) -> std::collections::BTreeSet<String> {
    docker(&["service", "ps", "--no-trunc", "--format", "{{.ID}} {{.Image}}", service])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, i)| i.split('@').next() == Some(image))
        .map(|(id, _)| id.to_owned())
        .collect()
}

#[test]
fn a_release_answering_500_is_stopped_on_its_first_batch_and_undone_to_the_exact_previous_spec() {
    let web = Service::create(&unique("web"), V1, 3);
    let (_router, port) = Router::on_host_port("rt", &web.name, "/");
    let before = web.spec();
    // `delay "5s"` between batches: the first 500 reaches the gate only once the router has
    // resolved the new task (Swarm's DNS, then nginx once a second), which took up to 5.75 s of
    // judging on a loaded CI machine; with 2 s Swarm had created the third task by then.
    let stack = unique("stack");
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("analysis");
    let plan = work.plan(&format!(
        "plan analysis {{\n    stack {stack}\n    on-failure rollback\n    gate answers {{\n        \
         http \"http://127.0.0.1:{port}/\" status=200 timeout=\"2s\"\n        interval \"250ms\"\n        count 80\n    }}\n    \
         rolling web {{\n        service {}\n        image \"{ERRORS}\"\n        parallelism 1\n        delay \"5s\"\n        \
         order start-first\n        monitor \"3s\"\n        deadline \"90s\"\n        gates answers\n    }}\n}}\n",
        web.name
    ));

    // The last run with `on-undo stop-now`: planrun stops the bad task's container when the undo
    // starts, not Swarm 2 s after taking it out of its DNS.
    let drain = std::fs::read_to_string(&plan).unwrap();
    let stop_now = drain.replace("        gates answers\n", "        on-undo stop-now\n        gates answers\n");
    let mut figures = Vec::new();
    let mut last_500s = Vec::new();
    for n in 1..=RUNS + 1 {
        let stops_now = n > RUNS;
        let earlier = tasks_of(&web.name, ERRORS);
        let probe = Probe::start(port);
        let started = Instant::now();
        let plan = work.plan(if stops_now { &stop_now } else { &drain });
        let mut apply = Background::apply(&work, &plan, &[]);
        apply.wait_for("rollback-started", "");
        let undo_started = Instant::now();
        let run = apply.finish();
        let seen = probe.stop();

        assert_eq!(run.code, 1, "run {n}: {}", run.stderr);
        assert_eq!(run.outcome(), "rolled-back", "run {n}");
        stopped_on_the_first_batch(&run, "web");
        // The undo began before Swarm replaced every replica: the new release never ran on all
        // three, and at most two tasks of it were ever created.
        let most = run
            .events_of("step-progress")
            .iter()
            .filter(|e| e["step"] == "web" && e["message"].as_str().is_some_and(|m| m.contains(ERRORS)))
            .filter_map(|e| e["updated"][0].as_u64())
            .max()
            .unwrap_or(0);
        assert!(most < 3, "run {n}: {most} tasks ran {ERRORS} before the undo");
        let created = tasks_of(&web.name, ERRORS).difference(&earlier).count();
        assert!((1..3).contains(&created), "run {n}: {created} tasks of {ERRORS} were created");
        assert_eq!(web.spec(), before, "run {n}: the service is back on its exact previous spec");
        web.assert_converged(V1, 3);

        // With stop-now, the gate's own 500 may be the only one: the bad task can be stopped
        // before this client's requests reach it (seen in CI).
        let first_bad = seen.iter().find(|(_, s)| *s == Some(500)).map(|(at, _)| *at);
        assert!(first_bad.is_some() || stops_now, "run {n}: the probe saw a 500");
        let took = undo_started.saturating_duration_since(first_bad.unwrap_or(undo_started));
        let bad = seen.iter().filter(|(_, s)| *s != Some(200)).count();
        // When the last 500 came, in ms after the undo started (negative: before).
        let last_500 = seen.iter().rfind(|(_, s)| *s == Some(500)).map(|(at, _)| {
            let ms = |d: Duration| d.as_millis() as i64;
            ms(at.saturating_duration_since(undo_started)) - ms(undo_started.saturating_duration_since(*at))
        });
        eprintln!(
            "run {n} (on-undo {}): first 500 to undo start {} ({} ms into the run); last 500 {last_500:?} ms after it; \
             {bad} of {} probe answers not 200; {created} of 3 replicas replaced",
            if stops_now { "stop-now" } else { "drain" },
            first_bad.map_or("none".to_owned(), |_| format!("{} ms", took.as_millis())),
            undo_started.saturating_duration_since(started).as_millis(),
            seen.len()
        );
        assert!(took <= Duration::from_secs(5), "run {n}: the undo started {took:?} after the first 500");
        let stopping = run.events_of("step-progress").into_iter().any(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("stopping the 1 task of the new release on this node now"))
        });
        assert_eq!(stopping, stops_now, "run {n}: planrun stops the bad task itself only with on-undo stop-now");
        if stops_now {
            // Left to Swarm, the bad task answered for 2 s and more after the undo began (the
            // drain runs above print it); stopped at once, its last 500 is the one the router
            // had already asked for when the stop came.
            let last = last_500.unwrap_or(i64::MIN);
            assert!(last < 1000, "run {n}: a 500 came {last} ms after the undo started: {last_500s:?} with drain");
        } else {
            last_500s.push(last_500);
            figures.push(took.as_millis());
        }
    }
    eprintln!("first 500 to undo start, ms: {figures:?}; last 500 after it with drain, ms: {last_500s:?}");

    // The same release judged only after the update (planrun before issue 22): every replica
    // answers 500 before the gate's first measurement.
    let after = work.plan(&drain.replace("        gates answers\n", "        analysis after\n        gates answers\n"));
    let earlier = tasks_of(&web.name, ERRORS);
    let probe = Probe::start(port);
    let started = Instant::now();
    let mut apply = Background::apply(&work, &after, &[]);
    apply.wait_for("rollback-started", "");
    let undo_started = Instant::now();
    let run = apply.finish();
    let seen = probe.stop();
    assert_eq!(run.outcome(), "rolled-back", "{}", run.stderr);
    assert!(run.events_of("step-progress").iter().all(|e| !e["message"].as_str().unwrap_or("").starts_with("judging")));
    let created = tasks_of(&web.name, ERRORS).difference(&earlier).count();
    assert_eq!(created, 3, "with analysis after, every replica was replaced first");
    assert_eq!(web.spec(), before);
    web.assert_converged(V1, 3);
    let first_bad = seen.iter().find(|(_, s)| *s == Some(500)).map(|(at, _)| *at).expect("the probe saw a 500");
    let bad = seen.iter().filter(|(_, s)| *s != Some(200)).count();
    eprintln!(
        "analysis after: first 500 to undo start {} ms ({} ms into the run); {bad} of {} probe answers not 200; {created} of 3 replicas replaced",
        undo_started.saturating_duration_since(first_bad).as_millis(),
        undo_started.saturating_duration_since(started).as_millis(),
        seen.len()
    );
}

/// A compose step's release judged batch by batch (issue 22): the stack's `web` (3 replicas,
/// one replaced every 5 s) behind the test router; its new image answers 500.
#[test]
fn a_compose_release_answering_500_is_stopped_on_its_first_batch_and_the_stack_put_back() {
    let stack = unique("cmp");
    let _stack = support::compose::StackGuard(stack.clone());
    let _lock = LockGuard(stack.clone());
    let work = Workdir::new("analysis-compose");
    std::fs::write(
        work.dir.join("compose.yml"),
        "services:\n  web:\n    image: planrun-test/app:${TAG}\n    networks: [shared]\n    healthcheck:\n      \
         test: [\"CMD-SHELL\", \"timeout 2 wget -q -O- http://127.0.0.1:8080/health\"]\n      interval: 1s\n      \
         timeout: 3s\n      retries: 1\n    deploy:\n      replicas: 3\n      endpoint_mode: dnsrr\n      \
         update_config: {parallelism: 1, delay: 5s, order: start-first, monitor: 3s}\nnetworks:\n  shared:\n    \
         external: true\n    name: planrun-test\n",
    )
    .unwrap();
    let plan = |tag: &str, gates: &str| {
        work.plan(&format!(
            "plan analysis {{\n    stack {stack}\n    on-failure rollback\n    var TAG default=\"{tag}\"\n{gates}    \
             compose stack {{\n        file \"compose.yml\"\n        deadline \"90s\"\n{}    }}\n}}\n",
            if gates.is_empty() { "" } else { "        gates answers\n" }
        ))
    };
    let first = work.apply(&plan("v1", ""), &[]);
    assert_eq!(first.code, 0, "the stack comes up: {}", first.stderr);
    // The stack's service, removed with the stack (this handle only reads it).
    let web = std::mem::ManuallyDrop::new(Service { name: format!("{stack}_web") });
    web.assert_converged(V1, 3);
    let (router, port) = Router::on_host_port("rt", &web.name, "/");
    let before = web.spec();
    let gate = format!(
        "    gate answers {{\n        http \"http://127.0.0.1:{port}/\" status=200 timeout=\"2s\"\n        \
         interval \"250ms\"\n        count 80\n    }}\n"
    );
    let bad = plan("5xx", &gate);

    let probe = Probe::start(port);
    let mut apply = Background::apply(&work, &bad, &[]);
    apply.wait_for("rollback-started", "");
    let undo_started = Instant::now();
    let run = apply.finish();
    let seen = probe.stop();

    assert_eq!(run.outcome(), "rolled-back", "{}", run.stderr);
    stopped_on_the_first_batch(&run, "stack");
    let created = tasks_of(&web.name, ERRORS).len();
    assert!((1..3).contains(&created), "{created} tasks of {ERRORS} were created");
    assert_eq!(web.spec(), before, "the service is back on its exact previous spec");
    web.assert_converged(V1, 3);
    let first_bad = seen.iter().find(|(_, s)| *s == Some(500)).map(|(at, _)| *at).expect("the probe saw a 500");
    let took = undo_started.saturating_duration_since(first_bad);
    let not_ok = seen.iter().filter(|(_, s)| *s != Some(200)).count();
    eprintln!(
        "compose: first 500 to undo start {} ms; {not_ok} of {} probe answers not 200; {created} of 3 replicas replaced",
        took.as_millis(),
        seen.len()
    );
    assert!(took <= Duration::from_secs(5), "the undo started {took:?} after the first 500");
    drop(router);
}
