//! Every plan under `examples/` is valid; most must also be free of warnings.

use std::path::{Path, PathBuf};

use plans::{Inputs, SourceFile};

/// Example files allowed to carry warnings, with the codes they may show. Every other example
/// (quickstart and prodstack above all) must have none.
const ALLOWED_WARNINGS: &[(&str, &[&str])] = &[];

fn kdl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            kdl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "kdl") {
            out.push(path);
        }
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn every_example_is_valid() {
    let root = examples_dir();
    let mut files = Vec::new();
    kdl_files(&root, &mut files);
    assert!(files.len() >= 6, "expected the examples, found {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(path).unwrap();
        // No environment: examples must validate on their defaults alone; the files they name
        // (templates) are read from beside them.
        let inputs = Inputs { files: path.parent().map(|p| p.to_path_buf()), ..Inputs::default() };
        let checked = plans::check(SourceFile::new(name.clone(), text), &inputs);
        let allowed = ALLOWED_WARNINGS.iter().find(|(f, _)| *f == name).map(|(_, codes)| *codes).unwrap_or(&[]);
        for d in &checked.diagnostics {
            if d.is_error() || !allowed.contains(&d.code.name()) {
                let (line, col) = checked.file.line_col(d.primary_span().offset);
                failures.push(format!("{name}:{line}:{col}: {} {}", d.code, d.message));
            }
        }
        if !checked.has_errors() {
            assert!(checked.plan.is_some() && checked.graph.is_some(), "{name}: valid but no plan or graph");
        }
    }
    assert!(failures.is_empty(), "examples with problems:\n{}", failures.join("\n"));
}

#[test]
fn quickstart_deploys_the_test_image() {
    let path = examples_dir().join("quickstart.kdl");
    let text = std::fs::read_to_string(&path).unwrap();
    let checked = plans::check(SourceFile::new("quickstart.kdl", text), &Inputs::default());
    let plan = checked.plan.expect("quickstart is valid");
    assert_eq!(plan.steps.len(), 1, "the quickstart deploys one service");
    let json = serde_json::to_value(&plan.steps[0]).unwrap();
    assert_eq!(json["kind"], "rolling");
    assert_eq!(json["service"], "quickstart_web");
    assert_eq!(json["image"], "planrun-test/app:v2");
}

#[test]
fn every_file_an_example_names_exists() {
    let root = examples_dir();
    let mut files = Vec::new();
    kdl_files(&root, &mut files);
    let mut named = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let checked = plans::check(SourceFile::new(path.display().to_string(), text), &Inputs::default());
        let Some(plan) = checked.plan else { continue };
        let json = serde_json::to_value(&plan).unwrap();
        for step in json["steps"].as_array().unwrap() {
            let files = [&step["file"], &step["down"], &step["switch"]["template"]];
            for f in files.into_iter().filter_map(|f| f.as_str()) {
                named += 1;
                let dir = path.parent().unwrap();
                assert!(dir.join(f).is_file(), "{} names {f}, which does not exist", path.display());
            }
        }
    }
    assert!(named >= 8, "expected the examples to name SQL files and a template, found {named}");
}

#[test]
fn prodstack_project_file_has_three_environments() {
    let path = examples_dir().join("prodstack/planrun.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let project = plans::project::Project::parse(&SourceFile::new("planrun.toml", text)).expect("planrun.toml parses");
    assert_eq!(project.environments.keys().collect::<Vec<_>>(), ["local", "production", "staging"]);
    let default = project.environment(None).unwrap().expect("a default environment");
    assert_eq!(default.0, "staging");
    // Every variable an environment sets is one the plan declares.
    let plan = std::fs::read_to_string(examples_dir().join("prodstack/plan.kdl")).unwrap();
    let checked = plans::check(SourceFile::new("plan.kdl", plan), &Inputs::default());
    let declared: Vec<String> = checked.plan.unwrap().variables.iter().map(|v| v.name.value.clone()).collect();
    for (name, env) in &project.environments {
        for var in env.vars.keys() {
            assert!(declared.contains(var), "environment {name} sets `{var}`, which the plan does not declare");
        }
    }
}
