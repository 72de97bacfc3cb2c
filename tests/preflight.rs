//! Preflight against the real swarm: a plan naming a service that does not exist, one whose
//! update is in progress and one left paused by an earlier update is refused before anything
//! changes, with every problem at once.

mod support;

use support::{Service, Workdir, docker, rolling_plan, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

#[test]
fn every_problem_is_reported_before_any_change() {
    let fine = Service::create(&unique("fine"), V1, 2);
    let busy = Service::create(&unique("busy"), V1, 3);
    let stuck = Service::create(&unique("stuck"), V1, 1);
    // An update in progress: a long delay between tasks keeps it `updating`.
    docker(&[
        "service",
        "update",
        "--detach",
        "--quiet",
        "--no-resolve-image",
        "--update-delay",
        "60s",
        "--image",
        V2,
        &busy.name,
    ]);
    // An update paused by Swarm: a crashing image with failure action pause.
    #[rustfmt::skip]
    docker(&[
        "service", "update", "--detach", "--quiet", "--no-resolve-image", "--update-failure-action", "pause",
        "--update-monitor", "2s", "--image", "planrun-test/app:exit", &stuck.name,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while docker(&["service", "inspect", "--format", "{{.UpdateStatus.State}}", &stuck.name]) != "paused" {
        assert!(std::time::Instant::now() < deadline, "the stuck service never paused");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let missing = format!("{}-nope", unique("svc"));
    let (fine_version, fine_spec) = (fine.version(), fine.spec());
    let gate = format!("    gate ghost {{ swarm {missing} }}\n");
    let text = rolling_plan(
        &unique("stack"),
        &[
            ("fine", &fine.name, V2, ""),
            ("busy", &busy.name, V2, ""),
            ("stuck", &stuck.name, V2, ""),
            ("missing", &missing, V2, "        gates ghost\n"),
        ],
        false,
        &gate,
    );
    let work = Workdir::new("preflight");

    let run = work.apply(&work.plan(&text), &[]);

    assert_eq!(run.code, 1, "{}", run.stderr);
    let refused = run.events_of("run-refused");
    assert_eq!(refused.len(), 1, "{:?}", run.events);
    assert_eq!(refused[0]["refusal"], "preflight");
    let problems: Vec<String> =
        refused[0]["problems"].as_array().unwrap().iter().map(|p| p["message"].as_str().unwrap().to_owned()).collect();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].contains(&format!("service `{}` is being updated right now", busy.name)), "{problems:#?}");
    assert!(problems[1].contains(&format!("an earlier update of `{}` is paused", stuck.name)), "{problems:#?}");
    assert_eq!(problems[2], format!("service `{missing}` does not exist"));
    assert_eq!(problems[3], format!("gate `ghost`: no service named `{missing}`"));
    assert!(run.events_of("step-started").is_empty(), "no step started");
    assert_eq!(fine.version(), fine_version, "nothing wrote to the fine service");
    assert_eq!(fine.spec(), fine_spec);
    assert!(run.stderr.contains("preflight found problems: nothing was changed"), "{}", run.stderr);
}
