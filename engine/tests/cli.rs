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
    describe(args, planrun().args(args).output().unwrap())
}

/// A finished `planrun ARGS` for a snapshot: command, exit code, stdout, stderr.
fn describe(args: &[&str], output: std::process::Output) -> (i32, String) {
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
fn the_readme_shows_the_plan_the_quickstart_deploys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/quickstart.kdl")).unwrap();
    let start = readme.find("```kdl\n").expect("a kdl block in the README") + "```kdl\n".len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let plan = &example[example.find("plan quickstart").unwrap()..];
    assert_eq!(shown, plan, "README.md's plan is examples/quickstart.kdl from `plan quickstart` on");
}

#[test]
fn refusals_are_json_events_under_output_json() {
    // (Every step kind runs now: no plan is refused as unsupported.)
    let invalid = fixtures().join("unknown-step.kdl");
    let output = planrun().args(["apply", invalid.to_str().unwrap(), "--output", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let event: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON event");
    assert_eq!(event["refusal"], "invalid-plan");
    assert!(event["problems"][0]["message"].as_str().unwrap().contains("[planrun::unknown-step]"), "{event}");

    let missing = planrun().args(["apply", "/nonexistent/plan.kdl", "--output", "json"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let event: serde_json::Value = serde_json::from_slice(&missing.stdout).expect("one JSON event");
    assert_eq!(event["refusal"], "usage");
    assert!(event["message"].as_str().unwrap().contains("cannot read /nonexistent/plan.kdl"), "{event}");

    let valid = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart.kdl");
    let unreachable = planrun()
        .args(["apply", valid.to_str().unwrap(), "--output", "json", "--state-dir", "/nonexistent/planrun-state"])
        .env("DOCKER_HOST", "unix:///nonexistent/planrun-docker.sock")
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(2), "no daemon is a usage-level error");
    let event: serde_json::Value = serde_json::from_slice(&unreachable.stdout).expect("one JSON event");
    assert_eq!(event["refusal"], "docker-unavailable");
    assert_eq!(
        event["message"],
        "Docker is unavailable: no Docker daemon answers at unix:///nonexistent/planrun-docker.sock: \
         Socket not found: /nonexistent/planrun-docker.sock (start dockerd, or set DOCKER_HOST)"
    );
}

#[test]
fn unlock_without_force_is_refused_without_a_swarm() {
    let (code, out) = run(&["unlock", "some-stack"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("needs --force RUN"), "{out}");
}

#[test]
fn unlock_with_an_environment_needs_a_project_file() {
    let (code, out) = run(&["unlock", "some-stack", "--force", "r-1", "--env", "production"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--env needs a project file"), "{out}");
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/prodstack/planrun.toml");
    let (code, out) =
        run(&["unlock", "some-stack", "--force", "r-1", "--project", project.to_str().unwrap(), "--env", "nowhere"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unknown environment `nowhere`"), "{out}");
}

/// A stack named on the command line becomes a directory under the state directory and a part of
/// Swarm object names: one Docker would refuse, or a path, is a usage error before anything.
#[test]
fn a_stack_name_docker_would_refuse_is_refused_before_any_path_or_swarm() {
    let state = std::env::temp_dir().join(format!("planrun-stack-name-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    let state_dir = state.to_str().unwrap();
    // (`-x` is refused too, but clap reads it as a flag first.)
    for stack in ["../x", "a/b", "", ".x", "a b", "shop.prod", "x_", &"x".repeat(50)] {
        let commands: Vec<Vec<&str>> = vec![
            vec!["status", stack],
            vec!["history", stack],
            vec!["rollback", stack, "--state-dir", state_dir],
            vec!["rollback", "--stack", stack, "--state-dir", state_dir],
            vec!["repair", stack, "--state-dir", state_dir],
            vec!["unlock", stack, "--force", "r-1"],
            vec!["promote", stack],
            vec!["abort", stack],
            vec!["finish", stack],
            vec!["restore", stack, "dump.pgdump", "--state-dir", state_dir],
            vec!["restore", "dump.pgdump", "--stack", stack, "--state-dir", state_dir],
            vec!["init", stack],
            vec!["init", "--stack", stack],
        ];
        for args in commands {
            // No daemon at all: a command that got past the name would say Docker is unavailable.
            let output =
                planrun().args(&args).env("DOCKER_HOST", "unix:///nonexistent/planrun-docker.sock").output().unwrap();
            let (code, out) = describe(&args, output);
            assert_eq!(code, 2, "{out}");
            assert!(out.contains(&format!("invalid value '{stack}'")), "names the value: {out}");
            assert!(
                out.contains("a stack name is 1 to 49 ASCII letters, digits, `-` and `_`"),
                "names the rule: {out}"
            );
            assert!(!out.contains("Docker is unavailable"), "refused before reaching for a swarm: {out}");
        }
    }
    let left: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
    let _ = std::fs::remove_dir_all(&state);
    assert!(left.is_empty(), "nothing was written under the state directory: {left:?}");
    let (code, out) = run(&["history", "../x"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("usage__stack_name", out);
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

// ---------------------------------------------------------------------------------------------
// Broken files, editors and pipes: one fixture per finding of issue 8 in `tests/fixtures/findings/`.

/// Every fixture of `findings/`, rendered for people.
#[test]
fn findings_as_people_see_them() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("findings"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".kdl"))
        .collect();
    names.sort();
    for name in names {
        let (_, out) = validate(&format!("findings/{name}"), &[]);
        insta::assert_snapshot!(format!("finding__{}", name.trim_end_matches(".kdl")), out);
    }
}

#[test]
fn findings_in_machine_formats() {
    let (_, out) = validate("findings/after-without-value.kdl", &["--message-format", "github"]);
    assert!(out.contains("line=3,col=21"), "annotated where `after=` is, not at 1:1: {out}");
    insta::assert_snapshot!("finding__github__after-without-value", out);
    let (_, out) = validate("findings/two-syntax-errors.kdl", &["--message-format", "json"]);
    insta::assert_snapshot!("finding__json__two-syntax-errors", out);
    let (_, out) = validate("duplicate-step.kdl", &["--message-format", "github"]);
    assert!(out.contains("first step with this name: duplicate-step.kdl:3:"), "names the first place: {out}");
    insta::assert_snapshot!("finding__github__duplicate-step", out);
    // Character columns everywhere, human header included.
    let (_, human) = validate("findings/non-ascii-line.kdl", &[]);
    let (_, json) = validate("findings/non-ascii-line.kdl", &["--message-format", "json"]);
    let d: serde_json::Value = serde_json::from_str(json.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert!(human.contains(&format!("non-ascii-line.kdl:3:{}]", d["column"])), "{human}\n{json}");
}

#[test]
fn a_missing_last_brace_is_one_short_error() {
    let (code, out) = validate("findings/missing-last-brace.kdl", &[]);
    assert_eq!(code, 1);
    assert_eq!(out.matches("planrun::").count(), 1, "{out}");
    assert!(out.contains("this `{` is never closed") && out.contains("the file ends here"), "{out}");
    assert!(out.lines().count() < 30, "no snippet of the whole file: {out}");
}

#[test]
fn every_syntax_error_is_reported_in_one_pass() {
    let (_, out) = validate("findings/two-syntax-errors.kdl", &["--message-format", "json"]);
    let lines: Vec<serde_json::Value> =
        out.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let at: Vec<(u64, u64)> =
        lines.iter().map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap())).collect();
    assert_eq!(at, [(3, 21), (4, 37)], "both errors, in file order, each at its token: {out}");
}

/// A plan file on standard input, named by --stdin-filename (editors and pre-commit hooks).
#[test]
fn a_plan_on_standard_input() {
    let text = std::fs::read_to_string(fixtures().join("duplicate-step.kdl")).unwrap();
    let output = planrun()
        .args(["validate", "-", "--stdin-filename", "plans/shop.kdl", "--message-format", "json"])
        .write_stdin(text.clone())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r#""file":"plans/shop.kdl""#) && stdout.contains("duplicate-step"), "{stdout}");
    let output = planrun().args(["validate", "-"]).write_stdin(text).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("<stdin>: invalid"), "{output:?}");
    planrun().args(["validate", "-", "-"]).write_stdin("").assert().code(2);
    let valid = std::fs::read_to_string(fixtures().join("valid.kdl")).unwrap();
    planrun().args(["graph", "-"]).write_stdin(valid).assert().code(0);
}

/// Errors that are not about a place in a plan still come in the format asked for.
#[test]
fn io_and_usage_errors_in_the_chosen_format() {
    let (code, out) = run(&["validate", "no-such-file.kdl", "--message-format", "json"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("finding__json__io-error", out);
    let (code, out) = run(&["validate", "no-such-file.kdl", "--message-format", "github"]);
    assert_eq!(code, 2);
    assert!(out.contains("::error file=no-such-file.kdl,title=planrun%3A%3Aio::cannot read"), "{out}");
    let (code, out) = run(&["validate", "valid.kdl", "--message-format=json", "--no-such-flag"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!("finding__json__usage-error", out);
    let (code, out) = run(&["validate", "--message-format", "github"]);
    assert_eq!(code, 2);
    assert!(out.starts_with("$ planrun") && out.contains("::error title=planrun%3A%3Ausage::"), "{out}");
}

/// A plan with `n` pause steps, each with a duration that does not parse: `n` errors, line 3 on.
fn bad_durations(n: usize) -> String {
    let mut text = String::from("plan p {\n    stack s\n");
    for i in 0..n {
        text.push_str(&format!("    pause p{i} \"{i} parsecs\"\n"));
    }
    text.push_str("}\n");
    text
}

/// `planrun validate ... | head -1` under every format: a closed pipe ends the run quietly.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    // 3,000 errors: far more output than a pipe buffer holds.
    let text = bad_durations(3000);
    let path = std::env::temp_dir().join(format!("planrun-pipe-{}.kdl", std::process::id()));
    std::fs::write(&path, text).unwrap();
    for format in ["human", "json", "github"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_planrun"))
            .args(["validate", "--message-format", format])
            .arg(&path)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one line from where the diagnostics go, then close both pipes, as `head -1` does.
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let mut first = String::new();
        if format == "human" {
            drop(stdout);
            BufReader::new(stderr).read_line(&mut first).unwrap();
        } else {
            drop(stderr);
            BufReader::new(stdout).read_line(&mut first).unwrap();
        }
        let status = child.wait().unwrap();
        assert!(!first.is_empty(), "{format}: no output");
        assert_eq!(status.code(), Some(141), "{format}: {status:?}");
    }
    let _ = std::fs::remove_file(&path);
}

/// A diagnostic's fix, applied as it is, removes that diagnostic and adds no error: the help
/// can be followed literally. Every fixture (one per code, and the findings) is tried.
#[test]
fn every_fix_gives_a_file_without_that_problem() {
    let mut files: Vec<String> = Code::ALL.iter().map(|c| format!("{}.kdl", c.name())).collect();
    for e in std::fs::read_dir(fixtures().join("findings")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".kdl") {
            files.push(format!("findings/{name}"));
        }
    }
    let mut fixed = 0;
    for file in files {
        let (_, out) = validate(&file, &["--message-format", "json"]);
        let text = std::fs::read_to_string(fixtures().join(&file)).unwrap();
        let before: Vec<serde_json::Value> =
            out.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
        let codes_before: std::collections::BTreeSet<String> =
            before.iter().map(|d| d["code"].as_str().unwrap().to_owned()).collect();
        for (i, d) in before.iter().enumerate() {
            let edits: Vec<plans::fix::Edit> = d["fix"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let span = plans::span::Span::new(
                        e["offset"].as_u64().unwrap() as usize,
                        e["length"].as_u64().unwrap() as usize,
                    );
                    plans::fix::Edit::new(span, e["replacement"].as_str().unwrap())
                })
                .collect();
            if edits.is_empty() {
                continue;
            }
            // Outside the fixtures (other tests list them), run from the fixtures as they are.
            let dir = std::env::temp_dir().join(format!("planrun-fix-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            // The SQL files the plans name, beside them there too.
            for named in ["migrations", "sql"] {
                let _ = std::os::unix::fs::symlink(fixtures().join(named), dir.join(named));
            }
            let path = dir.join(format!("{}-{i}.kdl", file.replace('/', "-").trim_end_matches(".kdl")));
            std::fs::write(&path, plans::fix::apply(&text, &edits)).unwrap();
            let mut args = vec!["validate".to_owned(), path.display().to_string()];
            args.extend(fixture_args(&file));
            args.extend(["--message-format".to_owned(), "json".to_owned()]);
            let (_, after) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let _ = std::fs::remove_file(&path);
            let after: Vec<serde_json::Value> =
                after.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
            let same = |e: &serde_json::Value| e["code"] == d["code"] && e["message"] == d["message"];
            assert!(!after.iter().any(same), "{file}: the fix of {} leaves it: {after:#?}", d["message"]);
            for e in after.iter().filter(|e| e["severity"] == "error") {
                assert!(
                    codes_before.contains(e["code"].as_str().unwrap()),
                    "{file}: the fix of {} adds {e:#}",
                    d["message"]
                );
            }
            fixed += 1;
        }
    }
    assert!(fixed >= 15, "only {fixed} fixes were tried");
}

/// A person gets the first 100 diagnostics with snippets and one line for each of the rest.
#[test]
fn human_output_gives_snippets_to_the_first_hundred() {
    let text = bad_durations(150);
    let output = planrun().args(["validate", "-", "--stdin-filename", "many.kdl"]).write_stdin(text).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("╭─[many.kdl:").count(), 100, "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.contains(": error[planrun::bad-duration]: ")).count(), 50, "{stderr}");
    assert!(
        stderr.lines().any(|l| l == "many.kdl:103:16: error[planrun::bad-duration]: `100 parsecs` is not a duration"),
        "{stderr}"
    );
    assert!(stderr.contains("(50 more diagnostics shown on one line each"), "{stderr}");
    assert!(stderr.ends_with("many.kdl: invalid (150 errors, 0 warnings)\n"), "{stderr}");
}

/// `graph` with a `--var` the plan does not declare says so, and the `validate` it suggests
/// repeats the flag, so it reports the same thing.
#[test]
fn an_undeclared_var_is_reported_the_same_by_graph_and_validate() {
    let (code, graph) = run(&["graph", "findings/undeclared-var.kdl", "--var", "imgae=shop:v3"]);
    assert_eq!(code, 1, "{graph}");
    assert!(graph.contains("`--var imgae=...` sets `imgae`, which the plan does not declare"), "{graph}");
    assert!(graph.contains("did you mean `image`?"), "{graph}");
    assert!(
        graph.contains("`planrun validate findings/undeclared-var.kdl --var imgae=shop:v3` checks it again"),
        "{graph}"
    );
    let (code, validate) = run(&["validate", "findings/undeclared-var.kdl", "--var", "imgae=shop:v3"]);
    assert_eq!(code, 1, "{validate}");
    assert!(validate.contains("`--var imgae=...` sets `imgae`, which the plan does not declare"), "{validate}");
}

#[test]
fn explain_prints_a_codes_section_and_suggests_for_a_typo() {
    let (code, out) = run(&["explain", "planrun::unknown-property"]);
    assert_eq!(code, 0, "{out}");
    // Rendered, not markdown: the wrong and the fixed example, indented, under their labels.
    assert!(out.contains("--- stdout\nplanrun::unknown-property\n\nA property this node does not take"), "{out}");
    assert!(
        out.contains(
            "\nWrong:\n    gate g { swarm s_web }\n    rolling web service=s_web image=\"app:v2\" paralelism=2"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "\nFixed:\n    gate g { swarm s_web }\n    rolling web service=s_web image=\"app:v2\" parallelism=2"
        ),
        "{out}"
    );
    assert!(!out.contains("```") && !out.contains("###") && !out.contains('\x1b'), "{out}");
    // Colour only when asked (CLICOLOR_FORCE: stdout is a pipe here), never with NO_COLOR.
    let forced =
        planrun().args(["explain", "cycle"]).env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1").output().unwrap();
    let forced = String::from_utf8_lossy(&forced.stdout);
    assert!(
        forced.starts_with("\x1b[1m\x1b[4mplanrun::cycle\x1b[0m\n") && forced.contains("\x1b[1m\x1b[32mFixed:"),
        "{forced:?}"
    );
    let refused = planrun().args(["explain", "cycle"]).env("CLICOLOR_FORCE", "1").output().unwrap();
    assert!(!refused.stdout.contains(&0x1b), "NO_COLOR wins: {}", String::from_utf8_lossy(&refused.stdout));
    let (same, bare) = run(&["explain", "unknown-property"]);
    assert_eq!((same, bare.lines().skip(2).collect::<Vec<_>>()), (0, out.lines().skip(2).collect::<Vec<_>>()));
    let (code, out) = run(&["explain", "unknown-propery"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("did you mean `unknown-property`?"), "{out}");
}

#[test]
fn colour_follows_no_color_and_clicolor_force_in_every_human_output() {
    // One rule for every output for people (cli::terminal, anstream's): a pipe is plain unless
    // CLICOLOR_FORCE is set; NO_COLOR wins; an empty NO_COLOR does not count.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let outputs = |env: &[(&str, &str)]| {
        let mut plan = planrun();
        plan.current_dir(&examples)
            .args(["plan", "--offline", "quickstart.kdl"])
            .env_remove("NO_COLOR")
            .env_remove("CI");
        let mut validate = planrun();
        validate.args(["validate", "unknown-property.kdl"]).env_remove("NO_COLOR");
        let mut explain = planrun();
        explain.args(["explain", "cycle"]).env_remove("NO_COLOR");
        let mut out = Vec::new();
        for (command, stdout) in [(&mut plan, true), (&mut validate, false), (&mut explain, true)] {
            for (k, v) in env {
                command.env(k, v);
            }
            let o = command.output().unwrap();
            out.push(if stdout { o.stdout } else { o.stderr }.contains(&0x1b));
        }
        out
    };
    assert_eq!(outputs(&[]), [false, false, false], "a pipe is plain");
    assert_eq!(outputs(&[("CLICOLOR_FORCE", "1")]), [true, true, true]);
    assert_eq!(outputs(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), [false, false, false]);
    assert_eq!(outputs(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]), [true, true, true]);
}

#[test]
fn bash_completion_completes_a_subcommand_and_the_man_page_renders() {
    let script = planrun().args(["completions", "bash"]).output().unwrap();
    assert!(script.status.success());
    let dir = std::env::temp_dir().join(format!("planrun-completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("planrun.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let bash = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _planrun planrun '{}' '{}'; echo \"${{COMPREPLY[*]}}\"",
            file.display(),
            words.join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = std::process::Command::new("bash").args(["-c", &bash]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(complete("planrun va"), "validate");
    assert_eq!(complete("planrun res"), "restore");
    // Not the older, hidden `--stack` (clap_complete alone would offer it).
    assert_eq!(complete("planrun restore --st"), "--state-dir");
    assert_eq!(complete("planrun rollback --st"), "--state-dir");
    for shell in ["zsh", "fish"] {
        let out = planrun().args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("restore"), "{shell}");
    }

    let page = planrun().arg("man").output().unwrap();
    assert!(page.status.success());
    std::fs::write(dir.join("planrun.1"), &page.stdout).unwrap();
    let rendered = std::process::Command::new("groff")
        // Plain text: no escape sequences, no overstriking.
        .args(["-man", "-Tutf8", "-P-cbou"])
        .arg(dir.join("planrun.1"))
        .output()
        .expect("groff (Debian: groff-base) renders man pages");
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let text = String::from_utf8_lossy(&rendered.stdout);
    for section in ["NAME", "SYNOPSIS", "SUBCOMMANDS"] {
        assert!(text.contains(section), "{section} in\n{text}");
    }
    for command in ["planrun-apply(1)", "planrun-restore(1)", "planrun-explain(1)"] {
        assert!(text.contains(command), "{command} in\n{text}");
    }

    // Every page planrun(1) names is written by `planrun man --dir` and renders, with the
    // command's examples and where to read on.
    let pages = dir.join("man1");
    let written = planrun().args(["man", "--dir"]).arg(&pages).output().unwrap();
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let listed = String::from_utf8_lossy(&written.stdout);
    for line in text.lines().map(str::trim).filter(|l| l.starts_with("planrun-") && l.ends_with("(1)")) {
        let file = pages.join(format!("{}.1", line.trim_end_matches("(1)")));
        assert!(listed.contains(&file.display().to_string()), "{line}: no {} in\n{listed}", file.display());
        let rendered =
            std::process::Command::new("groff").args(["-man", "-Tutf8", "-P-cbou"]).arg(&file).output().unwrap();
        assert!(
            rendered.status.success() && rendered.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let page = String::from_utf8_lossy(&rendered.stdout);
        let command = line.trim_end_matches("(1)").replacen('-', " ", 1);
        for part in ["NAME", "SYNOPSIS", "EXAMPLES", "SEE ALSO", "planrun(1)", &command] {
            assert!(page.contains(part), "{part} in {line}:\n{page}");
        }
    }
    let (code, apply) = run(&["man", "apply"]);
    assert_eq!(
        (code, std::fs::read_to_string(pages.join("planrun-apply.1")).unwrap()),
        (0, apply[apply.find(".ie").unwrap()..].to_owned())
    );
    let (code, out) = run(&["man", "aply"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("error: no command `aply` has a man page; the commands are: validate, fmt,"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_commands_help_ends_with_examples() {
    let (code, out) = run(&["plan", "--help"]);
    assert_eq!(code, 0, "{out}");
    let examples = &out[out.find("\nExamples:\n").expect("an Examples section") + 1..];
    assert!(
        examples.contains("\n  # A drill: what is rolled back, and how everything ends, if the step backend fails\n  planrun plan deploy/plan.kdl --fail backend\n"),
        "{examples}"
    );
    // The short help (-h) shows them too: they are what a newcomer looks for.
    let (_, short) = run(&["apply", "-h"]);
    assert!(
        short.contains("Examples:\n  # Deploy to the swarm of the production environment of planrun.toml\n"),
        "{short}"
    );
}

// ---------------------------------------------------------------- planrun fmt

/// A directory of its own holding `plan.kdl` with `text`, for a command that writes files.
fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("planrun-cli-fmt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plan.kdl"), text).unwrap();
    dir
}

/// `planrun ARGS` in `dir`, described for a snapshot.
fn run_in(dir: &Path, args: &[&str]) -> (i32, String) {
    describe(args, planrun().current_dir(dir).args(args).output().unwrap())
}

const UNFORMATTED: &str = "// The plan.\nplan p {\n  stack s\n\ton-failure \"rollback\" // why\n  run hello command=\"echo\" timeout=\"1m\" { after x; }\n  run x command=\"true\"\n}\n";

#[test]
fn fmt_check_prints_a_diff_and_writes_nothing() {
    let dir = scratch("check", UNFORMATTED);
    let (code, out) = run_in(&dir, &["fmt", "--check", "plan.kdl"]);
    assert_eq!(code, 1, "{out}");
    insta::assert_snapshot!("fmt__check", out);
    assert_eq!(std::fs::read_to_string(dir.join("plan.kdl")).unwrap(), UNFORMATTED, "--check wrote the file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fmt_rewrites_the_file_in_place_keeping_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("in-place", UNFORMATTED);
    let plan = dir.join("plan.kdl");
    std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, out) = run_in(&dir, &["fmt", "plan.kdl"]);
    assert_eq!((code, out.as_str()), (0, "$ planrun fmt plan.kdl\nexit: 0\n"));
    let formatted = std::fs::read_to_string(&plan).unwrap();
    insta::assert_snapshot!("fmt__in_place", formatted);
    assert_eq!(std::fs::metadata(&plan).unwrap().permissions().mode() & 0o777, 0o640);
    // Nothing else is left in the directory (no temporary file), and it is now formatted.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    planrun().current_dir(&dir).args(["fmt", "--check", "plan.kdl"]).assert().code(0).stdout("");
    // What `show` prints is the same before and after.
    let shown = |text: &str| {
        let output = planrun().args(["show", "--json", "-"]).write_stdin(text).output().unwrap();
        assert!(output.status.success());
        output.stdout
    };
    assert_eq!(shown(&formatted), shown(UNFORMATTED));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fmt_leaves_a_file_with_syntax_errors_alone() {
    let broken = "plan p {\n    stack \"s\n    on-failure=\n}\n";
    let dir = scratch("broken", broken);
    let (code, out) = run_in(&dir, &["fmt", "plan.kdl"]);
    assert_eq!(code, 1, "{out}");
    insta::assert_snapshot!("fmt__syntax_errors", out);
    assert_eq!(std::fs::read_to_string(dir.join("plan.kdl")).unwrap(), broken);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fmt_reads_standard_input_and_writes_standard_output() {
    let output = planrun().args(["fmt", "-"]).write_stdin(UNFORMATTED).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let dir = scratch("stdin", UNFORMATTED);
    planrun().current_dir(&dir).args(["fmt", "plan.kdl"]).assert().code(0);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), std::fs::read_to_string(dir.join("plan.kdl")).unwrap());
    planrun().args(["fmt", "--check", "-"]).write_stdin(UNFORMATTED).assert().code(1);
    planrun().args(["fmt", "missing.kdl"]).assert().code(2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validate_fix_applies_the_fixes_the_json_offers_and_checks_again() {
    let typos = "plan p {\n    stack s\n    pause soak manual {\n        tiemout \"5m\"\n    }\n    \
                 run web {\n        command \"true\"\n        timout \"1m\"\n    }\n}\n";
    let dir = scratch("fix", typos);
    let json = planrun().current_dir(&dir).args(["validate", "--format", "json", "plan.kdl"]).output().unwrap();
    let offered = String::from_utf8(json.stdout).unwrap();
    assert_eq!(offered.matches("\"replacement\":\"timeout\"").count(), 2, "{offered}");
    let (code, out) = run_in(&dir, &["validate", "--fix", "plan.kdl"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("plan.kdl: applied 2 fixes"), "{out}");
    assert!(out.contains("plan.kdl: valid (0 errors, 0 warnings)"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("plan.kdl")).unwrap(),
        typos.replace("tiemout", "timeout").replace("timout", "timeout")
    );
    // Nothing left to fix: the file is not written again.
    let (code, out) = run_in(&dir, &["validate", "--fix", "plan.kdl"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("applied"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validate_and_fmt_take_directories_and_one_format_flag() {
    let dir = scratch("dirs", UNFORMATTED);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::create_dir_all(dir.join(".hidden")).unwrap();
    std::fs::write(dir.join("sub/b.kdl"), "plan b {\n    stack b\n    run x command=\"true\"\n}\n").unwrap();
    std::fs::write(dir.join(".hidden/c.kdl"), "not a plan {").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a plan {").unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();

    let (code, out) = run_in(&dir, &["validate", "."]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("./plan.kdl: valid") && out.contains("./sub/b.kdl: valid"), "{out}");
    assert!(!out.contains("c.kdl") && !out.contains("notes.txt"), "{out}");
    let (code, out) = run_in(&dir, &["validate", "empty"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("empty holds no plan file (`*.kdl`)"), "{out}");

    let (code, out) = run_in(&dir, &["fmt", "--check", "."]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("./plan.kdl (formatted)") && !out.contains("b.kdl (formatted)"), "{out}");
    planrun().current_dir(&dir).args(["fmt", "."]).assert().code(0);
    planrun().current_dir(&dir).args(["fmt", "--check", "."]).assert().code(0);
    let left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!left.iter().any(|n| n.starts_with(".planrun-fmt-")), "no temporary file is left: {left:?}");

    // `--format` everywhere; the older spellings still work.
    for flag in ["--format", "--message-format"] {
        let out = planrun().current_dir(&dir).args(["validate", flag, "json", "empty"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let line = String::from_utf8(out.stdout).unwrap();
        assert!(line.contains("\"code\":\"planrun::io\""), "{flag}: {line}");
    }
    let help = planrun().args(["apply", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("--format <FORMAT>") && !help.contains("--output <"), "{help}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `planrun rollback` of a stack without runs says so once, in every output, and exits 0.
/// Needs the swarm of this machine (tests/env/swarm-up); PLANRUN_SKIP_SWARM=1 skips it.
#[test]
fn nothing_to_roll_back_is_said_once() {
    if std::env::var("PLANRUN_SKIP_SWARM").as_deref() == Ok("1") {
        eprintln!("skipped: PLANRUN_SKIP_SWARM=1 (this test needs dockerd as a swarm manager)");
        return;
    }
    let state = std::env::temp_dir().join(format!("planrun-nothing-to-roll-back-{}", std::process::id()));
    let stack = format!("nothing-to-roll-back-{}", std::process::id());
    for output in ["plain", "json"] {
        let args = ["rollback", &stack, "--state-dir", state.to_str().unwrap(), "--output", output];
        let (code, out) = run(&args);
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.matches("nothing to roll back").count(), 1 + usize::from(output == "json"), "{out}");
        let stderr = out.split("--- stderr\n").nth(1).unwrap_or_default();
        assert_eq!(stderr.matches("nothing to roll back").count(), 1, "{out}");
    }
    let _ = std::fs::remove_dir_all(&state);
}
