//! The GitHub Actions workflow in examples/ci/github-actions.yml, its commands run as written
//! (not GitHub): the `run:` blocks of the steps named Validate, Plan and Apply, in bash as
//! Actions runs them (`bash -eo pipefail`), against a real service on the local swarm.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Service, Workdir, unique};

const V1: &str = "planrun-test/app:v1";
const V2: &str = "planrun-test/app:v2";

/// The `run: |` block of the step named `name`, dedented.
fn run_block(workflow: &str, name: &str) -> String {
    let lines: Vec<&str> = workflow.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == format!("- name: {name}"))
        .unwrap_or_else(|| panic!("the workflow has no step named {name}"));
    let run = (at..lines.len()).find(|&i| lines[i].trim() == "run: |").expect("a run block");
    let indent = lines[run].len() - lines[run].trim_start().len();
    let mut out = String::new();
    for line in &lines[run + 1..] {
        let own = line.len() - line.trim_start().len();
        if !line.trim().is_empty() && own <= indent {
            break;
        }
        out.push_str(line.get(indent + 2..).unwrap_or(""));
        out.push('\n');
    }
    out
}

/// Runs `script` as Actions would, in `dir`, with `planrun` on PATH: (exit code, stdout+stderr).
fn bash(dir: &Path, script: &str, env: &[(&str, String)]) -> (i32, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("planrun");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_planrun-e2e"), &link).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("bash runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("--- {script}--> {:?}\n{text}", out.status.code());
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_workflow_validates_plans_comments_the_plan_and_applies_on_merge() {
    let workflow = std::fs::read_to_string(support::repo().join("examples/ci/github-actions.yml")).unwrap();
    let web = Service::create(&unique("ciweb"), V1, 2);
    let work = Workdir::new("ci");
    let stack = unique("ci");
    let _forget = support::LockGuard(stack.clone());
    std::fs::create_dir_all(work.dir.join("deploy")).unwrap();
    let plan = format!(
        "plan ci {{\n    stack {}\n    on-failure rollback\n    gate healthy {{\n        swarm {}\n        count 1\n    }}\n    \
         rolling web {{\n        service {}\n        image \"{V2}\"\n        order start-first\n        monitor \"2s\"\n        gates healthy\n    }}\n}}\n",
        stack, web.name, web.name
    );
    std::fs::write(work.dir.join("deploy/plan.kdl"), &plan).unwrap();
    std::fs::write(
        work.dir.join("deploy/planrun.toml"),
        "[environments.production]\ndocker-host = \"unix:///var/run/docker.sock\"\n",
    )
    .unwrap();
    let output = work.dir.join("github-output");
    let env = [
        ("PLANRUN_PLAN", "deploy/plan.kdl".to_owned()),
        ("PLANRUN_ENV", "production".to_owned()),
        ("GITHUB_OUTPUT", output.display().to_string()),
    ];

    let (code, _) = bash(&work.dir, &run_block(&workflow, "Validate"), &env);
    assert_eq!(code, 0);
    let (code, _) = bash(&work.dir, &run_block(&workflow, "Plan"), &env);
    assert_eq!(code, 0);
    let comment = std::fs::read_to_string(work.dir.join("plan.md")).unwrap();
    assert!(comment.starts_with("### planrun plan: `ci`"), "{comment}");
    assert!(comment.contains(&format!("+   image: {V2}")) && comment.contains("0 to create, 1 to change"), "{comment}");
    assert_eq!(std::fs::read_to_string(&output).unwrap().trim(), "changes=yes");
    assert_eq!(web.image(), V1, "the pull-request job changed nothing");

    let (code, log) = bash(&work.dir, &run_block(&workflow, "Apply"), &env);
    assert_eq!(code, 0);
    assert!(log.contains("succeeded"), "the progress is the job's log: {log}");
    web.assert_converged(V2, 2);
    assert!(work.dir.join(".planrun").is_dir(), "the journal the workflow keeps as an artifact");

    // A broken plan fails the Validate step with annotations GitHub shows on the diff.
    std::fs::write(work.dir.join("deploy/plan.kdl"), plan.replace("count 1", "count one")).unwrap();
    let (code, log) = bash(&work.dir, &run_block(&workflow, "Validate"), &env);
    assert_ne!(code, 0);
    assert!(log.contains("::error file=deploy/plan.kdl,line="), "{log}");
    // And an error fails the Plan step (exit 1), unlike changes (exit 2).
    let (code, _) = bash(&work.dir, &run_block(&workflow, "Plan"), &env);
    assert_eq!(code, 1);
}
