//! `planrun validate` as users see it: one fixture per diagnostic code in `tests/fixtures/`,
//! rendered at a fixed width without colour, and the exit codes.
//!
//! A fixture's first line may be `// args: ...`: extra arguments for `planrun validate`.
//! Update the snapshots with `INSTA_UPDATE=always cargo test -p planrun-engine --test cli`
//! (or `cargo insta review`), then read the `.snap` files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use plans::Code;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `planrun` in the fixtures directory, with a fixed width, no colour and an empty variable environment.
fn planrun() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planrun"));
    cmd.current_dir(fixtures())
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .env_remove("NO_GRAPHICS")
        .env_remove("PLANRUN_FIXTURE_REGISTRY");
    cmd
}

/// The extra arguments a fixture asks for on its first line.
fn fixture_args(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join(file)).unwrap_or_else(|e| panic!("fixture {file}: {e}"));
    match text.lines().next().and_then(|l| l.strip_prefix("// args:")) {
        Some(args) => args.split_whitespace().map(str::to_owned).collect(),
        None => Vec::new(),
    }
}

/// Runs `planrun ARGS` and describes the run for a snapshot: command, exit code, stdout, stderr.
fn run(args: &[&str]) -> (i32, String) {
    let output = planrun().args(args).output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    let mut out = format!("$ planrun {}\nexit: {code}\n", args.join(" "));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stdout.is_empty() {
        out.push_str("--- stdout\n");
        out.push_str(&stdout);
    }
    if !stderr.is_empty() {
        out.push_str("--- stderr\n");
        out.push_str(&stderr);
    }
    (code, out)
}

fn validate(file: &str, extra: &[&str]) -> (i32, String) {
    let own = fixture_args(file);
    let mut args = vec!["validate", file];
    args.extend(own.iter().map(String::as_str));
    args.extend(extra);
    run(&args)
}

#[test]
fn every_code_has_a_fixture() {
    let missing: Vec<String> =
        Code::ALL.iter().map(|c| format!("{}.kdl", c.name())).filter(|f| !fixtures().join(f).is_file()).collect();
    assert!(missing.is_empty(), "add a fixture to engine/tests/fixtures/ for: {}", missing.join(", "));
}

#[test]
fn every_fixture_produces_its_code() {
    for code in Code::ALL {
        let file = format!("{}.kdl", code.name());
        let (_, out) = validate(&file, &["--message-format", "json"]);
        let json_lines: Vec<serde_json::Value> =
            out.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
        let wanted = code.to_string();
        assert!(json_lines.iter().any(|d| d["code"] == wanted.as_str()), "{file} does not produce {wanted}:\n{out}");
        // A fixture produces nothing else: no follow-on warning from an error either.
        for d in &json_lines {
            assert_eq!(d["code"], wanted.as_str(), "{file} also produces {}:\n{out}", d["code"]);
        }
    }
}

#[test]
fn human_rendering_of_every_code() {
    for code in Code::ALL {
        let (_, out) = validate(&format!("{}.kdl", code.name()), &[]);
        insta::assert_snapshot!(format!("human__{}", code.name()), out);
    }
}

#[test]
fn json_rendering() {
    for name in ["unknown-gate", "cycle", "ungated-rollout", "syntax", "bad-input"] {
        let (_, out) = validate(&format!("{name}.kdl"), &["--message-format", "json"]);
        insta::assert_snapshot!(format!("json__{name}"), out);
    }
}

#[test]
fn github_rendering() {
    for name in ["unknown-gate", "cycle", "ungated-rollout", "missing-field"] {
        let (_, out) = validate(&format!("{name}.kdl"), &["--message-format", "github"]);
        insta::assert_snapshot!(format!("github__{name}"), out);
    }
}

#[test]
fn exit_codes() {
    planrun().args(["validate", "valid.kdl"]).assert().code(0);
    planrun().args(["validate", "ungated-rollout.kdl"]).assert().code(0);
    planrun().args(["validate", "ungated-rollout.kdl", "--deny-warnings"]).assert().code(1);
    planrun().args(["validate", "valid.kdl", "--deny-warnings"]).assert().code(0);
    planrun().args(["validate", "unknown-gate.kdl"]).assert().code(1);
    // The worst file decides.
    planrun().args(["validate", "valid.kdl", "unknown-gate.kdl", "ungated-rollout.kdl"]).assert().code(1);
    // Unreadable input and bad usage.
    planrun().args(["validate", "no-such-file.kdl"]).assert().code(2);
    planrun().args(["validate", "valid.kdl", "no-such-file.kdl"]).assert().code(2);
    planrun().args(["validate", "project.kdl", "--project", "project.toml"]).assert().code(2);
    planrun().args(["validate"]).assert().code(2);
    planrun().args(["validate", "valid.kdl", "--no-such-flag"]).assert().code(2);
    planrun().args(["validate", "valid.kdl", "--var", "no-equals-sign"]).assert().code(2);
    planrun().args(["validate", "valid.kdl", "--message-format", "xml"]).assert().code(2);
    planrun().args(["validate", "valid.kdl", "--env", "staging"]).assert().code(2);
}

#[test]
fn unreadable_file_says_why() {
    let (code, out) = run(&["validate", "no-such-file.kdl"]);
    assert_eq!(code, 2);
    assert!(out.contains("cannot read no-such-file.kdl"), "{out}");
}

#[test]
fn a_kdl_v1_construct_gets_its_kdl_2_spelling() {
    let (code, out) = validate("kdl-v1.kdl", &[]);
    assert_eq!(code, 1);
    assert!(out.contains("planrun::kdl-v1"), "{out}");
    assert!(out.contains("`true` is KDL 1 spelling; planrun reads KDL 2"), "{out}");
    assert!(out.contains("KDL 2 writes `#true`"), "the hint names the KDL 2 spelling:\n{out}");
    // One diagnostic, at the construct, not a cascade of syntax errors.
    assert_eq!(out.matches("planrun::").count(), 1, "{out}");
    assert!(out.contains("kdl-v1.kdl:5:16]"), "{out}");
}

#[test]
fn a_cycle_shows_the_whole_path_with_every_edge_labelled() {
    let (code, out) = validate("cycle.kdl", &[]);
    assert_eq!(code, 1);
    assert!(out.contains("dependency cycle: a -> b -> c -> a"), "{out}");
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a")] {
        assert!(out.contains(&format!("`{from}` waits for `{to}`")), "no label for {from} -> {to}:\n{out}");
    }
}

#[test]
fn the_examples_validate_cleanly() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for file in ["quickstart.kdl", "prodstack/plan.kdl"] {
        let output = planrun().current_dir(&examples).args(["validate", file, "--deny-warnings"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{file}:\n{stderr}");
        assert!(stderr.contains("valid (0 errors, 0 warnings)"), "{file}:\n{stderr}");
    }
}

#[test]
fn apply_refuses_steps_it_cannot_run_yet_before_touching_anything() {
    let canary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/canary.kdl");
    let (code, out) = run(&["apply", canary.to_str().unwrap(), "--state-dir", "/nonexistent/planrun-state"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("planrun apply cannot run these steps yet"), "{out}");
    assert!(out.contains("canary.kdl:") && out.contains("canary step `"), "names file, line and step: {out}");
}

#[test]
fn unlock_without_force_is_refused_without_a_swarm() {
    let (code, out) = run(&["unlock", "some-stack"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("needs --force"), "{out}");
}

#[test]
fn unlock_with_an_environment_needs_a_project_file() {
    let (code, out) = run(&["unlock", "some-stack", "--force", "--env", "production"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--env needs a project file"), "{out}");
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/prodstack/planrun.toml");
    let (code, out) =
        run(&["unlock", "some-stack", "--force", "--project", project.to_str().unwrap(), "--env", "nowhere"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unknown environment `nowhere`"), "{out}");
}

#[test]
fn a_plan_that_is_not_utf8_is_a_syntax_error_at_the_bad_byte() {
    let path = std::env::temp_dir().join(format!("planrun-not-utf8-{}.kdl", std::process::id()));
    std::fs::write(&path, b"plan p {\n    stack s\xff\n}\n").unwrap();
    let (code, out) = run(&["validate", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("planrun::syntax") && out.contains("the file is not valid UTF-8"), "{out}");
    assert!(out.contains(":2:12]"), "points at line 2, column 12: {out}");
    assert!(out.contains("save the plan as UTF-8"), "{out}");
}
