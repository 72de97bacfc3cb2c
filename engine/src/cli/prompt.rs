//! Approval at the terminal: `step `x` waits for approval: go on? [y/N]`, answered on stdin.
//! It runs beside the swarm route (`planrun promote`/`abort`); whichever answers first wins.

use std::sync::OnceLock;

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc};

use crate::approval::{Answer, Approver, AskError, Question};
use crate::lock::Holder;

/// Asks on this terminal (only offered when stdin is one).
///
/// The question is answered by a line read from stdin in the terminal's own (cooked) mode, not
/// by `dialoguer::Confirm` (checked on dialoguer 0.12.0 with console 0.16.6): `Confirm`'s
/// `interact_on` reads every key with `console::Term::read_key`, with or without
/// `wait_for_newline(true)` (which only waits for Enter before deciding), and on Unix that is
/// `console::unix_term::read_single_key`, which switches the terminal to raw mode (`cfmakeraw`
/// through `tcsetattr`: no echo, no line editing, no signals from the keyboard) and switches it
/// back only once a key arrives; `Confirm` also hides the cursor until it has its answer. This
/// prompt races the swarm route: when `planrun promote`/`abort` answers first, the thread
/// blocked in `spawn_blocking` cannot be cancelled and is left waiting. With `Confirm` the
/// terminal would then stay raw, its cursor hidden, while indicatif keeps drawing, and after
/// planrun exits (measured under a pty with a program that leaves a `Confirm` waiting and
/// exits: `-isig -icanon -echo` still set after it ended). A cooked-mode `read_line` changes
/// nothing on the terminal, so an abandoned one leaves nothing to restore.
///
/// One thread reads stdin for the whole process ([`Lines`]): a question answered through the
/// swarm leaves no reader of its own behind to take the answer typed for the next question.
pub struct TerminalPrompt;

/// The lines typed at the terminal, read by one thread for the whole process.
static STDIN: OnceLock<Lines> = OnceLock::new();

/// Lines read by a thread of their own, handed to whoever asks: a line typed while nobody asks
/// answers nothing.
struct Lines {
    lines: Mutex<mpsc::UnboundedReceiver<std::io::Result<String>>>,
}

impl Lines {
    /// Reads with `read_line` (as `Stdin::read_line`) until the end or an error.
    fn new(mut read_line: impl FnMut(&mut String) -> std::io::Result<usize> + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            loop {
                let mut line = String::new();
                let read = read_line(&mut line);
                let last = !matches!(read, Ok(n) if n > 0);
                if tx.send(read.map(|_| line)).is_err() || last {
                    break;
                }
            }
        });
        Lines { lines: Mutex::new(rx) }
    }

    /// Drops the lines typed so far, calls `ask`, and returns the next line (empty at the end of
    /// the input).
    async fn next_after(&self, ask: impl FnOnce()) -> std::io::Result<String> {
        let mut lines = self.lines.lock().await;
        while let Ok(typed) = lines.try_recv() {
            typed?;
        }
        ask();
        lines.recv().await.unwrap_or_else(|| Ok(String::new()))
    }
}

#[async_trait]
impl Approver for TerminalPrompt {
    async fn ask(&self, question: &Question) -> Result<Answer, AskError> {
        let stdin = STDIN.get_or_init(|| Lines::new(|line| std::io::stdin().read_line(line)));
        let line =
            stdin.next_after(|| eprint!("{} [y/N] ", question.text)).await.map_err(|e| AskError::Terminal(e.into()))?;
        let by = format!("{} at the terminal", Holder::this_process(&question.run_id).holder);
        Ok(Answer { approved: matches!(line.trim(), "y" | "Y" | "yes"), by })
    }

    fn how(&self, _question: &Question) -> Option<String> {
        Some("answer y or n here".into())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::*;

    /// Waits until the reading thread has handed on `n` lines nobody took.
    async fn handed_on(lines: &Lines, n: usize) {
        for _ in 0..500 {
            if lines.lines.lock().await.len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the reading thread never handed on {n} lines");
    }

    #[tokio::test]
    async fn a_question_answered_elsewhere_leaves_no_reader_to_take_the_next_answer() {
        let (mut typing, terminal) = UnixStream::pair().unwrap();
        let mut terminal = BufReader::new(terminal);
        let lines = Lines::new(move |line| terminal.read_line(line));
        // The first question is answered through the swarm: its wait is dropped.
        let first = tokio::time::timeout(Duration::from_millis(50), lines.next_after(|| ())).await;
        assert!(first.is_err(), "nothing was typed yet");
        // Typed while nobody asks: no answer to the next question.
        typing.write_all(b"y\n").unwrap();
        handed_on(&lines, 1).await;
        let answer = lines.next_after(|| typing.write_all(b"n\n").unwrap()).await.unwrap();
        assert_eq!(answer, "n\n");
        // The next question gets the next line, once.
        let answer = lines.next_after(|| typing.write_all(b"yes\n").unwrap()).await.unwrap();
        assert_eq!(answer, "yes\n");
        // The end of the input answers every later question with nothing (a no).
        drop(typing);
        assert_eq!(lines.next_after(|| ()).await.unwrap(), "");
        assert_eq!(lines.next_after(|| ()).await.unwrap(), "");
    }
}
