//! `planrun plan` without a swarm (`--offline`): every example in the three formats, as
//! snapshots, the exit codes review tools rely on, the markdown size bound, and the JSON
//! schema; that each step's rollback row is its drill, the worst case never under the best,
//! no simulator wording in any format, and that the markdown renders on GitHub (through comrak,
//! a GFM renderer). The live swarm side is in tests/plan.rs (the end-to-end crate).
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test -p planrun-engine --test plan`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn planrun() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planrun"));
    cmd.current_dir(root()).env("COLUMNS", "100").env("NO_COLOR", "1").env_remove("VERSION").env_remove("CI");
    // Offline means offline even when a daemon is there: no DOCKER_HOST is needed.
    cmd
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = planrun().args(args).output().expect("planrun runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const EXAMPLES: &[&str] = &[
    "examples/quickstart.kdl",
    "examples/rolling.kdl",
    "examples/canary.kdl",
    "examples/blue-green.kdl",
    "examples/migrations.kdl",
    "examples/prodstack/plan.kdl",
    "examples/compose.kdl",
];

/// Every plan under examples/, in its subdirectories too.
fn every_example() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "kdl") {
                out.push(path.strip_prefix(root()).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("examples"), &mut out);
    out.sort();
    out
}

#[test]
fn the_snapshot_list_is_every_example() {
    let mut listed: Vec<String> = EXAMPLES.iter().map(|e| e.to_string()).collect();
    listed.sort();
    assert_eq!(listed, every_example());
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn steps_of(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["steps"].as_array().unwrap().clone()
}

/// The rollback table is not computed apart from the drill: for every step of every example,
/// what its row says is what `--fail STEP` does.
#[test]
fn each_steps_rollback_row_is_its_drill_in_every_example() {
    for example in every_example() {
        let report = json_of(&["plan", &example, "--offline", "--format", "json"]);
        for step in steps_of(&report) {
            let name = step["step"].as_str().unwrap();
            let row = &step["on_failure"];
            if row["outcome"].is_null() {
                let (code, _, stderr) = run(&["plan", &example, "--offline", "--fail", name]);
                assert_eq!(code, 2, "{example}: `{name}` has no drill, so --fail refuses it: {stderr}");
                assert!(stderr.contains(row["not_drilled"].as_str().unwrap()), "{stderr}");
                continue;
            }
            let drilled = json_of(&["plan", &example, "--offline", "--format", "json", "--fail", name]);
            let drill = &drilled["drill"];
            assert_eq!(row["undone"], drill["rollback_order"], "{example}: `{name}` fails");
            assert_eq!(row["outcome"], drill["outcome"], "{example}: `{name}` fails");
            for stopped in row["stopped"].as_array().unwrap() {
                let line = format!("`{}` cancelled", stopped.as_str().unwrap());
                assert!(drill["story"].to_string().contains(&line), "{example}: `{name}`: {line}");
            }
        }
    }
}

#[test]
fn the_worst_case_is_never_shorter_than_the_best_in_every_example() {
    for example in every_example() {
        let report = json_of(&["plan", &example, "--offline", "--format", "json"]);
        let t = &report["timeline"];
        assert!(t["best_ms"].as_u64() <= t["worst_ms"].as_u64(), "{example}: {t}");
    }
    let (_, human, _) = run(&["plan", "examples/migrations.kdl", "--offline"]);
    assert!(human.contains("best case: 18.9s") && human.contains("worst case: 18.9s"), "{human}");
}

/// Words of the simulator's stand-ins (the fake swarm, scripted gates, the fake database, the
/// offline stand-in state) that must never reach a review.
const SIMULATOR_WORDS: &[&str] = &[
    "scripted",
    "fake",
    "XX000",
    "SQLSTATE",
    "planrun-offline",
    "(live image)",
    "r-plan",
    "simulation said",
    "run rolled-back",
    "run paused",
    "run rollback-failed",
];

#[test]
fn no_simulator_wording_in_any_format_or_drill_of_any_example() {
    for example in every_example() {
        let report = json_of(&["plan", &example, "--offline", "--format", "json"]);
        let mut runs: Vec<Vec<String>> = Vec::new();
        for format in ["human", "markdown", "json"] {
            runs.push(vec![format.to_owned()]);
            for step in steps_of(&report) {
                if step["on_failure"]["outcome"].is_string() {
                    runs.push(vec![format.to_owned(), "--fail".into(), step["step"].as_str().unwrap().to_owned()]);
                }
            }
        }
        for extra in runs {
            let mut args = vec!["plan", &example, "--offline", "--format"];
            args.extend(extra.iter().map(String::as_str));
            let (code, stdout, stderr) = run(&args);
            assert_eq!(code, 0, "{args:?}: {stderr}");
            for word in SIMULATOR_WORDS {
                assert!(!stdout.contains(word), "{args:?} says `{word}`:\n{stdout}");
            }
        }
    }
}

#[test]
fn offline_json_invents_no_before_value() {
    for example in every_example() {
        let report = json_of(&["plan", &example, "--offline", "--format", "json"]);
        assert_eq!(report["live"]["mode"], "offline");
        for step in steps_of(&report) {
            for change in step["changes"].as_array().unwrap() {
                let action = change["action"].as_str().unwrap();
                assert!(["create", "update", "remove"].contains(&action), "{example}: {change}");
                for field in change["fields"].as_array().unwrap() {
                    assert!(field["before"].is_null(), "{example}: {field}");
                    assert_eq!(field["before_unknown"], true, "{example}: {field}");
                }
            }
        }
    }
}

#[test]
fn canary_stages_switches_the_environment_and_irreversible_steps_are_in_every_format() {
    let example = "examples/prodstack/plan.kdl";
    let json = json_of(&["plan", example, "--offline", "--format", "json"]);
    assert_eq!(json["environment"], "staging");
    let steps = steps_of(&json);
    let step = |n: &str| steps.iter().find(|s| s["step"] == n).unwrap().clone();
    assert_eq!(step("worker")["canary"]["stages"][0]["share"], "1 replica");
    assert_eq!(step("worker")["canary"]["stages"][1]["pause"], "manual");
    assert_eq!(step("frontend")["switch"]["from"], serde_json::Value::Null, "offline: the live colour is unknown");
    assert_eq!(step("frontend")["switch"]["keep_old"], "10m");
    assert_eq!(json["irreversible"][0]["step"], "contract");
    let (_, human, _) = run(&["plan", example, "--offline"]);
    let (_, markdown, _) = run(&["plan", example, "--offline", "--format", "markdown"]);
    for text in [&human, &markdown] {
        assert!(text.contains("environment `staging` of planrun.toml"), "{text}");
        assert!(text.contains("stage 2: canary `prodstack_worker-canary` takes 50% until a person approves, gates canary-answers, worker-errors judging it all the while"), "{text}");
        assert!(
            text.contains(
                "traffic moves from the live colour (unknown) to the other one by nginx router `prodstack_nginx`"
            ),
            "{text}"
        );
        assert!(text.contains("the old colour keeps running 10m after the switch"), "{text}");
        assert!(
            text.contains(
                "migrations/contract.sql has no down file: a rollback stops here and leaves it applied; restore needed"
            ),
            "{text}"
        );
    }
    assert!(markdown.contains("> [!WARNING]\n> A rollback cannot undo these steps:"), "{markdown}");
}

/// The markdown as GitHub renders it: CommonMark with GFM's tables, strikethrough, autolinks,
/// task lists, alerts and its HTML tag filter, raw HTML kept (`<details>`).
fn github_html(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.tagfilter = true;
    options.extension.alerts = true;
    options.render.unsafe_ = true;
    comrak::markdown_to_html(markdown, &options)
}

/// The HTML without what is inside `<pre>` and `<code>` elements.
fn outside_code(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    loop {
        let next = ["<pre", "<code"].iter().filter_map(|t| rest.find(t).map(|at| (at, *t))).min();
        let Some((at, tag)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let close = if tag == "<pre" { "</pre>" } else { "</code>" };
        let end = rest[at..].find(close).map_or(rest.len(), |e| at + e + close.len());
        rest = &rest[end..];
    }
}

fn box_drawing(c: char) -> bool {
    ('\u{2500}'..='\u{259F}').contains(&c)
}

#[test]
fn the_markdown_of_every_example_and_drill_renders_on_github() {
    for example in every_example() {
        let report = json_of(&["plan", &example, "--offline", "--format", "json"]);
        let mut cases: Vec<Vec<String>> = vec![vec![]];
        for step in steps_of(&report) {
            if step["on_failure"]["outcome"].is_string() {
                cases.push(vec!["--fail".into(), step["step"].as_str().unwrap().to_owned()]);
            }
        }
        for extra in cases {
            let mut args = vec!["plan", &example, "--offline", "--format", "markdown"];
            args.extend(extra.iter().map(String::as_str));
            let (code, markdown, stderr) = run(&args);
            assert_eq!(code, 0, "{args:?}: {stderr}");
            assert!(markdown.chars().count() < 65_535, "{args:?}: {} characters", markdown.chars().count());
            let html = github_html(&markdown);
            let stray: String = outside_code(&html).chars().filter(|c| box_drawing(*c)).collect();
            assert!(stray.is_empty(), "{args:?}: `{stray}` outside code blocks:\n{html}");
            // The rollback table is a table, and the pictures are mermaid blocks GitHub draws.
            assert!(html.contains("<table>") && html.contains("<th>if it fails (its drill)</th>"), "{args:?}: {html}");
            assert!(html.contains("language-mermaid"), "{args:?}: {html}");
            assert_eq!(html.matches("<details>").count(), html.matches("</details>").count(), "{args:?}");
        }
    }
    // The warning of a migration without a down file renders as GitHub's alert.
    let (_, markdown, _) = run(&["plan", "examples/migrations.kdl", "--offline", "--format", "markdown"]);
    let html = github_html(&markdown);
    assert!(html.contains("markdown-alert-warning") && html.contains("contract.sql has no down file"), "{html}");
}

fn name(example: &str) -> String {
    example.trim_start_matches("examples/").trim_end_matches(".kdl").replace('/', "-")
}

#[test]
fn every_example_offline_in_every_format() {
    for example in EXAMPLES {
        for format in ["human", "markdown", "json"] {
            let (code, stdout, stderr) = run(&["plan", example, "--offline", "--format", format]);
            assert_eq!(code, 0, "{example} {format}: {stderr}");
            insta::assert_snapshot!(format!("{}-{format}", name(example)), stdout);
        }
    }
}

#[test]
fn every_example_offline_with_a_drill_of_its_last_gate_or_step() {
    for example in EXAMPLES {
        let (_, json, _) = run(&["plan", example, "--offline", "--format", "json"]);
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        // The step the worst case fails, or the first step with a gate.
        let target = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find_map(|s| s["gates"].as_array().and_then(|g| g.last()).and_then(|g| g.as_str()).map(str::to_owned))
            .unwrap_or_else(|| report["steps"][0]["step"].as_str().unwrap().to_owned());
        let (code, stdout, stderr) = run(&["plan", example, "--offline", "--fail", &target]);
        assert_eq!(code, 0, "{example} --fail {target}: {stderr}");
        insta::assert_snapshot!(format!("{}-drill", name(example)), stdout);
    }
}

#[test]
fn detailed_exitcode_is_two_with_changes_one_on_errors() {
    let (code, _, _) = run(&["plan", "examples/quickstart.kdl", "--offline", "--detailed-exitcode"]);
    assert_eq!(code, 2, "offline, the plan changes the service");
    let (code, _, stderr) =
        run(&["plan", "examples/quickstart.kdl", "--offline", "--detailed-exitcode", "--fail", "nope"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no step or gate `nope`") && stderr.contains("tasks-healthy"), "{stderr}");
    let (code, _, _) = run(&["plan", "examples/quickstart.kdl", "--offline", "--fail", "nope"]);
    assert_eq!(code, 2, "a usage error without --detailed-exitcode");
    let (code, _, stderr) =
        run(&["plan", "engine/tests/fixtures/duplicate-step.kdl", "--offline", "--detailed-exitcode"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, _, _) = run(&["plan", "no-such-plan.kdl", "--offline", "--detailed-exitcode"]);
    assert_eq!(code, 1, "an I/O error is an error: 1");
}

#[test]
fn a_timed_pause_cannot_be_failed_and_offline_plans_cannot_be_saved() {
    let (code, _, stderr) = run(&["plan", "examples/migrations.kdl", "--offline", "-o", "/tmp/never.plan"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("-o needs what is live"), "{stderr}");
    assert!(!Path::new("/tmp/never.plan").exists());
}

/// A plan with `n` rolling steps, each on its own service.
fn big_plan(n: usize) -> String {
    let mut text =
        String::from("plan big {\n    stack big\n    gate ok {\n        http \"http://big:8080/health\"\n    }\n");
    for i in 0..n {
        text.push_str(&format!(
            "    rolling web-{i} {{\n        service big_web_{i}\n        image \"registry.example.com/big/web-{i}:v2\"\n        gates ok\n    }}\n"
        ));
    }
    text.push_str("}\n");
    text
}

#[test]
fn markdown_of_a_huge_plan_stays_under_the_comment_limit_and_says_what_it_left_out() {
    let dir = std::env::temp_dir().join(format!("planrun-plan-md-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.kdl");
    std::fs::write(&path, big_plan(2000)).unwrap();
    let (code, stdout, stderr) = run(&["plan", path.to_str().unwrap(), "--offline", "--format", "markdown"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.chars().count() < 65_535, "{} characters", stdout.chars().count());
    assert!(stdout.contains("left out to keep this comment under GitHub's limit"), "says what it left out");
    assert!(stdout.contains("2000 to change"), "the summary counts everything");
    assert!(stdout.contains("2000 steps are more than a picture can show"), "no picture of 2000 steps");
    assert!(
        stdout.contains("not drilled: the plan has more than 64 steps; `planrun plan --fail web-0` drills it"),
        "the rollback table says how to drill a step of a plan too large to drill step by step"
    );
    let html = github_html(&stdout);
    assert!(outside_code(&html).chars().all(|c| !box_drawing(c)));
}

/// A plan on an unreachable swarm: planning offline is a choice, not what CI does quietly.
#[test]
fn an_unreachable_swarm_is_an_error_with_require_live_or_in_ci() {
    let dir = std::env::temp_dir().join(format!("planrun-plan-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.kdl");
    std::fs::write(
        &plan,
        "plan p {\n    stack p\n    rolling web {\n        service p_web\n        image \"app:v2\"\n    }\n}\n",
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let socket = format!("unix://{}/no-docker.sock", dir.display());
    let with = |args: &[&str], ci: Option<&str>| {
        let mut cmd = planrun();
        cmd.args(args).env("DOCKER_HOST", &socket);
        if let Some(ci) = ci {
            cmd.env("CI", ci);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = with(&["plan", plan, "--require-live"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "no plan of nothing: {stdout}");
    assert!(
        stderr.contains(
            "cannot plan: the swarm (DOCKER_HOST, or the local Docker socket) cannot be read: Docker cannot be reached"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--require-live, and a plan from the file alone would review nothing live"), "{stderr}");
    assert!(stderr.contains("Fix: make the swarm reachable from here"), "{stderr}");
    let (code, _, stderr) = with(&["plan", plan, "--detailed-exitcode"], Some("true"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("CI is set, so --require-live is the default"), "{stderr}");
    // Offline on purpose, or allowed: a plan from the file, which says so.
    for (args, ci) in [
        (vec!["plan", plan, "--offline"], Some("true")),
        (vec!["plan", plan, "--allow-offline"], Some("true")),
        (vec!["plan", plan], None),
    ] {
        let (code, stdout, stderr) = with(&args, ci);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains("offline ("), "{args:?}: {stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_report_has_every_field_the_schema_names_and_no_other() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("schema/plan-report.schema.json")).unwrap()).unwrap();
    let (_, json, _) =
        run(&["plan", "examples/prodstack/plan.kdl", "--offline", "--format", "json", "--fail", "contract"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut named: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let mut printed: Vec<&String> = report.as_object().unwrap().keys().collect();
    named.sort();
    printed.sort();
    assert_eq!(named, printed);
    assert_eq!(report["format"], "planrun-plan/2");
}

#[test]
fn plan_report_schema_is_fresh() {
    let path = root().join("schema/plan-report.schema.json");
    let fresh = serde_json::to_string_pretty(&schemars::schema_for!(engine::plan::report::PlanReport)).unwrap() + "\n";
    if std::env::var_os("PLANRUN_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/plan-report.schema.json is stale: run PLANRUN_UPDATE_SCHEMA=1 cargo test -p planrun-engine --test plan"
    );
}

#[test]
fn bad_calibration_runs_and_saved_plans_are_refused_with_what_to_do() {
    let dir = std::env::temp_dir().join(format!("planrun-plan-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let (code, _, stderr) = run(&[
        "plan",
        "examples/quickstart.kdl",
        "--offline",
        "--calibrate-from",
        "r-nope",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--calibrate-from r-nope: no journal of that run in"), "{stderr}");

    // A file that says it is a saved plan but is not one.
    let broken = dir.join("broken.plan");
    std::fs::write(&broken, "{\"format\": \"planrun-saved-plan/1\", \"text\": 3}").unwrap();
    let (code, _, stderr) = run(&["apply", broken.to_str().unwrap(), "--state-dir", state.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a saved plan planrun can read"), "{stderr}");

    // A saved plan keeps a hash of each --var: one it was not planned with is refused before
    // anything is read.
    let saved = dir.join("release.plan");
    let live = r#"{"read_at":"x","services":{},"missing":[],"networks":[],"configs":[],"lock":null,"waiting":null,"colours":{},"canaries":[]}"#;
    std::fs::write(
        &saved,
        format!(
            r#"{{"format":"planrun-saved-plan/1","file":"plan.kdl","dir":"{}","text":"plan p {{ stack s; }}","vars":[],"env":null,"live":{live}}}"#,
            dir.display()
        ),
    )
    .unwrap();
    let (code, _, stderr) =
        run(&["apply", saved.to_str().unwrap(), "--var", "image=x", "--state-dir", state.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--var image: the plan was reviewed without it; plan again to add it"), "{stderr}");
}

/// Reviewing a plan needs none of its gates' secrets: `validate`, `show` and `plan` run where
/// the token file does not exist and the variables are not set, and `show` names where each
/// secret is, never a value.
#[test]
fn a_plan_whose_gates_read_secrets_is_reviewed_without_them() {
    let dir = std::env::temp_dir().join(format!("planrun-plan-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.kdl");
    std::fs::write(
        &plan,
        r#"plan secrets {
    stack secrets
    gate api {
        http "https://api.example.com/health" {
            bearer-token-file "secrets/absent-token"
        }
    }
    gate latency {
        prometheus "http://prometheus:9090" {
            query "up"
            pass "result > 0"
            basic-auth user="monitor" password-env=PLANRUN_TEST_UNSET_PASSWORD
            header "X-Scope-OrgID" value-env=PLANRUN_TEST_UNSET_ORG
        }
    }
    rolling web {
        service secrets_web
        image "app:v2"
        gates api latency
    }
}
"#,
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let unset = |args: &[&str]| {
        let out = planrun()
            .args(args)
            .env_remove("PLANRUN_TEST_UNSET_PASSWORD")
            .env_remove("PLANRUN_TEST_UNSET_ORG")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = unset(&["validate", plan, "--deny-warnings"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, shown, stderr) = unset(&["show", plan, "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(shown.contains(r#""file": "secrets/absent-token""#), "{shown}");
    assert!(shown.contains(r#""env": "PLANRUN_TEST_UNSET_PASSWORD""#), "{shown}");
    for format in ["human", "json"] {
        let (code, out, stderr) = unset(&["plan", plan, "--offline", "--format", format]);
        assert_eq!(code, Some(0), "{format}: {stderr}");
        assert!(out.contains("api") && out.contains("latency"), "{format}: the gates are planned: {out}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `planrun plan` simulates gates that compare with a baseline like any other gate: no
/// Prometheus is asked, the review shows them judged, and a drill can fail them.
#[test]
fn a_plan_whose_gates_compare_with_a_baseline_is_simulated_without_prometheus() {
    let dir = std::env::temp_dir().join(format!("planrun-plan-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.kdl");
    std::fs::write(
        &plan,
        r##"plan baseline {
    stack baseline
    gate p95-no-worse {
        prometheus "http://prometheus.invalid:9090" {
            query #"histogram_quantile(0.95, sum by (le) (rate(latency_bucket{track="canary"}[1m])))"#
            baseline-query #"histogram_quantile(0.95, sum by (le) (rate(latency_bucket{track="stable"}[1m])))"#
            margin "10%"
            better lower
        }
        interval "30s"
        count 10
    }
    gate errors-no-worse {
        prometheus "http://prometheus.invalid:9090" {
            query "sum(rate(errors_total[1m]))"
            baseline before
            margin "5%"
            better lower
        }
        interval "30s"
        count 8
    }
    rolling web {
        service baseline_web
        image "app:v2"
        gates p95-no-worse errors-no-worse
    }
}
"##,
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let (code, out, stderr) = run(&["plan", plan, "--offline", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let text = report.to_string();
    assert!(text.contains("p95-no-worse") && text.contains("errors-no-worse"), "the gates are planned: {text}");
    let (code, human, stderr) = run(&["plan", plan, "--offline"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(human.contains("gates decide: errors-no-worse, p95-no-worse"), "{human}");
    let (code, drilled, stderr) = run(&["plan", plan, "--offline", "--fail", "p95-no-worse"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(drilled.contains("gate `p95-no-worse` failed (step `web`)"), "{drilled}");
    assert!(drilled.contains("the release ends rolled back"), "{drilled}");
    std::fs::remove_dir_all(&dir).unwrap();
}
