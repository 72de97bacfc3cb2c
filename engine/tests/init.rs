//! `planrun init --compose` without a swarm: every compose file under examples/ becomes a plan
//! that `planrun validate` accepts (both forms), the plan for examples/compose as a snapshot,
//! refusing to overwrite, and the errors a user meets. `init --stack` against the real swarm is
//! in tests/init.rs (the end-to-end crate).
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test -p planrun-engine --test init`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// `planrun` in `dir`, without colour, at a fixed width.
fn planrun(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planrun"));
    cmd.current_dir(dir).env("COLUMNS", "100").env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd
}

/// `planrun ARGS` in `dir`: exit code, stdout, stderr.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = planrun(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An empty directory of its own under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("planrun-cli-init-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every compose file under `dir`: `docker-compose*.yml`, `compose*.yml` (or `.yaml`).
fn compose_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            compose_files(&path, out);
        } else if (name.starts_with("docker-compose") || name.starts_with("compose"))
            && (name.ends_with(".yml") || name.ends_with(".yaml"))
        {
            out.push(path);
        }
    }
}

#[test]
fn every_example_compose_file_gives_a_plan_that_validates_in_both_forms() {
    let mut files = Vec::new();
    compose_files(&root().join("examples"), &mut files);
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("examples/compose/docker-compose.yml")), "{files:?}");
    let dir = scratch("examples");
    // The files examples/prodstack/up renders and writes before its `docker stack deploy`.
    let rendered = dir.join("rendered");
    std::fs::write(&rendered, "x").unwrap();
    let run = |dir: &Path, args: &[&str]| {
        let out = planrun(dir)
            .args(args)
            .env("PRODSTACK_ROUTER_CONF", &rendered)
            .env("PRODSTACK_DB_PASSWORD_FILE", &rendered)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (i, file) in files.iter().enumerate() {
        for form in [None, Some("--rolling")] {
            // The plan elsewhere than the compose file: its path in the plan goes up and back down.
            let plan = dir.join(format!("plan-{i}-{}.kdl", form.is_some()));
            let mut args = vec!["init", "--compose", file.to_str().unwrap(), "-o", plan.to_str().unwrap()];
            args.extend(form);
            let (code, stdout, stderr) = run(&root(), &args);
            assert_eq!(code, 0, "{args:?}: {stderr}");
            assert_eq!(stdout, "", "-o writes nothing to standard output");
            assert!(stderr.contains(&format!("wrote {}", plan.display())), "{stderr}");
            let (code, _, stderr) = run(&root(), &["validate", plan.to_str().unwrap()]);
            assert_eq!(code, 0, "{args:?}: {stderr}\n{}", std::fs::read_to_string(&plan).unwrap());
            let (code, _, stderr) = run(&root(), &["fmt", "--check", plan.to_str().unwrap()]);
            assert_eq!(code, 0, "init writes the canonical layout: {stderr}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_plans_for_the_compose_example() {
    let examples = root().join("examples");
    let compose = ["init", "--compose", "compose/docker-compose.yml", "--stack", "shop"];
    let (code, stdout, stderr) = run(&examples, &compose);
    assert_eq!((code, stderr.as_str()), (0, ""));
    insta::assert_snapshot!("compose", stdout);
    assert!(
        stdout.contains("var WEB_TAG env=\"WEB_TAG\" default=\"v1\""),
        "the image's tag is a plan variable: {stdout}"
    );
    let (code, rolling, stderr) = run(&examples, &[&compose[..], &["--rolling"]].concat());
    assert_eq!((code, stderr.as_str()), (0, ""));
    insta::assert_snapshot!("compose_rolling", rolling);

    // Both validate without a warning, in the directory they were written for.
    for text in [&stdout, &rolling] {
        let out = planrun(&examples).args(["validate", "--deny-warnings", "-"]).write_stdin(text.as_str()).output();
        let out = out.unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }

    // Without --stack the stack is named after the compose file's directory.
    let (code, stdout, _) = run(&root(), &["init", "--compose", "examples/compose/docker-compose.yml"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("plan compose {\n    stack compose\n"), "{stdout}");
    assert!(stdout.contains("file \"examples/compose/docker-compose.yml\""), "{stdout}");
    assert!(stdout.contains("swarm compose_web"), "{stdout}");
}

#[test]
fn an_existing_plan_is_kept_unless_forced() {
    let dir = scratch("overwrite");
    let compose = root().join("examples/compose/docker-compose.yml");
    let compose = compose.to_str().unwrap();
    std::fs::write(dir.join("plan.kdl"), "mine\n").unwrap();
    let (code, stdout, stderr) = run(&dir, &["init", "--compose", compose, "-o", "plan.kdl"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr, "error: plan.kdl exists: planrun init does not overwrite a file unless --force is given\n");
    assert_eq!(std::fs::read_to_string(dir.join("plan.kdl")).unwrap(), "mine\n");

    let (code, _, stderr) = run(&dir, &["init", "--compose", compose, "-o", "plan.kdl", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(dir.join("plan.kdl")).unwrap();
    assert!(written.contains("compose compose {"), "{written}");
    let (code, _, stderr) = run(&dir, &["validate", "plan.kdl"]);
    assert_eq!(code, 0, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_compose_file_is_reported_at_its_line_and_nothing_is_written() {
    let dir = scratch("broken");
    let broken = "services:\n  web:\n    image: app:v1\n    deploy:\n      replicas: two\n";
    std::fs::write(dir.join("docker-compose.yml"), broken).unwrap();
    let (code, stdout, stderr) = run(&dir, &["init", "--compose", "docker-compose.yml", "-o", "plan.kdl"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("docker-compose.yml:5:"), "{stderr}");
    insta::assert_snapshot!("broken_compose", stderr);
    assert!(!dir.join("plan.kdl").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_and_io_errors() {
    let dir = scratch("usage");
    let (code, _, stderr) = run(&dir, &["init", "--compose", "missing.yml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: cannot read missing.yml: "), "{stderr}");

    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--compose"), "{stderr}");

    let (code, _, stderr) = run(&dir, &["init", "--stack", "shop", "--rolling"]);
    assert_eq!(code, 2, "--rolling needs --compose: {stderr}");

    // No Docker daemon: said so, exit 2.
    let out = planrun(&dir)
        .args(["init", "--stack", "shop"])
        .env("DOCKER_HOST", format!("unix://{}/no.sock", dir.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no Docker daemon answers"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
