//! Transcripts of real runs in the docs (docs/transcripts/*.md, and the quickstart's in the
//! README), kept true by the tests that make the runs: a test renders what `planrun apply`
//! printed, puts the names of its unique copies back to the example's, and compares it with the
//! doc's ```text block after `<!-- transcript -->`. What varies from run to run (times,
//! durations, counts, run ids, measured values, how many times a line repeats and in which order
//! concurrent steps print) is left out of the comparison; every kind of line the doc shows must
//! still be printed, and nothing else. `PLANRUN_UPDATE_TRANSCRIPTS=1` writes the run into the
//! doc instead (and the quickstart's into the README too).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::repo;

/// Where the transcript block starts in a doc.
const MARKER: &str = "<!-- transcript -->\n```text\n";
/// The same block in the README, for the quickstart.
const README_MARKER: &str = "<!-- transcript: quickstart -->\n```text\n";

/// What `planrun apply --format plain` prints, rebuilt from the records of a run's
/// `--format json` output (the same `progress::line` renders both), then the summary it printed
/// on stderr.
pub fn from_events(events: &[serde_json::Value], stderr: &str) -> String {
    let mut out = String::new();
    for event in events {
        let record: engine::events::Record = match serde_json::from_value(event.clone()) {
            Ok(r) => r,
            Err(e) => panic!("not a record: {e}: {event}"),
        };
        if let Some(line) = engine::cli::progress::line(&record) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(stderr);
    out
}

/// `text` with each `(from, to)` replaced, in order, and this machine's name as `deploy-host`.
pub fn renamed(text: &str, names: &[(&str, &str)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in names {
        text = text.replace(from, to);
    }
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(host) if !host.trim().is_empty() => text.replace(&format!("@{}", host.trim()), "@deploy-host"),
        _ => text,
    }
}

/// Compares `transcript` with the block in `docs/transcripts/NAME.md`, or writes it there with
/// `PLANRUN_UPDATE_TRANSCRIPTS=1`. `Err` says what differs.
pub fn check(name: &str, command: &str, transcript: &str) -> Result<(), String> {
    let doc = repo().join(format!("docs/transcripts/{name}.md"));
    let shown = format!("$ {command}\n{}", transcript.trim_end());
    if std::env::var_os("PLANRUN_UPDATE_TRANSCRIPTS").is_some_and(|v| v == "1") {
        replace_block(&doc, MARKER, &shown);
        if name == "quickstart" {
            replace_block(&repo().join("README.md"), README_MARKER, &shown);
        }
        eprintln!("wrote the transcript of `{command}` into {}", doc.display());
        return Ok(());
    }
    let text = std::fs::read_to_string(&doc).map_err(|e| format!("{}: {e}", doc.display()))?;
    let recorded = block(&text, MARKER).ok_or_else(|| format!("{}: no transcript block", doc.display()))?;
    let (was, now) = (shape(recorded), shape(&shown));
    if was == now {
        return Ok(());
    }
    let gone: Vec<_> = was.difference(&now).collect();
    let new: Vec<_> = now.difference(&was).collect();
    Err(format!(
        "the run no longer prints what {} shows (compared without times, numbers and repeats):\n\
         lines the doc shows that the run did not print:\n  {}\nlines the run printed that the doc does not show:\n  {}\n\
         the run:\n{shown}\nIf the change is meant, write it with PLANRUN_UPDATE_TRANSCRIPTS=1 and read the diff.",
        doc.display(),
        gone.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
    ))
}

/// The block after `marker`.
pub fn block<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let end = text[start..].find("```\n")?;
    Some(&text[start..start + end])
}

fn replace_block(path: &PathBuf, marker: &str, body: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start =
        text.find(marker).unwrap_or_else(|| panic!("{}: no `{}`", path.display(), marker.trim())) + marker.len();
    let end = start + text[start..].find("```\n").expect("a closed block");
    let text = format!("{}{body}\n{}", &text[..start], &text[end..]);
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The kinds of lines of a transcript: each line without its time and elapsed time, with every
/// number as `N`, every run id, hash and `user@host` as a word, a measured value as `V`, and
/// spaces collapsed; as a set, so repeats and the order of concurrent steps do not count.
pub fn shape(text: &str) -> BTreeSet<String> {
    text.lines().map(line_shape).filter(|l| !l.is_empty()).collect()
}

fn line_shape(line: &str) -> String {
    let mut line = line.trim();
    // `16:23:19 +   3.0s `: the wall-clock time and the time since the run started.
    let bytes = line.as_bytes();
    if bytes.len() > 10 && bytes[2] == b':' && bytes[5] == b':' && bytes[8] == b' ' && bytes[9] == b'+' {
        let rest = line[10..].trim_start();
        line = rest.split_once(' ').map_or("", |(_, text)| text);
    }
    // A measurement: `gate NAME #N: TARGET = VALUE; CONDITION -> VERDICT (detail)`.
    let mut owned = line.to_owned();
    if owned.contains(": gate ")
        && owned.contains(" #")
        && let (Some(eq), Some(arrow)) = (owned.find(" = "), owned.rfind(" -> "))
    {
        let condition = owned[eq..arrow].split_once("; ").map_or("", |(_, c)| c).to_owned();
        owned = format!("{} = V; {condition} -> V", &owned[..eq]);
    }
    // A rollout's progress: how many tasks run the new spec is the line; what Swarm says of the
    // rest depends on when it was asked.
    if let Some(at) = owned.find(" tasks on the new spec - ") {
        owned.truncate(at + " tasks on the new spec".len());
    }
    let words: Vec<String> = owned.split_whitespace().map(word_shape).collect();
    // A span of two minutes or more reads `2m 05s` (`1h 02m`), under that `118.2s`.
    words.join(" ").replace("Nm Ns", "Ns").replace("Nh Nm", "Ns")
}

fn word_shape(word: &str) -> String {
    if word.contains('@') && !word.starts_with('@') && !word.contains("://") {
        return "USER@HOST".into();
    }
    let digits = word.chars().filter(char::is_ascii_digit).count();
    let word = &hashes_out(word);
    if word.starts_with("r-") && digits >= 8 {
        return "RUN".into();
    }
    let mut out = String::new();
    let mut in_number = false;
    for c in word.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// `word` with each run of 12 or more hex digits holding a digit (a SHA-256, a config's
/// content hash) as `HASH`.
fn hashes_out(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if run >= 12 && chars[i..i + run].iter().any(char::is_ascii_digit) {
            out.push_str("HASH");
            i += run;
        } else {
            out.extend(&chars[i..i + run.max(1)]);
            i += run.max(1);
        }
    }
    out
}

/// A path as the doc shows it: relative to the repository.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap_or(path).display().to_string()
}
