//! Stopping `planrun apply` the ways people and CI runners do: Ctrl-C during a gate (the undo
//! starts within a second), a second Ctrl-C during the rollback (stops at once, keeps the lock,
//! prints the command that finishes it), SIGTERM, SIGKILL; and answering a run that waits for
//! approval from another process (`planrun promote` / `planrun abort`).

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Background, LockGuard, Service, Workdir, lock_exists, rolling_plan, run, run_printed, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

/// A plan: one rolling step of `service` to v2 with `gates`, and `extra` (steps or gates).
fn plan(stack: &str, service: &str, gates: &str, extra: &str) -> String {
    rolling_plan(stack, &[("web", service, V2, gates)], false, "").replace("}\n}\n", &format!("}}\n{extra}}}\n"))
}

#[test]
fn ctrl_c_during_a_gate_starts_the_undo_within_a_second() {
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("ctrlc");
    let gate =
        format!("    gate slow {{\n        swarm {}\n        interval \"1s\"\n        count 60\n    }}\n", web.name);
    let mut apply = Background::apply(&work, &work.plan(&plan(&stack, &web.name, "        gates slow\n", &gate)), &[]);
    apply.wait_for("measurement", "web");

    apply.signal("INT");
    let sent = Instant::now();
    apply.wait_for("rollback-started", "");
    let undo_started_after = sent.elapsed();
    let run = apply.finish();

    eprintln!("Ctrl-C during a gate: rollback started {undo_started_after:.3?} after the signal");
    assert!(undo_started_after < Duration::from_secs(1), "{undo_started_after:?}");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    let web_finished = run.events_of("step-finished");
    assert_eq!(web_finished[0]["outcome"], "cancelled", "{web_finished:?}");
    assert_eq!(run.events_of("interrupted").len(), 1);
    assert!(!lock_exists(&stack), "the lock is released");
    assert_eq!(web.spec(), before);
    web.assert_converged(V1, 2);
}

#[test]
fn sigterm_during_an_update_stops_it_and_rolls_back() {
    let web = Service::create(&unique("web"), V1, 3);
    let before = web.spec();
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("sigterm");
    let mut apply =
        Background::apply(&work, &work.plan(&plan(&stack, &web.name, "", "    pause hold \"60s\" after=web\n")), &[]);
    apply.wait_for("step-progress", "web");

    apply.signal("TERM");
    let run = apply.finish();

    assert_eq!(run.code, 1, "{}", run.stderr);
    let kinds: Vec<(String, String)> = run
        .events
        .iter()
        .map(|e| (e["event"].as_str().unwrap_or("").into(), e["step"].as_str().unwrap_or("").into()))
        .collect();
    assert!(!kinds.contains(&("step-started".into(), "hold".into())), "no new step started: {kinds:?}");
    assert!(kinds.contains(&("step-undone".into(), "web".into())), "{kinds:?}");
    assert!(run.stderr.contains("cause: interrupted (Ctrl-C or SIGTERM)"), "{}", run.stderr);
    assert!(!lock_exists(&stack));
    assert_eq!(web.spec(), before);
    web.assert_converged(V1, 3);
}

#[test]
fn a_second_ctrl_c_stops_the_rollback_keeps_the_lock_and_prints_how_to_finish() {
    let web = Service::create(&unique("web"), V1, 3);
    let before = web.spec();
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("twice");
    let mut apply =
        Background::apply(&work, &work.plan(&plan(&stack, &web.name, "", "    pause hold \"60s\" after=web\n")), &[]);
    apply.wait_for("step-started", "hold");

    apply.signal("INT");
    apply.wait_for("step-progress", "web"); // the undo of web is under way
    apply.signal("INT");
    let run = apply.finish();

    assert_eq!(run.code, 130, "{}", run.stderr);
    assert_eq!(run.outcome(), "stopped");
    assert!(lock_exists(&stack), "the lock is kept: the stack is half undone");
    assert!(run.stderr.contains(&format!("The deploy lock on `{stack}` is kept")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("  web: {} back to {V1}", web.name)), "{}", run.stderr);

    let finished = run_printed(&run.stderr, "To finish the rollback");
    assert_eq!(finished.code, 0, "the printed command finishes the rollback: {}", finished.stderr);
    assert!(!lock_exists(&stack), "the rollback took the lock over and released it");
    assert_eq!(web.spec(), before);
    web.assert_converged(V1, 3);
}

#[test]
fn a_run_whose_lock_is_removed_stops_changing_things_at_its_next_beat() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("fenced");
    let plan = work.plan(&plan(&stack, &web.name, "", "    pause hold \"120s\" after=web\n"));
    let mut apply = Background::apply(&work, &plan, &[]);
    apply.wait_for("step-started", "hold");
    // The run is alive and beating: a person removes its lock anyway, and a second run (here
    // its lock alone) takes the stack.
    let status = support::planrun().args(["status", &stack, "--output", "json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let run_id = status["lock"]["run_id"].as_str().expect("the run holds the lock").to_owned();
    let removed = run(&["unlock", &stack, "--force", &run_id]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let removed_at = Instant::now();
    let second = std::process::Command::new("docker")
        .args(["config", "create", "--label", "planrun.lock.run-id=r-second", &format!("planrun-lock-{stack}"), "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("piped stdin").write_all(b"{}")?;
            c.wait()
        })
        .unwrap();
    assert!(second.success());

    let run = apply.finish();
    let stopped_after = removed_at.elapsed();
    eprintln!("a run whose lock was removed stopped {stopped_after:.1?} after the removal");
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert_eq!(run.outcome(), "stopped");
    assert!(stopped_after < Duration::from_secs(20), "stopped within a beat (10 s): {stopped_after:?}");
    assert!(run.stderr.contains(&format!("this run lost the deploy lock of `{stack}`")), "{}", run.stderr);
    // A beat between the removal and the second lock finds it removed; a later one, taken.
    assert!(
        run.stderr.contains("its lock is held by") || run.stderr.contains("its lock was removed"),
        "it says why: {}",
        run.stderr
    );
    assert!(run.stderr.contains("it stopped at once and undid nothing"), "{}", run.stderr);
    assert!(run.stderr.contains("the stack is someone else's now"), "{}", run.stderr);
    assert!(run.events_of("rollback-started").is_empty(), "nothing undone under another run's lock");
    web.assert_converged(V2, 1);
    assert!(lock_exists(&stack), "the second run's lock is left alone");
}

#[test]
fn a_killed_apply_leaves_its_lock_and_unlock_force_clears_it() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("killed");
    let plan = work.plan(&plan(&stack, &web.name, "", "    pause hold \"60s\" after=web\n"));
    let mut apply = Background::apply(&work, &plan, &[]);
    apply.wait_for("step-started", "hold");

    apply.signal("KILL");
    let killed = apply.finish();
    let run_id = killed.events_of("run-started")[0]["run_id"].as_str().expect("a run id").to_owned();

    assert!(lock_exists(&stack), "SIGKILL leaves the lock behind");
    let refused = work.apply(&plan, &[]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("is locked by"));
    assert!(refused.stderr.contains(&format!("planrun unlock {stack} --force {run_id}")), "{}", refused.stderr);
    let forced = run(&["unlock", &stack, "--force", &run_id]);
    assert_eq!(forced.code, 0);
    assert!(!lock_exists(&stack));
}

#[test]
fn the_lock_names_the_user_even_without_user_in_the_environment() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("holder");
    let plan = work.plan(&plan(&stack, &web.name, "", "    pause hold \"60s\" after=web\n"));
    let state = work.dir.join("state");
    let mut child = support::planrun()
        .args(["apply", plan.to_str().unwrap(), "--output", "json", "--state-dir", state.to_str().unwrap()])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lock_exists(&stack) {
        assert!(Instant::now() < deadline, "no lock");
        std::thread::sleep(Duration::from_millis(100));
    }
    let holder = support::docker(&[
        "config",
        "inspect",
        "--format",
        "{{index .Spec.Labels \"planrun.lock.holder\"}}",
        &format!("planrun-lock-{stack}"),
    ]);
    let _ = child.kill();
    let _ = child.wait();
    let user = String::from_utf8_lossy(&std::process::Command::new("id").arg("-un").output().unwrap().stdout)
        .trim()
        .to_owned();
    assert!(holder.starts_with(&format!("{user}@")), "holder `{holder}` names the user `{user}`");
}

#[test]
fn paused_run_is_undone_later_by_the_printed_rollback_command() {
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let gate = "    gate down {\n        command \"sh\" \"-c\" \"exit 1\"\n    }\n";
    let text = rolling_plan(&stack, &[("web", &web.name, V2, "        gates down\n")], false, gate)
        .replace("on-failure rollback", "on-failure pause");
    let work = Workdir::new("paused");
    let plan = work.plan(&text);

    let paused = work.apply(&plan, &[]);

    assert_eq!(paused.code, 1);
    assert_eq!(paused.outcome(), "paused");
    assert_eq!(web.image(), V2, "pause leaves the new release in place");
    let state = work.dir.join("state");
    assert!(
        paused.stderr.contains(&format!("  planrun rollback {stack} --state-dir {}", state.display())),
        "{}",
        paused.stderr
    );

    let rolled = run_printed(&paused.stderr, "To undo what this run changed:");
    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert_eq!(web.spec(), before);
    web.assert_converged(V1, 2);

    let again = run(&["rollback", "--stack", &stack, "--state-dir", state.to_str().unwrap()]);
    assert_eq!(again.code, 0);
    assert!(again.stderr.contains("nothing to roll back"), "{}", again.stderr);
}

/// Runs a plan that waits for approval after deploying, answers it with `answer` from another
/// process, and returns the run.
fn answered(answer: &str) -> (Service, serde_json::Value, support::Run) {
    let web = Service::create(&unique("web"), V1, 2);
    let before = web.spec();
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new(answer);
    let text = plan(&stack, &web.name, "", "    pause sign-off manual after=web\n");
    let mut apply = Background::apply(&work, &work.plan(&text), &[]);
    let waiting = apply.wait_for("awaiting-approval", "sign-off");

    let answered = run(&[answer, &stack]);
    assert_eq!(answered.code, 0, "{}", answered.stderr);
    let again = run(&[answer, &stack]);
    assert_eq!(again.code, 1, "a second answer is refused: {}", again.stderr);

    let run = apply.finish();
    assert!(!lock_exists(&stack));
    let _ = before;
    (web, waiting, run)
}

#[test]
fn planrun_promote_from_another_process_lets_a_waiting_run_go_on() {
    let (web, waiting, run) = answered("promote");
    assert!(waiting["how"].as_str().unwrap().contains("planrun promote"), "{waiting}");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.events_of("answered")[0]["approved"], true);
    assert_eq!(web.image(), V2);
}

#[test]
fn planrun_abort_from_another_process_rolls_a_waiting_run_back() {
    let (web, _, run) = answered("abort");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.outcome(), "rolled-back");
    assert!(run.stderr.contains("step `sign-off` failed: not approved ("), "{}", run.stderr);
    assert_eq!(web.image(), V1);
    web.assert_converged(V1, 2);
}

/// A run of a rolling step on `api` and then a canary of `web`, killed (SIGKILL, as a CI
/// runner dies) while the canary takes its first share; the canary keeps serving with nobody
/// judging it. Returns the killed run's id.
fn killed_mid_canary(work: &Workdir, stack: &str, api: &Service, web: &Service) -> String {
    let canary = format!("{}-canary", web.name);
    let text = rolling_plan(stack, &[("api", &api.name, V2, "")], false, "").replace(
        "}\n}\n",
        &format!(
            "}}\n    canary web {{\n        service {}\n        image \"{V2}\"\n        after api\n        \
             stage replicas=1 {{ pause \"60s\"; }}\n        deadline \"2m\"\n    }}\n}}\n",
            web.name
        ),
    );
    let plan = work.plan(&text);
    let mut apply = Background::apply(work, &plan, &[]);
    apply.wait_for("step-started", "web");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !support::docker(&["service", "ls", "--filter", &format!("name={canary}"), "--format", "{{.Replicas}}"])
        .contains("1/1")
    {
        assert!(Instant::now() < deadline, "the canary never ran");
        std::thread::sleep(Duration::from_millis(300));
    }
    apply.signal("KILL");
    let killed = apply.finish();
    std::fs::remove_dir_all(work.dir.join("state")).unwrap();
    killed.events_of("run-started")[0]["run_id"].as_str().expect("a run id").to_owned()
}

fn service_exists(name: &str) -> bool {
    std::process::Command::new("docker").args(["service", "inspect", name]).output().unwrap().status.success()
}

/// `planrun rollback` on another machine (an empty state directory) undoes both steps of a
/// killed run from what the swarm keeps, takes the dead run's lock over, and the next `apply`
/// goes on.
#[test]
fn a_killed_run_is_undone_from_another_machine_with_an_empty_state_dir() {
    let api = Service::create(&unique("api"), V1, 1);
    let web = Service::create(&unique("web"), V1, 2);
    let (api_before, web_before) = (api.spec(), web.spec());
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("killedcanary");
    killed_mid_canary(&work, &stack, &api, &web);
    let elsewhere = Workdir::new("elsewhere");
    let empty = elsewhere.dir.join("state");

    let rolled = run(&["rollback", "--stack", &stack, "--state-dir", empty.to_str().unwrap()]);

    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert!(!service_exists(&format!("{}-canary", web.name)), "the canary is removed");
    assert_eq!(web.spec(), web_before, "the stable service was never touched");
    assert_eq!(api.spec(), api_before, "the rolling step is undone exactly");
    api.assert_converged(V1, 1);
    assert!(!lock_exists(&stack), "the dead run's lock was taken over and released");
    let next = elsewhere.plan(&rolling_plan(&stack, &[("api", &api.name, V2, "")], false, ""));
    let applied = elsewhere.apply(&next, &[]);
    assert_eq!(applied.code, 0, "the next apply is not refused: {}", applied.stderr);
    api.assert_converged(V2, 1);
}

/// `planrun repair` finds what the killed run left (its changes, its lock, a job service of
/// it) and finishes it; `--dry-run` only says so.
#[test]
fn repair_finishes_what_a_killed_run_left() {
    let api = Service::create(&unique("api"), V1, 1);
    let web = Service::create(&unique("web"), V1, 2);
    let (api_before, web_before) = (api.spec(), web.spec());
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("repair");
    let run_id = killed_mid_canary(&work, &stack, &api, &web);
    let canary = format!("{}-canary", web.name);
    // A one-off job the dead run had started (a backup job, say).
    let job = Service::create_with(
        &unique("job"),
        V1,
        1,
        &["--label", "planrun.job=dump", "--label", &format!("planrun.job.run-id={run_id}")],
    );
    let elsewhere = Workdir::new("elsewhere");
    let empty = elsewhere.dir.join("state");
    let refused =
        elsewhere.apply(&elsewhere.plan(&rolling_plan(&stack, &[("api", &api.name, V2, "")], false, "")), &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("planrun repair {stack}")), "{}", refused.stderr);

    let dry = run(&["repair", &stack, "--dry-run", "--state-dir", empty.to_str().unwrap()]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stderr.contains(&format!("run {run_id} died (no end recorded) with changes in place")),
        "{}",
        dry.stderr
    );
    assert!(dry.stderr.contains("would undo them"), "{}", dry.stderr);
    assert!(service_exists(&canary) && lock_exists(&stack), "a dry run changes nothing");

    let repaired = run(&["repair", &stack, "--state-dir", empty.to_str().unwrap()]);

    assert_eq!(repaired.code, 0, "{}", repaired.stderr);
    assert!(
        // The undo of the dead run removes its jobs (as `planrun rollback` of it would).
        repaired
            .stderr
            .contains(&format!("removed job service {} of run {run_id}, left when that run ended", job.name)),
        "{}",
        repaired.stderr
    );
    assert!(!service_exists(&canary), "the canary is removed");
    assert!(!service_exists(&job.name), "the job service is removed");
    assert_eq!(web.spec(), web_before);
    assert_eq!(api.spec(), api_before);
    assert!(!lock_exists(&stack));
    let again = run(&["repair", &stack, "--state-dir", empty.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("nothing left by a dead or stopped run"), "{}", again.stderr);
}

/// `planrun repair` on a stack whose run is alive refuses, naming the run, and changes nothing.
#[test]
fn repair_refuses_a_stack_whose_run_is_alive() {
    let web = Service::create(&unique("web"), V1, 1);
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("repairbusy");
    let plan = work.plan(&plan(&stack, &web.name, "", "    pause hold \"60s\" after=web\n"));
    let mut apply = Background::apply(&work, &plan, &[]);
    let started = apply.wait_for("run-started", "");
    let run_id = started["run_id"].as_str().expect("a run id").to_owned();
    apply.wait_for("step-started", "hold");

    let refused = run(&["repair", &stack]);

    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("run {run_id}")), "{}", refused.stderr);
    assert!(refused.stderr.contains("which is alive: nothing to repair while it runs"), "{}", refused.stderr);
    assert_eq!(web.image(), V2, "the live run's release is left as it is");
    apply.signal("KILL");
    apply.finish();
    let forced = run(&["unlock", &stack, "--force", &run_id]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
}

/// A run killed (SIGKILL) inside a `run` step, then one killed inside a `check` step, each
/// after a rolling step: `planrun rollback` from another machine (an empty state directory)
/// runs the `run` step's undo command and puts the service back on its exact previous spec.
/// The killed run's own command, and the check's, die with it (within a second): they never run
/// on behind the rollback's back.
#[test]
fn a_run_killed_inside_a_run_or_a_check_step_is_undone_from_another_machine() {
    let web = Service::create(&unique("web"), V1, 1);
    let before = web.spec();
    let stack = unique("stack");
    let _guard = LockGuard(stack.clone());
    let work = Workdir::new("killedrun");
    let said = work.dir.join("said");
    let said_text = || std::fs::read_to_string(&said).unwrap_or_default();
    let steps = |command: &str, check: &str| {
        let (command, check) =
            (command.replace("SAID", &said.to_string_lossy()), check.replace("SAID", &said.to_string_lossy()));
        let said = said.display();
        format!(
            "    gate slow {{\n        command \"sh\" \"-c\" \"{check}\" timeout=\"60s\"\n        count 1\n    }}\n    \
             run hook after=web {{\n        command \"sh\" \"-c\" \"echo started >> {said}; {command}\"\n        \
             undo \"sh\" \"-c\" \"echo undone >> {said}\"\n        timeout \"2m\"\n    }}\n    \
             check final after=hook {{ gates slow; }}\n"
        )
    };
    // A process's state and process group, from /proc/PID/stat: `pid (comm) state ppid pgrp ...`.
    let stat_of = |process: &std::path::Path| {
        let stat = std::fs::read_to_string(process.join("stat")).ok()?;
        let fields: Vec<String> = stat.rsplit_once(')')?.1.split_whitespace().map(str::to_owned).collect();
        Some((fields.first()?.clone(), fields.get(2)?.clone()))
    };
    let live = |process: &std::path::Path| stat_of(process).filter(|(state, _)| state != "Z");
    // The process groups of the killed run's commands (each names `said` in its command line).
    let command_groups = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|p| {
                String::from_utf8_lossy(&std::fs::read(p.path().join("cmdline")).unwrap_or_default())
                    .contains(&*said.to_string_lossy())
            })
            .filter_map(|p| live(&p.path()).map(|(_, group)| group))
            .collect()
    };
    let in_groups = |groups: &std::collections::BTreeSet<String>| {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|p| live(&p.path()).is_some_and(|(_, g)| groups.contains(&g)))
            .count()
    };
    let elsewhere = Workdir::new("elsewhere");
    for (inside, plan) in [
        ("run", work.plan(&plan(&stack, &web.name, "", &steps("sleep 20; echo finished >> SAID", "true")))),
        ("check", work.plan(&plan(&stack, &web.name, "", &steps("true", "sleep 20; echo checked >> SAID")))),
    ] {
        std::fs::write(&said, "").unwrap();
        let mut apply = Background::apply(&work, &plan, &[]);
        let step = if inside == "run" { "hook" } else { "final" };
        apply.wait_for("step-started", step);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !said_text().contains("started") {
            assert!(Instant::now() < deadline, "the run step's command never started");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        let groups = command_groups();
        // The command's watch, its sh and the sleep.
        assert_eq!(in_groups(&groups), 3, "killed inside `{inside}`: the command runs ({groups:?})");
        apply.signal("KILL");
        let _ = apply.finish();
        let killed = Instant::now();
        while in_groups(&groups) > 0 {
            assert!(
                killed.elapsed() < Duration::from_secs(3),
                "killed inside `{inside}`: its command outlived planrun"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_ne!(web.spec(), before, "killed inside `{inside}` after the rolling step changed the service");
        let empty = elsewhere.dir.join(format!("state-{inside}"));

        let rolled = run(&["rollback", &stack, "--state-dir", empty.to_str().unwrap()]);

        assert_eq!(rolled.code, 0, "killed inside `{inside}`: {}", rolled.stderr);
        assert!(said_text().contains("undone"), "killed inside `{inside}`: the undo command ran: {:?}", said_text());
        assert_eq!(web.spec(), before, "killed inside `{inside}`: the exact previous spec");
        web.assert_converged(V1, 1);
        assert!(!lock_exists(&stack), "killed inside `{inside}`: the lock is released");
    }
}
