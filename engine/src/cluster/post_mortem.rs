//! What a cluster can tell of how one task ended, beyond the task's own status: its container
//! as Docker last saw it (killed for memory, exit code, the health check's last output), which
//! only the node running it can say, and the task's last log lines, which Swarm gathers from
//! any node. `services::failure_report` puts these together into a step's failure report.
//!
//! A log is read within bounds: at most [`LOG_READ_LIMIT`] bytes of the daemon's answer, of
//! which the last [`LOG_KEPT`] bytes are kept and split into lines, each cut to
//! [`LINE_CHARS`] characters. Control characters are shown escaped, so a log cannot move a
//! terminal's cursor or colour what follows.

use std::time::Duration;

/// The most of a task log's answer read (a log of few, very long lines could be any size).
pub const LOG_READ_LIMIT: usize = 1 << 20;
/// The end of the log kept, at most: the last lines are what says why a task ended.
pub const LOG_KEPT: usize = 16 << 10;
/// The longest line kept, in characters; a longer one is cut and ends with ` …`.
pub const LINE_CHARS: usize = 300;
/// How long reading one task's log may take.
pub const LOG_WAIT: Duration = Duration::from_secs(3);
/// How long reading one container or node may take.
pub const INSPECT_WAIT: Duration = Duration::from_secs(2);

/// How one task ended, as far as the cluster can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortem {
    /// The name (hostname) of the node it ran on, if it could be read.
    pub node: Option<String>,
    /// Its container as Docker last saw it; `None` when it cannot be inspected from here (it
    /// is on another node, or was removed).
    pub container: Option<ContainerEnd>,
    /// Its last log lines, or why they could not be read.
    pub logs: Result<LogTail, String>,
}

impl PostMortem {
    /// What a cluster that keeps no containers nor logs can tell: nothing.
    pub fn unknown() -> PostMortem {
        PostMortem { node: None, container: None, logs: Err("this cluster keeps no task logs".into()) }
    }
}

/// A container's end, from `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerEnd {
    /// Docker's `State.OOMKilled`: the kernel killed a process of it for going over its memory
    /// limit (or the node ran out).
    pub oom_killed: bool,
    /// Its exit code (`State.ExitCode`), once it ended.
    pub exit_code: Option<i64>,
    /// The health check's last run, if it has one and it ran.
    pub health: Option<HealthCheckRun>,
}

/// One run of a health check (`State.Health.Log`'s last entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheckRun {
    /// Its exit code (0 passes).
    pub exit_code: i64,
    /// What it printed, cut as log lines are.
    pub output: String,
}

/// The last lines of a task's log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTail {
    /// The lines, oldest first.
    pub lines: Vec<String>,
    /// Whether the log was longer than planrun reads ([`LOG_READ_LIMIT`], or [`LOG_KEPT`] for
    /// the lines kept), so older lines were left out.
    pub cut: bool,
}

/// Reads the body of a log answer chunk by chunk, within bounds, keeping its end.
///
/// A log of a container without a TTY comes multiplexed: each frame is an 8-byte header
/// (stream 0, 1 or 2, three zero bytes, the payload's length as a big-endian u32) and the
/// payload. A TTY's log is the bytes as written. Which one it is is told from the first bytes.
#[derive(Debug, Default)]
pub struct LogReader {
    /// Text bytes kept (the log's end).
    kept: Vec<u8>,
    /// Bytes of the answer read so far.
    read: usize,
    /// Whether text was dropped from the front (or the answer not read to its end).
    cut: bool,
    /// `Some(true)` once the answer is known to be multiplexed, `Some(false)` raw.
    framed: Option<bool>,
    /// Header bytes of the frame being read.
    header: Vec<u8>,
    /// Payload bytes of the current frame still to come.
    payload_left: usize,
}

impl LogReader {
    /// A reader with nothing read yet.
    pub fn new() -> LogReader {
        LogReader::default()
    }

    /// Takes in the next chunk of the answer. Returns `false` once [`LOG_READ_LIMIT`] bytes
    /// were read: the caller stops reading there.
    pub fn feed(&mut self, mut chunk: &[u8]) -> bool {
        if self.read + chunk.len() > LOG_READ_LIMIT {
            chunk = &chunk[..LOG_READ_LIMIT - self.read];
            self.cut = true;
        }
        self.read += chunk.len();
        if self.framed.is_none() && !chunk.is_empty() {
            // A frame header starts with a stream number (0, 1, 2) and three zero bytes; text
            // hardly ever does.
            let looks_framed = chunk[0] <= 2 && chunk.iter().skip(1).take(3).all(|b| *b == 0);
            self.framed = Some(looks_framed);
        }
        if self.framed == Some(true) {
            while !chunk.is_empty() {
                if self.payload_left == 0 {
                    let need = 8 - self.header.len();
                    let take = need.min(chunk.len());
                    self.header.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    if self.header.len() == 8 {
                        let size = u32::from_be_bytes([self.header[4], self.header[5], self.header[6], self.header[7]]);
                        self.payload_left = size as usize;
                        self.header.clear();
                    }
                } else {
                    let take = self.payload_left.min(chunk.len());
                    self.keep(&chunk[..take]);
                    self.payload_left -= take;
                    chunk = &chunk[take..];
                }
            }
        } else {
            self.keep(chunk);
        }
        if self.read >= LOG_READ_LIMIT {
            // The caller stops here: whatever follows is not read.
            self.cut = true;
            return false;
        }
        true
    }

    fn keep(&mut self, text: &[u8]) {
        self.kept.extend_from_slice(text);
        // Dropped in steps, so a long log is not moved byte by byte.
        if self.kept.len() > 2 * LOG_KEPT {
            self.kept.drain(..self.kept.len() - LOG_KEPT);
            self.cut = true;
        }
    }

    /// The last `lines` lines read.
    pub fn finish(self, lines: usize) -> LogTail {
        let mut kept = self.kept;
        let mut cut = self.cut;
        if kept.len() > LOG_KEPT {
            kept.drain(..kept.len() - LOG_KEPT);
            cut = true;
        }
        let text = String::from_utf8_lossy(&kept);
        let mut all: Vec<&str> = text.split('\n').collect();
        // The text after the last newline is a line too, unless it is empty.
        if all.last().is_some_and(|l| l.is_empty()) {
            all.pop();
        }
        // A front cut off mid-line: that line is a fragment.
        if cut && all.len() > 1 {
            all.remove(0);
        }
        if all.len() > lines {
            all.drain(..all.len() - lines);
        }
        LogTail { lines: all.into_iter().map(clean_line).collect(), cut }
    }
}

/// A line as planrun shows it: without its `\r`, control characters escaped, at most
/// [`LINE_CHARS`] characters.
pub fn clean_line(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut out = String::new();
    for (n, c) in line.chars().enumerate() {
        if n == LINE_CHARS {
            out.push_str(" …");
            break;
        }
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, text: &str) -> Vec<u8> {
        let mut out = vec![stream, 0, 0, 0];
        out.extend_from_slice(&(text.len() as u32).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    #[test]
    fn a_multiplexed_log_is_read_across_chunks_that_split_headers_and_payloads() {
        let mut answer = frame(1, "hello stdout\n");
        answer.extend(frame(2, "boom: out of luck\n"));
        answer.extend(frame(1, "last words"));
        for size in [1, 3, 7, 8, 9, 1000] {
            let mut reader = LogReader::new();
            for chunk in answer.chunks(size) {
                assert!(reader.feed(chunk));
            }
            let tail = reader.finish(20);
            assert_eq!(tail.lines, ["hello stdout", "boom: out of luck", "last words"], "chunks of {size}");
            assert!(!tail.cut);
        }
    }

    #[test]
    fn a_raw_log_keeps_its_last_lines() {
        let mut reader = LogReader::new();
        let text: String = (1..=50).map(|n| format!("line {n}\r\n")).collect();
        reader.feed(text.as_bytes());
        let tail = reader.finish(20);
        assert_eq!(tail.lines.len(), 20);
        assert_eq!(tail.lines.first().map(String::as_str), Some("line 31"));
        assert_eq!(tail.lines.last().map(String::as_str), Some("line 50"));
    }

    #[test]
    fn a_huge_log_is_read_only_up_to_the_limit_and_says_it_was_cut() {
        let mut reader = LogReader::new();
        let line = format!("{}\n", "x".repeat(999));
        let mut fed = 0;
        while reader.feed(line.as_bytes()) {
            fed += line.len();
            assert!(fed <= LOG_READ_LIMIT, "the reader asks for more than its limit");
            assert!(reader.kept.len() <= 2 * LOG_KEPT + line.len(), "kept {}", reader.kept.len());
        }
        let tail = reader.finish(20);
        assert!(tail.cut);
        assert_eq!(tail.lines.len(), 16, "{} lines", tail.lines.len());
        assert!(tail.lines.iter().all(|l| l.chars().count() == LINE_CHARS + 2 && l.ends_with(" …")));
    }

    #[test]
    fn control_characters_are_shown_escaped_and_long_lines_cut() {
        assert_eq!(clean_line("\u{1b}[31mred\u{1b}[0m\tok\r"), "\\u{1b}[31mred\\u{1b}[0m\tok");
        let long = "é".repeat(400);
        let cut = clean_line(&long);
        assert_eq!(cut.chars().count(), LINE_CHARS + 2);
    }
}
