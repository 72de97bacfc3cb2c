//! `planrun plan` against the real swarm: it lists exactly the services that differ and moves
//! no version index; a saved plan goes stale when a service changes before apply; the
//! simulated time is close to the real one (printed), and a drill's rollback order is the
//! real one.

mod support;

use std::path::Path;
use std::time::Instant;

use support::{NETWORK, Router, Service, Workdir, docker, planrun, unique};

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
    // apply returns once its gates pass; Swarm writes `completed` into b (a new version index)
    // when its last monitor window ends, which may be later.
    for _ in 0..300 {
        let state = support::docker(&["service", "inspect", &b.name, "--format", "{{.UpdateStatus.State}}"]);
        if state == "completed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
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

/// Plans (with `extra` flags), applies, and prints the simulated and real times; returns
/// (simulated, real) seconds and the run's id.
fn planned_against_real(what: &str, work: &Workdir, path: &Path, extra: &[&str]) -> ((f64, f64), String) {
    let report = plan_json(path, extra);
    let simulated = report["timeline"]["best_ms"].as_u64().unwrap() as f64 / 1000.0;
    let started = Instant::now();
    let run = work.apply(path, &[]);
    let real = started.elapsed().as_secs_f64();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ratio = simulated / real;
    eprintln!("ACCURACY {what}: simulated {simulated:.1}s, real {real:.1}s, ratio {ratio:.3}");
    let run_id = run.events_of("run-started")[0]["run_id"].as_str().unwrap().to_owned();
    ((simulated, real), run_id)
}

/// The same plan back to v1, planned with the timings of `run`, then applied.
fn calibrated_back(what: &str, work: &Workdir, path: &Path, run: &str) -> (f64, f64) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, text.replace(V2, V1)).unwrap();
    let state = work.dir.join("state");
    let flags = ["--calibrate-from", run, "--state-dir", state.to_str().unwrap()];
    planned_against_real(&format!("{what}, calibrated from its first run"), work, path, &flags).0
}

#[test]
fn the_simulated_time_is_within_a_fifth_of_the_real_one_and_drills_roll_back_in_the_real_order() {
    let work = Workdir::new("accuracy");
    let ok = work.dir.join("ok");
    std::fs::write(&ok, "0").unwrap();
    let mut results = Vec::new();

    // The quickstart's shape: one service of three replicas, a swarm gate and a command gate.
    let stack = unique("acc1");
    let _forget = support::LockGuard(stack.clone());
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
    let (measured, run) = planned_against_real("quickstart", &work, &quick, &[]);
    results.push(("quickstart", measured));
    results.push(("quickstart calibrated", calibrated_back("quickstart", &work, &quick, &run)));

    // Two branches: two services at once, a command after one, a check after both.
    let stack = unique("acc2");
    let _forget = support::LockGuard(stack.clone());
    let (front, api) = (Service::create(&unique("front"), V1, 2), Service::create(&unique("api"), V1, 2));
    let two = work.dir.join("two.kdl");
    let two_text = format!(
        "plan e2e {{\n    stack {stack}\n    on-failure rollback\n{}{}{}    run warm after=front {{\n        command \"sh\" \"-c\" \"sleep 1\"\n        undo \"true\"\n    }}\n    check final {{\n        after warm api\n        gates ok\n    }}\n}}\n",
        file_gate("ok", &ok, 3),
        rolling("front", &front.name, V2, "", "        gates ok\n"),
        rolling("api", &api.name, V2, "", ""),
    );
    std::fs::write(&two, two_text).unwrap();
    let (measured, run) = planned_against_real("two branches", &work, &two, &[]);
    results.push(("two branches", measured));
    results.push(("two branches calibrated", calibrated_back("two branches", &work, &two, &run)));

    // A canary: one canary replica, a stage at half the traffic, promotion.
    let stack = unique("acc3");
    let _forget = support::LockGuard(stack.clone());
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
    results.push(("canary", planned_against_real("canary", &work, &canary, &[]).0));
    let _canary_left = Service { name: format!("{}-canary", shop.name) };

    // The drill: to v2 again on two branches, each step recording at a different time (so the
    // real order is not a race), with `final`'s gate failing.
    let bad = work.dir.join("bad");
    std::fs::write(&bad, "1").unwrap();
    let drill = work.dir.join("drill.kdl");
    let drill_stack = unique("drill");
    let _forget = support::LockGuard(drill_stack.clone());
    std::fs::write(
        &drill,
        format!(
            "plan e2e {{\n    stack {}\n    on-failure rollback\n{}{}    pause wait \"2s\"\n{}    run warm after=front {{\n        command \"true\"\n        undo \"true\"\n    }}\n    check final {{\n        after warm api\n        gates bad\n    }}\n}}\n",
            drill_stack,
            file_gate("bad", &bad, 1),
            rolling("front", &front.name, V2, "", ""),
            rolling("api", &api.name, V2, " after=wait", ""),
        ),
    )
    .unwrap();
    let report = plan_json(&drill, &["--fail", "final"]);
    let simulated: Vec<Vec<String>> = serde_json::from_value(report["drill"]["rollback_turns"].clone()).unwrap();
    let real = work.apply(&drill, &[]);
    assert_eq!(real.outcome(), "rolled-back", "{}", real.stderr);
    // Each real undo: (step, began, ended), in ms from the run's start.
    let real_undos: Vec<(String, u64, u64)> = real
        .events_of("step-undone")
        .iter()
        .map(|e| {
            let ended = e["elapsed_ms"].as_u64().unwrap();
            (e["step"].as_str().unwrap().to_owned(), ended - e["took_ms"].as_u64().unwrap(), ended)
        })
        .collect();
    eprintln!("DRILL simulated rollback turns {simulated:?}, real undos (step, began, ended) {real_undos:?}");
    // warm ran after front: undone before it. api is a branch of its own: undone beside them.
    assert_eq!(simulated, [vec!["warm".to_owned(), "api".to_owned()], vec!["front".to_owned()]]);
    let undo = |step: &str| real_undos.iter().find(|u| u.0 == step).cloned().unwrap_or_else(|| panic!("{step} undone"));
    let (warm_undo, api_undo, front_undo) = (undo("warm"), undo("api"), undo("front"));
    assert!(front_undo.1 >= warm_undo.2, "front's undo began after warm's ended: {real_undos:?}");
    assert!(api_undo.1 < warm_undo.2 + 500, "api's undo began with warm's, not after front's: {real_undos:?}");
    assert!(api_undo.1 < front_undo.2, "api and front were undone at once: {real_undos:?}");
    front.assert_converged(V1, 2);
    api.assert_converged(V1, 2);

    for (what, (simulated, real)) in results {
        let off = (simulated - real).abs() / real;
        assert!(off <= 0.20, "{what}: simulated {simulated:.1}s is {:.0}% off the real {real:.1}s", off * 100.0);
    }
}

/// Copies `from` into `to`, directories included.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `text` with every `-` and 16 hex digits (a rendered config's content hash, which covers the
/// unique service names) as `-<hash>`.
fn without_hashes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hex = |j: usize| bytes.get(j).is_some_and(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let ends = |j: usize| bytes.get(j).is_none_or(|b| !b.is_ascii_alphanumeric());
        if bytes[i] == b'-' && (1..=16).all(|k| hex(i + k)) && ends(i + 17) {
            out.push_str("-<hash>");
            i += 17;
        } else {
            let c = text[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The output with what differs between runs taken out: the unique prefix of the services, the
/// content hashes that cover it, and when the swarm was read.
fn normalized(text: &str, prefix: &str) -> String {
    let text = without_hashes(&text.replace(prefix, ""));
    text.lines()
        .map(|line| {
            for marker in ["read from the swarm at ", "\"read_at\": \""] {
                if let Some(at) = line.find(marker) {
                    let start = at + marker.len();
                    let end =
                        line[start..].find(|c: char| c == '"' || c.is_whitespace()).map_or(line.len(), |e| start + e);
                    return format!("{}<read-at>{}", &line[..start], &line[end..]);
                }
            }
            line.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_example_against_a_prepared_live_swarm_in_every_format() {
    let prefix = format!("{}_", unique("ex").replace('-', "_"));
    let work = Workdir::new("examples-live");
    copy_dir(&support::repo().join("examples"), &work.dir.join("examples"));
    // Each example with the services it names (all at v1, two replicas) and what else it needs.
    let examples: &[(&str, &[&str])] = &[
        ("quickstart.kdl", &["quickstart_web"]),
        ("rolling.kdl", &["shop_api"]),
        ("canary.kdl", &["shop_checkout"]),
        ("blue-green.kdl", &["shop_storefront_blue", "shop_storefront_green"]),
        ("migrations.kdl", &["billing_invoices"]),
        (
            "prodstack/plan.kdl",
            &["prodstack_backend", "prodstack_worker", "prodstack_frontend_blue", "prodstack_frontend_green"],
        ),
    ];
    let mut services = Vec::new();
    let mut routers = Vec::new();
    for (example, names) in examples {
        let path = work.dir.join("examples").join(example);
        let mut text = std::fs::read_to_string(&path).unwrap();
        for name in *names {
            text = text.replace(name, &format!("{prefix}{name}"));
            // The idle colour starts with no tasks; the live one carries the alias.
            match *name {
                "shop_storefront_blue" => {
                    let blue = Service::create(&format!("{prefix}{name}"), V1, 2);
                    let alias = format!("name={NETWORK},alias={prefix}storefront");
                    docker(&[
                        "service",
                        "update",
                        "--quiet",
                        "--detach=false",
                        "--network-rm",
                        NETWORK,
                        "--network-add",
                        &alias,
                        &blue.name,
                    ]);
                    services.push(blue);
                }
                "shop_storefront_green" | "prodstack_frontend_green" => {
                    services.push(Service::create(&format!("{prefix}{name}"), V1, 0))
                }
                _ => services.push(Service::create(&format!("{prefix}{name}"), V1, 2)),
            }
        }
        if *example == "blue-green.kdl" {
            text = text.replace(
                "network=shop_public alias=storefront",
                &format!("network={NETWORK} alias={prefix}storefront"),
            );
        }
        if *example == "prodstack/plan.kdl" {
            text = text.replace("prodstack_nginx", &format!("{prefix}prodstack_nginx"));
            routers
                .push(Router::create(&format!("{prefix}prodstack_nginx"), &format!("{prefix}prodstack_frontend_blue")));
        }
        std::fs::write(&path, text).unwrap();
    }
    let versions: Vec<u64> = services.iter().map(Service::version).collect();
    for (example, _) in examples {
        for format in ["human", "markdown", "json"] {
            let out = planrun()
                .current_dir(&work.dir)
                .args(["plan", &format!("examples/{example}"), "--format", format])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{example} {format}: {stderr}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("live") && !stdout.contains("offline ("), "{example} {format} was planned live");
            if format == "json" {
                // Live, what runs now is known: no field's before is unknown, and a blue-green
                // switch names the colour traffic leaves and the one it moves to.
                let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                for step in report["steps"].as_array().unwrap() {
                    for change in step["changes"].as_array().unwrap() {
                        for field in change["fields"].as_array().unwrap() {
                            assert_eq!(field["before_unknown"], false, "{example}: {field}");
                        }
                    }
                    if step["kind"] == "blue-green" {
                        let blue = format!(
                            "{prefix}{}",
                            if *example == "blue-green.kdl" {
                                "shop_storefront_blue"
                            } else {
                                "prodstack_frontend_blue"
                            }
                        );
                        assert_eq!(step["switch"]["from"], blue.as_str(), "{example}: {step}");
                        assert_eq!(step["switch"]["to"], blue.replace("_blue", "_green").as_str(), "{example}: {step}");
                    }
                }
            }
            let name = example.trim_end_matches(".kdl").replace('/', "-");
            insta::assert_snapshot!(format!("live-{name}-{format}"), normalized(&stdout, &prefix));
        }
    }
    assert_eq!(services.iter().map(Service::version).collect::<Vec<_>>(), versions, "planning moved a version index");
    drop(routers);
}
