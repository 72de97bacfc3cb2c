//! `planrun plan` against the real swarm: it lists exactly the services that differ and moves
//! no version index; a saved plan goes stale when a service changes before apply; the
//! simulated time is close to the real one (printed), and a drill's rollback order is the
//! real one.

mod support;

use std::path::Path;
use std::time::Instant;

use support::{Service, Workdir, docker, planrun, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

/// `planrun plan ARGS` : (exit code, stdout, stderr).
fn plan(args: &[&str]) -> (i32, String, String) {
    let out = planrun().arg("plan").args(args).output().expect("planrun runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    eprintln!("planrun plan {} -> {:?}\n{stderr}", args.join(" "), out.status.code());
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn plan_json(path: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![path.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = plan(&args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A gate passing while `file` holds `0`.
fn file_gate(name: &str, file: &Path, count: u32) -> String {
    format!(
        "    gate {name} {{\n        command \"sh\" \"-c\" \"exit $(cat {})\"\n        interval \"1s\"\n        count {count}\n    }}\n",
        file.display()
    )
}

fn rolling(name: &str, service: &str, image: &str, after: &str, gates: &str) -> String {
    format!(
        "    rolling {name}{after} {{\n        service {service}\n        image \"{image}\"\n        parallelism 1\n        \
         delay \"1s\"\n        order start-first\n        monitor \"3s\"\n        deadline \"2m\"\n{gates}    }}\n"
    )
}

#[test]
fn plan_lists_exactly_the_services_that_differ_and_changes_nothing() {
    let stack = unique("plandiff");
    let (a, b) = (Service::create(&unique("a"), V1, 2), Service::create(&unique("b"), V1, 2));
    let work = Workdir::new("plandiff");
    // First make b exactly what the plan asks, by applying a plan for it alone.
    let only_b = work.plan(&format!("plan e2e {{\n    stack {stack}\n{}}}\n", rolling("b", &b.name, V2, "", "")));
    assert_eq!(work.apply(&only_b, &[]).code, 0);
    let path = work.dir.join("both.kdl");
    std::fs::write(
        &path,
        format!(
            "plan e2e {{\n    stack {stack}\n{}{}}}\n",
            rolling("a", &a.name, V2, "", ""),
            rolling("b", &b.name, V2, "", "")
        ),
    )
    .unwrap();
    let versions = (a.version(), b.version());

    let report = plan_json(&path, &[]);
    assert_eq!((a.version(), b.version()), versions, "plan moved a version index");
    assert_eq!(report["live"]["mode"], "live");
    let steps = report["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|s| s["step"] == name).unwrap();
    let changed: Vec<&str> =
        steps.iter().flat_map(|s| s["changes"].as_array().unwrap()).map(|c| c["service"].as_str().unwrap()).collect();
    assert_eq!(changed, [a.name.as_str()], "exactly the service that differs");
    let fields: Vec<&str> =
        step("a")["changes"][0]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields[0], "image", "{fields:?}");
    assert_eq!(step("a")["changes"][0]["fields"][0]["after"], V2);
    assert_eq!(step("b")["unchanged"], true);
    assert_eq!(report["summary"]["change"], 1);
    assert_eq!(report["summary"]["unchanged_steps"], 1);

    let (code, human, _) = plan(&[path.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(code, 2, "changes present");
    assert!(human.contains(&format!("~ {}", a.name)) && human.contains("no changes"), "{human}");
    let (code, _, _) = plan(&[only_b.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(code, 0, "nothing to change");
    assert_eq!((a.version(), b.version()), versions, "plan moved a version index");

    // A service the plan names that does not exist is an error naming it.
    let missing = work.dir.join("missing.kdl");
    let ghost = unique("ghost");
    std::fs::write(&missing, format!("plan e2e {{\n    stack {stack}\n{}}}\n", rolling("g", &ghost, V2, "", "")))
        .unwrap();
    let (code, _, stderr) = plan(&[missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("service `{ghost}` does not exist")) && stderr.contains("step `g`"), "{stderr}");
}

#[test]
fn a_saved_plan_goes_stale_when_a_service_changes_and_apply_refuses_naming_it() {
    let stack = unique("saved");
    let web = Service::create(&unique("web"), V1, 2);
    let work = Workdir::new("saved");
    let path = work.plan(&format!("plan e2e {{\n    stack {stack}\n{}}}\n", rolling("web", &web.name, V2, "", "")));
    let saved = work.dir.join("release.plan");
    let (code, _, _) = plan(&[path.to_str().unwrap(), "-o", saved.to_str().unwrap()]);
    assert_eq!(code, 0);
    docker(&["service", "update", "--quiet", "--detach=false", "--env-add", "SNEAKY=1", &web.name]);
    let before = web.version();
    let run = work.apply(&saved, &[]);
    assert_eq!(run.code, 1);
    let refused = run.events_of("run-refused");
    assert_eq!(refused[0]["refusal"], "stale-plan", "{:?}", run.events);
    let problems = refused[0]["problems"].to_string();
    assert!(problems.contains(&web.name) && problems.contains("env.SNEAKY"), "{problems}");
    assert_eq!(web.version(), before, "a stale plan changed nothing");
    assert_eq!(web.image(), V1);

    // Planned again, it applies exactly: the image the plan file said.
    let (code, _, _) = plan(&[path.to_str().unwrap(), "-o", saved.to_str().unwrap()]);
    assert_eq!(code, 0);
    std::fs::write(&path, "this file changed after planning; the saved plan carries its own text").unwrap();
    let run = work.apply(&saved, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    web.assert_converged(V2, 2);
}

/// Plans, applies, and prints the simulated and real times; returns (simulated, real) seconds.
fn planned_against_real(what: &str, work: &Workdir, path: &Path) -> (f64, f64) {
    let report = plan_json(path, &[]);
    let simulated = report["timeline"]["best_ms"].as_u64().unwrap() as f64 / 1000.0;
    let started = Instant::now();
    let run = work.apply(path, &[]);
    let real = started.elapsed().as_secs_f64();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ratio = simulated / real;
    eprintln!("ACCURACY {what}: simulated {simulated:.1}s, real {real:.1}s, ratio {ratio:.3}");
    (simulated, real)
}

#[test]
fn the_simulated_time_is_within_a_fifth_of_the_real_one_and_drills_roll_back_in_the_real_order() {
    let work = Workdir::new("accuracy");
    let ok = work.dir.join("ok");
    std::fs::write(&ok, "0").unwrap();
    let mut results = Vec::new();

    // The quickstart's shape: one service of three replicas, a swarm gate and a command gate.
    let stack = unique("acc1");
    let web = Service::create(&unique("web"), V1, 3);
    let quick = work.dir.join("quick.kdl");
    let gates = format!(
        "    gate healthy {{\n        swarm {}\n        count 1\n    }}\n{}",
        web.name,
        file_gate("ok", &ok, 3)
    );
    std::fs::write(
        &quick,
        format!(
            "plan e2e {{\n    stack {stack}\n    on-failure rollback\n{gates}{}}}\n",
            rolling("web", &web.name, V2, "", "        gates healthy ok\n")
        ),
    )
    .unwrap();
    results.push(("quickstart", planned_against_real("quickstart", &work, &quick)));

    // Two branches: two services at once, a command after one, a check after both.
    let stack = unique("acc2");
    let (front, api) = (Service::create(&unique("front"), V1, 2), Service::create(&unique("api"), V1, 2));
    let two = work.dir.join("two.kdl");
    let two_text = format!(
        "plan e2e {{\n    stack {stack}\n    on-failure rollback\n{}{}{}    run warm after=front {{\n        command \"sh\" \"-c\" \"sleep 1\"\n        undo \"true\"\n    }}\n    check final {{\n        after warm api\n        gates ok\n    }}\n}}\n",
        file_gate("ok", &ok, 3),
        rolling("front", &front.name, V2, "", "        gates ok\n"),
        rolling("api", &api.name, V2, "", ""),
    );
    std::fs::write(&two, two_text).unwrap();
    results.push(("two branches", planned_against_real("two branches", &work, &two)));

    // A canary: one canary replica, a stage at half the traffic, promotion.
    let stack = unique("acc3");
    let shop = Service::create(&unique("shop"), V1, 2);
    let canary = work.dir.join("canary.kdl");
    std::fs::write(
        &canary,
        format!(
            "plan e2e {{\n    stack {stack}\n    on-failure rollback\n{}    canary shop {{\n        service {}\n        image \"{V2}\"\n        \
             stage replicas=1 {{\n            pause \"3s\"\n            gates ok\n        }}\n        stage traffic=\"50%\" {{ gates ok; }}\n        \
             parallelism 1\n        delay \"1s\"\n        order start-first\n        monitor \"2s\"\n        deadline \"3m\"\n        gates ok\n    }}\n}}\n",
            file_gate("ok", &ok, 3),
            shop.name
        ),
    )
    .unwrap();
    results.push(("canary", planned_against_real("canary", &work, &canary)));
    let _canary_left = Service { name: format!("{}-canary", shop.name) };

    // The drill: back to v1 on two branches, each step recording at a different time (so the
    // real order is not a race), with `final`'s gate failing.
    let bad = work.dir.join("bad");
    std::fs::write(&bad, "1").unwrap();
    let drill = work.dir.join("drill.kdl");
    std::fs::write(
        &drill,
        format!(
            "plan e2e {{\n    stack {}\n    on-failure rollback\n{}{}    pause wait \"2s\"\n{}    run warm after=front {{\n        command \"true\"\n        undo \"true\"\n    }}\n    check final {{\n        after warm api\n        gates bad\n    }}\n}}\n",
            unique("drill"),
            file_gate("bad", &bad, 1),
            rolling("front", &front.name, V1, "", ""),
            rolling("api", &api.name, V1, " after=wait", ""),
        ),
    )
    .unwrap();
    let report = plan_json(&drill, &["--fail", "final"]);
    let simulated: Vec<String> =
        report["drill"]["rollback_order"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    let real = work.apply(&drill, &[]);
    assert_eq!(real.outcome(), "rolled-back", "{}", real.stderr);
    let real_order: Vec<String> =
        real.events_of("step-undone").iter().map(|e| e["step"].as_str().unwrap().to_owned()).collect();
    eprintln!("DRILL simulated rollback order {simulated:?}, real {real_order:?}");
    assert_eq!(simulated, ["warm", "api", "front"]);
    assert_eq!(simulated, real_order);
    front.assert_converged(V2, 2);
    api.assert_converged(V2, 2);

    for (what, (simulated, real)) in results {
        let off = (simulated - real).abs() / real;
        assert!(off <= 0.20, "{what}: simulated {simulated:.1}s is {:.0}% off the real {real:.1}s", off * 100.0);
    }
}
