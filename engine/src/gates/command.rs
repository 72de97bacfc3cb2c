//! `command` gates: a program runs (no shell unless its argv names one); exit status 0 passes.
//!
//! The program runs in its own process group, and the whole group is killed when the
//! measurement is abandoned (the analysis timeout drops it), so `sh -c 'sleep 60'` leaves no
//! `sleep` behind.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use plans::gates::{CommandGate, Outcome};

use super::{Measurement, excerpt};

/// The condition as shown in events.
pub const CONDITION: &str = "exit status 0";

/// How many trailing lines of output a failure shows.
const TAIL_LINES: usize = 5;

/// The command as a shell would show it: `sh -c 'exit 3'`.
pub fn target(gate: &CommandGate) -> String {
    gate.argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

fn quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain { arg.to_owned() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// Runs the command once and waits for it to exit.
pub async fn measure(gate: &CommandGate) -> Measurement {
    let target = target(gate);
    let Some((program, args)) = gate.argv.split_first() else {
        return Measurement::error(target, CONDITION, "the command is empty");
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return Measurement::error(target, CONDITION, format!("cannot run `{program}`: {e}")),
    };
    let mut group = GroupKiller(child.id());
    let output = match child.wait_with_output().await {
        Ok(o) => o,
        Err(e) => return Measurement::error(target, CONDITION, format!("waiting for `{program}`: {e}")),
    };
    group.0 = None;
    let (outcome, value) = match (output.status.code(), output.status.signal()) {
        (Some(0), _) => (Outcome::Pass, "0".to_owned()),
        (Some(code), _) => (Outcome::Fail, code.to_string()),
        (None, Some(signal)) => (Outcome::Fail, format!("killed by signal {signal}")),
        (None, None) => (Outcome::Fail, output.status.to_string()),
    };
    let detail = (outcome == Outcome::Fail).then(|| failure_detail(&output.stdout, &output.stderr));
    Measurement { outcome, target, value: Some(value), condition: CONDITION.to_owned(), detail }
}

/// The last lines of stderr, then of stdout, or `no output`.
fn failure_detail(stdout: &[u8], stderr: &[u8]) -> String {
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        excerpt(&lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n"), 500)
    };
    let parts: Vec<String> = [("stderr", tail(stderr)), ("stdout", tail(stdout))]
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(name, t)| format!("{name}: {t}"))
        .collect();
    if parts.is_empty() { "no output".into() } else { parts.join("\n") }
}

/// Kills the process group on drop unless disarmed (`.0 = None`) after a normal exit.
struct GroupKiller(Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0) {
            // SAFETY: kill(2) with a negative pid signals that process group and touches no memory.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_quotes_like_a_shell() {
        let gate = CommandGate { argv: vec!["sh".into(), "-c".into(), "test -f '/ready'".into()] };
        assert_eq!(target(&gate), r"sh -c 'test -f '\''/ready'\'''");
        let gate = CommandGate { argv: vec!["pg_isready".into(), "-h".into(), "db.local".into(), "".into()] };
        assert_eq!(target(&gate), "pg_isready -h db.local ''");
    }

    #[test]
    fn failure_detail_shows_last_lines() {
        let err: String = (1..=8).map(|i| format!("line {i}\n")).collect();
        assert_eq!(
            failure_detail(b"partial\n", err.as_bytes()),
            "stderr: line 4\nline 5\nline 6\nline 7\nline 8\nstdout: partial"
        );
        assert_eq!(failure_detail(b"", b"\n"), "no output");
    }
}
