//! `http` gates measured from inside a Swarm network (issue 22) on the real local swarm: the
//! service is on an overlay network of the test's own that is not attachable and publishes no
//! port, so only a Swarm task on that network reaches `http://SERVICE:8080/`. `planrun plan`
//! simulates the gate; it passes on a healthy service, fails a release that answers 500 (the run rolls back, the status in
//! the measurement), and errors, naming the network, when the network does not exist. No
//! probe job service is left after any run, nor after a run interrupted mid-gate. With
//! `every-task`, every task is asked and the first bad one fails the gate, named. Also: what one measurement costs beside the
//! request itself (the exec round trip), printed for docs/benchmarks.md.
//!
//! Every network and service is named uniquely and removed at the end, pass or fail.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use support::{Service, Workdir, docker, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";
/// Answers 500 on `/` while `/health` (its health check) passes.
const ERRORS: &str = "planrun-test/app:5xx";
/// The probe's image: any image with busybox's `wget` does.
const PROBE: &str = "planrun-test/app:v1";

/// An overlay network, not attachable (as `docker stack deploy` makes them), removed on drop.
struct Network(String);

impl Network {
    fn create() -> Network {
        let name = unique("net");
        docker(&["network", "create", "--driver", "overlay", "--label", "planrun-test=1", &name]);
        Network(name)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // The services on it are removed first (declared after it); their tasks take a moment.
        for _ in 0..60 {
            let out = Command::new("docker").args(["network", "rm", &self.0]).output();
            if out.is_ok_and(|o| o.status.success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A converged dnsrr service of `image` on `network` only, publishing nothing.
fn service_on(network: &Network, image: &str) -> Service {
    Service::create_on(&unique("api"), image, 2, &network.0)
}

/// The gate, measured from `network`.
fn gate(url: &str, network: &str) -> String {
    format!(
        "    gate inside {{\n        http \"{url}\" network=\"{network}\" image=\"{PROBE}\" timeout=\"3s\"\n        \
         interval \"1s\"\n        count 3\n    }}\n"
    )
}

/// The probe job services of the run still on the swarm, and their containers still on this
/// node (running or exited), once their removal has had 5 s to reach the node.
fn probes_left(run: &support::Run) -> Vec<String> {
    let run_id = run.events_of("run-started").first().and_then(|e| e["run_id"].as_str()).expect("a run id").to_owned();
    let short: String = run_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let short = &short[short.len().saturating_sub(24)..];
    let mut left = Vec::new();
    for _ in 0..10 {
        let label = format!("label=planrun.job.run-id={run_id}");
        let services = docker(&["service", "ls", "--format", "{{.Name}}", "--filter", &label]);
        let name = format!("name=planrun-gate-{short}-");
        let containers = docker(&["ps", "-a", "--format", "container {{.Names}} {{.Status}}", "--filter", &name]);
        left = services.lines().chain(containers.lines()).map(str::to_owned).collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    left
}

fn measurements(run: &support::Run) -> Vec<&serde_json::Value> {
    run.events_of("measurement")
}

#[test]
fn a_gate_inside_the_network_passes_on_a_healthy_service() {
    let network = Network::create();
    let api = service_on(&network, V1);
    let work = Workdir::new("netgate-pass");
    let stack = unique("stack");
    let url = format!("http://{}:8080/", api.name);
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n{}    check probe {{ gates inside; }}\n}}\n",
        gate(&url, &network.0)
    ));

    // Simulated first, as every http gate is: no probe container, no request.
    let planned = support::run(&["plan", plan.to_str().unwrap()]);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    assert!(planned.stdout.contains("inside"), "{}", planned.stdout);

    let run = work.apply(&plan, &[]);

    assert_eq!((run.code, run.outcome().as_str()), (0, "succeeded"), "{}", run.stderr);
    let measured = measurements(&run);
    assert_eq!(measured.len(), 3, "{measured:?}");
    for m in &measured {
        assert_eq!(m["verdict"], "pass", "{m}");
        assert_eq!(m["value"], "200");
        assert_eq!(m["target"], format!("GET {url} from network {}", network.0));
    }
    assert_eq!(probes_left(&run), Vec::<String>::new(), "the probe job is removed");
    // This machine cannot reach the service: only the network can.
    drop(api);
}

#[test]
fn a_release_answering_500_inside_the_network_is_rolled_back() {
    let network = Network::create();
    let api = service_on(&network, V1);
    let before = api.spec();
    let work = Workdir::new("netgate-fail");
    let stack = unique("stack");
    let url = format!("http://{}:8080/", api.name);
    let plan = work.plan(&support::rolling_plan(
        &stack,
        &[("api", &api.name, ERRORS, "        gates inside\n")],
        false,
        &gate(&url, &network.0),
    ));

    let run = work.apply(&plan, &[]);

    assert_eq!((run.code, run.outcome().as_str()), (1, "rolled-back"), "{}", run.stderr);
    assert!(run.stderr.contains("gate `inside` failed"), "{}", run.stderr);
    let measured = measurements(&run);
    assert!(measured.iter().any(|m| m["value"] == "500" && m["verdict"] == "fail"), "{measured:?}");
    assert_eq!(api.spec(), before, "the old spec is back");
    assert_eq!(probes_left(&run), Vec::<String>::new(), "the probe job is removed");
}

/// `every-task`: each measurement asks every task the service's name lists, so the first
/// measurement after a bad task joins Docker's DNS fails, naming its address; on a healthy
/// service every measurement says how many tasks answered.
#[test]
fn every_task_asks_each_task_and_fails_at_the_first_bad_one() {
    let network = Network::create();
    let api = service_on(&network, V1);
    let before = api.spec();
    let url = format!("http://{}:8080/", api.name);
    let every = gate(&url, &network.0).replace("timeout=\"3s\"", "timeout=\"3s\" every-task=#true");
    assert!(every.contains("every-task=#true"));

    let work = Workdir::new("netgate-every-pass");
    let stack = unique("stack");
    let plan = work.plan(&format!("plan e2e {{\n    stack {stack}\n{every}    check probe {{ gates inside; }}\n}}\n"));
    let run = work.apply(&plan, &[]);
    assert_eq!((run.code, run.outcome().as_str()), (0, "succeeded"), "{}", run.stderr);
    let measured = measurements(&run);
    assert_eq!(measured.len(), 3, "{measured:?}");
    for m in &measured {
        assert_eq!((m["verdict"].as_str(), m["value"].as_str()), (Some("pass"), Some("200 from 2 of 2 tasks")), "{m}");
        assert_eq!(m["target"], format!("GET {url} from network {}, every task", network.0));
    }

    let work = Workdir::new("netgate-every-fail");
    let stack = unique("stack");
    let plan = work.plan(&support::rolling_plan(
        &stack,
        &[("api", &api.name, ERRORS, "        gates inside\n")],
        false,
        &every,
    ));
    let run = work.apply(&plan, &[]);
    assert_eq!((run.code, run.outcome().as_str()), (1, "rolled-back"), "{}", run.stderr);
    let measured: Vec<_> = measurements(&run).into_iter().filter(|m| m["step"] == "api").collect();
    // The judgement starts once the first new task runs, which is once it is in Docker's DNS.
    let first = measured.first().expect("a measurement of the rolling step");
    assert_eq!(first["verdict"], "fail", "the first measurement fails: {measured:?}");
    let value = first["value"].as_str().unwrap_or_default();
    assert!(value.starts_with("500 from 10.") && value.ends_with(" tasks passed"), "{value}");
    assert!(run.stderr.contains("gate `inside` failed"), "{}", run.stderr);
    assert_eq!(api.spec(), before, "the old spec is back");
    assert_eq!(probes_left(&run), Vec::<String>::new(), "the probe job is removed");

    // A name with no task in the network: every measurement is an error that says so.
    let missing = unique("noapi");
    let work = Workdir::new("netgate-every-none");
    let stack = unique("stack");
    let none = every.replace(&api.name, &missing);
    let plan = work.plan(&format!("plan e2e {{\n    stack {stack}\n{none}    check probe {{ gates inside; }}\n}}\n"));
    let run = work.apply(&plan, &[]);
    assert_ne!(run.outcome(), "succeeded", "{}", run.stderr);
    let measured = measurements(&run);
    assert!(!measured.is_empty() && measured.iter().all(|m| m["verdict"] == "error"), "{measured:?}");
    assert_eq!(
        measured[0]["detail"].as_str().unwrap_or_default(),
        format!("no task of `{missing}` is in the DNS of network `{}` (`tasks.{missing}` lists none)", network.0)
    );
    assert_eq!(probes_left(&run), Vec::<String>::new());
}

#[test]
fn a_network_that_does_not_exist_is_an_error_naming_it() {
    let work = Workdir::new("netgate-nonet");
    let stack = unique("stack");
    let missing = unique("nonet");
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n{}    check probe {{ gates inside; }}\n}}\n",
        gate("http://api:8080/", &missing)
    ));

    let run = work.apply(&plan, &[]);

    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_ne!(run.outcome(), "succeeded");
    let measured = measurements(&run);
    assert!(!measured.is_empty() && measured.iter().all(|m| m["verdict"] == "error"), "{measured:?}");
    let detail = measured[0]["detail"].as_str().unwrap_or_default();
    assert_eq!(detail, format!("network `{missing}` does not exist on this swarm"));
    assert_eq!(probes_left(&run), Vec::<String>::new());
}

#[test]
fn a_run_interrupted_while_the_gate_measures_removes_its_probe() {
    let network = Network::create();
    let api = service_on(&network, V1);
    let work = Workdir::new("netgate-int");
    let stack = unique("stack");
    let _lock = support::LockGuard(stack.clone());
    let url = format!("http://{}:8080/", api.name);
    let long = gate(&url, &network.0).replace("count 3", "count 60");
    let plan = work.plan(&format!("plan e2e {{\n    stack {stack}\n{long}    check probe {{ gates inside; }}\n}}\n"));

    let mut apply = support::Background::apply(&work, &plan, &[]);
    let started = apply.wait_for("run-started", "");
    let run_id = started["run_id"].as_str().expect("a run id").to_owned();
    apply.wait_for("measurement", "probe");
    let label = format!("label=planrun.job.run-id={run_id}");
    let running = docker(&["service", "ls", "--format", "{{.Name}} {{.Mode}}", "--filter", &label]);
    assert!(running.starts_with("planrun-gate-") && running.ends_with("replicated job"), "{running}");
    apply.signal("INT");
    let run = apply.finish();

    assert_ne!(run.outcome(), "succeeded", "{}", run.stderr);
    assert_eq!(probes_left(&run), Vec::<String>::new(), "the probe job is removed when the run stops");
}

/// A run killed outright (SIGKILL) cannot end its probe job; the `planrun rollback` of that
/// run, from another machine (an empty state directory), removes it with the run's changes.
/// Twice: killed in a rolling step's gate (a change to undo), and in a `check` step's gate
/// (nothing to undo: the rollback only releases the dead run's lock, and its jobs with it).
#[test]
fn the_rollback_of_a_run_killed_while_the_gate_measures_removes_its_probe() {
    let network = Network::create();
    let api = service_on(&network, V1);
    let before = api.spec();
    let url = format!("http://{}:8080/", api.name);
    let long = gate(&url, &network.0).replace("count 3", "count 60");
    let rolling = |stack: &str| {
        support::rolling_plan(
            stack,
            &[(
                "api",
                &api.name,
                V2,
                "        gates inside
",
            )],
            false,
            &long,
        )
    };
    let check =
        |stack: &str| format!("plan e2e {{\n    stack {stack}\n{long}    check probe {{ gates inside; }}\n}}\n");
    type PlanOf<'a> = &'a dyn Fn(&str) -> String;
    let cases: [(&str, PlanOf, &str); 2] = [("rolling", &rolling, "api"), ("check", &check, "probe")];
    for (case, plan_of, step) in cases {
        let work = Workdir::new(&format!("netgate-kill-{case}"));
        let stack = unique("stack");
        let _lock = support::LockGuard(stack.clone());
        let plan = work.plan(&plan_of(&stack));
        let mut apply = support::Background::apply(&work, &plan, &[]);
        let started = apply.wait_for("run-started", "");
        let run_id = started["run_id"].as_str().expect("a run id").to_owned();
        apply.wait_for("measurement", step);
        let label = format!("label=planrun.job.run-id={run_id}");
        let running = docker(&["service", "ls", "--format", "{{.Name}}", "--filter", &label]);
        assert!(running.starts_with("planrun-gate-"), "{case}: the probe job runs: {running:?}");
        apply.signal("KILL");
        let killed = apply.finish();
        std::thread::sleep(Duration::from_secs(2));
        let still = docker(&["service", "ls", "--format", "{{.Name}}", "--filter", &label]);
        assert_eq!(still, running, "{case}: a killed run leaves its probe job (nothing of it is left to end it)");

        let elsewhere = Workdir::new(&format!("netgate-kill-{case}-elsewhere"));
        let empty = elsewhere.dir.join("state");
        let rolled = support::run(&["rollback", &stack, "--state-dir", empty.to_str().unwrap()]);

        assert_eq!(rolled.code, 0, "{case}: {}", rolled.stderr);
        assert!(
            rolled.stderr.contains(&format!("job service {running}")),
            "{case}: says what it removed: {}",
            rolled.stderr
        );
        assert_eq!(probes_left(&killed), Vec::<String>::new(), "{case}: the probe job is removed by the rollback");
        assert_eq!(api.spec(), before, "{case}: the exact previous spec");
        assert!(!support::lock_exists(&stack), "{case}: the lock is released");
    }
}

/// What one measurement costs beside the request: the exec round trip through planrun's
/// `Cluster` against the request's own time inside the probe container. Printed; the bound is
/// loose (a busy 2-core machine).
#[test]
fn the_exec_round_trip_of_one_measurement() {
    use engine::cluster::Cluster;
    use engine::gates::Meter;
    use engine::gates::http::from_network::NetworkMeter;
    use plans::gates::{FromNetwork, HttpGate};

    let network = Network::create();
    let api = service_on(&network, V1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let cluster: Arc<dyn Cluster> = Arc::new(engine::cluster::swarm::Swarm::connect().await.expect("the swarm"));
        let from = FromNetwork { network: network.0.clone(), image: PROBE.into(), every_task: false };
        let gate = HttpGate {
            url: format!("http://{}:8080/health", api.name),
            method: "GET".into(),
            status: 200,
            body: Some("ok".into()),
            credentials: Default::default(),
            from: Some(from.clone()),
        };
        let mut meter = NetworkMeter::new(gate, from, cluster, Duration::from_secs(3), Some("bench".into()));
        let started = std::time::Instant::now();
        let first = meter.measure().await;
        let start_up = started.elapsed();
        assert_eq!(first.outcome, plans::gates::Outcome::Pass, "{first:?}");
        let mut trips = Vec::new();
        let mut requests = Vec::new();
        for _ in 0..50 {
            let m = meter.measure().await;
            assert_eq!(m.outcome, plans::gates::Outcome::Pass, "{m:?}");
            let t = meter.last_timing().expect("timed");
            trips.push(t.round_trip);
            requests.extend(t.request);
        }
        meter.finish().await;
        // A finished judgement keeps its probe for the next one; the run's end removes it.
        engine::services::job::settle(Duration::from_secs(10)).await;
        trips.sort();
        requests.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let median = |v: &[Duration]| v[v.len() / 2];
        eprintln!(
            "network gate, 50 measurements: probe start {:.0} ms (with the first request); round trip median {:.1} ms, \
             p90 {:.1} ms, min {:.1} ms, max {:.1} ms; request inside the probe median {:.0} ms (10 ms steps); \
             overhead (round trip - request) median {:.1} ms",
            ms(start_up),
            ms(median(&trips)),
            ms(trips[trips.len() * 9 / 10]),
            ms(trips[0]),
            ms(trips[trips.len() - 1]),
            ms(median(&requests)),
            ms(median(&trips)) - ms(median(&requests)),
        );
        assert!(median(&trips) < Duration::from_secs(2), "{trips:?}");
    });
    let left = docker(&["service", "ls", "--format", "{{.Name}}", "--filter", "label=planrun.job.run-id=bench"]);
    assert_eq!(left, "", "the probe job is removed");
}
