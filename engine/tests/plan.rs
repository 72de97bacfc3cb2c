//! `planrun plan` without a swarm (`--offline`): every example in the three formats, as
//! snapshots, the exit codes review tools rely on, the markdown size bound, and the JSON
//! schema. The live swarm side is in tests/plan.rs (the end-to-end crate).
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test -p planrun-engine --test plan`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn planrun() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planrun"));
    cmd.current_dir(root()).env("COLUMNS", "100").env("NO_COLOR", "1").env_remove("VERSION");
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
}

#[test]
fn json_report_has_every_field_the_schema_names_and_no_other() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("schema/plan-report.schema.json")).unwrap()).unwrap();
    let (_, json, _) =
        run(&["plan", "examples/prodstack/plan.kdl", "--offline", "--format", "json", "--fail", "contract"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let named: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let printed: Vec<&String> = report.as_object().unwrap().keys().collect();
    assert_eq!(named, printed);
    assert_eq!(report["format"], "planrun-plan/1");
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
    assert!(drilled.contains("run rolled-back"), "{drilled}");
    std::fs::remove_dir_all(&dir).unwrap();
}
