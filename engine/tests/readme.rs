//! What a newcomer reads first stays true: the README's two commands (the second is what CI
//! runs), its first look that needs neither root nor a swarm (run here as written), its one line
//! per command, and docs/commands.md, which has a section for every command the binary has.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use engine::cli::args::Cli;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The code blocks of a markdown text whose fence says `lang`, in order.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&fence) {
        let body = &rest[at + fence.len()..];
        let end = body.find("```\n").expect("a closed code block");
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

/// The section under `## heading`, up to the next `## `.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("no `## {heading}`"));
    let body = &text[start + 1..];
    let end = body[3..].find("\n## ").map_or(body.len(), |e| e + 3);
    &body[..end]
}

/// The command in a shell line, without its `# comment`.
fn command_of(line: &str) -> &str {
    line.split("  #").next().unwrap().trim()
}

#[test]
fn the_readme_starts_with_the_two_commands_and_ci_runs_the_second() {
    let readme = read("README.md");
    let first_block = readme.find("```").unwrap();
    // A title and a few sentences of what planrun is, then the commands.
    let before = &readme[..first_block];
    assert!(before.starts_with("# planrun\n\n"), "{before}");
    assert!(before.lines().count() <= 6, "at most a title and a short paragraph before the commands:\n{before}");
    assert!(readme[first_block..].starts_with("```sh\n"), "the first block is shell");
    let commands: Vec<&str> = blocks(&readme, "sh")[0].lines().map(command_of).collect();
    assert_eq!(commands, ["sudo examples/quickstart-run", "sudo tests/run-all"]);

    let ci = read(".ci/run");
    let ran: Vec<&str> = ci.lines().filter(|l| !l.starts_with('#') && l.contains("tests/run-all")).collect();
    assert_eq!(ran, ["exec tests/run-all"], ".ci/run runs the README's test command and nothing else");
}

#[test]
fn the_first_look_runs_as_written_without_a_swarm() {
    let readme = read("README.md");
    let first_look = section(&readme, "A first look, without root or a swarm");
    let block = blocks(first_look, "sh")[0];
    let state = std::env::temp_dir().join(format!("planrun-readme-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    let before = listing(&root().join("examples"));
    let mut ran = 0;
    for line in block.lines() {
        let command = command_of(line);
        let argv: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(argv[0], "target/release/planrun", "{line}");
        let out = Command::new(env!("CARGO_BIN_EXE_planrun"))
            .args(&argv[1..])
            .current_dir(root())
            // No Docker to reach, not in CI (where an unreachable swarm is an error), a home of its own.
            .env("DOCKER_HOST", format!("unix://{}/no-docker.sock", state.display()))
            .env_remove("CI")
            .env("HOME", &state)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{command}:\n{said}");
        assert!(!said.contains("error:") && !said.contains("error["), "{command}:\n{said}");
        ran += 1;
    }
    assert!(ran >= 3, "{block}");
    assert_eq!(listing(&root().join("examples")), before, "the first look writes nothing");
    std::fs::remove_dir_all(&state).unwrap();
}

/// Every file under `dir` with its size, sorted.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(listing(&entry.path()));
        } else {
            out.push((entry.path(), meta.len()));
        }
    }
    out.sort();
    out
}

/// The commands the binary has, by name.
fn subcommands() -> Vec<String> {
    Cli::command().get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name().to_owned()).collect()
}

#[test]
fn the_readme_has_one_short_line_per_command_and_the_docs_the_details() {
    let readme = read("README.md");
    let table = section(&readme, "Commands");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| `planrun ")).collect();
    for row in &rows {
        assert!(row.chars().count() <= 140, "one short line per command, details in docs/commands.md:\n{row}");
    }
    let commands = read("docs/commands.md");
    let headings: Vec<&str> = commands.lines().filter(|l| l.starts_with("### `planrun ")).collect();
    for name in subcommands() {
        let named =
            |line: &&str| line.contains(&format!("`planrun {name}")) || line.contains(&format!(", `planrun {name}"));
        assert!(rows.iter().any(named), "no line for `planrun {name}` in the README's command table");
        assert!(headings.iter().any(named), "no `### planrun {name}` section in docs/commands.md");
    }
}

/// The code block after `marker`.
fn block_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let start = text.find(marker).unwrap_or_else(|| panic!("no `{marker}`")) + marker.len();
    let body = text[start..].strip_prefix("\n```text\n").expect("a text block after the marker");
    &body[..body.find("```\n").unwrap()]
}

#[test]
fn the_readme_shows_the_quickstart_transcript_the_e2e_test_keeps() {
    // tests/transcripts.rs runs the quickstart and compares it with the doc; the README shows
    // the same run.
    let (readme, doc) = (read("README.md"), read("docs/transcripts/quickstart.md"));
    let (readme, doc) =
        (block_after(&readme, "<!-- transcript: quickstart -->"), block_after(&doc, "<!-- transcript -->"));
    assert_eq!(readme, doc);
    assert!(doc.starts_with("$ planrun apply examples/quickstart.kdl") && doc.contains("\nSummary: run r-"), "{doc}");
    let prodstack = read("docs/transcripts/prodstack.md");
    let prodstack = block_after(&prodstack, "<!-- transcript -->");
    assert!(prodstack.contains("worker: approved by ") && prodstack.contains("run succeeded\n"), "{prodstack}");
}
